package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/distchat/distchat/server"
)

// ---------------------------------------------------------------------------------------
// Connecting

func TestWelcome(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{
		Version: "v-test", MaxMessageBytes: 8192, MaxBodyBytes: 1000, RateLimit: 7, RateBurst: 9,
	})
	wantLimits := limits{MaxMessageBytes: 8192, MaxBodyBytes: 1000, Rate: 7, Burst: 9}
	idRE := regexp.MustCompile(`^[a-z0-9]{6,}$`)

	t.Run("named, default room", func(t *testing.T) {
		c := ts.connect(t, "alice", "")
		w := c.welcome
		if !idRE.MatchString(w.ID) {
			t.Errorf("id = %q, want a random id", w.ID)
		}
		if w.Name != "alice" || w.Room != "general" || !slices.Equal(w.Rooms, []string{"general"}) {
			t.Errorf("name, room, rooms = %q, %q, %q; want alice, general, [general]", w.Name, w.Room, w.Rooms)
		}
		if !slices.Equal(w.Online, []user{{w.ID, "alice"}}) {
			t.Errorf("online = %v, want only alice herself", w.Online)
		}
		if h := w.field("history"); h != "[]" {
			t.Errorf("history = %s, want []", h)
		}
		if w.LastSeq != 0 || w.HasMore {
			t.Errorf("last_seq, has_more = %d, %v; want 0, false", w.LastSeq, w.HasMore)
		}
		if w.Limits == nil || *w.Limits != wantLimits {
			t.Errorf("limits = %+v, want %+v", w.Limits, wantLimits)
		}
		if w.Version != "v-test" {
			t.Errorf("version = %q, want v-test", w.Version)
		}
		c.close()
		ts.waitConnections(t, 0)
	})

	t.Run("guest name", func(t *testing.T) {
		c := ts.connect(t, "", "guests")
		if !regexp.MustCompile(`^guest-[0-9]{4}$`).MatchString(c.welcome.Name) {
			t.Errorf("name = %q, want guest-NNNN", c.welcome.Name)
		}
		if !slices.Equal(c.welcome.Online, []user{c.user}) {
			t.Errorf("online = %v, want only %v", c.welcome.Online, c.user)
		}
	})

	t.Run("room from the URL", func(t *testing.T) {
		c := ts.connect(t, "bob", "x")
		if c.welcome.Room != "x" || !slices.Equal(c.welcome.Rooms, []string{"x"}) {
			t.Errorf("room, rooms = %q, %q; want x, [x]", c.welcome.Room, c.welcome.Rooms)
		}
		if !slices.Equal(c.welcome.Online, []user{c.user}) {
			t.Errorf("online = %v, want only %v", c.welcome.Online, c.user)
		}
	})

	t.Run("name is trimmed, limits count characters", func(t *testing.T) {
		c := ts.connect(t, "  carol  ", "trim")
		if c.welcome.Name != "carol" {
			t.Errorf("name = %q, want carol", c.welcome.Name)
		}
		long := strings.Repeat("é", 32) // 32 characters, 64 bytes
		d := ts.connect(t, long, "trim")
		if d.welcome.Name != long {
			t.Errorf("name = %q, want %q", d.welcome.Name, long)
		}
	})

	t.Run("every connection has its own id", func(t *testing.T) {
		a := ts.connect(t, "twin", "twins")
		b := ts.connect(t, "twin", "twins")
		if a.user.ID == b.user.ID {
			t.Fatalf("two connections share id %q", a.user.ID)
		}
		if !slices.Equal(b.welcome.Online, []user{a.user, b.user}) {
			t.Errorf("online = %v, want both tabs %v, %v", b.welcome.Online, a.user, b.user)
		}
	})
}

// TestWelcomeLimitsMatchEnforcement: limits in welcome must tell clients what the server
// enforces, also when the configuration names a rate but no burst.
func TestWelcomeLimitsMatchEnforcement(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{RateLimit: 0.5})
	c := ts.connect(t, "alice", "")
	burst := c.welcome.Limits.Burst
	if c.welcome.Limits.Rate != 0.5 {
		t.Errorf("welcome limits = %+v, want rate 0.5", c.welcome.Limits)
	}
	// At 0.5/s nothing refills while these are sent: exactly burst of them pass.
	n := burst + 3
	for i := range n {
		c.sendJSON(msg("hi", fmt.Sprint("r", i)))
	}
	accepted, refused := 0, 0
	for accepted+refused < n {
		switch o := c.expectAny("ack", "error", "message"); o.Type {
		case "ack":
			accepted++
		case "error":
			if o.Code != "rate_limited" {
				t.Fatalf("got %s, want rate_limited", o)
			}
			refused++
		}
	}
	if accepted != burst {
		t.Errorf("welcome says burst %d, but %d of %d messages sent at once were accepted", burst, accepted, n)
	}
}

func TestJoinAndLeaveAreAnnounced(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		end  func(*client)
	}{
		{"clean close", (*client).close},
		{"abrupt TCP close", (*client).abort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, server.Config{}) // its own: connections are counted
			room := strings.ToLower(strings.ReplaceAll(tc.name, " ", "-"))
			a := ts.connect(t, "alice", room)
			if !slices.Equal(a.welcome.Online, []user{a.user}) {
				t.Fatalf("alice's online = %v, want only herself", a.welcome.Online)
			}
			b := ts.connect(t, "bob", room)
			if !slices.Equal(b.welcome.Online, []user{a.user, b.user}) {
				t.Errorf("bob's online = %v, want alice and bob", b.welcome.Online)
			}
			j := a.expect("join")
			if j.Room != room || j.User != b.user || j.TS <= 0 {
				t.Errorf("join = %s, want room %q, user %v and a ts", j, room, b.user)
			}
			tc.end(b)
			l := a.expect("leave")
			if l.Room != room || l.User != b.user || l.TS <= 0 {
				t.Errorf("leave = %s, want room %q, user %v and a ts", l, room, b.user)
			}
			ts.waitConnections(t, 1)
			a.sendJSON(map[string]any{"type": "presence"})
			if p := a.expect("presence"); !slices.Equal(p.Online, []user{a.user}) {
				t.Errorf("presence after bob left = %v, want only alice", p.Online)
			}
		})
	}
}

// ---------------------------------------------------------------------------------------
// Broadcasting

