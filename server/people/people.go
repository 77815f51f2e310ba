// Package people keeps what the shared state holds about people and the rooms they shape,
// beyond the rooms' entries: direct-message rooms (the record of a room's two people, and
// each person's list of conversations, with its cap and its hidden ones), read positions,
// and room topics. The hub asks its Store (hub.People); the live side (who is connected,
// their sessions, news from other nodes) stays in the hub.
//
// The keys are the ones earlier versions wrote, so that existing data keeps working:
//
//	dm.<room>                 a direct-message room's two people (dmRecord)
//	dmlist.<person>.<room>    one conversation in a person's list: the other person
//	dms.<person>              an earlier version's whole list, still read (and hidden from)
//	read.<person>.<room>      a person's read position in a room (decimal seq)
//	topic.<room>              a room's topic
//
// where <person> is userKey of the person's id.
package people

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/protocol"
)

// DefaultMaxDMs bounds the conversations in one person's list when New is given no bound.
const DefaultMaxDMs = 500

// Store keeps people's direct-message rooms, read positions and room topics in the shared
// state. It holds nothing itself: every call reads or writes the state, on any node.
type Store struct {
	state  broker.State
	maxDMs int
}

// New returns a Store on st whose lists hold at most maxDMs conversations (0 or less:
// DefaultMaxDMs): opening one more with someone whose list is full, or by them, is refused
// until they hide one.
func New(st broker.State, maxDMs int) *Store {
	if maxDMs <= 0 {
		maxDMs = DefaultMaxDMs
	}
	return &Store{state: st, maxDMs: maxDMs}
}

// Keys of the shared state. Person ids are hashed: they may hold characters keys cannot.
func userKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

func readKey(userID, room string) string { return "read." + userKey(userID) + "." + room }
func dmKey(room string) string           { return "dm." + room }

// topicPrefix starts the key of every room's topic.
const topicPrefix = "topic."

func topicKey(room string) string { return topicPrefix + room }

// A person's conversations are one key each (dmlist.<person>.<room>: the other person),
// so that opening one writes one small value, never a list that grows with every
// conversation. Earlier versions kept the whole list in one value (dms.<person>), which is
// still read, and changed only to hide a conversation.
func dmListPrefix(userID string) string     { return "dmlist." + userKey(userID) + "." }
func dmEntryKey(userID, room string) string { return dmListPrefix(userID) + room }
func legacyDMsKey(userID string) string     { return "dms." + userKey(userID) }

// dmRecord is a direct-message room's two people, in the shared state.
type dmRecord struct {
	Users [2]protocol.User `json:"users"`
}

// DM returns the two people of a direct-message room, with the names they had when it was
// opened; found is false when nobody opened it. A record that is stored but cannot be
// decoded is found, with an error.
func (s *Store) DM(ctx context.Context, room string) (users [2]protocol.User, found bool, err error) {
	data, err := s.state.Get(ctx, dmKey(room))
	if err != nil || data == nil {
		return users, false, err
	}
	var rec dmRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return users, true, fmt.Errorf("the record of direct-message room %s: %w", room, err)
	}
	return rec.Users, true, nil
}

// OpenDM opens the direct-message room of me and other: it records the room's two people
// (once: a room opened before keeps its record) and adds the room to both people's lists,
// each entry naming the other person. other without a name takes the one the record gives
// them, else their id; OpenDM returns other so named. When one of the two lists holds
// MaxDMs conversations already (and not this one), nothing is added and the refusal is the
// *protocol.Error (limit_exceeded), to be told to me.
func (s *Store) OpenDM(ctx context.Context, room string, me, other protocol.User) (protocol.User, *protocol.Error, error) {
	data, _ := json.Marshal(dmRecord{Users: [2]protocol.User{me, other}})
	rec, err := s.state.Create(ctx, dmKey(room), data)
	if err != nil {
		return other, nil, err
	}
	if other.Name == "" {
		var got dmRecord
		if json.Unmarshal(rec, &got) == nil {
			for _, u := range got.Users {
				if u.ID == other.ID {
					other.Name = u.Name
				}
			}
		}
	}
	if other.Name == "" {
		other.Name = other.ID
	}
	perr, err := s.addDMs(ctx, room, me, other)
	return other, perr, err
}

