package jetstream

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/distchat/distchat/server/backoff"
	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/protocol"
)

// Live delivery.
//
// The stream republishes every message it stores to distchat.live.<room>, with the
// message's sequence (Nats-Sequence) and the sequence of the room's previous message
// (Nats-Last-Sequence). A node subscribes to the live subjects of the rooms that have
// members on it, so it carries only their messages. Republished messages are plain NATS
// messages, delivered at most once: a room that sees a previous sequence beyond the last
// one it delivered has missed something and reads the gap from the stream before going
// on. Messages stored while nobody could see them (while subscribing, during a stream
// leader election, after a reconnect or a slow-consumer drop) are caught up by asking the
// stream's leader for the room's latest sequence and filling up to it.
//
// All live subscriptions feed one channel read by one goroutine (dispatch), which keeps
// the connection's arrival order and never waits for storage: filling runs in a goroutine
// of its own per room while the room's live messages are held back.

// liveBuffer is the capacity of the channel all live subscriptions share; if it overflows
// NATS drops messages (a slow consumer) and the rooms catch up from storage.
const liveBuffer = 1 << 16

// Backoff of a gap fill that cannot read the stream.
const (
	fillRetryMin = 50 * time.Millisecond
	fillRetryMax = 2 * time.Second
	// fillPage is how many messages one read of a gap fill asks for.
	fillPage = 512
)

type liveSet struct {
	b    *Broker
	ch   chan *nats.Msg
	quit chan struct{}

	mu    sync.RWMutex
	rooms map[string]map[*liveRoom]bool // by live subject

	received atomic.Uint64
	fills    atomic.Uint64
}

func newLiveSet(b *Broker) *liveSet {
	return &liveSet{
		b:     b,
		ch:    make(chan *nats.Msg, liveBuffer),
		quit:  make(chan struct{}),
		rooms: make(map[string]map[*liveRoom]bool),
	}
}

// liveRoom is one subscription to a room's live messages.
type liveRoom struct {
	set  *liveSet
	room string
	fn   func([]protocol.Message)
	sub  *nats.Subscription

	mu      sync.Mutex
	last    uint64        // highest seq handed to fn
	target  uint64        // a gap fill runs until last >= target
	filling bool          // a fill goroutine runs; live messages wait in held
	held    []heldMessage // live messages that arrived during a fill, in arrival order
	stopped bool
}

type heldMessage struct {
	m    protocol.Message
	prev uint64
}

// Subscribe implements broker.Log. Entries come live from the room's republished copies
// and, for what those miss (before the subscription took effect, lost on the way, stored
// during a leader election or a reconnect), from the stream, each at most once and in Seq
// order. A gap is closed without entries only when the stream's leader has none in it
// (retention removed them, or they were erased): a copy that lags behind is never taken for
// an empty gap, whatever it answers. An entry that cannot be decoded is skipped.
func (b *Broker) Subscribe(room string, after uint64, fn func([]protocol.Message)) (func(), error) {
	if b.closed.Load() {
		return nil, broker.ErrClosed
	}
	return b.live.subscribe(room, after, fn)
}

func (s *liveSet) subscribe(room string, after uint64, fn func([]protocol.Message)) (func(), error) {
	lr := &liveRoom{set: s, room: room, fn: fn, last: after, target: after}
	subj := s.b.liveSubject(room)
	sub, err := s.b.nc.ChanSubscribe(subj, s.ch)
	if err != nil {
		return nil, err
	}
	lr.sub = sub
	s.mu.Lock()
	if s.rooms[subj] == nil {
		s.rooms[subj] = make(map[*liveRoom]bool)
	}
	s.rooms[subj][lr] = true
	s.mu.Unlock()
	// Whatever was stored after `after` and before the subscription took effect comes
	// from the stream.
	go lr.catchUp()
	return func() { s.unsubscribe(subj, lr) }, nil
}

func (s *liveSet) unsubscribe(subj string, lr *liveRoom) {
	lr.mu.Lock()
	lr.stopped = true
	lr.held = nil
	lr.mu.Unlock()
	_ = lr.sub.Unsubscribe()
	s.mu.Lock()
	delete(s.rooms[subj], lr)
	if len(s.rooms[subj]) == 0 {
		delete(s.rooms, subj)
	}
	s.mu.Unlock()
}

// dispatch hands every live message to the rooms subscribed to it, in arrival order.
func (s *liveSet) dispatch() {
	for {
		select {
		case <-s.quit:
			return
		case msg := <-s.ch:
			s.deliver(msg)
		}
	}
}

func (s *liveSet) deliver(msg *nats.Msg) {
	s.received.Add(1)
	seq, err1 := strconv.ParseUint(msg.Header.Get("Nats-Sequence"), 10, 64)
	prev, err2 := strconv.ParseUint(msg.Header.Get("Nats-Last-Sequence"), 10, 64)
	if err1 != nil || err2 != nil {
		return
	}
	room := strings.TrimPrefix(msg.Subject, s.b.opts.LivePrefix)
	m, err := DecodeStored(room, seq, msg.Data)
	if err != nil {
		s.b.opts.Logger.Warn("skipping an undecodable live message", "room", room, "seq", seq, "err", err)
		// Its seq still counts: the room goes on from it without waiting for it.
		m = protocol.Message{Room: room, Seq: seq}
	}
	s.mu.RLock()
	subs := s.rooms[msg.Subject]
	rooms := make([]*liveRoom, 0, len(subs))
	for lr := range subs {
		rooms = append(rooms, lr)
	}
	s.mu.RUnlock()
	for _, lr := range rooms {
		lr.live(m, prev, err == nil)
	}
}

