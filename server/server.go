// Package server assembles distchat: the broker, the hub, the WebSocket endpoint, the HTTP
// API and the embedded UI, behind one echo instance, with an ordered shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/distchat/distchat/server/auth"
	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/hub"
	"github.com/distchat/distchat/server/metrics"
	"github.com/distchat/distchat/server/people"
	"github.com/distchat/distchat/server/presence"
	"github.com/distchat/distchat/server/protocol"
	"github.com/distchat/distchat/server/webui"
	"github.com/distchat/distchat/server/ws"
)

// Config is everything the server needs. Zero fields take defaults.
type Config struct {
	// Context is the server's lifetime (default: until Shutdown): every storage call made
	// for clients ends when it ends, and Shutdown ends it too. distchat passes the
	// context that its termination signals cancel.
	Context context.Context
	// AllowedOrigins widens the WebSocket same-origin check ("*" allows any origin).
	AllowedOrigins []string
	// PublicURL is the address people open (https://chat.example.com): its host is
	// answered (see AllowedHosts), and an https URL makes the session cookie Secure.
	PublicURL string
	// AllowedHosts are further Host names this server answers ("*": any). IP literals,
	// localhost and this machine's host name are always answered; requests for other
	// names are refused (421), except health and readiness probes.
	AllowedHosts []string
	// MaxMessageBytes is the largest frame a client may send (default 64 KiB).
	MaxMessageBytes int64
	// MaxBodyBytes is the largest message body (default 16 KiB).
	MaxBodyBytes int
	// RateLimit is requests per second per connection, 0 for none; RateBurst the burst
	// (default 30).
	RateLimit float64
	RateBurst int
	// FlushInterval is the shortest time between two fan-outs of a busy room of 100
	// members (default 4 ms), proportional to the room's size (see hub.Config).
	FlushInterval time.Duration
	// SendQueue is the per-connection send queue length (default 256).
	SendQueue int
	// WriteGap is the shortest time between two frames to one connection (default 10 ms;
	// negative: none); see ws.Options.WriteGap.
	WriteGap time.Duration
	// PongWait is how long a silent client is kept (default 60 s).
	PongWait time.Duration
	// WriteWait bounds one write to a client (default 10 s).
	WriteWait time.Duration
	// Broker stores and distributes messages; nil means an in-memory broker.
	Broker broker.Broker
	// Presence shares who is online with the other nodes; nil means this node is alone.
	Presence presence.Bus
	// Auth says who a connection is; nil makes one with a random session key (tokens do not
	// survive a restart).
	Auth *auth.Authenticator
	// Node is this node's name, reported by /api/health.
	Node string
	// AdminToken, when set, opens the admin API (/api/admin/*) to requests that present it
	// as Authorization: Bearer; Sessions carries out what it asks.
	AdminToken string
	Sessions   SessionControl
	// ReadTimeout bounds one storage read (default 5 s).
	ReadTimeout time.Duration
	// MaxRoomsPerConn, MaxRooms, MaxRoomsPerIP, MaxRoomsPerUser, HistoryRate and
	// HistoryBurst: see hub.Config (0: the defaults there).
	MaxRoomsPerConn int
	MaxRooms        int
	MaxRoomsPerIP   int
	MaxRoomsPerUser int
	// MaxDMs bounds the conversations in one person's list (default 500; see people.New).
	MaxDMs       int
	HistoryRate  float64
	HistoryBurst int
	// MaxConnsPerIP bounds the WebSockets open from one address (default 1,000, room for
	// an office behind one NAT address; negative:
	// no limit). The address is the peer's, or, behind a proxy listed in TrustedProxies
	// (IPs or CIDRs), the client's from X-Forwarded-For.
	MaxConnsPerIP  int
	TrustedProxies []string
	// MaxQueuedBytes bounds the bytes waiting in all connections' send queues (default 256
	// MiB; negative: none): beyond it, the connections furthest behind are closed as too
	// slow (4008).
	MaxQueuedBytes int64
	// PresenceGrace is how long someone whose last connection ended stays listed before
	// the room hears they left (default 3 s; negative: none). See hub.Config.
	PresenceGrace time.Duration
	// UI is the built web app (web/dist); nil serves a placeholder page.
	UI fs.FS
	// Version is reported by /api/health and welcome.
	Version string
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// TLS, when set, makes Serve speak TLS: HTTPS (HTTP/2 when the client offers it) and
	// wss://, with Strict-Transport-Security on responses. WebSockets are upgraded from
	// HTTP/1.1: the server does not offer WebSockets over HTTP/2 (RFC 8441), so browsers
	// open them on an HTTP/1.1 connection. See CertReloader for a certificate that can be
	// renewed without a restart.
	TLS *tls.Config
	// Metrics, when set, counts what the node does and reads its rooms and storage when
	// scraped; serve Metrics.Handler on a listener of its own. One Metrics per server.
	Metrics *metrics.Metrics
}

