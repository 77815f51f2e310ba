package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/broker/brokertest"
)

func TestJetStreamEmbedded(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) broker.Broker { return brokertest.Embedded(t) })
}

// TestJetStreamExternal runs the suite against a separate NATS server listening on a
// loopback port, reached by URL as with --nats-url.
func TestJetStreamExternal(t *testing.T) {
	ns := brokertest.StartNATS(t)
	n := 0
	brokertest.Run(t, func(t *testing.T) broker.Broker {
		n++
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// One stream per subtest, as the suite expects an empty broker each time.
		b, err := broker.Connect(ctx, ns.ClientURL(), broker.JetStreamOptions{
			Stream: fmt.Sprint("T", n), SubjectPrefix: fmt.Sprintf("t%d.room.", n),
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}
