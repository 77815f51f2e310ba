package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The tests in this file run real three-node clusters: three distchat processes (this test
// binary re-executed, see process_test.go) whose embedded NATS servers form a cluster over
// routes on loopback ports reserved before they start.

// cluster is three nodes with their ports and data directories, so that a node can be
// killed and started again as itself. Every node gets the cluster's secret in a file.
type cluster struct {
	t      *testing.T
	http   []int
	route  []int
	data   []string
	procs  []*process
	args   []string
	secret string // the file with the cluster secret (--cluster-secret-file)
	// nodeArgs, when set, adds arguments of node i's own (its route certificate).
	nodeArgs func(i int) []string
}

// reservePorts finds n free loopback ports. They are released before the nodes start, so
// another process could take one in between; on this machine that does not happen.
func reservePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// startCluster starts three nodes and waits until every one is ready.
func startCluster(t *testing.T, args ...string) *cluster {
	t.Helper()
	c := newCluster(t, args...)
	c.startAll()
	return c
}

// newCluster prepares three nodes (ports, data directories, a new cluster secret) without
// starting them.
func newCluster(t *testing.T, args ...string) *cluster {
	t.Helper()
	ports := reservePorts(t, 6)
	c := &cluster{t: t, http: ports[:3], route: ports[3:], procs: make([]*process, 3), args: args}
	for range 3 {
		c.data = append(c.data, t.TempDir())
	}
	c.secret = writeSecretFile(t, newSecret(t))
	return c
}

// startAll starts every node and waits until every one is ready.
func (c *cluster) startAll() {
	c.t.Helper()
	for i := range 3 {
		c.start(i)
	}
	for i := range 3 {
		c.waitReady(i, 60*time.Second)
	}
}

// newSecret returns a random cluster secret (44 characters).
func newSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// writeSecretFile writes a cluster secret into a file only its owner may read.
func writeSecretFile(t *testing.T, secret string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cluster.secret")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (c *cluster) peers() string {
	var ps []string
	for _, p := range c.route {
		ps = append(ps, fmt.Sprintf("127.0.0.1:%d", p))
	}
	return strings.Join(ps, ",")
}

// start starts node i (again).
func (c *cluster) start(i int) {
	c.t.Helper()
	args := append([]string{
		"--addr", fmt.Sprintf("127.0.0.1:%d", c.http[i]),
		"--data", c.data[i],
		"--node-name", fmt.Sprintf("node%d", i+1),
		"--cluster-listen", fmt.Sprintf("127.0.0.1:%d", c.route[i]),
		"--cluster-peers", c.peers(),
		"--cluster-secret-file", c.secret,
		"--log-level", "warn",
	}, c.args...)
	if c.nodeArgs != nil {
		args = append(args, c.nodeArgs(i)...)
	}
	c.procs[i] = startProcess(c.t, args...)
}

func (c *cluster) url(i int) string { return fmt.Sprintf("http://127.0.0.1:%d", c.http[i]) }

// ready reports whether node i answers /api/ready with 200.
func (c *cluster) ready(i int) bool {
	resp, err := http.Get(c.url(i) + "/api/ready")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (c *cluster) waitReady(i int, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !c.ready(i) {
		if time.Now().After(deadline) {
			c.t.Fatalf("node %d not ready after %v", i+1, timeout)
		}
		time.Sleep(50 * time.Millisecond) // polling /api/ready: there is no event to wait for
	}
}

// kill stops node i with SIGKILL, as a power loss would.
func (c *cluster) kill(i int) {
	c.t.Helper()
	_ = c.procs[i].stop(c.t, syscall.SIGKILL)
}

// health returns node i's /api/health answer.
func (c *cluster) health(i int) healthInfo {
	c.t.Helper()
	resp, err := http.Get(c.url(i) + "/api/health")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var h healthInfo
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		c.t.Fatal(err)
	}
	return h
}

type healthInfo struct {
	Node   string `json:"node"`
	Broker struct {
		LiveRooms    int    `json:"live_rooms"`
		LiveMessages uint64 `json:"live_messages"`
	} `json:"broker"`
}

// peer is a WebSocket client whose reader runs in the background, so that a test can wait
// for what several people see.
type peer struct {
	t    *testing.T
	name string
	conn *websocket.Conn
	mu   sync.Mutex
	objs []map[string]any
	more chan struct{}
	done chan struct{}
	err  error
}

func connectPeer(t *testing.T, base, name, room string) *peer {
	t.Helper()
	p, err := tryPeer(t, base, name, room)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func tryPeer(t *testing.T, base, name, room string) (*peer, error) {
	return tryPeerWith(t, base, name, room, "")
}

// connectPeerWith connects with a session token: the same person again, on any node.
func connectPeerWith(t *testing.T, base, name, room, token string) *peer {
	t.Helper()
	p, err := tryPeerWith(t, base, name, room, token)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func tryPeerWith(t *testing.T, base, name, room, token string) (*peer, error) {
	url := "ws" + strings.TrimPrefix(base, "http") + "/ws?name=" + name + "&room=" + room + "&token=" + token
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial(url, nil)
	if err != nil {
		return nil, err
	}
	p := &peer{t: t, name: name, conn: conn, more: make(chan struct{}, 1), done: make(chan struct{})}
	t.Cleanup(func() { conn.Close() })
	go p.read()
	w, ok := p.waitFor(10*time.Second, func(o map[string]any) bool { return o["type"] == "welcome" || o["type"] == "error" })
	if !ok || w["type"] != "welcome" {
		conn.Close()
		return nil, fmt.Errorf("%s on %s: no welcome: %v (%w)", name, base, w, p.closeErr())
	}
	return p, nil
}

func (p *peer) read() {
	defer close(p.done)
	for {
		_, data, err := p.conn.ReadMessage()
		if err != nil {
			p.mu.Lock()
			p.err = err
			p.mu.Unlock()
			p.signal()
			return
		}
		for _, line := range strings.Split(string(data), "\n") {
			var o map[string]any
			if json.Unmarshal([]byte(line), &o) == nil {
				p.mu.Lock()
				p.objs = append(p.objs, o)
				p.mu.Unlock()
			}
		}
		p.signal()
	}
}

func (p *peer) signal() {
	select {
	case p.more <- struct{}{}:
	default:
	}
}

func (p *peer) closeErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *peer) all() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.objs...)
}

