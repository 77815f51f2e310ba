package ws_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/distchat/distchat/server/ws"
)

// TestSendFromManyGoroutines: objects sent concurrently each arrive once, in the order of
// their sender, and the writer stops once the queue is drained, to start again with the
// next Send. It counts goroutines, so it does not run in parallel.
func TestSendFromManyGoroutines(t *testing.T) {
	const senders, each = 8, 300
	h := start(t, ws.Options{SendQueue: senders * each}) // nobody is too slow here
	c, s := h.dial(t)
	p := newPeer(c)

	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for n := range each {
				if !s.conn.Send(fmt.Appendf(nil, "%d/%d", g, n)) {
					t.Errorf("sender %d: Send %d returned false", g, n)
					return
				}
			}
		})
	}
	next := make([]int, senders) // the next n expected from each sender
	for got := 0; got < senders*each; {
		for obj := range bytes.SplitSeq(p.next(t), []byte{'\n'}) {
			var g, n int
			if _, err := fmt.Sscanf(string(obj), "%d/%d", &g, &n); err != nil || g < 0 || g >= senders {
				t.Fatalf("after %d objects: unexpected %q", got, obj)
			}
			if n != next[g] {
				t.Fatalf("after %d objects: %d from sender %d, want %d", got, n, g, next[g])
			}
			next[g]++
			got++
		}
	}
	wg.Wait()

	// The queue is drained: the connection is left with its reader.
	waitRunning(t, 1, 0)
	// A later Send starts a writer again; what arrives is that object and nothing else
	// (no object twice), and the writer stops again.
	for range 2 {
		if !s.conn.Send([]byte("again")) {
			t.Fatal("Send on an idle connection returned false")
		}
		if f := p.next(t); string(f) != "again" {
			t.Fatalf("got %.60q, want the object sent after the others", f)
		}
		waitRunning(t, 1, 0)
	}
}

// TestIdleConnectionsKeepOnlyTheirReader: after a write, an idle connection costs one
// goroutine. It counts goroutines, so it does not run in parallel.
func TestIdleConnectionsKeepOnlyTheirReader(t *testing.T) {
	const conns = 20
	h := start(t, ws.Options{})
	for range conns {
		c, s := h.dial(t)
		if !s.conn.Send([]byte("hello")) {
			t.Fatal("Send returned false")
		}
		_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
		if _, data, err := c.ReadMessage(); err != nil || string(data) != "hello" {
			t.Fatalf("read %q, %v; want hello", data, err)
		}
	}
	waitRunning(t, conns, 0)
}

// sendBig sends a frame of bigPayload bytes and returns once the peer has begun to
// receive it: the writer has taken it and cannot finish it before the peer reads it all,
// so whatever is sent from now on is queued behind it. The caller reads the rest with
// readBig.
func sendBig(t *testing.T, c *websocket.Conn, s *session) (big []byte, rest io.Reader) {
	t.Helper()
	big = bytes.Repeat([]byte{'x'}, bigPayload)
	if !s.conn.Send(big) {
		t.Fatal("Send returned false")
	}
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	typ, r, err := c.NextReader()
	if err != nil || typ != websocket.TextMessage {
		t.Fatalf("waiting for the big frame: type %d, %v", typ, err)
	}
	return big, r
}

func readBig(t *testing.T, big []byte, r io.Reader) {
	t.Helper()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading the big frame: %v", err)
	}
	if !bytes.Equal(got, big) {
		t.Fatalf("the big frame has %d bytes, want exactly the %d sent alone", len(got), len(big))
	}
}

// TestQueuedSendsAreCoalesced: what is queued while the writer is busy goes out as frames
// of at most MaxCoalesce objects separated by '\n', in order.
func TestQueuedSendsAreCoalesced(t *testing.T) {
	t.Parallel()
	const maxCoalesce, queued = 10, 25
	h := start(t, ws.Options{MaxCoalesce: maxCoalesce})
	c, s := h.dial(t)

	big, rest := sendBig(t, c, s)
	var want []string // the frames expected after the big one
	var objs []string
	for i := range queued {
		obj := fmt.Sprintf("obj-%02d", i)
		if !s.conn.Send([]byte(obj)) {
			t.Fatalf("Send %d returned false", i)
		}
		if objs = append(objs, obj); len(objs) == maxCoalesce || i == queued-1 {
			want = append(want, strings.Join(objs, "\n"))
			objs = nil
		}
	}
	readBig(t, big, rest)
	for i, w := range want {
		_, data, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if string(data) != w {
			t.Fatalf("frame %d is %q, want %q", i, data, w)
		}
	}
}

