package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/distchat/distchat/server/clustersecret"
	"github.com/distchat/distchat/server/natsnode/nodetest"
)

// The tests in this file attack a cluster as someone who can reach a node's route port
// would: with a NATS server of their own, configured with the cluster's name and a route
// to the node. Each starts with a positive control (the same rogue server given what it
// must not have joins the cluster, reads the store and the traffic, and publishes into
// it), so that the checks that it sees nothing otherwise can fail.

// rogue is how an attacker's server is set up.
type rogue struct {
	user, pass string      // route credentials it presents ("": none)
	tls        *tls.Config // its route TLS (nil: none)
}

// startRogue starts a NATS server named name, in the cluster "distchat", with a route to
// the address route, and a client connected to it. Both stop when the test ends.
func startRogue(t *testing.T, name, route string, r rogue) (*natsserver.Server, *nats.Conn) {
	t.Helper()
	u := &url.URL{Scheme: "nats-route", Host: route}
	if r.user != "" || r.pass != "" {
		u.User = url.UserPassword(r.user, r.pass)
	}
	opts := &natsserver.Options{
		ServerName: name, Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		Cluster: natsserver.ClusterOpts{Name: "distchat", Host: "127.0.0.1", Port: -1,
			Username: r.user, Password: r.pass, TLSConfig: r.tls, TLSTimeout: 2},
		Routes: []*url.URL{u},
	}
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("the rogue server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	// No reconnect: it would go to the servers it learnt of, which refuse it.
	nc, err := nats.Connect(ns.ClientURL(), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return ns, nc
}

// routeProxy passes TCP connections to a node's route port through and records the local
// address of each connection it makes: the remote address the node sees, and must log.
type routeProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	from   map[string]bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startRouteProxy(t *testing.T, target string) *routeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &routeProxy{ln: ln, target: target, from: map[string]bool{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *routeProxy) addr() string { return p.ln.Addr().String() }

func (p *routeProxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.from[out.LocalAddr().String()] = true
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		p.wg.Go(func() { pipe(out, in) })
		p.wg.Go(func() { pipe(in, out) })
	}
}

// dialedFrom reports whether the proxy connected to the node from addr.
func (p *routeProxy) dialedFrom(addr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.from[addr]
}

func (p *routeProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

var remoteField = regexp.MustCompile(`remote=(\S+)`)

// waitRefusal waits for node's warning msg about a route that came through proxy, and
// returns the line.
func waitRefusal(t *testing.T, node *process, from int, proxy *routeProxy, msg string) string {
	t.Helper()
	line := node.logs.waitFor(from, fmt.Sprintf("warning %q about a route from %s", msg, proxy.addr()), func(line string) bool {
		m := remoteField.FindStringSubmatch(line)
		return strings.Contains(line, msg) && m != nil && proxy.dialedFrom(m[1])
	})
	if !strings.Contains(line, "level=WARN") {
		t.Fatalf("the refusal is not a warning: %s", line)
	}
	return line
}

// target is a cluster under attack: node 1 (the one the rogue routes to), a member there,
// and the secret the nodes share.
type target struct {
	c          *cluster
	secret     clustersecret.Secret
	user, pass string // the route credentials
	alice      *peer  // in room "town" on node 1
	aliceID    string
	token      string // alice's session token
	sent       int    // alice's messages so far
}

func newTarget(t *testing.T, c *cluster) *target {
	t.Helper()
	text, err := os.ReadFile(c.secret)
	if err != nil {
		t.Fatal(err)
	}
	s, err := clustersecret.New(strings.TrimSpace(string(text)))
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{c: c, secret: s}
	tg.user, tg.pass = s.RouteCredentials()
	tg.alice = connectPeer(t, c.url(0), "alice", "town")
	w, _ := tg.alice.waitFor(0, isType("welcome"))
	tg.aliceID = w["user"].(map[string]any)["id"].(string)
	tg.token = w["token"].(string)
	return tg
}

func (tg *target) routeAddr() string { return fmt.Sprintf("127.0.0.1:%d", tg.c.route[0]) }

// say sends a message as alice and waits for its ack (or error).
func (tg *target) say(t *testing.T, body string) {
	t.Helper()
	tg.sent++
	ref := fmt.Sprint("s", tg.sent)
	if err := tg.alice.send(map[string]any{"type": "message", "room": "town", "body": body, "ref": ref}); err != nil {
		t.Fatal(err)
	}
	a := tg.alice.expect(10*time.Second, "the ack of "+body, func(o map[string]any) bool {
		return o["ref"] == ref && (o["type"] == "ack" || o["type"] == "error")
	})
	if a["type"] != "ack" {
		t.Fatalf("%q got %v", body, a)
	}
}

// forge publishes, on the rogue's client, a stored message "from alice" into room town,
// as the stream's subject takes it, and on the room's live subject.
func (tg *target) forge(t *testing.T, nc *nats.Conn, body string) {
	t.Helper()
	data, _ := json.Marshal(map[string]any{"from": map[string]string{"id": tg.aliceID, "name": "alice"}, "body": body, "ts": time.Now().UnixMilli()})
	for _, subj := range []string{"distchat.room.town", "distchat.live.town"} {
		if err := nc.Publish(subj, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func hasBody(body string) func(map[string]any) bool {
	return func(o map[string]any) bool { return o["type"] == "message" && o["body"] == body }
}

// carries reports whether a message whose data contains text arrived on sub within d.
func carries(sub *nats.Subscription, text string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			return false
		}
		if strings.Contains(string(m.Data), text) {
			return true
		}
	}
}

// streamNames asks the rogue's side for the names of the cluster's streams.
func streamNames(nc *nats.Conn) (string, error) {
	m, err := nc.Request("$JS.API.STREAM.NAMES", nil, time.Second)
	if err != nil {
		return "", err
	}
	return string(m.Data), nil
}

func stateBucket(nc *nats.Conn) (jetstream.KeyValue, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return js.KeyValue(ctx, "DISTCHAT_STATE")
}

// retry calls f until it returns true, for at most 15 s (interest crosses routes a moment
// after they form).
func retry(t *testing.T, what string, f func(i int) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; !f(i); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("the positive control failed: %s", what)
		}
	}
}

// insider checks that a rogue server with what it takes (rs) joins the cluster and can
// do everything the attack did: the control for the tests that it cannot otherwise.
// It also checks, from the inside, that the store holds the session key only sealed.
func (tg *target) insider(t *testing.T, rs rogue) {
	t.Helper()
	srv, nc := startRogue(t, "insider", tg.routeAddr(), rs)
	retry(t, "a route", func(int) bool { time.Sleep(10 * time.Millisecond); return srv.NumRoutes() > 0 })
	retry(t, "the stream's name", func(int) bool {
		names, err := streamNames(nc)
		return err == nil && strings.Contains(names, `"DISTCHAT"`)
	})
	var kv jetstream.KeyValue
	retry(t, "the state bucket", func(int) bool {
		var err error
		kv, err = stateBucket(nc)
		return err == nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// The session key: sealed with the cluster secret, not in plain.
	var e jetstream.KeyValueEntry
	retry(t, "reading "+sealedKeyState, func(int) bool {
		var err error
		e, err = kv.Get(ctx, sealedKeyState)
		return err == nil
	})
	if p, err := kv.Get(ctx, plainKeyState); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("the state bucket's %s: %v, %v; want none", plainKeyState, p, err)
	}
	key, err := tg.secret.OpenSessionKey(string(e.Value()))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(e.Value()), hex.EncodeToString(key)) {
		t.Fatalf("the sealed value %q contains the key's hex", e.Value())
	}
	if _, err := jwt.Parse(tg.token, func(*jwt.Token) (any, error) { return key, nil }, jwt.WithValidMethods([]string{"HS256"})); err != nil {
		t.Fatalf("alice's token is not signed with the sealed key: %v", err)
	}

	// The traffic, both ways.
	sub, err := nc.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	retry(t, "a message of alice's on the rogue", func(i int) bool {
		body := fmt.Sprintf("control %d", i)
		tg.say(t, body)
		return carries(sub, body, 200*time.Millisecond)
	})
	retry(t, "a forged message reaching alice", func(i int) bool {
		body := fmt.Sprintf("forged control %d", i)
		tg.forge(t, nc, body)
		_, ok := tg.alice.waitFor(200*time.Millisecond, hasBody(body))
		return ok
	})
	nc.Close()
	srv.Shutdown()
	srv.WaitForShutdown()
}

// cutOff checks that the rogue (server srv, client nc) got no route and sees nothing of
// the cluster, within bounded waits.
func (tg *target) cutOff(t *testing.T, srv *natsserver.Server, nc *nats.Conn) {
	t.Helper()
	// nats-server counts a route it dialed from the moment the other end's INFO arrives,
	// before that end checked its credentials: for the few milliseconds of each attempt
	// (once a second) the rogue counts one. Refused, it has none.
	noRoute := func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for srv.NumRoutes() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the rogue server has %d routes", srv.NumRoutes())
			}
			time.Sleep(5 * time.Millisecond) // polling the route count
		}
	}
	noRoute()
	if names, err := streamNames(nc); err == nil && strings.Contains(names, "DISTCHAT") {
		t.Fatalf("the rogue lists the streams: %s", names)
	}
	if _, err := stateBucket(nc); err == nil {
		t.Fatal("the rogue opened the state bucket")
	}
	if m, err := nc.Request("$JS.API.DIRECT.GET.KV_DISTCHAT_STATE.$KV.DISTCHAT_STATE."+sealedKeyState, nil, time.Second); err == nil {
		t.Fatalf("the rogue read the sealed session key: %q", m.Data)
	}
	sub, err := nc.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	body := "for members only " + t.Name()
	tg.say(t, body)
	if carries(sub, body, time.Second) {
		t.Fatal("a message published on the node reached the rogue")
	}
	forged := "forged " + t.Name()
	tg.forge(t, nc, forged)
	if _, ok := tg.alice.waitFor(time.Second, hasBody(forged)); ok {
		t.Fatal("a message the rogue published reached alice")
	}
	noRoute()
}

