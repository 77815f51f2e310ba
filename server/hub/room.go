package hub

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distchat/distchat/server/presence"
	"github.com/distchat/distchat/server/protocol"
)

// room is owned by one goroutine (run): membership, presence, typing throttles and the
// cache of recent messages change only there. Sessions talk to it over ops; the broker's
// live deliveries, presence from other nodes and the results of storage reads arrive in
// its inbox. Storage is never read on this goroutine: a room's first load and long
// recoveries run in goroutines of their own and report back (load.go).
type room struct {
	name string
	hub  *Hub
	refs int   // guarded by hub.mu
	prev *room // a previous run of this room, still stopping; run waits for it

	ops      chan op // requests from sessions, in the order they were made
	inbox    inbox
	stopOnce sync.Once
	quit     chan struct{}
	stopped  chan struct{}
	people   atomic.Int32 // len(order), for Hub.Rooms

	// sub guards the live subscription, which the loader sets and shutdown stops.
	sub struct {
		sync.Mutex
		stop    func()
		closing bool
	}

	// Owned by run.
	presence presence.Room
	loaded   bool // the cache holds the room's latest messages
	synced   bool // the other nodes' members are known
	waiting  []op // joins and presence requests until loaded and synced
	waitT    *time.Timer
	waitC    <-chan time.Time
	loadErr  error // the last failure to load, for refused joins
	recovery []*recovering

	members    []*Session // local connections, in join order
	isMember   map[*Session]bool
	persons    map[string]*person // by user id: everyone present, here or elsewhere
	order      []*person          // present people in arrival order: the online list
	lastTyping map[string]time.Time
	// Encoded for the next joiner, nil when out of date: the online list (its first
	// PresenceLimit people) and the latest HistorySize messages.
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

// person is someone present in the room: connected here (local connections) or on other
// nodes (remote devices). since orders the online list: when they arrived (the earliest of
// their devices here and elsewhere), the same on every node.
type person struct {
	user        protocol.User
	local       int
	remote      int
	localSince  int64
	remoteSince int64
}

func (p *person) since() int64 {
	switch {
	case p.local == 0:
		return p.remoteSince
	case p.remote == 0:
		return p.localSince
	}
	return min(p.localSince, p.remoteSince)
}

func (p *person) present() bool { return p.local+p.remote > 0 }

type cached struct {
	msg protocol.Message
	enc []byte // encoded once, shared by every member
}

// op is one request to the room.
type op struct {
	kind    opKind
	s       *Session
	since   *uint64
	ref     string
	welcome *protocol.Welcome
	at      time.Time // when a join started waiting
}

type opKind int

const (
	opJoin opKind = iota
	opLeave
	opTyping
	opPresence
)

func newRoom(name string, h *Hub, prev *room) *room {
	return &room{
		name:       name,
		hub:        h,
		prev:       prev,
		ops:        make(chan op, 64),
		inbox:      inbox{wake: make(chan struct{}, 1)},
		quit:       make(chan struct{}),
		stopped:    make(chan struct{}),
		lastTyping: make(map[string]time.Time),
		isMember:   make(map[*Session]bool),
		persons:    make(map[string]*person),
	}
}

func (r *room) stop() { r.stopOnce.Do(func() { close(r.quit) }) }

// post hands an op to the owner goroutine.
func (r *room) post(o op) {
	select {
	case r.ops <- o:
	case <-r.stopped:
	}
}

func (r *room) run() {
	defer close(r.stopped)
	if r.prev != nil {
		<-r.prev.stopped
		r.prev = nil
	}
	r.presence = r.hub.bus.Watch(r.name, roomPresence{r})
	go r.load()
	for {
		select {
		case <-r.inbox.wake:
			r.drainInbox()
			r.maybeFlush()
		case <-r.flushC:
			r.flushC = nil
			r.flush()
		case <-r.countC:
			r.countC = nil
			r.sendCount()
		case <-r.waitC:
			r.waitC = nil
			r.refuseWaiting()
		case o := <-r.ops:
			// Members must have every message the room has seen before anything about
			// membership changes: a joiner's history ends at lastSeq.
			r.flush()
			r.handle(o)
		case <-r.quit:
			r.shutdown()
			return
		}
	}
}

func (r *room) shutdown() {
	for _, t := range []*time.Timer{r.flushT, r.countT, r.waitT} {
		if t != nil {
			t.Stop()
		}
	}
	r.sub.Lock()
	r.sub.closing = true
	if r.sub.stop != nil {
		r.sub.stop()
	}
	r.sub.Unlock()
	// The other nodes learn that nobody is here any more.
	r.presence.Stop()
}

// ready reports whether joins can be answered: the history is loaded and the other nodes'
// members are known.
func (r *room) ready() bool { return r.loaded && r.synced }

func (r *room) handle(o op) {
	switch o.kind {
	case opJoin, opPresence:
		if !r.ready() {
			r.wait(o)
			return
		}
		if o.kind == opJoin {
			r.join(o)
		} else {
			p := protocol.Presence{Type: protocol.TypePresence, Room: r.name, Online: r.online(), OnlineCount: len(r.order)}
			o.s.conn.Send(p.Encode())
		}
	case opLeave:
		r.leave(o.s)
	case opTyping:
		r.typing(o.s)
	}
}

// wait keeps a join until the room is ready; a room that cannot load refuses it after
// LoadWait.
func (r *room) wait(o op) {
	o.at = time.Now()
	r.waiting = append(r.waiting, o)
	if r.waitC == nil {
		if r.waitT == nil {
			r.waitT = time.NewTimer(r.hub.cfg.LoadWait)
		} else {
			r.waitT.Reset(r.hub.cfg.LoadWait)
		}
		r.waitC = r.waitT.C
	}
}

// serveWaiting answers the joins that waited, in order, once the room is ready.
func (r *room) serveWaiting() {
	if !r.ready() || len(r.waiting) == 0 {
		return
	}
	waiting := r.waiting
	r.waiting = nil
	for _, o := range waiting {
		r.handle(o)
	}
}

// refuseWaiting refuses the joins that waited LoadWait for a room that is still not ready,
// and keeps waiting for the younger ones.
func (r *room) refuseWaiting() {
	now := time.Now()
	kept := r.waiting[:0]
	for _, o := range r.waiting {
		if now.Sub(o.at) < r.hub.cfg.LoadWait {
			kept = append(kept, o)
			continue
		}
		r.refuse(o)
	}
	r.waiting = kept
	if len(kept) > 0 {
		r.waitT.Reset(r.hub.cfg.LoadWait - now.Sub(kept[0].at))
		r.waitC = r.waitT.C
	}
}

// refuse answers a join that cannot be served now with unavailable; a connection that
// was opening closes with 1013 (try again later) so that its client reconnects.
func (r *room) refuse(o op) {
	msg := "the room's history cannot be read right now; try again"
	if r.loadErr == nil && r.loaded {
		msg = "the room is still learning who is online on the other nodes; try again"
	}
	if o.kind == opPresence {
		return
	}
	o.s.fail(&protocol.Error{Code: protocol.CodeUnavailable, Message: msg}, o.ref)
	if o.welcome != nil {
		o.s.conn.Close(protocol.CloseTryAgain, "storage unavailable")
	}
}

// small reports whether the room is small enough for a join/leave event per change.
func (r *room) small(people int) bool { return people <= r.hub.cfg.PresenceLimit }

// join admits a session, once its history is at hand: from the cache, or from storage for
// a long absence (recover, in load.go).
func (r *room) join(o op) {
	if o.since != nil && *o.since < r.coverFrom {
		r.recover(o)
		return
	}
	history, more := r.recent(o.since)
	r.admit(o, history, more)
}

// admit makes s a member and sends it welcome or joined with the given history.
func (r *room) admit(o op, history []byte, more bool) {
	// The history runs up to lastSeq: messages delivered but not yet flushed go to the
	// members before the newcomer is one of them.
	r.flush()
	s := o.s
	if !r.isMember[s] {
		r.members = append(r.members, s)
		r.isMember[s] = true
		r.setLocal(s.user, +1, s)
	}
	if o.welcome != nil {
		w := *o.welcome
		w.Online, w.OnlineCount, w.History, w.LastSeq, w.HasMore = r.online(), len(r.order), history, r.lastSeq, more
		s.conn.Send(w.Encode())
		return
	}
	j := protocol.Joined{
		Type: protocol.TypeJoined, Room: r.name, Online: r.online(), OnlineCount: len(r.order),
		History: history, LastSeq: r.lastSeq, HasMore: more, Ref: o.ref,
	}
	s.conn.Send(j.Encode())
}

// recent returns, encoded, the messages a joining member gets from the cache: the latest
// HistorySize, or with since every message after it (at most MaxRecovery, the latest
// ones), and whether older ones remain. since must be at least coverFrom.
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
	encs := r.cachedAfter(*since)
	if len(encs) > MaxRecovery {
		return protocol.EncodeArray(encs[len(encs)-MaxRecovery:]), true
	}
	return protocol.EncodeArray(encs), false
}

