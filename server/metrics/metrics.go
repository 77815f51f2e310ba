// Package metrics keeps one node's Prometheus metrics: a registry of its own per server
// (never the global default one), the collectors, and the handler that serves them.
//
// The connections (ws.Metrics) and the hub (hub.Metrics) report events to Metrics through
// small interfaces of their own, so that neither imports Prometheus; every event is an
// atomic add or a histogram observation on a collector chosen when Metrics was made, with
// no allocation and no map keyed by anything a client chooses. What the node holds (rooms,
// people, the stream's state) is read only when the metrics are scraped (node.go).
//
// Names follow Centrifugo's: distchat_node_* for the node and its storage,
// distchat_transport_* for WebSocket connections and what crosses them, distchat_client_*
// for answers to clients. Labels take only a bounded set of values (close codes, request
// types, error codes, results); never a room or a user. docs/operations.md lists every
// series.
package metrics

import (
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/distchat/distchat/server/hub"
	"github.com/distchat/distchat/server/protocol"
	"github.com/distchat/distchat/server/ws"
)

// namespace prefixes every series of distchat's own.
const namespace = "distchat"

// Build identifies the binary, for distchat_build_info.
type Build struct {
	Version string
	Commit  string
}

// Metrics is one node's metrics. Make it with New, hand it to server.Config, serve Handler.
// Its methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	// Connections (ws.Metrics).
	clients     prometheus.Gauge
	connects    prometheus.Counter
	disconnects [len(closeCodes) + 1]prometheus.Counter // by closeIndex
	queueDepth  prometheus.Histogram
	sent        prometheus.Counter

	// Requests and answers (hub.Metrics).
	requests      byLabel // by request type
	replyErrors   byLabel // by error code
	repliesDrop   byLabel // by error code
	stored        prometheus.Counter
	duplicates    prometheus.Counter
	unavailable   prometheus.Counter
	publishTime   prometheus.Histogram
	broadcastTime prometheus.Histogram
	readTime      [len(readKinds)][2]prometheus.Observer // as readKinds, then ok/error
}

var (
	_ ws.Metrics  = (*Metrics)(nil)
	_ hub.Metrics = (*Metrics)(nil)
)

// closeCodes are the close codes counted by their own label value; any other is "other".
// Those the server sends (1000 after the peer's close, 1001 going away, 1008 policy, 1009
// too big, 1011 internal, 1013 try again, 4008 too slow) and those browsers send or imply
// (1000, 1001, 1005 no status, 1006 dropped).
var closeCodes = [...]int{1000, 1001, 1005, 1006, 1008, 1009, 1011, 1013, protocol.CloseTooSlow}

// requestTypes are the client requests counted by their own label value.
var requestTypes = [...]string{
	protocol.TypeMessage, protocol.TypeJoin, protocol.TypeLeave, protocol.TypeHistory,
	protocol.TypePresence, protocol.TypeTyping, protocol.TypeEdit, protocol.TypeDelete,
	protocol.TypeReact, protocol.TypeTopic, protocol.TypeRename, protocol.TypeDM, protocol.TypeRead,
}

// errorCodes are the error codes counted by their own label value.
var errorCodes = [...]string{
	protocol.CodeBadJSON, protocol.CodeUnknownType, protocol.CodeBadRequest, protocol.CodeInvalidName,
	protocol.CodeInvalidRoom, protocol.CodeNotMember, protocol.CodeEmptyBody, protocol.CodeTooLong,
	protocol.CodeRateLimited, protocol.CodeUnsupported, protocol.CodeUnavailable,
	protocol.CodeUnauthorized, protocol.CodeForbidden, protocol.CodeNotFound, protocol.CodeLimitExceeded,
}

// readKinds are the kinds of storage reads.
var readKinds = [...]hub.ReadKind{hub.ReadLoad, hub.ReadRecovery, hub.ReadHistory}

// Histogram buckets, in seconds or sends.
var (
	// publishBuckets: a stored message takes a fraction of a millisecond alone, a few
	// milliseconds in a cluster; a publish fails after a second.
	publishBuckets = []float64{.0002, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	// broadcastBuckets: handing a batch to a room's members costs about a microsecond per
	// member.
	broadcastBuckets = []float64{1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, .001, .0025, .005, .01, .025, .05, .1}
	// readBuckets: a page costs a few requests to storage; reads time out after 5 s.
	readBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	// queueBuckets: the send queue holds 256 sends by default (--send-queue).
	queueBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}
)