func TestBroadcastToManyClientsInOrder(t *testing.T) {
	t.Parallel()
	const clients, publishers, perPublisher = 30, 3, 100
	const total = publishers * perPublisher
	// Queues large enough for every object of the test: nobody is too slow here.
	ts := startServer(t, server.Config{SendQueue: 4 * total})

	cs := make([]*client, clients)
	for i := range cs {
		cs[i] = ts.connect(t, fmt.Sprintf("user-%02d", i), "")
	}

	type result struct {
		msgs []object
		acks map[string]object
		err  error
	}
	results := make([]result, clients)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			r := &results[i]
			r.acks = make(map[string]object)
			wantAcks := 0
			if i < publishers {
				wantAcks = perPublisher
			}
			deadline := time.Now().Add(20 * time.Second)
			for len(r.msgs) < total || len(r.acks) < wantAcks {
				o, err := c.next(time.Until(deadline))
				if err != nil {
					r.err = fmt.Errorf("after %d messages and %d acks: %w", len(r.msgs), len(r.acks), err)
					return
				}
				switch o.Type {
				case "join": // clients that connected later
				case "message":
					r.msgs = append(r.msgs, o)
				case "ack":
					if _, dup := r.acks[o.Ref]; dup {
						r.err = fmt.Errorf("second ack for %q: %s", o.Ref, o)
						return
					}
					r.acks[o.Ref] = o
				default:
					r.err = fmt.Errorf("unexpected %s", o)
					return
				}
			}
		})
	}
	sendErrs := make([]error, publishers)
	for p := range publishers {
		wg.Go(func() {
			for n := range perPublisher {
				ref := fmt.Sprintf("p%d-%03d", p, n)
				if err := cs[p].writeJSON(msg(ref, ref)); err != nil {
					sendErrs[p] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(sendErrs...); err != nil {
		t.Fatalf("sending: %v", err)
	}

	// The seq of every message id, as the first client saw it.
	seqOf := make(map[string]uint64)
	for i, r := range results {
		name := cs[i].user.Name
		if r.err != nil {
			t.Errorf("%s: %v", name, r.err)
			continue
		}
		seen := make(map[string]bool)
		next := make([]int, publishers) // next expected n per publisher
		var lastSeq uint64
		for _, m := range r.msgs {
			if seen[m.ID] {
				t.Errorf("%s: message %s received twice", name, m)
			}
			seen[m.ID] = true
			if m.Seq <= lastSeq {
				t.Errorf("%s: seq %d after %d", name, m.Seq, lastSeq)
			}
			lastSeq = m.Seq
			if s, ok := seqOf[m.ID]; !ok {
				seqOf[m.ID] = m.Seq
			} else if s != m.Seq {
				t.Errorf("%s: message %s has seq %d for another client", name, m.ID, s)
			}
			var p, n int
			if _, err := fmt.Sscanf(m.Body, "p%d-%03d", &p, &n); err != nil || p >= publishers {
				t.Errorf("%s: unexpected body in %s", name, m)
				continue
			}
			if n != next[p] {
				t.Errorf("%s: from publisher %d got message %d, want %d", name, p, n, next[p])
			}
			next[p] = n + 1
			if m.From != cs[p].user || m.Room != "general" || m.Ref != m.Body || m.TS <= 0 {
				t.Errorf("%s: message %s, want from %v in general with ref and ts", name, m, cs[p].user)
			}
		}
		if t.Failed() {
			t.FailNow() // one client's listing is enough
		}
		for p := range publishers {
			if next[p] != perPublisher {
				t.Errorf("%s: got %d messages of publisher %d, want %d", name, next[p], p, perPublisher)
			}
		}
	}
	// Each publisher's acks name the seq and id the room saw.
	byRef := make(map[string]object)
	for _, m := range results[0].msgs {
		byRef[m.Ref] = m
	}
	for p := range publishers {
		for n := range perPublisher {
			ref := fmt.Sprintf("p%d-%03d", p, n)
			a, ok := results[p].acks[ref]
			m := byRef[ref]
			if !ok || a.Seq != m.Seq || a.ID != m.ID || a.Room != "general" || a.TS != m.TS {
				t.Errorf("publisher %d: ack for %q = %s, want seq %d, id %s", p, ref, a, m.Seq, m.ID)
			}
		}
	}
	// Nothing more than once: after a last message, every client's next message is it.
	cs[0].sendJSON(msg("end", "end"))
	for _, c := range cs {
		if o := c.expect("message", "ack"); o.Body != "end" {
			t.Errorf("%s: after all messages got %s, want the last one", c.user.Name, o)
		}
	}
}

func TestPlainTextAndMultiObjectFrames(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})

	// pair connects a sender and an observer in a room of their own.
	pair := func(t *testing.T, room string) (a, b *client) {
		a = ts.connect(t, "alice", room)
		b = ts.connect(t, "bob", room)
		a.expect("join")
		return a, b
	}
	// split sorts objects into messages and the rest, keeping the order of each.
	split := func(objs []object) (msgs, others []object) {
		for _, o := range objs {
			if o.Type == "message" {
				msgs = append(msgs, o)
			} else {
				others = append(others, o)
			}
		}
		return msgs, others
	}

	t.Run("plain text is a message body", func(t *testing.T) {
		t.Parallel()
		a, b := pair(t, "plain")
		for _, tc := range []struct{ frame, body string }{
			{"hello there", "hello there"},
			{"  indented, not JSON", "  indented, not JSON"},
			{"line one\nline two\n", "line one\nline two"},
			{"[1, 2]", "[1, 2]"},
		} {
			a.sendText(tc.frame)
			msgs, others := split(a.expectN(2))
			if len(msgs) != 1 || len(others) != 1 || others[0].Type != "ack" {
				t.Fatalf("after %q got %v %v, want an ack and the message", tc.frame, msgs, others)
			}
			m := msgs[0]
			if m.Body != tc.body || m.From != a.user || m.Room != "plain" || others[0].Seq != m.Seq {
				t.Errorf("after %q: message %s, ack %s; want body %q from alice", tc.frame, m, others[0], tc.body)
			}
			if o := b.expect("message"); o.ID != m.ID || o.Body != tc.body {
				t.Errorf("bob got %s, want %s", o, m)
			}
		}
	})

	t.Run("leading spaces before { still mean JSON", func(t *testing.T) {
		t.Parallel()
		a, b := pair(t, "spaces")
		a.sendText(" \t {\"type\":\"message\",\"body\":\"json body\",\"ref\":\"j1\"}")
		msgs, others := split(a.expectN(2))
		if len(msgs) != 1 || len(others) != 1 || others[0].Type != "ack" || others[0].Ref != "j1" || msgs[0].Body != "json body" {
			t.Fatalf("got %v %v, want ack j1 and message \"json body\"", msgs, others)
		}
		if o := b.expect("message"); o.Body != "json body" {
			t.Errorf("bob got %s, want body \"json body\"", o)
		}
	})

	t.Run("several objects, one bad", func(t *testing.T) {
		t.Parallel()
		a, b := pair(t, "multi")
		a.sendText(strings.Join([]string{
			`{"type":"message","body":"one","ref":"m1"}`,
			`{"type":`,
			``,
			`{"type":"message","body":"three","ref":"m3"}`,
			`{"type":"message","body":"","ref":"m4"}`,
			`{"type":"message","body":"five","ref":"m5"}`,
		}, "\n"))
		msgs, others := split(a.expectN(8))
		var got []string
		for _, o := range others {
			got = append(got, o.Type+":"+o.Code+o.Ref)
		}
		want := []string{"ack:m1", "error:bad_json", "ack:m3", "error:empty_bodym4", "ack:m5"}
		if !slices.Equal(got, want) {
			t.Errorf("answers = %q, want %q", got, want)
		}
		var bodies []string
		for _, m := range msgs {
			bodies = append(bodies, m.Body)
		}
		if !slices.Equal(bodies, []string{"one", "three", "five"}) {
			t.Errorf("alice's messages = %q, want one, three, five", bodies)
		}
		bodies = nil
		for _, o := range b.expectN(3) {
			bodies = append(bodies, o.Type+":"+o.Body)
		}
		if !slices.Equal(bodies, []string{"message:one", "message:three", "message:five"}) {
			t.Errorf("bob got %q, want the three messages", bodies)
		}
	})
}

// collector reads a client's objects in its own goroutine until a message with body end
// arrives, counting messages as they come, for tests that pace publishers on receivers.
type collector struct {
	c        *client
	end      string
	received atomic.Int64

	mu     sync.Mutex
	msgs   []object
	acks   map[string]object
	leaves []user
	err    error
	done   chan struct{}
}

func collect(c *client, end string) *collector {
	col := &collector{c: c, end: end, acks: make(map[string]object), done: make(chan struct{})}
	go col.run()
	return col
}

func (col *collector) run() {
	defer close(col.done)
	for {
		o, err := col.c.next(20 * time.Second)
		col.mu.Lock()
		switch {
		case err != nil:
			col.err = fmt.Errorf("after %d messages: %w", len(col.msgs), err)
		case o.Type == "message":
			col.msgs = append(col.msgs, o)
			col.received.Add(1)
		case o.Type == "ack":
			col.acks[o.Ref] = o
		case o.Type == "leave":
			col.leaves = append(col.leaves, o.User)
		case o.Type == "join":
		default:
			col.err = fmt.Errorf("unexpected %s", o)
		}
		stop := col.err != nil || o.Type == "message" && o.Body == col.end
		col.mu.Unlock()
		if stop {
			return
		}
	}
}

func (col *collector) sawLeave(u user) bool {
	col.mu.Lock()
	defer col.mu.Unlock()
	return slices.Contains(col.leaves, u)
}

// wait waits until the collector saw the end message and returns what it collected.
func (col *collector) wait(t *testing.T) []object {
	t.Helper()
	select {
	case <-col.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: collector still running", col.c.user.Name)
	}
	if col.err != nil {
		t.Fatalf("%s: %v", col.c.user.Name, col.err)
	}
	return col.msgs
}

// checkSequence checks that msgs hold exactly the bodies published (per publisher prefix,
// in order) followed by the end message, with strictly increasing seqs.
func checkSequence(t *testing.T, who string, msgs []object, published map[string][]string, end string) {
	t.Helper()
	next := make(map[string]int)
	var lastSeq uint64
	for i, m := range msgs {
		if m.Seq <= lastSeq {
			t.Fatalf("%s: message %d has seq %d after %d", who, i, m.Seq, lastSeq)
		}
		lastSeq = m.Seq
		if m.Body == end {
			if i != len(msgs)-1 {
				t.Fatalf("%s: end message is not the last", who)
			}
			break
		}
		pub, _, _ := strings.Cut(m.Body, "/")
		want := published[pub]
		if next[pub] >= len(want) || want[next[pub]] != m.Body {
			t.Fatalf("%s: message %d is %.40q, want publisher %q's message %d", who, i, m.Body, pub, next[pub])
		}
		next[pub]++
	}
	for pub, bodies := range published {
		if next[pub] != len(bodies) {
			t.Fatalf("%s: got %d of the %d messages of %s", who, next[pub], len(bodies), pub)
		}
	}
}

func TestSlowClientIsDroppedOthersGetEverything(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{SendQueue: 16, WriteWait: 500 * time.Millisecond})
	const room = "slow"

	good := []*client{
		ts.connect(t, "pub-a", room), ts.connect(t, "pub-b", room),
		ts.connect(t, "reader-1", room), ts.connect(t, "reader-2", room),
	}
	// The slow client's kernel buffer is tiny and it never reads.
	d := &websocket.Dialer{
		HandshakeTimeout: waitTimeout,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if err := c.(*net.TCPConn).SetReadBuffer(4096); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		},
	}
	_, _, err := ts.dialRaw(t, "name=slowpoke&room="+room, nil, d)
	if err != nil {
		t.Fatalf("dialing the slow client: %v", err)
	}
	var slow user
	for _, c := range good {
		for { // joins of the good clients that connected later come first
			if j := c.expect("join"); j.User.Name == "slowpoke" {
				slow = j.User
				break
			}
		}
	}
	ts.waitConnections(t, len(good)+1)

	cols := make([]*collector, len(good))
	for i, c := range good {
		cols[i] = collect(c, "END")
	}
	minReceived := func() int64 {
		m := cols[0].received.Load()
		for _, col := range cols[1:] {
			m = min(m, col.received.Load())
		}
		return m
	}

	// Two publishers send 8 KiB messages, at most 4 each ahead of the slowest good client
	// (so that good clients never hold more than their queue of 16), until every good
	// client has seen the slow one leave, then 20 more each.
	const window, maxMessages = 4, 2000
	body := strings.Repeat("x", 8<<10)
	var sent atomic.Int64
	published := map[string][]string{"pub-a": nil, "pub-b": nil}
	var pubMu sync.Mutex
	pubErrs := make([]error, 2)
	var wg sync.WaitGroup
	for p := range 2 {
		wg.Go(func() {
			name := good[p].user.Name
			after := -1 // messages still to send once the slow client is gone
			for n := 0; after != 0; n++ {
				if n >= maxMessages {
					pubErrs[p] = fmt.Errorf("%s: the slow client was not dropped after %d messages", name, n)
					return
				}
				deadline := time.Now().Add(waitTimeout)
				for sent.Load()-minReceived() >= 2*window {
					if time.Now().After(deadline) {
						pubErrs[p] = fmt.Errorf("%s: good clients stopped receiving (%d sent, slowest got %d)", name, sent.Load(), minReceived())
						return
					}
					time.Sleep(200 * time.Microsecond)
				}
				b := fmt.Sprintf("%s/%05d/%s", name, n, body)
				pubMu.Lock()
				published[name] = append(published[name], b)
				pubMu.Unlock()
				sent.Add(1)
				if err := good[p].writeJSON(msg(b, fmt.Sprint(n))); err != nil {
					pubErrs[p] = fmt.Errorf("%s: %w", name, err)
					return
				}
				if after > 0 {
					after--
				} else if after < 0 && allSawLeave(cols, slow) {
					after = 20
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(pubErrs...); err != nil {
		t.Fatal(err)
	}
	// Every message is acked (so stored) before the end message.
	for p, name := range []string{"pub-a", "pub-b"} {
		deadline := time.Now().Add(waitTimeout)
		for !cols[p].hasAcks(len(published[name])) {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not get an ack for each of its %d messages", name, len(published[name]))
			}
			time.Sleep(time.Millisecond)
		}
	}
	good[0].sendJSON(msg("END", "end"))
	for i, col := range cols {
		checkSequence(t, good[i].user.Name, col.wait(t), published, "END")
		if !col.sawLeave(slow) {
			t.Errorf("%s did not see the slow client leave", good[i].user.Name)
		}
	}
	ts.waitConnections(t, len(good))

	// The server is done with the slow client: its connection is no longer counted (its
	// leave was sent above). What the client itself would read is not asserted: the
	// server's closed socket still holds megabytes of unsent frames that the kernel
	// trickles out at zero-window-probe pace before the FIN, so a close frame or EOF
	// can take minutes to arrive.
}

func allSawLeave(cols []*collector, u user) bool {
	for _, col := range cols {
		if !col.sawLeave(u) {
			return false
		}
	}
	return true
}

func TestVanishingClientsDoNotStopBroadcast(t *testing.T) {
	t.Parallel()
	const publishers, perPublisher, chunk = 3, 200, 10
	ts := startServer(t, server.Config{SendQueue: 4096})
	const room = "vanish"

	var good []*client
	for i := range publishers {
		good = append(good, ts.connect(t, fmt.Sprintf("pub-%d", i), room))
	}
	for i := range 4 {
		good = append(good, ts.connect(t, fmt.Sprintf("reader-%d", i), room))
	}
	var vanishing []*client
	for i := range 5 {
		vanishing = append(vanishing, ts.connect(t, fmt.Sprintf("ghost-%d", i), room))
	}
	ts.waitConnections(t, len(good)+len(vanishing))
	cols := make([]*collector, len(good))
	for i, c := range good {
		cols[i] = collect(c, "END")
	}

	// Publishers send in chunks, waiting for a chunk's acks before the next. The ghosts
	// vanish one by one after the first two chunks, while publishers go on (up to half of
	// their messages, where they wait for the last ghost to be gone).
	published := make(map[string][]string)
	for _, c := range good[:publishers] {
		for n := range perPublisher {
			published[c.user.Name] = append(published[c.user.Name], fmt.Sprintf("%s/%03d", c.user.Name, n))
		}
	}
	start := make(chan struct{})
	var firstChunks sync.WaitGroup
	firstChunks.Add(publishers)
	errs := make([]error, publishers)
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			var once sync.Once
			ready := func() { once.Do(firstChunks.Done) }
			defer ready() // also when failing early, so that the test goes on to report it
			c, col := good[p], cols[p]
			errs[p] = func() error {
				for n, b := range published[c.user.Name] {
					if err := c.writeJSON(msg(b, fmt.Sprint(n))); err != nil {
						return err
					}
					if (n+1)%chunk != 0 {
						continue
					}
					deadline := time.Now().Add(waitTimeout)
					for !col.hasAcks(n + 1) {
						if time.Now().After(deadline) {
							return fmt.Errorf("%s: no acks for the chunk ending at %d", c.user.Name, n)
						}
						time.Sleep(time.Millisecond)
					}
					switch n + 1 {
					case 2 * chunk:
						ready() // and go on sending while the ghosts vanish
					case perPublisher / 2:
						<-start // until they all have
					}
				}
				return nil
			}()
		})
	}
	firstChunks.Wait()
	for _, v := range vanishing {
		v.abort()
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	good[0].sendJSON(msg("END", "end"))
	for i, col := range cols {
		checkSequence(t, good[i].user.Name, col.wait(t), published, "END")
	}
	ts.waitConnections(t, len(good))
	for i, col := range cols {
		for _, v := range vanishing {
			if !col.sawLeave(v.user) {
				t.Errorf("%s did not see %s leave", good[i].user.Name, v.user.Name)
			}
		}
	}

	// The room still works for newcomers.
	n := ts.connect(t, "newcomer", room)
	if len(n.welcome.Online) != len(good)+1 {
		t.Errorf("newcomer's online = %v, want the %d good clients and itself", n.welcome.Online, len(good))
	}
	_, m := n.publish("after the storm", "n1")
	for _, c := range good {
		if o := c.expect("message", "join"); o.ID != m.ID {
			t.Errorf("%s got %s, want %s", c.user.Name, o, m)
		}
	}
}

func (col *collector) hasAcks(n int) bool {
	col.mu.Lock()
	defer col.mu.Unlock()
	return len(col.acks) >= n
}

// ---------------------------------------------------------------------------------------
// The upgrade

func TestPlainGETOnWebSocketEndpoint(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	resp, body := ts.get(t, "/ws")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /ws without upgrade: status %d, want 400 (body %q)", resp.StatusCode, body)
	}
	if h := ts.health(t); h.Status != "ok" || h.Connections != 0 {
		t.Errorf("health after a plain GET /ws = %+v", h)
	}
	c := ts.connect(t, "alice", "")
	c.publish("still works", "r1")
}

func TestOriginPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		allowed []string
		origin  string // "self": the listener's own origin
		ok      bool
	}{
		{"no origin", nil, "", true},
		{"same origin", nil, "self", true},
		{"cross origin", nil, "http://evil.example", false},
		{"same host, other port", nil, "http://127.0.0.1:1", false},
		{"opaque origin", nil, "null", false},
		{"allowed origin", []string{"http://good.example"}, "http://good.example", true},
		{"allowed origin, other case", []string{"http://good.example"}, "HTTP://Good.Example", true},
		{"not the allowed origin", []string{"http://good.example"}, "http://evil.example", false},
		{"allowed list keeps same origin", []string{"http://good.example"}, "self", true},
		{"any origin", []string{"*"}, "http://evil.example", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, server.Config{AllowedOrigins: tc.allowed})
			watcher := ts.connect(t, "watcher", "")

			origin := tc.origin
			if origin == "self" {
				origin = "http://" + ts.addr
			}
			h := http.Header{}
			if origin != "" {
				h.Set("Origin", origin)
			}
			conn, resp, err := ts.dialRaw(t, "name=visitor", h, nil)
			if !tc.ok {
				if err == nil {
					t.Fatalf("origin %q was accepted", origin)
				}
				if resp == nil || resp.StatusCode != http.StatusForbidden {
					t.Fatalf("origin %q: %v (response %v), want 403", origin, err, resp)
				}
				// The refused client is nowhere: the next to connect sees only the watcher,
				// and the watcher's next event is that newcomer's join.
				probe := ts.connect(t, "probe", "")
				if !slices.Equal(probe.welcome.Online, []user{watcher.user, probe.user}) {
					t.Errorf("online = %v, want only watcher and probe", probe.welcome.Online)
				}
				if j := watcher.expect("join"); j.User != probe.user {
					t.Errorf("watcher got %s, want the probe's join", j)
				}
				return
			}
			if err != nil {
				t.Fatalf("origin %q: %v (response %v), want accepted", origin, err, resp)
			}
			c := newClient(t, conn)
			if w := c.expect("welcome"); w.Name != "visitor" {
				t.Errorf("welcome = %s", w)
			}
			if j := watcher.expect("join"); j.User.Name != "visitor" {
				t.Errorf("watcher got %s, want the visitor's join", j)
			}
		})
	}
}

