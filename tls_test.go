package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// testCert is a self-signed certificate for 127.0.0.1 and localhost.
type testCert struct {
	cert            *x509.Certificate
	certPEM, keyPEM []byte
}

func newTestCert(t *testing.T, serial int64) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "distchat test"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
	}
}

// write replaces the files as a renewal tool would: a new file renamed over the old one.
func (c testCert) write(t *testing.T, certFile, keyFile string) {
	t.Helper()
	for path, data := range map[string][]byte{certFile: c.certPEM, keyFile: c.keyPEM} {
		tmp := path + ".new"
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
}

// servedSerial does one TLS handshake and returns the serial number of the certificate
// the server presented.
func servedSerial(t *testing.T, addr string, roots *x509.CertPool) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestTLS runs the command with --tls-cert and --tls-key: HTTPS with HTTP/2 for the page,
// HSTS, a chat over wss://, and on SIGHUP the renewed certificate (or, when the new files
// are broken, the previous one).
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first, second := newTestCert(t, 1), newTestCert(t, 2)
	first.write(t, certFile, keyFile)
	roots := x509.NewCertPool()
	roots.AddCert(first.cert)
	roots.AddCert(second.cert)

	s := startRun(t, "--addr", "127.0.0.1:0", "--store", "memory", "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(s.base, "https://") {
		t.Fatalf("listening on %s, want https://", s.base)
	}
	addr := strings.TrimPrefix(s.base, "https://")

	// A browser-like client: HTTP/2 when the server offers it.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for _, path := range []string{"/", "/api/health"} {
		resp, err := hc.Get(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
			t.Fatalf("GET %s: %s over %s, want 200 over HTTP/2", path, resp.Status, resp.Proto)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
			t.Fatalf("GET %s: Strict-Transport-Security %q", path, got)
		}
	}

	// WebSockets over the same listener: the upgrade is an HTTP/1.1 request, as browsers
	// send it to a server that does not offer WebSockets over HTTP/2.
	wss := "wss://" + addr + "/ws?room=tls&name="
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: roots, NextProtos: []string{"http/1.1"}}, HandshakeTimeout: 10 * time.Second}
	alice, _, err := d.Dial(wss+"alice", nil)
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	defer alice.Close()
	if p := alice.UnderlyingConn().(*tls.Conn).ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Fatalf("WebSocket connection negotiated %q", p)
	}
	bob, _, err := d.Dial(wss+"bob", nil)
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	defer bob.Close()
	a, b := &client{t: t, conn: alice}, &client{t: t, conn: bob}
	a.expect("welcome")
	b.expect("welcome")
	a.send(map[string]any{"type": "message", "room": "tls", "body": "over TLS", "ref": "r1"})
	a.expect("ack")
	if m := b.expect("message"); m["body"] != "over TLS" {
		t.Fatalf("bob got %v", m)
	}

	if got := servedSerial(t, addr, roots); got != 1 {
		t.Fatalf("serving certificate %d, want 1", got)
	}
	// Renewal: new files, then SIGHUP.
	second.write(t, certFile, keyFile)
	mark := s.logs.count()
	sighup(t)
	s.logs.wait(mark, "TLS certificate reloaded")
	if got := servedSerial(t, addr, roots); got != 2 {
		t.Fatalf("after SIGHUP serving certificate %d, want 2", got)
	}
	// A broken renewal keeps the certificate being served.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	mark = s.logs.count()
	sighup(t)
	if line := s.logs.wait(mark, "TLS certificate not reloaded"); !strings.Contains(line, "level=WARN") {
		t.Fatalf("failed reload logged as %q, want a warning", line)
	}
	if got := servedSerial(t, addr, roots); got != 2 {
		t.Fatalf("after a failed reload serving certificate %d, want 2", got)
	}
	// Existing WebSockets are unaffected by reloads.
	b.send(map[string]any{"type": "message", "room": "tls", "body": "still here", "ref": "r2"})
	for m := a.expect("message"); m["body"] != "still here"; m = a.expect("message") {
		if m["body"] != "over TLS" {
			t.Fatalf("alice got %v", m)
		}
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("exit %d; logs:\n%s", code, s.logs)
	}
}

// sighup sends SIGHUP to this process, where run is listening for it.
func sighup(t *testing.T) {
	t.Helper()
	self, err := os.FindProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if err := self.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

func TestTLSFlagErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	newTestCert(t, 1).write(t, certFile, keyFile)
	other := filepath.Join(dir, "other-key.pem")
	if err := os.WriteFile(other, newTestCert(t, 2).keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--tls-cert", certFile}, 2, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-key", keyFile}, 2, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-cert", filepath.Join(dir, "missing.pem"), "--tls-key", keyFile}, 1, "missing.pem: no such file or directory"},
		{[]string{"--tls-cert", certFile, "--tls-key", other}, 1, "private key does not match public key"},
	} {
		var out, errOut bytes.Buffer
		args := append([]string{"--addr", "127.0.0.1:0", "--store", "memory"}, tt.args...)
		code := run(context.Background(), args, noEnv, &out, &errOut)
		if code != tt.code || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d mentioning %q", tt.args, code, errOut.String(), tt.code, tt.want)
		}
		if out.Len() > 0 {
			t.Errorf("%q: started anyway: %s", tt.args, out.String())
		}
	}
}

// TestSIGHUPWithoutTLS: a reload signal to a node without TLS is logged, and the node
// keeps serving.
func TestSIGHUPWithoutTLS(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--store", "memory")
	mark := s.logs.count()
	sighup(t)
	s.logs.wait(mark, "nothing to reload")
	resp, err := http.Get(s.base + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health after SIGHUP: %d", resp.StatusCode)
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
