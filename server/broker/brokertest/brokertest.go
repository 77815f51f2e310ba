// Package brokertest is the behavioural test suite that every broker.Broker implementation
// passes: ordering, storage before acknowledgement, history paging, recovery and dedupe.
package brokertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/protocol"
)

// Factory returns a fresh, empty broker. The suite closes it.
type Factory func(t *testing.T) broker.Broker

// Run runs the whole suite against the brokers made by newBroker.
func Run(t *testing.T, newBroker Factory) {
	t.Run("PublishAssignsSeqTSAndID", func(t *testing.T) { testPublish(t, newBroker(t)) })
	t.Run("SubscribeDeliversInOrder", func(t *testing.T) { testSubscribe(t, newBroker(t)) })
	t.Run("RoomsAreSeparate", func(t *testing.T) { testRooms(t, newBroker(t)) })
	t.Run("BeforePagesBackToTheStart", func(t *testing.T) { testBefore(t, newBroker(t)) })
	t.Run("AfterRecoversExactlyTheMissed", func(t *testing.T) { testAfter(t, newBroker(t)) })
	t.Run("DedupeStoresOnce", func(t *testing.T) { testDedupe(t, newBroker(t)) })
	t.Run("ConcurrentPublishersKeepOneOrder", func(t *testing.T) { testConcurrent(t, newBroker(t)) })
	t.Run("StopEndsDeliveries", func(t *testing.T) { testStop(t, newBroker(t)) })
	t.Run("CloseRefusesPublish", func(t *testing.T) { testClose(t, newBroker(t)) })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func publish(t *testing.T, b broker.Broker, room, body string) protocol.Message {
	t.Helper()
	m, dup, err := b.Publish(ctx(t), protocol.Message{Room: room, Body: body, From: protocol.User{ID: "u1", Name: "alice"}}, "")
	if err != nil {
		t.Fatalf("publish %s/%s: %v", room, body, err)
	}
	if dup {
		t.Fatalf("publish %s/%s without dedupe key reported a duplicate", room, body)
	}
	return m
}

// collector gathers delivered messages.
type collector struct {
	mu   sync.Mutex
	msgs []protocol.Message
	more chan struct{}
}

func subscribe(t *testing.T, b broker.Broker) *collector {
	t.Helper()
	c := &collector{more: make(chan struct{}, 1)}
	stop, err := b.Subscribe(func(m protocol.Message) {
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		c.mu.Unlock()
		select {
		case c.more <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	t.Cleanup(stop)
	return c
}

// wait returns the delivered messages of room once there are n of them.
func (c *collector) wait(t *testing.T, room string, n int) []protocol.Message {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		var got []protocol.Message
		for _, m := range c.msgs {
			if m.Room == room {
				got = append(got, m)
			}
		}
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-c.more:
		case <-deadline:
			t.Fatalf("room %s: %d of %d messages delivered", room, len(got), n)
		}
	}
}

func closeBroker(t *testing.T, b broker.Broker) {
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}

func testPublish(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	before := time.Now().UnixMilli()
	a := publish(t, b, "r", "one")
	c := publish(t, b, "r", "two")
	if a.Seq == 0 || c.Seq <= a.Seq {
		t.Fatalf("seqs %d then %d, want increasing from 1", a.Seq, c.Seq)
	}
	if a.ID == "" || a.ID == c.ID {
		t.Fatalf("ids %q and %q, want unique", a.ID, c.ID)
	}
	if a.TS < before-1000 || a.TS > time.Now().UnixMilli()+1000 {
		t.Fatalf("ts %d is not now", a.TS)
	}
	if a.Body != "one" || a.Room != "r" || a.From.Name != "alice" {
		t.Fatalf("stored %+v", a)
	}
}

func testSubscribe(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	col := subscribe(t, b)
	var sent []protocol.Message
	for i := range 50 {
		sent = append(sent, publish(t, b, "r", fmt.Sprint(i)))
	}
	got := col.wait(t, "r", 50)
	for i := range sent {
		if got[i].Seq != sent[i].Seq || got[i].Body != sent[i].Body || got[i].ID != sent[i].ID {
			t.Fatalf("delivery %d = %+v, want %+v", i, got[i], sent[i])
		}
	}
	// A quiet period, not a wait for an event: nothing more is expected, so there is
	// nothing to wait for; a duplicate delivered late would show up in it.
	time.Sleep(50 * time.Millisecond)
	if n := len(col.wait(t, "r", 50)); n != 50 {
		t.Fatalf("%d deliveries for 50 messages", n)
	}
}

func testRooms(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	for i := range 10 {
		publish(t, b, "a", fmt.Sprint("a", i))
		publish(t, b, "b", fmt.Sprint("b", i))
	}
	for _, room := range []string{"a", "b"} {
		msgs, more, err := b.Before(ctx(t), room, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 10 || more {
			t.Fatalf("room %s: %d messages (more=%v), want 10", room, len(msgs), more)
		}
		for i, m := range msgs {
			if m.Room != room || m.Body != fmt.Sprint(room, i) {
				t.Fatalf("room %s message %d: %+v", room, i, m)
			}
		}
	}
	if msgs, _, _ := b.Before(ctx(t), "empty", 0, 10); len(msgs) != 0 {
		t.Fatalf("unknown room has %d messages", len(msgs))
	}
	rooms, err := b.Rooms(ctx(t))
	if err != nil || len(rooms) != 2 || rooms[0] != "a" || rooms[1] != "b" {
		t.Fatalf("rooms %q, %v; want [a b]", rooms, err)
	}
}

func testBefore(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	var all []protocol.Message
	for i := range 120 {
		all = append(all, publish(t, b, "r", fmt.Sprint(i)))
		if i%7 == 0 {
			publish(t, b, "other", "noise") // makes stream sequences non-contiguous per room
		}
	}
	var walked []protocol.Message
	before := uint64(0)
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page, more, err := b.Before(ctx(t), "r", before, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			t.Fatalf("empty page with before=%d", before)
		}
		for i := 1; i < len(page); i++ {
			if page[i].Seq <= page[i-1].Seq {
				t.Fatalf("page not oldest first: %d then %d", page[i-1].Seq, page[i].Seq)
			}
		}
		walked = append(append([]protocol.Message(nil), page...), walked...)
		before = page[0].Seq
		if !more {
			break
		}
	}
	if len(walked) != len(all) {
		t.Fatalf("walked %d messages, want %d", len(walked), len(all))
	}
	for i := range all {
		if walked[i].ID != all[i].ID {
			t.Fatalf("message %d: %s, want %s", i, walked[i].Body, all[i].Body)
		}
	}
}

func testAfter(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	var all []protocol.Message
	for i := range 40 {
		all = append(all, publish(t, b, "r", fmt.Sprint(i)))
		publish(t, b, "other", "noise")
	}
	seen := all[19].Seq
	got, more, err := b.After(ctx(t), "r", seen, 100)
	if err != nil {
		t.Fatal(err)
	}
	if more || len(got) != 20 {
		t.Fatalf("after %d: %d messages (more=%v), want 20", seen, len(got), more)
	}
	for i, m := range got {
		if m.ID != all[20+i].ID {
			t.Fatalf("recovered %d: %s, want %s", i, m.Body, all[20+i].Body)
		}
	}
	got, more, err = b.After(ctx(t), "r", seen, 5)
	if err != nil || len(got) != 5 || !more {
		t.Fatalf("limited after: %d messages, more=%v, err=%v", len(got), more, err)
	}
	got, more, err = b.After(ctx(t), "r", all[39].Seq, 5)
	if err != nil || len(got) != 0 || more {
		t.Fatalf("after the last: %d messages, more=%v, err=%v", len(got), more, err)
	}
}

func testDedupe(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	col := subscribe(t, b)
	m := protocol.Message{Room: "r", Body: "once", From: protocol.User{Name: "alice"}, Ref: "k1"}
	first, dup, err := b.Publish(ctx(t), m, "alice\x00k1")
	if err != nil || dup {
		t.Fatalf("first publish: dup=%v err=%v", dup, err)
	}
	again, dup, err := b.Publish(ctx(t), m, "alice\x00k1")
	if err != nil || !dup {
		t.Fatalf("second publish: dup=%v err=%v", dup, err)
	}
	if again.Seq != first.Seq || again.ID != first.ID {
		t.Fatalf("duplicate answered seq %d id %s, want %d %s", again.Seq, again.ID, first.Seq, first.ID)
	}
	other, dup, err := b.Publish(ctx(t), protocol.Message{Room: "s", Body: "other room"}, "alice\x00k1")
	if err != nil || dup || other.Seq == first.Seq {
		t.Fatalf("same key in another room: dup=%v err=%v", dup, err)
	}
	last := publish(t, b, "r", "after")
	got := col.wait(t, "r", 2)
	// A quiet period in which a late delivery of the duplicate would show up (see
	// testSubscribe).
	time.Sleep(50 * time.Millisecond)
	got = col.wait(t, "r", 2)
	if len(got) != 2 || got[0].ID != first.ID || got[1].ID != last.ID {
		t.Fatalf("deliveries %+v, want the message once then the next", got)
	}
}

func testConcurrent(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	col := subscribe(t, b)
	const writers, each = 8, 25
	var wg sync.WaitGroup
	acked := make(chan protocol.Message, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				m, _, err := b.Publish(context.Background(), protocol.Message{Room: "r", Body: fmt.Sprintf("%d/%d", w, i)}, "")
				if err != nil {
					t.Errorf("publish: %v", err)
					return
				}
				acked <- m
			}
		}()
	}
	wg.Wait()
	close(acked)
	got := col.wait(t, "r", writers*each)
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Fatalf("delivery %d has seq %d after %d", i, got[i].Seq, got[i-1].Seq)
		}
	}
	seqs := map[uint64]bool{}
	for m := range acked {
		seqs[m.Seq] = true
	}
	for _, m := range got {
		if !seqs[m.Seq] {
			t.Fatalf("delivered seq %d was never acked", m.Seq)
		}
	}
	if len(seqs) != writers*each {
		t.Fatalf("%d distinct seqs for %d messages", len(seqs), writers*each)
	}
}

