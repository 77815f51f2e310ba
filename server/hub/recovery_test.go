package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/broker/brokertest"
	"github.com/distchat/distchat/server/broker/jetstream"
	"github.com/distchat/distchat/server/broker/jetstream/jstest"
	"github.com/distchat/distchat/server/hub"
	"github.com/distchat/distchat/server/people"
	"github.com/distchat/distchat/server/protocol"
)

// recorder is a hub.Conn that keeps every object it is sent.
type recorder struct {
	mu   sync.Mutex
	objs []map[string]any
	more chan struct{}
}

func newRecorder() *recorder { return &recorder{more: make(chan struct{}, 1)} }

func (r *recorder) Send(objs []byte) bool {
	for _, line := range bytes.Split(objs, []byte{'\n'}) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			panic(err)
		}
		r.mu.Lock()
		r.objs = append(r.objs, m)
		r.mu.Unlock()
	}
	select {
	case r.more <- struct{}{}:
	default:
	}
	return true
}

func (r *recorder) Close(code int, reason string) {
	r.Send(protocol.Encode(map[string]any{"type": "closed", "code": code, "reason": reason}))
}

// waitFor returns all objects once cond holds for them.
func (r *recorder) waitFor(t *testing.T, what string, cond func([]map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		objs := append([]map[string]any(nil), r.objs...)
		r.mu.Unlock()
		if cond(objs) {
			return objs
		}
		select {
		case <-r.more:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; have %d objects", what, len(objs))
		}
	}
}

func brokers(t *testing.T) map[string]func(t *testing.T) broker.Broker {
	return map[string]func(t *testing.T) broker.Broker{
		"memory":    func(t *testing.T) broker.Broker { return broker.NewMemory(0, time.Minute) },
		"jetstream": func(t *testing.T) broker.Broker { return jstest.Embedded(t, jetstream.Options{}) },
	}
}

func newHub(t *testing.T, b broker.Broker, cacheSize int) *hub.Hub {
	t.Helper()
	h := hub.New(context.Background(), hub.Config{HistorySize: 20, CacheSize: cacheSize}, b, people.New(b.State(), 0), nil, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { h.Close(); b.Close() })
	return h
}

// connect connects a recorder and waits for its welcome: the room answers joins on its own
// goroutine, once it has loaded.
func connect(t *testing.T, h *hub.Hub, rec *recorder, u protocol.User, room string) *hub.Session {
	t.Helper()
	s, err := h.Connect(rec, hub.Identity{User: u}, room)
	if err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "welcome", func(objs []map[string]any) bool { return len(objs) > 0 && objs[0]["type"] == "welcome" })
	return s
}

func publishN(t *testing.T, b broker.Broker, room string, n int) []protocol.Message {
	t.Helper()
	var out []protocol.Message
	for i := range n {
		m, _, err := brokertest.Publish(b, protocol.Message{Room: room, Body: fmt.Sprint(i)}, "")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// messages returns the seqs of the room's messages among objs: those inside the first
// object of type container (welcome or joined), then the live ones after it.
func messages(objs []map[string]any, container, room string) (history, live []uint64) {
	seen := false
	for _, o := range objs {
		switch {
		case !seen && o["type"] == container && (o["room"] == room):
			seen = true
			for _, m := range o["history"].([]any) {
				history = append(history, uint64(m.(map[string]any)["seq"].(float64)))
			}
		case seen && o["type"] == "message" && o["room"] == room:
			live = append(live, uint64(o["seq"].(float64)))
		}
	}
	return history, live
}

func seqsOf(ms []protocol.Message) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestJoinSinceRecovers checks recovery from the room's cache and, after a longer absence,
// from storage, with both brokers.
func TestJoinSinceRecovers(t *testing.T) {
	for name, mk := range brokers(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name             string
				stored, seenUpTo int // messages stored, and how many of them the client saw
				wantMore         bool
			}{
				{"from the cache", 40, 25, false},
				{"from storage", 300, 20, false},
				{"more than the recovery limit", hub.MaxRecovery + 150, 10, true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					b := mk(t)
					h := newHub(t, b, 64)
					watcher := newRecorder()
					connect(t, h, watcher, protocol.User{ID: "w", Name: "watcher"}, "r")
					stored := publishN(t, b, "r", tc.stored)
					watcher.waitFor(t, "the room to see every message", func(objs []map[string]any) bool {
						_, live := messages(objs, "welcome", "r")
						return len(live) == tc.stored
					})

					rec := newRecorder()
					s := connect(t, h, rec, protocol.User{ID: "c", Name: "client"}, "lobby")
					since := stored[tc.seenUpTo-1].Seq
					s.HandleFrame([]byte(fmt.Sprintf(`{"type":"join","room":"r","since":%d}`, since)))
					objs := rec.waitFor(t, "joined", func(objs []map[string]any) bool {
						for _, o := range objs {
							if o["type"] == "joined" {
								return true
							}
						}
						return false
					})
					history, _ := messages(objs, "joined", "r")
					want := seqsOf(stored[tc.seenUpTo:])
					if len(want) > hub.MaxRecovery {
						want = want[len(want)-hub.MaxRecovery:]
					}
					if !equal(history, want) {
						t.Fatalf("recovered %d messages %v..., want %d", len(history), head(history), len(want))
					}
					for _, o := range objs {
						if o["type"] == "joined" && o["has_more"] != tc.wantMore {
							t.Fatalf("has_more = %v, want %v", o["has_more"], tc.wantMore)
						}
					}
				})
			}
		})
	}
}

func head(s []uint64) []uint64 { return s[:min(len(s), 5)] }

// TestJoinSinceWhilePublishing rejoins with since while messages keep arriving: what the
// joined reply carries plus the live messages after it must be exactly the messages after
// since, in order, once each.
func TestJoinSinceWhilePublishing(t *testing.T) {
	for name, mk := range brokers(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			h := newHub(t, b, 32)
			first := publishN(t, b, "r", 100)
			done := make(chan []protocol.Message)
			publishing := make(chan struct{}) // closed once some live messages are stored
			started := sync.OnceFunc(func() { close(publishing) })
			go func() {
				var ms []protocol.Message
				defer func() { done <- ms }()
				defer started() // also when failing early
				for i := range 400 {
					m, _, err := brokertest.Publish(b, protocol.Message{Room: "r", Body: fmt.Sprint("live ", i)}, "")
					if err != nil {
						t.Error(err)
						return
					}
					ms = append(ms, m)
					if i == 9 {
						started()
					}
				}
			}()
			rec := newRecorder()
			s := connect(t, h, rec, protocol.User{ID: "c", Name: "client"}, "lobby")
			<-publishing // join while the publisher is under way
			s.HandleFrame([]byte(fmt.Sprintf(`{"type":"join","room":"r","since":%d}`, first[9].Seq)))
			later := <-done
			want := append(seqsOf(first[10:]), seqsOf(later)...)
			objs := rec.waitFor(t, "every message", func(objs []map[string]any) bool {
				h, l := messages(objs, "joined", "r")
				return len(h)+len(l) >= len(want)
			})
			history, live := messages(objs, "joined", "r")
			got := append(history, live...)
			if !equal(got, want) {
				t.Fatalf("got %d messages (%d in joined, %d live), want %d, no gap, no duplicate", len(got), len(history), len(live), len(want))
			}
		})
	}
}
