// Package natsnode runs the NATS server embedded in distchat: alone on the data directory,
// or clustered with the other nodes' servers through routes (their credentials from the
// cluster secret, mutual TLS), with nats-server's log in distchat's, the store sized from
// the disk, JetStream restarted after a full disk, shorter raft timing, and the data
// directory's lock. It knows nothing of rooms or messages: the message store runs on it
// (server/broker/jetstream) and asks it what it needs (Storage, DiskTrouble, LocalLastSeq).
package natsnode

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/distchat/distchat/server/clustersecret"
)

// Options configure the NATS server that runs inside distchat.
type Options struct {
	// DataDir holds JetStream's files (NATS puts them in DataDir/jetstream).
	DataDir string
	// ServerName names this node; empty picks one. In a cluster it must be unique and must
	// never change: JetStream knows its peers by name.
	ServerName string
	// SyncAlways makes JetStream fsync every write: acknowledged messages then survive a
	// power loss, not only a crash of the process, at a cost in throughput.
	SyncAlways bool
	// Cluster, when its Listen is set, joins this server to the other nodes' servers with
	// routes and runs JetStream clustered.
	Cluster ClusterOptions
	// MaxStoreBytes bounds the message stream on this node's disk: past it the oldest
	// messages are discarded. 0 sizes it from the disk (see budgetFor); a cluster's stream
	// then takes the smallest of its nodes' sizes. More than the disk can hold is lowered
	// to what it can, with a warning.
	MaxStoreBytes int64
	// Logger receives the server's warnings and errors.
	Logger *slog.Logger
}

// ClusterOptions configure the routes between the embedded servers of a cluster.
type ClusterOptions struct {
	// Name is the cluster's name, the same on every node.
	Name string
	// Listen is this node's route address (HOST:PORT).
	Listen string
	// Advertise is the route address the other nodes use to reach this one, when it is not
	// Listen (behind NAT, in containers).
	Advertise string
	// Peers are the route addresses of all nodes; this node's own may be among them.
	Peers []string
	// Secret is the cluster's shared secret (required): routes present and require the
	// credentials derived from it, so a server without it cannot join.
	Secret clustersecret.Secret
	// TLS, when set (see RouteTLS), makes routes mutual TLS: encrypted, and only with a
	// certificate of the cluster's CA. Without it routes are authenticated, not encrypted.
	TLS *tls.Config
}

// Enabled reports whether clustering is on.
func (c ClusterOptions) Enabled() bool { return c.Listen != "" }

// Size is the number of nodes the cluster is configured with: the distinct peers, this
// node included.
func (c ClusterOptions) Size() int {
	if !c.Enabled() {
		return 1
	}
	own := c.Listen
	if c.Advertise != "" {
		own = c.Advertise
	}
	seen := map[string]bool{own: true}
	for _, p := range c.Peers {
		seen[p] = true
	}
	return len(seen)
}

// Node is a NATS server running inside this process.
type Node struct {
	*server.Server
	token   string // what an in-process client presents, when the server asks for one
	dataDir string
	budget  storeBudget
	// diskFull: the disk was found full by DiskTrouble, and stays so until budget.resume
	// is free; guarded by diskMu.
	diskMu   sync.Mutex
	diskFull bool
	// writeFailure is the first write error nats-server reported since JetStream last
	// started. Since 2.11 a failed write (a full disk) is latched by the stream, which then
	// refuses every write until JetStream restarts; the server's log is where it says so.
	writeFailure atomic.Pointer[string]
	// refused is the latest refusal of this node's route by another node (the log says so
	// too), for the readiness reason of a node whose secret differs.
	refused atomic.Pointer[routeRefused]
}

// routeRefused is a node that refused this node's route, and when.
type routeRefused struct {
	remote string
	at     time.Time
}

// refusedRecently bounds how long a refused route explains why a node is not ready: nats
// retries an explicit route every second.
const refusedRecently = 10 * time.Second

// RouteTrouble says why this node cannot be in its cluster, when other nodes refused its
// routes recently, or returns "".
func (n *Node) RouteTrouble() string {
	r := n.refused.Load()
	if r == nil || time.Since(r.at) > refusedRecently {
		return ""
	}
	return fmt.Sprintf("the node at %s refused this node's route: is --cluster-secret the same on every node?", r.remote)
}

