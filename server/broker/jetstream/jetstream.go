// Package jetstream is the message store on NATS JetStream: one stream holds every room,
// one subject per room, and a key-value bucket beside it the shared state. Its Broker sets
// the stream up and watches its readiness (jetstream.go), publishes with pipelined
// acknowledgements (publish.go), delivers each room's messages live from the stream's
// republished copies, filling gaps from storage (live.go), reads history with batched
// direct gets (read.go, directget.go), and keeps the shared state (state.go). It runs on
// an external NATS (Connect, New) or on the NATS node embedded in this process
// (OpenEmbedded, node.go).
package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/natsnode"
)

// Options configure the stream that holds every room.
type Options struct {
	// Stream is the stream's name (default "DISTCHAT").
	Stream string
	// SubjectPrefix is prepended to room names for stored messages (default
	// "distchat.room.").
	SubjectPrefix string
	// LivePrefix is prepended to room names for the copies of stored messages that the
	// stream republishes for live delivery (default "distchat.live.").
	LivePrefix string
	// MaxMsgsPerRoom keeps at most this many messages per room (0: no limit).
	MaxMsgsPerRoom int64
	// MaxAge drops messages older than this (0: keep forever).
	MaxAge time.Duration
	// DedupeWindow is how long a message's dedupe key is remembered (default 2 minutes).
	DedupeWindow time.Duration
	// Replicas is how many copies of the stream a cluster keeps; 0 picks 3 when the NATS
	// servers are clustered (fewer when there are fewer servers) and 1 otherwise. A start
	// never lowers the replicas of an existing stream.
	Replicas int
	// MaxBytes bounds the stream's size (per copy): past it the oldest messages are
	// discarded, so a full store keeps taking new ones. 0: no limit is set (an existing
	// stream keeps its own).
	MaxBytes int64
	// MaxBytesCeiling makes MaxBytes an upper bound derived from this node's disk rather
	// than an operator's setting: it is applied to a new stream or one without a limit,
	// and lowers a larger limit, but never raises one. A cluster's stream thus fits the
	// smallest of its nodes' disks.
	MaxBytesCeiling bool
	// PublishTimeout bounds storing one message (default 1 s): a publish not acknowledged
	// by then fails with broker.ErrUnavailable.
	PublishTimeout time.Duration
	// Logger receives the broker's start-up and trouble reports.
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultStream        = "DISTCHAT"
	DefaultSubjectPrefix = "distchat.room."
	DefaultLivePrefix    = "distchat.live."

	// DefaultPublishTimeout bounds storing one message; the dedupe window's default is
	// broker.DefaultDedupeWindow.
	DefaultPublishTimeout = time.Second
)

