package hub

import (
	"context"
	"sync"
	"time"

	"github.com/distchat/distchat/server/protocol"
)

// room is owned by one goroutine (run): membership, presence, typing throttles and the
// cache of recent messages change only there. Everything else talks to it over channels.
type room struct {
	name string
	hub  *Hub
	refs int // guarded by hub.mu

	deliver  chan protocol.Message // stored messages, in seq order, from the broker feed
	ops      chan op               // requests from sessions, in the order they were made
	stopOnce sync.Once
	quit     chan struct{}
	stopped  chan struct{}

	// Owned by run.
	members    []*Session // in join order, for a stable online list
	lastTyping map[*Session]time.Time
	cache      []cached // recent messages, oldest first
	lastSeq    uint64   // highest seq handed to members
	// coverFrom: every stored message of the room with seq > coverFrom is in cache, so
	// a recovery from since >= coverFrom needs no storage read.
	coverFrom uint64

	// Messages delivered but not yet handed to members, and when they last were: see
	// flush.
	pending   [][]byte
	lastFlush time.Time
	flushT    *time.Timer
	flushC    <-chan time.Time
}

type cached struct {
	msg protocol.Message
	enc []byte // encoded once, shared by every member
}

// op is one request to the room. done, when set, is closed after it was handled.
type op struct {
	kind    opKind
	s       *Session
	since   *uint64
	ref     string
	welcome *protocol.Welcome
	done    chan struct{}
}

type opKind int

const (
	opJoin opKind = iota
	opLeave
	opTyping
	opPresence
)

func newRoom(name string, h *Hub) *room {
	return &room{
		name:       name,
		hub:        h,
		deliver:    make(chan protocol.Message, 1024),
		ops:        make(chan op, 64),
		quit:       make(chan struct{}),
		stopped:    make(chan struct{}),
		lastTyping: make(map[*Session]time.Time),
	}
}

func (r *room) stop() { r.stopOnce.Do(func() { close(r.quit) }) }

// do hands an op to the owner goroutine and waits until it was handled. It returns false
// when the room stopped first.
func (r *room) do(o op) bool {
	o.done = make(chan struct{})
	select {
	case r.ops <- o:
	case <-r.stopped:
		return false
	}
	select {
	case <-o.done:
		return true
	case <-r.stopped:
		return false
	}
}

// post hands an op to the owner goroutine without waiting for it.
func (r *room) post(o op) {
	select {
	case r.ops <- o:
	case <-r.stopped:
	}
}

func (r *room) run() {
	defer close(r.stopped)
	r.load()
	for {
		select {
		case m := <-r.deliver:
			r.fanout(m)
		drain:
			for range cap(r.deliver) {
				select {
				case m := <-r.deliver:
					r.fanout(m)
				default:
					break drain
				}
			}
			r.maybeFlush()
		case <-r.flushC:
			r.flushC = nil
			r.flush()
		case o := <-r.ops:
			// Members must have every message the room has seen before anything about
			// membership changes: a joiner's history ends at lastSeq.
			r.flush()
			r.handle(o)
			if o.done != nil {
				close(o.done)
			}
		case <-r.quit:
			if r.flushT != nil {
				r.flushT.Stop()
			}
			return
		}
	}
}

// maybeFlush hands pending messages to members now if the room has been quiet for a flush
// interval, or arms the timer for the end of the interval. A lone message therefore goes
// out at once, while a busy room sends one frame per member per interval carrying every
// message of that interval: far fewer writes, wake-ups and system calls per delivery.
func (r *room) maybeFlush() {
	if len(r.pending) == 0 || r.flushC != nil {
		return
	}
	wait := r.hub.cfg.FlushInterval - time.Since(r.lastFlush)
	if wait <= 0 {
		r.flush()
		return
	}
	if r.flushT == nil {
		r.flushT = time.NewTimer(wait)
	} else {
		r.flushT.Reset(wait)
	}
	r.flushC = r.flushT.C
}

// flush sends the pending messages to every member as one shared slice of bytes: the
// objects separated by newlines, as the protocol allows in one frame.
func (r *room) flush() {
	if len(r.pending) == 0 {
		return
	}
	r.lastFlush = time.Now()
	batch := r.pending[0]
	if len(r.pending) > 1 {
		n := len(r.pending) - 1
		for _, p := range r.pending {
			n += len(p)
		}
		buf := make([]byte, 0, n)
		for i, p := range r.pending {
			if i > 0 {
				buf = append(buf, '\n')
			}
			buf = append(buf, p...)
		}
		batch = buf
	}
	clear(r.pending)
	r.pending = r.pending[:0]
	for _, s := range r.members {
		s.conn.Send(batch)
	}
}

// load fills the cache with the room's latest stored messages. Messages stored meanwhile
// also arrive through deliver; fanout skips those already loaded.
func (r *room) load() {
	ctx, cancel := context.WithTimeout(context.Background(), r.hub.cfg.PublishTimeout)
	defer cancel()
	msgs, more, err := r.hub.broker.Before(ctx, r.name, 0, r.hub.cfg.CacheSize)
	if err != nil {
		r.hub.log.Error("loading room history", "room", r.name, "err", err)
		r.coverFrom = ^uint64(0) // nothing is known to be cached: recover from storage
		return
	}
	for _, m := range msgs {
		r.cache = append(r.cache, cached{msg: m, enc: protocol.EncodeMessage(&m)})
	}
	if len(msgs) > 0 {
		r.lastSeq = msgs[len(msgs)-1].Seq
		if more {
			r.coverFrom = msgs[0].Seq - 1
		}
	}
}

