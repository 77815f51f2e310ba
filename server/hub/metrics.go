package hub

import "time"

// Metrics receives what the hub does, for monitoring (server/metrics implements it).
// Request, ReplyError and Published run once per request, Flushed once per fan-out of a
// room: implementations must be cheap (atomic adds, no allocation) and must not block.
// Every method may be called from any goroutine. Each runs before the client can see the
// outcome it reports, except Flushed, which runs after the room's sends.
type Metrics interface {
	// Request: a client request of type typ (a protocol.Type* value) arrived, before the
	// rate limit was applied.
	Request(typ string)
	// ReplyError: an error object with code (a protocol.Code* value) is sent to a client.
	ReplyError(code string)
	// ReplyDropped: a refusal with code was not sent (the client sends faster than it is
	// answered).
	ReplyDropped(code string)
	// Published: a message handed to the broker was stored (dup: it had been stored
	// before), or failed with err, d after the Publish call.
	Published(d time.Duration, dup bool, err error)
	// Read: a storage read of the kind given took d and failed with err, or not.
	Read(kind ReadKind, d time.Duration, err error)
	// Flushed: a room handed a batch of objects (messages) to sends connections, which
	// took d. Each accepted send already counts as one object where the connection
	// queued it.
	Flushed(objects, sends int, d time.Duration)
}

// ReadKind says why the hub read storage.
type ReadKind string

// Kinds of storage reads.
const (
	// ReadLoad is a room's first load of its latest messages, when it starts on this node.
	ReadLoad ReadKind = "load"
	// ReadRecovery reads what a joiner missed, beyond the room's cache (join with since).
	ReadRecovery ReadKind = "recovery"
	// ReadHistory is a client's history page.
	ReadHistory ReadKind = "history"
)

// noMetrics is the default Metrics: it keeps nothing.
type noMetrics struct{}

func (noMetrics) Request(string)                       {}
func (noMetrics) ReplyError(string)                    {}
func (noMetrics) ReplyDropped(string)                  {}
func (noMetrics) Published(time.Duration, bool, error) {}
func (noMetrics) Read(ReadKind, time.Duration, error)  {}
func (noMetrics) Flushed(int, int, time.Duration)      {}

// Stats is what the hub holds right now.
type Stats struct {
	// Rooms is how many rooms this node serves (rooms with members here).
	Rooms int
	// People is how many people are present in those rooms, each once per room, whether
	// connected here or to other nodes.
	People int
}

// Stats counts the rooms and their people. It takes the hub's lock for a walk over the
// rooms: for monitoring, not for hot paths.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := Stats{Rooms: len(h.rooms)}
	for _, r := range h.rooms {
		st.People += int(r.people.Load())
	}
	return st
}
