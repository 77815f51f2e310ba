// Package hub keeps the rooms served by this node, their members and presence, and fans
// every stored message out to the local members of its room. Each room is owned by one
// goroutine that talks over channels (room.go, fanout.go); the Hub creates and retires
// rooms, and keeps what spans rooms on this node: the sessions of the people connected
// here (session.go, users.go), the rooms held per address and per person (holders.go) and
// the node's read slots. It knows nothing of HTTP or NATS: it stores and receives a room's
// entries through a broker.Log, keeps what is stored about people (direct-message rooms,
// read positions, topics) through People, shares presence through a presence.Bus, and
// sends encoded objects through the Conn interface.
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/presence"
	"github.com/distchat/distchat/server/protocol"
)

// Conn is a client connection as the hub sees it.
type Conn interface {
	// Send queues encoded objects (one, or several separated by '\n') without blocking;
	// false means the connection is closed or too slow (and is being closed). The bytes
	// are shared with other connections and must not be modified.
	Send(objs []byte) bool
	// Close closes the connection with a WebSocket close code, after what is queued.
	Close(code int, reason string)
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
	// PresenceGrace is how long a person whose last device left stays in a room's online
	// list before the room hears they left: a reload, a reconnect or a move to another
	// node within it is no leave and join (default 3 s; negative: none).
	PresenceGrace time.Duration
	// FlushInterval is the shortest time between two fan-outs of a busy room of 100
	// members: messages arriving meanwhile are sent together (default 4 ms; a quiet room
	// sends at once). The interval is proportional to the room's size, up to 10 ×
	// FlushInterval.
	FlushInterval time.Duration
	// ReadTimeout bounds one storage read (a room's first load, a recovery, a history
	// page).
	ReadTimeout time.Duration
	// LoadWait is how long a join waits for a room that cannot load its history before it
	// is refused with unavailable (the room keeps trying).
	LoadWait time.Duration
	// MaxInflight bounds the messages of one connection waiting for storage; a client
	// that sends faster waits (its reader stops reading) rather than queueing without end.
	MaxInflight int
	// MaxReads bounds the history reads of one connection running at once.
	MaxReads int
	// MaxNodeReads bounds the reads of stored messages this node's rooms and connections
	// run at once (first loads, recoveries, history pages; default 8): what they read is
	// held in memory until it is sent, so this bounds that memory.
	MaxNodeReads int
	// MaxRoomsPerConn bounds the rooms one connection is in (default 50).
	MaxRoomsPerConn int
	// MaxRooms bounds the rooms served by this node at once (default 10,000), and, apart,
	// the direct-message rooms.
	MaxRooms int
	// MaxRoomsPerIP and MaxRoomsPerUser bound the distinct rooms the connections of one
	// address, and of one person, hold together (defaults 500 and 100; negative: no
	// limit). Direct-message rooms are not counted.
	MaxRoomsPerIP   int
	MaxRoomsPerUser int
	// HistoryRate and HistoryBurst limit a connection's history requests, apart from its
	// other requests (default 5 a second, bursts of 10; a negative rate: no limit).
	HistoryRate  float64
	HistoryBurst int
	// Limits is sent to clients in welcome.
	Limits protocol.Limits
	// Version is sent to clients in welcome.
	Version string
	// Metrics receives what the hub does (nil: none are kept).
	Metrics Metrics
}

