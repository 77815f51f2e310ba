// Package ws turns HTTP requests into WebSocket connections with one reader and one writer
// each: origin policy, read limits, ping/pong deadlines, a bounded send queue whose items
// are coalesced into one frame per write, and close codes. It knows frames, not rooms.
package ws

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Options tune every connection. Zero fields take the defaults below.
type Options struct {
	// MaxMessageBytes is the read limit; a larger frame closes the connection with 1009.
	MaxMessageBytes int64
	// SendQueue is how many sends (an object, or a room's batch of messages) may wait for
	// the writer; beyond it the client is too slow and is closed with 4008.
	SendQueue int
	// PongWait is how long the peer may stay silent (no frame, no pong).
	PongWait time.Duration
	// WriteWait bounds every write.
	WriteWait time.Duration
	// MaxCoalesce bounds how many queued objects go into one frame.
	MaxCoalesce int
	// WriteGap is, while the server is busy (BusyFrames), the shortest time between two
	// frames written to one connection: what arrives sooner waits and goes out with
	// whatever else arrives meanwhile, in one frame. An idle connection writes at once; a
	// busy one costs at most 1/WriteGap writes (and system calls) a second, which is what
	// bounds a node's CPU under load. Negative disables it.
	WriteGap time.Duration
	// BusyFrames is the rate of frames written by the server (per second, all
	// connections) above which it is busy and WriteGap applies (default 20,000; negative:
	// always).
	BusyFrames int
	// MaxQueuedBytes bounds the bytes waiting in all of a server's send queues together
	// (default 256 MiB; negative: none). Beyond it, a connection that holds more than its
	// share (the limit divided by the connections) is closed as too slow.
	MaxQueuedBytes int64
	// Metrics receives connection events (nil: none are kept).
	Metrics Metrics
}

// Defaults.
const (
	DefaultMaxMessageBytes = 64 << 10
	DefaultSendQueue       = 256
	DefaultPongWait        = 60 * time.Second
	DefaultWriteWait       = 10 * time.Second
	DefaultMaxCoalesce     = 64
	DefaultWriteGap        = 10 * time.Millisecond
	DefaultBusyFrames      = 20000
	DefaultMaxQueuedBytes  = 256 << 20
	// closeGrace is how long a server-initiated close waits for the peer's close reply
	// before dropping the TCP connection.
	closeGrace = time.Second
)

