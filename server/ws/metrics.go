package ws

import (
	"errors"

	"github.com/gorilla/websocket"
)

// Metrics receives what happens to connections, for monitoring (server/metrics implements
// it). Queued runs on every send and Disconnected once per connection: implementations
// must be cheap (an atomic add, no allocation) and must not block. Every method may be
// called from any goroutine.
type Metrics interface {
	// Connected: a WebSocket connection was opened (the upgrade succeeded).
	Connected()
	// Queued: a send was queued; depth is the length of the connection's queue with it.
	// It runs before the writer can take the send.
	Queued(depth int)
	// Disconnected: a connection has ended, with the close code that ended it: the
	// server's when the server closed it first (4008 too slow, 1001 going away, ...),
	// 1009 for a frame over the read limit, the peer's when the peer sent a close frame,
	// 1006 when the connection dropped without one (or a write failed).
	Disconnected(code int)
}

// noMetrics is the default Metrics: it keeps nothing.
type noMetrics struct{}

func (noMetrics) Connected()       {}
func (noMetrics) Queued(int)       {}
func (noMetrics) Disconnected(int) {}

// endCode is the close code that ended the connection, for Disconnected, given why the
// reader stopped. It must be called before the reader's end closes the connection.
func (c *Conn) endCode(readErr error) int {
	select {
	case <-c.done:
		return c.closeCode // closeCode is set before done is closed
	default:
	}
	var ce *websocket.CloseError
	switch {
	case errors.Is(readErr, websocket.ErrReadLimit):
		// gorilla wrote the 1009 close frame itself.
		return websocket.CloseMessageTooBig
	case errors.As(readErr, &ce):
		return ce.Code
	}
	return websocket.CloseAbnormalClosure
}
