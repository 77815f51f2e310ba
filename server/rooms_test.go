// Rooms: joining and leaving rooms on one connection, and /api/rooms.

package server_test

import (
	"slices"
	"testing"
	"time"

	"github.com/distchat/distchat/server"
)

func TestRooms(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	a := ts.connect(t, "alice", "")
	b := ts.connect(t, "bob", "")
	c := ts.connect(t, "carol", "")
	a.expect("join")
	a.expect("join")
	b.expect("join")

	// carol joins dev: it becomes her current room.
	c.sendJSON(map[string]any{"type": "join", "room": "dev", "ref": "c-j"})
	j := c.expect("joined")
	if j.Room != "dev" || j.Ref != "c-j" || !slices.Equal(j.Online, []user{c.user}) || j.field("history") != "[]" || j.HasMore {
		t.Errorf("joined = %s, want dev, ref c-j, only carol online, empty history", j)
	}
	// alice joins dev too: carol is told, not bob.
	a.sendJSON(map[string]any{"type": "join", "room": "dev", "ref": "a-j"})
	if j := a.expect("joined"); !slices.Equal(j.Online, []user{c.user, a.user}) {
		t.Errorf("alice's joined = %s, want carol and alice online", j)
	}
	if o := c.expect("join"); o.Room != "dev" || o.User != a.user {
		t.Errorf("carol got %s, want alice joining dev", o)
	}
	if got, want := members(ts.rooms(t)), []roomMembers{{"dev", 2}, {"general", 3}}; !slices.Equal(got, want) {
		t.Errorf("/api/rooms = %v, want %v", got, want)
	}

	// Plain text goes to carol's current room, dev: alice gets it, bob never does.
	c.sendText("only for dev")
	if o := a.expect("message"); o.Room != "dev" || o.Body != "only for dev" {
		t.Errorf("alice got %s, want carol's message in dev", o)
	}
	_, m := a.publishIn("general", "for general", "g1")
	if o := b.expect("message"); o.ID != m.ID {
		t.Errorf("bob got %s, want the general message only", o)
	}
	// Joining a room again replays joined (with its history) and announces nothing.
	a.sendJSON(map[string]any{"type": "join", "room": "dev", "ref": "again"})
	if j := a.expect("joined"); j.Ref != "again" || len(j.History) != 1 || j.History[0].Body != "only for dev" {
		t.Errorf("joined again = %s, want dev's history", j)
	}
	// alice leaves dev: left for her, leave for carol; dev messages no longer reach her.
	a.sendJSON(map[string]any{"type": "leave", "room": "dev", "ref": "a-l"})
	if l := a.expect("left"); l.Room != "dev" || l.Ref != "a-l" {
		t.Errorf("left = %s, want dev with ref a-l", l)
	}
	if o := c.expect("leave", "ack", "message"); o.Room != "dev" || o.User != a.user {
		t.Errorf("carol got %s, want alice leaving dev", o)
	}
	c.publish("alice is gone", "c2", "message")
	// alice's current room is general again: a request without room goes there.
	_, m = a.publish("back in general", "g2")
	if o := b.expect("message"); o.ID != m.ID {
		t.Errorf("bob got %s, want %s", o, m)
	}
	a.expectQuiet(200*time.Millisecond, "message")
	b.expectQuiet(0, "message")

	// carol leaves dev, its last member: dev stays listed (it has messages), with nobody.
	c.sendJSON(map[string]any{"type": "leave", "room": "dev"})
	c.expect("left", "message")
	if got, want := members(ts.rooms(t)), []roomMembers{{"dev", 0}, {"general", 3}}; !slices.Equal(got, want) {
		t.Errorf("/api/rooms = %v, want %v", got, want)
	}
	c.sendJSON(map[string]any{"type": "presence", "room": "dev"})
	if e := c.expect("error", "message"); e.Code != "not_member" {
		t.Errorf("presence of a room left: %s, want not_member", e)
	}
}

type roomMembers struct {
	Name    string
	Members int
}

// members keeps the names and member counts of /api/rooms' answer.
func members(rooms []roomInfo) []roomMembers {
	out := make([]roomMembers, len(rooms))
	for i, r := range rooms {
		out[i] = roomMembers{r.Name, r.Members}
	}
	return out
}
