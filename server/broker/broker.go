// Package broker stores room messages and delivers them, in order, to the nodes that serve
// the room. The hub talks to it through the Broker interface; Memory keeps everything in this
// process (tests, development), JetStream keeps it in NATS JetStream (the default, durable
// and shared by every node of a cluster).
package broker

import (
	"context"
	"errors"
	"time"

	"github.com/distchat/distchat/server/protocol"
)

// DefaultDedupeWindow is how long brokers remember a message's dedupe key by default.
const DefaultDedupeWindow = 2 * time.Minute

// Errors returned by brokers.
var (
	// ErrClosed is returned by a broker after Close.
	ErrClosed = errors.New("broker: closed")
	// ErrUnavailable means storage cannot take or serve messages right now (starting up,
	// no quorum, a publish that was not acknowledged in time). Trying again later may work.
	ErrUnavailable = errors.New("broker: storage unavailable")
	// ErrNotFound means no entry is stored at that seq in that room.
	ErrNotFound = errors.New("broker: no such entry")
)

// Broker is what the hub needs from storage and distribution. Implementations must be safe
// for concurrent use and keep these guarantees:
//
//   - Publish does not wait for storage: it calls done exactly once, when the message is
//     stored (durably, for a durable broker) or has failed, within the broker's publish
//     timeout, never later. done may run before Publish returns and on any goroutine; it
//     must not block. A stored message has Seq, TS and ID filled in. Seq is strictly
//     increasing per room, not necessarily contiguous, and ID is unique across rooms.
//     Publishes are pipelined: the next may start before the previous one is stored. A
//     failed publish may still have been stored; publishing again with the same dedupe
//     key stores it at most once.
//   - Publish with a non-empty dedupe key that was already used for a stored message in the
//     same room, within the broker's dedupe window, stores nothing and reports the
//     original message's Seq and ID with dup=true.
//   - Subscribe delivers every message of one room with Seq > after, whether stored before
//     or after the call, exactly once and in Seq order (filling any gap in live delivery
//     from storage), until stop is called or the broker is closed. fn is called from one
//     goroutine at a time per subscription; it must not block.
//   - Before and After read stored messages, oldest first, and report whether more messages
//     remain beyond the page in the direction read. They cost a few round trips to storage
//     per page, whatever the page size or the size of the store.
type Broker interface {
	// Publish starts storing m in m.Room and reports the outcome to done.
	Publish(m protocol.Message, dedupeKey string, done Done)
	// Subscribe delivers room's messages after seq after to fn.
	Subscribe(room string, after uint64, fn func([]protocol.Message)) (stop func(), err error)
	// Before returns up to limit messages of room with Seq < before (before 0: the latest),
	// oldest first, and whether older messages remain.
	Before(ctx context.Context, room string, before uint64, limit int) ([]protocol.Message, bool, error)
	// After returns up to limit messages of room with Seq > after, oldest first, and whether
	// newer messages remain.
	After(ctx context.Context, room string, after uint64, limit int) ([]protocol.Message, bool, error)
	// Get reads the entry of room stored at seq, or fails with ErrNotFound.
	Get(ctx context.Context, room string, seq uint64) (protocol.Message, error)
	// Erase removes the entry of room stored at seq from storage, its content overwritten
	// (a deleted message, never to be read again), or fails with ErrNotFound.
	Erase(ctx context.Context, room string, seq uint64) error
	// CountAfter returns how many entries of room are stored after seq.
	CountAfter(ctx context.Context, room string, seq uint64) (uint64, error)
	// Rooms lists the rooms that have stored messages.
	Rooms(ctx context.Context) ([]RoomInfo, error)
	// State is the small key-value store of the node's shared state (read positions,
	// direct-message rooms, topics, the session key), kept with the messages.
	State() State
	// Ready returns nil when the broker can store and deliver messages, or why it cannot.
	Ready() error
	// Stats reports what this node's broker carries, for health checks and tests.
	Stats() Stats
	// Close stops deliveries, fails publishes still waiting for storage with ErrClosed, and
	// releases resources.
	Close() error
}

// Done receives the outcome of a Publish: the stored message (or the original one, with
// dup, when the dedupe key was seen before), or an error.
type Done func(stored protocol.Message, dup bool, err error)

// RoomInfo describes a room in storage.
type RoomInfo struct {
	Name string
	// Messages is how many entries the room holds in storage.
	Messages uint64
	// LastTS is when its latest entry was stored (Unix milliseconds).
	LastTS int64
}

// State is a key-value store shared by every node. Keys are dot-separated tokens of
// [-_=a-zA-Z0-9]. Its guarantees: a value read after a Put or Create that returned
// reflects it, on any node; Create stores a key once, however many nodes try at once.
type State interface {
	// Get returns a key's value, or nil when there is none.
	Get(ctx context.Context, key string) ([]byte, error)
	// Create stores value under key unless the key exists, and returns what is stored.
	Create(ctx context.Context, key string, value []byte) ([]byte, error)
	// Put stores value under key.
	Put(ctx context.Context, key string, value []byte) error
	// Update replaces a key's value by change(old) (old nil when there is none), retrying
	// when another node changed it meanwhile; change returning nil leaves it as it is.
	Update(ctx context.Context, key string, change func(old []byte) []byte) error
	// List returns the values of the keys that start with prefix (which ends with '.').
	List(ctx context.Context, prefix string) (map[string][]byte, error)
	// Purge removes a key together with every earlier value of it the store may keep;
	// afterwards Get returns nil for it. Purging a missing key is no error.
	Purge(ctx context.Context, key string) error
	// Watch calls fn with the current value of every key that starts with prefix (which
	// ends with '.'), then with every change made afterwards on any node (value nil: the
	// key was removed), one call at a time, in order, until ctx ends. It returns ctx's
	// error then, or an error sooner when storage cannot be watched (try again).
	Watch(ctx context.Context, prefix string, fn func(key string, value []byte)) error
}

// Stats counts what a node's broker carries.
type Stats struct {
	// LiveRooms is how many rooms this node receives live messages for.
	LiveRooms int `json:"live_rooms"`
	// LiveMessages counts the live messages this node received since it started (gap fills
	// from storage excluded).
	LiveMessages uint64 `json:"live_messages"`
	// GapFills counts the times a room's live delivery was completed from storage.
	GapFills uint64 `json:"gap_fills"`
	// ReadRequests counts the requests made to storage to read messages.
	ReadRequests uint64 `json:"read_requests"`
	// ReadsInFlight is how many of those are waiting for their answers now.
	ReadsInFlight int `json:"reads_in_flight"`
	// Disconnects counts the times a connection to storage dropped; SlowConsumers the
	// times storage sent faster than a connection read (messages were dropped).
	Disconnects   uint64 `json:"disconnects"`
	SlowConsumers uint64 `json:"slow_consumers"`
}

// StorageState is the message stream's state as its leader reports it, for monitoring.
type StorageState struct {
	// Messages and Bytes are what the stream holds, every room together.
	Messages uint64
	Bytes    uint64
	// Leader is the name of the NATS server that leads the stream (the node's own server
	// when it is alone); empty while the stream has no leader.
	Leader string
	// Replicas are the stream's other copies, in a cluster.
	Replicas []ReplicaState
}

// ReplicaState is one copy of the stream other than the leader's.
type ReplicaState struct {
	// Name is the NATS server that keeps the copy.
	Name string
	// Current: the copy has everything the leader has.
	Current bool
	// Offline: the leader cannot reach the copy.
	Offline bool
	// Lag is how many operations the copy is behind the leader.
	Lag uint64
}
