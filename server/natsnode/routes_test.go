package natsnode_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/distchat/distchat/server/clustersecret"
	"github.com/distchat/distchat/server/natsnode"
	"github.com/distchat/distchat/server/natsnode/nodetest"
)

// logBuffer collects a server's log lines and lets a test wait for one.
type logBuffer struct {
	mu      sync.Mutex
	text    strings.Builder
	changed chan struct{}
}

func newLogBuffer() *logBuffer { return &logBuffer{changed: make(chan struct{})} }

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.text.Write(p)
	close(b.changed)
	b.changed = make(chan struct{})
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.text.String()
}

// wait returns the first line that contains every one of parts, waiting up to 20 s.
func (b *logBuffer) wait(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		b.mu.Lock()
		for _, line := range strings.Split(b.text.String(), "\n") {
			found := true
			for _, p := range parts {
				found = found && strings.Contains(line, p)
			}
			if found {
				b.mu.Unlock()
				return line
			}
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no log line with %q; logs:\n%s", parts, b)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func secret(t *testing.T, s string) clustersecret.Secret {
	t.Helper()
	sec, err := clustersecret.New(s + strings.Repeat(".", clustersecret.MinLength))
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

// routeNode is one embedded server of a test cluster and its log.
type routeNode struct {
	*natsnode.Node
	log  *logBuffer
	addr string
}

// startRouteNode starts a clustered embedded server on route port listen with routes to
// peers (route ports on loopback).
func startRouteNode(t *testing.T, name string, listen int, peers []int, s clustersecret.Secret, tc *tls.Config) *routeNode {
	t.Helper()
	n := &routeNode{log: newLogBuffer(), addr: fmt.Sprintf("127.0.0.1:%d", listen)}
	var ps []string
	for _, p := range peers {
		ps = append(ps, fmt.Sprintf("127.0.0.1:%d", p))
	}
	e, err := natsnode.Start(t.Context(), natsnode.Options{
		DataDir: t.TempDir(), ServerName: name,
		Cluster: natsnode.ClusterOptions{Name: "distchat", Listen: n.addr, Peers: ps, Secret: s, TLS: tc},
		Logger:  slog.New(slog.NewTextHandler(n.log, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Shutdown(); e.WaitForShutdown() })
	n.Node = e
	return n
}

// waitRoutes waits until every node has a route.
func waitRoutes(t *testing.T, nodes ...*routeNode) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range nodes {
		for n.NumRoutes() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s has no route; its log:\n%s", n.Name(), n.log)
			}
			time.Sleep(20 * time.Millisecond) // polling the route count: nats-server has no event for it
		}
	}
}

// noRoutes checks that n is in no route of the cluster's nodes and, once its dial has
// been refused, has none itself. (nats-server counts a route it dialed from the moment the
// other end's INFO arrives, before that end has checked its credentials: for a few
// milliseconds of every attempt, once a second, the refused node counts one.)
func noRoutes(t *testing.T, n *routeNode, cluster ...*routeNode) {
	t.Helper()
	for _, m := range cluster {
		rz, err := m.Routez(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rz.Routes {
			if r.RemoteName == n.Name() {
				t.Fatalf("%s has a route with %s: %+v", m.Name(), n.Name(), *r)
			}
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for n.NumRoutes() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s still has %d routes after they were refused", n.Name(), n.NumRoutes())
		}
		time.Sleep(5 * time.Millisecond) // polling the route count
	}
}

func TestEmbeddedClusterNeedsTheSecret(t *testing.T) {
	_, err := natsnode.Start(t.Context(), natsnode.Options{
		DataDir: t.TempDir(), ServerName: "n1", Cluster: natsnode.ClusterOptions{Listen: fmt.Sprintf("127.0.0.1:%d", freePort(t))},
	})
	if err == nil || !strings.Contains(err.Error(), "--cluster-secret") {
		t.Fatalf("a cluster without a secret: %v", err)
	}
}

// TestEmbeddedRoutesNeedTheSecret: two servers with the cluster secret form routes; a
// third with another secret gets none, each side says so at warn, and the credentials are
// never in the log.
func TestEmbeddedRoutesNeedTheSecret(t *testing.T) {
	pa, pb, pc := freePort(t), freePort(t), freePort(t)
	good := secret(t, "the cluster's")
	a := startRouteNode(t, "a", pa, []int{pa, pb}, good, nil)
	b := startRouteNode(t, "b", pb, []int{pa, pb}, good, nil)
	waitRoutes(t, a, b)

	c := startRouteNode(t, "c", pc, []int{pa, pb, pc}, secret(t, "another"), nil)
	c.log.wait(t, "level=WARN", "a node refused this node's route", "remote=127.0.0.1:")
	a.log.wait(t, "level=WARN", "refused a route without the cluster secret", "remote=127.0.0.1:")
	noRoutes(t, c, a, b)
	user, pass := good.RouteCredentials()
	for _, n := range []*routeNode{a, b, c} {
		if out := n.log.String(); strings.Contains(out, pass) || strings.Contains(out, user) {
			t.Fatalf("%s logged the route credentials:\n%s", n.Name(), out)
		}
	}
	// Loopback routes: no warning about encryption.
	if out := a.log.String(); strings.Contains(out, "not encrypted") {
		t.Fatalf("a loopback cluster was warned about encryption:\n%s", out)
	}
}

// TestEmbeddedRoutesMutualTLS: with route TLS, servers with certificates of the cluster's
// CA form routes; with the secret but no TLS, or a certificate of another CA, none.
func TestEmbeddedRoutesMutualTLS(t *testing.T) {
	ca := nodetest.NewCA(t, "cluster")
	load := func(f nodetest.TLSFiles, ca *nodetest.CA) *tls.Config {
		tc, err := natsnode.RouteTLS(f.Cert, f.Key, ca.File)
		if err != nil {
			t.Fatal(err)
		}
		return tc
	}
	pa, pb, pc, pd := freePort(t), freePort(t), freePort(t), freePort(t)
	s := secret(t, "the cluster's")
	a := startRouteNode(t, "a", pa, []int{pa, pb}, s, load(ca.Issue(t, "a", "127.0.0.1"), ca))
	b := startRouteNode(t, "b", pb, []int{pa, pb}, s, load(ca.Issue(t, "b", "127.0.0.1"), ca))
	waitRoutes(t, a, b)

	plain := startRouteNode(t, "plain", pc, []int{pa, pc}, s, nil)
	a.log.wait(t, "level=WARN", "refused a route: TLS handshake failed", "remote=127.0.0.1:")
	other := nodetest.NewCA(t, "other")
	foreign := startRouteNode(t, "foreign", pd, []int{pb, pd}, s, load(other.Issue(t, "foreign", "127.0.0.1"), other))
	b.log.wait(t, "level=WARN", "refused a route: TLS handshake failed", "remote=127.0.0.1:", "certificate")
	noRoutes(t, plain, a, b)
	noRoutes(t, foreign, a, b)
}

func TestRouteTLSChecksTheCertificate(t *testing.T) {
	ca := nodetest.NewCA(t, "cluster")
	good := ca.Issue(t, "node", "127.0.0.1")
	tc, err := natsnode.RouteTLS(good.Cert, good.Key, ca.File)
	if err != nil {
		t.Fatal(err)
	}
	if tc.MinVersion != tls.VersionTLS12 || tc.ClientAuth != tls.RequireAndVerifyClientCert || tc.RootCAs == nil || tc.ClientCAs == nil {
		t.Fatalf("route TLS config: %+v", tc)
	}
	serverOnly := ca.IssueFor(t, "server-only", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, "127.0.0.1")
	if _, err := natsnode.RouteTLS(serverOnly.Cert, serverOnly.Key, ca.File); err == nil || !strings.Contains(err.Error(), "clientAuth") {
		t.Fatalf("a certificate without clientAuth: %v", err)
	}
	other := nodetest.NewCA(t, "other")
	if _, err := natsnode.RouteTLS(good.Cert, good.Key, other.File); err == nil {
		t.Fatal("a certificate of another CA was accepted")
	}
	if _, err := natsnode.RouteTLS(good.Cert, serverOnly.Key, ca.File); err == nil {
		t.Fatal("a key that is not the certificate's was accepted")
	}
	if _, err := natsnode.RouteTLS(good.Cert, good.Key, good.Key); err == nil {
		t.Fatal("a CA file without a certificate was accepted")
	}
}

// TestEmbeddedClientPortOnlyForThisProcess: the loopback client port of a clustered
// server lets in no one without the process's token: no anonymous client, not the route
// credentials either.
func TestEmbeddedClientPortOnlyForThisProcess(t *testing.T) {
	p := freePort(t)
	s := secret(t, "the cluster's")
	n := startRouteNode(t, "a", p, []int{p}, s, nil)
	url := n.ClientURL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") {
		t.Fatalf("client URL %s: want loopback", url)
	}
	user, pass := s.RouteCredentials()
	for name, opt := range map[string]nats.Option{
		"anonymous":         func(*nats.Options) error { return nil },
		"a guessed token":   nats.Token("distchat"),
		"route credentials": nats.UserInfo(user, pass),
		"user without pass": nats.UserInfo("", ""),
	} {
		nc, err := nats.Connect(url, opt, nats.NoReconnect())
		if err == nil {
			nc.Close()
			t.Fatalf("%s: connected to the client port", name)
		}
		if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Fatalf("%s: %v, want an authorization violation", name, err)
		}
	}
	nc, err := n.Connect()
	if err != nil {
		t.Fatalf("the process's own connection: %v", err)
	}
	nc.Close()
}

// TestEmbeddedWarnsOfPlainRoutes: routes without TLS to another machine are announced at
// start with a warning that names the flags.
func TestEmbeddedWarnsOfPlainRoutes(t *testing.T) {
	log := newLogBuffer()
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	e, err := natsnode.Start(t.Context(), natsnode.Options{
		DataDir: t.TempDir(), ServerName: "a",
		// 192.0.2.0/24 is TEST-NET-1: never reachable, the route only retries.
		Cluster: natsnode.ClusterOptions{Name: "distchat", Listen: listen, Peers: []string{listen, "192.0.2.1:6222"}, Secret: secret(t, "s")},
		Logger:  slog.New(slog.NewTextHandler(log, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Shutdown()
	e.WaitForShutdown()
	if n := strings.Count(log.String(), "routes between nodes are not encrypted: set --cluster-tls-cert/--cluster-tls-key/--cluster-tls-ca"); n != 1 {
		t.Fatalf("%d warnings about plain routes; log:\n%s", n, log)
	}
}