func (o Options) withDefaults() Options {
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.SendQueue <= 0 {
		o.SendQueue = DefaultSendQueue
	}
	if o.PongWait <= 0 {
		o.PongWait = DefaultPongWait
	}
	if o.WriteWait <= 0 {
		o.WriteWait = DefaultWriteWait
	}
	if o.MaxCoalesce <= 0 {
		o.MaxCoalesce = DefaultMaxCoalesce
	}
	if o.WriteGap == 0 {
		o.WriteGap = DefaultWriteGap
	}
	if o.BusyFrames == 0 {
		o.BusyFrames = DefaultBusyFrames
	}
	if o.MaxQueuedBytes == 0 {
		o.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if o.Metrics == nil {
		o.Metrics = noMetrics{}
	}
	return o
}

// pingPeriod must be shorter than PongWait so that a healthy peer's pong arrives in time.
func (o Options) pingPeriod() time.Duration { return o.PongWait * 9 / 10 }

// Conn is one WebSocket connection. Send and Close may be called from any goroutine.
//
// Its reader runs for the whole life of the connection. Its writer runs only while there is
// something to write: Send starts it when the queue was empty and it stops when the queue
// is drained, so an idle connection costs one goroutine, not two. There is never more than
// one writer at a time, and it never runs per message: one run writes everything queued.
// Pings come from a timer and use gorilla's concurrency-safe WriteControl.
type Conn struct {
	ws   *websocket.Conn
	opts Options
	log  *slog.Logger

	// The send queue: a slice rather than a channel, so that an idle connection holds no
	// queue memory (a 256-slot channel of slices would cost 6 KiB each).
	qmu     sync.Mutex
	queue   [][]byte
	queued  int64 // bytes in queue
	writing bool  // a writer goroutine owns the socket's data frames
	closing bool  // Close was called: the writer keeps its role to close
	pacing  bool  // the writer starts when gap fires (see WriteGap)
	gap     *time.Timer
	// lastWrite is when the last frame was written (Unix nanoseconds).
	lastWrite atomic.Int64

	reads      *sync.Pool // the server's read buffers, shared by its connections
	load       *load      // the server's write rate
	usage      *usage     // the server's queued bytes
	ping       *time.Timer
	readerDone chan struct{} // closed when the reader has returned
	done       chan struct{} // closed by Close
	finished   chan struct{} // closed when the close sequence has ended
	closeOnce  sync.Once
	closeCode  int // set before done is closed
	closeText  string
}

func newConn(c *websocket.Conn, opts Options, reads *sync.Pool, ld *load, us *usage, log *slog.Logger) *Conn {
	conn := &Conn{
		ws:         c,
		reads:      reads,
		load:       ld,
		usage:      us,
		opts:       opts,
		log:        log,
		readerDone: make(chan struct{}),
		done:       make(chan struct{}),
		finished:   make(chan struct{}),
	}
	conn.ping = time.AfterFunc(opts.pingPeriod(), conn.sendPing)
	return conn
}

// Send queues encoded objects (one, or several separated by '\n') for the writer without
// ever blocking. When the queue is full the client is too slow: the connection is closed
// with CloseTooSlow and Send returns false. The bytes must not be modified afterwards; they
// may be shared by many connections.
func (c *Conn) Send(obj []byte) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	c.qmu.Lock()
	if len(c.queue) >= c.opts.SendQueue {
		c.qmu.Unlock()
		c.Close(closeTooSlow, "too slow: send queue overflowed")
		return false
	}
	if !c.usage.add(c.queued, int64(len(obj))) {
		c.qmu.Unlock()
		c.Close(closeTooSlow, "too slow: the server's send queues are full")
		return false
	}
	c.queued += int64(len(obj))
	c.queue = append(c.queue, obj)
	c.opts.Metrics.Queued(len(c.queue))
	start := false
	switch {
	case c.writing:
	case c.pacing:
		// A gap collects a few objects into one frame; it never lets a queue build up.
		if len(c.queue) >= c.opts.MaxCoalesce {
			start, c.writing = true, true
		}
	default:
		wait := c.opts.WriteGap - time.Duration(time.Now().UnixNano()-c.lastWrite.Load())
		if wait > 0 && c.load.busy.Load() {
			// Written to a moment ago: collect what else comes for the rest of the gap.
			c.pacing = true
			if c.gap == nil {
				c.gap = time.AfterFunc(wait, c.endGap)
			} else {
				c.gap.Reset(wait)
			}
		} else {
			start, c.writing = true, true
		}
	}
	c.qmu.Unlock()
	if start {
		go c.writeLoop()
	}
	return true
}

// Queued returns the bytes waiting in the send queue.
func (c *Conn) Queued() int64 {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.queued
}

// endGap starts the writer for what was queued during a write gap.
func (c *Conn) endGap() {
	c.qmu.Lock()
	c.pacing = false
	start := !c.writing && len(c.queue) > 0
	c.writing = c.writing || start
	c.qmu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// take moves up to MaxCoalesce queued sends into batch. With nothing queued and no close
// under way it gives up the writer role and returns false.
func (c *Conn) take(batch [][]byte) ([][]byte, bool) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if len(c.queue) > 0 && len(c.queue) < c.opts.MaxCoalesce && !c.closing && c.load.busy.Load() {
		// More arrived while this writer wrote: on a busy node it waits for the rest of
		// the gap too, as a Send would have (see Send).
		if wait := c.opts.WriteGap - time.Duration(time.Now().UnixNano()-c.lastWrite.Load()); wait > 0 {
			c.pacing, c.writing = true, false
			if c.gap == nil {
				c.gap = time.AfterFunc(wait, c.endGap)
			} else {
				c.gap.Reset(wait)
			}
			return batch[:0], false
		}
	}
	n := min(len(c.queue), c.opts.MaxCoalesce)
	batch = append(batch[:0], c.queue[:n]...)
	var bytes int64
	for _, b := range batch {
		bytes += int64(len(b))
	}
	c.queued -= bytes
	c.usage.done(bytes)
	rest := copy(c.queue, c.queue[n:])
	clear(c.queue[rest:])
	c.queue = c.queue[:rest]
	if rest == 0 && cap(c.queue) > 8 {
		c.queue = nil // give back what a burst grew
	}
	if n == 0 && !c.closing {
		c.writing = false
		return batch, false
	}
	return batch, true
}

