// Package presence is how a node shares who is in which room, and who is typing, with the
// other nodes of a cluster: the Bus interface the hub uses, with its guarantees, and Local
// for a node alone. The NATS implementation is natsbus. Presence is never stored: it is
// rebuilt from the live nodes at any time.
package presence

import (
	"github.com/distchat/distchat/server/protocol"
)

// Member is one person in a room, how many devices (connections) they have there, and
// since when (Unix milliseconds): rooms list people in that order, the same on every node.
type Member struct {
	User    protocol.User `json:"u"`
	Devices int           `json:"d"`
	Since   int64         `json:"s"`
}

// Handler receives a room's presence on the other nodes. Its methods are called from the
// bus's goroutine, one at a time, and must not block.
type Handler interface {
	// Remote reports that a person now has m.Devices connected to the room on other nodes
	// in total (0: none left), since m.Since (the earliest of the nodes').
	Remote(m Member)
	// Typing reports that user, connected to another node, is typing in the room.
	Typing(user protocol.User)
	// Synced reports that the first view of the other nodes is complete (every live node
	// answered, or the wait ended): the room can list its members.
	Synced()
}

// Bus shares presence with the other nodes. Implementations are safe for concurrent use;
// nothing they send is stored, so what a node misses (it was cut off, a message was lost)
// is made good by the next change, the answers to a room's first query and the nodes'
// heartbeats, not by a replay. The hub keeps everything it must not lose in storage.
type Bus interface {
	// Watch starts sharing the room's presence: h learns about the other nodes' members,
	// and the returned Room announces this node's. One watch per room at a time.
	Watch(room string, h Handler) Room
	// WatchUser delivers the events about one person published by other nodes (at most
	// once, in order per node) until stop is called. fn must not block.
	WatchUser(id string, fn func(UserEvent)) (stop func())
	// PublishUser tells the other nodes something about a person, without waiting (at
	// most once: a node that misses it is not told again).
	PublishUser(id string, ev UserEvent)
}

// UserEvent is news about a person for their devices on other nodes.
type UserEvent struct {
	// Kind is "rename" (Name), "dm" (a direct-message Room was opened with Other) or
	// "read" (their read position in Room moved to Seq).
	Kind  string        `json:"k"`
	Name  string        `json:"n,omitempty"`
	Room  string        `json:"r,omitempty"`
	Other protocol.User `json:"o,omitzero"`
	Seq   uint64        `json:"s,omitempty"`
	Node  string        `json:"node"`
}

// Room announces this node's members of one room.
type Room interface {
	// Set reports how many devices a person has in the room on this node (0: none), and
	// since when.
	Set(m Member)
	// Typing tells the other nodes that user is typing in the room.
	Typing(user protocol.User)
	// Stop ends the watch; the other nodes learn that this node has nobody left there.
	Stop()
}

// Local is the Bus of a node alone: there are no other nodes, so nothing is shared.
type Local struct{}

var _ Bus = Local{}

// Watch implements Bus: the room is in sync at once.
func (Local) Watch(_ string, h Handler) Room {
	h.Synced()
	return localRoom{}
}

// WatchUser implements Bus: no other node publishes.
func (Local) WatchUser(string, func(UserEvent)) func() { return func() {} }

// PublishUser implements Bus: there is nobody to tell.
func (Local) PublishUser(string, UserEvent) {}

type localRoom struct{}

func (localRoom) Set(Member)           {}
func (localRoom) Typing(protocol.User) {}
func (localRoom) Stop()                {}
