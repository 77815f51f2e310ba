package people_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/people"
	"github.com/distchat/distchat/server/protocol"
)

// userKey is how earlier versions named a person in the state's keys.
func userKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

func newStore(t *testing.T, maxDMs int) (*people.Store, broker.State) {
	t.Helper()
	st := broker.NewMemory(0, time.Minute).State()
	return people.New(st, maxDMs), st
}

var (
	alice = protocol.User{ID: "u-alice", Name: "alice"}
	bob   = protocol.User{ID: "u-bob", Name: "bob"}
	carol = protocol.User{ID: "u-carol", Name: "carol"}
)

// TestKeysOfEarlierVersions reads what earlier versions stored, under their keys: the
// shared state of an existing cluster keeps working.
func TestKeysOfEarlierVersions(t *testing.T) {
	ctx := context.Background()
	s, st := newStore(t, 0)
	room := protocol.DMPrefix + "0123456789abcdef0123456789abcdef"
	put := func(key string, v any) {
		data, _ := json.Marshal(v)
		if str, ok := v.(string); ok {
			data = []byte(str)
		}
		if err := st.Put(ctx, key, data); err != nil {
			t.Fatal(err)
		}
	}
	put("dm."+room, map[string]any{"users": []protocol.User{alice, bob}})
	put("dms."+userKey(alice.ID), []protocol.DMRoom{{Room: room, User: bob}})
	put("read."+userKey(alice.ID)+".general", "42")
	put("topic.general", "plans")

	users, found, err := s.DM(ctx, room)
	if err != nil || !found || users != [2]protocol.User{alice, bob} {
		t.Fatalf("DM: %v %v %v", users, found, err)
	}
	dms, err := s.DMs(ctx, alice.ID)
	if err != nil || len(dms) != 1 || dms[0].Room != room || dms[0].User != bob {
		t.Fatalf("DMs from the earlier list: %+v, %v", dms, err)
	}
	if seq, ok, err := s.ReadPosition(ctx, alice.ID, "general"); err != nil || !ok || seq != 42 {
		t.Fatalf("ReadPosition: %d %v %v", seq, ok, err)
	}
	if topic, err := s.Topic(ctx, "general"); err != nil || topic != "plans" {
		t.Fatalf("Topic: %q, %v", topic, err)
	}
	if topics, err := s.Topics(ctx); err != nil || len(topics) != 1 || topics["general"] != "plans" {
		t.Fatalf("Topics: %v, %v", topics, err)
	}
	// Hiding takes it off the earlier list too.
	if err := s.HideDM(ctx, alice.ID, room); err != nil {
		t.Fatal(err)
	}
	if dms, err := s.DMs(ctx, alice.ID); err != nil || len(dms) != 0 {
		t.Fatalf("DMs after hiding: %+v, %v", dms, err)
	}
}

// TestOpenDM records a room once, lists it for both people (one key each, under
// dmlist.<person>.<room>) and names the other person from the record when asked without a
// name.
func TestOpenDM(t *testing.T) {
	ctx := context.Background()
	s, st := newStore(t, 0)
	room := protocol.DMPrefix + "00000000000000000000000000000001"
	if _, found, err := s.DM(ctx, room); err != nil || found {
		t.Fatalf("DM before opening: %v, %v", found, err)
	}
	other, perr, err := s.OpenDM(ctx, room, alice, bob)
	if err != nil || perr != nil || other != bob {
		t.Fatalf("OpenDM: %v %v %v", other, perr, err)
	}
	// Bob opens it again without knowing alice's name: the record has it.
	other, perr, err = s.OpenDM(ctx, room, bob, protocol.User{ID: alice.ID})
	if err != nil || perr != nil || other != alice {
		t.Fatalf("OpenDM again: %v %v %v", other, perr, err)
	}
	if users, found, err := s.DM(ctx, room); err != nil || !found || users != [2]protocol.User{alice, bob} {
		t.Fatalf("the first record stays: %v %v %v", users, found, err)
	}
	entries, err := st.List(ctx, "dmlist.")
	if err != nil || len(entries) != 2 {
		t.Fatalf("list entries: %v, %v", entries, err)
	}
	var mine protocol.DMRoom
	if err := json.Unmarshal(entries["dmlist."+userKey(alice.ID)+"."+room], &mine); err != nil || mine.User != bob {
		t.Fatalf("alice's entry: %+v, %v", mine, err)
	}
	// Someone unknown, without a name and without a record naming them, is named by id.
	room2 := protocol.DMPrefix + "00000000000000000000000000000002"
	if other, _, err := s.OpenDM(ctx, room2, alice, protocol.User{ID: "u-x"}); err != nil || other.Name != "u-x" {
		t.Fatalf("unnamed: %v, %v", other, err)
	}
}

// TestOpenDMCap refuses a conversation beyond either person's list, and takes one that is
// in the list already.
func TestOpenDMCap(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, 1)
	r1 := protocol.DMPrefix + "00000000000000000000000000000001"
	r2 := protocol.DMPrefix + "00000000000000000000000000000002"
	if _, perr, err := s.OpenDM(ctx, r1, alice, bob); err != nil || perr != nil {
		t.Fatal(perr, err)
	}
	if _, perr, err := s.OpenDM(ctx, r1, bob, alice); err != nil || perr != nil {
		t.Fatalf("reopening one that is listed: %v %v", perr, err)
	}
	_, perr, err := s.OpenDM(ctx, r2, alice, carol)
	if err != nil || perr == nil || perr.Code != protocol.CodeLimitExceeded {
		t.Fatalf("alice's full list: %v, %v", perr, err)
	}
	_, perr, err = s.OpenDM(ctx, r2, carol, alice)
	if err != nil || perr == nil || perr.Code != protocol.CodeLimitExceeded {
		t.Fatalf("the other's full list: %v, %v", perr, err)
	}
	if dms, _ := s.DMs(ctx, carol.ID); len(dms) != 0 {
		t.Fatalf("a refused conversation was listed: %+v", dms)
	}
	if err := s.HideDM(ctx, alice.ID, r1); err != nil {
		t.Fatal(err)
	}
	if _, perr, err := s.OpenDM(ctx, r2, alice, carol); err != nil || perr != nil {
		t.Fatalf("after hiding one: %v %v", perr, err)
	}
}

func TestMoveReadNeverBackwards(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, 0)
	if _, ok, err := s.ReadPosition(ctx, alice.ID, "r"); ok || err != nil {
		t.Fatalf("a position before any: %v, %v", ok, err)
	}
	for _, seq := range []uint64{0, 7, 3} {
		if err := s.MoveRead(ctx, alice.ID, "r", seq); err != nil {
			t.Fatal(err)
		}
	}
	if seq, ok, err := s.ReadPosition(ctx, alice.ID, "r"); err != nil || !ok || seq != 7 {
		t.Fatalf("position: %d %v %v, want 7", seq, ok, err)
	}
	if _, ok, _ := s.ReadPosition(ctx, bob.ID, "r"); ok {
		t.Fatal("bob has alice's position")
	}
}

func TestUndecodableDMRecordIsFound(t *testing.T) {
	ctx := context.Background()
	s, st := newStore(t, 0)
	room := protocol.DMPrefix + "00000000000000000000000000000003"
	if err := st.Put(ctx, "dm."+room, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.DM(ctx, room); !found || err == nil {
		t.Fatalf("DM of a damaged record: found %v, err %v", found, err)
	}
}