func (r *room) fanout(m protocol.Message) {
	if m.Seq <= r.lastSeq {
		return // already loaded from storage
	}
	r.lastSeq = m.Seq
	enc := protocol.EncodeMessage(&m)
	r.remember(cached{msg: m, enc: enc})
	r.pending = append(r.pending, enc)
}

func (r *room) remember(c cached) {
	if len(r.cache) >= r.hub.cfg.CacheSize {
		// Drop the oldest; shift in place to keep the slice from growing.
		copy(r.cache, r.cache[1:])
		r.cache = r.cache[:len(r.cache)-1]
		r.coverFrom = r.cache[0].msg.Seq - 1
	}
	r.cache = append(r.cache, c)
}

func (r *room) handle(o op) {
	switch o.kind {
	case opJoin:
		r.join(o)
	case opLeave:
		r.leave(o.s)
	case opTyping:
		r.typing(o.s)
	case opPresence:
		o.s.conn.Send(protocol.Encode(protocol.Presence{Type: protocol.TypePresence, Room: r.name, Online: r.online()}))
	}
}

func (r *room) indexOf(s *Session) int {
	for i, m := range r.members {
		if m == s {
			return i
		}
	}
	return -1
}

func (r *room) join(o op) {
	s := o.s
	isNew := r.indexOf(s) < 0
	if isNew {
		ev := protocol.Encode(protocol.MemberEvent{Type: protocol.TypeJoin, Room: r.name, User: s.user, TS: now()})
		for _, m := range r.members {
			m.conn.Send(ev)
		}
		r.members = append(r.members, s)
	}
	history, more := r.recent(o.since)
	if o.welcome != nil {
		w := *o.welcome
		w.Online, w.History, w.LastSeq, w.HasMore = r.online(), history, r.lastSeq, more
		s.conn.Send(protocol.Encode(w))
		return
	}
	s.conn.Send(protocol.Encode(protocol.Joined{
		Type: protocol.TypeJoined, Room: r.name, Online: r.online(),
		History: history, LastSeq: r.lastSeq, HasMore: more, Ref: o.ref,
	}))
}

// recent returns the messages a joining member gets: the latest HistorySize, or with since
// every message after it (at most MaxRecovery, the latest ones), and whether older remain.
func (r *room) recent(since *uint64) ([]protocol.OutMessage, bool) {
	if since == nil {
		n := min(len(r.cache), r.hub.cfg.HistorySize)
		out := make([]protocol.OutMessage, 0, n)
		for _, c := range r.cache[len(r.cache)-n:] {
			out = append(out, protocol.OutMessage{Type: protocol.TypeMessage, Message: c.msg})
		}
		return out, n < len(r.cache) || r.coverFrom > 0
	}
	after := *since
	if after >= r.coverFrom {
		out := []protocol.OutMessage{}
		for _, c := range r.cache {
			if c.msg.Seq > after {
				out = append(out, protocol.OutMessage{Type: protocol.TypeMessage, Message: c.msg})
			}
		}
		if len(out) > MaxRecovery {
			return out[len(out)-MaxRecovery:], true
		}
		return out, false
	}
	// A long absence: read storage. Messages newer than lastSeq are still on their way
	// through deliver and reach the member from there.
	ctx, cancel := context.WithTimeout(context.Background(), r.hub.cfg.PublishTimeout)
	defer cancel()
	// One more than the limit tells whether anything after since is left out.
	msgs, _, err := r.hub.broker.Before(ctx, r.name, r.lastSeq+1, MaxRecovery+1)
	if err != nil {
		r.hub.log.Error("reading room history", "room", r.name, "err", err)
		return []protocol.OutMessage{}, true
	}
	kept := msgs[:0]
	for _, m := range msgs {
		if m.Seq > after {
			kept = append(kept, m)
		}
	}
	if len(kept) > MaxRecovery {
		return protocol.OutMessages(kept[len(kept)-MaxRecovery:]), true
	}
	return protocol.OutMessages(kept), false
}

func (r *room) leave(s *Session) {
	i := r.indexOf(s)
	if i < 0 {
		return
	}
	r.members = append(r.members[:i], r.members[i+1:]...)
	delete(r.lastTyping, s)
	ev := protocol.Encode(protocol.MemberEvent{Type: protocol.TypeLeave, Room: r.name, User: s.user, TS: now()})
	for _, m := range r.members {
		m.conn.Send(ev)
	}
}

func (r *room) typing(s *Session) {
	if r.indexOf(s) < 0 {
		return
	}
	t := time.Now()
	if last, ok := r.lastTyping[s]; ok && t.Sub(last) < r.hub.cfg.TypingInterval {
		return
	}
	r.lastTyping[s] = t
	ev := protocol.Encode(protocol.Typing{Type: protocol.TypeTyping, Room: r.name, User: s.user})
	for _, m := range r.members {
		if m != s {
			m.conn.Send(ev)
		}
	}
}

func (r *room) online() []protocol.User {
	out := make([]protocol.User, len(r.members))
	for i, m := range r.members {
		out[i] = m.user
	}
	return out
}

func now() int64 { return time.Now().UnixMilli() }