// closeTooSlow mirrors protocol.CloseTooSlow without importing the protocol package.
const closeTooSlow = 4008

// Close starts closing the connection with a close code and reason: queued objects are
// written (unless the client is too slow for them), then the close frame. Only the first
// call counts.
func (c *Conn) Close(code int, reason string) {
	c.closeOnce.Do(func() {
		c.qmu.Lock()
		c.closeCode, c.closeText = code, reason
		// closing is set before done is closed, under the lock: a writer that sees done
		// must find closing set, or it would give up its role while flushing and a second
		// writer, started by Send or below, would run the close sequence again.
		c.closing = true
		close(c.done)
		start := !c.writing
		c.writing = true
		c.qmu.Unlock()
		if start {
			go c.writeLoop()
		}
	})
}

// run serves the connection: the reader in this goroutine, the writer on demand. It
// returns when the reader and the close sequence have ended and the TCP connection is
// closed.
func (c *Conn) run(onFrame func(data []byte, text bool)) {
	err := c.readLoop(onFrame)
	code := c.endCode(err)
	close(c.readerDone)
	c.ping.Stop()
	c.Close(websocket.CloseNormalClosure, "")
	<-c.finished
	c.ws.Close()
	c.opts.Metrics.Disconnected(code)
	if !isNormalClose(err) { // readLoop always ends with why
		c.log.Debug("connection ended", "err", err)
	}
}

// sendPing runs on a timer. A ping that cannot be written within WriteWait means the peer
// is gone or not reading.
func (c *Conn) sendPing() {
	select {
	case <-c.done:
		return
	default:
	}
	if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.opts.WriteWait)); err != nil {
		c.abort()
		return
	}
	c.ping.Reset(c.opts.pingPeriod())
}

func (c *Conn) readLoop(onFrame func(data []byte, text bool)) error {
	c.ws.SetReadLimit(c.opts.MaxMessageBytes)
	extend := func() { _ = c.ws.SetReadDeadline(time.Now().Add(c.opts.PongWait)) }
	extend()
	c.ws.SetPongHandler(func(string) error { extend(); return nil })
	for {
		typ, r, err := c.ws.NextReader()
		if err != nil {
			return err
		}
		// The frame is read into a pooled buffer: onFrame does not keep it, and an idle
		// connection holds none.
		buf := c.reads.Get().(*bytes.Buffer)
		buf.Reset()
		_, err = buf.ReadFrom(r)
		if err != nil {
			c.reads.Put(buf)
			return err
		}
		extend()
		select {
		case <-c.done:
			// Closing: the peer's frames no longer matter; keep reading until its close
			// reply (or the grace period) ends the connection.
		default:
			onFrame(buf.Bytes(), typ == websocket.TextMessage)
		}
		if buf.Cap() <= maxPooledRead {
			c.reads.Put(buf)
		}
	}
}

// maxPooledRead: read buffers that grew past it (a large frame) are left to the collector.
const maxPooledRead = 64 << 10

// writeLoop is the writer: it writes everything queued, coalescing up to MaxCoalesce sends
// per frame, and returns when the queue is empty. Once the connection is closing it runs
// the close sequence instead.
func (c *Conn) writeLoop() {
	var batch [][]byte
	for {
		select {
		case <-c.done:
			c.closeSequence(batch)
			return
		default:
		}
		var more bool
		batch, more = c.take(batch)
		if !more {
			return // the role is given up; a later Send or Close starts a writer
		}
		if len(batch) == 0 {
			continue // closing: the loop's top runs the close sequence
		}
		// The gap runs from the start of the write: a Send that comes while this frame is
		// on its way (or right after its peer got it) already finds it.
		now := time.Now().UnixNano()
		c.lastWrite.Store(now)
		if err := c.writeFrame(batch); err != nil {
			c.abort()
			// The close sequence still has to run, from this writer.
			c.closeSequence(batch)
			return
		}
		c.load.wrote(now)
		clear(batch)
	}
}