// WithDefaults returns o with the defaults in its zero fields (the stream's name and subjects
// for tools that read the stream themselves, such as distchat export).
func (o Options) WithDefaults() Options {
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.SubjectPrefix == "" {
		o.SubjectPrefix = DefaultSubjectPrefix
	}
	if o.LivePrefix == "" {
		o.LivePrefix = DefaultLivePrefix
	}
	if o.DedupeWindow <= 0 {
		o.DedupeWindow = broker.DefaultDedupeWindow
	}
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = DefaultPublishTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Timing of the broker's background work.
const (
	// probeEvery is how often readiness is checked against the stream's leader; while
	// not ready, four times as often, to be ready again soon after a leader election.
	probeEvery = time.Second
	// probeTimeout bounds one readiness check.
	probeTimeout = time.Second
	// waitLogEvery spaces the "still waiting" lines while storage is not there yet.
	waitLogEvery = 5 * time.Second
	// bootstrapRetry is the pause between two attempts to set up the stream.
	bootstrapRetry = 500 * time.Millisecond
	// replicaSilence: a copy of the stream that has not answered its leader for this long
	// counts as unreachable: twelve raft heartbeats of the embedded server (250 ms, see
	// natsnode/raft_timing.go), three of an external NATS with upstream's timing (1 s).
	replicaSilence = 3 * time.Second
	// catchUpLag: a copy of the stream this many operations behind is catching up.
	catchUpLag = 1000
)

// Broker is a broker.Broker on NATS JetStream: one stream, one subject per room, the stream's
// sequence as each message's seq. The stream republishes every stored message to a live
// subject per room; a node subscribes to the live subjects of the rooms it serves and
// nothing else (see live.go). History is read with batched direct gets (read.go).
//
// Opening returns at once; the stream is set up in the background, retried until the
// cluster has elected its leaders, and Ready reports when the broker can store and deliver.
type Broker struct {
	opts Options
	nc   *nats.Conn
	js   natsjs.JetStream
	// Reads go over a connection of their own (rnc, rjs, rstream), so that a burst of
	// large answers never delays publishes, acknowledgements or live messages, nor
	// counts against their connection's pending bytes; readGate holds its slots.
	rnc      *nats.Conn
	rjs      natsjs.JetStream
	rstream  natsjs.Stream
	readGate chan struct{}
	// node is the in-process NATS server this broker owns, if any (see node.go).
	node *natsnode.Node

	// ctx ends when the broker closes; every background call uses it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // background goroutines

	// bootstrapped is closed once the stream exists (with this node's settings); stream is
	// set before.
	bootstrapped chan struct{}
	stream       natsjs.Stream          // rstream is set with it
	notReady     atomic.Pointer[error]  // nil: ready
	epoch        atomic.Pointer[string] // see Epoch
	leader       atomic.Pointer[string]
	probeMu      sync.Mutex // one probe at a time: the probe loop's, or the disk watcher's after a restart
	behindSince  time.Time  // guarded by probeMu

	state *jsState // set before bootstrapped is closed
	pubs  sync.Map // *nats.Msg -> *publication, for the async ack callbacks
	reads atomic.Uint64
	// trouble counts the times a connection to NATS was dropped or fell behind.
	disconnects, slowConsumers atomic.Uint64
	live                       *liveSet
	closed                     atomic.Bool
}

var _ broker.Broker = (*Broker)(nil)

// Connect opens a broker on an external NATS server or cluster at url (several URLs
// separated by commas). A server that cannot be reached yet is retried in the background:
// the broker is not ready meanwhile.
// ctx is the broker's lifetime, as for OpenEmbedded.
func Connect(ctx context.Context, url string, o Options) (*Broker, error) {
	nc, err := nats.Connect(url, nats.Name("distchat"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true))
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", redactURL(url), err)
	}
	if err := checkServerVersion(nc); err != nil {
		nc.Close()
		return nil, err
	}
	b, err := New(ctx, nc, o)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return b, nil
}

// minServerVersion is the oldest nats-server distchat can read history from: batched direct
// gets, with their end-of-batch marker, came in 2.11.
var minServerVersion = [3]int{2, 11, 0}

// checkServerVersion refuses a NATS server older than minServerVersion (once connected; a
// server not reached yet is checked when it is). Such a server looks healthy and takes
// messages, but answers no batched read, so every room with history would be refused.
func checkServerVersion(nc *nats.Conn) error { return versionError(nc.ConnectedServerVersion()) }

