package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/broker/brokertest"
	"github.com/distchat/distchat/server/protocol"
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

// TestJetStreamRetention keeps the newest MaxMsgsPerRoom messages of each room: history
// starts at the oldest kept message, with has_more false, and recovery from before the
// retained range returns what is left.
func TestJetStreamRetention(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := broker.OpenEmbedded(ctx, broker.EmbeddedOptions{DataDir: t.TempDir()}, broker.JetStreamOptions{MaxMsgsPerRoom: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range 35 {
		for _, room := range []string{"a", "b"} {
			if _, _, err := b.Publish(ctx, protocol.Message{Room: room, Body: fmt.Sprint(room, i)}, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, room := range []string{"a", "b"} {
		got, more, err := b.Before(ctx, room, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 10 || more || got[0].Body != room+"25" || got[9].Body != room+"34" {
			t.Fatalf("room %s keeps %d messages (%v...), more=%v; want %s25..%s34", room, len(got), got[0].Body, more, room, room)
		}
		after, more, err := b.After(ctx, room, 0, 50)
		if err != nil || len(after) != 10 || more {
			t.Fatalf("room %s after 0: %d messages, more=%v, err=%v", room, len(after), more, err)
		}
	}
}
