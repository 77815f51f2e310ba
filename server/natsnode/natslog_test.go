package natsnode

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestNatsLoggerRoutes: nats-server's reports of refused routes become warnings with the
// remote's address, and no line carries the route credentials.
func TestNatsLoggerRoutes(t *testing.T) {
	const user, pass = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	tests := []struct {
		name   string
		errorf bool // Errorf, else Debugf
		format string
		args   []any
		level  string
		want   []string
	}{
		{"refused without credentials", true, "127.0.0.1:53412 - rid:5 - authentication error", nil,
			"WARN", []string{`msg="cluster: refused a route without the cluster secret"`, "remote=127.0.0.1:53412"}},
		{"refused, wrong credentials", true, "[::1]:53412 - rid:7 - %v - %s", []any{"authentication error", `User "mallory"`},
			"WARN", []string{`msg="cluster: refused a route without the cluster secret"`, "remote=[::1]:53412"}},
		{"refused, our user name with a wrong password", true, "10.0.0.9:4000 - rid:7 - %v - %s", []any{"authentication error", `User "` + user + `"`},
			"WARN", []string{"remote=10.0.0.9:4000"}},
		{"TLS refused", true, "127.0.0.1:40000 - rid:9 - TLS route handshake error: %v%s", []any{"tls: client didn't provide a certificate", ""},
			"WARN", []string{`msg="cluster: refused a route: TLS handshake failed"`, "remote=127.0.0.1:40000", `reason="tls: client didn't provide a certificate"`}},
		{"TLS timeout", true, "127.0.0.1:40001 - rid:9 - TLS handshake timeout", nil,
			"WARN", []string{`msg="cluster: refused a route: TLS handshake failed"`, "remote=127.0.0.1:40001"}},
		{"refused by the other node", true, "127.0.0.1:6222 - rid:3 - Route Error %s", []any{"'Authorization Violation'"},
			"WARN", []string{"a node refused this node's route", "--cluster-secret", "remote=127.0.0.1:6222"}},
		{"peer down", true, "Error trying to connect to route (attempt %v): %v", []any{1, "dial tcp 127.0.0.1:6223: connect: connection refused"},
			"WARN", []string{"Error trying to connect to route"}},
		{"a route URL", false, "Trying to connect to route on nats-route://%s:%s@10.0.0.2:6222", []any{user, pass},
			"DEBUG", []string{"nats-route://[REDACTED]@10.0.0.2:6222"}},
		{"credentials anywhere", false, "user %s password %s", []any{user, pass},
			"DEBUG", []string{"user [REDACTED] password [REDACTED]"}},
		{"other errors", true, "something else", nil, "ERROR", []string{`msg="nats: something else"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			var refusedBy string
			l := natsLogger{
				log:       slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
				refusedBy: func(remote string) { refusedBy = remote },
				secrets:   []string{user, pass},
			}
			if tt.errorf {
				l.Errorf(tt.format, tt.args...)
			} else {
				l.Debugf(tt.format, tt.args...)
			}
			out := buf.String()
			if !strings.Contains(out, "level="+tt.level) {
				t.Errorf("logged %q, want level %s", out, tt.level)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("logged %q, want %q in it", out, w)
				}
			}
			if strings.Contains(out, user) || strings.Contains(out, pass) || strings.Contains(out, "mallory") {
				t.Errorf("logged %q: credentials (or the user name a refused route gave) in it", out)
			}
			if (refusedBy != "") != strings.Contains(tt.name, "refused by the other node") {
				t.Errorf("refusedBy told %q", refusedBy)
			}
		})
	}
}

func TestLoopbackOnly(t *testing.T) {
	tests := []struct {
		c    ClusterOptions
		want bool
	}{
		{ClusterOptions{Listen: "127.0.0.1:6222", Peers: []string{"127.0.0.1:6222", "127.0.0.2:6223", "localhost:6224", "[::1]:6225"}}, true},
		{ClusterOptions{Listen: "127.0.0.1:6222"}, true},
		{ClusterOptions{Listen: ":6222", Peers: []string{"127.0.0.1:6223"}}, false},
		{ClusterOptions{Listen: "0.0.0.0:6222"}, false},
		{ClusterOptions{Listen: "127.0.0.1:6222", Peers: []string{"10.0.0.2:6222"}}, false},
		{ClusterOptions{Listen: "127.0.0.1:6222", Advertise: "node1.example.com:6222"}, false},
		{ClusterOptions{Listen: "127.0.0.1:6222", Peers: []string{"node2:6222"}}, false},
	}
	for _, tt := range tests {
		if got := loopbackOnly(tt.c); got != tt.want {
			t.Errorf("loopbackOnly(%+v) = %v, want %v", tt.c, got, tt.want)
		}
	}
}