func TestInvalidNameOrRoomIsRefusedAndClosed(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	watcher := ts.connect(t, "watcher", "")
	for _, tc := range []struct {
		name, query, code string
	}{
		{"name of 40 characters", "name=" + strings.Repeat("n", 40), "invalid_name"},
		{"name of 33 characters", "name=" + strings.Repeat("n", 33), "invalid_name"},
		{"control character", "name=" + url.QueryEscape("bad\x01name"), "invalid_name"},
		{"newline", "name=" + url.QueryEscape("two\nlines"), "invalid_name"},
		{"only spaces", "name=%20%20%20", "invalid_name"},
		{"invalid UTF-8", "name=%FF%FE", "invalid_name"},
		{"room with space and capitals", "name=eve&room=" + url.QueryEscape("Bad Room"), "invalid_room"},
		{"room in capitals", "name=eve&room=GENERAL", "invalid_room"},
		{"room of 65 characters", "name=eve&room=" + strings.Repeat("r", 65), "invalid_room"},
		{"room with a slash", "name=eve&room=a%2Fb", "invalid_room"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.dial(t, tc.query)
			if e := c.expect("error"); e.Code != tc.code {
				t.Errorf("first object = %s, want error %s", e, tc.code)
			}
			c.expectClosed(websocket.ClosePolicyViolation)
		})
	}
	t.Run("limits are inclusive", func(t *testing.T) {
		c := ts.connect(t, strings.Repeat("n", 32), strings.Repeat("r", 64))
		if c.welcome.Room != strings.Repeat("r", 64) {
			t.Errorf("welcome = %s", c.welcome)
		}
		c.close()
	})
	ts.waitConnections(t, 1)
	probe := ts.connect(t, "probe", "")
	if !slices.Equal(probe.welcome.Online, []user{watcher.user, probe.user}) {
		t.Errorf("online = %v, want only watcher and probe", probe.welcome.Online)
	}
	if j := watcher.expect("join"); j.User != probe.user {
		t.Errorf("watcher got %s, want the probe's join", j)
	}
}

