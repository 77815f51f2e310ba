package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distchat/distchat/server/presence"
	"github.com/distchat/distchat/server/protocol"
)

// People on this node.
//
// A person (a user id) may have several connections, on this node and on others. The hub
// keeps one localUser per person connected here: their current name, shared by their
// sessions, and the read positions known here. News about a person from another node (a
// rename, a direct-message room opened with them, a read position moved on another
// device) comes through the presence bus's per-person subject while they are connected
// here. What is stored about people (direct-message rooms and lists, read positions) is
// the People store's (server/people); the hub keeps a cache of the direct-message rooms'
// two people, which never change once a room is opened.

// localUser is a person with at least one connection on this node.
type localUser struct {
	id   string
	name atomic.Pointer[string]

	// Guarded by hub.usersMu.
	sessions  map[*Session]bool
	stopWatch func()

	// fresh: made for a guest without a token, so nothing of theirs is stored yet.
	fresh bool

	mu    sync.Mutex
	reads map[string]uint64 // read positions known here, by room
}

func (u *localUser) user() protocol.User { return protocol.User{ID: u.id, Name: *u.name.Load()} }

// moveRead records a read position if it is past the known one. A first position is
// recorded whatever its seq: 0 is someone who saw a room before it had any entry, and
// everything stored after it is unread.
func (u *localUser) moveRead(room string, seq uint64) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.reads == nil {
		u.reads = make(map[string]uint64)
	}
	if old, known := u.reads[room]; known && seq <= old {
		return false
	}
	u.reads[room] = seq
	return true
}

func (u *localUser) readPosition(room string) (uint64, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	seq, ok := u.reads[room]
	return seq, ok
}

// attach registers a session of user and returns the person, creating it (with user's
// name) for their first connection here.
func (h *Hub) attach(s *Session, user protocol.User, fresh bool) *localUser {
	h.usersMu.Lock()
	defer h.usersMu.Unlock()
	u := h.users[user.ID]
	if u == nil {
		u = &localUser{id: user.ID, sessions: make(map[*Session]bool), fresh: fresh}
		name := user.Name
		u.name.Store(&name)
		h.users[user.ID] = u
		u.stopWatch = h.bus.WatchUser(user.ID, func(ev presence.UserEvent) { h.userEvent(u, ev) })
	}
	u.sessions[s] = true
	return u
}

// detach forgets a session; the person's last one here forgets the person.
func (h *Hub) detach(s *Session) {
	h.usersMu.Lock()
	defer h.usersMu.Unlock()
	u := s.lu
	delete(u.sessions, s)
	if len(u.sessions) == 0 && h.users[u.id] == u {
		delete(h.users, u.id)
		u.stopWatch()
	}
}

// Disconnect closes the connections opened before `before` of the people whose ids match
// (everyone's when match is nil) with error unauthorized and close code 1008: their
// sessions were ended.
func (h *Hub) Disconnect(match func(userID string) bool, before time.Time, reason string) {
	h.usersMu.Lock()
	var ss []*Session
	for id, u := range h.users {
		if match == nil || match(id) {
			for s := range u.sessions {
				if s.since.Before(before) {
					ss = append(ss, s)
				}
			}
		}
	}
	h.usersMu.Unlock()
	obj := protocol.EncodeError(&protocol.Error{Code: protocol.CodeUnauthorized, Message: reason}, "")
	for _, s := range ss {
		s.conn.Send(obj)
		s.conn.Close(closePolicyViolation, "session ended")
	}
}

// Restart closes every connection with 1012 (service restart), telling it why: what it
// holds no longer matches the store (a new epoch), and it reconnects and starts afresh.
// The rooms retire as their members leave, and start again from the store.
func (h *Hub) Restart(reason string) {
	h.usersMu.Lock()
	var ss []*Session
	for _, u := range h.users {
		for s := range u.sessions {
			ss = append(ss, s)
		}
	}
	h.usersMu.Unlock()
	obj := protocol.EncodeError(&protocol.Error{Code: protocol.CodeUnavailable, Message: reason}, "")
	for _, s := range ss {
		s.conn.Send(obj)
		s.conn.Close(closeServiceRestart, "the store was made anew")
	}
}

// closeServiceRestart (1012) tells clients to reconnect: the server restarted what they use.
const closeServiceRestart = 1012

// closePolicyViolation closes a connection whose session was ended (1008).
const closePolicyViolation = 1008

// devices returns the person's sessions on this node.
func (h *Hub) devices(u *localUser) []*Session {
	h.usersMu.Lock()
	defer h.usersMu.Unlock()
	out := make([]*Session, 0, len(u.sessions))
	for s := range u.sessions {
		out = append(out, s)
	}
	return out
}