// Defaults.
const (
	DefaultMaxBodyBytes     = 16 << 10
	DefaultHistorySize      = 50
	DefaultCacheSize        = 256
	DefaultTypingInterval   = 2 * time.Second
	DefaultReadTimeout      = 5 * time.Second
	DefaultLoadWait         = 3 * time.Second
	DefaultFlushInterval    = 4 * time.Millisecond
	DefaultPresenceLimit    = 100
	DefaultPresenceInterval = 2 * time.Second
	DefaultPresenceGrace    = 3 * time.Second
	DefaultMaxInflight      = 128
	DefaultMaxReads         = 2
	DefaultMaxNodeReads     = 8
	DefaultMaxRoomsPerConn  = 50
	DefaultMaxRooms         = 10000
	DefaultMaxRoomsPerIP    = 500
	DefaultMaxRoomsPerUser  = 100
	DefaultHistoryRate      = 5
	DefaultHistoryBurst     = 10
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
	if c.PresenceGrace == 0 {
		c.PresenceGrace = DefaultPresenceGrace
	}
	c.PresenceGrace = max(c.PresenceGrace, 0)
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.LoadWait <= 0 {
		c.LoadWait = DefaultLoadWait
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.MaxReads <= 0 {
		c.MaxReads = DefaultMaxReads
	}
	if c.MaxNodeReads <= 0 {
		c.MaxNodeReads = DefaultMaxNodeReads
	}
	if c.MaxRoomsPerConn <= 0 {
		c.MaxRoomsPerConn = DefaultMaxRoomsPerConn
	}
	if c.MaxRooms <= 0 {
		c.MaxRooms = DefaultMaxRooms
	}
	if c.MaxRoomsPerIP == 0 {
		c.MaxRoomsPerIP = DefaultMaxRoomsPerIP
	}
	if c.MaxRoomsPerUser == 0 {
		c.MaxRoomsPerUser = DefaultMaxRoomsPerUser
	}
	if c.HistoryRate == 0 {
		c.HistoryRate = DefaultHistoryRate
	}
	if c.HistoryBurst <= 0 {
		c.HistoryBurst = DefaultHistoryBurst
	}
	if c.RateBurst <= 0 {
		c.RateBurst = 1
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	return c
}

// Errors of acquire.
var (
	// ErrClosed is returned when the hub is shut down.
	ErrClosed = errors.New("hub: closed")
	// ErrTooManyRooms: the node serves MaxRooms rooms already.
	ErrTooManyRooms = errors.New("hub: too many rooms")
)

// People is what the hub keeps in the shared state about people and rooms, beyond the
// rooms' entries (people.Store). Calls wait for storage; the hub makes them with a
// deadline (Config.ReadTimeout), never from a room's goroutine.
type People interface {
	// DM returns the two people of a direct-message room as recorded when it was opened;
	// found is false when nobody opened it. A record that is stored but cannot be decoded
	// is found, with an error.
	DM(ctx context.Context, room string) (users [2]protocol.User, found bool, err error)
	// OpenDM records room as the direct-message room of me and other (once) and adds it
	// to both people's lists, or refuses (a *protocol.Error for me) when a list is full.
	// It returns other named as the record or their id names them when other has no name.
	OpenDM(ctx context.Context, room string, me, other protocol.User) (protocol.User, *protocol.Error, error)
	// HideDM takes a direct-message room off a person's list of conversations.
	HideDM(ctx context.Context, userID, room string) error
	// ReadPosition returns a person's stored read position in a room; ok is false when
	// they have none.
	ReadPosition(ctx context.Context, userID, room string) (seq uint64, ok bool, err error)
	// MoveRead stores a person's read position in a room, never moving it backwards,
	// whichever node or device stores one at the same time.
	MoveRead(ctx context.Context, userID, room string, seq uint64) error
	// Topic returns a room's current topic ("": none).
	Topic(ctx context.Context, room string) (string, error)
	// SetTopic stores a room's current topic.
	SetTopic(ctx context.Context, room, topic string) error
	// Topics returns every room's topic, by room.
	Topics(ctx context.Context) (map[string]string, error)
}

// Hub creates rooms on demand and retires them when their last local member leaves.
type Hub struct {
	cfg    Config
	broker broker.Log
	people People
	bus    presence.Bus
	log    *slog.Logger
	// ctx ends when the hub closes; storage reads use it.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	rooms    map[string]*room
	dmRooms  int              // of rooms, the direct-message ones: counted apart from MaxRooms
	retiring map[string]*room // stopped rooms whose goroutine has not ended yet
	closed   bool
	wg       sync.WaitGroup // room goroutines

	heldMu sync.Mutex
	held   map[string]holders // by holdKeys: the rooms of one address, of one person

	usersMu sync.Mutex
	users   map[string]*localUser // people connected here, by user id
	dms     *dmCache              // direct-message room -> its two people

	readers chan struct{} // one per read running, at most MaxNodeReads

	storageErrors atomic.Uint64
	lastErrLog    atomic.Int64
}

// New returns a hub that stores and receives messages through b, keeps what is stored
// about people in p, and shares presence through bus (nil: this node is alone). ctx is
// the server's lifetime: the storage calls the hub makes for its rooms end with it, and
// with Close.
func New(ctx context.Context, cfg Config, b broker.Log, p People, bus presence.Bus, log *slog.Logger) *Hub {
	if bus == nil {
		bus = presence.Local{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		cfg:      cfg.withDefaults(),
		broker:   b,
		people:   p,
		bus:      bus,
		log:      log,
		rooms:    make(map[string]*room),
		retiring: make(map[string]*room),
		users:    make(map[string]*localUser),
		dms:      newDMCache(maxCachedDMs),
		held:     make(map[string]holders),
	}
	h.readers = make(chan struct{}, h.cfg.MaxNodeReads)
	h.ctx, h.cancel = context.WithCancel(ctx)
	return h
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
	dm := protocol.IsDM(name)
	if r == nil && (dm && h.dmRooms >= h.cfg.MaxRooms || !dm && len(h.rooms)-h.dmRooms >= h.cfg.MaxRooms) {
		return nil, ErrTooManyRooms
	}
	if r == nil {
		if dm {
			h.dmRooms++
		}
		// A previous run of the room may still be stopping: the new one starts after it,
		// so that the other nodes see its members leave before they join again.
		r = newRoom(name, h, h.retiring[name])
		h.rooms[name] = r
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			r.run()
			h.mu.Lock()
			if h.retiring[name] == r {
				delete(h.retiring, name)
			}
			h.mu.Unlock()
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
		if protocol.IsDM(r.name) {
			h.dmRooms--
		}
		h.retiring[r.name] = r
		r.stop()
	}
}

// RoomInfo describes a room: its name, the people in it (on every node, as far as this
// node knows: exact for rooms with members here, 0 otherwise) and its stored messages.
type RoomInfo struct {
	Name     string `json:"name"`
	Members  int    `json:"members"`
	Messages uint64 `json:"messages"`
	Topic    string `json:"topic,omitempty"`
	// LastActivity is when the room's latest entry was stored (Unix ms; 0: unknown).
	LastActivity int64 `json:"last_activity,omitempty"`
}

// Rooms lists the rooms that have stored messages or members here, by name, with their
// topics and last activity. The default room is always listed; direct-message rooms never
// are.
func (h *Hub) Rooms(ctx context.Context) ([]RoomInfo, error) {
	stored, err := h.broker.Rooms(ctx)
	if err != nil {
		return nil, err
	}
	topics, err := h.people.Topics(ctx)
	if err != nil {
		return nil, err
	}
	infos := map[string]*RoomInfo{protocol.DefaultRoom: {Name: protocol.DefaultRoom}}
	for _, s := range stored {
		infos[s.Name] = &RoomInfo{Name: s.Name, Messages: s.Messages, LastActivity: s.LastTS}
	}
	h.mu.Lock()
	for name, r := range h.rooms {
		if infos[name] == nil {
			infos[name] = &RoomInfo{Name: name}
		}
		infos[name].Members = int(r.people.Load())
	}
	h.mu.Unlock()
	for name, info := range infos {
		if protocol.IsDM(name) {
			delete(infos, name)
			continue
		}
		info.Topic = topics[name]
	}
	out := make([]RoomInfo, 0, len(infos))
	for _, i := range infos {
		out = append(out, *i)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Close stops every room. Sessions still open get nothing more; the caller closes their
// connections.
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
	h.cancel()
	h.wg.Wait()
}

// readSlot waits for one of the node's MaxNodeReads read slots, at most until ctx ends.
func (h *Hub) readSlot(ctx context.Context) (release func(), err error) {
	select {
	case h.readers <- struct{}{}:
		return func() { <-h.readers }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for one of this node's reads to end: %w", broker.ErrUnavailable, ctx.Err())
	}
}

// storageFailed logs a storage failure, at most once every few seconds with the count
// since the last line: an outage fails every message, and one line per message would bury
// the log.
func (h *Hub) storageFailed(what, room string, err error) {
	n := h.storageErrors.Add(1)
	now := time.Now().UnixNano()
	last := h.lastErrLog.Load()
	if now-last < int64(5*time.Second) || !h.lastErrLog.CompareAndSwap(last, now) {
		return
	}
	h.log.Warn("storage failed", "what", what, "room", room, "err", err, "failures_so_far", n)
}