// ---------------------------------------------------------------------------------------
// Frames and requests

func TestOversizedFrameClosesWith1009(t *testing.T) {
	t.Parallel()
	const limit = 4096
	ts := startServer(t, server.Config{MaxMessageBytes: limit})
	a := ts.connect(t, "alice", "")
	b := ts.connect(t, "bob", "")
	a.expect("join")

	// A frame of exactly the limit is fine (the body limit follows the frame limit).
	b.sendText(strings.Repeat("b", limit))
	if m := a.expect("message"); len(m.Body) != limit {
		t.Fatalf("alice got a body of %d bytes, want %d", len(m.Body), limit)
	}
	b.expect("ack", "message")

	a.sendText(strings.Repeat("a", limit+1))
	a.expectClosed(websocket.CloseMessageTooBig)

	if l := b.expect("leave", "message"); l.User != a.user {
		t.Errorf("bob got %s, want alice's leave", l)
	}
	b.publish("still here", "r1")
	c := ts.connect(t, "carol", "")
	c.publish("me too", "r2")
}

func TestBadRequestsAreAnsweredAndKeepTheConnection(t *testing.T) {
	t.Parallel()
	const maxBody = 100
	ts := startServer(t, server.Config{MaxBodyBytes: maxBody})
	c := ts.connect(t, "alice", "")
	for i, tc := range []struct {
		name, frame string
		binary      bool
		code, ref   string
	}{
		{name: "truncated JSON", frame: `{"type":`, code: "bad_json"},
		{name: "a line that is not an object", frame: "{\"type\":\"presence\"}\n[1]", code: "bad_json"},
		{name: "unknown type", frame: `{"type":"shout","ref":"u1"}`, code: "unknown_type", ref: "u1"},
		{name: "missing type", frame: `{"body":"hi","ref":"u2"}`, code: "unknown_type", ref: "u2"},
		{name: "body of the wrong type", frame: `{"type":"message","body":5,"ref":"x"}`, code: "bad_request", ref: "x"},
		{name: "empty body", frame: `{"type":"message","body":"","ref":"e1"}`, code: "empty_body", ref: "e1"},
		{name: "body of spaces", frame: `{"type":"message","body":"  \n ","ref":"e2"}`, code: "empty_body", ref: "e2"},
		{name: "empty frame", frame: "", code: "empty_body"},
		{name: "body too long", frame: fmt.Sprintf(`{"type":"message","body":%q,"ref":"l1"}`, strings.Repeat("y", maxBody+1)), code: "too_long", ref: "l1"},
		{name: "ref too long", frame: fmt.Sprintf(`{"type":"message","body":"hi","ref":%q}`, strings.Repeat("r", 65)), code: "bad_request"},
		{name: "history limit out of range", frame: `{"type":"history","limit":101,"ref":"h1"}`, code: "bad_request", ref: "h1"},
		{name: "binary frame", frame: "\x00\x01", binary: true, code: "unsupported"},
		{name: "message to a room not joined", frame: `{"type":"message","room":"elsewhere","body":"hi","ref":"n1"}`, code: "not_member", ref: "n1"},
		{name: "history of a room not joined", frame: `{"type":"history","room":"elsewhere","ref":"n2"}`, code: "not_member", ref: "n2"},
		{name: "join an invalid room", frame: `{"type":"join","room":"Bad Room","ref":"j1"}`, code: "invalid_room", ref: "j1"},
	} {
		typ := websocket.TextMessage
		if tc.binary {
			typ = websocket.BinaryMessage
		}
		if err := c.conn.WriteMessage(typ, []byte(tc.frame)); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// Any presence answer comes from the valid first line of a frame.
		e := c.expect("error", "presence")
		if e.Code != tc.code || e.Ref != tc.ref || e.Message == "" {
			t.Errorf("%s: got %s, want code %q, ref %q and a message", tc.name, e, tc.code, tc.ref)
		}
		// The connection stays open and usable.
		c.publish(fmt.Sprintf("still here %d", i), fmt.Sprint("ok-", i), "presence")
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	t.Run("limited", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, server.Config{RateLimit: 5, RateBurst: 10})
		c := ts.connect(t, "alice", "")
		if l := c.welcome.Limits; l.Rate != 5 || l.Burst != 10 {
			t.Errorf("welcome limits = %+v, want rate 5, burst 10", l)
		}
		const n = 30
		for i := range n {
			c.sendJSON(msg(fmt.Sprint("m", i), fmt.Sprint("r", i)))
		}
		answers := make(map[string]object)
		messages := 0
		acked := 0
		for len(answers) < n || messages < acked {
			o := c.expectAny("ack", "message", "error")
			switch o.Type {
			case "message":
				messages++
				continue
			case "ack":
				acked++
			case "error":
				if o.Code != "rate_limited" {
					t.Fatalf("got %s, want rate_limited", o)
				}
			}
			if prev, dup := answers[o.Ref]; dup {
				t.Fatalf("%q answered twice: %s and %s", o.Ref, prev, o)
			}
			answers[o.Ref] = o
		}
		for i := range 10 {
			if a := answers[fmt.Sprint("r", i)]; a.Type != "ack" {
				t.Errorf("message %d within the burst: %s, want an ack", i, a)
			}
		}
		if acked < 10 || n-acked < 15 {
			t.Errorf("%d acked, %d refused; want at least 10 and 15", acked, n-acked)
		}
		// Tokens come back: 5 per second.
		time.Sleep(time.Second)
		for i := range 3 {
			c.publish("later", fmt.Sprint("later-", i))
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, server.Config{RateLimit: 0})
		c := ts.connect(t, "alice", "")
		if l := c.welcome.Limits; l.Rate != 0 {
			t.Errorf("welcome limits = %+v, want rate 0", l)
		}
		const n = 50
		for i := range n {
			c.sendJSON(msg("m", fmt.Sprint("r", i)))
		}
		acks := 0
		for _, o := range c.expectN(2 * n) {
			switch o.Type {
			case "ack":
				acks++
			case "message":
			default:
				t.Fatalf("got %s, want acks and messages", o)
			}
		}
		if acks != n {
			t.Errorf("%d acks, want %d", acks, n)
		}
	})
}

