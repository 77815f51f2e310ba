// Presence: join and leave announcements, typing, presence requests.

package server_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/distchat/distchat/server"
)

func TestJoinAndLeaveAreAnnounced(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		end  func(*client)
	}{
		{"clean close", (*client).close},
		{"abrupt TCP close", (*client).abort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, server.Config{}) // its own: connections are counted
			room := strings.ToLower(strings.ReplaceAll(tc.name, " ", "-"))
			a := ts.connect(t, "alice", room)
			if !slices.Equal(a.welcome.Online, []user{a.user}) {
				t.Fatalf("alice's online = %v, want only herself", a.welcome.Online)
			}
			b := ts.connect(t, "bob", room)
			if !slices.Equal(b.welcome.Online, []user{a.user, b.user}) {
				t.Errorf("bob's online = %v, want alice and bob", b.welcome.Online)
			}
			j := a.expect("join")
			if j.Room != room || j.User != b.user || j.TS <= 0 {
				t.Errorf("join = %s, want room %q, user %v and a ts", j, room, b.user)
			}
			tc.end(b)
			l := a.expect("leave")
			if l.Room != room || l.User != b.user || l.TS <= 0 {
				t.Errorf("leave = %s, want room %q, user %v and a ts", l, room, b.user)
			}
			ts.waitConnections(t, 1)
			a.sendJSON(map[string]any{"type": "presence"})
			if p := a.expect("presence"); !slices.Equal(p.Online, []user{a.user}) {
				t.Errorf("presence after bob left = %v, want only alice", p.Online)
			}
		})
	}
}

func TestTypingAndPresence(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	a := ts.connect(t, "alice", "")
	b := ts.connect(t, "bob", "")
	a.expect("join")

	a.sendJSON(map[string]any{"type": "typing"})
	a.sendJSON(map[string]any{"type": "typing", "room": "general"}) // within 2 s: not forwarded
	if o := b.expect("typing"); o.Room != "general" || o.User != a.user {
		t.Errorf("bob got %s, want alice typing in general", o)
	}
	_, m := a.publish("done typing", "t1") // alice gets no typing of her own
	if o := b.expect("message"); o.ID != m.ID {
		t.Errorf("bob got %s, want the message (the second typing is throttled)", o)
	}
	b.sendJSON(map[string]any{"type": "presence", "room": "general"})
	if p := b.expect("presence"); p.Room != "general" || !slices.Equal(p.Online, []user{a.user, b.user}) {
		t.Errorf("presence = %s, want alice and bob", p)
	}
}
