package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/protocol"
)

// Reading history without an index.
//
// A room is a subject of the stream, and JetStream reads a subject forwards only: a
// batched direct get returns up to N messages of the subject from a sequence on, in one
// request, each with the number of the subject's messages still after it
// (Nats-Num-Pending). "The latest N messages before S" therefore needs the sequence where
// that page starts. count(x), the number of the room's messages at or after sequence x, is
// one small request, and it falls as x grows; the page starts where count(x) = count(S) + N.
// Before finds that point by interpolation (a room's messages are spread through the
// stream fairly evenly) with bisection as the fallback: typically three to six requests
// per page, whatever the size of the store, and no per-node index of the messages.

// maxSearchSteps bounds the search for a page's start; bisection over 64-bit sequences
// needs at most 64 steps.
const maxSearchSteps = 64

// batch reads up to n messages of room with seq >= from, oldest first, and how many of the
// room's messages follow the last one returned: as many batched direct gets as the
// messages' size needs (each answer is at most readChunkBytes).
func (b *Broker) batch(ctx context.Context, room string, from uint64, n int) ([]protocol.Message, uint64, error) {
	if !b.isBootstrapped() {
		return nil, 0, b.Ready()
	}
	out := make([]protocol.Message, 0, min(n, 256))
	var after uint64
	for got := 0; got < n; {
		raws, pending, err := b.directBatch(ctx, b.subject(room), from, n-got)
		if err != nil {
			return nil, 0, err
		}
		after = pending
		for _, raw := range raws {
			m, err := DecodeStored(room, raw.seq, raw.data)
			if err != nil {
				b.opts.Logger.Warn("skipping an undecodable message", "room", room, "seq", raw.seq, "err", err)
				continue
			}
			out = append(out, m)
		}
		got += len(raws)
		if len(raws) == 0 || pending == 0 {
			break
		}
		from = raws[len(raws)-1].seq + 1
	}
	return out, after, nil
}

func (b *Broker) readErr(err error) error {
	if b.closed.Load() {
		return broker.ErrClosed
	}
	return fmt.Errorf("%w: reading messages: %w", broker.ErrUnavailable, err)
}

// count returns the sequence of the room's first message at or after from, and how many
// of the room's messages there are from there on (0, 0 when none).
func (b *Broker) count(ctx context.Context, room string, from uint64) (uint64, uint64, error) {
	if !b.isBootstrapped() {
		return 0, 0, b.Ready()
	}
	raws, after, err := b.directBatch(ctx, b.subject(room), from, 1)
	if err != nil || len(raws) == 0 {
		return 0, 0, err
	}
	return raws[0].seq, after + 1, nil
}

// After implements broker.Log: one batched read.
func (b *Broker) After(ctx context.Context, room string, after uint64, limit int) ([]protocol.Message, bool, error) {
	if limit <= 0 {
		return nil, false, nil
	}
	msgs, rest, err := b.batch(ctx, room, after+1, limit)
	if err != nil {
		return nil, false, err
	}
	return msgs, rest > 0, nil
}

// Before implements broker.Log.
func (b *Broker) Before(ctx context.Context, room string, before uint64, limit int) ([]protocol.Message, bool, error) {
	if limit <= 0 {
		return nil, false, nil
	}
	// Counts run to the end of the stream, so messages stored while a page is looked for
	// shift them; a page found short for that reason is looked for again.
	for attempt := 0; ; attempt++ {
		msgs, more, err := b.before(ctx, room, before, limit)
		if err != nil || !more || len(msgs) == limit {
			return msgs, more, err
		}
		if attempt == 2 {
			if len(msgs) == 0 {
				// Older entries are counted but none was read (the copy that answered
				// lags behind the counts): an empty page must never say there is more,
				// nor look like the end.
				return nil, false, fmt.Errorf("%w: reading messages: the store's copies disagree about room %s before %d; try again", broker.ErrUnavailable, room, before)
			}
			return msgs, more, nil
		}
	}
}