func TestTypingAndPresence(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	a := ts.connect(t, "alice", "")
	b := ts.connect(t, "bob", "")
	a.expect("join")

	a.sendJSON(map[string]any{"type": "typing"})
	a.sendJSON(map[string]any{"type": "typing", "room": "general"}) // within 2 s: not forwarded
	if o := b.expect("typing"); o.Room != "general" || o.User != a.user {
		t.Errorf("bob got %s, want alice typing in general", o)
	}
	_, m := a.publish("done typing", "t1") // alice gets no typing of her own
	if o := b.expect("message"); o.ID != m.ID {
		t.Errorf("bob got %s, want the message (the second typing is throttled)", o)
	}
	b.sendJSON(map[string]any{"type": "presence", "room": "general"})
	if p := b.expect("presence"); p.Room != "general" || !slices.Equal(p.Online, []user{a.user, b.user}) {
		t.Errorf("presence = %s, want alice and bob", p)
	}
}

// ---------------------------------------------------------------------------------------
// Liveness and shutdown

// TestPongDeadline does not run in parallel: its timing is tight by design. The server
// pings every 9/10 of PongWait, so a healthy client has PongWait/10 to get its pong in;
// 500 ms leaves 50 ms, enough under the race detector on one CPU (300 ms is not always).
func TestPongDeadline(t *testing.T) {
	const pongWait = 500 * time.Millisecond
	ts := startServer(t, server.Config{PongWait: pongWait})
	watcher := ts.connect(t, "watcher", "") // reads, so it answers pings
	watcherSince := time.Now()

	silentSince := time.Now()
	if _, _, err := ts.dialRaw(t, "name=silent", nil, nil); err != nil {
		t.Fatal(err)
	}
	j := watcher.expect("join")
	l := watcher.expect("leave")
	elapsed := time.Since(silentSince)
	if l.User != j.User {
		t.Fatalf("watcher got %s, want the silent client's leave", l)
	}
	if elapsed < pongWait*3/4 || elapsed > 2*time.Second {
		t.Errorf("silent client dropped after %v, want about %v", elapsed, pongWait)
	}
	ts.waitConnections(t, 1)

	// The watcher answered pings all along: still connected well past the deadline.
	time.Sleep(time.Until(watcherSince.Add(4 * pongWait)))
	watcher.publish("still here", "w1")
	if n := ts.health(t).Connections; n != 1 {
		t.Errorf("%d connections, want the watcher's", n)
	}
}

