package broker

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

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
	subs    map[string]map[*memorySub]bool // by room
	closed  bool
	now     func() time.Time
	stats   Stats
	state   memoryState
	epoch   string // this process's store: random, made at start
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
		subs:    make(map[string]map[*memorySub]bool),
		now:     time.Now,
		epoch:   "m" + strconv.FormatInt(time.Now().UnixNano(), 36),
	}
}

// Epoch implements Log: the store lives as long as the process.
func (b *Memory) Epoch() string { return b.epoch }

// Publish implements Log. The message is stored, and done called, before Publish
// returns.
func (b *Memory) Publish(m protocol.Message, dedupeKey string, done Done) {
	stored, dup, err := b.store(m, dedupeKey)
	done(stored, dup, err)
}

func (b *Memory) store(m protocol.Message, dedupeKey string) (protocol.Message, bool, error) {
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
	m.ID = protocol.MessageID(m.Seq)
	log := append(b.rooms[m.Room], m)
	if b.maxRoom > 0 && len(log) > b.maxRoom {
		log = append(log[:0:0], log[len(log)-b.maxRoom:]...)
	}
	b.rooms[m.Room] = log
	// Queue under the lock so that every subscriber sees the room's order.
	for s := range b.subs[m.Room] {
		b.stats.LiveMessages++
		s.push([]protocol.Message{m})
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

// Subscribe implements Log: every entry after `after` that is still kept (maxPerRoom, Erase)
// when the subscription starts, then every one stored later, each exactly once, in order,
// from a goroutine of the subscription's own.
func (b *Memory) Subscribe(room string, after uint64, fn func([]protocol.Message)) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	s := &memorySub{wake: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	if b.subs[room] == nil {
		b.subs[room] = make(map[*memorySub]bool)
	}
	b.subs[room][s] = true
	// What was stored after `after` comes first, then live messages, all from s's goroutine.
	log := b.rooms[room]
	i := sort.Search(len(log), func(i int) bool { return log[i].Seq > after })
	if i < len(log) {
		s.push(append([]protocol.Message(nil), log[i:]...))
	}
	go s.run(fn)
	stop := func() {
		b.mu.Lock()
		delete(b.subs[room], s)
		if len(b.subs[room]) == 0 {
			delete(b.subs, room)
		}
		b.mu.Unlock()
		s.stop()
	}
	return stop, nil
}

// Before implements Log.
func (b *Memory) Before(ctx context.Context, room string, before uint64, limit int) ([]protocol.Message, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, false, ErrClosed
	}
	log := b.rooms[room]
	end := len(log)
	if before > 0 {
		end = sort.Search(len(log), func(i int) bool { return log[i].Seq >= before })
	}
	start := max(end-limit, 0)
	return append([]protocol.Message(nil), log[start:end]...), start > 0, nil
}

// After implements Log.
func (b *Memory) After(ctx context.Context, room string, after uint64, limit int) ([]protocol.Message, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, false, ErrClosed
	}
	log := b.rooms[room]
	start := sort.Search(len(log), func(i int) bool { return log[i].Seq > after })
	end := min(start+limit, len(log))
	return append([]protocol.Message(nil), log[start:end]...), end < len(log), nil
}

// Get implements Log.
func (b *Memory) Get(ctx context.Context, room string, seq uint64) (protocol.Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	log := b.rooms[room]
	i := sort.Search(len(log), func(i int) bool { return log[i].Seq >= seq })
	if i == len(log) || log[i].Seq != seq {
		return protocol.Message{}, ErrNotFound
	}
	return log[i], nil
}

// Erase implements Log.
func (b *Memory) Erase(_ context.Context, room string, seq uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	log := b.rooms[room]
	i := sort.Search(len(log), func(i int) bool { return log[i].Seq >= seq })
	if i == len(log) || log[i].Seq != seq {
		return ErrNotFound
	}
	b.rooms[room] = append(log[:i:i], log[i+1:]...)
	return nil
}

