package hub

import (
	"context"
	"slices"
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
	isMember   map[*Session]bool
	lastTyping map[*Session]time.Time
	// Encoded for the next joiner, nil when out of date: the online list (its first
	// PresenceLimit members) and the latest HistorySize messages.
	onlineEnc  []byte
	historyEnc []byte
	// In a room larger than PresenceLimit, membership changes are reported as a count at
	// most every PresenceInterval instead of one join/leave event per change.
	countDirty bool
	countT     *time.Timer
	countC     <-chan time.Time
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
		isMember:   make(map[*Session]bool),
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
		case <-r.countC:
			r.countC = nil
			r.sendCount()
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
			if r.countT != nil {
				r.countT.Stop()
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
	wait := r.flushInterval() - time.Since(r.lastFlush)
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

// flushInterval grows with the room, because each flush costs one write per member: it is
// FlushInterval per 100 members (0.8 ms for 20, 4 ms for 100 by default), at most 10 ×
// FlushInterval (1,000 members and more). A busy room thus costs at most about 25,000
// writes a second however large it is, and a small one adds almost no latency.
func (r *room) flushInterval() time.Duration {
	d := r.hub.cfg.FlushInterval * time.Duration(len(r.members)) / 100
	return min(d, 10*r.hub.cfg.FlushInterval)
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
	r.historyEnc = nil
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
		p := protocol.Presence{Type: protocol.TypePresence, Room: r.name, Online: r.online(), OnlineCount: len(r.members)}
		o.s.conn.Send(p.Encode())
	}
}

// small reports whether the room is small enough for a join/leave event per change.
func (r *room) small(members int) bool { return members <= r.hub.cfg.PresenceLimit }

func (r *room) join(o op) {
	s := o.s
	if !r.isMember[s] {
		if r.small(len(r.members) + 1) {
			r.broadcast(protocol.Encode(protocol.MemberEvent{Type: protocol.TypeJoin, Room: r.name, User: s.user, TS: now()}), nil)
		} else {
			r.countChanged()
		}
		if len(r.members) < r.hub.cfg.PresenceLimit {
			r.onlineEnc = nil
		}
		r.members = append(r.members, s)
		r.isMember[s] = true
	}
	history, more := r.recent(o.since)
	if o.welcome != nil {
		w := *o.welcome
		w.Online, w.OnlineCount, w.History, w.LastSeq, w.HasMore = r.online(), len(r.members), history, r.lastSeq, more
		s.conn.Send(w.Encode())
		return
	}
	j := protocol.Joined{
		Type: protocol.TypeJoined, Room: r.name, Online: r.online(), OnlineCount: len(r.members),
		History: history, LastSeq: r.lastSeq, HasMore: more, Ref: o.ref,
	}
	s.conn.Send(j.Encode())
}

// recent returns, encoded, the messages a joining member gets: the latest HistorySize, or
// with since every message after it (at most MaxRecovery, the latest ones), and whether
// older ones remain.
func (r *room) recent(since *uint64) ([]byte, bool) {
	if since == nil {
		n := min(len(r.cache), r.hub.cfg.HistorySize)
		if r.historyEnc == nil {
			encs := make([][]byte, 0, n)
			for _, c := range r.cache[len(r.cache)-n:] {
				encs = append(encs, c.enc)
			}
			r.historyEnc = protocol.EncodeArray(encs)
		}
		return r.historyEnc, n < len(r.cache) || r.coverFrom > 0
	}
	after := *since
	if after >= r.coverFrom {
		var encs [][]byte
		for _, c := range r.cache {
			if c.msg.Seq > after {
				encs = append(encs, c.enc)
			}
		}
		if len(encs) > MaxRecovery {
			return protocol.EncodeArray(encs[len(encs)-MaxRecovery:]), true
		}
		return protocol.EncodeArray(encs), false
	}
	// A long absence: read storage. Messages newer than lastSeq are still on their way
	// through deliver and reach the member from there.
	ctx, cancel := context.WithTimeout(context.Background(), r.hub.cfg.PublishTimeout)
	defer cancel()
	// One more than the limit tells whether anything after since is left out.
	msgs, _, err := r.hub.broker.Before(ctx, r.name, r.lastSeq+1, MaxRecovery+1)
	if err != nil {
		r.hub.log.Error("reading room history", "room", r.name, "err", err)
		return []byte("[]"), true
	}
	kept := msgs[:0]
	for _, m := range msgs {
		if m.Seq > after {
			kept = append(kept, m)
		}
	}
	more := len(kept) > MaxRecovery
	if more {
		kept = kept[len(kept)-MaxRecovery:]
	}
	return protocol.Encode(protocol.OutMessages(kept)), more
}

func (r *room) leave(s *Session) {
	if !r.isMember[s] {
		return
	}
	delete(r.isMember, s)
	i := slices.Index(r.members, s)
	r.members = slices.Delete(r.members, i, i+1)
	delete(r.lastTyping, s)
	if i < r.hub.cfg.PresenceLimit {
		r.onlineEnc = nil
	}
	if r.small(len(r.members) + 1) {
		r.broadcast(protocol.Encode(protocol.MemberEvent{Type: protocol.TypeLeave, Room: r.name, User: s.user, TS: now()}), nil)
	} else {
		r.countChanged()
	}
}

// countChanged schedules an online_count report for a large room.
func (r *room) countChanged() {
	r.countDirty = true
	if r.countC != nil {
		return
	}
	if r.countT == nil {
		r.countT = time.NewTimer(r.hub.cfg.PresenceInterval)
	} else {
		r.countT.Reset(r.hub.cfg.PresenceInterval)
	}
	r.countC = r.countT.C
}

func (r *room) sendCount() {
	if !r.countDirty {
		return
	}
	r.countDirty = false
	r.broadcast(protocol.Encode(protocol.OnlineCount{Type: protocol.TypeOnlineCount, Room: r.name, Count: len(r.members)}), nil)
}

// broadcast sends one encoded object to every member but except.
func (r *room) broadcast(obj []byte, except *Session) {
	for _, m := range r.members {
		if m != except {
			m.conn.Send(obj)
		}
	}
}

func (r *room) typing(s *Session) {
	if !r.isMember[s] {
		return
	}
	t := time.Now()
	if last, ok := r.lastTyping[s]; ok && t.Sub(last) < r.hub.cfg.TypingInterval {
		return
	}
	r.lastTyping[s] = t
	r.broadcast(protocol.Encode(protocol.Typing{Type: protocol.TypeTyping, Room: r.name, User: s.user}), s)
}

// online returns the encoded list of the room's first PresenceLimit members, in join order.
func (r *room) online() []byte {
	if r.onlineEnc == nil {
		n := min(len(r.members), r.hub.cfg.PresenceLimit)
		users := make([]protocol.User, n)
		for i, m := range r.members[:n] {
			users[i] = m.user
		}
		r.onlineEnc = protocol.Encode(users)
	}
	return r.onlineEnc
}

func now() int64 { return time.Now().UnixMilli() }