// TestGracefulShutdown does not run in parallel, so that it can count goroutines.
func TestGracefulShutdown(t *testing.T) {
	before := runtime.NumGoroutine()
	ts := startServer(t, server.Config{})
	var cs []*client
	for i := range 5 {
		room := "general"
		if i%2 == 1 {
			room = "odd"
		}
		cs = append(cs, ts.connect(t, fmt.Sprint("user-", i), room))
	}
	cs[0].publish("before shutdown", "r1", "join")
	ts.waitConnections(t, len(cs))

	start := time.Now()
	if err := ts.shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	for _, c := range cs {
		c.expectClosed(websocket.CloseGoingAway)
	}
	if _, _, err := ts.dialRaw(t, "name=late", nil, nil); err == nil {
		t.Error("dial after shutdown succeeded")
	}
	if _, err := ts.http.Get(ts.url("/api/health")); err == nil {
		t.Error("HTTP request after shutdown succeeded")
	}
	for _, c := range cs {
		c.close()
	}
	ts.http.CloseIdleConnections()
	checkGoroutines(t, before)
}

// TestNoGoroutineLeak runs a little of everything, then shuts down and counts goroutines.
// It does not run in parallel.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	ts := startServer(t, server.Config{PongWait: time.Second})

	a := ts.connect(t, "alice", "")
	b := ts.connect(t, "bob", "")
	a.publish("hello", "a1", "join")
	b.sendJSON(map[string]any{"type": "join", "room": "dev", "ref": "j"})
	b.expect("joined", "message")
	b.publish("in dev", "b1")
	b.sendJSON(map[string]any{"type": "leave", "room": "dev", "ref": "l"})
	b.expect("left")
	b.abort()
	c := ts.connect(t, "carol", "")
	c.sendText("plain")
	c.expectN(2)
	c.close()
	if _, _, err := ts.dialRaw(t, "name="+strings.Repeat("n", 40), nil, nil); err != nil {
		t.Fatal(err) // refused after the upgrade; the raw connection is not read
	}
	if _, _, err := ts.dialRaw(t, "name=evil", http.Header{"Origin": {"http://evil.example"}}, nil); err == nil {
		t.Fatal("cross-origin dial accepted")
	}
	ts.get(t, "/ws")
	ts.get(t, "/api/rooms")

	if err := ts.shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	a.expectClosed(websocket.CloseGoingAway)
	a.close()
	checkGoroutines(t, before)
}

// ---------------------------------------------------------------------------------------
// Rooms, history, recovery, dedupe

