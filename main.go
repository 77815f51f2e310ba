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
	"strings"
	"syscall"
	"time"

	"github.com/distchat/distchat/server"
	"github.com/distchat/distchat/server/auth"
	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/clustersecret"
	"github.com/distchat/distchat/server/metrics"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command's settings. config.go has the one table of their flags,
// DISTCHAT_* environment variables, config file keys and defaults.
type options struct {
	addr          string
	data          string
	store         string
	natsURL       string
	nodeName      string
	clusterListen string
	clusterPeers  string
	clusterName   string
	// clusterSecret and clusterSecretFile give the cluster secret; parseOptions reads it
	// into clusterKey.
	clusterSecret     string
	clusterSecretFile string
	clusterKey        clustersecret.Secret
	clusterTLSCert    string
	clusterTLSKey     string
	clusterTLSCA      string
	replicas          int
	roomMaxMessages   int64
	roomMaxAge        time.Duration
	maxStoreBytes     int64
	syncAlways        bool
	allowedOrigins    string
	publicURL         string
	allowedHosts      string
	maxMessageBytes   int64
	maxBodyBytes      int
	rateLimit         float64
	rateBurst         int
	sendQueue         int
	flushInterval     time.Duration
	writeGap          time.Duration
	shutdownTimeout   time.Duration
	tlsCert           string
	tlsKey            string
	historyRate       float64
	maxRoomsPerConn   int
	maxRooms          int
	maxRoomsPerIP     int
	maxRoomsPerUser   int
	maxConnsPerIP     int
	trustedProxies    string
	maxQueuedBytes    int64
	secret            string
	authJWTKey        string
	adminToken        string
	authJWTAudience   string
	authJWTIssuer     string
	sessionTTL        time.Duration
	allowGuests       bool
	logLevel          string
	logFormat         string
	debugAddr         string
	metricsAddr       string
	configFile        string
	showVersion       bool
}

