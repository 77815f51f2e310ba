package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/broker/brokertest"
)

func TestJetStreamEmbedded(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) broker.Broker {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		b, err := broker.OpenEmbedded(ctx, broker.EmbeddedOptions{DataDir: t.TempDir()}, broker.JetStreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

// TestJetStreamExternal runs the suite against a separate NATS server listening on a
// loopback port, reached by URL as with --nats-url.
func TestJetStreamExternal(t *testing.T) {
	ns, err := server.NewServer(&server.Options{
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
	n := 0
	brokertest.Run(t, func(t *testing.T) broker.Broker {
		n++
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// One stream per subtest, as the suite expects an empty broker each time.
		b, err := broker.Connect(ctx, ns.ClientURL(), broker.JetStreamOptions{
			Stream: "T" + string(rune('A'+n)), SubjectPrefix: "t" + string(rune('a'+n)) + ".room.",
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}