// TestCloseWritesQueuedThenCloseFrame: Close writes what is queued, then the close frame
// with the first Close's code and reason; OnClose runs once.
func TestCloseWritesQueuedThenCloseFrame(t *testing.T) {
	t.Parallel()
	h := start(t, ws.Options{})
	c, s := h.dial(t)

	big, rest := sendBig(t, c, s)
	s.conn.Send([]byte("last-1"))
	s.conn.Send([]byte("last-2"))
	s.conn.Close(4000, "bye")
	s.conn.Close(4001, "second close")
	if s.conn.Send([]byte("too late")) {
		t.Error("Send after Close returned true")
	}
	readBig(t, big, rest)
	_, data, err := c.ReadMessage()
	if err != nil || string(data) != "last-1\nlast-2" {
		t.Fatalf("after the big frame: %q, %v; want the two objects queued before Close", data, err)
	}
	_, _, err = c.ReadMessage()
	if ce := expectClose(t, err, 4000); ce.Text != "bye" {
		t.Errorf("close reason %q, want bye", ce.Text)
	}
	s.waitClosed(t)
	// Shutdown waits until every connection's goroutine has ended, so that OnClose has
	// had every chance to run twice.
	if err := h.shutdown(); err != nil {
		t.Fatal(err)
	}
	if n := s.closes.Load(); n != 1 {
		t.Errorf("OnClose ran %d times, want once", n)
	}
}

// TestCloseWhileWriting: Close calls from several goroutines while the writer is busy end
// the connection once, with one of their codes, and OnClose runs once. Closing while a
// writer was between frames could run the close sequence twice (a panic); this test
// caught that in about one run in twenty before it was fixed.
func TestCloseWhileWriting(t *testing.T) {
	t.Parallel()
	const workers, rounds, closers, sends = 4, 50, 3, 100
	for w := range workers {
		t.Run(fmt.Sprint("worker-", w), func(t *testing.T) {
			t.Parallel()
			h := start(t, ws.Options{SendQueue: (closers + 1) * sends}) // never overflows
			var sessions []*session
			for range rounds {
				c, s := h.dial(t)
				sessions = append(sessions, s)
				p := newPeer(c)
				var wg sync.WaitGroup
				wg.Go(func() {
					for range sends {
						if !s.conn.Send([]byte("x")) {
							return
						}
					}
				})
				for i := range closers {
					wg.Go(func() {
						for range sends / 10 {
							s.conn.Send([]byte("y"))
						}
						s.conn.Close(4000+i, "")
					})
				}
				wg.Wait()
				var ce *websocket.CloseError
				if err := p.end(t); !errors.As(err, &ce) || ce.Code < 4000 || ce.Code >= 4000+closers {
					t.Fatalf("connection ended with %v, want one of the close codes", err)
				}
				s.waitClosed(t)
				c.Close()
			}
			if err := h.shutdown(); err != nil {
				t.Fatal(err)
			}
			for i, s := range sessions {
				if n := s.closes.Load(); n != 1 {
					t.Errorf("connection %d: OnClose ran %d times, want once", i, n)
				}
			}
		})
	}
}

// TestSlowPeerIsClosedWith4008: a peer that does not read overflows its send queue and is
// closed with 4008; Send reports it and the server's goroutines end. It counts
// goroutines, so it does not run in parallel.
func TestSlowPeerIsClosedWith4008(t *testing.T) {
	const queue, maxSends = 4, 1000
	h := start(t, ws.Options{SendQueue: queue})
	c, s := h.dial(t)

	obj := bytes.Repeat([]byte{'s'}, 16<<10)
	sends := 0
	for s.conn.Send(obj) {
		if sends++; sends == maxSends {
			t.Fatalf("a peer that never reads was not closed after %d sends of %d bytes", sends, len(obj))
		}
	}
	if s.conn.Send([]byte("after")) {
		t.Error("Send after the overflow returned true")
	}
	// The peer reads at last: the frames written before the overflow, then the close frame
	// (the objects still queued at the overflow are dropped).
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	var err error
	for err == nil {
		_, _, err = c.ReadMessage()
	}
	expectClose(t, err, 4008)
	s.waitClosed(t)
	waitRunning(t, 0, 0)
	if n := h.srv.Count(); n != 0 {
		t.Errorf("Count() = %d after the slow peer was closed, want 0", n)
	}
}