// parseOptions reads the settings (flag > environment > config file > default) and checks
// them. --help prints the grouped help to helpOut and returns flag.ErrHelp.
func parseOptions(args []string, getenv func(string) string, helpOut io.Writer) (*options, error) {
	o := &options{}
	if err := loadSettings(o, args, getenv, helpOut); err != nil {
		return nil, err
	}
	if o.store != "jetstream" && o.store != "memory" {
		return nil, fmt.Errorf("--store must be jetstream or memory, not %q", o.store)
	}
	if o.roomMaxMessages < 0 || o.roomMaxAge < 0 || o.maxStoreBytes < 0 {
		return nil, errors.New("retention limits (--room-max-messages, --room-max-age, --max-store-bytes) must not be negative")
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
	if err := clusterSecurity(o); err != nil {
		return nil, err
	}
	if o.rateLimit < 0 || o.rateBurst < 1 || o.maxMessageBytes < 1 || o.maxBodyBytes < 1 || o.sendQueue < 1 {
		return nil, errors.New("limits must be positive (rate-limit may be 0 to disable it)")
	}
	if o.secret != "" && len(o.secret) < auth.MinKeyBytes {
		return nil, fmt.Errorf("--secret must have at least %d characters", auth.MinKeyBytes)
	}
	if (o.authJWTAudience != "" || o.authJWTIssuer != "") && o.authJWTKey == "" {
		return nil, errors.New("--auth-jwt-audience and --auth-jwt-issuer check the JWTs of --auth-jwt-key: set it too")
	}
	if o.sessionTTL < 0 {
		return nil, errors.New("--session-ttl must not be negative")
	}
	if o.adminToken != "" && len(o.adminToken) < auth.MinKeyBytes {
		return nil, fmt.Errorf("--admin-token must have at least %d characters", auth.MinKeyBytes)
	}
	if o.allowGuests && o.authJWTKey == "" {
		return nil, errors.New("--allow-guests only matters with --auth-jwt-key (without it everyone may be a guest)")
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together: set both or neither")
	}
	return o, nil
}

// clusterSecurity checks the cluster secret and route TLS settings and reads the secret.
// An embedded cluster needs the secret: without it anyone who reaches a node's route port
// joins the cluster, and reads and writes everything in it.
func clusterSecurity(o *options) error {
	if o.clusterSecret != "" && o.clusterSecretFile != "" {
		return errors.New("--cluster-secret and --cluster-secret-file are two ways to give the one secret: set one")
	}
	given := o.clusterSecret != "" || o.clusterSecretFile != ""
	if given && o.clusterListen == "" && o.natsURL == "" {
		return errors.New("--cluster-secret is for the nodes of a cluster (--cluster-listen, or --nats-url)")
	}
	switch {
	case o.clusterSecret != "":
		s, err := clustersecret.New(o.clusterSecret)
		if err != nil {
			return fmt.Errorf("--cluster-secret must have at least %d characters", auth.MinKeyBytes)
		}
		o.clusterKey = s
	case o.clusterSecretFile != "":
		s, err := clustersecret.ReadFile(o.clusterSecretFile)
		if err != nil {
			return fmt.Errorf("--cluster-secret-file: %w", err)
		}
		o.clusterKey = s
	}
	if o.clusterListen != "" && o.clusterKey.IsZero() {
		return fmt.Errorf("--cluster-listen needs --cluster-secret (or --cluster-secret-file): the same secret of %d or more characters on every node, "+
			"without which anyone who reaches the route port joins the cluster", auth.MinKeyBytes)
	}
	tlsFiles := 0
	for _, f := range []string{o.clusterTLSCert, o.clusterTLSKey, o.clusterTLSCA} {
		if f != "" {
			tlsFiles++
		}
	}
	if tlsFiles != 0 && tlsFiles != 3 {
		return errors.New("--cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca go together: set all three or none")
	}
	if tlsFiles == 3 && o.clusterListen == "" {
		return errors.New("--cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca secure the routes of --cluster-listen")
	}
	return nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if c, ok := findCommand(args); ok {
		return runCommand(ctx, c, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "admin" {
		return runAdmin(ctx, args[1:], getenv, stdout, stderr)
	}
	o, err := parseOptions(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "distchat: %v\n(distchat --help lists the flags)\n", err)
		return 2
	}
	if o.showVersion {
		fmt.Fprintln(stdout, versionLine())
		return 0
	}
	log, err := newLogger(stderr, o.logLevel, o.logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "distchat:", err)
		return 2
	}
	tlsConfig, stopTLS, err := loadTLS(o, log)
	if err != nil {
		log.Error("TLS", "err", err)
		return 1
	}
	defer stopTLS()
	releaseData, err := lockDataDir(o)
	if err != nil {
		log.Error("data directory", "err", err)
		return 1
	}
	defer releaseData()

	b, bus, err := openStorage(ctx, o, log)
	if err != nil {
		log.Error("opening message storage", "err", err)
		return 1
	}
	authn, sessions, err := openAuth(ctx, o, b.State(), log)
	if err != nil {
		_ = b.Close()
		log.Error("sign-in", "err", err)
		return 1
	}
	var m *metrics.Metrics
	if o.metricsAddr != "" {
		m = metrics.New(metrics.Build{Version: version, Commit: buildCommit()})
	}
	srv, err := server.New(server.Config{
		Context:         ctx,
		Broker:          b,
		Presence:        bus,
		Auth:            authn,
		Sessions:        sessions,
		AdminToken:      o.adminToken,
		Node:            o.nodeName,
		AllowedOrigins:  splitList(o.allowedOrigins),
		PublicURL:       o.publicURL,
		AllowedHosts:    splitList(o.allowedHosts),
		MaxMessageBytes: o.maxMessageBytes,
		MaxBodyBytes:    o.maxBodyBytes,
		RateLimit:       o.rateLimit,
		RateBurst:       o.rateBurst,
		SendQueue:       o.sendQueue,
		FlushInterval:   o.flushInterval,
		WriteGap:        o.writeGap,
		HistoryRate:     orNone(o.historyRate),
		HistoryBurst:    max(1, int(2*o.historyRate)),
		MaxRoomsPerConn: o.maxRoomsPerConn,
		MaxRooms:        o.maxRooms,
		MaxRoomsPerIP:   conns(o.maxRoomsPerIP),
		MaxRoomsPerUser: conns(o.maxRoomsPerUser),
		MaxConnsPerIP:   conns(o.maxConnsPerIP),
		TrustedProxies:  splitList(o.trustedProxies),
		MaxQueuedBytes:  o.maxQueuedBytes,
		UI:              uiFS(),
		Version:         version,
		Logger:          log,
		TLS:             tlsConfig,
		Metrics:         m,
	})
	if err != nil {
		_ = b.Close()
		log.Error("starting server", "err", err)
		return 1
	}
	sessions.srv = srv
	sessions.watch(ctx)
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
	if m != nil {
		stop, err := serveAside("metrics", o.metricsAddr, m.Handler(), log)
		if err != nil {
			log.Error("metrics listener", "addr", o.metricsAddr, "err", err)
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
		fmt.Fprintf(stdout, "distchat listening on %s\n", browseURL(ln.Addr(), tlsConfig != nil))
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

// orNone turns a rate flag's 0 (no limit) into the server's negative.
func orNone(r float64) float64 {
	if r == 0 {
		return -1
	}
	return r
}

// conns turns a limit flag's 0 (no limit) into the server's negative.
func conns(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// announceWait bounds how long the start waits for storage before announcing the address.
const announceWait = 3 * time.Second

// waitReady waits until b is ready, at most d or until ctx ends, and returns why it is not.
func waitReady(ctx context.Context, b broker.Health, d time.Duration) error {
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
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return serveAside("pprof", addr, mux, log)
}

// serveAside serves h on a listener of its own at addr, for operators rather than users
// (profiles, metrics), and logs the address it listens on as "<what> listening".
func serveAside(what, addr string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	log.Info(what+" listening", "addr", ln.Addr().String())
	return func() { _ = hs.Close() }, nil
}

// browseURL is the address a person opens: wildcard hosts become localhost.
func browseURL(a net.Addr, tls bool) string {
	scheme := "http://"
	if tls {
		scheme = "https://"
	}
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return scheme + a.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + net.JoinHostPort(host, port)
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