// Server is one distchat node.
type Server struct {
	cfg    Config
	log    *slog.Logger
	echo   *echo.Echo
	http   *http.Server
	hub    *hub.Hub
	broker broker.Broker
	people *people.Store
	auth   *auth.Authenticator
	perIP  *connsPerIP
	hosts  *hostPolicy
	ws     *ws.Server
	// life is the server's lifetime (Config.Context), ended by Shutdown at the latest.
	life    context.Context
	endLife context.CancelFunc
	// stopTidy ends tidyMemory.
	stopTidy chan struct{}
	// storageStarted: storage has been ready once (see storageStarting).
	storageStarted atomic.Bool
}

// The hub keeps what is stored about people in the people store.
var _ hub.People = (*people.Store)(nil)

// DefaultMaxConnsPerIP bounds the connections from one address.
const DefaultMaxConnsPerIP = 1000

// DefaultRateBurst is the rate limiter's bucket when Config.RateBurst is not set.
const DefaultRateBurst = 30

// DefaultRateLimit is the command's default for Config.RateLimit (requests per second per
// connection); the zero Config has no rate limit.
const DefaultRateLimit = 10

// HTTP server timeouts. WebSocket connections are hijacked and keep their own deadlines.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
)

// New builds a server. It takes ownership of cfg.Broker and closes it on Shutdown.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = ws.DefaultMaxMessageBytes
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = hub.DefaultMaxBodyBytes
	}
	if int64(cfg.MaxBodyBytes) > cfg.MaxMessageBytes {
		cfg.MaxBodyBytes = int(cfg.MaxMessageBytes)
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = DefaultRateBurst
	}
	if cfg.Broker == nil {
		cfg.Broker = broker.NewMemory(0, 2*time.Minute)
	}
	if cfg.Auth == nil {
		cfg.Auth = auth.New(auth.Options{})
		_ = cfg.Auth.SetKey(auth.NewKey())
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = hub.DefaultReadTimeout
	}
	if cfg.MaxConnsPerIP == 0 {
		cfg.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	perIP, err := newConnsPerIP(cfg.MaxConnsPerIP, cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	hosts, err := newHostPolicy(cfg.PublicURL, cfg.AllowedHosts)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, broker: cfg.Broker, auth: cfg.Auth, perIP: perIP, hosts: hosts, stopTidy: make(chan struct{})}
	s.people = people.New(cfg.Broker.State(), cfg.MaxDMs)

	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	s.life, s.endLife = context.WithCancel(cfg.Context)
	s.hub = hub.New(s.life, hub.Config{
		MaxBodyBytes:    cfg.MaxBodyBytes,
		RateLimit:       cfg.RateLimit,
		RateBurst:       cfg.RateBurst,
		FlushInterval:   cfg.FlushInterval,
		ReadTimeout:     cfg.ReadTimeout,
		PresenceGrace:   cfg.PresenceGrace,
		MaxRoomsPerConn: cfg.MaxRoomsPerConn,
		MaxRooms:        cfg.MaxRooms,
		MaxRoomsPerIP:   cfg.MaxRoomsPerIP,
		MaxRoomsPerUser: cfg.MaxRoomsPerUser,
		HistoryRate:     cfg.HistoryRate,
		HistoryBurst:    cfg.HistoryBurst,
		Version:         cfg.Version,
		Limits: protocol.Limits{
			MaxMessageBytes: cfg.MaxMessageBytes,
			MaxBodyBytes:    cfg.MaxBodyBytes,
			Rate:            cfg.RateLimit,
			Burst:           cfg.RateBurst,
		},
		Metrics: s.hubMetrics(),
	}, cfg.Broker, s.people, cfg.Presence, cfg.Logger)
	s.ws = ws.NewServer(ws.Options{
		MaxMessageBytes: cfg.MaxMessageBytes,
		SendQueue:       cfg.SendQueue,
		WriteGap:        cfg.WriteGap,
		MaxQueuedBytes:  cfg.MaxQueuedBytes,
		PongWait:        cfg.PongWait,
		WriteWait:       cfg.WriteWait,
		Metrics:         s.wsMetrics(),
	}, cfg.AllowedOrigins, cfg.Logger)
	if err := s.watchMetrics(); err != nil {
		return nil, err
	}
	s.echo = s.routes()
	s.http = &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
		TLSConfig:         cfg.TLS,
	}
	return s, nil
}

