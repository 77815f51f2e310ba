package main

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Network partitions, for real: three nodes, each in a network namespace of its own with two
// interfaces, one on a bridge for clients (the test reaches every node there) and one on a
// bridge for routes only. Taking a node's route link down cuts it off from the other two
// while its clients still reach it, as a network fault would. The namespaces, bridges and
// links are made by the test (ip netns, ip link: root is needed) and removed at its end.
//
// This kind of machine has no netem, tc filters, iptables or nft: links are cut, not
// packets dropped.

// netLab is the test's network: the bridges and a namespace per node.
type netLab struct {
	t      *testing.T
	id     string // short and unique: interface names have at most 15 characters
	subnet int    // 10.77.<subnet>.0/24 for clients, 10.78.<subnet>.0/24 for routes
	nodes  int
}

// newNetLab makes the network for n nodes, or fails (loudly) when this machine cannot.
func newNetLab(t *testing.T, n int) *netLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the partition tests make network namespaces and links (ip netns, ip link), which needs root: run them as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("the partition tests need the ip command (Debian's iproute2): apt-get install -y iproute2")
	}
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	l := &netLab{t: t, id: hex.EncodeToString(b), subnet: 1 + int(b[0])%250, nodes: n}
	t.Cleanup(l.remove)
	l.ip("link", "add", l.bridge("c"), "type", "bridge")
	l.ip("link", "add", l.bridge("r"), "type", "bridge")
	l.ip("addr", "add", fmt.Sprintf("10.77.%d.254/24", l.subnet), "dev", l.bridge("c"))
	l.ip("link", "set", l.bridge("c"), "up")
	l.ip("link", "set", l.bridge("r"), "up")
	for i := range n {
		ns := l.ns(i)
		l.ip("netns", "add", ns)
		l.ip("-n", ns, "link", "set", "lo", "up")
		for _, side := range []string{"c", "r"} {
			outer, inner := l.link(i, side), l.link(i, side)+"n"
			l.ip("link", "add", outer, "type", "veth", "peer", "name", inner)
			l.ip("link", "set", inner, "netns", ns)
			l.ip("link", "set", outer, "master", l.bridge(side), "up")
			l.ip("-n", ns, "addr", "add", l.addr(i, side)+"/24", "dev", inner)
			l.ip("-n", ns, "link", "set", inner, "up")
		}
	}
	return l
}

func (l *netLab) bridge(side string) string { return "dc" + l.id + side }
func (l *netLab) ns(i int) string           { return fmt.Sprintf("dc%s-%d", l.id, i+1) }
func (l *netLab) link(i int, side string) string {
	return fmt.Sprintf("dc%s%s%d", l.id, side, i+1)
}

// addr is node i's address on the client ("c") or route ("r") bridge.
func (l *netLab) addr(i int, side string) string {
	net := 77
	if side == "r" {
		net = 78
	}
	return fmt.Sprintf("10.%d.%d.%d", net, l.subnet, i+1)
}

func (l *netLab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// cut takes node i's route link down (heal brings it up again).
func (l *netLab) cut(i int)  { l.ip("link", "set", l.link(i, "r"), "down") }
func (l *netLab) heal(i int) { l.ip("link", "set", l.link(i, "r"), "up") }

// remove deletes the namespaces (and with them their ends of the links) and the bridges.
func (l *netLab) remove() {
	for i := range l.nodes {
		_ = exec.Command("ip", "netns", "del", l.ns(i)).Run()
		for _, side := range []string{"c", "r"} {
			_ = exec.Command("ip", "link", "del", l.link(i, side)).Run()
		}
	}
	_ = exec.Command("ip", "link", "del", l.bridge("c")).Run()
	_ = exec.Command("ip", "link", "del", l.bridge("r")).Run()
}

// netCluster is three distchat nodes in the lab's namespaces.
type netCluster struct {
	t      *testing.T
	lab    *netLab
	data   []string
	procs  []*process
	secret string
	args   []string
}

const netHTTPPort, netRoutePort, netMetricsPort = 8080, 6222, 9090

// leader returns the node (0-based) that leads the message stream, as node i's metrics
// say, or -1.
func (c *netCluster) leader(i int) int {
	client := http.Client{Timeout: time.Second}
	resp, err := client.Get(fmt.Sprintf("http://%s:%d/metrics", c.lab.addr(i, "c"), netMetricsPort))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, `distchat_node_storage_leader{leader="node`); ok {
			if n, err := strconv.Atoi(strings.SplitN(rest, `"`, 2)[0]); err == nil {
				return n - 1
			}
		}
	}
	return -1
}

