#!/usr/bin/env bash
# `make bench`, part two: the loopback load test. Builds distchat, gorilla/websocket's
# examples/chat (the peer) and the wsbench load generator, runs the same scenarios against
# both servers in this one run, interleaved, each server started fresh for every
# measurement, and prints every figure with the ratio distchat/gorilla.
#
# The server is pinned to one core and the load generator to the other (taskset), so the
# generator is not what is measured; wsbench reports the server's CPU and how much CPU
# other processes took (a high "other" figure means the run was disturbed).
#
# The distributed scenarios (many rooms, a three-node cluster, start-up with a million stored
# messages) are in bench/cluster.sh, run at the end.
#
# Settings (environment): ROUNDS (2), SCENARIOS ("fanout idle slow calm manyrooms cluster
# startup"), SERVER_CPU (0),
# LOAD_CPU (1), QUICK=1 for a short smoke run, WSBENCH_SRC (../shared/bench/wsbench),
# OUT (bin/bench).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-2}
SCENARIOS=${SCENARIOS:-fanout idle slow calm manyrooms cluster startup}
PEER_SCENARIOS=
DIST_SCENARIOS=
for sc in $SCENARIOS; do
  case $sc in
    fanout | idle | slow | calm) PEER_SCENARIOS="$PEER_SCENARIOS $sc" ;;
    manyrooms | cluster | startup) DIST_SCENARIOS="$DIST_SCENARIOS $sc" ;;
    *) echo "bench: unknown scenario $sc" >&2; exit 1 ;;
  esac
done
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
QUICK=${QUICK:-0}
WSBENCH_SRC=${WSBENCH_SRC:-../shared/bench/wsbench}
OUT=${OUT:-bin/bench}
GORILLA=github.com/gorilla/websocket@v1.5.3

for tool in jq taskset curl; do
  command -v $tool >/dev/null || { echo "bench: $tool is required (apt-get install $tool)" >&2; exit 1; }
done
[ -d "$WSBENCH_SRC" ] || { echo "bench: wsbench source not found at $WSBENCH_SRC (set WSBENCH_SRC)" >&2; exit 1; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
echo "== building"
make --no-print-directory build >/dev/null
(cd "$WSBENCH_SRC" && go build -o "$OUT/wsbench" .)
gdir=$(go mod download -json "$GORILLA" | jq -r .Dir)
(cd "$gdir" && go build -o "$OUT/gorilla-chat" ./examples/chat)
cp "$gdir/examples/chat/home.html" "$OUT/" 2>/dev/null || true
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; server on cpu $SERVER_CPU, load generator on cpu $LOAD_CPU"
echo "go: $(go version | cut -d' ' -f3); distchat: $(bin/distchat --version)"

port=0
pid=
data=
start_server() { # name
  port=$(( 20000 + RANDOM % 20000 ))
  case $1 in
    gorilla)
      (cd "$OUT" && exec taskset -c "$SERVER_CPU" ./gorilla-chat -addr "127.0.0.1:$port") >/dev/null 2>&1 &
      pid=$!
      ;;
    distchat)
      data=$(mktemp -d)
      taskset -c "$SERVER_CPU" bin/distchat --addr "127.0.0.1:$port" --data "$data" \
        --rate-limit 0 --max-conns-per-ip 0 --log-level warn >/dev/null 2>"$OUT/distchat.err" &
      pid=$!
      ;;
  esac
  for _ in $(seq 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then return 0; fi
    sleep 0.1
  done
  echo "bench: $1 did not start" >&2
  exit 1
}

stop_server() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ -n "$data" ] && rm -rf "$data"
  data=
}
trap stop_server EXIT

# wsb name scenario-args...: runs wsbench against a fresh server, prints its summary and
# stores its JSON result in $OUT/<label>.json.
wsb() {
  local name=$1 label=$2
  shift 2
  start_server "$name"
  local args=(-pid "$pid")
  if [ "$name" = distchat ]; then
    args+=(-url "ws://127.0.0.1:$port/ws?room=bench&name=u{i}" -send-template '{"type":"message","body":"%s"}')
  else
    args+=(-url "ws://127.0.0.1:$port/ws")
  fi
  taskset -c "$LOAD_CPU" "$OUT/wsbench" "${args[@]}" "$@" >"$OUT/$label.txt" 2>&1 || true
  tail -n 1 "$OUT/$label.txt" >"$OUT/$label.json"
  grep -v '^{' "$OUT/$label.txt" | grep -E 'sustained|rate|RSS|ready|slow|delivered|other' | sed "s/^/  [$name] /" | tail -n 4
  stop_server
}