// live handles one republished message: deliver it, drop it (seen already), or hold it
// while the gap before it is filled.
func (lr *liveRoom) live(m protocol.Message, prev uint64, ok bool) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if lr.stopped || m.Seq <= lr.last {
		return
	}
	if lr.filling {
		lr.held = append(lr.held, heldMessage{m, prev})
		return
	}
	if prev > lr.last {
		lr.held = append(lr.held, heldMessage{m, prev})
		lr.startFill(prev)
		return
	}
	lr.last = m.Seq
	if ok {
		lr.fn([]protocol.Message{m})
	}
}

// startFill makes sure a fill runs up to at least target. lr.mu is held.
func (lr *liveRoom) startFill(target uint64) {
	lr.target = max(lr.target, target)
	if lr.filling || lr.last >= lr.target {
		return
	}
	lr.filling = true
	lr.set.fills.Add(1)
	go lr.fill()
}

// catchUp asks the stream's leader for the room's latest sequence and fills up to it.
func (lr *liveRoom) catchUp() {
	b := lr.set.b
	retry := backoff.Backoff{Min: fillRetryMin, Max: fillRetryMax}
	for {
		lr.mu.Lock()
		stopped := lr.stopped
		lr.mu.Unlock()
		if stopped || b.ctx.Err() != nil {
			return
		}
		ctx, cancel := context.WithTimeout(b.ctx, probeTimeout)
		last, err := b.lastSeq(ctx, lr.room)
		cancel()
		if err == nil {
			lr.mu.Lock()
			if !lr.stopped {
				lr.startFill(last)
			}
			lr.mu.Unlock()
			return
		}
		if !retry.Wait(b.ctx) {
			return
		}
	}
}

// fill reads the room's messages after the last delivered one until it reaches the
// target, delivers them, then releases what live delivery held meanwhile (which may need
// another fill).
func (lr *liveRoom) fill() {
	b := lr.set.b
	retry := backoff.Backoff{Min: fillRetryMin, Max: fillRetryMax}
	for {
		lr.mu.Lock()
		if lr.stopped {
			lr.mu.Unlock()
			return
		}
		if lr.last >= lr.target && lr.release() {
			lr.filling = false
			lr.mu.Unlock()
			return
		}
		from, target := lr.last, lr.target
		lr.mu.Unlock()

		ctx, cancel := context.WithTimeout(b.ctx, probeTimeout)
		msgs, _, err := b.batch(ctx, lr.room, from+1, fillPage)
		if err == nil && len(msgs) == 0 {
			// The copy that answered has nothing after from: it lags behind the leader, or
			// the entries were removed (retention, an erased message). The leader says
			// which, and a lagging copy is never taken for a gap that is empty.
			var m protocol.Message
			var found bool
			if m, found, err = b.leaderNext(ctx, lr.room, from+1); err == nil {
				if !found || m.Seq > target {
					lr.mu.Lock()
					lr.last = max(lr.last, target) // nothing stored in the gap any more
					lr.mu.Unlock()
					cancel()
					continue
				}
				msgs = []protocol.Message{m}
			}
		}
		cancel()
		if err != nil || len(msgs) == 0 {
			if !retry.Wait(b.ctx) {
				return
			}
			continue
		}
		retry.Reset()
		lr.mu.Lock()
		if !lr.stopped {
			lr.deliverFrom(msgs)
		}
		lr.mu.Unlock()
	}
}

// deliverFrom hands fn the messages after the last delivered one. lr.mu is held.
func (lr *liveRoom) deliverFrom(msgs []protocol.Message) {
	i := 0
	for i < len(msgs) && msgs[i].Seq <= lr.last {
		i++
	}
	if i == len(msgs) {
		return
	}
	lr.fn(msgs[i:])
	lr.last = msgs[len(msgs)-1].Seq
}

// release delivers the held live messages in order while they follow on without a gap.
// It returns false when another gap needs filling (the target is raised); the rest stays
// held. lr.mu is held.
func (lr *liveRoom) release() bool {
	for i, h := range lr.held {
		if h.m.Seq <= lr.last {
			continue
		}
		if h.prev > lr.last {
			lr.target = max(lr.target, h.prev)
			lr.held = append(lr.held[:0], lr.held[i:]...)
			return false
		}
		lr.last = h.m.Seq
		if h.m.ID != "" {
			lr.fn([]protocol.Message{h.m})
		}
	}
	lr.held = nil
	return true
}

// catchUpAll makes every live room check for messages it may have missed.
func (s *liveSet) catchUpAll() {
	s.mu.RLock()
	var rooms []*liveRoom
	for _, subs := range s.rooms {
		for lr := range subs {
			rooms = append(rooms, lr)
		}
	}
	s.mu.RUnlock()
	for _, lr := range rooms {
		go lr.catchUp()
	}
}

func (s *liveSet) stats() broker.Stats {
	s.mu.RLock()
	n := 0
	for _, subs := range s.rooms {
		n += len(subs)
	}
	s.mu.RUnlock()
	return broker.Stats{LiveRooms: n, LiveMessages: s.received.Load(), GapFills: s.fills.Load()}
}

// close stops the dispatcher and every room's deliveries.
func (s *liveSet) close() {
	s.mu.Lock()
	rooms := s.rooms
	s.rooms = map[string]map[*liveRoom]bool{}
	s.mu.Unlock()
	for _, subs := range rooms {
		for lr := range subs {
			lr.mu.Lock()
			lr.stopped = true
			lr.mu.Unlock()
		}
	}
	close(s.quit)
}
