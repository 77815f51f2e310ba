package natsbus_test

import (
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/distchat/distchat/server/broker/jetstream/jstest"
	"github.com/distchat/distchat/server/presence"
	"github.com/distchat/distchat/server/presence/natsbus"
	"github.com/distchat/distchat/server/protocol"
)

// handler records what a watched room hears.
type handler struct {
	mu     sync.Mutex
	remote map[string]presence.Member
	typing []string
	synced bool
	more   chan struct{}
}

func newHandler() *handler {
	return &handler{remote: map[string]presence.Member{}, more: make(chan struct{}, 1)}
}

func (h *handler) signal() {
	select {
	case h.more <- struct{}{}:
	default:
	}
}

func (h *handler) Remote(m presence.Member) {
	h.mu.Lock()
	if m.Devices == 0 {
		delete(h.remote, m.User.ID)
	} else {
		h.remote[m.User.ID] = m
	}
	h.mu.Unlock()
	h.signal()
}

func (h *handler) Typing(u protocol.User) {
	h.mu.Lock()
	h.typing = append(h.typing, u.Name)
	h.mu.Unlock()
	h.signal()
}

func (h *handler) Synced() {
	h.mu.Lock()
	h.synced = true
	h.mu.Unlock()
	h.signal()
}

func (h *handler) wait(t *testing.T, what string, timeout time.Duration, cond func(*handler) bool) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		h.mu.Lock()
		ok := cond(h)
		h.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-h.more:
		case <-deadline:
			t.Fatalf("no %s within %v", what, timeout)
		}
	}
}

func bus(t *testing.T, url, node string) *natsbus.Bus {
	t.Helper()
	b, _ := busConn(t, url, node)
	return b
}

// busConn returns the bus and its connection (to flush subscriptions).
func busConn(t *testing.T, url, node string) (*natsbus.Bus, *nats.Conn) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	b, err := natsbus.New(nc, natsbus.Options{Node: node, Heartbeat: 100 * time.Millisecond, DeadAfter: 600 * time.Millisecond, SyncWait: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(); nc.Close() })
	return b, nc
}

// TestPresenceAcrossNodes: a node's people reach the nodes watching the room, also those
// that start watching later (an answer to their query); typing crosses; a node that stops
// sending heartbeats has its people removed; a person's events reach their other nodes.
func TestPresenceAcrossNodes(t *testing.T) {
	ns := jstest.StartNATS(t)
	a := bus(t, ns.ClientURL(), "a")
	b, bnc := busConn(t, ns.ClientURL(), "b")
	ha := newHandler()
	ra := a.Watch("town", ha)
	ha.wait(t, "sync on node a", 5*time.Second, func(h *handler) bool { return h.synced })
	alice := protocol.User{ID: "u-alice", Name: "alice"}
	ra.Set(presence.Member{User: alice, Devices: 2, Since: 1})

	// b starts watching after alice arrived: it learns of her from a's answer.
	hb := newHandler()
	rb := b.Watch("town", hb)
	hb.wait(t, "alice on node b", 5*time.Second, func(h *handler) bool {
		m, ok := h.remote["u-alice"]
		return h.synced && ok && m.Devices == 2 && m.Since == 1
	})
	// Changes follow, in order.
	ra.Set(presence.Member{User: protocol.User{ID: "u-alice", Name: "Alice"}, Devices: 1, Since: 1})
	hb.wait(t, "alice renamed with one device", 5*time.Second, func(h *handler) bool {
		m := h.remote["u-alice"]
		return m.Devices == 1 && m.User.Name == "Alice"
	})
	rb.Set(presence.Member{User: protocol.User{ID: "u-bob", Name: "bob"}, Devices: 1, Since: 2})
	ha.wait(t, "bob on node a", 5*time.Second, func(h *handler) bool { return h.remote["u-bob"].Devices == 1 })
	rb.Typing(protocol.User{ID: "u-bob", Name: "bob"})
	ha.wait(t, "bob typing on node a", 5*time.Second, func(h *handler) bool { return len(h.typing) == 1 && h.typing[0] == "bob" })

	// A person's events reach their watchers on other nodes, not the sender's.
	got := make(chan presence.UserEvent, 4)
	stop := b.WatchUser("u-alice", func(ev presence.UserEvent) { got <- ev })
	defer stop()
	mine := make(chan presence.UserEvent, 4)
	defer a.WatchUser("u-alice", func(ev presence.UserEvent) { mine <- ev })()
	if err := bnc.Flush(); err != nil { // the server has b's subscription before a publishes
		t.Fatal(err)
	}
	a.PublishUser("u-alice", presence.UserEvent{Kind: "rename", Name: "Al"})
	select {
	case ev := <-got:
		if ev.Kind != "rename" || ev.Name != "Al" || ev.Node != "a" {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the rename did not reach node b")
	}
	select {
	case ev := <-mine:
		t.Fatalf("node a heard its own event %+v", ev)
	case <-time.After(100 * time.Millisecond): // a quiet period: nothing should come
	}

	// Node a goes silent (as if killed): its people leave node b's room.
	start := time.Now()
	a.Stop()
	hb.wait(t, "alice gone after node a went silent", 5*time.Second, func(h *handler) bool {
		_, ok := h.remote["u-alice"]
		return !ok
	})
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Fatalf("alice left %v after the last heartbeat, before the 600 ms DeadAfter", d)
	}
}

// TestPresenceStopTellsTheOthers: a node that stops watching a room (its last member left)
// tells the others at once.
func TestPresenceStopTellsTheOthers(t *testing.T) {
	ns := jstest.StartNATS(t)
	a, b := bus(t, ns.ClientURL(), "a"), bus(t, ns.ClientURL(), "b")
	ha, hb := newHandler(), newHandler()
	ra := a.Watch("r", ha)
	b.Watch("r", hb)
	hb.wait(t, "sync", 5*time.Second, func(h *handler) bool { return h.synced })
	ra.Set(presence.Member{User: protocol.User{ID: "u1", Name: "x"}, Devices: 1})
	hb.wait(t, "u1 present", 5*time.Second, func(h *handler) bool { return h.remote["u1"].Devices == 1 })
	ra.Stop()
	hb.wait(t, "u1 gone", time.Second, func(h *handler) bool { _, ok := h.remote["u1"]; return !ok })
}
