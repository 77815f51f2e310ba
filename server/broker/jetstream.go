package broker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/distchat/distchat/server/protocol"
)

// JetStreamOptions configure the stream that holds every room.
type JetStreamOptions struct {
	// Stream is the stream's name (default "DISTCHAT").
	Stream string
	// SubjectPrefix is prepended to room names (default "distchat.room.").
	SubjectPrefix string
	// MaxMsgsPerRoom keeps at most this many messages per room (0: no limit).
	MaxMsgsPerRoom int64
	// MaxAge drops messages older than this (0: keep forever).
	MaxAge time.Duration
	// DedupeWindow is how long a message's dedupe key is remembered (default 2 minutes).
	DedupeWindow time.Duration
	// Replicas is the stream's replication factor in a cluster (default 1).
	Replicas int
	// Logger receives errors of the delivery feed.
	Logger *slog.Logger
}

func (o JetStreamOptions) withDefaults() JetStreamOptions {
	if o.Stream == "" {
		o.Stream = "DISTCHAT"
	}
	if o.SubjectPrefix == "" {
		o.SubjectPrefix = "distchat.room."
	}
	if o.DedupeWindow <= 0 {
		o.DedupeWindow = 2 * time.Minute
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// JetStream is a Broker on NATS JetStream: one stream, one subject per room, the stream's
// sequence as each message's seq. Every node runs one ordered consumer over all rooms (the
// feed), which delivers live messages and keeps a per-room index of sequences that history
// reads page through.
type JetStream struct {
	opts   JetStreamOptions
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	feed   jetstream.ConsumeContext
	// embedded is the in-process NATS server this broker owns, if any.
	embedded *server.Server

	mu    sync.RWMutex
	index map[string][]uint64 // per room: stream sequences, ascending

	subsMu  sync.Mutex
	subs    atomic.Pointer[[]*jsSub]
	closed  atomic.Bool
	closeMu sync.Mutex
}

type jsSub struct{ fn func(protocol.Message) }

var _ Broker = (*JetStream)(nil)

// storedMessage is a message's payload in the stream. Room and seq come from the subject
// and the stream sequence.
type storedMessage struct {
	ID   string        `json:"id"`
	From protocol.User `json:"from"`
	Body string        `json:"body"`
	TS   int64         `json:"ts"`
	Ref  string        `json:"ref,omitempty"`
}

// OpenEmbedded starts a NATS server with JetStream inside this process and a broker on it.
// Close stops both.
func OpenEmbedded(ctx context.Context, eo EmbeddedOptions, o JetStreamOptions) (*JetStream, error) {
	ns, err := StartEmbedded(eo)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.Name("distchat"))
	if err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("connecting to embedded NATS: %w", err)
	}
	b, err := NewJetStream(ctx, nc, o)
	if err != nil {
		nc.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, err
	}
	b.embedded = ns
	return b, nil
}

// Connect opens a broker on an external NATS server or cluster at url.
func Connect(ctx context.Context, url string, o JetStreamOptions) (*JetStream, error) {
	nc, err := nats.Connect(url, nats.Name("distchat"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", redactURL(url), err)
	}
	b, err := NewJetStream(ctx, nc, o)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return b, nil
}

// redactURL hides credentials in a NATS URL for error messages and logs.
func redactURL(u string) string {
	if at := strings.LastIndex(u, "@"); at >= 0 {
		if scheme := strings.Index(u, "://"); scheme >= 0 && scheme < at {
			return u[:scheme+3] + "***" + u[at:]
		}
		return "***" + u[at:]
	}
	return u
}

// NewJetStream creates or updates the stream on nc, indexes what it holds and starts the
// feed. The broker owns nc and closes it.
func NewJetStream(ctx context.Context, nc *nats.Conn, o JetStreamOptions) (*JetStream, error) {
	o = o.withDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	b := &JetStream{opts: o, nc: nc, js: js, index: make(map[string][]uint64)}
	b.subs.Store(&[]*jsSub{})
	cfg := jetstream.StreamConfig{
		Name:              o.Stream,
		Description:       "distchat rooms: one subject per room",
		Subjects:          []string{o.SubjectPrefix + "*"},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: o.MaxMsgsPerRoom,
		MaxAge:            o.MaxAge,
		Duplicates:        o.DedupeWindow,
		Replicas:          o.Replicas,
		AllowDirect:       true,
		Discard:           jetstream.DiscardOld,
	}
	if b.stream, err = retry(ctx, func(ctx context.Context) (jetstream.Stream, error) {
		return js.CreateOrUpdateStream(ctx, cfg)
	}); err != nil {
		return nil, fmt.Errorf("creating stream %s: %w", o.Stream, err)
	}
	last, err := b.buildIndex(ctx)
	if err != nil {
		return nil, fmt.Errorf("indexing stream %s: %w", o.Stream, err)
	}
	if err := b.startFeed(ctx, last); err != nil {
		return nil, fmt.Errorf("starting the feed: %w", err)
	}
	return b, nil
}

// retry calls f with a short timeout until it succeeds or ctx ends: a JetStream cluster may
// still be electing its leaders.
func retry[T any](ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		v, err := f(actx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (b *JetStream) subject(room string) string { return b.opts.SubjectPrefix + room }

// buildIndex reads the sequence of every stored message (headers only) and returns the
// last sequence indexed; the feed starts after it.
func (b *JetStream) buildIndex(ctx context.Context) (uint64, error) {
	info, err := b.stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return last, nil
	}
	cons, err := b.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{b.opts.SubjectPrefix + "*"},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		HeadersOnly:    true,
	})
	if err != nil {
		return 0, err
	}
	var once sync.Once
	done := make(chan struct{})
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		md, err := msg.Metadata()
		if err != nil {
			return
		}
		seq := md.Sequence.Stream
		if seq <= last {
			room := strings.TrimPrefix(msg.Subject(), b.opts.SubjectPrefix)
			b.mu.Lock()
			b.index[room] = append(b.index[room], seq)
			b.mu.Unlock()
		}
		if seq >= last || md.NumPending == 0 {
			once.Do(func() { close(done) })
		}
	})
	if err != nil {
		return 0, err
	}
	defer cc.Stop()
	select {
	case <-done:
		return last, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// startFeed delivers every message stored after sequence last, in stream order.
func (b *JetStream) startFeed(ctx context.Context, last uint64) error {
	cons, err := b.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{b.opts.SubjectPrefix + "*"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    last + 1,
	})
	if err != nil {
		return err
	}
	b.feed, err = cons.Consume(b.deliver, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if !b.closed.Load() {
			b.opts.Logger.Warn("message feed", "err", err)
		}
	}))
	return err
}