// TestBlockedWriteResetsConnection: when a write cannot finish within WriteWait, because
// the peer stopped reading, the connection is reset (no close frame, unsent data dropped)
// and the reader ends too. It counts goroutines, so it does not run in parallel.
func TestBlockedWriteResetsConnection(t *testing.T) {
	const writeWait = 100 * time.Millisecond
	h := start(t, ws.Options{WriteWait: writeWait})
	c, s := h.dial(t)

	sent := time.Now()
	if !s.conn.Send(bytes.Repeat([]byte{'x'}, bigPayload)) { // more than the buffers hold
		t.Fatal("Send returned false")
	}
	s.waitClosed(t) // the reader has ended
	if d := time.Since(sent); d < writeWait {
		t.Errorf("the connection ended %v after the send, before the write deadline of %v", d, writeWait)
	}
	if s.conn.Send([]byte("after")) {
		t.Error("Send after the reset returned true")
	}
	waitRunning(t, 0, 0)

	// The peer reads what had reached it, then the reset.
	raw := c.UnderlyingConn()
	_ = raw.SetReadDeadline(time.Now().Add(waitTimeout))
	n, err := io.Copy(io.Discard, raw)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after %d bytes the peer read %v, want a connection reset", n, err)
	}
	if n >= bigPayload {
		t.Errorf("the peer got %d bytes, the whole payload: the write was not blocked", n)
	}
}

// TestFrameOverReadLimitClosesWith1009: frames up to MaxMessageBytes reach the session
// (text or binary); a larger one closes the connection with 1009.
func TestFrameOverReadLimitClosesWith1009(t *testing.T) {
	t.Parallel()
	const limit = 1024
	h := start(t, ws.Options{MaxMessageBytes: limit})
	c, s := h.dial(t)

	_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := c.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte{'a'}, limit)); err != nil {
		t.Fatal(err)
	}
	if f := s.frame(t); len(f.data) != limit || !f.text {
		t.Fatalf("the server read %d bytes (text %v), want a text frame of %d", len(f.data), f.text, limit)
	}
	if err := c.WriteMessage(websocket.BinaryMessage, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if f := s.frame(t); !bytes.Equal(f.data, []byte{0, 1, 2}) || f.text {
		t.Fatalf("the server read %v (text %v), want the binary frame", f.data, f.text)
	}
	if err := c.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte{'b'}, limit+1)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	_, _, err := c.ReadMessage()
	expectClose(t, err, websocket.CloseMessageTooBig)
	s.waitClosed(t)
	select {
	case f := <-s.frames:
		t.Errorf("the server handed on %d bytes of the frame over the limit", len(f.data))
	default:
	}
}

// TestPongDeadline: a peer that does not answer pings (and sends nothing) is dropped after
// PongWait; one that answers them stays. A healthy peer has PongWait/10 to get its pong
// back (pings go out every 9/10 of PongWait): 100 ms here, many times what a loopback
// round trip needs even on a loaded machine.
func TestPongDeadline(t *testing.T) {
	t.Parallel()
	const pongWait = time.Second
	h := start(t, ws.Options{PongWait: pongWait})

	healthy, hs := h.dial(t)
	var pings sync.WaitGroup // counts down the first two pings
	pings.Add(2)
	var seen int
	var seenMu sync.Mutex
	healthy.SetPingHandler(func(data string) error {
		seenMu.Lock()
		if seen++; seen <= 2 {
			pings.Done()
		}
		seenMu.Unlock()
		return healthy.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(waitTimeout))
	})
	hp := newPeer(healthy)

	dialed := time.Now()
	silent, ss := h.dial(t)
	silent.SetPingHandler(func(string) error { return nil }) // no pong
	sp := newPeer(silent)

	err := sp.end(t)
	elapsed := time.Since(dialed)
	expectClose(t, err, websocket.CloseNormalClosure)
	if elapsed < pongWait {
		t.Errorf("silent peer dropped after %v, before PongWait (%v)", elapsed, pongWait)
	}
	ss.waitClosed(t)

	// The healthy peer answered two pings at least, so it has outlived the silent one
	// by more than a PongWait, and is still served.
	done := make(chan struct{})
	go func() { pings.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("the healthy peer got fewer than two pings")
	}
	if !hs.conn.Send([]byte("still here")) {
		t.Fatal("Send to the healthy peer returned false")
	}
	if f := hp.next(t); string(f) != "still here" {
		t.Fatalf("healthy peer got %q", f)
	}
	select {
	case <-hs.closed:
		t.Fatal("the healthy peer's session was closed")
	default:
	}
}