// closeSequence writes what is still queued (not for a client that is too slow or gone),
// the close frame, waits briefly for the peer's close reply so that it sees a clean close,
// then drops the TCP connection, which also ends the reader.
func (c *Conn) closeSequence(batch [][]byte) {
	defer close(c.finished)
	c.ping.Stop()
	c.qmu.Lock()
	if c.gap != nil {
		c.gap.Stop()
	}
	c.qmu.Unlock()
	code, text := c.closeCode, c.closeText
	if code != closeTooSlow && code != websocket.CloseAbnormalClosure {
		c.flush(batch)
	}
	// What was not written is dropped: it no longer counts.
	c.qmu.Lock()
	c.usage.done(c.queued)
	c.queued, c.queue = 0, nil
	c.qmu.Unlock()
	if code != websocket.CloseAbnormalClosure {
		msg := websocket.FormatCloseMessage(code, text)
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.opts.WriteWait))
	}
	select {
	case <-c.readerDone:
	case <-time.After(closeGrace):
	}
	c.ws.NetConn().Close()
}

// abort ends a connection whose writes fail or time out: the peer is gone or not reading.
// Unsent data is discarded (the kernel would otherwise keep up to megabytes of it for a
// peer that never reads) and the reader is unblocked.
func (c *Conn) abort() {
	if tc, ok := c.ws.NetConn().(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.ws.NetConn().Close()
	c.Close(websocket.CloseAbnormalClosure, "")
}

// flush writes what is still queued, so that replies sent just before a close (an error
// explaining it, the last messages before a shutdown) reach the peer.
func (c *Conn) flush(batch [][]byte) {
	for {
		batch, _ = c.take(batch)
		if len(batch) == 0 || c.writeFrame(batch) != nil {
			return
		}
	}
}

// writeFrame writes queued objects as one text frame, separated by '\n'.
func (c *Conn) writeFrame(objs [][]byte) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.opts.WriteWait))
	w, err := c.ws.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	for i, obj := range objs {
		if i > 0 {
			if _, err := w.Write(newline); err != nil {
				return err
			}
		}
		if _, err := w.Write(obj); err != nil {
			return err
		}
	}
	return w.Close()
}

var newline = []byte{'\n'}

// isNormalClose reports whether err is an ordinary end of a connection, not worth a log line.
func isNormalClose(err error) bool {
	if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway,
		websocket.CloseNoStatusReceived, websocket.CloseAbnormalClosure) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, net.ErrClosed)
}

// load tells whether a server is busy: it counts the frames its connections write over
// windows of loadWindow and compares the rate with a threshold.
type load struct {
	threshold uint64 // frames a second; 0: always busy
	start     atomic.Int64
	frames    atomic.Uint64
	busy      atomic.Bool
}

const loadWindow = 250 * time.Millisecond

func newLoad(framesPerSecond int) *load {
	l := &load{}
	if framesPerSecond > 0 {
		l.threshold = uint64(framesPerSecond)
	} else {
		l.busy.Store(true)
	}
	l.start.Store(time.Now().UnixNano())
	return l
}

// wrote counts a frame written at now; whoever ends a window judges it.
func (l *load) wrote(now int64) {
	if l.threshold == 0 {
		return
	}
	n := l.frames.Add(1)
	start := l.start.Load()
	elapsed := time.Duration(now - start)
	if elapsed < loadWindow || !l.start.CompareAndSwap(start, now) {
		return
	}
	l.frames.Add(-n)
	l.busy.Store(float64(n)/elapsed.Seconds() > float64(l.threshold))
}

// usage counts the bytes waiting in a server's send queues against MaxQueuedBytes.
type usage struct {
	max    int64 // <= 0: no limit
	queued atomic.Int64
	conns  atomic.Int64
}

// add counts n more bytes for a connection holding held, unless the server is over its
// limit and the connection holds more than its share: then it refuses.
func (u *usage) add(held, n int64) bool {
	total := u.queued.Add(n)
	if u.max <= 0 || total <= u.max {
		return true
	}
	if share := u.max / max(u.conns.Load(), 1); held+n <= share {
		return true
	}
	u.queued.Add(-n)
	return false
}

func (u *usage) done(n int64) { u.queued.Add(-n) }
