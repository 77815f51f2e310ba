package server

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
)

// connsPerIP counts the WebSockets open from each client address, so that one address
// cannot take all of a node's connections.
type connsPerIP struct {
	max     int
	trusted []*net.IPNet

	mu sync.Mutex
	n  map[string]int
}

func newConnsPerIP(max int, trustedProxies []string) (*connsPerIP, error) {
	l := &connsPerIP{max: max, n: make(map[string]int)}
	for _, p := range trustedProxies {
		if !strings.Contains(p, "/") {
			if ip := net.ParseIP(p); ip != nil && ip.To4() != nil {
				p += "/32"
			} else {
				p += "/128"
			}
		}
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", p, err)
		}
		l.trusted = append(l.trusted, n)
	}
	return l, nil
}

func (l *connsPerIP) isTrusted(ip net.IP) bool {
	for _, n := range l.trusted {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// clientIP is the address a request comes from: the peer's, or, when the peer is a trusted
// proxy, the last address in X-Forwarded-For that is not a trusted proxy (earlier entries
// are whatever the client claimed).
func (l *connsPerIP) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil || !l.isTrusted(ip) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		hip := net.ParseIP(h)
		if hip == nil {
			break
		}
		if !l.isTrusted(hip) {
			return hip.String()
		}
	}
	return host
}

// acquire counts one more connection from ip, or returns false at the limit.
func (l *connsPerIP) acquire(ip string) bool {
	if l.max <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[ip] >= l.max {
		return false
	}
	l.n[ip]++
	return true
}

func (l *connsPerIP) release(ip string) {
	if l.max <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[ip]--; l.n[ip] <= 0 {
		delete(l.n, ip)
	}
}