// versionError refuses a server version (as the server reports it) older than
// minServerVersion; "" is not known yet.
func versionError(v string) error {
	if v == "" {
		return nil
	}
	var have [3]int
	for i, part := range strings.SplitN(strings.TrimPrefix(strings.SplitN(v, "-", 2)[0], "v"), ".", 3) {
		have[i], _ = strconv.Atoi(part)
	}
	for i := range have {
		if have[i] != minServerVersion[i] {
			if have[i] < minServerVersion[i] {
				return fmt.Errorf("the NATS server is version %s: distchat needs nats-server %d.%d or newer (batched direct gets, for history)",
					v, minServerVersion[0], minServerVersion[1])
			}
			return nil
		}
	}
	return nil
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

// New returns a broker on nc and sets the stream up in the background. The broker
// owns nc and closes it. ctx is the broker's lifetime, as for OpenEmbedded.
func New(ctx context.Context, nc *nats.Conn, o Options) (*Broker, error) {
	return newBroker(ctx, nc, o, nil)
}

func newBroker(ctx context.Context, nc *nats.Conn, o Options, node *natsnode.Node) (*Broker, error) {
	o = o.WithDefaults()
	b := &Broker{opts: o, nc: nc, node: node, bootstrapped: make(chan struct{}), readGate: make(chan struct{}, readSlots)}
	// The reads' connection: the same server and credentials, a connection of its own.
	ropts := nc.Opts
	ropts.Name += " reads"
	ropts.RetryOnFailedConnect = true
	rnc, err := ropts.Connect()
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS for reads: %w", err)
	}
	b.rnc = rnc
	if b.rjs, err = natsjs.New(rnc); err != nil {
		rnc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	js, err := natsjs.New(nc,
		natsjs.WithPublishAsyncTimeout(o.PublishTimeout),
		natsjs.WithPublishAsyncMaxPending(maxPendingPublishes),
		natsjs.WithPublishAsyncAckHandler(b.onAck),
		natsjs.WithPublishAsyncErrHandler(b.onPublishError),
	)
	if err != nil {
		rnc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	b.js = js
	b.ctx, b.cancel = context.WithCancel(ctx)
	b.setNotReady(errors.New("starting: setting up the message stream"))
	b.live = newLiveSet(b)
	nc.SetReconnectHandler(func(*nats.Conn) {
		o.Logger.Info("reconnected to NATS", "server", nc.ConnectedUrlRedacted())
		b.live.catchUpAll()
	})
	for _, c := range []*nats.Conn{nc, rnc} {
		c.SetDisconnectErrHandler(func(c *nats.Conn, err error) {
			if !b.closed.Load() {
				b.disconnects.Add(1)
				o.Logger.Warn("disconnected from NATS", "connection", c.Opts.Name, "err", err)
			}
		})
	}
	rnc.SetReconnectHandler(func(*nats.Conn) { o.Logger.Info("reconnected to NATS for reads") })
	nc.SetErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrSlowConsumer) {
			b.slowConsumers.Add(1)
		}
		if errors.Is(err, nats.ErrSlowConsumer) && sub != nil && strings.HasPrefix(sub.Subject, o.LivePrefix) {
			// Live messages were dropped: the rooms fill the gap from storage.
			o.Logger.Warn("live delivery fell behind; catching up from storage")
			b.live.catchUpAll()
			return
		}
		o.Logger.Warn("NATS", "err", err)
	})
	rnc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrSlowConsumer) {
			// A read's answer was dropped: that read fails (its batch is incomplete).
			b.slowConsumers.Add(1)
		}
		o.Logger.Warn("NATS (reads)", "err", err)
	})
	b.wg.Add(2)
	go func() {
		defer b.wg.Done()
		b.live.dispatch()
	}()
	go func() {
		defer b.wg.Done()
		b.bootstrap()
	}()
	if node != nil {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			node.WatchDisk(b.ctx, diskHooks{b}, o.Logger)
		}()
	}
	return b, nil
}

// maxPendingPublishes bounds the publishes of this node waiting for their acks; beyond it
// publishing stalls briefly, then fails.
const maxPendingPublishes = 1 << 16

func (b *Broker) subject(room string) string { return b.opts.SubjectPrefix + room }
func (b *Broker) liveSubject(room string) string {
	return b.opts.LivePrefix + room
}

// streamConfig is the stream as this node wants it, with replicas r and size limit
// maxBytes (-1: none).
func (b *Broker) streamConfig(r int, maxBytes int64) natsjs.StreamConfig {
	o := b.opts
	return natsjs.StreamConfig{
		Name:              o.Stream,
		Description:       "distchat rooms: one subject per room",
		Subjects:          []string{o.SubjectPrefix + "*"},
		Storage:           natsjs.FileStorage,
		Retention:         natsjs.LimitsPolicy,
		MaxMsgsPerSubject: o.MaxMsgsPerRoom,
		MaxAge:            o.MaxAge,
		MaxBytes:          maxBytes,
		Duplicates:        o.DedupeWindow,
		Replicas:          r,
		AllowDirect:       true,
		Discard:           natsjs.DiscardOld,
		// Every stored message is sent on at once to the room's live subject, with its
		// sequence and the room's previous sequence in headers: nodes subscribe to the
		// rooms they serve and detect gaps.
		RePublish: &natsjs.RePublish{
			Source:      o.SubjectPrefix + "*",
			Destination: o.LivePrefix + "{{wildcard(1)}}",
		},
	}
}

