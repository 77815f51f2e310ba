// History, recovery with since, and dedupe by ref.

package server_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/distchat/distchat/server"
)

func TestHistoryAndRecovery(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{SendQueue: 4096})

	t.Run("welcome and history pages", func(t *testing.T) {
		t.Parallel()
		const room = "h-pages"
		p := ts.connect(t, "poster", room)
		all := publishMany(t, p, "m", 120)

		checkWelcome := func(c *client) {
			t.Helper()
			w := c.welcome
			if got, want := bodies(w.History), wantBodies("m", 71, 120); !slices.Equal(got, want) {
				t.Errorf("welcome history = %q, want the latest 50 oldest first", got)
			}
			if !w.HasMore || w.LastSeq != all[119].Seq {
				t.Errorf("has_more, last_seq = %v, %d; want true, %d", w.HasMore, w.LastSeq, all[119].Seq)
			}
			for _, h := range w.History {
				if h.Type != "message" || h.Room != room || h.From != p.user || h.ID == "" || h.TS <= 0 {
					t.Fatalf("history item %s", h)
				}
			}
		}
		c := ts.connect(t, "reader", room)
		checkWelcome(c)

		var got []object
		before := uint64(0)
		for page := 0; ; page++ {
			req := map[string]any{"type": "history", "ref": fmt.Sprint("page-", page)}
			if before > 0 {
				req["before"] = before
			}
			c.sendJSON(req)
			h := c.expect("history")
			if h.Ref != fmt.Sprint("page-", page) || h.Room != room || len(h.Messages) == 0 || len(h.Messages) > 50 {
				t.Fatalf("page %d: %d messages, ref %q, room %q", page, len(h.Messages), h.Ref, h.Room)
			}
			got = append(slices.Clone(h.Messages), got...)
			before = h.Messages[0].Seq
			if !h.HasMore {
				break
			}
			if page > 3 {
				t.Fatal("has_more still true after 5 pages of 50")
			}
		}
		if b, want := bodies(got), wantBodies("m", 1, 120); !slices.Equal(b, want) {
			t.Errorf("paged history = %q, want all 120 messages once, in order", b)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Seq <= got[i-1].Seq || got[i].ID != all[i].ID {
				t.Fatalf("paged history: %s after %s", got[i], got[i-1])
			}
		}
		c.sendJSON(map[string]any{"type": "history", "limit": 7, "before": all[10].Seq})
		if h := c.expect("history"); !slices.Equal(bodies(h.Messages), wantBodies("m", 4, 10)) || !h.HasMore {
			t.Errorf("history limit 7 before m-0011 = %q, has_more %v", bodies(h.Messages), h.HasMore)
		}

		// Once everybody left, the room is loaded again from storage for the next one.
		p.close()
		c.close()
		if !eventually(waitTimeout, func() bool {
			return slices.ContainsFunc(ts.rooms(t), func(r roomInfo) bool { return r.Name == room && r.Members == 0 })
		}) {
			t.Fatalf("room %s still has members after everybody left: %v", room, ts.rooms(t))
		}
		checkWelcome(ts.connect(t, "latecomer", room))
	})

	t.Run("welcome with a short history", func(t *testing.T) {
		t.Parallel()
		const room = "h-short"
		p := ts.connect(t, "poster", room)
		publishMany(t, p, "s", 3)
		c := ts.connect(t, "reader", room)
		if got := bodies(c.welcome.History); !slices.Equal(got, wantBodies("s", 1, 3)) || c.welcome.HasMore {
			t.Errorf("welcome history = %q, has_more %v; want 3 messages and false", got, c.welcome.HasMore)
		}
	})

	// recover: reader sees `seen` messages, disconnects, misses `missed`, reconnects and
	// joins with since; it must get the latest `want` missed ones with has_more, then live
	// ones without duplicates.
	recover := func(t *testing.T, room string, seen, missed, want int, wantMore bool) {
		p := ts.connect(t, "poster", room)
		r := ts.connect(t, "reader", room)
		p.expect("join")
		publishMany(t, p, "old", seen)
		var last uint64
		for range seen {
			last = r.expect("message").Seq
		}
		r.close()
		if l := p.expect("leave"); l.User != r.user {
			t.Fatalf("poster got %s, want the reader's leave", l)
		}
		missedMsgs := publishMany(t, p, "new", missed)

		r = ts.connect(t, "reader", room)
		p.expect("join")
		r.sendJSON(map[string]any{"type": "join", "room": room, "since": last, "ref": "rejoin"})
		j := r.expect("joined")
		if got, wantB := bodies(j.History), wantBodies("new", missed-want+1, missed); !slices.Equal(got, wantB) {
			t.Fatalf("joined history has %d messages %.60q..., want the %d missed from %s", len(got), got, want, wantB[0])
		}
		if j.HasMore != wantMore || j.Ref != "rejoin" || j.LastSeq != missedMsgs[missed-1].Seq {
			t.Errorf("joined has_more %v, ref %q, last_seq %d; want %v, rejoin, %d", j.HasMore, j.Ref, j.LastSeq, wantMore, missedMsgs[missed-1].Seq)
		}
		if !slices.Equal(j.Online, []user{p.user, r.user}) {
			t.Errorf("joined online = %v", j.Online)
		}
		if wantMore {
			r.sendJSON(map[string]any{"type": "history", "before": j.History[0].Seq, "limit": 100})
			h := r.expect("history")
			if got := bodies(h.Messages); len(got) == 0 || got[len(got)-1] != fmt.Sprintf("new-%04d", missed-want) {
				t.Errorf("history before the recovered ones ends with %q, want new-%04d", got[len(got)-1:], missed-want)
			}
		}
		live := publishMany(t, p, "live", 5)
		for i := range live {
			if o := r.expect("message"); o.ID != live[i].ID {
				t.Fatalf("after joined, message %d is %s, want %s", i, o, live[i])
			}
		}
	}
	t.Run("recovery with since", func(t *testing.T) {
		t.Parallel()
		recover(t, "h-since", 10, 20, 20, false)
	})
	t.Run("recovery beyond the room cache", func(t *testing.T) {
		t.Parallel()
		recover(t, "h-storage", 3, 300, 300, false)
	})
	t.Run("recovery of more than 1000", func(t *testing.T) {
		t.Parallel()
		recover(t, "h-over", 1, 1100, 1000, true)
	})
	t.Run("recovery of exactly 1000", func(t *testing.T) {
		t.Parallel()
		// Nothing is missing beyond the 1000 replayed, so has_more must be false even
		// though older (already seen) messages exist.
		recover(t, "h-exact", 5, 1000, 1000, false)
	})
}

