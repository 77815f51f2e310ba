package ws

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
)

// Server upgrades HTTP requests to connections and keeps track of them, so that shutdown
// can close every one with 1001 (http.Server.Shutdown does not wait for hijacked
// connections).
type Server struct {
	opts     Options
	log      *slog.Logger
	upgrader websocket.Upgrader
	allowed  map[string]bool
	allowAll bool
	reads    sync.Pool // buffers frames are read into, shared by the connections
	load     *load     // how many frames the connections write: busy or not
	usage    *usage    // bytes waiting in the connections' send queues

	mu      sync.Mutex
	conns   map[*Conn]struct{}
	closing bool
	wg      sync.WaitGroup
}

// Session is what the caller attaches to an accepted connection.
type Session interface {
	// OnFrame handles one frame from the reader goroutine. text is false for binary frames.
	// data is valid only until OnFrame returns (its buffer is reused).
	OnFrame(data []byte, text bool)
	// OnClose runs once, after the reader stopped.
	OnClose()
}

// NewServer returns a Server. allowedOrigins widens the same-origin policy with exact
// origins ("https://chat.example.com") or "*" for any origin.
func NewServer(opts Options, allowedOrigins []string, log *slog.Logger) *Server {
	opts = opts.withDefaults()
	s := &Server{
		reads:   sync.Pool{New: func() any { return new(bytes.Buffer) }},
		load:    newLoad(opts.BusyFrames),
		usage:   &usage{max: opts.MaxQueuedBytes},
		opts:    opts,
		log:     log,
		allowed: make(map[string]bool),
		conns:   make(map[*Conn]struct{}),
	}
	for _, o := range allowedOrigins {
		o = strings.TrimRight(strings.ToLower(strings.TrimSpace(o)), "/")
		switch o {
		case "":
		case "*":
			s.allowAll = true
		default:
			s.allowed[o] = true
		}
	}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		// Buffers are taken from the pool only while a frame is written, so idle
		// connections hold none.
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     s.checkOrigin,
	}
	return s
}

// AllowsOrigin applies the WebSocket origin policy to any request (the HTTP API's
// state-changing calls use it too).
func (s *Server) AllowsOrigin(r *http.Request) bool { return s.checkOrigin(r) }

// checkOrigin accepts clients without an Origin header (command-line tools), same-origin
// browsers and the configured origins.
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) || s.allowAll {
		return true
	}
	return s.allowed[strings.ToLower(u.Scheme+"://"+u.Host)]
}

// Serve upgrades the request and serves the connection in the background until it ends.
// accept is called once the connection is open and returns its Session, or an error object
// to send before closing with closeCode. A failed upgrade answers 4xx and calls nothing.
func (s *Server) Serve(w http.ResponseWriter, r *http.Request, accept func(*Conn) (Session, []byte, int)) {
	s.ServeWithHeader(w, r, nil, accept)
}

// ServeWithHeader is Serve with headers for the upgrade's response (a session cookie).
func (s *Server) ServeWithHeader(w http.ResponseWriter, r *http.Request, header http.Header, accept func(*Conn) (Session, []byte, int)) {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	wc, err := s.upgrader.Upgrade(w, r, header)
	if err != nil {
		// The upgrader has already answered with a 4xx status.
		s.log.Debug("websocket upgrade failed", "err", err, "remote", r.RemoteAddr)
		return
	}
	c := newConn(wc, s.opts, &s.reads, s.load, s.usage, s.log)
	s.opts.Metrics.Connected()
	if !s.track(c) {
		c.Close(websocket.CloseGoingAway, "server is shutting down")
		c.run(func([]byte, bool) {})
		return
	}
	sess, refusal, code := accept(c)
	// The connection gets a fresh goroutine for its reader and this HTTP handler returns:
	// the handler's stack, grown by routing and the upgrade, is not kept for the whole life
	// of an idle connection.
	go func() {
		defer s.untrack(c)
		if sess == nil {
			if refusal != nil {
				c.Send(refusal)
			}
			c.Close(code, "")
			c.run(func([]byte, bool) {})
			return
		}
		c.run(sess.OnFrame)
		sess.OnClose()
	}()
}

func (s *Server) track(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	s.usage.conns.Add(1)
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.usage.conns.Add(-1)
	s.mu.Unlock()
	s.wg.Done()
}

// Count returns the number of open connections.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown refuses new connections, closes every open one with 1001 and waits until they
// have all ended or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for c := range s.conns {
		c.Close(websocket.CloseGoingAway, "server shutting down")
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