// bootstrap sets the stream up, retrying until the cluster can take it, then watches
// readiness until the broker closes.
func (b *Broker) bootstrap() {
	log := b.opts.Logger
	start := time.Now()
	var lastLog time.Time
	for {
		err := b.ensureStream()
		if err == nil {
			break
		}
		if b.ctx.Err() != nil {
			return
		}
		if b.node != nil {
			err = b.node.StartTrouble(err)
		}
		err = fmt.Errorf("starting: %w", err)
		b.setNotReady(err)
		if time.Since(lastLog) >= waitLogEvery {
			lastLog = time.Now()
			log.Info("waiting for message storage", "reason", err.Error(), "waited", time.Since(start).Round(time.Second))
		}
		select {
		case <-b.ctx.Done():
			return
		case <-time.After(bootstrapRetry):
		}
	}
	close(b.bootstrapped)
	log.Info("message storage ready", "stream", b.opts.Stream, "took", time.Since(start).Round(time.Millisecond))
	b.probeLoop()
}

// ensureStream creates the stream or brings an existing one to this node's settings,
// never lowering its replicas, and checks that it has a leader.
func (b *Broker) ensureStream() error {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	if !b.nc.IsConnected() {
		return errors.New("not connected to NATS yet")
	}
	if err := checkServerVersion(b.nc); err != nil {
		return err
	}
	want := b.opts.Replicas
	if want == 0 {
		want = b.clusterSize()
	}
	s, err := b.js.Stream(ctx, b.opts.Stream)
	switch {
	case errors.Is(err, natsjs.ErrStreamNotFound):
		cfg := b.streamConfig(want, b.maxBytes(-1))
		if _, err := b.js.CreateStream(ctx, cfg); err != nil {
			return fmt.Errorf("creating stream %s with %d replicas: %w", cfg.Name, cfg.Replicas, err)
		}
		b.opts.Logger.Info("created the message stream", "stream", cfg.Name, "replicas", cfg.Replicas, "max_bytes", cfg.MaxBytes)
	case err != nil:
		return fmt.Errorf("JetStream is not available yet (a cluster elects its leaders once a majority of its nodes is up): %w", err)
	default:
		have := s.CachedInfo().Config
		cfg := b.streamConfig(max(have.Replicas, want), b.maxBytes(have.MaxBytes))
		if needsUpdate(have, cfg) {
			if _, err := b.js.UpdateStream(ctx, cfg); err != nil {
				return fmt.Errorf("updating stream %s: %w", cfg.Name, err)
			}
			b.opts.Logger.Info("updated the message stream", "stream", cfg.Name, "replicas", cfg.Replicas, "max_bytes", cfg.MaxBytes)
		}
	}
	s, err = b.js.Stream(ctx, b.opts.Stream)
	if err != nil {
		return fmt.Errorf("no answer from the stream's leader: %w", err)
	}
	if err := b.ensureState(ctx, s.CachedInfo().Config.Replicas); err != nil {
		return err
	}
	if c := s.CachedInfo().Cluster; c != nil && c.Leader == "" {
		return fmt.Errorf("stream %s has no leader yet", b.opts.Stream)
	}
	rs, err := b.rjs.Stream(ctx, b.opts.Stream)
	if err != nil {
		return fmt.Errorf("no answer from the stream's leader on the reads' connection: %w", err)
	}
	b.stream, b.rstream = s, rs
	b.noteEpoch(s.CachedInfo().Created)
	return nil
}

// maxBytes is the size limit this node wants for a stream whose limit is have (-1: none).
func (b *Broker) maxBytes(have int64) int64 {
	want := b.opts.MaxBytes
	switch {
	case want <= 0:
		return have
	case b.opts.MaxBytesCeiling && have > 0:
		return min(have, want)
	default:
		return want
	}
}

// clusterSize is how many NATS servers the cluster has, as far as this connection knows:
// 1 when the server is not clustered, else capped at 3.
func (b *Broker) clusterSize() int {
	if b.nc.ConnectedClusterName() == "" {
		return 1
	}
	return min(3, max(len(b.nc.Servers()), 1+len(b.nc.DiscoveredServers())))
}

