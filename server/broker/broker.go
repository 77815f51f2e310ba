// Package broker stores room messages and delivers them to every node in order. The hub
// talks to it through the Broker interface; Memory keeps everything in this process (tests,
// development), JetStream keeps it in NATS JetStream (the default, durable and shared by
// every node of a cluster).
package broker

import (
	"context"
	"errors"

	"github.com/distchat/distchat/server/protocol"
)

// ErrClosed is returned by a broker after Close.
var ErrClosed = errors.New("broker: closed")

// Broker is what the hub needs from storage and distribution. Implementations must be safe
// for concurrent use and keep these guarantees:
//
//   - Publish returns only after the message is stored (durably, for a durable broker). It
//     fills in Seq and TS (and ID when empty). Seq is strictly increasing per room, not
//     necessarily contiguous.
//   - Publish with a non-empty dedupe key that was already used for a stored message in the
//     same room, within the broker's dedupe window, stores nothing and returns the original
//     message's Seq and ID with dup=true.
//   - Subscribe's handler sees every message stored after Subscribe returned, exactly once,
//     in Seq order per room, from one goroutine at a time. It may also see messages stored
//     shortly before; callers drop those by Seq.
//   - Before and After read stored messages, oldest first, and report whether more messages
//     remain beyond the page in the direction read.
type Broker interface {
	// Publish stores m in m.Room and returns the stored message.
	Publish(ctx context.Context, m protocol.Message, dedupeKey string) (stored protocol.Message, dup bool, err error)
	// Subscribe calls fn for every stored message until the returned stop function is
	// called or the broker is closed.
	Subscribe(fn func(protocol.Message)) (stop func(), err error)
	// Before returns up to limit messages of room with Seq < before (before 0: the latest),
	// oldest first, and whether older messages remain.
	Before(ctx context.Context, room string, before uint64, limit int) ([]protocol.Message, bool, error)
	// After returns up to limit messages of room with Seq > after, oldest first, and whether
	// newer messages remain.
	After(ctx context.Context, room string, after uint64, limit int) ([]protocol.Message, bool, error)
	// Rooms lists the rooms that have stored messages.
	Rooms(ctx context.Context) ([]string, error)
	// Close stops deliveries and releases resources. Publishes in flight finish first.
	Close() error
}