func (b *Broker) before(ctx context.Context, room string, before uint64, limit int) ([]protocol.Message, bool, error) {
	// end: the page ends before this sequence; atEnd: the room's messages from there on,
	// counted before the total so that messages stored in between make the total larger,
	// never smaller, than what lies before end (the extra ones are dropped by below).
	end, atEnd := uint64(math.MaxUint64), uint64(0)
	var err error
	if before > 0 {
		end = before
		if _, atEnd, err = b.count(ctx, room, before); err != nil {
			return nil, false, err
		}
	}
	first, total, err := b.count(ctx, room, 1)
	if err != nil || total <= atEnd {
		return nil, false, err
	}
	if total-atEnd <= uint64(limit) {
		msgs, _, err := b.batch(ctx, room, first, int(total-atEnd))
		return below(msgs, end), false, err
	}
	if before == 0 {
		// Any copy of the stream answers this (also during a leader election); one a little
		// behind only shortens the page, and live delivery catches up from the leader.
		last, err := b.lastSeqAnyCopy(ctx, room)
		if err != nil {
			return nil, false, err
		}
		end = last + 1
	}
	start, n, err := b.pageStart(ctx, room, first, total, end, atEnd, uint64(limit))
	if err != nil {
		return nil, false, err
	}
	msgs, _, err := b.batch(ctx, room, start, int(n))
	if err != nil {
		return nil, false, err
	}
	msgs = below(msgs, end)
	if len(msgs) > limit {
		msgs = msgs[len(msgs)-limit:]
	}
	return msgs, true, nil
}

// below drops the messages at or after end.
func below(msgs []protocol.Message, end uint64) []protocol.Message {
	for i, m := range msgs {
		if m.Seq >= end {
			return msgs[:i]
		}
	}
	return msgs
}

// pageStart finds a sequence from which between limit and 2 × limit of the room's messages
// lie before end, and returns the first message's sequence there and that number.
// count(first) = total > count(end) + limit = target.
func (b *Broker) pageStart(ctx context.Context, room string, first, total, end, atEnd, limit uint64) (uint64, uint64, error) {
	target := atEnd + limit
	lo, clo := first, total // clo > target
	hi, chi := end, atEnd   // chi < target
	for step := 0; step < maxSearchSteps; step++ {
		var x uint64
		if step%2 == 0 || step < 3 {
			// Interpolate, assuming the messages between lo and hi are spread evenly.
			frac := float64(target-chi) / float64(clo-chi)
			x = hi - uint64(frac*float64(hi-lo))
		} else {
			x = lo + (hi-lo)/2
		}
		x = max(lo+1, min(x, hi-1))
		if x <= lo || x >= hi {
			// lo and hi are adjacent: the page starts at lo.
			return lo, clo - atEnd, nil
		}
		at, c, err := b.count(ctx, room, x)
		if err != nil {
			return 0, 0, err
		}
		switch {
		case c >= target && c-atEnd <= 2*limit:
			return at, c - atEnd, nil
		case c > target:
			lo, clo = at, c
		default:
			hi, chi = x, c
		}
	}
	return 0, 0, fmt.Errorf("%w: no page start found in room %s before %d", broker.ErrUnavailable, room, end)
}

// lastSeq asks the stream's leader (not a replica that may lag behind) for the sequence of
// the room's latest message, 0 when it has none.
func (b *Broker) lastSeq(ctx context.Context, room string) (uint64, error) {
	m, found, err := b.leaderGet(ctx, room, map[string]any{"last_by_subj": b.subject(room)})
	if err != nil || !found {
		return 0, err
	}
	return m.Seq, nil
}

// leaderNext asks the stream's leader (never a copy that may lag) for the room's first
// entry at or after seq; found is false when it has none.
func (b *Broker) leaderNext(ctx context.Context, room string, seq uint64) (protocol.Message, bool, error) {
	return b.leaderGet(ctx, room, map[string]any{"seq": max(seq, 1), "next_by_subj": b.subject(room)})
}

// leaderGet is one $JS.API.STREAM.MSG.GET request, which the stream's leader answers.
func (b *Broker) leaderGet(ctx context.Context, room string, request map[string]any) (protocol.Message, bool, error) {
	if !b.isBootstrapped() {
		return protocol.Message{}, false, b.Ready()
	}
	release, err := b.acquireRead(ctx)
	if err != nil {
		return protocol.Message{}, false, err
	}
	defer release()
	b.reads.Add(1)
	req, _ := json.Marshal(request)
	resp, err := b.rnc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+b.opts.Stream, req)
	if err != nil {
		return protocol.Message{}, false, b.readErr(err)
	}
	var r struct {
		Message *struct {
			Seq  uint64 `json:"seq"`
			Data []byte `json:"data"`
		} `json:"message"`
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return protocol.Message{}, false, b.readErr(err)
	}
	if r.Error != nil {
		if r.Error.Code == 404 {
			return protocol.Message{}, false, nil
		}
		return protocol.Message{}, false, b.readErr(fmt.Errorf("%s (%d)", r.Error.Description, r.Error.ErrCode))
	}
	if r.Message == nil {
		return protocol.Message{}, false, b.readErr(errors.New("empty answer"))
	}
	m, err := DecodeStored(room, r.Message.Seq, r.Message.Data)
	if err != nil {
		m = protocol.Message{Room: room, Seq: r.Message.Seq} // its seq counts all the same
	}
	return m, true, nil
}

