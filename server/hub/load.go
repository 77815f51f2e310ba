package hub

import (
	"context"
	"errors"
	"time"

	"github.com/distchat/distchat/server/backoff"
	"github.com/distchat/distchat/server/protocol"
)

// Storage reads of a room run in goroutines of their own and report to the room's inbox,
// so that a slow read never delays the room's live messages, nor any other room's.

// Retry pacing of a room that cannot load.
const (
	loadRetryMin = 100 * time.Millisecond
	loadRetryMax = 2 * time.Second
)

type loadResult struct {
	msgs  []protocol.Message
	more  bool
	topic string
	dm    *[2]protocol.User
	err   error
}

// load reads the room's latest messages, then subscribes to what is stored after them.
// It retries until it succeeds or the room stops.
func (r *room) load() {
	h := r.hub
	var after uint64
	retry := backoff.Backoff{Min: loadRetryMin, Max: loadRetryMax}
	for {
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.ReadTimeout)
		start := time.Now()
		var res *loadResult
		if release, err := h.readSlot(ctx); err != nil {
			res = &loadResult{err: err}
		} else {
			res = r.read(ctx)
			release()
		}
		h.cfg.Metrics.Read(ReadLoad, time.Since(start), res.err)
		cancel()
		msgs, err := res.msgs, res.err
		r.inbox.push(item{load: res})
		if err == nil {
			if len(msgs) > 0 {
				after = msgs[len(msgs)-1].Seq
			}
			break
		}
		if !r.pause(retry.Next()) {
			return
		}
	}
	// Live messages reach the room only through this subscription, from after on.
	retry.Reset()
	for {
		stop, err := h.broker.Subscribe(r.name, after, func(ms []protocol.Message) { r.inbox.push(item{msgs: ms}) })
		if err == nil {
			r.sub.Lock()
			if r.sub.closing {
				stop()
			} else {
				r.sub.stop = stop
			}
			r.sub.Unlock()
			return
		}
		h.storageFailed("subscribing to a room", r.name, err)
		if !r.pause(retry.Next()) {
			return
		}
	}
}

// read reads what a room starts with: its latest messages, its topic, and the two people
// of a direct-message room.
func (r *room) read(ctx context.Context) *loadResult {
	h := r.hub
	res := &loadResult{}
	res.msgs, res.more, res.err = h.broker.Before(ctx, r.name, 0, h.cfg.CacheSize)
	if res.err != nil {
		return res
	}
	if res.topic, res.err = h.people.Topic(ctx, r.name); res.err != nil {
		return res
	}
	if protocol.IsDM(r.name) {
		// A record that cannot be decoded leaves the room without its two people, as if
		// it had none; storage trouble is a failed load.
		users, found, err := h.people.DM(ctx, r.name)
		if err != nil && !found {
			res.err = err
			return res
		}
		if err == nil && found {
			res.dm = &users
		}
	}
	return res
}

// pause waits d, or returns false when the room stops first.
func (r *room) pause(d time.Duration) bool {
	select {
	case <-r.quit:
		return false
	case <-time.After(d):
		return true
	}
}

// loadDone fills the cache with the room's latest messages.
func (r *room) loadDone(res *loadResult) {
	if res.err != nil {
		r.loadErr = res.err
		r.hub.storageFailed("loading a room", r.name, res.err)
		return
	}
	r.loadErr = nil
	r.topic, r.dm = res.topic, res.dm
	for _, m := range res.msgs {
		r.cache = append(r.cache, cached{msg: m, enc: protocol.EncodeMessage(&m)})
	}
	if len(res.msgs) > 0 {
		r.lastSeq = res.msgs[len(res.msgs)-1].Seq
		if res.more {
			r.coverFrom = res.msgs[0].Seq - 1
		}
	}
	r.loaded = true
}

// recovering is a join with since older than the cache: its missed messages are read from
// storage.
type recovering struct {
	o    op
	upTo uint64 // the room's lastSeq when the read started: later ones come from the cache
	// again: a second read for the same join (the cache moved on meanwhile), which the
	// joiner's history rate has paid for already.
	again bool
	msgs  []protocol.Message
	more  bool // older missed messages are left out
	err   error
}

