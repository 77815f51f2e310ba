// Package ws turns HTTP requests into WebSocket connections with one reader and one writer
// each: origin policy, read limits, ping/pong deadlines, a bounded send queue whose items
// are coalesced into one frame per write, and close codes. It knows frames, not rooms.
package ws

import (
	"errors"
	"log/slog"
	"net"
	"sync"
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
}

// Defaults.
const (
	DefaultMaxMessageBytes = 64 << 10
	DefaultSendQueue       = 256
	DefaultPongWait        = 60 * time.Second
	DefaultWriteWait       = 10 * time.Second
	DefaultMaxCoalesce     = 64
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
	return o
}

// pingPeriod must be shorter than PongWait so that a healthy peer's pong arrives in time.
func (o Options) pingPeriod() time.Duration { return o.PongWait * 9 / 10 }

// Conn is one WebSocket connection. Send and Close may be called from any goroutine.
type Conn struct {
	ws   *websocket.Conn
	opts Options
	log  *slog.Logger

	// The send queue: a slice rather than a channel, so that an idle connection holds no
	// queue memory (a 256-slot channel of slices would cost 6 KiB each).
	qmu   sync.Mutex
	queue [][]byte
	wake  chan struct{} // one token: the queue has something

	done      chan struct{} // closed by Close: the writer stops
	closeOnce sync.Once
	closeMu   sync.Mutex
	closeCode int
	closeText string
}

func newConn(c *websocket.Conn, opts Options, log *slog.Logger) *Conn {
	return &Conn{
		ws:   c,
		opts: opts,
		log:  log,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
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
	c.queue = append(c.queue, obj)
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// take moves up to MaxCoalesce queued sends into batch.
func (c *Conn) take(batch [][]byte) [][]byte {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	n := min(len(c.queue), c.opts.MaxCoalesce)
	batch = append(batch[:0], c.queue[:n]...)
	rest := copy(c.queue, c.queue[n:])
	clear(c.queue[rest:])
	c.queue = c.queue[:rest]
	if rest == 0 && cap(c.queue) > 8 {
		c.queue = nil // give back what a burst grew
	}
	return batch
}

// closeTooSlow mirrors protocol.CloseTooSlow without importing the protocol package.
const closeTooSlow = 4008

// Close starts closing the connection with a close code and reason: the writer sends the
// close frame and stops. Only the first call counts.
func (c *Conn) Close(code int, reason string) {
	c.closeOnce.Do(func() {
		c.closeMu.Lock()
		c.closeCode, c.closeText = code, reason
		c.closeMu.Unlock()
		close(c.done)
	})
}

// Done is closed once the connection is closing.
func (c *Conn) Done() <-chan struct{} { return c.done }

// run serves the connection: the writer in a new goroutine, the reader in this one. It
// returns when both have stopped and the TCP connection is closed.
func (c *Conn) run(onFrame func(data []byte, text bool)) {
	writerDone := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(readerDone)
	}()
	err := c.readLoop(onFrame)
	close(readerDone)
	c.Close(websocket.CloseNormalClosure, "")
	<-writerDone
	c.ws.Close()
	if err != nil && !isNormalClose(err) {
		c.log.Debug("connection ended", "err", err)
	}
}

func (c *Conn) readLoop(onFrame func(data []byte, text bool)) error {
	c.ws.SetReadLimit(c.opts.MaxMessageBytes)
	extend := func() { _ = c.ws.SetReadDeadline(time.Now().Add(c.opts.PongWait)) }
	extend()
	c.ws.SetPongHandler(func(string) error { extend(); return nil })
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			return err
		}
		extend()
		select {
		case <-c.done:
			// Closing: the peer's frames no longer matter; keep reading until its close
			// reply (or the grace period) ends the connection.
			continue
		default:
		}
		onFrame(data, typ == websocket.TextMessage)
	}
}

func (c *Conn) writeLoop(readerDone <-chan struct{}) {
	ticker := time.NewTicker(c.opts.pingPeriod())
	defer ticker.Stop()
	var batch [][]byte
	for {
		select {
		case <-c.wake:
			for {
				batch = c.take(batch)
				if len(batch) == 0 {
					break
				}
				if err := c.writeFrame(batch); err != nil {
					c.abort()
					return
				}
			}
			clear(batch)
			if cap(batch) > 8 {
				batch = nil
			}
		case <-ticker.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.opts.WriteWait)); err != nil {
				c.abort()
				return
			}
		case <-readerDone:
			return
		case <-c.done:
			c.closeMu.Lock()
			code, text := c.closeCode, c.closeText
			c.closeMu.Unlock()
			if code != closeTooSlow && code != websocket.CloseAbnormalClosure {
				c.flush(batch)
			}
			if code != websocket.CloseAbnormalClosure {
				msg := websocket.FormatCloseMessage(code, text)
				_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.opts.WriteWait))
			}
			// Wait briefly for the peer's close reply so that it sees a clean close, then
			// drop the TCP connection, which also ends the reader.
			select {
			case <-readerDone:
			case <-time.After(closeGrace):
			}
			c.ws.NetConn().Close()
			return
		}
	}
}

// abort ends a connection whose writes fail or time out: the peer is gone or not reading.
// Unsent data is discarded (the kernel would otherwise keep up to megabytes of it for a
// peer that never reads) and the reader is unblocked.
func (c *Conn) abort() {
	c.Close(websocket.CloseAbnormalClosure, "")
	if tc, ok := c.ws.NetConn().(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.ws.NetConn().Close()
}

// flush writes what is still queued, so that replies sent just before a close (an error
// explaining it, the last messages before a shutdown) reach the peer.
func (c *Conn) flush(batch [][]byte) {
	for {
		batch = c.take(batch)
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
