// Command distchat is a real-time chat server with its web UI inside: run it and open
// http://localhost:8080.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/distchat/distchat/server"
	"github.com/distchat/distchat/server/broker"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command-line settings; every flag can also be set with a DISTCHAT_*
// environment variable (the flag wins).
type options struct {
	addr            string
	data            string
	store           string
	natsURL         string
	nodeName        string
	clusterListen   string
	clusterPeers    string
	clusterName     string
	replicas        int
	roomMaxMessages int64
	roomMaxAge      time.Duration
	syncAlways      bool
	allowedOrigins  string
	maxMessageBytes int64
	maxBodyBytes    int
	rateLimit       float64
	rateBurst       int
	sendQueue       int
	flushInterval   time.Duration
	shutdownTimeout time.Duration
	logLevel        string
	logFormat       string
	debugAddr       string
	showVersion     bool
}

func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("distchat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var envErrs []error
	env := func(name string) string {
		return getenv("DISTCHAT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
	}
	str := func(p *string, name, def, usage string) {
		if v := env(name); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage)
	}
	boolean := func(p *bool, name, usage string) {
		v, def := env(name), false
		if v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				envErrs = append(envErrs, fmt.Errorf("DISTCHAT_%s=%q: %w", strings.ToUpper(strings.ReplaceAll(name, "-", "_")), v, err))
			}
			def = b
		}
		fs.BoolVar(p, name, def, usage)
	}
	num := func(p flag.Value, name, def, usage string) {
		if v := env(name); v != "" {
			def = v
		}
		if err := p.Set(def); err != nil {
			envErrs = append(envErrs, fmt.Errorf("DISTCHAT_%s=%q: %w", strings.ToUpper(strings.ReplaceAll(name, "-", "_")), def, err))
		}
		fs.Var(p, name, usage)
	}
	str(&o.addr, "addr", ":8080", "address to listen on (host:port; port 0 picks a free one)")
	str(&o.data, "data", "./data", "data directory: the embedded NATS JetStream store lives in <data>/jetstream")
	str(&o.store, "store", "jetstream", "jetstream (durable, default) or memory (nothing kept across restarts)")
	str(&o.natsURL, "nats-url", "", "use an external NATS server or cluster with JetStream instead of the embedded one")
	str(&o.nodeName, "node-name", defaultNodeName(), "this node's name: unique and stable in a cluster")
	str(&o.clusterListen, "cluster-listen", "", "HOST:PORT for routes to the other nodes; setting it turns clustering on")
	str(&o.clusterPeers, "cluster-peers", "", "comma-separated route addresses (HOST:PORT) of all nodes; this node's own may be included")
	str(&o.clusterName, "cluster-name", "distchat", "the cluster's name; every node of a cluster uses the same")
	num((*intValue)(&o.replicas), "replicas", "0", "copies of each message kept by the cluster (0: 3 when clustered, capped by the number of nodes; 1 alone)")
	num((*int64Value)(&o.roomMaxMessages), "room-max-messages", "100000", "messages kept per room (0: no limit)")
	num((*durationValue)(&o.roomMaxAge), "room-max-age", "0s", "drop messages older than this, e.g. 720h (0: keep forever)")
	boolean(&o.syncAlways, "sync-always", "fsync every message before acknowledging it (survives power loss; slower)")
	str(&o.allowedOrigins, "allowed-origins", "", "comma-separated origins allowed to open WebSockets besides the page's own (\"*\": any)")
	num((*int64Value)(&o.maxMessageBytes), "max-message-bytes", "65536", "largest WebSocket frame a client may send; larger closes with 1009")
	num((*intValue)(&o.maxBodyBytes), "max-body-bytes", "16384", "largest message body")
	num((*float64Value)(&o.rateLimit), "rate-limit", "10", "requests per second per connection (0 disables)")
	num((*intValue)(&o.rateBurst), "rate-burst", "30", "requests a connection may send at once before the rate limit applies")
	num((*intValue)(&o.sendQueue), "send-queue", "256", "sends (objects or batches of messages) queued per connection before it counts as too slow")
	num((*durationValue)(&o.flushInterval), "flush-interval", "4ms", "a busy room of 100 members sends at most one frame per member per interval, other rooms in proportion to their size, up to 10x (longer: fewer, larger writes)")
	num((*durationValue)(&o.shutdownTimeout), "shutdown-timeout", "5s", "how long a graceful shutdown may take")
	str(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	str(&o.logFormat, "log-format", "text", "text or json")
	str(&o.debugAddr, "debug-addr", "", "serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060); off by default")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	if err := errors.Join(envErrs...); err != nil {
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.store != "jetstream" && o.store != "memory" {
		return nil, fmt.Errorf("--store must be jetstream or memory, not %q", o.store)
	}
	if o.roomMaxMessages < 0 || o.roomMaxAge < 0 {
		return nil, errors.New("retention limits must not be negative")
	}
	if o.replicas < 0 || o.replicas > 5 {
		return nil, errors.New("--replicas must be 0 (automatic) to 5")
	}
	if o.nodeName == "" {
		return nil, errors.New("--node-name must not be empty")
	}
	if o.clusterListen != "" && o.natsURL != "" {
		return nil, errors.New("--cluster-listen clusters the embedded NATS; with --nats-url the NATS cluster is external: use one or the other")
	}
	if o.clusterPeers != "" && o.clusterListen == "" {
		return nil, errors.New("--cluster-peers needs --cluster-listen (this node's route address)")
	}
	if o.clusterListen != "" && o.store == "memory" {
		return nil, errors.New("--store memory cannot be clustered")
	}
	if o.rateLimit < 0 || o.rateBurst < 1 || o.maxMessageBytes < 1 || o.maxBodyBytes < 1 || o.sendQueue < 1 {
		return nil, errors.New("limits must be positive (rate-limit may be 0 to disable it)")
	}
	return o, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "distchat:", err)
		return 2
	}
	if o.showVersion {
		fmt.Fprintln(stdout, "distchat", version)
		return 0
	}
	log, err := newLogger(stderr, o.logLevel, o.logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "distchat:", err)
		return 2
	}

	b, bus, err := openStorage(o, log)
	if err != nil {
		log.Error("opening message storage", "err", err)
		return 1
	}
	srv, err := server.New(server.Config{
		Broker:          b,
		Presence:        bus,
		Node:            o.nodeName,
		AllowedOrigins:  splitList(o.allowedOrigins),
		MaxMessageBytes: o.maxMessageBytes,
		MaxBodyBytes:    o.maxBodyBytes,
		RateLimit:       o.rateLimit,
		RateBurst:       o.rateBurst,
		SendQueue:       o.sendQueue,
		FlushInterval:   o.flushInterval,
		UI:              uiFS(),
		Version:         version,
		Logger:          log,
	})
	if err != nil {
		b.Close()
		log.Error("starting server", "err", err)
		return 1
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		log.Error("listening", "addr", o.addr, "err", err)
		_ = srv.Shutdown(context.Background())
		return 1
	}
	if o.debugAddr != "" {
		stop, err := serveDebug(o.debugAddr, log)
		if err != nil {
			log.Error("debug listener", "addr", o.debugAddr, "err", err)
			_ = srv.Shutdown(context.Background())
			return 1
		}
		defer stop()
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	// Health and readiness are served from now on. The address is announced once storage
	// is ready, or after announceWait: a clustered node waits for its peers and becomes
	// ready when they arrive.
	if err := waitReady(ctx, b, announceWait); err != nil && ctx.Err() == nil {
		log.Info("not ready yet; /api/ready answers 503 until it is", "reason", err.Error())
	}
	if ctx.Err() == nil {
		fmt.Fprintf(stdout, "distchat listening on %s\n", browseURL(ln.Addr()))
		log.Info("started", "version", version, "addr", ln.Addr().String(), "node", o.nodeName)
	}

	select {
	case err := <-serveErr:
		log.Error("serving", "err", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown was not clean", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// announceWait bounds how long the start waits for storage before announcing the address.
const announceWait = 3 * time.Second

// waitReady waits until b is ready, at most d or until ctx ends, and returns why it is not.
func waitReady(ctx context.Context, b broker.Broker, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		err := b.Ready()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// serveDebug serves the pprof handlers on their own listener, never on the public one.
func serveDebug(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	log.Info("pprof listening", "addr", ln.Addr().String())
	return func() { _ = hs.Close() }, nil
}

// browseURL is the address a person opens: wildcard hosts become localhost.
func browseURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Flag values for numbers whose defaults may come from the environment.
type (
	intValue      int
	int64Value    int64
	float64Value  float64
	durationValue time.Duration
)

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	*v = intValue(n)
	return err
}
func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *int64Value) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	*v = int64Value(n)
	return err
}
func (v *int64Value) String() string { return strconv.FormatInt(int64(*v), 10) }
func (v *float64Value) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	*v = float64Value(f)
	return err
}
func (v *float64Value) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	*v = durationValue(d)
	return err
}
func (v *durationValue) String() string { return time.Duration(*v).String() }
