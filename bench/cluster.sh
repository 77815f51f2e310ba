#!/usr/bin/env bash
# `make bench`, part three: the scenarios of a distributed chat, each measured against a
# peer in the same run (this machine is shared and noisy: compare ratios, not figures).
#
#   manyrooms  1,000 people in 100 rooms of 11 (wsbench -rooms), -max search, unpinned:
#              stored messages per second on one node, against what JetStream alone
#              acknowledges (bench/jsalone: one connection, pipelined, file storage).
#   cluster    1,000 subscribers spread over 3 nodes of a cluster, publishers on every
#              node, -max search: deliveries/s and p99, against one node in the same round.
#   startup    a node holding 1,000,000 stored messages (20 rooms x 50,000, 100-byte
#              bodies) against an empty one: time until /api/ready answers 200, and
#              resident memory 2 s and 20 s after that.
#
# Settings (environment): ROUNDS (2), SCENARIOS ("manyrooms cluster startup"), QUICK=1,
# WSBENCH_SRC (../shared/bench/wsbench), OUT (bin/bench).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-2}
SCENARIOS=${SCENARIOS:-manyrooms cluster startup}
QUICK=${QUICK:-0}
WSBENCH_SRC=${WSBENCH_SRC:-../shared/bench/wsbench}
OUT=${OUT:-bin/bench}

for tool in jq curl bc; do
  command -v $tool >/dev/null || { echo "bench: $tool is required (apt-get install $tool)" >&2; exit 1; }
done
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
make --no-print-directory build >/dev/null
[ -x "$OUT/wsbench" ] || (cd "$WSBENCH_SRC" && go build -o "$OUT/wsbench" .)
go build -o "$OUT/jsalone" ./bench/jsalone
go build -o "$OUT/seed" ./bench/seed

pids=()
datas=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for d in "${datas[@]}"; do rm -rf "$d"; done
  pids=() datas=()
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

wait_ready() { # url
  for _ in $(seq 600); do
    curl -sf -o /dev/null "$1/api/ready" && return 0
    sleep 0.1
  done
  echo "bench: $1 not ready" >&2
  exit 1
}

# start_nodes N: N nodes (clustered when N > 1, with a new cluster secret); sets URLS (ws
# URLs, comma-separated) and PIDS.
start_nodes() {
  local n=$1 peers= http=() routes=() r i secret
  for i in $(seq "$n"); do http+=("$(free_port)"); routes+=("$(free_port)"); done
  for r in "${routes[@]}"; do peers=$peers${peers:+,}127.0.0.1:$r; done
  secret=$(mktemp) # mode 0600
  datas+=("$secret")
  head -c 32 /dev/urandom | base64 >"$secret"
  URLS= PIDS=
  for i in $(seq 0 $((n - 1))); do
    local d args=()
    d=$(mktemp -d); datas+=("$d")
    [ "$n" -gt 1 ] && args=(--node-name "node$((i + 1))" --cluster-listen "127.0.0.1:${routes[i]}" --cluster-peers "$peers"
      --cluster-secret-file "$secret")
    bin/distchat --addr "127.0.0.1:${http[i]}" --data "$d" --rate-limit 0 --max-conns-per-ip 0 --max-queued-bytes -1 --log-level warn "${args[@]}" \
      >/dev/null 2>>"$OUT/distchat.err" &
    pids+=($!) PIDS=$PIDS${PIDS:+,}$!
    URLS=$URLS${URLS:+,}"ws://127.0.0.1:${http[i]}/ws?room=ROOM&name=u{i}"
  done
  for i in $(seq 0 $((n - 1))); do wait_ready "http://127.0.0.1:${http[i]}"; done
}

if [ "$QUICK" = 1 ]; then
  MANY=(-scenario fanout -subs 1000 -pubs 100 -rooms 100 -max -rate 2000 -duration 2s -drain 3s -slo 100ms -refine 1)
  CLUSTER=(-scenario fanout -subs 990 -pubs 30 -max -rate 100 -duration 2s -drain 3s -slo 100ms -refine 1)
  PER_ROOM=5000
else
  MANY=(-scenario fanout -subs 1000 -pubs 100 -rooms 100 -max -rate 2000 -duration 5s -drain 5s -slo 100ms)
  CLUSTER=(-scenario fanout -subs 990 -pubs 30 -max -rate 100 -duration 5s -drain 5s -slo 100ms)
  PER_ROOM=50000
fi
TEMPLATE='{"type":"message","body":"%s"}'

wsb() { # label urls extra-args...
  local label=$1 urls=$2
  shift 2
  "$OUT/wsbench" -url "$urls" -send-template "$TEMPLATE" "$@" >"$OUT/$label.txt" 2>&1 || true
  tail -n 1 "$OUT/$label.txt" >"$OUT/$label.json"
  grep -E '^sustained' "$OUT/$label.txt" | sed "s/^/  [$label] /" || true
}

