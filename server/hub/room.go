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
	loaded   bool  // the cache holds the room's latest messages
	synced   bool  // the other nodes' members are known
	waiting  []op  // joins and presence requests until loaded and synced
	waitEnd  alarm // the oldest waiting join's LoadWait
	loadErr  error // the last failure to load, for refused joins
	recovery []*recovering

	members  []*Session // local connections, in join order
	isMember map[*Session]bool
	persons  map[string]*person // by user id: everyone present, here or elsewhere
	order    []*person          // present people in arrival order: the online list
	// People whose last device left less than PresenceGrace ago are still listed; the
	// timer ends the grace of the earliest.
	graceEnd   alarm
	topic      string            // the room's topic
	dm         *[2]protocol.User // the two people of a direct-message room
	lastTyping map[string]time.Time
	// Encoded for the next joiner, nil when out of date: the online list (its first
	// PresenceLimit people) and the latest HistorySize messages.
	onlineEnc  []byte
	historyEnc []byte
	// In a room larger than PresenceLimit, membership changes are reported as a count at
	// most every PresenceInterval instead of one join/leave event per change.
	countDirty bool
	countDue   alarm
	cache      []cached // recent messages, oldest first
	lastSeq    uint64   // highest seq handed to members
	// coverFrom: every stored message of the room with seq > coverFrom is in cache, so
	// a recovery from since >= coverFrom needs no storage read.
	coverFrom uint64

	// Messages delivered but not yet handed to members, and when they last were: see
	// flush.
	pending   [][]byte
	lastFlush time.Time
	flushDue  alarm
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
	// leftAt: their last device left then (zero while they have one); they are listed
	// until PresenceGrace after it.
	leftAt time.Time
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

func (p *person) devices() int { return p.local + p.remote }

// listed reports whether the person is in the online list: connected, or gone for less than
// the grace period.
func (p *person) listed() bool { return p.devices() > 0 || !p.leftAt.IsZero() }

type cached struct {
	msg protocol.Message
	enc []byte // encoded once, shared by every member
}

// op is one request to the room.
type op struct {
	kind    opKind
	s       *Session
	since   *uint64
	epoch   string // the epoch since belongs to ("": the client does not say)
	reset   bool   // since was of another epoch: the joiner gets the latest page instead
	ref     string
	welcome *protocol.Welcome
	at      time.Time     // when a join started waiting
	user    protocol.User // opRename: the person and their new name; opHas: who
	notice  []byte        // sent right after the welcome
	present chan<- bool   // opHas: the answer
	id      string        // opEdits, opMessage: the message
	seqs    chan<- []uint64
	found   chan<- *protocol.Message // opMessage: the cached message, or nil
}

type opKind int

const (
	opJoin opKind = iota
	opLeave
	opTyping
	opPresence
	opRename
	opHas     // is user present in the room (here or on another node)?
	opEdits   // the seqs of the cached edits of message id
	opMessage // the cached chat message id
)

func newRoom(name string, h *Hub, prev *room) *room {
	return &room{
		name:       name,
		hub:        h,
		prev:       prev,
		ops:        make(chan op, 8), // senders wait for a busy room; an idle one holds little
		inbox:      inbox{wake: make(chan struct{}, 1)},
		quit:       make(chan struct{}),
		stopped:    make(chan struct{}),
		lastTyping: make(map[string]time.Time),
		isMember:   make(map[*Session]bool),
		persons:    make(map[string]*person),
	}
}

func (r *room) stop() { r.stopOnce.Do(func() { close(r.quit) }) }

// post hands an op to the owner goroutine; false when the room has stopped.
func (r *room) post(o op) bool {
	select {
	case r.ops <- o:
		return true
	case <-r.stopped:
		return false
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
		case <-r.flushDue.C:
			r.flushDue.fired()
			r.flush()
		case <-r.countDue.C:
			r.countDue.fired()
			r.sendCount()
		case <-r.waitEnd.C:
			r.waitEnd.fired()
			r.refuseWaiting()
		case <-r.graceEnd.C:
			r.graceEnd.fired()
			r.endGrace()
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
	for _, a := range []*alarm{&r.flushDue, &r.countDue, &r.waitEnd, &r.graceEnd} {
		a.stop()
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
		} else if r.isMember[o.s] {
			p := protocol.Presence{Type: protocol.TypePresence, Room: r.name, Online: r.online(), OnlineCount: len(r.order)}
			o.s.conn.Send(p.Encode())
		}
	case opLeave:
		r.leave(o.s)
	case opTyping:
		r.typing(o.s)
	case opHas:
		p := r.persons[o.user.ID]
		o.present <- p != nil && p.devices() > 0
	case opMessage:
		var found *protocol.Message
		for i := len(r.cache) - 1; i >= 0; i-- {
			if m := &r.cache[i].msg; m.ID == o.id && m.Kind == protocol.KindMessage {
				c := *m
				found = &c
				break
			}
		}
		o.found <- found
	case opEdits:
		var seqs []uint64
		for _, c := range r.cache {
			if c.msg.Kind == protocol.KindEdit && c.msg.Target == o.id {
				seqs = append(seqs, c.msg.Seq)
			}
		}
		o.seqs <- seqs
	case opRename:
		if p := r.persons[o.user.ID]; p != nil {
			r.renamed(p, o.user.Name, nil)
			if p.local > 0 {
				r.presence.Set(presence.Member{User: p.user, Devices: p.local, Since: p.localSince})
			}
		}
	}
}