// CountAfter implements Log.
func (b *Memory) CountAfter(ctx context.Context, room string, seq uint64) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	log := b.rooms[room]
	i := sort.Search(len(log), func(i int) bool { return log[i].Seq > seq })
	return uint64(len(log) - i), nil
}

// State implements Broker: a map in this process.
func (b *Memory) State() State { return &b.state }

// Rooms implements Log.
func (b *Memory) Rooms(ctx context.Context) ([]RoomInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]RoomInfo, 0, len(b.rooms))
	for name, log := range b.rooms {
		if len(log) > 0 {
			out = append(out, RoomInfo{Name: name, Messages: uint64(len(log)), LastTS: log[len(log)-1].TS})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Ready implements Health: memory is always ready until closed.
func (b *Memory) Ready() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	return nil
}

// Stats implements Health.
func (b *Memory) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.stats
	st.LiveRooms = len(b.subs)
	return st
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
	for _, room := range subs {
		for s := range room {
			s.stop()
		}
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

func (s *memorySub) push(ms []protocol.Message) {
	s.mu.Lock()
	s.queue = append(s.queue, ms...)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *memorySub) run(fn func([]protocol.Message)) {
	defer close(s.stopped)
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		if len(batch) > 0 {
			fn(batch)
		}
	}
}

func (s *memorySub) stop() {
	s.stopOnce.Do(func() { close(s.done) })
	<-s.stopped
}

// memoryState is State in this process.
type memoryState struct {
	mu       sync.Mutex
	kv       map[string][]byte
	watchers map[*memoryWatch]bool
}

// memoryWatch is one Watch: the changes for it, queued under the state's lock, handed to
// its fn by the watching goroutine.
type memoryWatch struct {
	prefix  string
	changes []keyValue
	wake    chan struct{}
}

type keyValue struct {
	key   string
	value []byte
}

// changed queues a change for the watchers of its key. s.mu is held.
func (s *memoryState) changed(key string, value []byte) {
	for w := range s.watchers {
		if strings.HasPrefix(key, w.prefix) {
			if value != nil {
				value = append(make([]byte, 0, len(value)), value...)
			}
			w.changes = append(w.changes, keyValue{key, value})
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
}

func (s *memoryState) Watch(ctx context.Context, prefix string, fn func(key string, value []byte)) error {
	w := &memoryWatch{prefix: prefix, wake: make(chan struct{}, 1)}
	s.mu.Lock()
	if s.watchers == nil {
		s.watchers = make(map[*memoryWatch]bool)
	}
	s.watchers[w] = true
	for k, v := range s.kv {
		if strings.HasPrefix(k, prefix) {
			w.changes = append(w.changes, keyValue{k, append(make([]byte, 0, len(v)), v...)})
		}
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watchers, w)
		s.mu.Unlock()
	}()
	for {
		s.mu.Lock()
		changes := w.changes
		w.changes = nil
		s.mu.Unlock()
		for _, c := range changes {
			fn(c.key, c.value)
		}
		select {
		case <-w.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *memoryState) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kv[key], nil
}

func (s *memoryState) Create(_ context.Context, key string, value []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.kv[key]; ok {
		return v, nil
	}
	if s.kv == nil {
		s.kv = make(map[string][]byte)
	}
	s.kv[key] = append([]byte(nil), value...)
	s.changed(key, value)
	return value, nil
}

func (s *memoryState) Put(_ context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kv == nil {
		s.kv = make(map[string][]byte)
	}
	s.kv[key] = append([]byte(nil), value...)
	s.changed(key, value)
	return nil
}

func (s *memoryState) Update(_ context.Context, key string, change func([]byte) []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := change(s.kv[key])
	if v == nil {
		return nil
	}
	if s.kv == nil {
		s.kv = make(map[string][]byte)
	}
	s.kv[key] = append([]byte(nil), v...)
	s.changed(key, v)
	return nil
}

func (s *memoryState) List(_ context.Context, prefix string) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte)
	for k, v := range s.kv {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out, nil
}

func (s *memoryState) Purge(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.kv[key]; ok {
		delete(s.kv, key)
		s.changed(key, nil)
	}
	return nil
}