// waitFor returns the first object (from the start) that matches, waiting up to timeout.
func (p *peer) waitFor(timeout time.Duration, match func(map[string]any) bool) (map[string]any, bool) {
	return p.waitFrom(0, timeout, match)
}

// waitFrom returns the first object at or after index from that matches.
func (p *peer) waitFrom(from int, timeout time.Duration, match func(map[string]any) bool) (map[string]any, bool) {
	deadline := time.After(timeout)
	for {
		objs := p.all()
		for _, o := range objs[min(from, len(objs)):] {
			if match(o) {
				return o, true
			}
		}
		if p.closeErr() != nil {
			return nil, false
		}
		select {
		case <-p.more:
		case <-deadline:
			return nil, false
		}
	}
}

func (p *peer) expect(timeout time.Duration, what string, match func(map[string]any) bool) map[string]any {
	p.t.Helper()
	o, ok := p.waitFor(timeout, match)
	if !ok {
		p.t.Fatalf("%s: no %s within %v (connection: %v)", p.name, what, timeout, p.closeErr())
	}
	return o
}

func (p *peer) send(v map[string]any) error {
	return p.conn.WriteJSON(v)
}

// bodiesOf returns the bodies of the room's messages p received, live, in order.
func (p *peer) bodiesOf(room string) []string {
	var out []string
	for _, o := range p.all() {
		if o["type"] == "message" && o["room"] == room {
			out = append(out, o["body"].(string))
		}
	}
	return out
}

func isType(typ string) func(map[string]any) bool {
	return func(o map[string]any) bool { return o["type"] == typ }
}

