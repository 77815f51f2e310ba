package server

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// CertReloader serves a certificate and key read from two PEM files, and reads them again
// on Reload, so that a renewed certificate is served without a restart. Handshakes in
// progress keep the pair they started with.
type CertReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

// NewCertReloader reads the pair once; an unreadable or mismatched pair is an error that
// names the cause.
func NewCertReloader(certFile, keyFile string) (*CertReloader, error) {
	r := &CertReloader{certFile: certFile, keyFile: keyFile}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files again and serves the new pair from the next handshake on. When
// they cannot be read or do not match, it returns the error and the previous pair stays.
func (r *CertReloader) Reload() error {
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s with key %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert.Store(&cert)
	return nil
}

// NotAfter is when the served certificate expires.
func (r *CertReloader) NotAfter() time.Time {
	if c := r.cert.Load(); c != nil && c.Leaf != nil {
		return c.Leaf.NotAfter
	}
	return time.Time{}
}

// GetCertificate is for tls.Config.GetCertificate.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// TLSConfig is a server configuration that serves the reloader's certificate. The server
// adds HTTP/2 to it (see Config.TLS).
func (r *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}

// hstsMaxAge is a year, as browsers' preload lists expect.
const hstsMaxAge = 365 * 24 * time.Hour

// strictTransportSecurity tells browsers to use HTTPS for this host from now on. It is only
// sent on TLS responses, as browsers ignore it over plain HTTP.
func strictTransportSecurity(next echo.HandlerFunc) echo.HandlerFunc {
	value := fmt.Sprintf("max-age=%d", int(hstsMaxAge.Seconds()))
	return func(c echo.Context) error {
		c.Response().Header().Set("Strict-Transport-Security", value)
		return next(c)
	}
}
