// Package broker is what distchat needs from storage, as interfaces with their guarantees:
// Log (a room's entries: publish, live delivery, reads), State (the small key-value state
// every node shares) and Health (readiness and counters), and Broker, all three with
// Close, for whoever opens and owns the storage. Memory implements them in this process
// (tests, development, --store memory); server/broker/jetstream on NATS JetStream (the
// default, durable and shared by every node of a cluster); brokertest is the behaviour
// every implementation passes. Nothing here knows NATS.
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

// Log is the rooms' entries (messages and the events about them): what the hub stores,
// receives and reads. Implementations are safe for concurrent use and keep these
// guarantees:
//
//   - Publish does not wait for storage: it calls done exactly once, when the entry is
//     stored (durably, for a durable broker) or has failed, within about the broker's
//     publish timeout (a duplicate's original is read after its acknowledgement, which
//     may take a few seconds more), or at once with ErrClosed after Close. done may run
//     before Publish returns and on any goroutine; it must not block. A stored entry has
//     Seq, TS and ID filled in. Seq is strictly increasing per room, not necessarily
//     contiguous, and ID is unique across rooms. Publishes are pipelined: the next may
//     start before the previous one is stored. A failed publish may still have been
//     stored; publishing again with the same dedupe key stores it at most once.
//   - Publish with a non-empty dedupe key that was already used for a stored entry in the
//     same room, within the broker's dedupe window, stores nothing and reports the
//     original entry's Seq and ID with dup=true.
//   - Subscribe delivers the room's entries with Seq > after, whether stored before or
//     after the call, in Seq order and never one twice, until stop is called (after it
//     returns, fn is not called again) or the broker is closed. Every entry that storage
//     still holds when the subscription reaches it is delivered: an entry that live
//     delivery lost is read from storage before the later ones go on. An entry that
//     storage no longer holds by then (removed by the room's retention, erased) is
//     skipped, and so is one that cannot be decoded; one that a lagging copy of a
//     distributed store does not have yet is waited for, never skipped. fn is called one call at
//     a time per subscription, from any goroutine; it must not block.
//   - Before and After read stored entries, oldest first, and report whether more remain
//     beyond the page in the direction read. They cost a few round trips to storage per
//     page, whatever the size of the store.
type Log interface {
	// Publish starts storing m in m.Room and reports the outcome to done.
	Publish(m protocol.Message, dedupeKey string, done Done)
	// Subscribe delivers room's entries after seq after to fn.
	Subscribe(room string, after uint64, fn func([]protocol.Message)) (stop func(), err error)
	// Before returns up to limit entries of room with Seq < before (before 0: the latest),
	// oldest first, and whether older entries remain.
	Before(ctx context.Context, room string, before uint64, limit int) ([]protocol.Message, bool, error)
	// After returns up to limit entries of room with Seq > after, oldest first, and whether
	// newer entries remain.
	After(ctx context.Context, room string, after uint64, limit int) ([]protocol.Message, bool, error)
	// Get reads the entry of room stored at seq, or fails with ErrNotFound.
	Get(ctx context.Context, room string, seq uint64) (protocol.Message, error)
	// Erase removes the entry of room stored at seq from storage, its content overwritten
	// (a deleted message, never to be read again), or fails with ErrNotFound.
	Erase(ctx context.Context, room string, seq uint64) error
	// CountAfter returns how many entries of room are stored after seq.
	CountAfter(ctx context.Context, room string, seq uint64) (uint64, error)
	// Rooms lists the rooms that have stored entries.
	Rooms(ctx context.Context) ([]RoomInfo, error)
	// Epoch names the store the seqs belong to ("" until it is known): it changes when the
	// store is made anew (a restored backup, a re-created stream), whose seqs start again
	// and mean other entries.
	Epoch() string
}

// Health is how the node's storage is doing, for readiness probes and metrics.
type Health interface {
	// Ready returns nil when the broker can store and deliver messages, or why it cannot.
	Ready() error
	// Stats reports what this node's broker carries.
	Stats() Stats
}

// Broker is the node's storage as a whole, for whoever opens it and owns it (main, the
// server): the log, the shared state kept with it, its health, and Close.
type Broker interface {
	Log
	Health
	// State is the small key-value store of the node's shared state (read positions,
	// direct-message rooms, topics, revocations, the session key), kept with the entries.
	State() State
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
	// LastTS is when its latest entry was stored (Unix milliseconds; 0: unknown).
	LastTS int64
}

// State is a key-value store shared by every node. Keys are dot-separated tokens of
// [-_=a-zA-Z0-9]. Its guarantees: Create stores a key once, however many nodes try at
// once, and Update is a compare-and-set, so that concurrent changes from several nodes are
// never lost. Reads are not linearizable in a cluster: any copy of the state may answer
// them, so a read made right after a Put or Create returned (on any node) may, for a
// moment, still see the value before. Implementations are safe for concurrent use.
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
	// ends with '.'; value nil for a key removed earlier, where the store keeps a marker of
	// it), then with every change made afterwards on any node (value nil: the key was
	// removed), one call at a time, in order, until ctx ends. It returns ctx's error then,
	// or an error sooner when storage cannot be watched (try again).
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