// renamed gives a person in the room a new name and tells the members but except, once (a
// rename reaches a room both from this node and through presence).
func (r *room) renamed(p *person, name string, except *Session) {
	if p.user.Name == name {
		return
	}
	old := p.user.Name
	p.user.Name = name
	r.onlineEnc = nil
	if p.listed() {
		r.broadcast(protocol.Encode(protocol.Rename{Type: protocol.TypeRename, Room: r.name, User: p.user, Old: old, TS: now()}), except)
	}
}

// wait keeps a join until the room is ready; a room that cannot load refuses it after
// LoadWait.
func (r *room) wait(o op) {
	o.at = time.Now()
	r.waiting = append(r.waiting, o)
	if !r.waitEnd.armed() {
		r.waitEnd.set(r.hub.cfg.LoadWait)
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
		r.waitEnd.set(r.hub.cfg.LoadWait - now.Sub(kept[0].at))
	}
}

// refuse answers a join that cannot be served now with unavailable; a connection that
// was opening closes with 1013 (try again later) so that its client reconnects.
func (r *room) refuse(o op) {
	msg := "the room's history cannot be read right now; try again"
	if r.loadErr == nil && r.loaded {
		msg = "the room is still learning who is online on the other nodes; try again"
	}
	r.refuseWith(o, msg)
}

func (r *room) refuseWith(o op, msg string) {
	if o.kind == opPresence {
		return
	}
	o.s.tell(&protocol.Error{Code: protocol.CodeUnavailable, Message: msg}, o.ref)
	if o.welcome != nil {
		o.s.conn.Close(protocol.CloseTryAgain, "storage unavailable")
	}
}

// small reports whether the room is small enough for a join/leave event per change.
func (r *room) small(people int) bool { return people <= r.hub.cfg.PresenceLimit }

// join admits a session, once its history is at hand: from the cache, or from storage for
// a long absence (recover, in load.go).
func (r *room) join(o op) {
	if o.since != nil && o.epoch != "" && o.epoch != r.hub.broker.Epoch() {
		// Seqs of another store: nothing to recover from them.
		o.since, o.reset = nil, true
	}
	if o.since != nil && *o.since < r.coverFrom {
		r.recover(o, false)
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
		r.setLocal(s.me(), +1, s)
	}
	if o.welcome != nil {
		w := *o.welcome
		w.Topic = r.topic
		w.Online, w.OnlineCount, w.History, w.LastSeq, w.HasMore = r.online(), len(r.order), history, r.lastSeq, more
		w.Epoch = r.hub.broker.Epoch()
		s.conn.Send(w.Encode())
		if o.notice != nil {
			s.conn.Send(o.notice)
		}
	} else {
		j := protocol.Joined{
			Type: protocol.TypeJoined, Room: r.name, Topic: r.topic, DM: r.otherOf(s.lu.id),
			Online: r.online(), OnlineCount: len(r.order),
			History: history, LastSeq: r.lastSeq, HasMore: more, Ref: o.ref,
			Epoch: r.hub.broker.Epoch(), Reset: o.reset,
		}
		s.conn.Send(j.Encode())
	}
	s.joined(r.name)
}

// cachedMessage returns the chat message id when it is among the room's recent ones.
func (r *room) cachedMessage(id string) (protocol.Message, bool) {
	answer := make(chan *protocol.Message, 1)
	if !r.post(op{kind: opMessage, id: id, found: answer}) {
		return protocol.Message{}, false
	}
	if m := <-answer; m != nil {
		return *m, true
	}
	return protocol.Message{}, false
}

// editsOf returns the seqs of the room's cached edits of message id.
func (r *room) editsOf(id string) []uint64 {
	answer := make(chan []uint64, 1)
	if !r.post(op{kind: opEdits, id: id, seqs: answer}) {
		return nil
	}
	return <-answer
}

// otherOf returns, in a direct-message room, the person who is not id.
func (r *room) otherOf(id string) *protocol.User {
	if r.dm == nil {
		return nil
	}
	for _, u := range r.dm {
		if u.ID != id {
			if p := r.persons[u.ID]; p != nil {
				u.Name = p.user.Name // the current name, if they are around
			}
			return &u
		}
	}
	return nil
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
	r.setLocal(s.me(), -1, nil)
}