// localUserOf returns the person with this id connected here, or nil.
func (h *Hub) localUserOf(id string) *localUser {
	h.usersMu.Lock()
	defer h.usersMu.Unlock()
	return h.users[id]
}

// userEvent handles news about a person connected here from another node. It runs on the
// bus's goroutine: anything that may wait goes to a goroutine of its own.
func (h *Hub) userEvent(u *localUser, ev presence.UserEvent) {
	switch ev.Kind {
	case "rename":
		if name, ok := protocol.NormalizeName(ev.Name); ok {
			go h.rename(u, name, false)
		}
	case "dm":
		h.cacheDM(ev.Room, [2]string{u.id, ev.Other.ID})
		obj := protocol.Encode(protocol.DMOpened{Type: protocol.TypeDM, Room: ev.Room, User: ev.Other})
		for _, s := range h.devices(u) {
			s.conn.Send(obj)
		}
	case "read":
		if u.moveRead(ev.Room, ev.Seq) {
			go h.sendReadState(u, ev.Room, ev.Seq, nil)
		}
	}
}

// rename gives a person a new name on this node: their devices hear it (user), every room
// they are in here announces it, and with publish the other nodes do the same.
func (h *Hub) rename(u *localUser, name string, publish bool) {
	if old := u.name.Swap(&name); *old == name {
		return
	}
	obj := protocol.Encode(protocol.UserUpdate{Type: protocol.TypeUser, User: u.user()})
	for _, s := range h.devices(u) {
		s.conn.Send(obj)
	}
	for _, r := range h.roomList() {
		r.post(op{kind: opRename, user: protocol.User{ID: u.id, Name: name}})
	}
	if publish {
		h.bus.PublishUser(u.id, presence.UserEvent{Kind: "rename", Name: name})
	}
}

func (h *Hub) roomList() []*room {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		out = append(out, r)
	}
	return out
}

// DMRoom returns the name of the direct-message room of two people: derived from both ids,
// the same whoever opens it, and not a name anyone picks.
func DMRoom(a, b string) string {
	if b < a {
		a, b = b, a
	}
	sum := sha256.Sum256([]byte(a + "\x00" + b))
	return protocol.DMPrefix + hex.EncodeToString(sum[:16])
}

func (h *Hub) cacheDM(room string, ids [2]string) { h.dms.store(room, ids) }

// dmMembers returns the two people of a direct-message room, from the cache or the shared
// state; ok is false when no such room was opened.
func (h *Hub) dmMembers(ctx context.Context, room string) (ids [2]string, ok bool, err error) {
	if ids, ok := h.dms.load(room); ok {
		return ids, true, nil
	}
	users, found, err := h.people.DM(ctx, room)
	if err != nil || !found {
		return ids, false, err
	}
	ids = [2]string{users[0].ID, users[1].ID}
	h.cacheDM(room, ids)
	return ids, true, nil
}

// MayJoin reports whether a person may be in a room: any room, but a direct-message room
// only for its two people.
func (h *Hub) MayJoin(ctx context.Context, room, userID string) (bool, error) {
	if !protocol.IsDM(room) {
		return true, nil
	}
	ids, ok, err := h.dmMembers(ctx, room)
	return ok && (ids[0] == userID || ids[1] == userID), err
}

// sendReadState tells a person's devices here (all, or only s) their read position in a
// room and how many entries follow it.
func (h *Hub) sendReadState(u *localUser, room string, seq uint64, only *Session) {
	ctx, cancel := context.WithTimeout(h.ctx, h.cfg.ReadTimeout)
	defer cancel()
	unread, err := h.broker.CountAfter(ctx, room, seq)
	if err != nil {
		h.storageFailed("counting unread entries", room, err)
		return
	}
	obj := protocol.Encode(protocol.ReadState{Type: protocol.TypeRead, Room: room, Seq: seq, Unread: unread})
	if only != nil {
		only.conn.Send(obj)
		return
	}
	for _, s := range h.devices(u) {
		if _, in := s.roomsHeld.Load(room); in {
			s.conn.Send(obj)
		}
	}
}

// readPosition returns a person's read position in a room: known here, or from the shared
// state; ok is false when they have none.
func (h *Hub) readPosition(ctx context.Context, u *localUser, room string) (uint64, bool, error) {
	if seq, ok := u.readPosition(room); ok {
		return seq, true, nil
	}
	seq, ok, err := h.people.ReadPosition(ctx, u.id, room)
	if ok {
		u.moveRead(room, seq)
	}
	return seq, ok, err
}