// userEvent matches a join, leave or typing event about the named user.
func userEvent(typ, name string) func(map[string]any) bool {
	return func(o map[string]any) bool {
		u, _ := o["user"].(map[string]any)
		return o["type"] == typ && u != nil && u["name"] == name
	}
}

func onlineNames(o map[string]any) []string {
	var names []string
	for _, u := range o["online"].([]any) {
		names = append(names, u.(map[string]any)["name"].(string))
	}
	return names
}

// TestCluster: people on three nodes chat in one room and see the same order, each other's
// presence and typing; history and paging work from any node; a node carries only the
// rooms that have members on it.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	c := startCluster(t, "--rate-limit", "0", "--history-rate", "0")

	alice := connectPeer(t, c.url(0), "alice", "town")
	bob := connectPeer(t, c.url(1), "bob", "town")
	start := time.Now()
	alice.expect(2*time.Second, "bob's join (from another node)", userEvent("join", "bob"))
	t.Logf("a join crossed nodes in %v", time.Since(start).Round(time.Millisecond))
	carol := connectPeer(t, c.url(2), "carol", "town")
	w := carol.expect(time.Second, "welcome", isType("welcome"))
	if names := strings.Join(onlineNames(w), ","); names != "alice,bob,carol" {
		t.Fatalf("carol's welcome lists %q online, want alice,bob,carol (people on every node)", names)
	}
	bob.expect(2*time.Second, "carol's join", userEvent("join", "carol"))

	t.Run("one order on every node", func(t *testing.T) {
		const each = 30
		for i := range each {
			for _, p := range []*peer{alice, bob, carol} {
				if err := p.send(map[string]any{"type": "message", "body": fmt.Sprintf("%s %d", p.name, i), "ref": fmt.Sprintf("%s-%d", p.name, i)}); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, p := range []*peer{alice, bob, carol} {
			p.expect(10*time.Second, "every message", func(map[string]any) bool { return len(p.bodiesOf("town")) >= 3*each })
		}
		a, b, ca := alice.bodiesOf("town"), bob.bodiesOf("town"), carol.bodiesOf("town")
		if strings.Join(a, "|") != strings.Join(b, "|") || strings.Join(a, "|") != strings.Join(ca, "|") {
			t.Fatalf("the nodes delivered different orders:\nnode1: %q\nnode2: %q\nnode3: %q", a, b, ca)
		}
		if len(a) != 3*each {
			t.Fatalf("%d messages delivered, want %d", len(a), 3*each)
		}
		// Events cross nodes like messages: carol (node 3) reacts to a message of alice's.
		var target map[string]any
		for _, o := range alice.all() {
			if o["type"] == "message" && o["body"] == "alice 0" {
				target = o
			}
		}
		if err := carol.send(map[string]any{"type": "react", "room": "town", "id": target["id"], "emoji": "🎉", "on": true, "ref": "r1"}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []*peer{alice, bob} {
			p.expect(5*time.Second, "carol's reaction", func(o map[string]any) bool {
				return o["type"] == "reaction" && o["id"] == target["id"] && o["emoji"] == "🎉"
			})
		}
	})

	t.Run("history and paging from any node", func(t *testing.T) {
		want := alice.bodiesOf("town")
		for i := range 3 {
			d := connectPeer(t, c.url(i), fmt.Sprint("reader", i), "town")
			w := d.expect(time.Second, "welcome", isType("welcome"))
			got := messageBodies(w["history"])
			before := w["history"].([]any)[0].(map[string]any)["seq"]
			for more := w["has_more"] == true; more; {
				ref := fmt.Sprint("h", before)
				if err := d.send(map[string]any{"type": "history", "before": before, "limit": 25, "ref": ref}); err != nil {
					t.Fatal(err)
				}
				h := d.expect(5*time.Second, "history page", func(o map[string]any) bool { return o["type"] == "history" && o["ref"] == ref })
				got = append(messageBodies(h["messages"]), got...)
				more = h["has_more"] == true
				before = h["messages"].([]any)[0].(map[string]any)["seq"]
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("node %d: history %d messages, want the %d delivered live, in the same order", i+1, len(got), len(want))
			}
			d.conn.Close()
		}
	})

	t.Run("typing and leaving cross nodes", func(t *testing.T) {
		if err := carol.send(map[string]any{"type": "typing", "room": "town"}); err != nil {
			t.Fatal(err)
		}
		alice.expect(2*time.Second, "carol typing", userEvent("typing", "carol"))
		bob.expect(2*time.Second, "carol typing", userEvent("typing", "carol"))
		start := time.Now()
		carol.conn.Close()
		alice.expect(5*time.Second, "carol's leave", userEvent("leave", "carol"))
		t.Logf("a leave crossed nodes in %v", time.Since(start).Round(time.Millisecond))
		bob.expect(5*time.Second, "carol's leave", userEvent("leave", "carol"))
	})

	t.Run("people across nodes", func(t *testing.T) {
		welcome := func(p *peer) map[string]any { o, _ := p.waitFor(time.Second, isType("welcome")); return o }
		userOf := func(p *peer) (string, string) {
			u := welcome(p)["user"].(map[string]any)
			return u["id"].(string), welcome(p)["token"].(string)
		}
		erin := connectPeer(t, c.url(0), "erin", "plaza")
		erinID, erinToken := userOf(erin)
		frank := connectPeer(t, c.url(1), "frank", "plaza")
		frankID, _ := userOf(frank)
		erin.expect(2*time.Second, "frank's join", userEvent("join", "frank"))
		// erin's second device, on node 3: one person with two devices, no second join.
		phone := connectPeerWith(t, c.url(2), "erin", "plaza", erinToken)
		if id, _ := userOf(phone); id != erinID {
			t.Fatalf("erin's token made %s on node 3, want %s", id, erinID)
		}
		// The phone's arrival reaches node 2 through presence: ask until it shows.
		var online []any
		for i := 0; ; i++ {
			from := len(frank.all())
			if err := frank.send(map[string]any{"type": "presence", "room": "plaza"}); err != nil {
				t.Fatal(err)
			}
			p, ok := frank.waitFrom(from, 2*time.Second, isType("presence"))
			if !ok {
				t.Fatal("no presence answer")
			}
			online = p["online"].([]any)
			devices := 0.0
			erins := 0
			for _, u := range online {
				if u.(map[string]any)["id"] == erinID {
					erins++
					devices = u.(map[string]any)["devices"].(float64)
				}
			}
			if erins != 1 {
				t.Fatalf("erin listed %d times on node 2: %v", erins, online)
			}
			if devices == 2 {
				break
			}
			if i == 40 {
				t.Fatalf("erin listed with %v devices on node 2, want 2", devices)
			}
			time.Sleep(50 * time.Millisecond) // asking again: presence has no event for a device count
		}
		joins := 0
		for _, o := range frank.all() {
			if userEvent("join", "erin")(o) {
				joins++
			}
		}
		if joins != 0 {
			t.Fatalf("frank saw erin join %d times (she was there first), want 0", joins)
		}
		// A rename on node 1 reaches frank once and erin's phone on node 3.
		if err := erin.send(map[string]any{"type": "rename", "name": "Erin", "ref": "n1"}); err != nil {
			t.Fatal(err)
		}
		frank.expect(2*time.Second, "the rename", func(o map[string]any) bool { return o["type"] == "rename" && o["old"] == "erin" })
		phone.expect(2*time.Second, "the user update", func(o map[string]any) bool {
			u, _ := o["user"].(map[string]any)
			return o["type"] == "user" && u["name"] == "Erin"
		})
		// A direct message from node 2 to erin reaches both her devices.
		if err := frank.send(map[string]any{"type": "dm", "user": erinID, "name": "Erin", "ref": "d1"}); err != nil {
			t.Fatal(err)
		}
		j := frank.expect(5*time.Second, "the DM room", func(o map[string]any) bool { return o["type"] == "joined" && o["ref"] == "d1" })
		dm := j["room"].(string)
		for _, d := range []*peer{erin, phone} {
			d.expect(2*time.Second, "the DM notice", func(o map[string]any) bool { return o["type"] == "dm" && o["room"] == dm })
		}
		_ = frankID
	})

	t.Run("a node carries only rooms with members on it", func(t *testing.T) {
		// dave is on node 2 in "quiet"; node 3 has nobody there.
		dave := connectPeer(t, c.url(1), "dave", "quiet")
		h2, h3 := c.health(1), c.health(2)
		if err := alice.send(map[string]any{"type": "join", "room": "quiet"}); err != nil {
			t.Fatal(err)
		}
		alice.expect(5*time.Second, "joined quiet", func(o map[string]any) bool { return o["type"] == "joined" && o["room"] == "quiet" })
		for i := range 40 {
			if err := alice.send(map[string]any{"type": "message", "room": "quiet", "body": fmt.Sprint("q", i)}); err != nil {
				t.Fatal(err)
			}
		}
		dave.expect(10*time.Second, "40 messages", func(map[string]any) bool { return len(dave.bodiesOf("quiet")) == 40 })
		a2, a3 := c.health(1), c.health(2)
		if got := a2.Broker.LiveMessages - h2.Broker.LiveMessages; got < 40 {
			t.Fatalf("node 2 (dave's) received %d live messages, want at least 40", got)
		}
		if got := a3.Broker.LiveMessages - h3.Broker.LiveMessages; got != 0 {
			t.Fatalf("node 3, with nobody in the room, received %d of its messages", got)
		}
		if a3.Broker.LiveRooms != 0 {
			t.Fatalf("node 3 receives %d rooms live, want 0 (carol left)", a3.Broker.LiveRooms)
		}
	})
}

func messageBodies(list any) []string {
	var out []string
	for _, m := range list.([]any) {
		if o := m.(map[string]any); o["type"] == "message" {
			out = append(out, o["body"].(string))
		}
	}
	return out
}

// TestClusterKilledNodeMembersLeave kills a node with SIGKILL: the people connected to it
// disappear from the others' presence within 15 s.
func TestClusterKilledNodeMembersLeave(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	c := startCluster(t)
	alice := connectPeer(t, c.url(0), "alice", "town")
	connectPeer(t, c.url(2), "erin", "town")
	alice.expect(2*time.Second, "erin's join", userEvent("join", "erin"))
	start := time.Now()
	c.kill(2)
	alice.expect(15*time.Second, "erin's leave after her node was killed", userEvent("leave", "erin"))
	t.Logf("the people of a killed node left the others' presence after %v", time.Since(start).Round(100*time.Millisecond))
	// The node comes back, and erin with it.
	c.start(2)
	c.waitReady(2, 30*time.Second)
	connectPeer(t, c.url(2), "erin", "town")
	alice.expect(5*time.Second, "erin's join after the restart", func(o map[string]any) bool {
		return userEvent("join", "erin")(o) && o["ts"].(float64) > float64(start.UnixMilli())
	})
}

// publisher sends numbered messages with refs to a cluster, one at a time, and retries
// each until it is acknowledged: on an error it sends it again with the same ref, and when
// its node goes away it reconnects to another one (its home node first). It records when
// each ack came and from which node.
type publisher struct {
	t     *testing.T
	name  string
	urls  []string
	home  int
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	node  int                  // the node it is connected to, -1 while reconnecting
	conn  *peer                // owned by run; closed by rehome
	token string               // the publisher's session: the same person on every node
	acked map[string]time.Time // ref -> when acked
	order []time.Time          // ack times in order
}

func startPublisher(t *testing.T, name string, urls []string, home int) *publisher {
	p := &publisher{t: t, name: name, urls: urls, home: home, node: -1, stop: make(chan struct{}), done: make(chan struct{}), acked: map[string]time.Time{}}
	go p.run()
	return p
}

// connect tries the home node, then the others, as the same person each time (its
// retries with the same ref are then recognised wherever they land).
func (p *publisher) connect() *peer {
	for i := range p.urls {
		n := (p.home + i) % len(p.urls)
		if c, err := tryPeerWith(p.t, p.urls[n], p.name, "failover", p.token); err == nil {
			if w, ok := c.waitFor(0, isType("welcome")); ok {
				p.token = w["token"].(string)
			}
			p.mu.Lock()
			p.node, p.conn = n, c
			p.mu.Unlock()
			return c
		}
	}
	return nil
}

func (p *publisher) run() {
	defer close(p.done)
	var conn *peer
	for i := 0; ; i++ {
		ref := fmt.Sprintf("%s-%d", p.name, i)
		for {
			select {
			case <-p.stop:
				return
			default:
			}
			if conn == nil || conn.closeErr() != nil {
				p.mu.Lock()
				p.node = -1
				p.mu.Unlock()
				if conn = p.connect(); conn == nil {
					time.Sleep(100 * time.Millisecond) // reconnect backoff, as a client would
					continue
				}
			}
			// Only answers to this attempt count: an earlier error for the same ref is
			// still in the list.
			from := len(conn.all())
			if conn.send(map[string]any{"type": "message", "body": ref, "ref": ref}) != nil {
				continue
			}
			reply, ok := conn.waitFrom(from, 5*time.Second, func(o map[string]any) bool {
				return (o["type"] == "ack" || o["type"] == "error") && o["ref"] == ref
			})
			if ok && reply["type"] == "ack" {
				p.mu.Lock()
				now := time.Now()
				p.acked[ref] = now
				p.order = append(p.order, now)
				p.mu.Unlock()
				break
			}
			if ok {
				time.Sleep(50 * time.Millisecond) // unavailable: send again soon, same ref
			}
			// No answer (the node died): the next round reconnects and sends again.
			if !ok && conn.closeErr() == nil {
				conn.conn.Close()
			}
		}
		time.Sleep(10 * time.Millisecond) // about 50-80 messages a second per publisher
	}
}

// on returns the node the publisher is connected to (-1: reconnecting).
func (p *publisher) on() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.node
}

// rehome makes a publisher away from its home node reconnect, which goes home first.
func (p *publisher) rehome() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.node != p.home && p.conn != nil {
		p.conn.conn.Close()
	}
}

