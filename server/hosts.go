package server

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// hostPolicy decides which Host headers this server answers. A page of another site that
// gets its name resolved to this server's address (DNS rebinding) makes the browser send
// that site's name as Host, and the browser then treats the server as that site: same
// origin, so the WebSocket origin check passes. Answering only names the operator chose
// closes that door. Addresses typed as IP literals cannot be rebound and are always
// answered, and so are localhost and this machine's own host name, so that a server
// started on a laptop or a LAN works without settings.
type hostPolicy struct {
	any   bool
	names map[string]bool
	// lastLog spaces the warnings about refused hosts (Unix nanoseconds).
	lastLog atomic.Int64
}

// newHostPolicy allows the host of publicURL, the names in allowed ("*": any) and the
// defaults above.
func newHostPolicy(publicURL string, allowed []string) (*hostPolicy, error) {
	p := &hostPolicy{names: map[string]bool{}}
	if publicURL != "" {
		u, err := url.Parse(publicURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("--public-url %q is not an http(s) URL such as https://chat.example.com", publicURL)
		}
		p.names[normalHost(u.Host)] = true
	}
	for _, h := range allowed {
		if h == "*" {
			p.any = true
			continue
		}
		p.names[normalHost(h)] = true
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		h = normalHost(h)
		p.names[h] = true
		if short, _, ok := strings.Cut(h, "."); ok {
			p.names[short] = true
		}
	}
	return p, nil
}

// normalHost is a Host header's name without port, lower case, without a final dot.
func normalHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimPrefix(strings.TrimSuffix(h, "]"), "[")
	return strings.TrimSuffix(h, ".")
}

func (p *hostPolicy) allows(host string) bool {
	if p.any {
		return true
	}
	h := normalHost(host)
	if h == "" {
		return false
	}
	if net.ParseIP(h) != nil || h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	return p.names[h]
}

// hostCheck refuses requests for hosts the policy does not allow (421 Misdirected Request),
// except health and readiness, which load balancers and orchestrators probe under
// whatever name they know the node by.
func (s *Server) hostCheck(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if p := r.URL.Path; p == "/api/health" || p == "/api/ready" || s.hosts.allows(r.Host) {
			return next(c)
		}
		now := time.Now().UnixNano()
		if last := s.hosts.lastLog.Load(); now-last > int64(10*time.Second) && s.hosts.lastLog.CompareAndSwap(last, now) {
			s.log.Warn("refused a request for a host this server does not serve (set --public-url or --allowed-hosts if it is yours)",
				"host", r.Host, "remote", r.RemoteAddr, "path", r.URL.Path)
		}
		return c.JSON(http.StatusMisdirectedRequest, apiError("unknown_host",
			fmt.Sprintf("this server does not answer for %q (its operator sets --public-url or --allowed-hosts)", r.Host)))
	}
}
