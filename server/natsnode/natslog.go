package natsnode

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// natsLogger forwards the NATS server's log lines to slog. Notices are debug-level:
// distchat logs its own start-up. Route credentials never reach the log: lines are
// redacted first. Refused routes are reported at warn with the remote's address, and
// errors that say a write to the store failed are also passed to writeFailed.
type natsLogger struct {
	log         *slog.Logger
	writeFailed func(msg string)
	// refusedBy is told the address of a node that refused this node's route (its cluster
	// secret differs).
	refusedBy func(remote string)
	// secrets are replaced wherever they appear: the route user name and password.
	secrets []string
}

var (
	// routeLine is nats-server's prefix of a line about one route connection:
	// "<remote address> - rid:<id> - <what>".
	routeLine = regexp.MustCompile(`^(\S+) - rid:\d+ - (.*)$`)
	// urlCredentials is the user:password@ of a URL (route URLs carry the credentials).
	urlCredentials = regexp.MustCompile(`([a-z][a-z0-9+.-]*://)[^/@\s]+@`)
)

const redacted = "[REDACTED]"

// text formats a line and removes credentials from it.
func (l natsLogger) text(format string, v []any) string {
	msg := fmt.Sprintf(format, v...)
	for _, s := range l.secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, redacted)
		}
	}
	return urlCredentials.ReplaceAllString(msg, "${1}"+redacted+"@")
}

func (l natsLogger) Noticef(format string, v ...any) { l.log.Debug("nats: " + l.text(format, v)) }
func (l natsLogger) Warnf(format string, v ...any)   { l.log.Warn("nats: " + l.text(format, v)) }
func (l natsLogger) Fatalf(format string, v ...any)  { l.log.Error("nats: " + l.text(format, v)) }
func (l natsLogger) Debugf(format string, v ...any)  { l.log.Debug("nats: " + l.text(format, v)) }
func (l natsLogger) Tracef(format string, v ...any)  {}

func (l natsLogger) Errorf(format string, v ...any) {
	msg := l.text(format, v)
	if m := routeLine.FindStringSubmatch(msg); m != nil && l.routeRefusal(m[1], m[2]) {
		return
	}
	if strings.Contains(msg, "Error trying to connect to route") {
		// Peers that are not up yet, or down: expected in a cluster, retried by NATS.
		l.log.Warn("nats: " + msg)
		return
	}
	if l.writeFailed != nil && isWriteFailure(msg) {
		l.writeFailed(msg)
	}
	l.log.Error("nats: " + msg)
}

// routeRefusal logs nats-server's report of a refused route (what) with the remote's
// address, and reports whether it was one. The user name a refused route presented is
// left out: it is the remote's to choose.
func (l natsLogger) routeRefusal(remote, what string) bool {
	switch {
	case strings.HasPrefix(what, "authentication error"):
		// This node refused it: no credentials, or not the cluster secret's.
		l.log.Warn("cluster: refused a route without the cluster secret", "remote", remote)
	case strings.HasPrefix(what, "TLS route handshake error"), strings.HasPrefix(what, "TLS handshake timeout"):
		// Either end refused the other's certificate (or the other spoke no TLS).
		reason := strings.TrimPrefix(strings.TrimPrefix(what, "TLS route handshake error"), ": ")
		l.log.Warn("cluster: refused a route: TLS handshake failed", "remote", remote, "reason", reason)
	case strings.Contains(what, "Authorization Violation"):
		// The remote refused this node's credentials.
		l.log.Warn("cluster: a node refused this node's route: is --cluster-secret the same on every node?", "remote", remote)
		if l.refusedBy != nil {
			l.refusedBy(remote)
		}
	default:
		return false
	}
	return true
}

// isWriteFailure recognises nats-server's reports of a failed write to its store.
func isWriteFailure(msg string) bool {
	return strings.Contains(msg, "critical write error") || strings.Contains(msg, "Critical write error") ||
		strings.Contains(msg, "no space left on device")
}