func TestDedupeByRef(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	const room = "dedupe"
	obs := ts.connect(t, "observer", room)
	a := ts.connect(t, "alice", room)
	obs.expect("join")

	ack1, m := a.publish("once", "d-1")
	if o := obs.expect("message"); o.ID != m.ID {
		t.Fatalf("observer got %s, want %s", o, m)
	}
	// The same ref again, even with another body: the original's seq and id, no message.
	a.sendJSON(msg("once, retried", "d-1"))
	if ack2 := a.expect("ack"); ack2.Seq != ack1.Seq || ack2.ID != ack1.ID || ack2.Ref != "d-1" {
		t.Errorf("retry ack = %s, want seq %d, id %s", ack2, ack1.Seq, ack1.ID)
	}
	// The same person on a new connection (signed in with the token) retrying the same ref.
	a.close()
	obs.expect("leave")
	a2 := ts.connectWith(t, "alice", room, a.welcome.Token)
	obs.expect("join")
	a2.sendJSON(msg("once", "d-1"))
	if ack3 := a2.expect("ack"); ack3.Seq != ack1.Seq || ack3.ID != ack1.ID {
		t.Errorf("ack on a new connection = %s, want seq %d, id %s", ack3, ack1.Seq, ack1.ID)
	}
	if h := a2.welcome.History; len(h) != 1 || h[0].ID != m.ID {
		t.Errorf("history = %v, want the message once", h)
	}
	// Another person with the same ref is another message.
	b := ts.connect(t, "bob", room)
	obs.expect("join")
	a2.expect("join")
	_, mb := b.publish("bob's", "d-1")
	if mb.ID == m.ID {
		t.Error("bob's message deduplicated against alice's")
	}
	// The observer's next message is bob's: the retries stored and sent nothing.
	if o := obs.expect("message"); o.ID != mb.ID {
		t.Errorf("observer got %s, want bob's message", o)
	}
}