func testStop(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	var mu sync.Mutex
	n := 0
	delivered := make(chan struct{}, 1)
	stop, err := b.Subscribe(func(protocol.Message) {
		mu.Lock()
		n++
		mu.Unlock()
		select {
		case delivered <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	col := subscribe(t, b)
	publish(t, b, "r", "1")
	col.wait(t, "r", 1)
	select {
	case <-delivered:
	case <-time.After(5 * time.Second):
		t.Fatal("first subscriber never got the first message")
	}
	mu.Lock()
	got := n
	mu.Unlock()
	if got != 1 {
		t.Fatalf("first subscriber got %d messages, want 1", got)
	}
	stop()
	publish(t, b, "r", "2")
	col.wait(t, "r", 2)
	// A quiet period: the stopped subscriber must get nothing, and no event of the other
	// subscription orders its deliveries, so it is given this time to go wrong.
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if n != 1 {
		t.Fatalf("stopped subscriber got %d messages, want 1", n)
	}
}

func testClose(t *testing.T, b broker.Broker) {
	publish(t, b, "r", "1")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, err := b.Publish(ctx(t), protocol.Message{Room: "r", Body: "late"}, "")
	if err == nil {
		t.Fatal("publish after close succeeded")
	}
	if !errors.Is(err, broker.ErrClosed) {
		t.Logf("publish after close: %v (not ErrClosed)", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