func (p *publisher) acks() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.order)
}

// longestGap returns the longest time without an ack within [from, to].
func (p *publisher) longestGap(from, to time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var gap time.Duration
	prev := from
	for _, at := range p.order {
		if at.Before(from) {
			continue
		}
		if at.After(to) {
			break
		}
		gap = max(gap, at.Sub(prev))
		prev = at
	}
	return max(gap, to.Sub(prev))
}

// TestClusterFailover: publishers on two nodes keep sending with refs while each node in
// turn is killed with SIGKILL and started again. Every acknowledged message is stored
// exactly once, and publishing goes on on the surviving nodes after a short pause (a new
// stream leader is elected when the killed node led the stream). DISTCHAT_CHAOS_ROUNDS
// and DISTCHAT_CHAOS_DOWN make it longer (make chaos).
func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	c := startCluster(t, "--rate-limit", "0", "--history-rate", "0")
	urls := []string{c.url(0), c.url(1), c.url(2)}
	pubs := []*publisher{startPublisher(t, "p1", urls, 0), startPublisher(t, "p2", urls, 1)}
	downFor := 2 * time.Second
	if d, err := time.ParseDuration(os.Getenv("DISTCHAT_CHAOS_DOWN")); err == nil {
		downFor = d
	}
	rounds := 1
	if n, err := strconv.Atoi(os.Getenv("DISTCHAT_CHAOS_ROUNDS")); err == nil {
		rounds = n
	}
	// progress waits until every publisher has n more acks, at home.
	progress := func(n int) {
		deadline := time.Now().Add(30 * time.Second)
		for _, p := range pubs {
			target := p.acks() + n
			for i := 0; p.acks() < target || p.on() != p.home; i++ {
				if time.Now().After(deadline) {
					t.Fatalf("%s: no progress (%d of %d acks, on node %d)", p.name, p.acks(), target, p.on()+1)
				}
				if i%25 == 24 {
					p.rehome() // its home node may have refused it while catching up
				}
				time.Sleep(20 * time.Millisecond) // polling the publishers' counters
			}
		}
	}
	progress(20)
	var worstSurvivor, worstMoved time.Duration
	for round := range rounds {
		for victim := range 3 {
			var survivors, moved []*publisher
			for _, p := range pubs {
				if p.on() == victim {
					moved = append(moved, p)
				} else {
					survivors = append(survivors, p)
				}
			}
			killed := time.Now()
			c.kill(victim)
			time.Sleep(downFor) // the node stays down this long: the others must carry on
			back := time.Now()
			for _, p := range survivors {
				gap := p.longestGap(killed, back)
				t.Logf("round %d, node %d killed: %s (on a surviving node) went %v without an ack", round+1, victim+1, p.name, gap.Round(10*time.Millisecond))
				worstSurvivor = max(worstSurvivor, gap)
			}
			for _, p := range moved {
				gap := p.longestGap(killed, back)
				t.Logf("round %d, node %d killed: %s (on that node, reconnecting) went %v without an ack", round+1, victim+1, p.name, gap.Round(10*time.Millisecond))
				worstMoved = max(worstMoved, gap)
			}
			c.start(victim)
			c.waitReady(victim, 60*time.Second)
			for _, p := range pubs {
				p.rehome()
			}
			progress(10)
		}
	}
	for _, p := range pubs {
		close(p.stop)
		<-p.done
	}
	t.Logf("longest time without an ack: %v on surviving nodes, %v for a publisher whose node was killed (reconnecting included)",
		worstSurvivor.Round(10*time.Millisecond), worstMoved.Round(10*time.Millisecond))

	// Every acknowledged message is stored exactly once; nothing is stored twice.
	reader := connectPeer(t, c.url(0), "reader", "failover")
	w := reader.expect(time.Second, "welcome", isType("welcome"))
	stored := map[string]int{}
	for _, b := range messageBodies(w["history"]) {
		stored[b]++
	}
	if len(w["history"].([]any)) > 0 {
		before := w["history"].([]any)[0].(map[string]any)["seq"]
		for more := w["has_more"] == true; more; {
			ref := fmt.Sprint("h", before)
			if err := reader.send(map[string]any{"type": "history", "before": before, "limit": 100, "ref": ref}); err != nil {
				t.Fatal(err)
			}
			h := reader.expect(5*time.Second, "history", func(o map[string]any) bool { return o["type"] == "history" && o["ref"] == ref })
			for _, b := range messageBodies(h["messages"]) {
				stored[b]++
			}
			more = h["has_more"] == true
			before = h["messages"].([]any)[0].(map[string]any)["seq"]
		}
	}
	acked := 0
	for _, p := range pubs {
		for ref := range p.acked {
			acked++
			if stored[ref] != 1 {
				t.Errorf("%s was acknowledged and is stored %d times", ref, stored[ref])
			}
		}
	}
	for body, n := range stored {
		if n > 1 {
			t.Errorf("%s is stored %d times", body, n)
		}
	}
	t.Logf("%d messages acknowledged, every one stored exactly once (%d stored)", acked, len(stored))
	if worstSurvivor > 5*time.Second {
		t.Errorf("publishing stopped for %v on the surviving nodes", worstSurvivor)
	}
}

