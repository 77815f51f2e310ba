// Package natsbus shares presence between the nodes of a cluster over core NATS subjects
// (presence.Bus). Each node announces the people connected to it, per room, as absolute
// device counts stamped with a version; a node that starts serving a room asks the others
// for their current view; heartbeats tell which nodes are alive, and a node that stops
// sending them (killed, cut off) has its people removed everywhere. Nothing is stored:
// presence is rebuilt from the live nodes at any time.
//
// Why not a JetStream KV bucket with TTLs: a join would be a replicated, fsynced write,
// and keeping thousands of keys alive would need a write per key per TTL period. Presence
// is ephemeral and only the nodes serving a room need it; core NATS carries it at the cost
// of one small message per change and one heartbeat per node per second (see
// docs/architecture.md, "Presence across nodes").
package natsbus

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/distchat/distchat/server/presence"
	"github.com/distchat/distchat/server/protocol"
)

// Options tune the NATS bus. Zero fields take the defaults below.
type Options struct {
	// Node is this node's name, unique in the cluster.
	Node string
	// Prefix starts every subject (default "distchat.presence.").
	Prefix string
	// Heartbeat is how often a node says it is alive.
	Heartbeat time.Duration
	// DeadAfter is how long a silent node keeps its people in the rooms.
	DeadAfter time.Duration
	// SyncWait bounds how long a room waits for the other nodes' first answers.
	SyncWait time.Duration
	// Logger receives joins and departures of nodes.
	Logger *slog.Logger
}

