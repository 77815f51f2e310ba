package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/distchat/distchat/server"
)

// waitTimeout bounds every wait for an event, so that a broken server fails a test quickly
// with a message instead of hanging it.
const waitTimeout = 5 * time.Second

// TestMain fails the run when goroutines of the server (or of WebSocket and HTTP
// connections) outlive the tests that started them. Per-test counting only works for tests
// that do not run in parallel; this catches leaks from every test.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := lingeringGoroutines(waitTimeout); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines still running after all tests:\n\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// lingeringGoroutines waits up to timeout for goroutines running server, WebSocket or HTTP
// connection code to end, and returns the stacks of those still running.
func lingeringGoroutines(timeout time.Duration) string {
	markers := []string{
		"github.com/distchat/distchat/",
		"github.com/gorilla/websocket.",
		"net/http.(*conn).serve",
		"net/http.(*persistConn)",
	}
	var leaked []string
	eventually(timeout, func() bool {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		leaked = leaked[:0]
		for g := range strings.SplitSeq(string(buf), "\n\n") {
			if strings.Contains(g, "TestMain") {
				continue // this goroutine
			}
			for _, m := range markers {
				if strings.Contains(g, m) {
					leaked = append(leaked, g)
					break
				}
			}
		}
		return len(leaked) == 0
	})
	return strings.Join(leaked, "\n\n")
}

// checkGoroutines fails t unless the number of goroutines drops back to at most before
// within waitTimeout. Only meaningful in tests that do not run in parallel.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	if !eventually(waitTimeout, func() bool { return runtime.NumGoroutine() <= before }) {
		var dump bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&dump, 1)
		t.Fatalf("goroutine leak: %d goroutines after shutdown, %d before the server started:\n%s",
			runtime.NumGoroutine(), before, dump.String())
	}
}

// eventually polls cond until it holds and reports whether it did within timeout. Only
// for conditions that no event announces (the goroutine count, what the HTTP API reports):
// wait for an object or a channel wherever there is one.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
	return true
}

// pollInterval is how often eventually checks: short against waitTimeout, long enough not
// to load the machine.
const pollInterval = 10 * time.Millisecond

// testServer is a real distchat server listening on a loopback port chosen by the kernel.
type testServer struct {
	srv      *server.Server
	addr     string // host:port
	http     *http.Client
	serveErr chan error

	shutdownOnce sync.Once
	shutdownErr  error
}

// startServer starts a server with cfg and shuts it down when the test ends.
func startServer(t *testing.T, cfg server.Config) *testServer {
	t.Helper()
	if cfg.Version == "" {
		cfg.Version = "test"
	}
	if cfg.PresenceGrace == 0 {
		// Leaves are announced at once; TestPresenceGrace tests the grace period.
		cfg.PresenceGrace = -1
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ts := &testServer{
		srv:  srv,
		addr: ln.Addr().String(),
		// An own transport, so that its idle connections can be closed at the end.
		http:     &http.Client{Transport: &http.Transport{}, Timeout: waitTimeout},
		serveErr: make(chan error, 1),
	}
	go func() { ts.serveErr <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := ts.shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return ts
}

// shutdown shuts the server down once (later calls return the first result) and checks
// that Serve returned cleanly.
func (ts *testServer) shutdown() error {
	ts.shutdownOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		err := ts.srv.Shutdown(ctx)
		select {
		case serr := <-ts.serveErr:
			if serr != nil {
				err = errors.Join(err, fmt.Errorf("Serve: %w", serr))
			}
		case <-time.After(waitTimeout):
			err = errors.Join(err, errors.New("Serve did not return after Shutdown"))
		}
		ts.http.CloseIdleConnections()
		ts.shutdownErr = err
	})
	return ts.shutdownErr
}

func (ts *testServer) url(path string) string { return "http://" + ts.addr + path }

func (ts *testServer) wsURL(rawQuery string) string {
	u := "ws://" + ts.addr + "/ws"
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	return u
}

// get sends a GET request and returns the response with its body read.
func (ts *testServer) get(t *testing.T, path string) (*http.Response, []byte) {
	t.Helper()
	return ts.do(t, http.MethodGet, path, nil)
}

func (ts *testServer) do(t *testing.T, method, path string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := ts.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, body
}