// failure reports why the embedded JetStream cannot take writes, or nil.
func (n *Node) failure() error {
	if !n.JetStreamEnabled() {
		return errors.New("JetStream stopped (nats-server stops it when its disk fills up)")
	}
	if msg := n.writeFailure.Load(); msg != nil {
		return fmt.Errorf("a write to the store failed: %s", *msg)
	}
	return nil
}

// LocalLastSeq is the last sequence of this server's own copy of a stream, as it stands on
// this node's disk (not as the stream's leader sees it); ok is false when the node holds
// no copy of it (yet).
func (n *Node) LocalLastSeq(stream string) (last uint64, ok bool) {
	acc, err := n.JszAccount(&server.JSzOptions{Account: n.GlobalAccount().Name, Streams: true})
	if err != nil {
		return 0, false
	}
	for _, st := range acc.Streams {
		if st.Name == stream {
			return st.State.LastSeq, true
		}
	}
	return 0, false
}

// StoreLimit is the message stream's size limit planned from this node's disk at start
// (0: none, the disk could not be measured), and whether it was derived from the disk
// (auto) rather than set by the operator (--max-store-bytes). See budgetFor.
func (n *Node) StoreLimit() (bytes int64, auto bool) { return n.budget.stream, n.budget.auto }

// Stop shuts the server down and waits until it has.
func (n *Node) Stop() {
	n.Shutdown()
	n.WaitForShutdown()
}

// Connect opens an in-process connection to the server.
func (n *Node) Connect(opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.InProcessServer(n.Server), nats.Name("distchat"), nats.MaxReconnects(-1)}, opts...)
	if n.token != "" {
		opts = append(opts, nats.Token(n.token))
	}
	return nats.Connect("", opts...)
}