// Defaults. A killed node's people disappear DeadAfter after its last heartbeat: within
// 5-6 s, well inside the 15 s users are promised.
const (
	DefaultPrefix    = "distchat.presence."
	DefaultHeartbeat = time.Second
	DefaultDeadAfter = 5 * time.Second
	DefaultSyncWait  = 500 * time.Millisecond
	// snapshotChunk bounds the members per answer message, far below NATS's 1 MB payload.
	snapshotChunk = 2000
	busBuffer     = 1 << 16
)

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.DeadAfter <= 0 {
		o.DeadAfter = DefaultDeadAfter
	}
	if o.SyncWait <= 0 {
		o.SyncWait = DefaultSyncWait
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Wire objects between nodes (JSON). Versions order one node's changes in one room; the
// epoch names one run of a room on a node (a room that empties and fills again starts a
// new epoch at version 1).
type (
	// change is a node's new device count for one person in one room, or typing.
	change struct {
		Node    string           `json:"n"`
		Epoch   uint64           `json:"e,omitempty"`
		Version uint64           `json:"v,omitempty"`
		Member  *presence.Member `json:"m,omitempty"`
		Typing  *protocol.User   `json:"t,omitempty"`
	}
	// snapshot answers a query: a node's members in a room (in parts for large rooms).
	snapshot struct {
		Node    string            `json:"n"`
		Room    string            `json:"r"`
		Epoch   uint64            `json:"e"` // 0: the node has nobody in the room
		Version uint64            `json:"v"`
		Members []presence.Member `json:"m"`
		Part    int               `json:"p"`
		Parts   int               `json:"ps"`
	}
	heartbeat struct {
		Node string `json:"n"`
		Boot string `json:"b"`
	}
)

// Bus is a presence.Bus over core NATS. One goroutine handles every incoming message, in the
// order the connection received them, and the timers.
type Bus struct {
	nc   *nats.Conn
	opts Options
	boot string
	log  *slog.Logger

	in    chan *nats.Msg
	inbox string
	subs  []*nats.Subscription
	quit  chan struct{}
	done  chan struct{}
	start time.Time

	mu    sync.Mutex
	rooms map[string]*watch
	nodes map[string]*node
	users map[string]*userWatch // by subject
}

// userWatch is one person's subject, watched while they have devices on this node.
type userWatch struct {
	sub *nats.Subscription
	fns map[*func(presence.UserEvent)]bool
}

type node struct {
	boot     string
	lastSeen time.Time
}

// watch is one watched room: this node's members and version, and the others' views.
type watch struct {
	name    string
	h       presence.Handler
	sub     *nats.Subscription
	epoch   uint64
	version uint64
	local   map[string]presence.Member
	remote  map[string]*view           // by node
	totals  map[string]presence.Member // per user: devices on other nodes, with the latest name
	synced  bool
	waitFor map[string]bool // nodes whose first answer is awaited
	syncBy  time.Time
}

// view is what one other node has in a room.
type view struct {
	epoch, version uint64
	members        map[string]presence.Member
	parts          []presence.Member // an answer in several parts, being assembled
	partsGot       int
}

var _ presence.Bus = (*Bus)(nil)

// New starts the bus on nc. Stop ends it (nc stays open).
func New(nc *nats.Conn, o Options) (*Bus, error) {
	o = o.withDefaults()
	b := &Bus{
		nc: nc, opts: o, boot: nuid.Next(), log: o.Logger,
		in: make(chan *nats.Msg, busBuffer), inbox: nats.NewInbox(),
		quit: make(chan struct{}), done: make(chan struct{}), start: time.Now(),
		rooms: make(map[string]*watch), nodes: make(map[string]*node), users: make(map[string]*userWatch),
	}
	for _, subj := range []string{o.Prefix + "hb", o.Prefix + "query.*", b.inbox + ".*"} {
		sub, err := nc.ChanSubscribe(subj, b.in)
		if err != nil {
			b.unsubscribe()
			return nil, err
		}
		b.subs = append(b.subs, sub)
	}
	b.sendHeartbeat()
	go b.run()
	return b, nil
}

func (b *Bus) unsubscribe() {
	for _, s := range b.subs {
		_ = s.Unsubscribe()
	}
}

// Stop ends the bus: the other nodes see this node's people leave when its heartbeats stop
// (rooms still watched should be stopped first, which tells them at once).
func (b *Bus) Stop() {
	select {
	case <-b.quit:
		return
	default:
	}
	close(b.quit)
	<-b.done
	b.unsubscribe()
}

func (b *Bus) run() {
	defer close(b.done)
	t := time.NewTicker(b.opts.Heartbeat / 4)
	defer t.Stop()
	lastBeat := time.Now()
	for {
		select {
		case <-b.quit:
			return
		case m := <-b.in:
			b.handle(m)
		case now := <-t.C:
			if now.Sub(lastBeat) >= b.opts.Heartbeat {
				lastBeat = now
				b.sendHeartbeat()
			}
			b.tick(now)
		}
	}
}

// warm reports whether this node has been up long enough to have heard every live
// node's heartbeat.
func (b *Bus) warm(now time.Time) bool {
	return now.Sub(b.start) > b.opts.Heartbeat*3/2
}

func (b *Bus) handle(m *nats.Msg) {
	switch {
	case m.Subject == b.opts.Prefix+"hb":
		var hb heartbeat
		if json.Unmarshal(m.Data, &hb) == nil && hb.Node != b.opts.Node {
			b.onHeartbeat(hb)
		}
	case strings.HasPrefix(m.Subject, b.opts.Prefix+"query."):
		b.onQuery(strings.TrimPrefix(m.Subject, b.opts.Prefix+"query."), m.Reply)
	case strings.HasPrefix(m.Subject, b.inbox+"."):
		var s snapshot
		if json.Unmarshal(m.Data, &s) == nil && s.Node != b.opts.Node {
			b.onSnapshot(s)
		}
	case strings.HasPrefix(m.Subject, b.opts.Prefix+"user."):
		var ev presence.UserEvent
		if json.Unmarshal(m.Data, &ev) == nil && ev.Node != b.opts.Node {
			b.onUser(m.Subject, ev)
		}
	case strings.HasPrefix(m.Subject, b.opts.Prefix+"room."):
		var c change
		if json.Unmarshal(m.Data, &c) == nil && c.Node != b.opts.Node {
			b.onChange(strings.TrimPrefix(m.Subject, b.opts.Prefix+"room."), c)
		}
	}
}

func (b *Bus) sendHeartbeat() {
	data, _ := json.Marshal(heartbeat{Node: b.opts.Node, Boot: b.boot})
	_ = b.nc.Publish(b.opts.Prefix+"hb", data)
}

// onHeartbeat notes a live node. A node not seen before (or started again) is asked for
// its members in every watched room, and told about this one at once.
func (b *Bus) onHeartbeat(hb heartbeat) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.nodes[hb.Node]
	if n != nil && (n.boot == hb.Boot || n.boot == "") {
		// (A node first heard of through an answer has no boot id yet.)
		n.boot, n.lastSeen = hb.Boot, time.Now()
		return
	}
	if n != nil {
		b.log.Info("cluster node restarted", "node", hb.Node)
		b.dropNode(hb.Node)
	} else {
		b.log.Info("cluster node joined", "node", hb.Node)
	}
	b.nodes[hb.Node] = &node{boot: hb.Boot, lastSeen: time.Now()}
	b.sendHeartbeat()
	for _, w := range b.rooms {
		b.query(w)
	}
}