// health returns the decoded /api/health answer.
func (ts *testServer) health(t *testing.T) healthReply {
	t.Helper()
	resp, body := ts.get(t, "/api/health")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/health: status %d, body %s", resp.StatusCode, body)
	}
	var h healthReply
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatalf("GET /api/health: %v in %s", err, body)
	}
	return h
}

type healthReply struct {
	Status      string `json:"status"`
	Version     string `json:"version"`
	Connections int    `json:"connections"`
}

// waitConnections waits until /api/health reports n open WebSocket connections. A
// connection is counted until the server has fully handled its end (leave sent to the
// rooms), so this also waits for that.
func (ts *testServer) waitConnections(t *testing.T, n int) {
	t.Helper()
	var got int
	if !eventually(waitTimeout, func() bool { got = ts.health(t).Connections; return got == n }) {
		t.Fatalf("/api/health reports %d connections, want %d", got, n)
	}
}

// rooms returns the decoded /api/rooms answer.
func (ts *testServer) rooms(t *testing.T) []roomInfo {
	t.Helper()
	resp, body := ts.get(t, "/api/rooms")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/rooms: status %d, body %s", resp.StatusCode, body)
	}
	var r struct {
		Rooms []roomInfo `json:"rooms"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("GET /api/rooms: %v in %s", err, body)
	}
	return r.Rooms
}

type roomInfo struct {
	Name         string `json:"name"`
	Members      int    `json:"members"`
	Topic        string `json:"topic"`
	LastActivity int64  `json:"last_activity"`
}

// tinyBufferDialer dials with a 4 KiB kernel receive buffer: a client that never reads
// then fills up at once and the server sees it as slow.
func tinyBufferDialer() *websocket.Dialer {
	return &websocket.Dialer{
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
}

// dialRaw opens a WebSocket without a client reader. The connection is closed when the
// test ends. d nil means a default dialer.
func (ts *testServer) dialRaw(t *testing.T, rawQuery string, header http.Header, d *websocket.Dialer) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: waitTimeout}
	}
	conn, resp, err := d.Dial(ts.wsURL(rawQuery), header)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if conn != nil {
		t.Cleanup(func() { conn.Close() })
	}
	return conn, resp, err
}

// dial opens a WebSocket and starts reading it. Nothing is read yet.
func (ts *testServer) dial(t *testing.T, rawQuery string) *client {
	t.Helper()
	conn, _, err := ts.dialRaw(t, rawQuery, nil, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", ts.wsURL(rawQuery), err)
	}
	return newClient(t, conn)
}

// connect dials as name (none when empty) into room (the default when empty) and reads
// the welcome.
func (ts *testServer) connect(t *testing.T, name, room string) *client {
	t.Helper()
	return ts.connectWith(t, name, room, "")
}

// connectWith connects with a session token (from an earlier welcome): the same person
// again.
func (ts *testServer) connectWith(t *testing.T, name, room, token string) *client {
	t.Helper()
	q := url.Values{}
	if name != "" {
		q.Set("name", name)
	}
	if room != "" {
		q.Set("room", room)
	}
	if token != "" {
		q.Set("token", token)
	}
	c := ts.dial(t, q.Encode())
	c.welcome = c.expect("welcome")
	c.user = user{ID: c.welcome.ID, Name: c.welcome.Name}
	return c
}

// user, limits and object mirror docs/protocol.md. object is the union of every server
// object: fields that a type does not have stay zero.
type user struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type dmRoom struct {
	Room string `json:"room"`
	User user   `json:"user"`
}

type limits struct {
	MaxMessageBytes int64   `json:"max_message_bytes"`
	MaxBodyBytes    int     `json:"max_body_bytes"`
	Rate            float64 `json:"rate"`
	Burst           int     `json:"burst"`
}

type object struct {
	Type string `json:"type"`
	Room string `json:"room"`
	// ID is the user's id in welcome, the message's id in message and ack.
	ID string `json:"id"`

	// welcome, joined, presence
	Name    string   `json:"name"`
	Token   string   `json:"token"`
	Rooms   []string `json:"rooms"`
	Online  []user   `json:"online"`
	History []object `json:"history"`
	LastSeq uint64   `json:"last_seq"`
	HasMore bool     `json:"has_more"`
	Limits  *limits  `json:"limits"`
	Version string   `json:"version"`

	// message, ack
	Seq  uint64 `json:"seq"`
	From user   `json:"from"`
	Body string `json:"body"`
	TS   int64  `json:"ts"`
	Ref  string `json:"ref"`

	// join, leave, typing
	User user `json:"user"`

	// history
	Messages []object `json:"messages"`

	// error
	Code    string `json:"code"`
	Message string `json:"message"`

	// welcome (user, conn, dms), joined (topic, dm), rename (old), read (unread), events
	Conn   string   `json:"conn"`
	DMs    []dmRoom `json:"dms"`
	Topic  string   `json:"topic"`
	DM     *user    `json:"dm"`
	Old    string   `json:"old"`
	Unread uint64   `json:"unread"`
	Emoji  string   `json:"emoji"`
	On     bool     `json:"on"`

	raw string // the line it was decoded from
}

func (o object) String() string {
	if o.raw != "" {
		return o.raw
	}
	b, _ := json.Marshal(o)
	return string(b)
}

// field returns the raw JSON of one field, to tell [] from null or absent.
func (o object) field(name string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(o.raw), &m); err != nil {
		return ""
	}
	return string(m[name])
}

// client is a WebSocket client that reads in its own goroutine (so that it answers pings
// and close frames like a browser) and queues every object it receives.
type client struct {
	t       *testing.T
	conn    *websocket.Conn
	welcome object
	user    user

	mu     sync.Mutex
	queue  []object
	err    error         // why the reader stopped
	notify chan struct{} // signalled when queue or err changes
	done   chan struct{} // closed when the reader stops

	closeOnce sync.Once
}

func newClient(t *testing.T, conn *websocket.Conn) *client {
	c := &client{t: t, conn: conn, notify: make(chan struct{}, 1), done: make(chan struct{})}
	go c.readLoop()
	t.Cleanup(c.close)
	return c
}

func (c *client) readLoop() {
	defer close(c.done)
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			c.signal()
			return
		}
		var objs []object
		if typ != websocket.TextMessage {
			objs = append(objs, object{Type: "!binary frame", raw: fmt.Sprintf("binary frame of %d bytes", len(data))})
		}
		for line := range bytes.SplitSeq(data, []byte{'\n'}) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var o object
			if err := json.Unmarshal(line, &o); err != nil {
				o = object{Type: "!invalid JSON: " + err.Error()}
			}
			o.raw = string(line)
			objs = append(objs, o)
		}
		c.mu.Lock()
		c.queue = append(c.queue, objs...)
		c.mu.Unlock()
		c.signal()
	}
}

func (c *client) signal() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// next returns the next object, or an error when none arrives within timeout or the
// connection ended. Safe to call from any one goroutine at a time.
func (c *client) next(timeout time.Duration) (object, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			o := c.queue[0]
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return o, nil
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			return object{}, fmt.Errorf("%s: connection ended: %w", c.user.Name, err)
		}
		select {
		case <-c.notify:
		case <-timer.C:
			return object{}, fmt.Errorf("%s: no object within %v", c.user.Name, timeout)
		}
	}
}

// nextOf returns the next object of type typ, skipping objects of the types in skip and
// failing on any other.
func (c *client) nextOf(timeout time.Duration, typ string, skip ...string) (object, error) {
	deadline := time.Now().Add(timeout)
	for {
		o, err := c.next(time.Until(deadline))
		if err != nil {
			return o, fmt.Errorf("waiting for %q: %w", typ, err)
		}
		if o.Type == typ {
			return o, nil
		}
		if !slices.Contains(skip, o.Type) {
			return o, fmt.Errorf("%s: got %s, want a %q", c.user.Name, o, typ)
		}
	}
}

// expect returns the next object, which must be of type typ; objects of the types in skip
// come before it are skipped. Call it from the test goroutine only.
func (c *client) expect(typ string, skip ...string) object {
	c.t.Helper()
	o, err := c.nextOf(waitTimeout, typ, skip...)
	if err != nil {
		c.t.Fatal(err)
	}
	return o
}

// expectAny returns the next object, which must be of one of the types.
func (c *client) expectAny(types ...string) object {
	c.t.Helper()
	o, err := c.next(waitTimeout)
	if err != nil {
		c.t.Fatalf("waiting for one of %q: %v", types, err)
	}
	if !slices.Contains(types, o.Type) {
		c.t.Fatalf("%s: got %s, want one of %q", c.user.Name, o, types)
	}
	return o
}

// expectN returns the next n objects, whatever their types.
func (c *client) expectN(n int) []object {
	c.t.Helper()
	out := make([]object, 0, n)
	deadline := time.Now().Add(waitTimeout)
	for len(out) < n {
		o, err := c.next(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("after %d of %d objects %v: %v", len(out), n, out, err)
		}
		out = append(out, o)
	}
	return out
}

// expectQuiet fails if an object of one of the types arrives within d. Used only to show
// that something is NOT delivered, after an event that orders it has been awaited.
func (c *client) expectQuiet(d time.Duration, types ...string) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		o, err := c.next(time.Until(deadline))
		if err != nil {
			return
		}
		if len(types) == 0 || slices.Contains(types, o.Type) {
			c.t.Fatalf("%s: unexpected %s", c.user.Name, o)
		}
	}
}

// expectClosed waits for the server to close the connection with code, skipping any
// objects before the close.
func (c *client) expectClosed(code int) {
	c.t.Helper()
	err := c.waitEnd(waitTimeout)
	if !websocket.IsCloseError(err, code) {
		c.t.Fatalf("%s: connection ended with %v, want close code %d", c.user.Name, err, code)
	}
}

// waitEnd waits until the reader stops and returns why.
func (c *client) waitEnd(timeout time.Duration) error {
	select {
	case <-c.done:
	case <-time.After(timeout):
		return fmt.Errorf("%s: still open after %v", c.user.Name, timeout)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// writeText sends one text frame. Safe from any one goroutine at a time.
func (c *client) writeText(s string) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	return c.conn.WriteMessage(websocket.TextMessage, []byte(s))
}

// writeJSON sends v as one JSON text frame.
func (c *client) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.writeText(string(b))
}

// sendText and sendJSON are writeText and writeJSON for the test goroutine.
func (c *client) sendText(s string) {
	c.t.Helper()
	if err := c.writeText(s); err != nil {
		c.t.Fatalf("%s: sending %q: %v", c.user.Name, s, err)
	}
}

func (c *client) sendJSON(v any) {
	c.t.Helper()
	if err := c.writeJSON(v); err != nil {
		c.t.Fatalf("%s: sending %v: %v", c.user.Name, v, err)
	}
}

// msg builds a client message request.
func msg(body, ref string) map[string]any {
	m := map[string]any{"type": "message", "body": body}
	if ref != "" {
		m["ref"] = ref
	}
	return m
}

// publish sends a message with ref to the current room and waits for its ack and its
// broadcast copy (in either order), skipping the types in skip. It returns the ack and the
// message.
func (c *client) publish(body, ref string, skip ...string) (ack, message object) {
	c.t.Helper()
	return c.publishIn("", body, ref, skip...)
}

// publishIn is publish to a named room.
func (c *client) publishIn(room, body, ref string, skip ...string) (ack, message object) {
	c.t.Helper()
	req := msg(body, ref)
	if room != "" {
		req["room"] = room
	}
	c.sendJSON(req)
	deadline := time.Now().Add(waitTimeout)
	for ack.Type == "" || message.Type == "" {
		o, err := c.next(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("publishing %q: %v", ref, err)
		}
		switch {
		case o.Type == "ack" && o.Ref == ref && ack.Type == "":
			ack = o
		case o.Type == "message" && o.Ref == ref && o.From.ID == c.user.ID && message.Type == "":
			message = o
		case slices.Contains(skip, o.Type):
		default:
			c.t.Fatalf("%s: publishing %q: unexpected %s", c.user.Name, ref, o)
		}
	}
	if ack.Seq != message.Seq || ack.ID != message.ID || ack.Room != message.Room || ack.TS != message.TS {
		c.t.Fatalf("ack %s does not match message %s", ack, message)
	}
	return ack, message
}

// close ends the connection cleanly: a close frame, then waiting briefly for the server's
// reply. Safe to call more than once.
func (c *client) close() {
	c.closeOnce.Do(func() {
		_ = c.conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		select {
		case <-c.done:
		case <-time.After(2 * time.Second):
		}
		c.conn.Close()
		<-c.done
	})
}

// abort drops the TCP connection without a close frame, as a crashed client would.
func (c *client) abort() {
	c.closeOnce.Do(func() {
		c.conn.UnderlyingConn().Close()
		<-c.done
	})
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