func TestRooms(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	a := ts.connect(t, "alice", "")
	b := ts.connect(t, "bob", "")
	c := ts.connect(t, "carol", "")
	a.expect("join")
	a.expect("join")
	b.expect("join")

	// carol joins dev: it becomes her current room.
	c.sendJSON(map[string]any{"type": "join", "room": "dev", "ref": "c-j"})
	j := c.expect("joined")
	if j.Room != "dev" || j.Ref != "c-j" || !slices.Equal(j.Online, []user{c.user}) || j.field("history") != "[]" || j.HasMore {
		t.Errorf("joined = %s, want dev, ref c-j, only carol online, empty history", j)
	}
	// alice joins dev too: carol is told, not bob.
	a.sendJSON(map[string]any{"type": "join", "room": "dev", "ref": "a-j"})
	if j := a.expect("joined"); !slices.Equal(j.Online, []user{c.user, a.user}) {
		t.Errorf("alice's joined = %s, want carol and alice online", j)
	}
	if o := c.expect("join"); o.Room != "dev" || o.User != a.user {
		t.Errorf("carol got %s, want alice joining dev", o)
	}
	if got, want := ts.rooms(t), []roomInfo{{"dev", 2}, {"general", 3}}; !slices.Equal(got, want) {
		t.Errorf("/api/rooms = %v, want %v", got, want)
	}

	// Plain text goes to carol's current room, dev: alice gets it, bob never does.
	c.sendText("only for dev")
	if o := a.expect("message"); o.Room != "dev" || o.Body != "only for dev" {
		t.Errorf("alice got %s, want carol's message in dev", o)
	}
	_, m := a.publishIn("general", "for general", "g1")
	if o := b.expect("message"); o.ID != m.ID {
		t.Errorf("bob got %s, want the general message only", o)
	}
	// Joining a room again replays joined (with its history) and announces nothing.
	a.sendJSON(map[string]any{"type": "join", "room": "dev", "ref": "again"})
	if j := a.expect("joined"); j.Ref != "again" || len(j.History) != 1 || j.History[0].Body != "only for dev" {
		t.Errorf("joined again = %s, want dev's history", j)
	}
	// alice leaves dev: left for her, leave for carol; dev messages no longer reach her.
	a.sendJSON(map[string]any{"type": "leave", "room": "dev", "ref": "a-l"})
	if l := a.expect("left"); l.Room != "dev" || l.Ref != "a-l" {
		t.Errorf("left = %s, want dev with ref a-l", l)
	}
	if o := c.expect("leave", "ack", "message"); o.Room != "dev" || o.User != a.user {
		t.Errorf("carol got %s, want alice leaving dev", o)
	}
	c.publish("alice is gone", "c2", "message")
	// alice's current room is general again: a request without room goes there.
	_, m = a.publish("back in general", "g2")
	if o := b.expect("message"); o.ID != m.ID {
		t.Errorf("bob got %s, want %s", o, m)
	}
	a.expectQuiet(200*time.Millisecond, "message")
	b.expectQuiet(0, "message")

	// carol leaves dev, its last member: dev stays listed (it has messages), with nobody.
	c.sendJSON(map[string]any{"type": "leave", "room": "dev"})
	c.expect("left", "message")
	if got, want := ts.rooms(t), []roomInfo{{"dev", 0}, {"general", 3}}; !slices.Equal(got, want) {
		t.Errorf("/api/rooms = %v, want %v", got, want)
	}
	c.sendJSON(map[string]any{"type": "presence", "room": "dev"})
	if e := c.expect("error", "message"); e.Code != "not_member" {
		t.Errorf("presence of a room left: %s, want not_member", e)
	}
}

// publishMany sends n messages with bodies prefix-001... and waits for every ack and
// broadcast copy. It returns the messages in seq order.
func publishMany(t *testing.T, c *client, prefix string, n int) []object {
	t.Helper()
	for i := range n {
		b := fmt.Sprintf("%s-%04d", prefix, i+1)
		if err := c.writeJSON(msg(b, b)); err != nil {
			t.Fatal(err)
		}
	}
	var msgs []object
	acks := 0
	deadline := time.Now().Add(4 * waitTimeout)
	for acks < n || len(msgs) < n {
		o, err := c.next(time.Until(deadline))
		if err != nil {
			t.Fatalf("after %d acks and %d messages: %v", acks, len(msgs), err)
		}
		switch o.Type {
		case "ack":
			acks++
		case "message":
			msgs = append(msgs, o)
		case "join", "leave":
		default:
			t.Fatalf("publishing: unexpected %s", o)
		}
	}
	return msgs
}

func bodies(msgs []object) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Body
	}
	return out
}

func wantBodies(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s-%04d", prefix, i))
	}
	return out
}

func TestHistoryAndRecovery(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{SendQueue: 4096})

	t.Run("welcome and history pages", func(t *testing.T) {
		t.Parallel()
		const room = "h-pages"
		p := ts.connect(t, "poster", room)
		all := publishMany(t, p, "m", 120)

		checkWelcome := func(c *client) {
			t.Helper()
			w := c.welcome
			if got, want := bodies(w.History), wantBodies("m", 71, 120); !slices.Equal(got, want) {
				t.Errorf("welcome history = %q, want the latest 50 oldest first", got)
			}
			if !w.HasMore || w.LastSeq != all[119].Seq {
				t.Errorf("has_more, last_seq = %v, %d; want true, %d", w.HasMore, w.LastSeq, all[119].Seq)
			}
			for _, h := range w.History {
				if h.Type != "message" || h.Room != room || h.From != p.user || h.ID == "" || h.TS <= 0 {
					t.Fatalf("history item %s", h)
				}
			}
		}
		c := ts.connect(t, "reader", room)
		checkWelcome(c)

		var got []object
		before := uint64(0)
		for page := 0; ; page++ {
			req := map[string]any{"type": "history", "ref": fmt.Sprint("page-", page)}
			if before > 0 {
				req["before"] = before
			}
			c.sendJSON(req)
			h := c.expect("history")
			if h.Ref != fmt.Sprint("page-", page) || h.Room != room || len(h.Messages) == 0 || len(h.Messages) > 50 {
				t.Fatalf("page %d: %d messages, ref %q, room %q", page, len(h.Messages), h.Ref, h.Room)
			}
			got = append(slices.Clone(h.Messages), got...)
			before = h.Messages[0].Seq
			if !h.HasMore {
				break
			}
			if page > 3 {
				t.Fatal("has_more still true after 5 pages of 50")
			}
		}
		if b, want := bodies(got), wantBodies("m", 1, 120); !slices.Equal(b, want) {
			t.Errorf("paged history = %q, want all 120 messages once, in order", b)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Seq <= got[i-1].Seq || got[i].ID != all[i].ID {
				t.Fatalf("paged history: %s after %s", got[i], got[i-1])
			}
		}
		c.sendJSON(map[string]any{"type": "history", "limit": 7, "before": all[10].Seq})
		if h := c.expect("history"); !slices.Equal(bodies(h.Messages), wantBodies("m", 4, 10)) || !h.HasMore {
			t.Errorf("history limit 7 before m-0011 = %q, has_more %v", bodies(h.Messages), h.HasMore)
		}

		// Once everybody left, the room is loaded again from storage for the next one.
		p.close()
		c.close()
		deadline := time.Now().Add(waitTimeout)
		for !slices.Contains(ts.rooms(t), roomInfo{room, 0}) {
			if time.Now().After(deadline) {
				t.Fatalf("room %s still has members after everybody left: %v", room, ts.rooms(t))
			}
			time.Sleep(10 * time.Millisecond)
		}
		checkWelcome(ts.connect(t, "latecomer", room))
	})

	t.Run("welcome with a short history", func(t *testing.T) {
		t.Parallel()
		const room = "h-short"
		p := ts.connect(t, "poster", room)
		publishMany(t, p, "s", 3)
		c := ts.connect(t, "reader", room)
		if got := bodies(c.welcome.History); !slices.Equal(got, wantBodies("s", 1, 3)) || c.welcome.HasMore {
			t.Errorf("welcome history = %q, has_more %v; want 3 messages and false", got, c.welcome.HasMore)
		}
	})

	// recover: reader sees `seen` messages, disconnects, misses `missed`, reconnects and
	// joins with since; it must get the latest `want` missed ones with has_more, then live
	// ones without duplicates.
	recover := func(t *testing.T, room string, seen, missed, want int, wantMore bool) {
		p := ts.connect(t, "poster", room)
		r := ts.connect(t, "reader", room)
		p.expect("join")
		publishMany(t, p, "old", seen)
		var last uint64
		for range seen {
			last = r.expect("message").Seq
		}
		r.close()
		if l := p.expect("leave"); l.User != r.user {
			t.Fatalf("poster got %s, want the reader's leave", l)
		}
		missedMsgs := publishMany(t, p, "new", missed)

		r = ts.connect(t, "reader", room)
		p.expect("join")
		r.sendJSON(map[string]any{"type": "join", "room": room, "since": last, "ref": "rejoin"})
		j := r.expect("joined")
		if got, wantB := bodies(j.History), wantBodies("new", missed-want+1, missed); !slices.Equal(got, wantB) {
			t.Fatalf("joined history has %d messages %.60q..., want the %d missed from %s", len(got), got, want, wantB[0])
		}
		if j.HasMore != wantMore || j.Ref != "rejoin" || j.LastSeq != missedMsgs[missed-1].Seq {
			t.Errorf("joined has_more %v, ref %q, last_seq %d; want %v, rejoin, %d", j.HasMore, j.Ref, j.LastSeq, wantMore, missedMsgs[missed-1].Seq)
		}
		if !slices.Equal(j.Online, []user{p.user, r.user}) {
			t.Errorf("joined online = %v", j.Online)
		}
		if wantMore {
			r.sendJSON(map[string]any{"type": "history", "before": j.History[0].Seq, "limit": 100})
			h := r.expect("history")
			if got := bodies(h.Messages); len(got) == 0 || got[len(got)-1] != fmt.Sprintf("new-%04d", missed-want) {
				t.Errorf("history before the recovered ones ends with %q, want new-%04d", got[len(got)-1:], missed-want)
			}
		}
		live := publishMany(t, p, "live", 5)
		for i := range live {
			if o := r.expect("message"); o.ID != live[i].ID {
				t.Fatalf("after joined, message %d is %s, want %s", i, o, live[i])
			}
		}
	}
	t.Run("recovery with since", func(t *testing.T) {
		t.Parallel()
		recover(t, "h-since", 10, 20, 20, false)
	})
	t.Run("recovery beyond the room cache", func(t *testing.T) {
		t.Parallel()
		recover(t, "h-storage", 3, 300, 300, false)
	})
	t.Run("recovery of more than 1000", func(t *testing.T) {
		t.Parallel()
		recover(t, "h-over", 1, 1100, 1000, true)
	})
	t.Run("recovery of exactly 1000", func(t *testing.T) {
		t.Parallel()
		// Nothing is missing beyond the 1000 replayed, so has_more must be false even
		// though older (already seen) messages exist.
		recover(t, "h-exact", 5, 1000, 1000, false)
	})
}