// Handler returns the HTTP handler (for tests with httptest).
func (s *Server) Handler() http.Handler { return s.echo }

// Serve accepts connections on ln until Shutdown. It returns nil after a clean shutdown.
func (s *Server) Serve(ln net.Listener) error {
	go s.tidyMemory(s.stopTidy)
	go s.watchEpoch(s.stopTidy)
	serve := s.http.Serve
	if s.cfg.TLS != nil {
		// ServeTLS adds "h2" to the config's protocols; the certificate comes from it.
		serve = func(ln net.Listener) error { return s.http.ServeTLS(ln, "", "") }
	}
	if err := serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections, closes every WebSocket with 1001 (going away),
// waits for HTTP requests and connections to end, then stops the hub and the broker. It
// returns when all is done or ctx expires.
func (s *Server) Shutdown(ctx context.Context) error {
	select {
	case <-s.stopTidy:
	default:
		close(s.stopTidy)
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.http.Shutdown(ctx) }()
	wsErr := s.ws.Shutdown(ctx)
	httpErr := <-httpDone
	s.hub.Close()
	s.endLife()
	if bus, ok := s.cfg.Presence.(interface{ Stop() }); ok {
		bus.Stop()
	}
	brokerErr := s.broker.Close()
	return errors.Join(httpErr, wsErr, brokerErr)
}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover())
	e.Use(securityHeaders)
	if s.cfg.TLS != nil {
		e.Use(strictTransportSecurity)
	}
	e.Use(s.hostCheck)

	api := e.Group("/api")
	api.GET("/health", s.health)
	api.GET("/ready", s.ready)
	api.GET("/rooms", s.rooms, s.signedInOnly)
	api.POST("/session", s.createSession)
	api.DELETE("/session", s.deleteSession)
	admin := api.Group("/admin", s.adminOnly)
	admin.POST("/revoke", s.adminRevoke)
	admin.POST("/rotate-key", s.adminRotateKey)
	api.Any("/*", func(c echo.Context) error {
		return c.JSON(http.StatusNotFound, map[string]string{"error": "no such API endpoint: " + c.Request().URL.Path})
	})
	e.GET("/ws", s.serveWS)
	// Metrics are served on their own listener (--metrics-addr) only: a scraper pointed
	// at the public port gets a 404, not the chat page.
	e.Any("/metrics", echo.WrapHandler(http.NotFoundHandler()))

	ui := s.cfg.UI
	if ui == nil || !webui.HasIndex(ui) {
		s.log.Warn("this binary has no built web UI; serving a placeholder page")
	}
	if ui == nil {
		ui = emptyFS{}
	}
	e.Any("/*", echo.WrapHandler(webui.Handler(ui)))
	return e
}

// securityHeaders keeps the UI from being framed or sniffed, and limits what a page could
// load if some text ever slipped through as HTML.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
		return next(c)
	}
}

// health is the liveness answer: the process serves HTTP. It also reports what this node
// carries (its live rooms and messages) and whether storage is ready; on a server that lets
// no guests in, only to a signed-in request (probes get the bare status).
func (s *Server) health(c echo.Context) error {
	if !s.auth.GuestsAllowed() {
		if _, err := s.apiSession(c.Request()); err != nil {
			return c.JSON(http.StatusOK, map[string]any{"status": "ok"})
		}
	}
	storage := "ok"
	if err := s.broker.Ready(); err != nil {
		storage = err.Error()
	}
	return c.JSON(http.StatusOK, map[string]any{
		"status":      "ok",
		"version":     s.cfg.Version,
		"node":        s.cfg.Node,
		"connections": s.ws.Count(),
		"storage":     storage,
		"broker":      s.broker.Stats(),
	})
}

// ready answers 200 when this node can store and deliver messages, 503 with the reason
// otherwise: load balancers send people only to ready nodes.
func (s *Server) ready(c echo.Context) error {
	err := s.broker.Ready()
	if err == nil {
		err = s.auth.Ready()
	}
	if err != nil {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) rooms(c echo.Context) error {
	rooms, err := s.hub.Rooms(c.Request().Context())
	if err != nil {
		s.log.Warn("listing rooms", "err", err)
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"error": "rooms are unavailable right now"})
	}
	return c.JSON(http.StatusOK, map[string]any{"rooms": rooms})
}

type emptyFS struct{}

func (emptyFS) Open(string) (fs.File, error) { return nil, fs.ErrNotExist }
