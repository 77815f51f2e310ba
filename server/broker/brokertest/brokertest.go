// Package brokertest is the behavioural test suite that every broker.Broker implementation
// passes: ordering, storage before acknowledgement, history paging, recovery and dedupe.
package brokertest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
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
	t.Run("PublishIsPipelined", func(t *testing.T) { testPipelined(t, newBroker(t)) })
	t.Run("SubscribeDeliversInOrder", func(t *testing.T) { testSubscribe(t, newBroker(t)) })
	t.Run("SubscribeStartsAfterSeq", func(t *testing.T) { testSubscribeAfter(t, newBroker(t)) })
	t.Run("SubscribeCarriesOnlyItsRoom", func(t *testing.T) { testSubscribeOneRoom(t, newBroker(t)) })
	t.Run("RoomsAreSeparate", func(t *testing.T) { testRooms(t, newBroker(t)) })
	t.Run("BeforePagesBackToTheStart", func(t *testing.T) { testBefore(t, newBroker(t)) })
	t.Run("BeforeFindsPagesInASparseRoom", func(t *testing.T) { testBeforeSparse(t, newBroker(t)) })
	t.Run("AfterRecoversExactlyTheMissed", func(t *testing.T) { testAfter(t, newBroker(t)) })
	t.Run("DedupeStoresOnce", func(t *testing.T) { testDedupe(t, newBroker(t)) })
	t.Run("ConcurrentPublishersKeepOneOrder", func(t *testing.T) { testConcurrent(t, newBroker(t)) })
	t.Run("StopEndsDeliveries", func(t *testing.T) { testStop(t, newBroker(t)) })
	t.Run("EventsKeepTheirKind", func(t *testing.T) { testEvents(t, newBroker(t)) })
	t.Run("GetAndCountAfter", func(t *testing.T) { testGet(t, newBroker(t)) })
	t.Run("EraseRemovesOneEntry", func(t *testing.T) { testErase(t, newBroker(t)) })
	t.Run("StateIsAKeyValueStore", func(t *testing.T) { testState(t, newBroker(t)) })
	t.Run("StateWatchSeesEveryChange", func(t *testing.T) { testStateWatch(t, newBroker(t)) })
	t.Run("CloseRefusesPublish", func(t *testing.T) { testClose(t, newBroker(t)) })
}