// cachedAfter returns the encoded cached messages with seq > after.
func (r *room) cachedAfter(after uint64) [][]byte {
	var encs [][]byte
	for _, c := range r.cache {
		if c.msg.Seq > after {
			encs = append(encs, c.enc)
		}
	}
	return encs
}

func (r *room) leave(s *Session) {
	r.cancelRecovery(s)
	for i, o := range r.waiting {
		if o.s == s {
			r.waiting = append(r.waiting[:i], r.waiting[i+1:]...)
			break
		}
	}
	if !r.isMember[s] {
		return
	}
	delete(r.isMember, s)
	for i, m := range r.members {
		if m == s {
			r.members = append(r.members[:i], r.members[i+1:]...)
			break
		}
	}
	r.setLocal(s.user, -1, nil)
}

// setLocal counts one more (+1) or one fewer (-1) local connection of user, tells the
// other nodes, and announces the person's arrival or departure. The joining session,
// except, is told by its welcome/joined instead.
func (r *room) setLocal(u protocol.User, delta int, except *Session) {
	p := r.person(u)
	was := p.present()
	if p.local == 0 {
		p.localSince = now()
	}
	p.local += delta
	r.presence.Set(presence.Member{User: u, Devices: p.local, Since: p.localSince})
	r.changed(p, was, except)
}

