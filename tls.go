package main

import (
	"crypto/tls"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/distchat/distchat/server"
)

// loadTLS reads --tls-cert and --tls-key (without them it returns a nil config: plain
// HTTP) and, until stop is called, handles SIGHUP: it reads the pair again, so that a
// renewed certificate is served without a restart. A reload that fails keeps the
// certificate being served and logs a warning. Without TLS, SIGHUP is logged and ignored
// rather than ending the process, so that a service manager's reload is always safe.
func loadTLS(o *options, log *slog.Logger) (cfg *tls.Config, stop func(), err error) {
	var certs *server.CertReloader
	if o.tlsCert != "" {
		if certs, err = server.NewCertReloader(o.tlsCert, o.tlsKey); err != nil {
			return nil, nil, err
		}
		cfg = certs.TLSConfig()
		log.Info("TLS on", "cert", o.tlsCert, "expires", certs.NotAfter())
		if strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") {
			// Browsers would then open WebSockets as HTTP/2 streams, which cannot be upgraded.
			log.Warn("GODEBUG=http2xconnect=1 announces WebSockets over HTTP/2, which distchat does not serve: browsers will fail to connect")
		}
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-hup:
				if certs == nil {
					log.Info("SIGHUP: nothing to reload (no TLS certificate)")
					continue
				}
				if err := certs.Reload(); err != nil {
					log.Warn("TLS certificate not reloaded: still serving the previous one", "err", err)
					continue
				}
				log.Info("TLS certificate reloaded", "cert", o.tlsCert, "expires", certs.NotAfter())
			case <-done:
				return
			}
		}
	})
	return cfg, func() {
		signal.Stop(hup)
		close(done)
		wg.Wait()
	}, nil
}