// TestClusterWithoutQuorum kills two of three nodes: the survivor answers publishes with
// unavailable within seconds instead of hanging, reports 503 on /api/ready, and recovers
// by itself when a second node returns.
func TestClusterWithoutQuorum(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	c := startCluster(t)
	alice := connectPeer(t, c.url(0), "alice", "town")
	c.kill(1)
	c.kill(2)
	start := time.Now()
	if err := alice.send(map[string]any{"type": "message", "body": "anyone?", "ref": "q1"}); err != nil {
		t.Fatal(err)
	}
	e := alice.expect(10*time.Second, "an answer", func(o map[string]any) bool { return o["ref"] == "q1" })
	if e["type"] != "error" || e["code"] != "unavailable" {
		t.Fatalf("without quorum a publish got %v, want an unavailable error", e)
	}
	t.Logf("without quorum, a publish was refused after %v", time.Since(start).Round(10*time.Millisecond))
	deadline := time.Now().Add(10 * time.Second)
	for c.ready(0) {
		if time.Now().After(deadline) {
			t.Fatal("node 1 still reports ready without quorum")
		}
		time.Sleep(100 * time.Millisecond) // polling /api/ready
	}
	c.start(1)
	c.waitReady(0, 60*time.Second)
	recovered := time.Now()
	for i := 0; ; i++ {
		ref := fmt.Sprint("r", i)
		if err := alice.send(map[string]any{"type": "message", "body": "back", "ref": ref}); err != nil {
			t.Fatal(err)
		}
		a := alice.expect(10*time.Second, "an answer", func(o map[string]any) bool { return o["ref"] == ref })
		if a["type"] == "ack" {
			break
		}
		if time.Since(recovered) > 10*time.Second {
			t.Fatalf("still %v 10 s after the node returned", a)
		}
		time.Sleep(200 * time.Millisecond) // retry pacing
	}
}

