package ws_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/distchat/distchat/server/ws"
)

// waitTimeout bounds every wait for an event, so that a broken connection fails a test
// with a message instead of hanging it.
const waitTimeout = 10 * time.Second

// socketBuffer is the kernel buffer size asked for on both ends of every test connection
// (the server's send buffer, the peer's receive buffer), and bigPayload is far more than
// the two hold together (Linux doubles the size asked for), so that a frame of bigPayload
// keeps the writer busy until the peer reads.
const (
	socketBuffer = 16 << 10
	bigPayload   = 2 << 20
)

// TestMain fails the run when a connection's goroutines outlive the tests. Tests that
// count goroutines of their own do not run in parallel.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		var left string
		if !eventually(waitTimeout, func() bool {
			left = stacks("github.com/distchat/distchat/server/ws.", "github.com/gorilla/websocket.")
			return left == ""
		}) {
			fmt.Fprintf(os.Stderr, "goroutines still running after all tests:\n\n%s\n", left)
			code = 1
		}
	}
	os.Exit(code)
}

// stacks returns the stacks of the goroutines (other than the caller) that run code
// containing one of the markers.
func stacks(markers ...string) string {
	var out []string
	self := goroutineHeader()
	for _, g := range allStacks() {
		if strings.HasPrefix(g, self) {
			continue
		}
		for _, m := range markers {
			if strings.Contains(g, m) {
				out = append(out, g)
				break
			}
		}
	}
	return strings.Join(out, "\n\n")
}

func allStacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Split(string(buf[:n]), "\n\n")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// goroutineHeader is the first line of the calling goroutine's stack ("goroutine 7
// [running]:").
func goroutineHeader() string {
	buf := make([]byte, 256)
	buf = buf[:runtime.Stack(buf, false)]
	h, _, _ := strings.Cut(string(buf), "\n")
	return h
}

// running counts the goroutines currently inside the method of ws.Conn named fn
// ("readLoop", "writeLoop"). Only meaningful in tests that do not run in parallel.
func running(fn string) int {
	n := 0
	for _, g := range allStacks() {
		if strings.Contains(g, "/server/ws.(*Conn)."+fn+"(") {
			n++
		}
	}
	return n
}

// waitRunning waits until readers connections have a reader and writers a writer.
func waitRunning(t *testing.T, readers, writers int) {
	t.Helper()
	var r, w int
	if !eventually(waitTimeout, func() bool {
		r, w = running("readLoop"), running("writeLoop")
		return r == readers && w == writers
	}) {
		t.Fatalf("%d readers and %d writers running, want %d and %d:\n\n%s", r, w, readers, writers,
			stacks("/server/ws.(*Conn)."))
	}
}

// eventually polls cond until it holds and reports whether it did within timeout. Only
// for what no event announces (which goroutines run); wait for a frame or a channel
// wherever there is one.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// harness is a ws.Server behind a real HTTP server on a loopback port.
type harness struct {
	srv      *ws.Server
	http     *httptest.Server
	accepted chan *session
}

// start starts a server whose accept callback attaches a recording session to every
// connection. It is shut down when the test ends.
func start(t *testing.T, opts ws.Options, allowedOrigins ...string) *harness {
	t.Helper()
	var h *harness
	h = startWith(t, opts, allowedOrigins, func(c *ws.Conn) (ws.Session, []byte, int) {
		s := newSession(c)
		h.accepted <- s
		return s, nil, 0
	})
	return h
}

// startWith starts a server with its own accept callback.
func startWith(t *testing.T, opts ws.Options, allowedOrigins []string, accept func(*ws.Conn) (ws.Session, []byte, int)) *harness {
	t.Helper()
	h := &harness{
		srv:      ws.NewServer(opts, allowedOrigins, slog.New(slog.DiscardHandler)),
		accepted: make(chan *session, 64),
	}
	h.http = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.srv.Serve(w, r, accept)
	}))
	h.http.Listener = smallBuffers{h.http.Listener}
	h.http.Start()
	t.Cleanup(func() {
		if err := h.shutdown(); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		h.http.Close()
	})
	return h
}

// shutdown shuts the ws.Server down; later calls find nothing left to close.
func (h *harness) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	return h.srv.Shutdown(ctx)
}

