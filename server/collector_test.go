package server_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// collector reads a client's objects in its own goroutine until a message with body end
// arrives, counting messages as they come, for tests that pace publishers on receivers.
type collector struct {
	c        *client
	end      string
	received atomic.Int64
	changes  *changes // signalled after every object

	mu     sync.Mutex
	msgs   []object
	acks   map[string]object
	leaves []user
	err    error
	done   chan struct{}
}

// collectAll starts a collector on each client. They share one changes, so that a test can
// wait for a condition on all of them.
func collectAll(cs []*client, end string) []*collector {
	ch := newChanges()
	cols := make([]*collector, len(cs))
	for i, c := range cs {
		cols[i] = &collector{c: c, end: end, changes: ch, acks: make(map[string]object), done: make(chan struct{})}
		go cols[i].run()
	}
	return cols
}

func (col *collector) run() {
	defer close(col.done)
	for {
		o, err := col.c.next(20 * time.Second)
		col.mu.Lock()
		switch {
		case err != nil:
			col.err = fmt.Errorf("after %d messages: %w", len(col.msgs), err)
		case o.Type == "message":
			col.msgs = append(col.msgs, o)
			col.received.Add(1)
		case o.Type == "ack":
			col.acks[o.Ref] = o
		case o.Type == "leave":
			col.leaves = append(col.leaves, o.User)
		case o.Type == "join":
		default:
			col.err = fmt.Errorf("unexpected %s", o)
		}
		stop := col.err != nil || o.Type == "message" && o.Body == col.end
		col.mu.Unlock()
		col.changes.signal()
		if stop {
			return
		}
	}
}

func (col *collector) sawLeave(u user) bool {
	col.mu.Lock()
	defer col.mu.Unlock()
	return slices.Contains(col.leaves, u)
}

// wait waits until the collector saw the end message and returns what it collected.
func (col *collector) wait(t *testing.T) []object {
	t.Helper()
	select {
	case <-col.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: collector still running", col.c.user.Name)
	}
	if col.err != nil {
		t.Fatalf("%s: %v", col.c.user.Name, col.err)
	}
	return col.msgs
}

func (col *collector) hasAcks(n int) bool {
	col.mu.Lock()
	defer col.mu.Unlock()
	return len(col.acks) >= n
}

// awaitAcks waits until the collector holds acks for n distinct refs and reports whether
// it did within timeout.
func (col *collector) awaitAcks(n int, timeout time.Duration) bool {
	return col.changes.await(timeout, func() bool { return col.hasAcks(n) })
}

func allSawLeave(cols []*collector, u user) bool {
	for _, col := range cols {
		if !col.sawLeave(u) {
			return false
		}
	}
	return true
}

// checkSequence checks that msgs hold exactly the bodies published (per publisher prefix,
// in order) followed by the end message, with strictly increasing seqs.
func checkSequence(t *testing.T, who string, msgs []object, published map[string][]string, end string) {
	t.Helper()
	next := make(map[string]int)
	var lastSeq uint64
	for i, m := range msgs {
		if m.Seq <= lastSeq {
			t.Fatalf("%s: message %d has seq %d after %d", who, i, m.Seq, lastSeq)
		}
		lastSeq = m.Seq
		if m.Body == end {
			if i != len(msgs)-1 {
				t.Fatalf("%s: end message is not the last", who)
			}
			break
		}
		pub, _, _ := strings.Cut(m.Body, "/")
		want := published[pub]
		if next[pub] >= len(want) || want[next[pub]] != m.Body {
			t.Fatalf("%s: message %d is %.40q, want publisher %q's message %d", who, i, m.Body, pub, next[pub])
		}
		next[pub]++
	}
	for pub, bodies := range published {
		if next[pub] != len(bodies) {
			t.Fatalf("%s: got %d of the %d messages of %s", who, next[pub], len(bodies), pub)
		}
	}
}

// changes wakes the goroutines that wait for a condition on collectors' state: each signal
// closes the channel that waiters hold and puts a new one in its place.
type changes struct {
	mu sync.Mutex
	ch chan struct{}
}

func newChanges() *changes { return &changes{ch: make(chan struct{})} }

func (c *changes) signal() {
	c.mu.Lock()
	close(c.ch)
	c.ch = make(chan struct{})
	c.mu.Unlock()
}

// await waits until cond holds, checking it again after every signal, and reports whether
// it did within timeout.
func (c *changes) await(timeout time.Duration, cond func() bool) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		ch := c.ch // taken before cond is checked, so that no signal is missed
		c.mu.Unlock()
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-timer.C:
			return cond()
		}
	}
}