// needsUpdate reports whether the stream's configuration differs from this node's in what
// this node sets.
func needsUpdate(have, want natsjs.StreamConfig) bool {
	rp := func(r *natsjs.RePublish) string {
		if r == nil {
			return ""
		}
		return r.Source + ">" + r.Destination
	}
	// NATS stores "no limit" as -1 whatever was asked for.
	limit := func(n int64) int64 {
		if n <= 0 {
			return -1
		}
		return n
	}
	return have.Replicas != want.Replicas || limit(have.MaxMsgsPerSubject) != limit(want.MaxMsgsPerSubject) ||
		limit(have.MaxBytes) != limit(want.MaxBytes) || have.Discard != want.Discard ||
		have.MaxAge != want.MaxAge || have.Duplicates != want.Duplicates || !have.AllowDirect ||
		rp(have.RePublish) != rp(want.RePublish) ||
		strings.Join(have.Subjects, " ") != strings.Join(want.Subjects, " ")
}

// streamInfo asks the stream's leader for the stream's state.
func (b *Broker) streamInfo(ctx context.Context) (*natsjs.StreamInfo, error) {
	s, err := b.js.Stream(ctx, b.opts.Stream)
	if err != nil {
		return nil, fmt.Errorf("no answer from the stream's leader: %w", err)
	}
	return s.CachedInfo(), nil
}

// probeLoop checks once a second that the stream can store messages. When its leader
// changes, messages stored during the election may not have been republished, so the
// live rooms catch up from storage.
func (b *Broker) probeLoop() {
	b.probe(true)
	t := time.NewTicker(probeEvery / 4)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
			if tick%4 == 0 || b.notReady.Load() != nil {
				b.probe(false)
			}
		}
	}
}

// probe asks the stream's leader how the stream is doing. A leader that lost its majority
// still answers for a while but can no longer store: it steps down only once it has heard
// from no majority for the raft's lost-quorum interval, looked at as often (2.5 s on the
// embedded server, so 2.5-5 s; 10 s with upstream's timing on an external NATS, so
// 10-20 s). So the copies it has heard from recently are counted; and a node of the
// cluster that is catching up after a restart is not ready until its own copy is current.
// The embedded server's disk is looked at first (natsnode's DiskTrouble): a full one is
// not ready even before a write failed.
func (b *Broker) probe(first bool) {
	b.probeMu.Lock()
	defer b.probeMu.Unlock()
	if !b.nc.IsConnected() {
		b.setNotReady(errors.New("not connected to NATS"))
		return
	}
	if n := b.node; n != nil {
		if err := n.DiskTrouble(); err != nil {
			b.setNotReady(err) // the node's disk watcher restarts JetStream after a failed write
			return
		}
	}
	ctx, cancel := context.WithTimeout(b.ctx, probeTimeout)
	defer cancel()
	info, err := b.streamInfo(ctx)
	if err != nil {
		if b.ctx.Err() == nil {
			b.setNotReady(err)
		}
		return
	}
	b.noteEpoch(info.Created)
	leader := ""
	if c := info.Cluster; c != nil {
		leader = c.Leader
		if leader == "" {
			b.setNotReady(errors.New("the message stream has no leader (fewer than a majority of its copies reachable)"))
			return
		}
		reachable := 1 // the leader
		for _, r := range c.Replicas {
			if !r.Offline && r.Active < replicaSilence {
				reachable++
			}
		}
		if copies := len(c.Replicas) + 1; 2*reachable <= copies {
			b.setNotReady(fmt.Errorf("only %d of the message stream's %d copies are reachable: it cannot store messages without a majority", reachable, copies))
			return
		}
		if err := b.catchingUp(leader, c.Replicas, info.State.LastSeq); err != nil {
			b.setNotReady(err)
			return
		}
	}
	if prev := b.leader.Swap(&leader); prev != nil && *prev != leader {
		b.opts.Logger.Info("message stream has a new leader", "leader", leader, "was", *prev)
		b.live.catchUpAll()
	}
	if b.notReady.Load() != nil && !first {
		b.opts.Logger.Info("message storage available", "leader", leader)
	}
	b.notReady.Store(nil)
}

