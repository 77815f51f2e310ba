package broker

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nuid"

	"github.com/distchat/distchat/server/protocol"
)

// Memory is a Broker that keeps messages in this process: nothing survives a restart and
// nothing is shared with other nodes. It serves fast hub tests and `--store memory`.
type Memory struct {
	mu      sync.Mutex
	rooms   map[string][]protocol.Message
	seq     uint64 // one counter for all rooms, like a JetStream stream sequence
	dedupe  map[string]dedupeEntry
	window  time.Duration
	maxRoom int
	subs    map[int]*memorySub
	nextSub int
	closed  bool
	now     func() time.Time
}

type dedupeEntry struct {
	msg  protocol.Message
	seen time.Time
}

var _ Broker = (*Memory)(nil)

// NewMemory returns an in-process broker that keeps at most maxPerRoom messages per room
// (0: unlimited) and remembers dedupe keys for window.
func NewMemory(maxPerRoom int, window time.Duration) *Memory {
	return &Memory{
		rooms:   make(map[string][]protocol.Message),
		dedupe:  make(map[string]dedupeEntry),
		window:  window,
		maxRoom: maxPerRoom,
		subs:    make(map[int]*memorySub),
		now:     time.Now,
	}
}

// Publish implements Broker.
func (b *Memory) Publish(ctx context.Context, m protocol.Message, dedupeKey string) (protocol.Message, bool, error) {
	if err := ctx.Err(); err != nil {
		return protocol.Message{}, false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return protocol.Message{}, false, ErrClosed
	}
	now := b.now()
	if dedupeKey != "" {
		key := m.Room + "\x00" + dedupeKey
		if e, ok := b.dedupe[key]; ok && now.Sub(e.seen) < b.window {
			return e.msg, true, nil
		}
		defer func() { b.dedupe[key] = dedupeEntry{msg: m, seen: now} }()
		if len(b.dedupe) > 100_000 {
			b.expireDedupe(now)
		}
	}
	b.seq++
	m.Seq = b.seq
	m.TS = now.UnixMilli()
	if m.ID == "" {
		m.ID = nuid.Next()
	}
	log := append(b.rooms[m.Room], m)
	if b.maxRoom > 0 && len(log) > b.maxRoom {
		log = append(log[:0:0], log[len(log)-b.maxRoom:]...)
	}
	b.rooms[m.Room] = log
	// Queue under the lock so that every subscriber sees one global order.
	for _, s := range b.subs {
		s.push(m)
	}
	return m, false, nil
}

func (b *Memory) expireDedupe(now time.Time) {
	for k, e := range b.dedupe {
		if now.Sub(e.seen) >= b.window {
			delete(b.dedupe, k)
		}
	}
}

// Subscribe implements Broker.
func (b *Memory) Subscribe(fn func(protocol.Message)) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	id := b.nextSub
	b.nextSub++
	s := &memorySub{wake: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	b.subs[id] = s
	go s.run(fn)
	stop := func() {
		b.mu.Lock()
		delete(b.subs, id)
		b.mu.Unlock()
		s.stop()
	}
	return stop, nil
}

// Before implements Broker.
func (b *Memory) Before(ctx context.Context, room string, before uint64, limit int) ([]protocol.Message, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	log := b.rooms[room]
	end := len(log)
	if before > 0 {
		end = sort.Search(len(log), func(i int) bool { return log[i].Seq >= before })
	}
	start := max(end-limit, 0)
	return append([]protocol.Message(nil), log[start:end]...), start > 0, nil
}

// After implements Broker.
func (b *Memory) After(ctx context.Context, room string, after uint64, limit int) ([]protocol.Message, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	log := b.rooms[room]
	start := sort.Search(len(log), func(i int) bool { return log[i].Seq > after })
	end := min(start+limit, len(log))
	return append([]protocol.Message(nil), log[start:end]...), end < len(log), nil
}

// Rooms implements Broker.
func (b *Memory) Rooms(ctx context.Context) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.rooms))
	for name, log := range b.rooms {
		if len(log) > 0 {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Close implements Broker.
func (b *Memory) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()
	for _, s := range subs {
		s.stop()
	}
	return nil
}

// memorySub delivers messages to one handler from its own goroutine, so that a slow handler
// never blocks Publish.
type memorySub struct {
	mu       sync.Mutex
	queue    []protocol.Message
	wake     chan struct{}
	done     chan struct{}
	stopped  chan struct{}
	stopOnce sync.Once
}

func (s *memorySub) push(m protocol.Message) {
	s.mu.Lock()
	s.queue = append(s.queue, m)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *memorySub) run(fn func(protocol.Message)) {
	defer close(s.stopped)
	var batch []protocol.Message
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		s.mu.Lock()
		batch, s.queue = s.queue, batch[:0]
		s.mu.Unlock()
		for _, m := range batch {
			fn(m)
		}
	}
}

func (s *memorySub) stop() {
	s.stopOnce.Do(func() { close(s.done) })
	<-s.stopped
}
