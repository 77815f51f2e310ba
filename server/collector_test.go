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

	mu     sync.Mutex
	msgs   []object
	acks   map[string]object
	leaves []user
	err    error
	done   chan struct{}
}

func collect(c *client, end string) *collector {
	col := &collector{c: c, end: end, acks: make(map[string]object), done: make(chan struct{})}
	go col.run()
	return col
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