// testEvents stores an edit, a deletion, a reaction and a topic: each comes back with its
// kind and fields, live and from storage.
func testEvents(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	col := subscribe(t, b, "r", 0)
	m := publish(t, b, "r", "hello")
	who := protocol.User{ID: "u1", Name: "alice"}
	events := []protocol.Message{
		{Room: "r", From: who, Kind: protocol.KindEdit, Target: m.ID, Body: "hello!"},
		{Room: "r", From: who, Kind: protocol.KindReaction, Target: m.ID, Emoji: "👍", On: true},
		{Room: "r", From: who, Kind: protocol.KindDelete, Target: m.ID},
		{Room: "r", From: who, Kind: protocol.KindTopic, Body: "plans"},
	}
	for _, e := range events {
		if _, _, err := Publish(b, e, ""); err != nil {
			t.Fatal(err)
		}
	}
	live := col.wait(t, 5)[1:]
	stored, _, err := b.After(ctx(t), "r", m.Seq, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range events {
		for _, got := range []protocol.Message{live[i], stored[i]} {
			if got.Kind != e.Kind || got.Target != e.Target || got.Body != e.Body || got.Emoji != e.Emoji || got.On != e.On || got.From != who {
				t.Fatalf("event %d came back as %+v, want %+v", i, got, e)
			}
		}
	}
}

func testGet(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	var in []protocol.Message
	var storedBy int64 // when the last message of r had been acknowledged
	for i := range 5 {
		in = append(in, publish(t, b, "r", fmt.Sprint(i)))
		storedBy = time.Now().UnixMilli()
		publish(t, b, "other", "noise")
	}
	got, err := b.Get(ctx(t), "r", in[2].Seq)
	if err != nil || got.ID != in[2].ID || got.Body != "2" {
		t.Fatalf("get %d: %+v, %v", in[2].Seq, got, err)
	}
	if _, err := b.Get(ctx(t), "other", in[2].Seq); !errors.Is(err, broker.ErrNotFound) {
		t.Fatalf("get of another room's seq: %v, want ErrNotFound", err)
	}
	if _, err := b.Get(ctx(t), "r", in[4].Seq+100); !errors.Is(err, broker.ErrNotFound) {
		t.Fatalf("get past the end: %v, want ErrNotFound", err)
	}
	for i, want := range []uint64{4, 3, 2, 1, 0} {
		if n, err := b.CountAfter(ctx(t), "r", in[i].Seq); err != nil || n != want {
			t.Fatalf("count after message %d: %d, %v; want %d", i, n, err, want)
		}
	}
	if n, err := b.CountAfter(ctx(t), "r", 0); err != nil || n != 5 {
		t.Fatalf("count after 0: %d, %v; want 5", n, err)
	}
	// Last activity is when the latest message was stored: not before the hub stamped it,
	// and not after its publish was acknowledged.
	rooms, err := b.Rooms(ctx(t))
	if err != nil || len(rooms) != 2 || rooms[1].LastTS < in[4].TS || rooms[1].LastTS > storedBy {
		t.Fatalf("rooms %+v, %v: want r's last activity in [%d, %d]", rooms, err, in[4].TS, storedBy)
	}
}

func testErase(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	var in []protocol.Message
	for i := range 3 {
		in = append(in, publish(t, b, "r", fmt.Sprint("words ", i)))
	}
	other := publish(t, b, "other", "not r's")
	if err := b.Erase(ctx(t), "r", other.Seq); !errors.Is(err, broker.ErrNotFound) {
		t.Fatalf("erasing another room's entry: %v, want ErrNotFound", err)
	}
	if err := b.Erase(ctx(t), "r", in[1].Seq); err != nil {
		t.Fatalf("erase: %v", err)
	}
	if _, err := b.Get(ctx(t), "r", in[1].Seq); !errors.Is(err, broker.ErrNotFound) {
		t.Fatalf("get of an erased entry: %v, want ErrNotFound", err)
	}
	if err := b.Erase(ctx(t), "r", in[1].Seq); !errors.Is(err, broker.ErrNotFound) {
		t.Fatalf("erasing it again: %v, want ErrNotFound", err)
	}
	page, more, err := b.Before(ctx(t), "r", 0, 10)
	if err != nil || more || len(page) != 2 || page[0].Seq != in[0].Seq || page[1].Seq != in[2].Seq {
		t.Fatalf("the room after an erase: %+v, %v, %v", page, more, err)
	}
	if n, err := b.CountAfter(ctx(t), "r", 0); err != nil || n != 2 {
		t.Fatalf("count after an erase: %d, %v", n, err)
	}
	if got, err := b.Get(ctx(t), "other", other.Seq); err != nil || got.Body != "not r's" {
		t.Fatalf("the other room's entry: %+v, %v", got, err)
	}
}

func testStateWatch(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	st := b.State()
	c := ctx(t)
	if err := st.Put(c, "w.before", []byte("there")); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(c, "x.other", []byte("not watched")); err != nil {
		t.Fatal(err)
	}
	type change struct{ key, value string }
	seen := make(chan change, 16)
	wctx, stop := context.WithCancel(c)
	done := make(chan error, 1)
	go func() {
		done <- st.Watch(wctx, "w.", func(k string, v []byte) {
			if v == nil {
				seen <- change{k, "<removed>"}
				return
			}
			seen <- change{k, string(v)}
		})
	}()
	next := func() change {
		select {
		case ch := <-seen:
			return ch
		case <-time.After(5 * time.Second):
			t.Fatal("no change seen within 5 s")
			return change{}
		}
	}
	if ch := next(); ch != (change{"w.before", "there"}) {
		t.Fatalf("first: %+v, want the value that was there", ch)
	}
	_ = st.Put(c, "w.a", []byte("1"))
	_ = st.Put(c, "x.other", []byte("still not"))
	_ = st.Update(c, "w.a", func([]byte) []byte { return []byte("2") })
	_ = st.Purge(c, "w.before")
	for _, want := range []change{{"w.a", "1"}, {"w.a", "2"}, {"w.before", "<removed>"}} {
		if ch := next(); ch != want {
			t.Fatalf("got %+v, want %+v", ch, want)
		}
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch returned %v after its context ended", err)
	}
}

func testState(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	st := b.State()
	c := ctx(t)
	if v, err := st.Get(c, "a.missing"); err != nil || v != nil {
		t.Fatalf("missing key: %q, %v", v, err)
	}
	if v, err := st.Create(c, "a.k1", []byte("first")); err != nil || string(v) != "first" {
		t.Fatalf("create: %q, %v", v, err)
	}
	if v, err := st.Create(c, "a.k1", []byte("second")); err != nil || string(v) != "first" {
		t.Fatalf("create of an existing key: %q, %v; want the first value", v, err)
	}
	if err := st.Put(c, "a.k2", []byte("two")); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(c, "a.k2", []byte("deux")); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(c, "b.k3", []byte("three")); err != nil {
		t.Fatal(err)
	}
	if v, err := st.Get(c, "a.k2"); err != nil || string(v) != "deux" {
		t.Fatalf("get after put: %q, %v", v, err)
	}
	all, err := st.List(c, "a.")
	if err != nil || len(all) != 2 || string(all["a.k1"]) != "first" || string(all["a.k2"]) != "deux" {
		t.Fatalf("list a.: %q, %v", all, err)
	}
	if none, err := st.List(c, "z."); err != nil || len(none) != 0 {
		t.Fatalf("list of nothing: %q, %v", none, err)
	}
	// Update: from nothing, then concurrently from many goroutines, each change counted.
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			err := st.Update(c, "c.n", func(old []byte) []byte { return append(old, 'x') })
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if v, err := st.Get(c, "c.n"); err != nil || string(v) != "xxxxxxxxxx" {
		t.Fatalf("after 10 concurrent updates: %q, %v", v, err)
	}
	if err := st.Update(c, "c.n", func([]byte) []byte { return nil }); err != nil {
		t.Fatal(err)
	}
	if v, _ := st.Get(c, "c.n"); string(v) != "xxxxxxxxxx" {
		t.Fatalf("an update that changes nothing changed %q", v)
	}
	// Purge: the key is gone, for Get and List; it can be created again.
	if err := st.Purge(c, "a.k2"); err != nil {
		t.Fatal(err)
	}
	if v, err := st.Get(c, "a.k2"); err != nil || v != nil {
		t.Fatalf("get after purge: %q, %v", v, err)
	}
	if all, err := st.List(c, "a."); err != nil || len(all) != 1 || all["a.k2"] != nil {
		t.Fatalf("list after purge: %q, %v", all, err)
	}
	if err := st.Purge(c, "a.never"); err != nil {
		t.Fatalf("purge of a missing key: %v", err)
	}
	if v, err := st.Create(c, "a.k2", []byte("again")); err != nil || string(v) != "again" {
		t.Fatalf("create after purge: %q, %v", v, err)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// result is what a Publish reported.
type result struct {
	m   protocol.Message
	dup bool
	err error
}

// Publish stores m and waits for the outcome.
func Publish(b broker.Broker, m protocol.Message, dedupeKey string) (protocol.Message, bool, error) {
	ch := make(chan result, 1)
	b.Publish(m, dedupeKey, func(m protocol.Message, dup bool, err error) { ch <- result{m, dup, err} })
	r := <-ch
	return r.m, r.dup, r.err
}

func publish(t *testing.T, b broker.Broker, room, body string) protocol.Message {
	t.Helper()
	m, dup, err := Publish(b, protocol.Message{Room: room, Body: body, From: protocol.User{ID: "u1", Name: "alice"}}, "")
	if err != nil {
		t.Fatalf("publish %s/%s: %v", room, body, err)
	}
	if dup {
		t.Fatalf("publish %s/%s without dedupe key reported a duplicate", room, body)
	}
	return m
}

// collector gathers the messages a subscription delivers.
type collector struct {
	mu   sync.Mutex
	msgs []protocol.Message
	more chan struct{}
	stop func()
}

func subscribe(t *testing.T, b broker.Broker, room string, after uint64) *collector {
	t.Helper()
	c := &collector{more: make(chan struct{}, 1)}
	stop, err := b.Subscribe(room, after, func(ms []protocol.Message) {
		c.mu.Lock()
		c.msgs = append(c.msgs, ms...)
		c.mu.Unlock()
		select {
		case c.more <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	c.stop = stop
	t.Cleanup(stop)
	return c
}

func (c *collector) got() []protocol.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]protocol.Message(nil), c.msgs...)
}

// wait returns the delivered messages once there are n of them.
func (c *collector) wait(t *testing.T, n int) []protocol.Message {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got := c.got(); len(got) >= n {
			return got
		}
		select {
		case <-c.more:
		case <-deadline:
			t.Fatalf("%d of %d messages delivered", len(c.got()), n)
		}
	}
}

// quiet fails if more than n messages arrive within d: a window to catch deliveries that
// should not happen.
func (c *collector) quiet(t *testing.T, n int, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		if got := c.got(); len(got) > n {
			t.Fatalf("%d messages delivered, want %d: %+v", len(got), n, got[n:])
		}
		select {
		case <-c.more:
		case <-deadline:
			return
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
	if a.ID != protocol.MessageID(a.Seq) || c.ID != protocol.MessageID(c.Seq) {
		t.Fatalf("ids %q and %q, want the ids of seqs %d and %d", a.ID, c.ID, a.Seq, c.Seq)
	}
	if a.TS < before-1000 || a.TS > time.Now().UnixMilli()+1000 {
		t.Fatalf("ts %d is not now", a.TS)
	}
	if a.Body != "one" || a.Room != "r" || a.From.Name != "alice" {
		t.Fatalf("stored %+v", a)
	}
	if err := b.Ready(); err != nil {
		t.Fatalf("ready: %v", err)
	}
}

// testPipelined starts many publishes without waiting for any: each is stored once and
// reported once.
func testPipelined(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	const n = 500
	results := make(chan result, n)
	for i := range n {
		b.Publish(protocol.Message{Room: "r", Body: fmt.Sprint(i)}, "", func(m protocol.Message, dup bool, err error) {
			results <- result{m, dup, err}
		})
	}
	seqs := map[uint64]string{}
	for range n {
		select {
		case r := <-results:
			if r.err != nil || r.dup {
				t.Fatalf("publish: dup=%v err=%v", r.dup, r.err)
			}
			if _, twice := seqs[r.m.Seq]; twice {
				t.Fatalf("seq %d reported twice", r.m.Seq)
			}
			seqs[r.m.Seq] = r.m.Body
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d publishes reported", len(seqs), n)
		}
	}
	stored, _, err := b.After(ctx(t), "r", 0, n+1)
	if err != nil || len(stored) != n {
		t.Fatalf("%d messages stored, want %d (err %v)", len(stored), n, err)
	}
	for _, m := range stored {
		if seqs[m.Seq] != m.Body {
			t.Fatalf("stored seq %d body %q, reported %q", m.Seq, m.Body, seqs[m.Seq])
		}
	}
}

func testSubscribe(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	col := subscribe(t, b, "r", 0)
	var sent []protocol.Message
	for i := range 50 {
		sent = append(sent, publish(t, b, "r", fmt.Sprint(i)))
	}
	got := col.wait(t, 50)
	for i := range sent {
		if got[i].Seq != sent[i].Seq || got[i].Body != sent[i].Body || got[i].ID != sent[i].ID {
			t.Fatalf("delivery %d = %+v, want %+v", i, got[i], sent[i])
		}
	}
	col.quiet(t, 50, 100*time.Millisecond)
}

// testSubscribeAfter subscribes after some messages were stored: the ones after `after`
// come first, then live ones, each once.
func testSubscribeAfter(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	var sent []protocol.Message
	for i := range 10 {
		sent = append(sent, publish(t, b, "r", fmt.Sprint(i)))
		publish(t, b, "other", "noise")
	}
	col := subscribe(t, b, "r", sent[4].Seq)
	for i := 10; i < 15; i++ {
		sent = append(sent, publish(t, b, "r", fmt.Sprint(i)))
	}
	got := col.wait(t, 10)
	for i, m := range got {
		if m.ID != sent[5+i].ID {
			t.Fatalf("delivery %d: %q, want %q", i, m.Body, sent[5+i].Body)
		}
	}
	col.quiet(t, 10, 100*time.Millisecond)
}

// testSubscribeOneRoom: a subscription gets its room's messages only, and the broker
// carries (Stats.LiveMessages) only rooms someone subscribed to.
func testSubscribeOneRoom(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	col := subscribe(t, b, "mine", 0)
	if st := b.Stats(); st.LiveRooms != 1 {
		t.Fatalf("live rooms %d, want 1", st.LiveRooms)
	}
	for i := range 20 {
		publish(t, b, "theirs", fmt.Sprint(i))
	}
	mine := publish(t, b, "mine", "hello")
	if got := col.wait(t, 1); got[0].ID != mine.ID {
		t.Fatalf("got %+v", got[0])
	}
	col.quiet(t, 1, 50*time.Millisecond)
	if st := b.Stats(); st.LiveMessages != 1 {
		t.Fatalf("the broker received %d live messages, want only the subscribed room's 1", st.LiveMessages)
	}
	col.stop()
	if st := b.Stats(); st.LiveRooms != 0 {
		t.Fatalf("live rooms %d after stop, want 0", st.LiveRooms)
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
	if err != nil || len(rooms) != 2 || rooms[0].Name != "a" || rooms[0].Messages != 10 || rooms[1].Name != "b" || rooms[1].Messages != 10 {
		t.Fatalf("rooms %v, %v; want a and b with 10 messages each", rooms, err)
	}
}

// walkBack pages through a room with Before and returns every message, oldest first.
func walkBack(t *testing.T, b broker.Broker, room string, limit, maxPages int) []protocol.Message {
	t.Helper()
	var walked []protocol.Message
	before := uint64(0)
	for pages := 0; ; pages++ {
		if pages > maxPages {
			t.Fatal("paging does not end")
		}
		page, more, err := b.Before(ctx(t), room, before, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 || len(page) > limit {
			t.Fatalf("page of %d with before=%d, limit %d", len(page), before, limit)
		}
		if more && len(page) != limit {
			t.Fatalf("short page of %d (limit %d) with more after it", len(page), limit)
		}
		for i := 1; i < len(page); i++ {
			if page[i].Seq <= page[i-1].Seq {
				t.Fatalf("page not oldest first: %d then %d", page[i-1].Seq, page[i].Seq)
			}
		}
		if before > 0 && page[len(page)-1].Seq >= before {
			t.Fatalf("page ends with %d, not before %d", page[len(page)-1].Seq, before)
		}
		walked = append(append([]protocol.Message(nil), page...), walked...)
		before = page[0].Seq
		if !more {
			return walked
		}
	}
}

func sameMessages(t *testing.T, got, want []protocol.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Body != want[i].Body {
			t.Fatalf("message %d: %s, want %s", i, got[i].Body, want[i].Body)
		}
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
	sameMessages(t, walkBack(t, b, "r", 50, 10), all)
}

// testBeforeSparse pages through a room whose messages are spread very unevenly through the
// store: long quiet stretches between bursts, among other rooms' traffic.
func testBeforeSparse(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	var all []protocol.Message
	results := make(chan result, 4096)
	pub := func(room string, n int, prefix string) {
		for i := range n {
			b.Publish(protocol.Message{Room: room, Body: fmt.Sprint(prefix, i)}, "", func(m protocol.Message, dup bool, err error) {
				results <- result{m, dup, err}
			})
		}
		for range n {
			if r := <-results; r.err != nil {
				t.Fatal(r.err)
			} else if room == "sparse" {
				all = append(all, r.m)
			}
		}
	}
	for burst := range 6 {
		pub("busy", 300+burst*200, "b")
		pub("sparse", 1+burst*burst*5, fmt.Sprint("s", burst, "-"))
	}
	pub("busy", 500, "tail")
	slices.SortFunc(all, func(a, b protocol.Message) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, limit := range []int{3, 50} {
		sameMessages(t, walkBack(t, b, "sparse", limit, len(all)/limit+2), all)
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
	sameMessages(t, got, all[20:])
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
	col := subscribe(t, b, "r", 0)
	m := protocol.Message{Room: "r", Body: "once", From: protocol.User{Name: "alice"}, Ref: "k1"}
	first, dup, err := Publish(b, m, "alice\x00k1")
	if err != nil || dup {
		t.Fatalf("first publish: dup=%v err=%v", dup, err)
	}
	again, dup, err := Publish(b, m, "alice\x00k1")
	if err != nil || !dup {
		t.Fatalf("second publish: dup=%v err=%v", dup, err)
	}
	if again.Seq != first.Seq || again.ID != first.ID || again.TS != first.TS || again.Body != "once" {
		t.Fatalf("duplicate answered %+v, want the original %+v", again, first)
	}
	other, dup, err := Publish(b, protocol.Message{Room: "s", Body: "other room"}, "alice\x00k1")
	if err != nil || dup || other.Seq == first.Seq {
		t.Fatalf("same key in another room: dup=%v err=%v", dup, err)
	}
	last := publish(t, b, "r", "after")
	got := col.wait(t, 2)
	col.quiet(t, 2, 100*time.Millisecond)
	if len(got) != 2 || got[0].ID != first.ID || got[1].ID != last.ID {
		t.Fatalf("deliveries %+v, want the message once then the next", got)
	}
}

func testConcurrent(t *testing.T, b broker.Broker) {
	closeBroker(t, b)
	col := subscribe(t, b, "r", 0)
	const writers, each = 8, 25
	var wg sync.WaitGroup
	acked := make(chan protocol.Message, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				m, _, err := Publish(b, protocol.Message{Room: "r", Body: fmt.Sprintf("%d/%d", w, i)}, "")
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
	got := col.wait(t, writers*each)
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
	first := subscribe(t, b, "r", 0)
	col := subscribe(t, b, "r", 0)
	publish(t, b, "r", "1")
	col.wait(t, 1)
	first.wait(t, 1)
	first.stop()
	publish(t, b, "r", "2")
	col.wait(t, 2)
	first.quiet(t, 1, 100*time.Millisecond)
}

func testClose(t *testing.T, b broker.Broker) {
	publish(t, b, "r", "1")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, err := Publish(b, protocol.Message{Room: "r", Body: "late"}, "")
	if !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("publish after close: %v, want ErrClosed", err)
	}
	if _, err := b.Subscribe("r", 0, func([]protocol.Message) {}); err == nil {
		t.Fatal("subscribe after close succeeded")
	}
	if err := b.Ready(); err == nil {
		t.Fatal("ready after close")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
