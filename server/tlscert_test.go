package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/distchat/distchat/server"
)

// writeTestCert writes a self-signed certificate for 127.0.0.1 with the given serial and
// its key, and returns the certificate.
func writeTestCert(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Duration(serial) * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func servedSerial(t *testing.T, r *server.CertReloader) int64 {
	t.Helper()
	c, err := r.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil || c == nil || c.Leaf == nil {
		t.Fatalf("GetCertificate: %v, %v", c, err)
	}
	return c.Leaf.SerialNumber.Int64()
}

func TestCertReloader(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := server.NewCertReloader(certFile, keyFile); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing files: %v, want the file's error", err)
	}
	first := writeTestCert(t, certFile, keyFile, 1)
	r, err := server.NewCertReloader(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if servedSerial(t, r) != 1 || !r.NotAfter().Equal(first.NotAfter) {
		t.Fatalf("serving %d until %v", servedSerial(t, r), r.NotAfter())
	}
	second := writeTestCert(t, certFile, keyFile, 2)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if servedSerial(t, r) != 2 || !r.NotAfter().Equal(second.NotAfter) {
		t.Fatalf("after reload serving %d until %v", servedSerial(t, r), r.NotAfter())
	}
	// A key that does not belong to the certificate: the reload fails, the old pair stays.
	otherKey := filepath.Join(dir, "other-key.pem")
	writeTestCert(t, filepath.Join(dir, "other-cert.pem"), otherKey, 3)
	key, err := os.ReadFile(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err == nil {
		t.Fatal("reload of a mismatched pair succeeded")
	}
	if servedSerial(t, r) != 2 {
		t.Fatalf("after a failed reload serving %d, want 2", servedSerial(t, r))
	}
}

// TestTLSDoesNotOfferWebSocketsOverHTTP2 checks what lets browsers open WebSockets on a
// listener that speaks HTTP/2: the server negotiates h2 for ordinary requests but does not
// announce extended CONNECT (RFC 8441), so a browser upgrades on an HTTP/1.1 connection,
// which is what gorilla/websocket handles.
func TestTLSDoesNotOfferWebSocketsOverHTTP2(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	cert := writeTestCert(t, certFile, keyFile, 1)
	r, err := server.NewCertReloader(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, server.Config{TLS: r.TLSConfig()})
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	conn, err := tls.Dial("tcp", ts.addr, &tls.Config{RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	_ = conn.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading the server's SETTINGS: %v", err)
		}
		sf, ok := f.(*http2.SettingsFrame)
		if !ok || sf.IsAck() {
			continue
		}
		if v, ok := sf.Value(http2.SettingEnableConnectProtocol); ok && v != 0 {
			t.Fatal("the server announces WebSockets over HTTP/2 (SETTINGS_ENABLE_CONNECT_PROTOCOL), which the WebSocket handler cannot serve")
		}
		return
	}
}

func TestNoHSTSWithoutTLS(t *testing.T) {
	ts := startServer(t, server.Config{})
	resp, _ := ts.get(t, "/api/health")
	if v := resp.Header.Get("Strict-Transport-Security"); v != "" {
		t.Fatalf("plain HTTP response has Strict-Transport-Security %q", v)
	}
}