func startNetCluster(t *testing.T, lab *netLab, args ...string) *netCluster {
	t.Helper()
	c := &netCluster{t: t, lab: lab, procs: make([]*process, lab.nodes), secret: writeSecretFile(t, newSecret(t)), args: args}
	for range lab.nodes {
		c.data = append(c.data, t.TempDir())
	}
	for i := range lab.nodes {
		c.start(i)
	}
	for i := range lab.nodes {
		c.waitReady(i, 60*time.Second)
	}
	return c
}

func (c *netCluster) start(i int) {
	c.t.Helper()
	var peers []string
	for j := range c.lab.nodes {
		peers = append(peers, fmt.Sprintf("%s:%d", c.lab.addr(j, "r"), netRoutePort))
	}
	args := append([]string{"netns", "exec", c.lab.ns(i), os.Args[0],
		"--addr", fmt.Sprintf("%s:%d", c.lab.addr(i, "c"), netHTTPPort),
		"--data", c.data[i],
		"--node-name", fmt.Sprintf("node%d", i+1),
		"--cluster-listen", fmt.Sprintf("%s:%d", c.lab.addr(i, "r"), netRoutePort),
		"--cluster-peers", strings.Join(peers, ","),
		"--cluster-secret-file", c.secret,
		"--allowed-hosts", "*",
		"--metrics-addr", fmt.Sprintf("%s:%d", c.lab.addr(i, "c"), netMetricsPort),
		"--log-level", cmp.Or(os.Getenv("DISTCHAT_PARTITION_LOG"), "warn"),
	}, c.args...)
	c.procs[i] = startCmd(c.t, exec.Command("ip", args...))
}

func (c *netCluster) url(i int) string {
	return fmt.Sprintf("http://%s:%d", c.lab.addr(i, "c"), netHTTPPort)
}

