package hub

import (
	"sync"
	"time"

	"github.com/distchat/distchat/server/presence"
	"github.com/distchat/distchat/server/protocol"
)

// inbox carries what arrives for a room from outside its goroutine without ever blocking
// the sender: the broker's live deliveries, presence from other nodes and the results of
// storage reads. The room drains it when woken.
type inbox struct {
	mu    sync.Mutex
	items []item
	wake  chan struct{}
}

// item is one thing in the inbox; exactly one field is set.
type item struct {
	msgs      []protocol.Message // live messages, in seq order
	remote    *presence.Member   // a person's devices on other nodes
	typing    *protocol.User     // typing on another node
	synced    bool               // the other nodes' members are known
	load      *loadResult        // the room's latest messages, or why not
	recovered *recovering        // a long recovery's messages
}

func (in *inbox) push(it item) {
	in.mu.Lock()
	in.items = append(in.items, it)
	in.mu.Unlock()
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

func (in *inbox) take() []item {
	in.mu.Lock()
	defer in.mu.Unlock()
	items := in.items
	in.items = nil
	return items
}

// drainInbox handles everything that arrived, in order.
func (r *room) drainInbox() {
	for _, it := range r.inbox.take() {
		switch {
		case it.msgs != nil:
			for i := range it.msgs {
				r.fanout(&it.msgs[i])
			}
		case it.remote != nil:
			r.setRemote(*it.remote)
		case it.typing != nil:
			r.broadcast(protocol.Encode(protocol.Typing{Type: protocol.TypeTyping, Room: r.name, User: *it.typing}), nil)
		case it.synced:
			r.synced = true
		case it.load != nil:
			r.loadDone(it.load)
		case it.recovered != nil:
			r.recovered(it.recovered)
		}
	}
	r.serveWaiting()
}

// roomPresence receives the room's presence from the other nodes (presence.Handler).
type roomPresence struct{ r *room }

func (p roomPresence) Remote(m presence.Member) { p.r.inbox.push(item{remote: &m}) }
func (p roomPresence) Typing(u protocol.User)   { p.r.inbox.push(item{typing: &u}) }
func (p roomPresence) Synced()                  { p.r.inbox.push(item{synced: true}) }

// fanout adds a stored message to the cache and to the batch for the members.
func (r *room) fanout(m *protocol.Message) {
	if m.Seq <= r.lastSeq {
		return // loaded from storage already
	}
	r.lastSeq = m.Seq
	if m.Kind == protocol.KindTopic {
		r.topic = m.Body
	}
	if m.Kind == protocol.KindDelete {
		r.forget(m.Target)
	}
	enc := protocol.EncodeMessage(m)
	r.remember(cached{msg: *m, enc: enc})
	r.historyEnc = nil
	r.pending = append(r.pending, enc)
}

// forget drops a deleted message and its edits from the cache: joiners get the deletion,
// not the words.
func (r *room) forget(id string) {
	kept := r.cache[:0]
	for _, c := range r.cache {
		if c.msg.ID != id && (c.msg.Kind != protocol.KindEdit || c.msg.Target != id) {
			kept = append(kept, c)
		}
	}
	clear(r.cache[len(kept):])
	r.cache = kept
	r.historyEnc = nil
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

// maybeFlush hands pending messages to members now if the room has been quiet for a flush
// interval, or arms the timer for the end of the interval. A lone message therefore goes
// out at once, while a busy room sends one frame per member per interval carrying every
// message of that interval: far fewer writes, wake-ups and system calls per delivery.
func (r *room) maybeFlush() {
	if len(r.pending) == 0 || r.flushDue.armed() {
		return
	}
	wait := r.flushInterval() - time.Since(r.lastFlush)
	if wait <= 0 {
		r.flush()
		return
	}
	r.flushDue.set(wait)
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
	objects := len(r.pending)
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
	sent := 0
	for _, s := range r.members {
		if s.conn.Send(batch) {
			sent++
		}
	}
	r.hub.cfg.Metrics.Flushed(objects, sent, time.Since(r.lastFlush))
}
