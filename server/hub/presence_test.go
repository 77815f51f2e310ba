package hub_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/hub"
	"github.com/distchat/distchat/server/people"
	"github.com/distchat/distchat/server/protocol"
)

func count(objs []map[string]any, typ string) int {
	n := 0
	for _, o := range objs {
		if o["type"] == typ {
			n++
		}
	}
	return n
}

// TestLargeRoomPresence: up to PresenceLimit members every join and leave is announced;
// beyond it, joiners get the first PresenceLimit members and the count, and changes are
// reported as online_count at most every PresenceInterval.
func TestLargeRoomPresence(t *testing.T) {
	b := broker.NewMemory(0, time.Minute)
	h := hub.New(context.Background(), hub.Config{PresenceLimit: 3, PresenceInterval: 50 * time.Millisecond, PresenceGrace: -1}, b, people.New(b.State(), 0), nil, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { h.Close(); b.Close() })

	first := newRecorder()
	if _, err := h.Connect(first, hub.Identity{User: protocol.User{ID: "u0", Name: "u0"}}, "big"); err != nil {
		t.Fatal(err)
	}
	var recs []*recorder
	var sessions []*hub.Session
	for i := 1; i < 6; i++ {
		r := newRecorder()
		s, err := h.Connect(r, hub.Identity{User: protocol.User{ID: string(rune('a' + i)), Name: "n"}}, "big")
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
		sessions = append(sessions, s)
	}
	// Joins 2 and 3 were announced to the first member; 4, 5 and 6 were not.
	objs := first.waitFor(t, "an online_count of 6", func(objs []map[string]any) bool {
		for _, o := range objs {
			if o["type"] == "online_count" && o["count"] == float64(6) {
				return true
			}
		}
		return false
	})
	if n := count(objs, "join"); n != 2 {
		t.Fatalf("first member saw %d join events, want 2", n)
	}
	if n := count(objs, "online_count"); n > 2 {
		t.Fatalf("%d online_count reports for three quick joins, want them coalesced", n)
	}
	last := recs[len(recs)-1].waitFor(t, "welcome", func(objs []map[string]any) bool { return count(objs, "welcome") == 1 })
	w := last[0]
	if online := w["online"].([]any); len(online) != 3 || w["online_count"] != float64(6) {
		t.Fatalf("welcome online %v (count %v), want the first 3 of 6", online, w["online_count"])
	}

	// Leaving a large room is reported by count too, until the room is small again.
	sessions[4].Close()
	sessions[3].Close()
	sessions[2].Close() // 4 -> 3 members: the room was large, so still a count
	objs = first.waitFor(t, "an online_count of 3", func(objs []map[string]any) bool {
		for _, o := range objs {
			if o["type"] == "online_count" && o["count"] == float64(3) {
				return true
			}
		}
		return false
	})
	if n := count(objs, "leave"); n != 0 {
		t.Fatalf("%d leave events from a large room, want 0", n)
	}
	sessions[1].Close() // 3 -> 2: announced
	first.waitFor(t, "a leave event", func(objs []map[string]any) bool { return count(objs, "leave") == 1 })
}