// ready reports whether node i answers /api/ready with 200 (within a second).
func (c *netCluster) ready(i int) bool {
	client := http.Client{Timeout: time.Second}
	resp, err := client.Get(c.url(i) + "/api/ready")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (c *netCluster) waitReady(i int, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !c.ready(i) {
		if time.Now().After(deadline) {
			c.t.Fatalf("node %d not ready after %v: %s", i+1, timeout, readyReason(c.t, c.url(i)))
		}
		time.Sleep(100 * time.Millisecond) // polling /api/ready: there is no event to wait for
	}
}

// steadyPublisher sends a message with a ref every gap to one node, whatever happens, and
// sends again (same ref) what had no ack for a second: a person whose client keeps
// retrying. It stays on its node: a cut node's clients still reach it.
type steadyPublisher struct {
	t    *testing.T
	name string
	url  string
	gap  time.Duration
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	sent    map[string]time.Time // ref -> last sent, until acked
	acked   map[string]uint64    // ref -> seq
	ackedAt []time.Time
}

func startSteadyPublisher(t *testing.T, name, url string, perSecond int) *steadyPublisher {
	p := &steadyPublisher{t: t, name: name, url: url, gap: time.Second / time.Duration(perSecond),
		stop: make(chan struct{}), done: make(chan struct{}), sent: map[string]time.Time{}, acked: map[string]uint64{}}
	go p.run()
	return p
}

func (p *steadyPublisher) run() {
	defer close(p.done)
	var conn *peer
	token := ""
	read := 0
	tick := time.NewTicker(p.gap)
	defer tick.Stop()
	for i := 0; ; {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		if conn == nil || conn.closeErr() != nil {
			c, err := tryPeerWith(p.t, p.url, p.name, "partition", token)
			if err != nil {
				continue
			}
			conn, read = c, 0
			if w, ok := c.waitFor(0, isType("welcome")); ok {
				token, _ = w["token"].(string)
			}
		}
		// Acks that came since the last tick.
		objs := conn.all()
		now := time.Now()
		p.mu.Lock()
		for _, o := range objs[read:] {
			if o["type"] == "ack" {
				ref, _ := o["ref"].(string)
				if _, pending := p.sent[ref]; pending {
					delete(p.sent, ref)
					seq, _ := o["seq"].(float64)
					p.acked[ref] = uint64(seq)
					p.ackedAt = append(p.ackedAt, now)
				}
			}
		}
		read = len(objs)
		var resend []string
		for ref, at := range p.sent {
			if now.Sub(at) >= time.Second {
				resend = append(resend, ref)
				p.sent[ref] = now
			}
		}
		ref := fmt.Sprintf("%s-%d", p.name, i)
		p.sent[ref] = now
		i++
		p.mu.Unlock()
		for _, r := range append(resend, ref) {
			_ = conn.send(map[string]any{"type": "message", "body": r, "ref": r})
		}
	}
}

// longestGap is the longest time without an ack between from and to.
func (p *steadyPublisher) longestGap(from, to time.Time) time.Duration {
	gap, _ := p.gapIn(from, to)
	return gap
}

// gapIn is longestGap and when that gap began.
func (p *steadyPublisher) gapIn(from, to time.Time) (time.Duration, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	last, worst, began := from, time.Duration(0), from
	for _, at := range p.ackedAt {
		if at.Before(from) {
			continue
		}
		if at.After(to) {
			break
		}
		if at.Sub(last) > worst {
			worst, began = at.Sub(last), last
		}
		last = at
	}
	if to.Sub(last) > worst {
		worst, began = to.Sub(last), last
	}
	return worst, began
}

func (p *steadyPublisher) finish() map[string]uint64 {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acked
}

// roomOf reads the whole room from node url, oldest first: seq -> body.
func roomOf(t *testing.T, url, room string) (map[uint64]string, error) {
	reader, err := tryPeer(t, url, "reader", room)
	if err != nil {
		return nil, err
	}
	defer reader.conn.Close()
	w, _ := reader.waitFor(time.Second, isType("welcome"))
	out := map[uint64]string{}
	add := func(list any) (uint64, error) {
		items, _ := list.([]any)
		first := uint64(0)
		for i, it := range items {
			m, _ := it.(map[string]any)
			seq, _ := m["seq"].(float64)
			body, _ := m["body"].(string)
			if i == 0 {
				first = uint64(seq)
			}
			out[uint64(seq)] = body
		}
		return first, nil
	}
	before, _ := add(w["history"])
	for more := w["has_more"] == true; more; {
		ref := fmt.Sprint("h", before)
		if err := reader.send(map[string]any{"type": "history", "before": before, "limit": 100, "ref": ref}); err != nil {
			return nil, err
		}
		h, ok := reader.waitFor(10*time.Second, func(o map[string]any) bool { return o["ref"] == ref })
		if !ok || h["type"] != "history" {
			return nil, fmt.Errorf("history before %d on %s: %v", before, url, h)
		}
		if len(h["messages"].([]any)) == 0 {
			if h["has_more"] == true {
				return nil, fmt.Errorf("history before %d on %s: an empty page with has_more", before, url)
			}
			break
		}
		before, _ = add(h["messages"])
		more = h["has_more"] == true
	}
	return out, nil
}

// TestPartitions cuts each node off in turn while two publishers write, then flaps a
// link, and checks what a partition must not do: lose or double an acknowledged message,
// stop the connected nodes' writes for more than 2 s, or leave a cut node ready.
// DISTCHAT_CHAOS_ROUNDS and DISTCHAT_PARTITION_CUT/_HEAL lengthen it (make chaos).
func TestPartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a three-node cluster in network namespaces")
	}
	cutFor, healFor := 6*time.Second, 6*time.Second
	if d, err := time.ParseDuration(os.Getenv("DISTCHAT_PARTITION_CUT")); err == nil {
		cutFor = d
	}
	if d, err := time.ParseDuration(os.Getenv("DISTCHAT_PARTITION_HEAL")); err == nil {
		healFor = d
	}
	rounds := 1
	if n, err := strconv.Atoi(os.Getenv("DISTCHAT_CHAOS_ROUNDS")); err == nil {
		rounds = n
	}
	lab := newNetLab(t, 3)
	c := startNetCluster(t, lab, "--rate-limit", "0", "--history-rate", "0")
	pubs := []*steadyPublisher{
		startSteadyPublisher(t, "p1", c.url(0), 20),
		startSteadyPublisher(t, "p2", c.url(1), 20),
	}
	pubNode := []int{0, 1}
	time.Sleep(2 * time.Second) // writing before the first fault: part of the scenario
	var worst time.Duration
	var failures []string
	// The cuts: every node in turn, rounds times, then whichever node leads the stream.
	var victims []int
	for range rounds {
		victims = append(victims, 0, 1, 2)
	}
	victims = append(victims, -1)
	for n, victim := range victims {
		round := n / 3
		{
			if victim < 0 {
				if victim = c.leader(2); victim < 0 {
					t.Fatal("no node leads the message stream (node 3's metrics)")
				}
				t.Logf("cutting the stream's leader, node %d", victim+1)
			}
			cutAt := time.Now()
			lab.cut(victim)
			t.Logf("%s: node %d cut", cutAt.UTC().Format("15:04:05.000"), victim+1)
			unready := time.Duration(-1)
			for time.Since(cutAt) < cutFor {
				if unready < 0 && !c.ready(victim) {
					unready = time.Since(cutAt)
				}
				time.Sleep(200 * time.Millisecond) // sampling readiness during the cut
			}
			healAt := time.Now()
			lab.heal(victim)
			t.Logf("%s: node %d healed", healAt.UTC().Format("15:04:05.000"), victim+1)
			if unready < 0 || unready > 5*time.Second {
				failures = append(failures, fmt.Sprintf("round %d: node %d, cut off, was still ready after %v", round+1, victim+1, unready))
			}
			for k, p := range pubs {
				if pubNode[k] == victim {
					continue
				}
				gap, began := p.gapIn(cutAt, healAt)
				worst = max(worst, gap)
				t.Logf("round %d, node %d cut for %v: %s (on node %d) went %v without an ack (from %s); node %d unready after %v",
					round+1, victim+1, cutFor, p.name, pubNode[k]+1, gap.Round(10*time.Millisecond), began.UTC().Format("15:04:05.000"),
					victim+1, unready.Round(10*time.Millisecond))
				if gap > 2*time.Second {
					failures = append(failures, fmt.Sprintf("round %d, node %d cut: %s went %v without an ack", round+1, victim+1, p.name, gap))
				}
			}
			time.Sleep(healFor) // healed, and writing goes on: part of the scenario
			for k, p := range pubs {
				t.Logf("round %d, after node %d healed: %s (on node %d) went %v without an ack", round+1, victim+1, p.name, pubNode[k]+1,
					p.longestGap(healAt, time.Now()).Round(10*time.Millisecond))
			}
		}
	}
	// A flapping link: node 1's routes down and up, a second each, five times.
	flapAt := time.Now()
	for range 5 {
		lab.cut(0)
		time.Sleep(time.Second) // the link is down this long
		lab.heal(0)
		time.Sleep(time.Second) // and up this long
	}
	if gap := pubs[1].longestGap(flapAt, time.Now()); gap > 2*time.Second {
		failures = append(failures, fmt.Sprintf("node 1 flapping: p2 (on node 2) went %v without an ack", gap))
	}
	time.Sleep(healFor)
	acked := map[string]uint64{}
	for _, p := range pubs {
		for ref, seq := range p.finish() {
			acked[ref] = seq
		}
	}
	// Every node: every acknowledged message, once, at its seq; the same room everywhere.
	var rooms []map[uint64]string
	for i := range 3 {
		room, err := roomOf(t, c.url(i), "partition")
		if err != nil {
			t.Fatalf("reading the room on node %d: %v", i+1, err)
		}
		rooms = append(rooms, room)
		count := map[string]int{}
		for _, body := range room {
			count[body]++
		}
		lost, doubled := 0, 0
		for ref, seq := range acked {
			if room[seq] != ref {
				lost++
			}
		}
		for _, n := range count {
			if n > 1 {
				doubled++
			}
		}
		t.Logf("node %d holds %d messages: of %d acknowledged, %d missing or elsewhere, %d stored twice", i+1, len(room), len(acked), lost, doubled)
		if lost > 0 || doubled > 0 {
			failures = append(failures, fmt.Sprintf("node %d: %d acknowledged messages missing, %d stored twice", i+1, lost, doubled))
		}
	}
	for i := 1; i < 3; i++ {
		if len(rooms[i]) != len(rooms[0]) {
			failures = append(failures, fmt.Sprintf("node %d holds %d messages, node 1 %d", i+1, len(rooms[i]), len(rooms[0])))
		}
	}
	t.Logf("longest time without an ack on a connected node: %v", worst.Round(10*time.Millisecond))
	for _, f := range failures {
		t.Error(f)
	}
}