// setRemote records how many devices a person has on other nodes.
func (r *room) setRemote(m presence.Member) {
	p := r.person(m.User)
	was := p.present()
	p.remote, p.remoteSince = m.Devices, m.Since
	if p.user.Name != m.User.Name {
		p.user = m.User
		r.onlineEnc = nil
	}
	r.changed(p, was, nil)
}

func (r *room) person(u protocol.User) *person {
	p := r.persons[u.ID]
	if p == nil {
		p = &person{user: u}
		r.persons[u.ID] = p
	}
	return p
}

// changed announces a person who arrived (was absent, is present) or left.
func (r *room) changed(p *person, was bool, except *Session) {
	now := p.present()
	switch {
	case now && !was:
		// In arrival order: usually the end, earlier for someone from another node
		// who arrived there before.
		i := len(r.order)
		for i > 0 && r.order[i-1].since() > p.since() {
			i--
		}
		r.order = slices.Insert(r.order, i, p)
		if i < r.hub.cfg.PresenceLimit {
			r.onlineEnc = nil
		}
		r.announce(protocol.TypeJoin, p.user, except)
	case was && !now:
		delete(r.persons, p.user.ID)
		delete(r.lastTyping, p.user.ID)
		for i, q := range r.order {
			if q == p {
				r.order = append(r.order[:i], r.order[i+1:]...)
				if i < r.hub.cfg.PresenceLimit {
					r.onlineEnc = nil
				}
				break
			}
		}
		r.announce(protocol.TypeLeave, p.user, nil)
	case !now:
		delete(r.persons, p.user.ID)
	}
	r.people.Store(int32(len(r.order)))
}

// announce tells the members that someone joined or left, or in a large room schedules a
// count.
func (r *room) announce(typ string, u protocol.User, except *Session) {
	n := len(r.order)
	if typ == protocol.TypeLeave {
		n++ // the room was this large before
	}
	if r.small(n) {
		r.broadcast(protocol.Encode(protocol.MemberEvent{Type: typ, Room: r.name, User: u, TS: now()}), except)
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
	r.broadcast(protocol.Encode(protocol.OnlineCount{Type: protocol.TypeOnlineCount, Room: r.name, Count: len(r.order)}), nil)
}

// broadcast sends one encoded object to every member but except.
func (r *room) broadcast(obj []byte, except *Session) {
	for _, m := range r.members {
		if m != except {
			m.conn.Send(obj)
		}
	}
}

// typing forwards that a local member is typing, to the members here and to the other
// nodes, at most once per TypingInterval per person.
func (r *room) typing(s *Session) {
	if !r.isMember[s] {
		return
	}
	t := time.Now()
	if last, ok := r.lastTyping[s.user.ID]; ok && t.Sub(last) < r.hub.cfg.TypingInterval {
		return
	}
	r.lastTyping[s.user.ID] = t
	r.broadcast(protocol.Encode(protocol.Typing{Type: protocol.TypeTyping, Room: r.name, User: s.user}), s)
	r.presence.Typing(s.user)
}

// online returns the encoded list of the room's first PresenceLimit people, in arrival
// order.
func (r *room) online() []byte {
	if r.onlineEnc == nil {
		n := min(len(r.order), r.hub.cfg.PresenceLimit)
		users := make([]protocol.User, n)
		for i, p := range r.order[:n] {
			users[i] = p.user
		}
		r.onlineEnc = protocol.Encode(users)
	}
	return r.onlineEnc
}

func now() int64 { return time.Now().UnixMilli() }