// logsClean checks that no node logged the secret or the route credentials.
func (tg *target) logsClean(t *testing.T) {
	t.Helper()
	for i, p := range tg.c.procs {
		out := p.logs.String()
		for _, s := range []string{tg.user, tg.pass} {
			if strings.Contains(out, s) {
				t.Fatalf("node %d logged the route credentials", i+1)
			}
		}
		text, _ := os.ReadFile(tg.c.secret)
		if strings.Contains(out, strings.TrimSpace(string(text))) {
			t.Fatalf("node %d logged the cluster secret", i+1)
		}
	}
}

// TestClusterRoutesNeedTheSecret: a server without the cluster secret's credentials gets
// no route to a node, is logged at warn with its address, and sees and changes nothing; a
// node with another secret is not ready and says why.
func TestClusterRoutesNeedTheSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	c := startCluster(t, "--rate-limit", "0")
	tg := newTarget(t, c)
	if out := c.procs[0].logs.String(); strings.Contains(out, "not encrypted") {
		t.Fatalf("a loopback cluster was warned that its routes are not encrypted:\n%s", out)
	}

	t.Run("control: with the secret's credentials", func(t *testing.T) {
		tg.insider(t, rogue{user: tg.user, pass: tg.pass})
	})
	for _, tt := range []struct {
		name string
		r    rogue
	}{
		{"no credentials", rogue{}},
		{"wrong credentials", rogue{user: "mallory", pass: "guessed"}},
		{"the route user, a wrong password", rogue{user: tg.user, pass: "guessed"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			proxy := startRouteProxy(t, tg.routeAddr())
			mark := c.procs[0].logs.count()
			srv, nc := startRogue(t, "rogue", proxy.addr(), tt.r)
			waitRefusal(t, c.procs[0], mark, proxy, "cluster: refused a route without the cluster secret")
			tg.cutOff(t, srv, nc)
		})
	}

	t.Run("a node with another secret", func(t *testing.T) {
		ports := reservePorts(t, 2)
		route := fmt.Sprintf("127.0.0.1:%d", ports[1])
		p := startProcess(t, "--addr", fmt.Sprintf("127.0.0.1:%d", ports[0]), "--data", t.TempDir(), "--node-name", "node4",
			"--cluster-listen", route, "--cluster-peers", c.peers()+","+route,
			"--cluster-secret-file", writeSecretFile(t, newSecret(t)), "--log-level", "warn")
		p.logs.wait(0, "a node refused this node's route")
		deadline := time.Now().Add(20 * time.Second)
		for {
			reason := readyReason(t, p.base)
			if strings.Contains(reason, "refused this node's route") && strings.Contains(reason, "--cluster-secret") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node 4's readiness: %q, want it to say the others refused its routes", reason)
			}
			time.Sleep(100 * time.Millisecond) // polling /api/ready
		}
		for i := range 3 {
			if !c.ready(i) {
				t.Fatalf("node %d is not ready", i+1)
			}
		}
	})
	tg.logsClean(t)
}