// deliver runs for every stored message, in stream order, on the feed's goroutine.
func (b *JetStream) deliver(msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		return
	}
	m, err := b.decode(msg.Subject(), md.Sequence.Stream, msg.Data())
	if err != nil {
		b.opts.Logger.Warn("skipping undecodable message", "subject", msg.Subject(), "seq", md.Sequence.Stream, "err", err)
		return
	}
	b.remember(m.Room, m.Seq)
	for _, s := range *b.subs.Load() {
		s.fn(m)
	}
}

// remember adds seq to a room's index. Both Publish (so that a reader sees its own write at
// once) and the feed (for every node's messages) add, so it ignores what it already has.
func (b *JetStream) remember(room string, seq uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	idx := b.index[room]
	n := len(idx)
	switch {
	case n == 0 || idx[n-1] < seq:
		idx = append(idx, seq)
	default:
		i := sort.Search(n, func(i int) bool { return idx[i] >= seq })
		if idx[i] == seq {
			return
		}
		idx = append(idx, 0)
		copy(idx[i+1:], idx[i:])
		idx[i] = seq
	}
	// Retention drops the oldest messages; trim the index now and then so it does not grow
	// without bound (reads drop whatever else retention removed).
	if max := int(b.opts.MaxMsgsPerRoom); max > 0 && len(idx) > 2*max {
		idx = append(idx[:0:0], idx[len(idx)-max:]...)
	}
	b.index[room] = idx
}

func (b *JetStream) decode(subject string, seq uint64, data []byte) (protocol.Message, error) {
	var sm storedMessage
	if err := json.Unmarshal(data, &sm); err != nil {
		return protocol.Message{}, err
	}
	return protocol.Message{
		Room: strings.TrimPrefix(subject, b.opts.SubjectPrefix),
		Seq:  seq, ID: sm.ID, From: sm.From, Body: sm.Body, TS: sm.TS, Ref: sm.Ref,
	}, nil
}