// tick drops nodes that stopped sending heartbeats and ends the wait of rooms whose first
// answers are late.
func (b *Bus) tick(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for name, n := range b.nodes {
		if now.Sub(n.lastSeen) > b.opts.DeadAfter {
			b.log.Warn("cluster node stopped answering; its people left", "node", name, "silent", now.Sub(n.lastSeen).Round(time.Second))
			delete(b.nodes, name)
			b.dropNode(name)
		}
	}
	for _, w := range b.rooms {
		if !w.synced && now.After(w.syncBy) && b.warm(now) {
			b.markSynced(w)
		}
	}
}

// dropNode removes what a node had in every room. b.mu is held.
func (b *Bus) dropNode(name string) {
	for _, w := range b.rooms {
		if v := w.remote[name]; v != nil {
			delete(w.remote, name)
			for id := range v.members {
				b.recount(w, id)
			}
		}
		if w.waitFor[name] {
			delete(w.waitFor, name)
			b.maybeSynced(w)
		}
	}
}

// Watch implements presence.Bus.
func (b *Bus) Watch(room string, h presence.Handler) presence.Room {
	w := &watch{
		name: room, h: h, epoch: rand.Uint64() | 1, //nolint:gosec // G404: tells runs of a room apart, not a secret
		local: map[string]presence.Member{}, remote: map[string]*view{}, totals: map[string]presence.Member{},
		waitFor: map[string]bool{},
	}
	sub, err := b.nc.ChanSubscribe(b.opts.Prefix+"room."+room, b.in)
	if err != nil {
		b.log.Warn("presence: subscribing", "room", room, "err", err)
	}
	w.sub = sub
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	w.syncBy = now.Add(b.opts.SyncWait)
	for name := range b.nodes {
		w.waitFor[name] = true
	}
	b.rooms[room] = w
	b.query(w)
	if len(w.waitFor) == 0 && b.warm(now) {
		b.markSynced(w)
	}
	return &natsRoom{b: b, w: w}
}

// query asks every node for its members in w's room; answers come to this node's inbox.
// b.mu is held.
func (b *Bus) query(w *watch) {
	_ = b.nc.PublishRequest(b.opts.Prefix+"query."+w.name, b.inbox+"."+nuid.Next(), nil)
}

func (b *Bus) markSynced(w *watch) {
	if !w.synced {
		w.synced = true
		w.h.Synced()
	}
}

func (b *Bus) maybeSynced(w *watch) {
	if len(w.waitFor) == 0 && b.warm(time.Now()) {
		b.markSynced(w)
	}
}

