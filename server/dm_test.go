// Direct messages need a relationship, and a person's list of them is bounded, stored one
// entry at a time, and can be pruned.

package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/distchat/distchat/server"
	"github.com/distchat/distchat/server/broker"
)

// TestDMsNeedASharedRoom: one writes to people one shares a room with; a stranger in
// another room is forbidden, an id nobody has is not found, and a conversation that exists
// reopens without a shared room.
func TestDMsNeedASharedRoom(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{RateLimit: 0})
	alice := ts.connect(t, "alice", "general")
	bob := ts.connect(t, "bob", "lobby")
	for _, tc := range []struct{ user, code string }{
		{bob.welcome.User.ID, "forbidden"},
		{"unobodyhasthisid0", "not_found"},
		{"$JS.API.>", "bad_request"},
	} {
		alice.sendJSON(map[string]any{"type": "dm", "user": tc.user, "ref": "d"})
		if e := alice.expect("error"); e.Code != tc.code || e.Ref != "d" {
			t.Errorf("a DM with %q: %s, want %s", tc.user, e, tc.code)
		}
	}
	bob.expectQuiet(0, "dm")
	// Bob comes to general: now they share a room.
	bob.sendJSON(map[string]any{"type": "join", "room": "general"})
	bob.expect("joined")
	alice.expect("join")
	alice.sendJSON(map[string]any{"type": "dm", "user": bob.welcome.User.ID, "ref": "d2"})
	j := alice.expect("joined")
	bob.expect("dm")
	// Bob leaves general; the conversation still reopens, from either side.
	bob.sendJSON(map[string]any{"type": "leave", "room": "general"})
	bob.expect("left")
	alice.expect("leave")
	alice.sendJSON(map[string]any{"type": "leave", "room": j.Room})
	alice.expect("left")
	alice.sendJSON(map[string]any{"type": "dm", "user": bob.welcome.User.ID, "ref": "d3"})
	if again := alice.expect("joined"); again.Room != j.Room || again.Ref != "d3" {
		t.Fatalf("reopening: %s", again)
	}
}

// TestDMListBoundedAndHidden: a person's conversations are one state entry each (no value
// grows with them), at most MaxDMs, for the opener and for the one written to; hiding one
// takes it off one's own list, and the other person keeps it.
func TestDMListBoundedAndHidden(t *testing.T) {
	t.Parallel()
	b := broker.NewMemory(0, broker.DefaultDedupeWindow)
	ts := startServer(t, server.Config{RateLimit: 0, Broker: b, MaxDMs: 3})
	alice := ts.connect(t, "alice", "general")
	var friends []*client
	for i := range 4 {
		f := ts.connect(t, fmt.Sprint("friend", i), "general")
		alice.expect("join")
		friends = append(friends, f)
	}
	open := func(c *client, who *client, ref string) object {
		c.sendJSON(map[string]any{"type": "dm", "user": who.welcome.User.ID, "ref": ref})
		return c.expectAny("joined", "error")
	}
	var rooms []string
	for i := range 3 {
		j := open(alice, friends[i], fmt.Sprint("d", i))
		if j.Type != "joined" {
			t.Fatalf("DM %d: %s", i, j)
		}
		rooms = append(rooms, j.Room)
	}
	if e := open(alice, friends[3], "d3"); e.Type != "error" || e.Code != "limit_exceeded" || !strings.Contains(e.Message, "--max-dms") {
		t.Fatalf("a fourth DM with --max-dms 3: %s", e)
	}
	entries, _ := b.State().List(context.Background(), "dmlist.")
	if len(entries) != 6 {
		t.Fatalf("the state holds %d conversation entries, want 6 (3 each side): %v", len(entries), keys(entries))
	}
	// Alice hides the first; her list has two, friend0's still has it.
	alice.sendJSON(map[string]any{"type": "leave", "room": rooms[0], "hide": true, "ref": "h"})
	if l := alice.expect("left"); l.Ref != "h" {
		t.Fatalf("hide answered %s", l)
	}
	if w := ts.connectWith(t, "alice", "", alice.welcome.Token).welcome; len(w.DMs) != 2 || w.DMs[0].Room == rooms[0] && w.DMs[1].Room == rooms[0] {
		t.Fatalf("after hiding, alice's welcome lists %v", w.DMs)
	}
	if w := ts.connectWith(t, "friend0", "", friends[0].welcome.Token).welcome; len(w.DMs) != 1 || w.DMs[0].Room != rooms[0] {
		t.Fatalf("friend0's welcome lists %v", w.DMs)
	}
	if j := open(alice, friends[3], "d4"); j.Type != "joined" {
		t.Fatalf("a DM after hiding one: %s", j)
	}
	// Friend3's list is not full; friend1's is not either: a full one is the other side's
	// refusal.
	for i := range 2 {
		f := ts.connect(t, fmt.Sprint("more", i), "general")
		if j := open(f, friends[3], fmt.Sprint("m", i)); j.Type != "joined" {
			t.Fatalf("friend3's DM %d: %s", i+2, j)
		}
	}
	late := ts.connect(t, "late", "general")
	if e := open(late, friends[3], "x"); e.Type != "error" || e.Code != "limit_exceeded" || !strings.Contains(e.Message, "friend3 has 3 conversations") {
		t.Fatalf("a DM with someone whose list is full: %s", e)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
