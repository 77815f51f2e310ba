package ws_test

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/distchat/distchat/server/ws"
)

// recorder is a ws.Metrics that keeps what it is told.
type recorder struct {
	connected atomic.Int32
	queued    atomic.Int32
	deepest   atomic.Int32
	codes     chan int
}

func newRecorder() *recorder { return &recorder{codes: make(chan int, 16)} }

func (r *recorder) Connected() { r.connected.Add(1) }

func (r *recorder) Queued(depth int) {
	r.queued.Add(1)
	for d := r.deepest.Load(); int32(depth) > d && !r.deepest.CompareAndSwap(d, int32(depth)); d = r.deepest.Load() {
	}
}

func (r *recorder) Disconnected(code int) { r.codes <- code }

// code waits for the next Disconnected.
func (r *recorder) code(t *testing.T) int {
	t.Helper()
	select {
	case c := <-r.codes:
		return c
	case <-time.After(waitTimeout):
		t.Fatal("no Disconnected")
		return 0
	}
}

// TestMetricsCloseCodes: every connection is reported once when it opens and once when it
// ends, with the close code that ended it, whoever closed it and however.
func TestMetricsCloseCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts ws.Options
		end  func(t *testing.T, h *harness, c *websocket.Conn, s *session)
		code int
	}{
		{"the peer closes", ws.Options{}, func(t *testing.T, _ *harness, c *websocket.Conn, _ *session) {
			closeFrom(t, c, websocket.CloseNormalClosure)
		}, websocket.CloseNormalClosure},
		{"the peer goes away", ws.Options{}, func(t *testing.T, _ *harness, c *websocket.Conn, _ *session) {
			closeFrom(t, c, websocket.CloseGoingAway)
		}, websocket.CloseGoingAway},
		{"the peer vanishes", ws.Options{}, func(_ *testing.T, _ *harness, c *websocket.Conn, _ *session) {
			c.UnderlyingConn().Close()
		}, websocket.CloseAbnormalClosure},
		{"a frame over the limit", ws.Options{MaxMessageBytes: 16}, func(t *testing.T, _ *harness, c *websocket.Conn, _ *session) {
			if err := c.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte{'x'}, 17)); err != nil {
				t.Fatal(err)
			}
			newPeer(c)
		}, websocket.CloseMessageTooBig},
		{"the server closes", ws.Options{}, func(_ *testing.T, _ *harness, c *websocket.Conn, s *session) {
			newPeer(c)
			s.conn.Close(websocket.CloseTryAgainLater, "")
		}, websocket.CloseTryAgainLater},
		{"the server shuts down", ws.Options{}, func(t *testing.T, h *harness, c *websocket.Conn, _ *session) {
			newPeer(c)
			if err := h.shutdown(); err != nil {
				t.Fatal(err)
			}
		}, websocket.CloseGoingAway},
		{"a peer too slow", ws.Options{SendQueue: 4, WriteWait: 200 * time.Millisecond}, func(t *testing.T, _ *harness, _ *websocket.Conn, s *session) {
			obj := bytes.Repeat([]byte{'s'}, 16<<10)
			for sends := 0; s.conn.Send(obj); sends++ {
				if sends == 1000 {
					t.Fatalf("a peer that never reads was not closed after %d sends", sends)
				}
			}
		}, 4008},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder()
			tc.opts.Metrics = rec
			h := start(t, tc.opts)
			c, s := h.dial(t)
			if n := rec.connected.Load(); n != 1 {
				t.Fatalf("Connected %d times, want once", n)
			}
			tc.end(t, h, c, s)
			if code := rec.code(t); code != tc.code {
				t.Errorf("Disconnected(%d), want %d", code, tc.code)
			}
			s.waitClosed(t)
			select {
			case code := <-rec.codes:
				t.Errorf("Disconnected again, with %d", code)
			default:
			}
		})
	}
}

// closeFrom sends a close frame with code, as a browser does, and reads the server's reply.
func closeFrom(t *testing.T, c *websocket.Conn, code int) {
	t.Helper()
	if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(waitTimeout)); err != nil {
		t.Fatal(err)
	}
	newPeer(c)
}

// TestMetricsRefusal: a connection refused by the accept callback is reported with the
// refusal's close code.
func TestMetricsRefusal(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	h := startWith(t, ws.Options{Metrics: rec}, nil, func(*ws.Conn) (ws.Session, []byte, int) {
		return nil, []byte(`{"type":"error"}`), websocket.ClosePolicyViolation
	})
	c, _, err := h.dialHeader(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(c)
	if code := rec.code(t); code != websocket.ClosePolicyViolation {
		t.Errorf("Disconnected(%d), want %d", code, websocket.ClosePolicyViolation)
	}
	expectClose(t, p.end(t), websocket.ClosePolicyViolation)
	if n := rec.queued.Load(); n != 1 {
		t.Errorf("Queued %d times, want once (the refusal)", n)
	}
}

// TestMetricsQueueDepth: every send is reported with the length of the queue it joined.
func TestMetricsQueueDepth(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	h := start(t, ws.Options{Metrics: rec, WriteWait: 200 * time.Millisecond})
	_, s := h.dial(t)
	// The peer does not read: the writer is held by the first send, the others wait.
	const n = 4
	if !s.conn.Send(bytes.Repeat([]byte{'x'}, bigPayload)) {
		t.Fatal("Send returned false")
	}
	for range n - 1 {
		if !s.conn.Send([]byte("small")) {
			t.Fatal("Send returned false")
		}
	}
	if q, d := rec.queued.Load(), rec.deepest.Load(); q != n || d < n-1 {
		t.Errorf("Queued %d times, at most %d deep; want %d times, at least %d deep", q, d, n, n-1)
	}
}