// DMs lists a person's direct-message rooms and the other person of each: one watch of
// their entries (and one read of an earlier version's list).
func (s *Store) DMs(ctx context.Context, userID string) ([]protocol.DMRoom, error) {
	entries, err := s.state.List(ctx, dmListPrefix(userID))
	if err != nil {
		return nil, err
	}
	legacy, err := s.state.Get(ctx, legacyDMsKey(userID))
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
// one of the lists holds maxDMs conversations already.
func (s *Store) addDMs(ctx context.Context, room string, me, other protocol.User) (*protocol.Error, error) {
	for i, who := range []protocol.User{me, other} {
		have, err := s.DMs(ctx, who.ID)
		if err != nil {
			return nil, err
		}
		if len(have) < s.maxDMs || slices.ContainsFunc(have, func(d protocol.DMRoom) bool { return d.Room == room }) {
			continue
		}
		msg := fmt.Sprintf("you have %d conversations, the most (--max-dms): hide one first", s.maxDMs)
		if i == 1 {
			msg = fmt.Sprintf("%s has %d conversations, the most (--max-dms)", other.Name, s.maxDMs)
		}
		return &protocol.Error{Code: protocol.CodeLimitExceeded, Message: msg}, nil
	}
	mine, _ := json.Marshal(protocol.DMRoom{Room: room, User: other})
	theirs, _ := json.Marshal(protocol.DMRoom{Room: room, User: me})
	if err := s.state.Put(ctx, dmEntryKey(me.ID, room), mine); err != nil {
		return nil, err
	}
	return nil, s.state.Put(ctx, dmEntryKey(other.ID, room), theirs)
}

// HideDM takes a direct-message room off a person's list (until one of the two opens it
// again); the conversation and the other person's entry stay.
func (s *Store) HideDM(ctx context.Context, userID, room string) error {
	if err := s.state.Purge(ctx, dmEntryKey(userID, room)); err != nil {
		return err
	}
	return s.state.Update(ctx, legacyDMsKey(userID), func(old []byte) []byte {
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

// ReadPosition returns a person's read position in a room; ok is false when they have none
// (or it cannot be read).
func (s *Store) ReadPosition(ctx context.Context, userID, room string) (seq uint64, ok bool, err error) {
	data, err := s.state.Get(ctx, readKey(userID, room))
	if err != nil || data == nil {
		return 0, false, err
	}
	if seq, err = strconv.ParseUint(string(data), 10, 64); err != nil {
		return 0, false, nil //nolint:nilerr // a damaged position counts as none: the person reads from the start
	}
	return seq, true, nil
}

// MoveRead stores a person's read position in a room unless the stored one is as far
// already: a compare-and-set, since two devices, on this node or on others, may store
// positions at the same time, and the one further on wins.
func (s *Store) MoveRead(ctx context.Context, userID, room string, seq uint64) error {
	return s.state.Update(ctx, readKey(userID, room), func(old []byte) []byte {
		if prev, err := strconv.ParseUint(string(old), 10, 64); err == nil && old != nil && prev >= seq {
			return nil
		}
		return []byte(strconv.FormatUint(seq, 10))
	})
}

// Topic returns a room's current topic ("" when it has none).
func (s *Store) Topic(ctx context.Context, room string) (string, error) {
	topic, err := s.state.Get(ctx, topicKey(room))
	return string(topic), err
}

// SetTopic stores a room's current topic, for those who join it later.
func (s *Store) SetTopic(ctx context.Context, room, topic string) error {
	return s.state.Put(ctx, topicKey(room), []byte(topic))
}

// Topics returns the topic of every room that has one, by room.
func (s *Store) Topics(ctx context.Context) (map[string]string, error) {
	values, err := s.state.List(ctx, topicPrefix)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(values))
	for key, v := range values {
		out[strings.TrimPrefix(key, topicPrefix)] = string(v)
	}
	return out, nil
}