if [ "$QUICK" = 1 ]; then
  FANOUT=(-scenario fanout -subs 200 -pubs 10 -max -rate 100 -duration 2s -drain 3s -slo 100ms -refine 1)
  IDLE=(-scenario idle -conns 2000 -hold 2s -ready-timeout 30s)
  SLOW=(-scenario slow -subs 20 -pubs 2 -slow 1 -rate 500 -size 400 -duration 10s)
  CALM=(-scenario slow -subs 20 -pubs 2 -slow 0 -rate 500 -size 400 -duration 10s)
else
  FANOUT=(-scenario fanout -subs 1000 -pubs 10 -max -rate 100 -duration 5s -drain 5s -slo 100ms)
  IDLE=(-scenario idle -conns 10000 -hold 15s -ready-timeout 60s)
  SLOW=(-scenario slow -subs 20 -pubs 2 -slow 1 -rate 500 -size 400 -duration 30s)
  CALM=(-scenario slow -subs 20 -pubs 2 -slow 0 -rate 500 -size 400 -duration 30s)
fi

declare -A WHAT=(
  [fanout]="fanout (max rate at p99 <= 100 ms, zero loss)"
  [idle]="idle connections"
  [slow]="one never-reading client"
  [calm]="the same without the never-reading client"
)
for r in $(seq "$ROUNDS"); do
  for s in gorilla distchat; do
    for sc in $PEER_SCENARIOS; do
      echo "== round $r: $s ${WHAT[$sc]}"
      case $sc in
        fanout) wsb $s "fanout-$s-$r" "${FANOUT[@]}" ;;
        idle) wsb $s "idle-$s-$r" "${IDLE[@]}" ;;
        slow) wsb $s "slow-$s-$r" "${SLOW[@]}" ;;
        calm) wsb $s "calm-$s-$r" "${CALM[@]}" ;;
      esac
    done
  done
done

# Table: the mean over rounds of each figure, and the ratio distchat/gorilla.
fig() { # scenario server jq-expression
  local vals=()
  for r in $(seq "$ROUNDS"); do
    vals+=("$(jq -r "$3 // empty" "$OUT/$1-$2-$r.json" 2>/dev/null || true)")
  done
  printf '%s\n' "${vals[@]}" | awk 'NF { s += $1; n++ } END { if (n) printf "%.6g", s / n; else printf "nan" }'
}
row() { # label scenario jq-expression unit better
  local g d
  g=$(fig "$2" gorilla "$3")
  d=$(fig "$2" distchat "$3")
  awk -v l="$1" -v g="$g" -v d="$d" -v u="$4" -v b="$5" 'BEGIN {
    r = (g > 0) ? sprintf("%.2f", d / g) : "-";
    printf "| %s | %s %s | %s %s | %s (%s is better) |\n", l, g, u, d, u, r, b }'
}
if [ -z "$PEER_SCENARIOS" ]; then
  SCENARIOS=$DIST_SCENARIOS ROUNDS=$ROUNDS QUICK=$QUICK OUT=$OUT bench/cluster.sh
  exit
fi
echo
echo "## Results: mean of $ROUNDS rounds (per-round JSON in $OUT)"
echo
echo "| figure | gorilla | distchat | distchat/gorilla |"
echo "|---|---|---|---|"
row "fan-out 1000 subs: sustained deliveries/s (p99 <= 100 ms, 0 loss)" fanout '.max.sustained_deliveries_per_s' "/s" higher
row "fan-out 1000 subs: sustained msgs/s" fanout '.max.sustained_rate' "/s" higher
row "fan-out: p99 at the sustained rate" fanout '.max.sustained_p99_ms' ms lower
row "idle: connects/s" idle '.connects_per_s' "/s" higher
row "idle: time until every client receives" idle '.ready_s' s lower
row "idle: server memory per connection" idle '.idle.bytes_per_conn / 1024' KiB lower
row "slow: delivered to well-behaved clients" slow '.slow.delivered_pct' "%" higher
row "slow: worst 1-s interval delivered" slow '.slow.worst_interval_pct' "%" higher
row "slow: p99 of well-behaved clients" slow '.slow.p99_ms' ms lower
row "same load, no never-reading client: p99" calm '.slow.p99_ms' ms lower
row "slow: never-reading client closed by server" slow '.slow.slow_closed_by_server' "" higher
row "other processes' CPU during fan-out" fanout '.other_cpu_pct' "%" lower

if [ -n "$DIST_SCENARIOS" ]; then
  stop_server
  SCENARIOS=$DIST_SCENARIOS ROUNDS=$ROUNDS QUICK=$QUICK OUT=$OUT WSBENCH_SRC=$WSBENCH_SRC bench/cluster.sh
fi