// onQuery answers with this node's members of a room.
func (b *Bus) onQuery(room, reply string) {
	if reply == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := snapshot{Node: b.opts.Node, Room: room, Parts: 1}
	w := b.rooms[room]
	if w == nil || len(w.local) == 0 {
		data, _ := json.Marshal(s)
		_ = b.nc.Publish(reply, data)
		return
	}
	s.Epoch, s.Version = w.epoch, w.version
	members := make([]presence.Member, 0, len(w.local))
	for _, m := range w.local {
		members = append(members, m)
	}
	s.Parts = (len(members) + snapshotChunk - 1) / snapshotChunk
	for i := range s.Parts {
		s.Part = i
		s.Members = members[i*snapshotChunk : min((i+1)*snapshotChunk, len(members))]
		data, _ := json.Marshal(s)
		_ = b.nc.Publish(reply, data)
	}
}

// onSnapshot applies another node's answer: it replaces that node's view unless a newer
// change was applied already.
func (b *Bus) onSnapshot(s snapshot) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.rooms[s.Room]
	if w == nil {
		return
	}
	if b.nodes[s.Node] == nil {
		// An answer is as good as a heartbeat.
		b.nodes[s.Node] = &node{lastSeen: time.Now()}
	}
	v := w.remote[s.Node]
	if v == nil {
		v = &view{members: map[string]presence.Member{}}
		w.remote[s.Node] = v
	}
	if s.Epoch != 0 && s.Epoch == v.epoch && s.Version < v.version {
		return // a change after this answer was applied already
	}
	if s.Parts > 1 {
		if v.partsGot == 0 || s.Part == 0 {
			v.parts, v.partsGot = nil, 0
		}
		v.parts = append(v.parts, s.Members...)
		if v.partsGot++; v.partsGot < s.Parts {
			return
		}
		s.Members, v.parts, v.partsGot = v.parts, nil, 0
	}
	old := v.members
	v.epoch, v.version, v.members = s.Epoch, s.Version, make(map[string]presence.Member, len(s.Members))
	for _, m := range s.Members {
		v.members[m.User.ID] = m
	}
	for id := range old {
		if _, ok := v.members[id]; !ok {
			b.recount(w, id)
		}
	}
	for id := range v.members {
		b.recount(w, id)
	}
	if w.waitFor[s.Node] {
		delete(w.waitFor, s.Node)
		b.maybeSynced(w)
	}
}

// onChange applies another node's change in a room, in version order; a change that does
// not follow the last one applied means something was missed: ask again.
func (b *Bus) onChange(room string, c change) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.rooms[room]
	if w == nil {
		return
	}
	if n := b.nodes[c.Node]; n != nil {
		n.lastSeen = time.Now()
	}
	if c.Typing != nil {
		w.h.Typing(*c.Typing)
		return
	}
	if c.Member == nil {
		return
	}
	v := w.remote[c.Node]
	switch {
	case v != nil && v.epoch == c.Epoch && c.Version <= v.version:
		return // seen already
	case v != nil && v.epoch == c.Epoch && c.Version == v.version+1:
	case c.Version == 1:
		// The first change of a new run of the room on that node: it had nobody before.
		if v != nil {
			delete(w.remote, c.Node)
			for id := range v.members {
				b.recount(w, id)
			}
		}
		v = &view{epoch: c.Epoch, members: map[string]presence.Member{}}
		w.remote[c.Node] = v
	default:
		b.query(w)
		return
	}
	v.version = c.Version
	id := c.Member.User.ID
	if c.Member.Devices > 0 {
		v.members[id] = *c.Member
	} else {
		delete(v.members, id)
	}
	b.recount(w, id)
}

