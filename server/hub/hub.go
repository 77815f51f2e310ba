// Package hub keeps rooms, their members and presence on this node, and fans every stored
// message out to the local members of its room. Each room is owned by one goroutine that
// talks over channels; the hub itself only routes. It knows nothing of HTTP or NATS: it
// stores and receives messages through a broker.Broker and sends encoded objects through
// the Conn interface.
package hub

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/protocol"
)

// Conn is a client connection as the hub sees it.
type Conn interface {
	// Send queues encoded objects (one, or several separated by '\n') without blocking;
	// false means the connection is closed or too slow (and is being closed). The bytes
	// are shared with other connections and must not be modified.
	Send(objs []byte) bool
}

// Config tunes the hub. Zero fields take defaults.
type Config struct {
	// MaxBodyBytes bounds a message body.
	MaxBodyBytes int
	// RateLimit is requests per second per connection (0: unlimited); RateBurst is the
	// bucket size.
	RateLimit float64
	RateBurst int
	// HistorySize is how many recent messages welcome and joined carry.
	HistorySize int
	// CacheSize is how many recent messages each room keeps in memory, to answer joins
	// and short recoveries without reading storage.
	CacheSize int
	// TypingInterval is the shortest interval between two typing events forwarded for
	// one user in one room.
	TypingInterval time.Duration
	// PresenceLimit is the largest room whose members are told of every join and leave and
	// get the whole online list; larger rooms list their first PresenceLimit members and
	// report the count (default 100).
	PresenceLimit int
	// PresenceInterval is the shortest time between two online_count reports of a large
	// room (default 2 s).
	PresenceInterval time.Duration
	// FlushInterval is the shortest time between two fan-outs of a busy room of 100
	// members: messages arriving meanwhile are sent together (default 4 ms; a quiet room
	// sends at once). The interval is proportional to the room's size, up to 10 ×
	// FlushInterval.
	FlushInterval time.Duration
	// PublishTimeout bounds storing one message.
	PublishTimeout time.Duration
	// Limits is sent to clients in welcome.
	Limits protocol.Limits
	// Version is sent to clients in welcome.
	Version string
}

// Defaults.
const (
	DefaultMaxBodyBytes     = 16 << 10
	DefaultHistorySize      = 50
	DefaultCacheSize        = 256
	DefaultTypingInterval   = 2 * time.Second
	DefaultPublishTimeout   = 5 * time.Second
	DefaultFlushInterval    = 4 * time.Millisecond
	DefaultPresenceLimit    = 100
	DefaultPresenceInterval = 2 * time.Second
	// MaxRecovery is how many missed messages a join with since replays at most.
	MaxRecovery = 1000
)

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.HistorySize <= 0 {
		c.HistorySize = DefaultHistorySize
	}
	if c.CacheSize < c.HistorySize {
		c.CacheSize = max(DefaultCacheSize, c.HistorySize)
	}
	if c.TypingInterval <= 0 {
		c.TypingInterval = DefaultTypingInterval
	}
	if c.PresenceLimit <= 0 {
		c.PresenceLimit = DefaultPresenceLimit
	}
	if c.PresenceInterval <= 0 {
		c.PresenceInterval = DefaultPresenceInterval
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.RateBurst <= 0 {
		c.RateBurst = 1
	}
	return c
}

// ErrClosed is returned when the hub is shut down.
var ErrClosed = errors.New("hub: closed")

// Hub routes stored messages to rooms and creates rooms on demand.
type Hub struct {
	cfg    Config
	broker broker.Broker
	log    *slog.Logger

	mu     sync.RWMutex
	rooms  map[string]*room
	closed bool
	wg     sync.WaitGroup // room goroutines

	stopFeed func()
}

// New returns a hub that stores through b and receives every stored message from it.
func New(cfg Config, b broker.Broker, log *slog.Logger) (*Hub, error) {
	h := &Hub{
		cfg:    cfg.withDefaults(),
		broker: b,
		log:    log,
		rooms:  make(map[string]*room),
	}
	stop, err := b.Subscribe(h.route)
	if err != nil {
		return nil, err
	}
	h.stopFeed = stop
	return h, nil
}

// route hands a stored message to its room's owner goroutine, if the room has members here.
// It runs on the broker's delivery goroutine; waiting here slows the feed, never a client.
func (h *Hub) route(m protocol.Message) {
	h.mu.RLock()
	r := h.rooms[m.Room]
	h.mu.RUnlock()
	if r == nil {
		return
	}
	select {
	case r.deliver <- m:
	case <-r.stopped:
	}
}

// acquire returns the room named name, creating and starting it if needed, and counts one
// more member for it so that it is not stopped while the caller uses it.
func (h *Hub) acquire(name string) (*room, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	r := h.rooms[name]
	if r == nil {
		r = newRoom(name, h)
		h.rooms[name] = r
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			r.run()
		}()
	}
	r.refs++
	return r, nil
}

// release undoes acquire. The last release stops the room: its recent messages are read
// from storage again when someone joins it next.
func (h *Hub) release(r *room) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r.refs--
	if r.refs == 0 && h.rooms[r.name] == r {
		delete(h.rooms, r.name)
		r.stop()
	}
}

// RoomInfo describes a room: its name and how many connections on this node are in it.
type RoomInfo struct {
	Name    string `json:"name"`
	Members int    `json:"members"`
}

// Rooms lists the rooms that have stored messages or members here, by name. The default
// room is always listed.
func (h *Hub) Rooms(ctx context.Context) ([]RoomInfo, error) {
	stored, err := h.broker.Rooms(ctx)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{protocol.DefaultRoom: 0}
	for _, name := range stored {
		counts[name] = 0
	}
	h.mu.RLock()
	for name, r := range h.rooms {
		counts[name] = r.refs
	}
	h.mu.RUnlock()
	out := make([]RoomInfo, 0, len(counts))
	for name, n := range counts {
		out = append(out, RoomInfo{Name: name, Members: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Close stops receiving messages and stops every room. Sessions still open get nothing
// more; the caller closes their connections.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	for name, r := range h.rooms {
		delete(h.rooms, name)
		r.stop()
	}
	h.mu.Unlock()
	h.stopFeed()
	h.wg.Wait()
}