// Publish implements Broker. The message is acknowledged by JetStream, and so written to
// its store, before Publish returns.
func (b *JetStream) Publish(ctx context.Context, m protocol.Message, dedupeKey string) (protocol.Message, bool, error) {
	if b.closed.Load() {
		return protocol.Message{}, false, ErrClosed
	}
	if m.ID == "" {
		m.ID = nuid.Next()
	}
	m.TS = time.Now().UnixMilli()
	data, err := json.Marshal(storedMessage{ID: m.ID, From: m.From, Body: m.Body, TS: m.TS, Ref: m.Ref})
	if err != nil {
		return protocol.Message{}, false, err
	}
	msg := nats.NewMsg(b.subject(m.Room))
	msg.Data = data
	if dedupeKey != "" {
		sum := sha256.Sum256([]byte(m.Room + "\x00" + dedupeKey))
		msg.Header.Set(jetstream.MsgIDHeader, hex.EncodeToString(sum[:16]))
	}
	ack, err := b.js.PublishMsg(ctx, msg)
	if err != nil && dedupeKey != "" && ctx.Err() == nil && !b.closed.Load() {
		// With a dedupe key a retry cannot store the message twice.
		ack, err = retry(ctx, func(ctx context.Context) (*jetstream.PubAck, error) { return b.js.PublishMsg(ctx, msg) })
	}
	if err != nil {
		if b.closed.Load() {
			return protocol.Message{}, false, ErrClosed
		}
		return protocol.Message{}, false, fmt.Errorf("publishing to %s: %w", msg.Subject, err)
	}
	if ack.Duplicate {
		raw, err := b.stream.GetMsg(ctx, ack.Sequence)
		if err != nil {
			return protocol.Message{}, false, fmt.Errorf("reading the original of a duplicate: %w", err)
		}
		orig, err := b.decode(raw.Subject, raw.Sequence, raw.Data)
		return orig, true, err
	}
	m.Seq = ack.Sequence
	b.remember(m.Room, m.Seq)
	return m, false, nil
}

// Subscribe implements Broker.
func (b *JetStream) Subscribe(fn func(protocol.Message)) (func(), error) {
	if b.closed.Load() {
		return nil, ErrClosed
	}
	s := &jsSub{fn: fn}
	b.subsMu.Lock()
	list := append(append([]*jsSub(nil), *b.subs.Load()...), s)
	b.subs.Store(&list)
	b.subsMu.Unlock()
	return func() {
		b.subsMu.Lock()
		defer b.subsMu.Unlock()
		var list []*jsSub
		for _, o := range *b.subs.Load() {
			if o != s {
				list = append(list, o)
			}
		}
		b.subs.Store(&list)
	}, nil
}

// Before implements Broker.
func (b *JetStream) Before(ctx context.Context, room string, before uint64, limit int) ([]protocol.Message, bool, error) {
	return b.page(ctx, room, func(idx []uint64) (int, int) {
		end := len(idx)
		if before > 0 {
			end = sort.Search(len(idx), func(i int) bool { return idx[i] >= before })
		}
		return max(end-limit, 0), end
	}, false)
}

// After implements Broker.
func (b *JetStream) After(ctx context.Context, room string, after uint64, limit int) ([]protocol.Message, bool, error) {
	return b.page(ctx, room, func(idx []uint64) (int, int) {
		start := sort.Search(len(idx), func(i int) bool { return idx[i] > after })
		return start, min(start+limit, len(idx))
	}, true)
}

// page reads the messages at idx[start:end] of a room's index. Messages removed by
// retention are dropped from the index and the page is computed again.
func (b *JetStream) page(ctx context.Context, room string, bounds func([]uint64) (int, int), forward bool) ([]protocol.Message, bool, error) {
	if b.closed.Load() {
		return nil, false, ErrClosed
	}
	for {
		b.mu.RLock()
		idx := b.index[room]
		start, end := bounds(idx)
		seqs := append([]uint64(nil), idx[start:end]...)
		more := start > 0
		if forward {
			more = end < len(idx)
		}
		b.mu.RUnlock()

		out := make([]protocol.Message, 0, len(seqs))
		var gone []uint64
		for _, seq := range seqs {
			raw, err := b.stream.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				gone = append(gone, seq)
				continue
			}
			if err != nil {
				return nil, false, fmt.Errorf("reading message %d: %w", seq, err)
			}
			m, err := b.decode(raw.Subject, raw.Sequence, raw.Data)
			if err != nil {
				gone = append(gone, seq)
				continue
			}
			out = append(out, m)
		}
		if len(gone) == 0 {
			return out, more, nil
		}
		b.forget(room, gone)
	}
}

// forget removes sequences that retention deleted from a room's index.
func (b *JetStream) forget(room string, gone []uint64) {
	drop := make(map[uint64]bool, len(gone))
	for _, s := range gone {
		drop[s] = true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	idx := b.index[room]
	kept := idx[:0:0]
	for _, s := range idx {
		if !drop[s] {
			kept = append(kept, s)
		}
	}
	b.index[room] = kept
}

// Rooms implements Broker.
func (b *JetStream) Rooms(ctx context.Context) ([]string, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]string, 0, len(b.index))
	for name, idx := range b.index {
		if len(idx) > 0 {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Close implements Broker: it stops the feed, waits for publishes in flight, closes the
// connection and stops the embedded server if this broker started it.
func (b *JetStream) Close() error {
	b.closeMu.Lock()
	defer b.closeMu.Unlock()
	if b.closed.Swap(true) {
		return nil
	}
	if b.feed != nil {
		b.feed.Stop()
	}
	b.subs.Store(&[]*jsSub{})
	b.nc.Close()
	if b.embedded != nil {
		b.embedded.Shutdown()
		b.embedded.WaitForShutdown()
	}
	return nil
}
