package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
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
// sessions, and their read positions. News about a person from another node (a rename, a
// direct-message room opened with them, a read position moved on another device) comes
// through the presence bus's per-person subject while they are connected here.

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

// Keys of the shared state. Person ids are hashed: they may hold characters keys cannot.
func userKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

func readKey(userID, room string) string { return "read." + userKey(userID) + "." + room }
func dmKey(room string) string           { return "dm." + room }
func topicKey(room string) string        { return "topic." + room }

// A person's conversations are one key each (dmlist.<person>.<room>: the other person),
// so that opening one writes one small value, never a list that grows with every
// conversation. Earlier versions kept the whole list in one value (dms.<person>), which is
// still read, and changed only to hide a conversation.
func dmListPrefix(userID string) string     { return "dmlist." + userKey(userID) + "." }
func dmEntryKey(userID, room string) string { return dmListPrefix(userID) + room }
func legacyDMsKey(userID string) string     { return "dms." + userKey(userID) }

// DMRoom returns the name of the direct-message room of two people: derived from both ids,
// the same whoever opens it, and not a name anyone picks.
func DMRoom(a, b string) string {
	if b < a {
		a, b = b, a
	}
	sum := sha256.Sum256([]byte(a + "\x00" + b))
	return protocol.DMPrefix + hex.EncodeToString(sum[:16])
}

// dmRecord is a direct-message room's two people, in the shared state.
type dmRecord struct {
	Users [2]protocol.User `json:"users"`
}

func (h *Hub) cacheDM(room string, ids [2]string) { h.dms.Store(room, ids) }

// dmMembers returns the two people of a direct-message room, from the cache or the shared
// state; ok is false when no such room was opened.
func (h *Hub) dmMembers(ctx context.Context, room string) (ids [2]string, ok bool, err error) {
	if v, ok := h.dms.Load(room); ok {
		return v.([2]string), true, nil
	}
	data, err := h.broker.State().Get(ctx, dmKey(room))
	if err != nil || data == nil {
		return ids, false, err
	}
	var rec dmRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return ids, false, err
	}
	ids = [2]string{rec.Users[0].ID, rec.Users[1].ID}
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

// DMs lists a person's direct-message rooms and the other person of each: one watch of
// their entries (and one read of an earlier version's list).
func (h *Hub) DMs(ctx context.Context, userID string) ([]protocol.DMRoom, error) {
	st := h.broker.State()
	entries, err := st.List(ctx, dmListPrefix(userID))
	if err != nil {
		return nil, err
	}
	legacy, err := st.Get(ctx, legacyDMsKey(userID))
	if err != nil {
		return nil, err
	}
	var dms []protocol.DMRoom
	seen := map[string]bool{}
	for _, v := range entries {
		var d protocol.DMRoom
		if json.Unmarshal(v, &d) == nil && protocol.IsDM(d.Room) && !seen[d.Room] {
			seen[d.Room] = true
			dms = append(dms, d)
		}
	}
	var old []protocol.DMRoom
	if legacy != nil && json.Unmarshal(legacy, &old) == nil {
		for _, d := range old {
			if !seen[d.Room] {
				seen[d.Room] = true
				dms = append(dms, d)
			}
		}
	}
	sort.Slice(dms, func(i, j int) bool { return dms[i].Room < dms[j].Room })
	return dms, nil
}

// addDMs adds a direct-message room to both people's lists (once each), or refuses it when
// one of the lists holds MaxDMs conversations already.
func (h *Hub) addDMs(ctx context.Context, room string, me, other protocol.User) (*protocol.Error, error) {
	st := h.broker.State()
	for i, who := range []protocol.User{me, other} {
		have, err := h.DMs(ctx, who.ID)
		if err != nil {
			return nil, err
		}
		if len(have) < h.cfg.MaxDMs || slices.ContainsFunc(have, func(d protocol.DMRoom) bool { return d.Room == room }) {
			continue
		}
		msg := fmt.Sprintf("you have %d conversations, the most (--max-dms): hide one first", h.cfg.MaxDMs)
		if i == 1 {
			msg = fmt.Sprintf("%s has %d conversations, the most (--max-dms)", other.Name, h.cfg.MaxDMs)
		}
		return &protocol.Error{Code: protocol.CodeLimitExceeded, Message: msg}, nil
	}
	mine, _ := json.Marshal(protocol.DMRoom{Room: room, User: other})
	theirs, _ := json.Marshal(protocol.DMRoom{Room: room, User: me})
	if err := st.Put(ctx, dmEntryKey(me.ID, room), mine); err != nil {
		return nil, err
	}
	return nil, st.Put(ctx, dmEntryKey(other.ID, room), theirs)
}

// hideDM takes a direct-message room off a person's list (until one of the two opens it
// again); the conversation and the other person's entry stay.
func (h *Hub) hideDM(ctx context.Context, userID, room string) error {
	st := h.broker.State()
	if err := st.Purge(ctx, dmEntryKey(userID, room)); err != nil {
		return err
	}
	return st.Update(ctx, legacyDMsKey(userID), func(old []byte) []byte {
		var dms []protocol.DMRoom
		if old == nil || json.Unmarshal(old, &dms) != nil {
			return nil
		}
		kept := slices.DeleteFunc(dms, func(d protocol.DMRoom) bool { return d.Room == room })
		if len(kept) == len(dms) {
			return nil
		}
		v, _ := json.Marshal(kept)
		return v
	})
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
	data, err := h.broker.State().Get(ctx, readKey(u.id, room))
	if err != nil || data == nil {
		return 0, false, err
	}
	seq, err := strconv.ParseUint(string(data), 10, 64)
	if err != nil {
		return 0, false, nil
	}
	u.moveRead(room, seq)
	return seq, true, nil
}