// Start starts a NATS server with JetStream file storage inside this process.
// distchat talks to it in-process: alone, it listens on no port. Clustered, it listens for
// routes on Cluster.Listen, authenticated with the cluster secret (and TLS when
// Cluster.TLS is set), and connects to the peers; and for clients on loopback, for this
// process only (see below). It gives up when ctx ends.
func Start(ctx context.Context, o Options) (*Node, error) {
	if o.DataDir == "" {
		return nil, errors.New("embedded NATS needs a data directory")
	}
	if err := checkWritable(o.DataDir); err != nil {
		return nil, err
	}
	budget := planStore(o.DataDir, o.MaxStoreBytes)
	if log := o.Logger; log != nil {
		if budget.requested > 0 {
			log.Warn(fmt.Sprintf("--max-store-bytes %s is more than this disk can hold: the store may use %s (planned again at every start)",
				friendlyBytes(budget.requested), friendlyBytes(budget.stream)),
				"max_store_bytes", budget.requested, "store_limit_bytes", budget.stream,
				"disk_free_bytes", budget.free, "store_bytes", budget.used)
		}
		if budget.fullAtStart {
			log.Warn("the disk is full: the node is not ready until space is freed; the store's limit is planned from the disk's size this time",
				"data", o.DataDir, "disk_free_bytes", budget.free, "disk_bytes", budget.room, "store_limit_bytes", budget.stream)
		}
	}
	opts := &server.Options{
		ServerName:        o.ServerName,
		JetStream:         true,
		StoreDir:          o.DataDir,
		JetStreamMaxStore: budget.server,
		DontListen:        true,
		NoSigs:            true,
		SyncAlways:        o.SyncAlways,
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var secrets []string
	if c := o.Cluster; c.Enabled() {
		if o.ServerName == "" {
			return nil, errors.New("a clustered node needs a name")
		}
		if c.Secret.IsZero() {
			return nil, errNoClusterSecret
		}
		// nats-server starts its routes only once its client listener is up, so a
		// clustered server listens for clients, on a random loopback port. Whoever is a
		// client of this server reads and writes everything in it: the stream, the state
		// bucket with the session key, every message as it passes, all of it in the one
		// account of a server without accounts ($G, which the store's path on disk is
		// named after, so it stays). So only this process may be a client: the listener
		// requires a random token that only this process knows (its own connection is
		// in-process). With Authorization set, nats-server requires the token from every
		// client; the token is the only way in as long as no other user exists: no Users,
		// Nkeys or Accounts, no NoAuthUser (which would let clients in without anything),
		// and none is set here. (The system account nats-server makes has no user.)
		opts.DontListen = false
		opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
		opts.Authorization = nuid.Next() + nuid.Next()
		host, port, err := splitHostPort(c.Listen)
		if err != nil {
			return nil, fmt.Errorf("cluster listen address %q: %w", c.Listen, err)
		}
		user, password := c.Secret.RouteCredentials()
		secrets = []string{user, password, opts.Authorization}
		// NoAdvertise: the nodes' client URLs (this loopback port) are nobody's business;
		// only this process connects, in-process.
		opts.Cluster = server.ClusterOpts{Name: c.Name, Host: host, Port: port, Advertise: c.Advertise,
			Username: user, Password: password, NoAdvertise: true,
			PingInterval: routePingInterval, MaxPingsOut: routeMaxPingsOut, WriteDeadline: routeWriteDeadline}
		if c.TLS != nil {
			opts.Cluster.TLSConfig = c.TLS
			opts.Cluster.TLSTimeout = routeTLSTimeout.Seconds()
		} else if !loopbackOnly(c) {
			log.Warn("routes between nodes are not encrypted: set --cluster-tls-cert/--cluster-tls-key/--cluster-tls-ca")
		}
		// JetStream's cluster name is the route cluster's; every node gets the same full
		// list of routes (its own is recognised and ignored), which also tells a new cluster
		// how many peers to expect before it elects a leader.
		for _, p := range c.Peers {
			if _, _, err := splitHostPort(p); err != nil {
				return nil, fmt.Errorf("cluster peer %q: %w", p, err)
			}
			opts.Routes = append(opts.Routes, routeURL(p, user, password))
		}
		if len(opts.Routes) == 0 {
			opts.Routes = []*url.URL{routeURL(c.Listen, user, password)}
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configuring embedded NATS: %w", err)
	}
	n := &Node{Server: ns, token: opts.Authorization, dataDir: o.DataDir, budget: budget}
	ns.SetLoggerV2(natsLogger{
		log:         log,
		writeFailed: func(msg string) { n.writeFailure.CompareAndSwap(nil, &msg) },
		refusedBy:   func(remote string) { n.refused.Store(&routeRefused{remote: remote, at: time.Now()}) },
		secrets:     secrets,
	}, false, false, false)
	go ns.Start()
	// Opening a large store takes a while; a signal meanwhile stops the start.
	deadline := time.Now().Add(startTimeout)
	for !ns.ReadyForConnections(100 * time.Millisecond) {
		if err := ctx.Err(); err != nil || time.Now().After(deadline) {
			ns.Shutdown()
			ns.WaitForShutdown()
			if err != nil {
				return nil, fmt.Errorf("embedded NATS start interrupted: %w", err)
			}
			return nil, fmt.Errorf("embedded NATS did not start within %s (data directory %s)", startTimeout, o.DataDir)
		}
	}
	return n, nil
}

// Routes give up on a peer that stopped answering within a few seconds (nats-server's
// defaults are 2 minutes of pings and a 10 s write deadline). A route whose peer was cut
// off keeps its TCP connection: without this the nodes would go on writing into it, and
// after the cut heals the kernel's retransmission backoff (up to many seconds by then)
// holds every message on it, raft elections between the two nodes still connected
// included. Closed at once instead, the route is dialled again on a fresh connection as
// soon as the peer can be reached.
const (
	routePingInterval  = time.Second
	routeMaxPingsOut   = 2
	routeWriteDeadline = 2 * time.Second
)

// startTimeout bounds opening the store (recovering a very large store takes long).
const startTimeout = 2 * time.Minute

// checkWritable fails at once, with the real cause, when dir cannot hold the store.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("data directory %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(filepath.Clean(name))
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not 1-65535", p)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}
