package server_test

import (
	"strings"
	"testing"

	"github.com/distchat/distchat/server"
)

// TestEditsDeletionsAndReactions: members see an edit, a deletion and a reaction live, as
// events with their own seq; a joiner gets them in its history after the message; only the
// author may edit or delete; a reaction or an edit of an unknown message is not_found. A
// deleted message is erased with its edits: a joiner gets the deletion, never the words,
// and whatever is asked of it afterwards is not_found.
func TestEditsDeletionsAndReactions(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{RateLimit: 0})
	alice := ts.connect(t, "alice", "talk")
	bob := ts.connect(t, "bob", "talk")
	alice.expect("join")
	_, m := alice.publish("helo", "m1")
	bob.expect("message")

	alice.sendJSON(map[string]any{"type": "edit", "room": "talk", "id": m.ID, "body": "hello", "ref": "e1"})
	ack := alice.expect("ack", "edit")
	e := bob.expect("edit")
	if e.ID != m.ID || e.Body != "hello" || e.User.ID != alice.welcome.User.ID || e.Seq != ack.Seq || e.Seq <= m.Seq {
		t.Fatalf("edit event %s (ack %s) for message %s", e, ack, m)
	}
	bob.sendJSON(map[string]any{"type": "react", "room": "talk", "id": m.ID, "emoji": "👍", "on": true, "ref": "r1"})
	bob.expect("ack", "reaction")
	if r := alice.expect("reaction", "edit"); r.ID != m.ID || r.Emoji != "👍" || !r.On || r.User.ID != bob.welcome.User.ID {
		t.Fatalf("reaction event %s", r)
	}
	// Not bob's message: he may not edit or delete it.
	for _, typ := range []string{"edit", "delete"} {
		bob.sendJSON(map[string]any{"type": typ, "room": "talk", "id": m.ID, "body": "mine now", "ref": "x-" + typ})
		if err := bob.expect("error", "reaction"); err.Code != "forbidden" || err.Ref != "x-"+typ {
			t.Fatalf("bob's %s answered %s", typ, err)
		}
	}
	for _, req := range []map[string]any{
		{"type": "react", "room": "talk", "id": "999999", "emoji": "👍", "on": true, "ref": "nf1"},
		{"type": "edit", "room": "talk", "id": "not-an-id", "body": "x", "ref": "nf2"},
	} {
		bob.sendJSON(req)
		if err := bob.expect("error", "reaction"); err.Code != "not_found" || err.Ref != req["ref"] {
			t.Fatalf("%v answered %s", req, err)
		}
	}
	alice.sendJSON(map[string]any{"type": "delete", "room": "talk", "id": m.ID, "ref": "d1"})
	alice.expect("ack", "reaction", "edit", "delete")
	if d := bob.expect("delete", "reaction"); d.ID != m.ID || d.User.ID != alice.welcome.User.ID {
		t.Fatalf("delete event %s", d)
	}

	// A newcomer's history replays the events, in order; the message and its edit are gone.
	carol := ts.connect(t, "carol", "talk")
	var kinds []string
	for _, o := range carol.welcome.History {
		kinds = append(kinds, o.Type)
	}
	if got := joinTypes(kinds); got != "reaction,delete" {
		t.Fatalf("history %s", got)
	}
	// So does recovery from before the message, and a history page from storage.
	carol.sendJSON(map[string]any{"type": "join", "room": "talk", "since": m.Seq - 1, "ref": "j1"})
	if j := carol.expect("joined", "join"); len(j.History) != 2 || j.History[1].Type != "delete" {
		t.Fatalf("recovery replayed %d entries", len(j.History))
	}
	carol.sendJSON(map[string]any{"type": "history", "room": "talk", "ref": "h1"})
	if h := carol.expect("history"); len(h.Messages) != 2 || h.Messages[0].Type != "reaction" || strings.Contains(h.String(), "hello") || strings.Contains(h.String(), "helo") {
		t.Fatalf("history page %s", h)
	}
	// Nothing more can be done with it.
	for _, req := range []map[string]any{
		{"type": "delete", "room": "talk", "id": m.ID, "ref": "again"},
		{"type": "edit", "room": "talk", "id": m.ID, "body": "back", "ref": "undead"},
		{"type": "react", "room": "talk", "id": m.ID, "emoji": "👀", "on": true, "ref": "late"},
	} {
		alice.sendJSON(req)
		if err := alice.expect("error", "join", "delete"); err.Code != "not_found" || err.Ref != req["ref"] {
			t.Fatalf("%v on a deleted message answered %s", req, err)
		}
	}
}

func joinTypes(ts []string) string {
	out := ""
	for i, t := range ts {
		if i > 0 {
			out += ","
		}
		out += t
	}
	return out
}

// TestTopic: a member sets the topic; the room hears it, joiners and /api/rooms show it.
func TestTopic(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	a := ts.connect(t, "alice", "plans")
	a.sendJSON(map[string]any{"type": "topic", "room": "plans", "body": "Friday's launch", "ref": "t1"})
	a.expect("ack", "topic")
	b := ts.connect(t, "bob", "plans")
	if b.welcome.Topic != "Friday's launch" {
		t.Fatalf("welcome topic %q", b.welcome.Topic)
	}
	found := false
	for _, r := range ts.rooms(t) {
		if r.Name == "plans" {
			found = r.Topic == "Friday's launch"
		}
	}
	if !found {
		t.Fatalf("/api/rooms: %+v", ts.rooms(t))
	}
}