// lastSeqAnyCopy returns the sequence of the room's latest message as any copy of the stream
// knows it (a direct get), 0 when it has none.
func (b *Broker) lastSeqAnyCopy(ctx context.Context, room string) (uint64, error) {
	release, err := b.acquireRead(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	b.reads.Add(1)
	raw, err := b.rstream.GetLastMsgForSubject(ctx, b.subject(room))
	if errors.Is(err, natsjs.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, b.readErr(err)
	}
	return raw.Sequence, nil
}

// Rooms implements broker.Log: the stream's subjects and their message counts, from its state
// (no message is read).
func (b *Broker) Rooms(ctx context.Context) ([]broker.RoomInfo, error) {
	if !b.isBootstrapped() {
		return nil, b.Ready()
	}
	release, err := b.acquireRead(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	info, err := b.rstream.Info(ctx, natsjs.WithSubjectFilter(b.opts.SubjectPrefix+"*"))
	if err != nil {
		return nil, b.readErr(err)
	}
	last := b.lastActivity(ctx)
	out := make([]broker.RoomInfo, 0, len(info.State.Subjects))
	for subj, n := range info.State.Subjects {
		if n > 0 {
			name := strings.TrimPrefix(subj, b.opts.SubjectPrefix)
			out = append(out, broker.RoomInfo{Name: name, Messages: n, LastTS: last[name]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get implements broker.Log: one direct get, answered by any copy of the stream.
func (b *Broker) Get(ctx context.Context, room string, seq uint64) (protocol.Message, error) {
	if !b.isBootstrapped() {
		return protocol.Message{}, b.Ready()
	}
	release, err := b.acquireRead(ctx)
	if err != nil {
		return protocol.Message{}, err
	}
	defer release()
	b.reads.Add(1)
	raw, err := b.rstream.GetMsg(ctx, seq)
	if errors.Is(err, natsjs.ErrMsgNotFound) || err == nil && raw.Subject != b.subject(room) {
		return protocol.Message{}, broker.ErrNotFound
	}
	if err != nil {
		return protocol.Message{}, b.readErr(err)
	}
	return DecodeStored(room, raw.Sequence, raw.Data)
}

// Erase implements broker.Log: the message is checked to be room's (one direct get), then
// deleted with its content overwritten, on every copy of the stream.
func (b *Broker) Erase(ctx context.Context, room string, seq uint64) error {
	if _, err := b.Get(ctx, room, seq); err != nil {
		return err
	}
	if err := b.stream.SecureDeleteMsg(ctx, seq); err != nil {
		if errors.Is(err, natsjs.ErrMsgNotFound) {
			return broker.ErrNotFound
		}
		return fmt.Errorf("%w: erasing a message: %w", broker.ErrUnavailable, err)
	}
	return nil
}

// CountAfter implements broker.Log: one request.
func (b *Broker) CountAfter(ctx context.Context, room string, seq uint64) (uint64, error) {
	_, n, err := b.count(ctx, room, seq+1)
	return n, err
}

// lastActivity returns when each room's latest entry was stored, from one batched request
// for the last message of every subject (JetStream answers at most 1,024 subjects: beyond
// that, nothing).
func (b *Broker) lastActivity(ctx context.Context) map[string]int64 {
	it, err := jetstreamext.GetLastMsgsFor(ctx, b.rjs, b.opts.Stream, []string{b.opts.SubjectPrefix + "*"})
	if err != nil {
		return nil
	}
	out := make(map[string]int64)
	for raw, err := range it {
		if err != nil {
			break
		}
		out[strings.TrimPrefix(raw.Subject, b.opts.SubjectPrefix)] = raw.Time.UnixMilli()
	}
	return out
}