// New returns the metrics of one node, with its build information and the Go runtime's and
// the process's collectors registered.
func New(b Build) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Always 1: the version and commit of the binary and the Go version it was built with.",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "go_version": runtime.Version()},
	})
	build.Set(1)

	m.clients = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "node", Name: "num_clients",
		Help: "WebSocket connections open on this node.",
	})
	m.connects = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "transport", Name: "connect_count",
		Help: "WebSocket connections opened.",
	})
	disconnects := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "transport", Name: "disconnect_count",
		Help: "WebSocket connections ended, by the close code that ended them (the server's when it closed first, the client's, or 1006 when the connection dropped; 4008: too slow).",
	}, []string{"code"})
	for i, code := range closeCodes {
		m.disconnects[i] = disconnects.WithLabelValues(strconv.Itoa(code))
	}
	m.disconnects[len(closeCodes)] = disconnects.WithLabelValues("other")
	m.queueDepth = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "transport", Name: "send_queue_depth",
		Help:    "Length of a connection's send queue, sampled at every send (a queue longer than --send-queue closes the connection with 4008).",
		Buckets: queueBuckets,
	})
	m.sent = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "transport", Name: "messages_sent",
		Help: "Objects handed to connections' send queues; a room's batch of n messages counts n for each member.",
	})

	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "transport", Name: "messages_received",
		Help: "Requests received from clients, by type, before the rate limit.",
	}, []string{"type"})
	m.requests = newByLabel(requests, requestTypes[:])
	replyErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "client", Name: "num_reply_errors",
		Help: "Error objects sent to clients, by code (rate_limited: requests refused by the rate limit).",
	}, []string{"code"})
	m.replyErrors = newByLabel(replyErrors, errorCodes[:])
	repliesDropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "client", Name: "num_replies_dropped",
		Help: "Refusals not answered, by code: a client that sends more requests than the server answers (bad ones beyond the rate limit, refusals beyond twice its pace) gets no error for the rest.",
	}, []string{"code"})
	m.repliesDrop = newByLabel(repliesDropped, errorCodes[:])
	published := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "node", Name: "messages_sent_count",
		Help: "Chat messages this node handed to storage, by outcome: stored (acknowledged), duplicate (a retry, stored before), unavailable (failed; the sender is told to send it again).",
	}, []string{"result"})
	m.stored = published.WithLabelValues("stored")
	m.duplicates = published.WithLabelValues("duplicate")
	m.unavailable = published.WithLabelValues("unavailable")
	m.publishTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "node", Name: "publish_duration_seconds",
		Help:    "Time from handing a message to storage to its outcome (acknowledgement or failure).",
		Buckets: publishBuckets,
	})
	m.broadcastTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "node", Name: "broadcast_duration_seconds",
		Help:    "Time a room takes to hand a batch of messages to its members on this node (one fan-out).",
		Buckets: broadcastBuckets,
	})
	reads := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "node", Name: "storage_read_duration_seconds",
		Help:    "Reads of stored messages by the rooms, by kind (load: a room's start on this node; recovery: a reconnecting client's missed messages beyond the room's cache; history: a page a client asked for) and result (ok, error).",
		Buckets: readBuckets,
	}, []string{"kind", "result"})
	for i, k := range readKinds {
		m.readTime[i] = [2]prometheus.Observer{
			reads.WithLabelValues(string(k), "ok"), reads.WithLabelValues(string(k), "error"),
		}
	}

	m.reg.MustRegister(build, m.clients, m.connects, disconnects, m.queueDepth, m.sent,
		requests, replyErrors, repliesDropped, published, m.publishTime, m.broadcastTime, reads,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the metrics in Prometheus' text format at GET /metrics, and nothing else.
// It belongs on a listener of its own (--metrics-addr), not on the public one.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return mux
}

// Connected implements ws.Metrics.
func (m *Metrics) Connected() {
	m.connects.Inc()
	m.clients.Inc()
}

// Queued implements ws.Metrics.
func (m *Metrics) Queued(depth int) {
	m.sent.Inc()
	m.queueDepth.Observe(float64(depth))
}

// Disconnected implements ws.Metrics.
func (m *Metrics) Disconnected(code int) {
	m.clients.Dec()
	m.disconnects[closeIndex(code)].Inc()
}

// Request implements hub.Metrics.
func (m *Metrics) Request(typ string) { m.requests.inc(typ) }

// ReplyError implements hub.Metrics.
func (m *Metrics) ReplyError(code string) { m.replyErrors.inc(code) }

// ReplyDropped implements hub.Metrics.
func (m *Metrics) ReplyDropped(code string) { m.repliesDrop.inc(code) }

// byLabel is a counter with one label whose values are fixed: each known value has its
// counter, anything else counts as "other", so that the label set stays bounded.
type byLabel struct {
	known map[string]prometheus.Counter
	other prometheus.Counter
}

func newByLabel(vec *prometheus.CounterVec, values []string) byLabel {
	b := byLabel{known: make(map[string]prometheus.Counter, len(values)), other: vec.WithLabelValues("other")}
	for _, v := range values {
		b.known[v] = vec.WithLabelValues(v)
	}
	return b
}

func (b byLabel) inc(value string) {
	if c, ok := b.known[value]; ok {
		c.Inc()
		return
	}
	b.other.Inc()
}

// Published implements hub.Metrics.
func (m *Metrics) Published(d time.Duration, dup bool, err error) {
	switch {
	case err != nil:
		m.unavailable.Inc()
	case dup:
		m.duplicates.Inc()
	default:
		m.stored.Inc()
	}
	m.publishTime.Observe(d.Seconds())
}

// Read implements hub.Metrics.
func (m *Metrics) Read(kind hub.ReadKind, d time.Duration, err error) {
	for i, k := range readKinds {
		if k != kind {
			continue
		}
		result := 0
		if err != nil {
			result = 1
		}
		m.readTime[i][result].Observe(d.Seconds())
		return
	}
}

// Flushed implements hub.Metrics. Each accepted send was counted as one object by Queued;
// the batch's other objects are added here.
func (m *Metrics) Flushed(objects, sends int, d time.Duration) {
	if extra := (objects - 1) * sends; extra > 0 {
		m.sent.Add(float64(extra))
	}
	m.broadcastTime.Observe(d.Seconds())
}

// closeIndex is the index in closeCodes of code, or len(closeCodes) for any other.
func closeIndex(code int) int {
	for i, c := range closeCodes {
		if c == code {
			return i
		}
	}
	return len(closeCodes)
}
