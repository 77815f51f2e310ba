package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedOptions configure the NATS server that runs inside distchat.
type EmbeddedOptions struct {
	// DataDir holds JetStream's files (NATS puts them in DataDir/jetstream).
	DataDir string
	// ServerName names this node; empty picks one.
	ServerName string
	// SyncAlways makes JetStream fsync every write: acknowledged messages then survive a
	// power loss, not only a crash of the process, at a cost in throughput.
	SyncAlways bool
	// Logger receives the server's warnings and errors.
	Logger *slog.Logger
}

// StartEmbedded starts a NATS server with JetStream file storage inside this process. It
// listens on no port: distchat talks to it in-process.
func StartEmbedded(o EmbeddedOptions) (*server.Server, error) {
	if o.DataDir == "" {
		return nil, errors.New("embedded NATS needs a data directory")
	}
	opts := &server.Options{
		ServerName: o.ServerName,
		JetStream:  true,
		StoreDir:   o.DataDir,
		DontListen: true,
		NoSigs:     true,
		SyncAlways: o.SyncAlways,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configuring embedded NATS: %w", err)
	}
	if o.Logger != nil {
		ns.SetLoggerV2(natsLogger{o.Logger}, false, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded NATS did not start (data directory %s)", o.DataDir)
	}
	return ns, nil
}

// natsLogger forwards the NATS server's log lines to slog. Notices are debug-level:
// distchat logs its own start-up.
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) {
	l.log.Debug("nats: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Warnf(format string, v ...any) { l.log.Warn("nats: " + fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any) {
	l.log.Error("nats: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Errorf(format string, v ...any) {
	l.log.Error("nats: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Debugf(format string, v ...any) {
	l.log.Debug("nats: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Tracef(format string, v ...any) {}
