package brokertest

import (
	"context"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/distchat/distchat/server/broker"
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

// Embedded opens a JetStream broker on an embedded NATS server in a fresh data directory.
// The caller closes it.
func Embedded(t testing.TB) *broker.JetStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := broker.OpenEmbedded(ctx, broker.EmbeddedOptions{DataDir: t.TempDir()}, broker.JetStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