// recover starts reading what a joiner missed. The joiner becomes a member when the read
// is done; meanwhile the room goes on. The read is the joiner's: it waits for one of their
// session's read slots and counts against their history rate, like a history request.
func (r *room) recover(o op, again bool) {
	rec := &recovering{o: o, upTo: r.lastSeq, again: again}
	r.recovery = append(r.recovery, rec)
	h := r.hub
	go func() {
		defer func() { r.inbox.push(item{recovered: rec}) }()
		release, err := o.s.readTurn(!again)
		if err != nil {
			rec.err = err
			return
		}
		defer release()
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.ReadTimeout)
		defer cancel()
		start := time.Now()
		rec.msgs, rec.more, rec.err = h.readMissed(ctx, r.name, *o.since, rec.upTo)
		h.cfg.Metrics.Read(ReadRecovery, time.Since(start), rec.err)
	}()
}

// Recoveries read pages of recoveryPage messages, newest first, and stop after
// MaxRecovery messages or about maxRecoveryBytes of them: a room of large messages
// recovers its latest ones (with has_more: the client pages back for the rest), and no
// recovery holds more than a few MiB.
const (
	recoveryPage     = 200
	maxRecoveryBytes = 4 << 20
	// entryOverhead is what a stored entry weighs beyond its body, roughly.
	entryOverhead = 128
)

// readMissed reads the room's messages after since, up to upTo, and whether older ones
// after since are left out.
func (h *Hub) readMissed(ctx context.Context, room string, since, upTo uint64) ([]protocol.Message, bool, error) {
	var msgs []protocol.Message
	before, size := upTo+1, 0
	for {
		page, older, err := h.broker.Before(ctx, room, before, recoveryPage)
		if err != nil {
			return nil, false, err
		}
		i := 0
		for i < len(page) && page[i].Seq <= since {
			i++
		}
		reached := i > 0 || !older || len(page) == 0
		page = page[i:]
		for _, m := range page {
			size += len(m.Body) + entryOverhead
		}
		msgs = append(page, msgs...)
		switch {
		case reached:
			return msgs, false, nil
		case len(msgs) > MaxRecovery || size >= maxRecoveryBytes:
			return msgs, true, nil
		}
		before = page[0].Seq
	}
}

// recovered answers a recovering joiner: the messages read, then those delivered live
// since the read started (from the cache), at most MaxRecovery, the latest.
func (r *room) recovered(rec *recovering) {
	found := false
	for i, x := range r.recovery {
		if x == rec {
			r.recovery = append(r.recovery[:i], r.recovery[i+1:]...)
			found = true
			break
		}
	}
	if !found {
		return // the session left meanwhile
	}
	if perr := (*protocol.Error)(nil); errors.As(rec.err, &perr) {
		rec.o.s.tell(perr, rec.o.ref) // over the joiner's history rate
		return
	}
	if rec.err != nil {
		r.hub.storageFailed("recovering missed messages", r.name, rec.err)
		r.refuseWith(rec.o, "the messages missed since then cannot be read right now; try again")
		return
	}
	if r.coverFrom > rec.upTo {
		// So many messages arrived meanwhile that the cache no longer reaches back to
		// the read: read again, up to now.
		r.recover(rec.o, true)
		return
	}
	since := *rec.o.since
	var encs [][]byte
	for i := range rec.msgs {
		if m := &rec.msgs[i]; m.Seq > since {
			encs = append(encs, protocol.EncodeMessage(m))
		}
	}
	encs = append(encs, r.cachedAfter(rec.upTo)...)
	more := rec.more || len(encs) > MaxRecovery
	if len(encs) > MaxRecovery {
		encs = encs[len(encs)-MaxRecovery:]
	}
	r.admit(rec.o, protocol.EncodeArray(encs), more)
}

// cancelRecovery forgets the recoveries of a session that left.
func (r *room) cancelRecovery(s *Session) {
	kept := r.recovery[:0]
	for _, rec := range r.recovery {
		if rec.o.s != s {
			kept = append(kept, rec)
		}
	}
	clear(r.recovery[len(kept):])
	r.recovery = kept
}