// TestClusterReplaceNode replaces a node whose disk was lost: the same name on an empty
// data directory takes the old node's place, copies the stream from the others and becomes
// ready; with the first node then down, the replacement and the third node still hold a
// majority and serve the whole history.
func TestClusterReplaceNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	c := startCluster(t, "--rate-limit", "0", "--history-rate", "0")
	alice := connectPeer(t, c.url(0), "alice", "kept")
	alice.expect(10*time.Second, "welcome", isType("welcome"))
	const n = 120
	for i := range n {
		ref := fmt.Sprint("m", i)
		if err := alice.send(map[string]any{"type": "message", "body": ref, "ref": ref}); err != nil {
			t.Fatal(err)
		}
	}
	alice.expect(20*time.Second, "the last ack", func(o map[string]any) bool { return o["type"] == "ack" && o["ref"] == fmt.Sprint("m", n-1) })

	// Node 3's disk is lost: it comes back under its name with nothing.
	c.kill(2)
	c.data[2] = t.TempDir()
	c.start(2)
	c.waitReady(2, 60*time.Second)

	// Node 1 goes: nodes 2 and 3 are the majority; node 3 answers with everything.
	c.kill(0)
	bob := connectPeer(t, c.url(2), "bob", "kept")
	w := bob.expect(20*time.Second, "welcome", isType("welcome"))
	got := messageBodies(w["history"])
	for more := w["has_more"] == true; more; {
		before := w["history"].([]any)[0].(map[string]any)["seq"]
		ref := fmt.Sprint("h", before)
		if err := bob.send(map[string]any{"type": "history", "before": before, "limit": 100, "ref": ref}); err != nil {
			t.Fatal(err)
		}
		h := bob.expect(10*time.Second, "history", func(o map[string]any) bool { return o["type"] == "history" && o["ref"] == ref })
		got = append(messageBodies(h["messages"]), got...)
		more, w = h["has_more"] == true, map[string]any{"history": h["messages"]}
	}
	if len(got) != n || got[0] != "m0" || got[n-1] != fmt.Sprint("m", n-1) {
		t.Fatalf("after the replacement, node 3 serves %d messages (%v...), want m0..m%d", len(got), got[:min(3, len(got))], n-1)
	}
	// And the majority of two takes new messages (once it has elected a leader, if node 1
	// led: the client sends again after unavailable, as the UI does).
	killed := time.Now()
	for i := 0; ; i++ {
		ref := fmt.Sprint("after", i)
		if err := bob.send(map[string]any{"type": "message", "body": ref, "ref": ref}); err != nil {
			t.Fatal(err)
		}
		a := bob.expect(20*time.Second, "an answer", func(o map[string]any) bool { return o["ref"] == ref })
		if a["type"] == "ack" {
			t.Logf("the replaced node and node 2 store messages %v after node 1 died", time.Since(killed).Round(10*time.Millisecond))
			break
		}
		if time.Since(killed) > 15*time.Second {
			t.Fatalf("a message on the replaced node's majority still gets %v", a)
		}
		time.Sleep(100 * time.Millisecond) // retry pacing
	}
}
