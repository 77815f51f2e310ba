package hub

import (
	"fmt"

	"github.com/distchat/distchat/server/protocol"
)

// Rooms per address and per person.
//
// A node serves at most MaxRooms rooms. Without a share per client, one address opening
// many connections, each in many rooms, could take them all (200 connections of 50 rooms
// held 10,000 rooms in 20 s), and then nobody could open a room or a direct-message room
// any more. So the distinct rooms that the connections of one address hold together are
// bounded (MaxRoomsPerIP), and so are those of one person's connections (MaxRoomsPerUser);
// direct-message rooms count apart from both and from MaxRooms (each person's are bounded
// by the list of their conversations).

// holders counts, for one address or one person, how many of its sessions hold each room.
type holders map[string]int

// holdKeys are the counters a session's rooms count against.
func (s *Session) holdKeys() [2]string { return [2]string{"ip " + s.addr, "user " + s.lu.id} }

// hold counts room as held by s, or refuses it when the session's address or person holds
// as many distinct rooms as they may. Direct-message rooms are not counted.
func (h *Hub) hold(s *Session, room string) *protocol.Error {
	if protocol.IsDM(room) {
		return nil
	}
	h.heldMu.Lock()
	defer h.heldMu.Unlock()
	keys := s.holdKeys()
	for i, limit := range [2]int{h.cfg.MaxRoomsPerIP, h.cfg.MaxRoomsPerUser} {
		if limit < 0 || (i == 0 && s.addr == "") {
			continue
		}
		held := h.held[keys[i]]
		if _, in := held[room]; !in && len(held) >= limit {
			what, flag := "this address", "--max-rooms-per-ip"
			if i == 1 {
				what, flag = "one person", "--max-rooms-per-user"
			}
			return &protocol.Error{Code: protocol.CodeLimitExceeded, Message: fmt.Sprintf(
				"the connections of %s may be in at most %d rooms together (%s); leave one first", what, limit, flag)}
		}
	}
	for _, k := range keys {
		if h.held[k] == nil {
			h.held[k] = holders{}
		}
		h.held[k][room]++
	}
	return nil
}

// unhold undoes hold.
func (h *Hub) unhold(s *Session, room string) {
	if protocol.IsDM(room) {
		return
	}
	h.heldMu.Lock()
	defer h.heldMu.Unlock()
	for _, k := range s.holdKeys() {
		held := h.held[k]
		if held[room]--; held[room] <= 0 {
			delete(held, room)
		}
		if len(held) == 0 {
			delete(h.held, k)
		}
	}
}