// recount sums a person's devices on the other nodes and tells the room when that, or
// their name, changed. b.mu is held.
func (b *Bus) recount(w *watch, id string) {
	var total presence.Member
	for _, v := range w.remote {
		if m, ok := v.members[id]; ok {
			total.User = m.User
			total.Devices += m.Devices
			if total.Since == 0 || m.Since < total.Since {
				total.Since = m.Since
			}
		}
	}
	old, had := w.totals[id]
	if total.Devices == 0 {
		if had {
			delete(w.totals, id)
			w.h.Remote(presence.Member{User: old.User})
		}
		return
	}
	if !had || old != total {
		w.totals[id] = total
		w.h.Remote(total)
	}
}

// userSubject is the subject of a person's events: their id hashed, since ids may hold
// characters that subjects cannot.
func (b *Bus) userSubject(id string) string {
	sum := sha256.Sum256([]byte(id))
	return b.opts.Prefix + "user." + hex.EncodeToString(sum[:16])
}

// WatchUser implements presence.Bus.
func (b *Bus) WatchUser(id string, fn func(presence.UserEvent)) func() {
	subj := b.userSubject(id)
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.users[subj]
	if w == nil {
		sub, err := b.nc.ChanSubscribe(subj, b.in)
		if err != nil {
			b.log.Warn("presence: subscribing to a person's events", "err", err)
		}
		w = &userWatch{sub: sub, fns: map[*func(presence.UserEvent)]bool{}}
		b.users[subj] = w
	}
	key := &fn
	w.fns[key] = true
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(w.fns, key)
		if len(w.fns) == 0 && b.users[subj] == w {
			delete(b.users, subj)
			if w.sub != nil {
				_ = w.sub.Unsubscribe()
			}
		}
	}
}

// PublishUser implements presence.Bus.
func (b *Bus) PublishUser(id string, ev presence.UserEvent) {
	ev.Node = b.opts.Node
	data, _ := json.Marshal(ev)
	_ = b.nc.Publish(b.userSubject(id), data)
}

func (b *Bus) onUser(subj string, ev presence.UserEvent) {
	b.mu.Lock()
	w := b.users[subj]
	var fns []func(presence.UserEvent)
	if w != nil {
		for f := range w.fns {
			fns = append(fns, *f)
		}
	}
	b.mu.Unlock()
	for _, f := range fns {
		f(ev)
	}
}

// natsRoom is a watched room's handle for its owner.
type natsRoom struct {
	b *Bus
	w *watch
}

func (r *natsRoom) Set(m presence.Member) {
	b := r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rooms[r.w.name] != r.w {
		return
	}
	id := m.User.ID
	if old, ok := r.w.local[id]; ok && old == m || !ok && m.Devices == 0 {
		return
	}
	if m.Devices > 0 {
		r.w.local[id] = m
	} else {
		delete(r.w.local, id)
	}
	r.w.version++
	// Published under the lock: the versions go out in order.
	data, _ := json.Marshal(change{Node: b.opts.Node, Epoch: r.w.epoch, Version: r.w.version, Member: &m})
	_ = b.nc.Publish(b.opts.Prefix+"room."+r.w.name, data)
}

func (r *natsRoom) Typing(u protocol.User) {
	data, _ := json.Marshal(change{Node: r.b.opts.Node, Typing: &u})
	_ = r.b.nc.Publish(r.b.opts.Prefix+"room."+r.w.name, data)
}

func (r *natsRoom) Stop() {
	b := r.b
	b.mu.Lock()
	if b.rooms[r.w.name] != r.w {
		b.mu.Unlock()
		return
	}
	for _, m := range r.w.local {
		m.Devices = 0
		r.w.version++
		data, _ := json.Marshal(change{Node: b.opts.Node, Epoch: r.w.epoch, Version: r.w.version, Member: &m})
		_ = b.nc.Publish(b.opts.Prefix+"room."+r.w.name, data)
	}
	delete(b.rooms, r.w.name)
	b.mu.Unlock()
	if r.w.sub != nil {
		_ = r.w.sub.Unsubscribe()
	}
}