// TestWriteGap: the first object for an idle connection goes out at once; what follows
// within the write gap waits and goes out as one frame, not before the gap has passed.
func TestWriteGap(t *testing.T) {
	t.Parallel()
	const gap = 200 * time.Millisecond
	h := start(t, ws.Options{WriteGap: gap, BusyFrames: -1}) // busy from the start
	c, s := h.dial(t)
	p := newPeer(c)

	start := time.Now()
	if !s.conn.Send([]byte("first")) {
		t.Fatal("Send returned false")
	}
	if f := p.next(t); string(f) != "first" {
		t.Fatalf("got %q, want first alone", f)
	}
	first := time.Since(start)
	for _, obj := range []string{"a", "b", "c"} {
		if !s.conn.Send([]byte(obj)) {
			t.Fatal("Send returned false")
		}
	}
	f := p.next(t)
	waited := time.Since(start)
	if string(f) != "a\nb\nc" {
		t.Fatalf("got %q, want the three objects sent within the gap in one frame", f)
	}
	if first > gap/2 {
		t.Errorf("the first object took %v on an idle connection, want it at once", first)
	}
	if waited < gap {
		t.Errorf("the objects sent within the gap arrived after %v, before the gap of %v", waited, gap)
	}

	// Once idle for a gap, a connection writes at once again.
	time.Sleep(gap) // the connection is to be idle for a whole gap: that is what is tested
	again := time.Now()
	if !s.conn.Send([]byte("later")) {
		t.Fatal("Send returned false")
	}
	if f := p.next(t); string(f) != "later" || time.Since(again) > gap/2 {
		t.Fatalf("got %q after %v, want it at once", f, time.Since(again))
	}
}

// TestWriteGapOnlyWhenBusy: a server that writes few frames writes every object at once;
// the write gap starts once it writes more frames a second than BusyFrames.
func TestWriteGapOnlyWhenBusy(t *testing.T) {
	t.Parallel()
	const gap = 300 * time.Millisecond
	h := start(t, ws.Options{WriteGap: gap, BusyFrames: 1_000_000})
	c, s := h.dial(t)
	p := newPeer(c)
	for i := range 20 {
		sent := time.Now()
		if !s.conn.Send([]byte(fmt.Sprint("m", i))) {
			t.Fatal("Send returned false")
		}
		if f := p.next(t); string(f) != fmt.Sprint("m", i) || time.Since(sent) > gap/2 {
			t.Fatalf("object %d: %q after %v, want it alone and at once (the server is not busy)", i, f, time.Since(sent))
		}
	}
}

// TestQueuedBytesLimit: past the server's limit on queued bytes, a connection holding more
// than its share is closed as too slow (4008), however few objects its queue has.
func TestQueuedBytesLimit(t *testing.T) {
	const limit = 256 << 10
	h := start(t, ws.Options{SendQueue: 10000, MaxQueuedBytes: limit})
	c, s := h.dial(t)
	obj := bytes.Repeat([]byte{'q'}, 8<<10)
	sends := 0
	for s.conn.Send(obj) {
		if sends++; sends > 1000 {
			t.Fatalf("not closed after %d sends of %d bytes (limit %d)", sends, len(obj), limit)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	var err error
	for err == nil {
		_, _, err = c.ReadMessage()
	}
	expectClose(t, err, 4008)
	s.waitClosed(t)
}
