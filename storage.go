package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/distchat/distchat/server/broker"
)

// openBroker opens the message store the options name: the embedded NATS JetStream under
// --data (default), an external NATS (--nats-url), or memory.
func openBroker(ctx context.Context, o *options, log *slog.Logger) (broker.Broker, error) {
	if o.store == "memory" {
		log.Warn("messages are kept in memory only: a restart loses the history")
		return broker.NewMemory(int(o.roomMaxMessages), 2*time.Minute), nil
	}
	jo := broker.JetStreamOptions{MaxMsgsPerRoom: o.roomMaxMessages, MaxAge: o.roomMaxAge, Logger: log}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if o.natsURL != "" {
		return broker.Connect(ctx, o.natsURL, jo)
	}
	if err := os.MkdirAll(o.data, 0o750); err != nil {
		return nil, fmt.Errorf("creating the data directory: %w", err)
	}
	start := time.Now()
	b, err := broker.OpenEmbedded(ctx, broker.EmbeddedOptions{DataDir: o.data, SyncAlways: o.syncAlways, Logger: log}, jo)
	if err == nil {
		log.Info("message store ready", "store", "embedded NATS JetStream", "data", o.data, "took", time.Since(start).Round(time.Millisecond))
	}
	return b, err
}

// defaultNodeName is the host name, which is stable and, on most networks, unique.
func defaultNodeName() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "distchat"
}