// catchingUp reports a node of an embedded cluster whose copy of the stream is not there
// yet or is behind the leader's (after a restart, or after it came back with an empty disk):
// such a copy cannot count towards a majority, and a node that is ready while its copy is
// empty invites the operator to take another node down. Both views are asked: the leader's
// (how far this copy's acknowledgements lag) and the copy's own state on this node's disk,
// because the leader may still count a copy as current from before its node lost its disk.
// While the node is not ready, it becomes ready only once its copy has everything; a ready
// node stays ready while its copy is a few operations behind under load, unless that lasts.
func (b *Broker) catchingUp(leader string, replicas []*natsjs.PeerInfo, leaderLast uint64) error {
	n := b.node
	if n == nil || leader == n.Name() {
		b.behindSince = time.Time{}
		return nil
	}
	var mine *natsjs.PeerInfo
	for _, r := range replicas {
		if r.Name == n.Name() {
			mine = r
		}
	}
	if mine == nil {
		b.behindSince = time.Time{}
		return nil // a node of a larger cluster that holds no copy of this stream
	}
	var behind error
	far := mine.Lag > catchUpLag
	switch localLast, ok := n.LocalLastSeq(b.opts.Stream); {
	case !ok:
		behind, far = errors.New("this node has no copy of the message stream yet"), true
	case localLast < leaderLast:
		gap := leaderLast - localLast
		behind = fmt.Errorf("this node's copy of the message stream is catching up (%d messages behind)", gap)
		far = far || gap > catchUpLag
	case !mine.Current:
		behind = fmt.Errorf("this node's copy of the message stream is catching up (%d operations behind)", mine.Lag)
	}
	if behind == nil {
		b.behindSince = time.Time{}
		return nil
	}
	if b.behindSince.IsZero() {
		b.behindSince = time.Now()
	}
	if far || b.notReady.Load() != nil || time.Since(b.behindSince) > replicaSilence {
		return behind
	}
	return nil
}

func (b *Broker) setNotReady(err error) {
	if n := b.node; n != nil {
		// Other nodes refusing this one's routes explains whatever else went wrong.
		if why := n.RouteTrouble(); why != "" {
			err = fmt.Errorf("%w; %s", err, why)
		}
	}
	if prev := b.notReady.Swap(&err); prev == nil && b.isBootstrapped() {
		b.opts.Logger.Warn("message storage unavailable", "reason", err.Error())
	}
}

func (b *Broker) isBootstrapped() bool {
	select {
	case <-b.bootstrapped:
		return true
	default:
		return false
	}
}

// Epoch implements broker.Log: the stream's creation time, which a restored backup or a
// re-created stream changes (the same on every node: it is the stream's).
func (b *Broker) Epoch() string {
	if e := b.epoch.Load(); e != nil {
		return *e
	}
	return ""
}

// noteEpoch records the stream's creation time as the epoch, and says so when it changed.
func (b *Broker) noteEpoch(created time.Time) {
	e := "s" + strconv.FormatInt(created.UnixNano(), 36)
	if prev := b.epoch.Swap(&e); prev != nil && *prev != e {
		b.opts.Logger.Warn("the message stream was made anew (a restored backup, or re-created): its seqs start over, and every connection starts afresh",
			"epoch", e, "was", *prev)
	}
}

// Ready implements broker.Health.
func (b *Broker) Ready() error {
	if b.closed.Load() {
		return broker.ErrClosed
	}
	if p := b.notReady.Load(); p != nil {
		return *p
	}
	return nil
}

// WaitReady blocks until the broker is ready or ctx ends (for tests and tools).
func (b *Broker) WaitReady(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		err := b.Ready()
		if err == nil || errors.Is(err, broker.ErrClosed) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// Conn is the broker's NATS connection, shared with presence.
func (b *Broker) Conn() *nats.Conn { return b.nc }

// Stats implements broker.Health.
func (b *Broker) Stats() broker.Stats {
	st := b.live.stats()
	st.ReadRequests = b.reads.Load()
	st.ReadsInFlight = len(b.readGate)
	st.Disconnects = b.disconnects.Load()
	st.SlowConsumers = b.slowConsumers.Load()
	return st
}

// Close implements broker.Broker: it stops deliveries, fails the publishes still waiting for an
// acknowledgement, closes the connection and stops the embedded server if this broker
// started it.
func (b *Broker) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.cancel()
	b.live.close()
	b.pubs.Range(func(k, v any) bool {
		if p, ok := b.pubs.LoadAndDelete(k); ok {
			p.(*publication).finish(broker.ErrClosed)
		}
		return true
	})
	b.nc.Close()
	b.rnc.Close()
	b.wg.Wait()
	if b.node != nil {
		b.node.Stop()
	}
	return nil
}