func TestDedupeByRef(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	const room = "dedupe"
	obs := ts.connect(t, "observer", room)
	a := ts.connect(t, "alice", room)
	obs.expect("join")

	ack1, m := a.publish("once", "d-1")
	if o := obs.expect("message"); o.ID != m.ID {
		t.Fatalf("observer got %s, want %s", o, m)
	}
	// The same ref again, even with another body: the original's seq and id, no message.
	a.sendJSON(msg("once, retried", "d-1"))
	if ack2 := a.expect("ack"); ack2.Seq != ack1.Seq || ack2.ID != ack1.ID || ack2.Ref != "d-1" {
		t.Errorf("retry ack = %s, want seq %d, id %s", ack2, ack1.Seq, ack1.ID)
	}
	// A new connection with the same name retrying the same ref.
	a.close()
	obs.expect("leave")
	a2 := ts.connect(t, "alice", room)
	obs.expect("join")
	a2.sendJSON(msg("once", "d-1"))
	if ack3 := a2.expect("ack"); ack3.Seq != ack1.Seq || ack3.ID != ack1.ID {
		t.Errorf("ack on a new connection = %s, want seq %d, id %s", ack3, ack1.Seq, ack1.ID)
	}
	if h := a2.welcome.History; len(h) != 1 || h[0].ID != m.ID {
		t.Errorf("history = %v, want the message once", h)
	}
	// Another name with the same ref is another message.
	b := ts.connect(t, "bob", room)
	obs.expect("join")
	a2.expect("join")
	_, mb := b.publish("bob's", "d-1")
	if mb.ID == m.ID {
		t.Error("bob's message deduplicated against alice's")
	}
	// The observer's next message is bob's: the retries stored and sent nothing.
	if o := obs.expect("message"); o.ID != mb.ID {
		t.Errorf("observer got %s, want bob's message", o)
	}
}

// ---------------------------------------------------------------------------------------
// HTTP

func TestHTTP(t *testing.T) {
	t.Parallel()
	const index = "<!doctype html><title>distchat test</title>"
	ts := startServer(t, server.Config{Version: "v-http", UI: fstest.MapFS{
		"index.html":        {Data: []byte(index)},
		"assets/app-abc.js": {Data: []byte("console.log('app')")},
	}})
	for _, tc := range []struct {
		method, path string
		status       int
		contentType  string // prefix
		cache        string // substring of Cache-Control
		body         string // substring
	}{
		{"GET", "/api/health", 200, "application/json", "", `"status":"ok"`},
		{"GET", "/api/rooms", 200, "application/json", "", `{"rooms":[{"name":"general","members":0,"messages":0}]}`},
		{"GET", "/api/nope", 404, "application/json", "", `"error"`},
		{"POST", "/api/nope", 404, "application/json", "", `"error"`},
		{"GET", "/", 200, "text/html", "no-cache", index},
		{"GET", "/r/general", 200, "text/html", "no-cache", index},
		{"GET", "/index.html", 200, "text/html", "no-cache", index},
		{"GET", "/assets/app-abc.js", 200, "text/javascript", "immutable", "console.log"},
		{"GET", "/assets/missing.js", 404, "", "", ""},
		{"GET", "/favicon.ico", 404, "", "", ""},
		{"POST", "/", 405, "", "", ""},
		{"DELETE", "/r/general", 405, "", "", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, body := ts.do(t, tc.method, tc.path, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (body %.200q)", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want %q", ct, tc.contentType)
			}
			if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, tc.cache) {
				t.Errorf("Cache-Control %q, want %q", cc, tc.cache)
			}
			if !strings.Contains(string(body), tc.body) {
				t.Errorf("body %.200q, want %q in it", body, tc.body)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("no X-Content-Type-Options: nosniff")
			}
		})
	}
	t.Run("health", func(t *testing.T) {
		h := ts.health(t)
		if h != (healthReply{Status: "ok", Version: "v-http", Connections: 0}) {
			t.Errorf("health = %+v", h)
		}
		c := ts.connect(t, "alice", "")
		if h := ts.health(t); h.Connections != 1 {
			t.Errorf("health with one client = %+v", h)
		}
		c.close()
	})
	t.Run("405 names the allowed methods", func(t *testing.T) {
		resp, _ := ts.do(t, "POST", "/", nil)
		if a := resp.Header.Get("Allow"); !strings.Contains(a, "GET") {
			t.Errorf("Allow = %q", a)
		}
	})
}

func TestHTTPWithoutUI(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	for _, path := range []string{"/", "/r/general"} {
		resp, body := ts.get(t, path)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			resp.Header.Get("Cache-Control") != "no-cache" || !strings.Contains(string(body), "distchat") {
			t.Errorf("GET %s without a UI: %d %v %.100q", path, resp.StatusCode, resp.Header, body)
		}
	}
}