func (h *harness) url() string { return "ws" + strings.TrimPrefix(h.http.URL, "http") + "/" }

// origin is the server's own origin, as a browser on its page would send it.
func (h *harness) origin() string { return h.http.URL }

// dial opens a connection and returns the peer's end and the server's session for it.
// Nothing reads the peer's end yet.
func (h *harness) dial(t *testing.T) (*websocket.Conn, *session) {
	t.Helper()
	c, resp, err := h.dialHeader(t, nil)
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, resp)
	}
	return c, h.session(t)
}

// dialHeader dials with a request header and returns what the dialer returned; the
// response's body is already closed.
func (h *harness) dialHeader(t *testing.T, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := &websocket.Dialer{
		HandshakeTimeout: waitTimeout,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if err := c.(*net.TCPConn).SetReadBuffer(socketBuffer); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		},
	}
	c, resp, err := d.Dial(h.url(), header)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, resp, err
}

// session waits for the next accepted connection's session.
func (h *harness) session(t *testing.T) *session {
	t.Helper()
	select {
	case s := <-h.accepted:
		return s
	case <-time.After(waitTimeout):
		t.Fatal("no connection accepted")
		return nil
	}
}

// smallBuffers gives every accepted connection a small send buffer (see socketBuffer).
// It returns the *net.TCPConn itself, as a plain listener does.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if err := c.(*net.TCPConn).SetWriteBuffer(socketBuffer); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// session is the Session of a server-side connection: it records frames and OnClose calls.
type session struct {
	conn   *ws.Conn
	frames chan frame
	closes atomic.Int32  // OnClose calls
	closed chan struct{} // closed by the first OnClose
}

type frame struct {
	data []byte
	text bool
}

func newSession(c *ws.Conn) *session {
	return &session{conn: c, frames: make(chan frame, 16), closed: make(chan struct{})}
}

func (s *session) OnFrame(data []byte, text bool) {
	s.frames <- frame{slices.Clone(data), text}
}

func (s *session) OnClose() {
	if s.closes.Add(1) == 1 {
		close(s.closed)
	}
}

// frame returns the next frame the server read.
func (s *session) frame(t *testing.T) frame {
	t.Helper()
	select {
	case f := <-s.frames:
		return f
	case <-time.After(waitTimeout):
		t.Fatal("the server read no frame")
		return frame{}
	}
}

// waitClosed waits until OnClose has run.
func (s *session) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-s.closed:
	case <-time.After(waitTimeout):
		t.Fatal("OnClose did not run")
	}
}

// peer reads the client end of a connection in its own goroutine, so that it answers
// pings and close frames as a browser does, and queues the text frames it reads.
type peer struct {
	conn   *websocket.Conn
	frames chan []byte
	done   chan struct{} // closed when reading has stopped
	err    error         // why; set before done is closed
}

func newPeer(c *websocket.Conn) *peer {
	p := &peer{conn: c, frames: make(chan []byte, 1024), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			typ, data, err := c.ReadMessage()
			if err != nil {
				p.err = err
				return
			}
			if typ != websocket.TextMessage {
				p.err = fmt.Errorf("a frame of type %d", typ)
				return
			}
			p.frames <- data
		}
	}()
	return p
}

// next returns the next text frame.
func (p *peer) next(t *testing.T) []byte {
	t.Helper()
	select {
	case f := <-p.frames:
		return f
	case <-p.done:
		select {
		case f := <-p.frames:
			return f
		default:
		}
		t.Fatalf("connection ended: %v", p.err)
	case <-time.After(waitTimeout):
		t.Fatal("no frame")
	}
	return nil
}

// end waits until reading stops and returns why.
func (p *peer) end(t *testing.T) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(waitTimeout):
		t.Fatal("the connection is still open")
		return nil
	}
}

// expectClose fails unless err is a close frame with code.
func expectClose(t *testing.T, err error, code int) *websocket.CloseError {
	t.Helper()
	ce := (*websocket.CloseError)(nil)
	if !errors.As(err, &ce) || ce.Code != code {
		t.Fatalf("connection ended with %v, want close code %d", err, code)
	}
	return ce
}
