// Package jstest starts what tests of the JetStream broker and of its users need: a NATS
// server to connect to (as --nats-url does), and brokers on an embedded or an external
// NATS, ready to store.
package jstest

import (
	"context"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/distchat/distchat/server/broker/jetstream"
	"github.com/distchat/distchat/server/natsnode"
)

// StartNATS starts a real NATS server with JetStream on a free loopback port, for tests of
// --nats-url, and stops it when the test ends.
func StartNATS(t testing.TB) *natsserver.Server {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// Embedded opens a JetStream broker on an embedded NATS server in a fresh data directory
// and waits until it is ready. The caller closes it.
func Embedded(t testing.TB, o jetstream.Options) *jetstream.Broker {
	t.Helper()
	b, err := jetstream.OpenEmbedded(t.Context(), natsnode.Options{DataDir: t.TempDir()}, o)
	if err != nil {
		t.Fatal(err)
	}
	WaitReady(t, b)
	return b
}

// Connect opens a JetStream broker on the NATS server at url and waits until it is ready.
// The caller closes it.
func Connect(t testing.TB, url string, o jetstream.Options) *jetstream.Broker {
	t.Helper()
	b, err := jetstream.Connect(t.Context(), url, o)
	if err != nil {
		t.Fatal(err)
	}
	WaitReady(t, b)
	return b
}

// WaitReady waits until b can store and deliver messages.
func WaitReady(t testing.TB, b *jetstream.Broker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.WaitReady(ctx); err != nil {
		_ = b.Close()
		t.Fatalf("broker not ready: %v", err)
	}
}