for r in $(seq "$ROUNDS"); do
  for sc in $SCENARIOS; do
    case $sc in
      manyrooms)
        echo "== round $r: JetStream alone"
        "$OUT/jsalone" -duration 5s >"$OUT/jsalone-$r.txt"
        head -n 1 "$OUT/jsalone-$r.txt" | sed 's/^/  /'
        tail -n 1 "$OUT/jsalone-$r.txt" >"$OUT/jsalone-$r.json"
        echo "== round $r: one node, 1,000 people in 100 rooms of 11"
        start_nodes 1
        room='r{r}'
        wsb "manyrooms-$r" "${URLS//ROOM/$room}" "${MANY[@]}" -pid "$PIDS"
        cleanup
        ;;
      cluster)
        for n in 1 3; do
          echo "== round $r: fan-out to 990 subscribers on $n node(s), publishers on every node"
          start_nodes "$n"
          wsb "cluster$n-$r" "${URLS//ROOM/bench}" "${CLUSTER[@]}"
          cleanup
        done
        ;;
      startup)
        seed=$OUT/seed-$PER_ROOM
        if [ ! -d "$seed" ]; then
          echo "== seeding $((20 * PER_ROOM)) messages (once, kept in $seed)"
          "$OUT/seed" --data "$seed" --rooms 20 --per-room "$PER_ROOM"
        fi
        for kind in full empty; do
          d=$seed
          if [ $kind = empty ]; then d=$(mktemp -d); datas+=("$d"); fi
          port=$(free_port)
          t0=$(date +%s.%N)
          bin/distchat --addr "127.0.0.1:$port" --data "$d" --log-level warn >/dev/null 2>>"$OUT/distchat.err" &
          pid=$!; pids+=("$pid")
          wait_ready "http://127.0.0.1:$port"
          t1=$(date +%s.%N)
          sleep 2
          rss2=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
          sleep 18
          rss20=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
          ready=$(echo "$t1 - $t0" | bc)
          printf '{"ready_s":%s,"rss2_kib":%s,"rss20_kib":%s}\n' "$ready" "$rss2" "$rss20" >"$OUT/startup-$kind-$r.json"
          echo "== round $r: start-up, $kind store: ready after ${ready}s, RSS $((rss2 / 1024)) MiB after 2 s, $((rss20 / 1024)) MiB after 20 s"
          cleanup
        done
        ;;
    esac
  done
done

mean() { # label jq-expression
  local vals=()
  for r in $(seq "$ROUNDS"); do vals+=("$(jq -r "$2 // empty" "$OUT/$1-$r.json" 2>/dev/null || true)"); done
  printf '%s\n' "${vals[@]}" | awk 'NF { s += $1; n++ } END { if (n) printf "%.6g", s / n; else printf "nan" }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "-" }'; }

echo
echo "## Distributed scenarios: mean of $ROUNDS rounds (per-round JSON in $OUT)"
echo
echo "| figure | peer | distchat | ratio |"
echo "|---|---|---|---|"
if [[ " $SCENARIOS " == *" manyrooms "* ]]; then
  js=$(mean jsalone '.msgs_per_s'); dc=$(mean manyrooms '.max.sustained_rate')
  echo "| 100 rooms of 11: stored msgs/s (p99 <= 100 ms, 0 loss) vs JetStream alone | $js | $dc | $(ratio "$dc" "$js") |"
  echo "| 100 rooms of 11: deliveries/s, p99 at that rate | | $(mean manyrooms '.max.sustained_deliveries_per_s'), $(mean manyrooms '.max.sustained_p99_ms') ms | |"
fi
if [[ " $SCENARIOS " == *" cluster "* ]]; then
  one=$(mean cluster1 '.max.sustained_deliveries_per_s'); three=$(mean cluster3 '.max.sustained_deliveries_per_s')
  echo "| fan-out to 990: sustained deliveries/s, 3 nodes vs 1 node | $one | $three | $(ratio "$three" "$one") |"
  p1=$(mean cluster1 '.max.sustained_p99_ms'); p3=$(mean cluster3 '.max.sustained_p99_ms')
  echo "| fan-out to 990: p99 at the sustained rate, 3 nodes vs 1 | $p1 ms | $p3 ms | $(ratio "$p3" "$p1") |"
fi
if [[ " $SCENARIOS " == *" startup "* ]]; then
  for f in ready_s rss2_kib rss20_kib; do
    e=$(mean startup-empty ".$f"); s=$(mean startup-full ".$f")
    echo "| start-up with $((20 * PER_ROOM)) stored messages vs empty: $f | $e | $s | $(ratio "$s" "$e") (+$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3g", a - b }')) |"
  done
fi
