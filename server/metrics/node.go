package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/hub"
)

// storageTimeout bounds the request for the stream's state made by one scrape.
const storageTimeout = time.Second

// storageStater is a broker that can report its stream's state (jetstream.Broker).
type storageStater interface {
	StorageState(ctx context.Context) (broker.StorageState, error)
}

// Watch makes the metrics read the node's rooms and its broker whenever they are scraped:
// what the hub holds (rooms), the broker's counters (b.Stats) and readiness, and, for a
// broker that has a stream, its state as the stream's leader reports it (one request per
// scrape). Nothing here runs on a message's path. Watch is called once per Metrics; ctx
// is the server's lifetime, which ends the storage requests of a scrape.
func (m *Metrics) Watch(ctx context.Context, rooms func() hub.Stats, b broker.Health) error {
	c := newNodeCollector(rooms, b)
	c.ctx = ctx
	return m.reg.Register(c)
}

type nodeCollector struct {
	ctx      context.Context
	hubStats func() hub.Stats
	broker   broker.Health

	rooms, people                        *prometheus.Desc
	liveMessages, gapFills, readRequests *prometheus.Desc
	readsInFlight, disconnects, slow     *prometheus.Desc
	ready, messages, bytes               *prometheus.Desc
	peers, peersCurrent, leader, peerLag *prometheus.Desc
}

func newNodeCollector(rooms func() hub.Stats, b broker.Health) *nodeCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "node", name), help, labels, nil)
	}
	return &nodeCollector{
		hubStats: rooms,
		broker:   b,
		rooms:    desc("num_rooms", "Rooms served by this node (rooms with members connected to it)."),
		people: desc("num_people",
			"People present in the rooms this node serves, each once per room, whether connected to this node or to another."),
		liveMessages: desc("messages_received_count",
			"Messages this node received from storage for live delivery to its rooms (gap fills not included)."),
		gapFills: desc("live_gap_fills",
			"Times a room's live delivery was completed from storage (lost live messages, a reconnect, a new stream leader)."),
		readRequests: desc("storage_read_requests", "Requests this node made to storage to read messages."),
		readsInFlight: desc("storage_reads_in_flight",
			"Reads of stored messages waiting for their answers now (at most 16: the others wait for a slot)."),
		disconnects: desc("storage_disconnects", "Times a connection of this node to storage (NATS) dropped."),
		slow: desc("storage_slow_consumers",
			"Times storage sent faster than a connection of this node read it (NATS dropped messages; live rooms catch up, a read fails)."),
		ready: desc("storage_ready",
			"1 when this node can store and deliver messages (as /api/ready), 0 otherwise."),
		messages: desc("storage_messages", "Messages in the stream, every room together."),
		bytes:    desc("storage_bytes", "Bytes the stream's messages take in storage."),
		peers:    desc("storage_peers", "Copies the cluster keeps of the stream (1 alone)."),
		peersCurrent: desc("storage_peers_current",
			"Copies of the stream that have everything its leader has (the leader's included)."),
		leader: desc("storage_leader",
			"Always 1, for the NATS server that leads the stream (missing while it has no leader).", "leader"),
		peerLag: desc("storage_peer_lag",
			"Operations a copy of the stream is behind its leader, for each copy other than the leader's.", "peer"),
	}
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.rooms, c.people, c.liveMessages, c.gapFills, c.readRequests, c.readsInFlight, c.disconnects, c.slow,
		c.ready, c.messages, c.bytes, c.peers, c.peersCurrent, c.leader, c.peerLag,
	} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	hs := c.hubStats()
	gauge(c.rooms, float64(hs.Rooms))
	gauge(c.people, float64(hs.People))
	bs := c.broker.Stats()
	counter(c.liveMessages, bs.LiveMessages)
	counter(c.gapFills, bs.GapFills)
	counter(c.readRequests, bs.ReadRequests)
	gauge(c.readsInFlight, float64(bs.ReadsInFlight))
	counter(c.disconnects, bs.Disconnects)
	counter(c.slow, bs.SlowConsumers)
	ready := 0.0
	if c.broker.Ready() == nil {
		ready = 1
	}
	gauge(c.ready, ready)

	s, ok := c.broker.(storageStater)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, storageTimeout)
	st, err := s.StorageState(ctx)
	cancel()
	if err != nil {
		// The stream's series go missing: storage_ready says why in most cases, and the
		// node's log and /api/ready say the rest.
		return
	}
	gauge(c.messages, float64(st.Messages))
	gauge(c.bytes, float64(st.Bytes))
	current := 0
	if st.Leader != "" {
		current = 1
		gauge(c.leader, 1, st.Leader)
	}
	for _, r := range st.Replicas {
		if r.Current {
			current++
		}
		gauge(c.peerLag, float64(r.Lag), r.Name)
	}
	gauge(c.peers, float64(1+len(st.Replicas)))
	gauge(c.peersCurrent, float64(current))
}
