package natsnode

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"
)

// Routes between the embedded servers of a cluster. A route is a NATS server's full access
// to the other's: every stream, the state bucket with the session key, every message as it
// passes. So a node accepts a route only with the credentials derived from the cluster
// secret (nats-server's route authorization, ClusterOpts.Username/Password), presents them
// in every route it dials (explicit routes carry them in their URL; routes to servers
// learnt from gossip get them from the same options), and, with route TLS, also only from
// a holder of a certificate of the cluster's CA.

// routeTLSTimeout bounds a route's TLS handshake (nats-server's default is 2 s; routes may
// cross a slower network than a client's).
const routeTLSTimeout = 5 * time.Second

// routeURL is the URL this node dials a peer's route address with.
func routeURL(hostport, user, password string) *url.URL {
	return &url.URL{Scheme: "nats-route", User: url.UserPassword(user, password), Host: hostport}
}

// RouteTLS makes the routes' TLS configuration from --cluster-tls-cert, --cluster-tls-key
// and --cluster-tls-ca: this node's certificate and key (PEM), and the CA (PEM) that signed
// the certificates of every node. Routes then speak TLS 1.2 or later both ways, and each
// side verifies the other's certificate against the CA: mutual TLS, as nats-server sets it
// up for routes from a configuration file (client certificates required and verified, the
// CA as the pool of both roots and client CAs).
//
// How nats-server checks names: the node that dials verifies the certificate against the
// host it dials (a name or IP of --cluster-peers; for a server it learnt of from gossip,
// that server's advertised IP, checked against the first host name among the peers if
// there is one, else the IP); the node that accepts checks only that the certificate is
// the CA's. So each node's certificate names (as DNS or IP subject alternative names) every
// address the others dial it by, and carries both the serverAuth and clientAuth extended
// key usages, since it serves both roles.
func RouteTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("route TLS certificate (--cluster-tls-cert, --cluster-tls-key): %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("route TLS CA (--cluster-tls-ca): %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("route TLS CA %s holds no PEM certificate", caFile)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("route TLS certificate: %w", err)
	}
	// Checked now rather than at the first handshake, where it would show as a refused route.
	inter := x509.NewCertPool()
	for _, der := range cert.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(c)
		}
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		opts := x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}
		if _, err := leaf.Verify(opts); err != nil {
			return nil, fmt.Errorf("route TLS certificate %s does not verify under the CA %s for both ends of a route (extended key usages serverAuth and clientAuth): %w", certFile, caFile, err)
		}
	}
	cert.Leaf = leaf
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}, nil
}

// loopbackOnly reports whether every route address of c (its own and its peers') is on
// this machine, where traffic between the nodes cannot be read from the network.
func loopbackOnly(c ClusterOptions) bool {
	for _, addr := range append([]string{c.Listen, c.Advertise}, c.Peers...) {
		if addr == "" {
			continue
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return false
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return false
		}
	}
	return true
}

// errNoClusterSecret refuses a cluster without route credentials.
var errNoClusterSecret = errors.New("a clustered node needs the cluster secret (--cluster-secret): without it anyone who reaches the route port joins the cluster")