// TestClusterMutualTLS: three nodes with route certificates of one CA form the cluster
// and chat across it; a server with the secret's credentials but no certificate of that
// CA (none, another CA's, or no TLS at all) gets no route and sees nothing, and so does
// one with a certificate of the CA but not the secret.
func TestClusterMutualTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	ca := nodetest.NewCA(t, "distchat")
	c := newCluster(t, "--rate-limit", "0")
	var certs []nodetest.TLSFiles
	for i := range 3 {
		certs = append(certs, ca.Issue(t, fmt.Sprintf("node%d", i+1), "127.0.0.1"))
	}
	c.nodeArgs = func(i int) []string {
		return []string{"--cluster-tls-cert", certs[i].Cert, "--cluster-tls-key", certs[i].Key, "--cluster-tls-ca", ca.File}
	}
	c.startAll()
	tg := newTarget(t, c)

	t.Run("chat across the nodes", func(t *testing.T) {
		bob := connectPeer(t, c.url(2), "bob", "town")
		tg.alice.expect(5*time.Second, "bob's join (node 3)", userEvent("join", "bob"))
		tg.say(t, "hello over TLS")
		bob.expect(5*time.Second, "alice's message (node 1)", hasBody("hello over TLS"))
		if err := bob.send(map[string]any{"type": "message", "room": "town", "body": "hi alice"}); err != nil {
			t.Fatal(err)
		}
		tg.alice.expect(5*time.Second, "bob's message", hasBody("hi alice"))
	})

	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(ca.File)
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("reading the test CA", err)
	}
	clientTLS := func(cert *nodetest.TLSFiles) *tls.Config {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
		if cert != nil {
			pair, err := tls.LoadX509KeyPair(cert.Cert, cert.Key)
			if err != nil {
				t.Fatal(err)
			}
			// Its own when it accepts a route, and presented whatever CAs the node asks
			// for when it dials (Go's client sends none that the node's CA did not sign).
			tc.Certificates = []tls.Certificate{pair}
			tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
		}
		return tc
	}
	good := ca.Issue(t, "insider", "127.0.0.1")
	t.Run("control: with the secret's credentials and a certificate of the CA", func(t *testing.T) {
		tg.insider(t, rogue{user: tg.user, pass: tg.pass, tls: clientTLS(&good)})
	})
	foreign := nodetest.NewCA(t, "mallory").Issue(t, "rogue", "127.0.0.1")
	for _, tt := range []struct {
		name string
		r    rogue
		msg  string
	}{
		{"the secret, no client certificate", rogue{user: tg.user, pass: tg.pass, tls: clientTLS(nil)}, "cluster: refused a route: TLS handshake failed"},
		{"the secret, another CA's certificate", rogue{user: tg.user, pass: tg.pass, tls: clientTLS(&foreign)}, "cluster: refused a route: TLS handshake failed"},
		{"the secret, no TLS", rogue{user: tg.user, pass: tg.pass}, "cluster: refused a route: TLS handshake failed"},
		{"a certificate of the CA, no secret", rogue{tls: clientTLS(&good)}, "cluster: refused a route without the cluster secret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			proxy := startRouteProxy(t, tg.routeAddr())
			mark := c.procs[0].logs.count()
			srv, nc := startRogue(t, "rogue", proxy.addr(), tt.r)
			waitRefusal(t, c.procs[0], mark, proxy, tt.msg)
			tg.cutOff(t, srv, nc)
		})
	}
	tg.logsClean(t)
}