// setLocal counts one more (+1) or one fewer (-1) local connection of a person, tells the
// other nodes, and announces the person's arrival or departure. The joining session,
// except, is told by its welcome/joined instead.
func (r *room) setLocal(u protocol.User, delta int, except *Session) {
	p := r.person(u)
	if delta > 0 {
		// Back within the grace period under the name given with their token (connected
		// nowhere else on this node): the members hear of it as of any rename.
		r.renamed(p, u.Name, except)
	}
	was := p.devices()
	if p.local == 0 {
		p.localSince = now()
	}
	p.local += delta
	r.presence.Set(presence.Member{User: p.user, Devices: p.local, Since: p.localSince})
	r.changed(p, was, except)
}

// setRemote records how many devices a person has on other nodes.
func (r *room) setRemote(m presence.Member) {
	p := r.person(m.User)
	was := p.devices()
	p.remote, p.remoteSince = m.Devices, m.Since
	r.renamed(p, m.User.Name, nil)
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

// changed follows a person's device count from was: one who arrives is announced (not one
// coming back within the grace period); one whose last device left stays listed for the
// grace period, and is announced gone only when it ends without them back.
func (r *room) changed(p *person, was int, except *Session) {
	n := p.devices()
	switch {
	case n > 0 && was == 0 && !p.leftAt.IsZero():
		p.leftAt = time.Time{} // back within the grace period: no leave, no join
		r.onlineEnc = nil
	case n > 0 && was == 0:
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
	case n == 0 && was > 0:
		p.leftAt = time.Now()
		r.onlineEnc = nil
		r.armGrace(p.leftAt)
	case n == 0 && p.leftAt.IsZero():
		delete(r.persons, p.user.ID)
	default:
		r.onlineEnc = nil // a device more or fewer
	}
	r.people.Store(int32(len(r.order)))
}

// armGrace makes sure the grace timer fires by the end of the grace that began at from.
func (r *room) armGrace(from time.Time) {
	if r.graceEnd.armed() {
		return // armed for an earlier end
	}
	r.graceEnd.set(max(time.Until(from.Add(r.hub.cfg.PresenceGrace)), 0))
}

// endGrace announces the departure of the people whose grace period is over, and arms the
// timer for the next one.
func (r *room) endGrace() {
	now := time.Now()
	var next time.Time
	for i := 0; i < len(r.order); i++ {
		p := r.order[i]
		if p.leftAt.IsZero() {
			continue
		}
		if end := p.leftAt.Add(r.hub.cfg.PresenceGrace); end.After(now) {
			if next.IsZero() || end.Before(next) {
				next = end
			}
			continue
		}
		r.order = slices.Delete(r.order, i, i+1)
		if i < r.hub.cfg.PresenceLimit {
			r.onlineEnc = nil
		}
		i--
		delete(r.persons, p.user.ID)
		delete(r.lastTyping, p.user.ID)
		r.announce(protocol.TypeLeave, p.user, nil)
	}
	r.people.Store(int32(len(r.order)))
	if !next.IsZero() {
		r.armGrace(next.Add(-r.hub.cfg.PresenceGrace))
	}
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
	if !r.countDue.armed() {
		r.countDue.set(r.hub.cfg.PresenceInterval)
	}
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
	me := s.me()
	if last, ok := r.lastTyping[me.ID]; ok && t.Sub(last) < r.hub.cfg.TypingInterval {
		return
	}
	r.lastTyping[me.ID] = t
	r.broadcast(protocol.Encode(protocol.Typing{Type: protocol.TypeTyping, Room: r.name, User: me}), s)
	r.presence.Typing(me)
}

// online returns the encoded list of the room's first PresenceLimit people, in arrival
// order.
func (r *room) online() []byte {
	if r.onlineEnc == nil {
		n := min(len(r.order), r.hub.cfg.PresenceLimit)
		people := make([]protocol.Person, n)
		for i, p := range r.order[:n] {
			people[i] = protocol.Person{ID: p.user.ID, Name: p.user.Name, Devices: p.devices()}
		}
		r.onlineEnc = protocol.Encode(people)
	}
	return r.onlineEnc
}

func now() int64 { return time.Now().UnixMilli() }

// alarm is one of a room's timers: made on first use and reused, its channel nil while
// it is not set, so that the room's select ignores it.
type alarm struct {
	t *time.Timer
	C <-chan time.Time
}

// set makes the alarm go off after d, replacing any earlier setting.
func (a *alarm) set(d time.Duration) {
	if a.t == nil {
		a.t = time.NewTimer(d)
	} else {
		a.t.Reset(d)
	}
	a.C = a.t.C
}

func (a *alarm) armed() bool { return a.C != nil }

// fired clears the alarm once its channel has delivered.
func (a *alarm) fired() { a.C = nil }

func (a *alarm) stop() {
	if a.t != nil {
		a.t.Stop()
	}
}
