package jetstream_test

import (
	"fmt"
	"testing"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/broker/brokertest"
	"github.com/distchat/distchat/server/broker/jetstream"
	"github.com/distchat/distchat/server/broker/jetstream/jstest"
	"github.com/distchat/distchat/server/protocol"
)

func TestJetStreamEmbedded(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) broker.Broker { return jstest.Embedded(t, jetstream.Options{}) })
}

// TestJetStreamExternal runs the suite against a separate NATS server listening on a
// loopback port, reached by URL as with --nats-url.
func TestJetStreamExternal(t *testing.T) {
	ns := jstest.StartNATS(t)
	n := 0
	brokertest.Run(t, func(t *testing.T) broker.Broker {
		n++
		// One stream per subtest, as the suite expects an empty broker each time.
		return jstest.Connect(t, ns.ClientURL(), jetstream.Options{
			Stream: fmt.Sprint("T", n), SubjectPrefix: fmt.Sprintf("t%d.room.", n), LivePrefix: fmt.Sprintf("t%d.live.", n),
		})
	})
}

// TestJetStreamRetention keeps the newest MaxMsgsPerRoom messages of each room: history
// starts at the oldest kept message, with has_more false, and recovery from before the
// retained range returns what is left.
func TestJetStreamRetention(t *testing.T) {
	b := jstest.Embedded(t, jetstream.Options{MaxMsgsPerRoom: 10})
	defer b.Close()
	for i := range 35 {
		for _, room := range []string{"a", "b"} {
			if _, _, err := brokertest.Publish(b, protocol.Message{Room: room, Body: fmt.Sprint(room, i)}, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx := t.Context()
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

// TestJetStreamPagesCostFewRequests pages back through a room of 2,000 messages spread
// among 20,000 others: a page of 50 costs a handful of storage requests, not one per
// message, and the pages are exact.
func TestJetStreamPagesCostFewRequests(t *testing.T) {
	b := jstest.Embedded(t, jetstream.Options{})
	defer b.Close()
	var want []protocol.Message
	done := make(chan error, 1024)
	for i := range 22000 {
		room := "noise"
		if i%11 == 0 {
			room = "r"
		}
		b.Publish(protocol.Message{Room: room, Body: fmt.Sprint(i)}, "", func(m protocol.Message, _ bool, err error) {
			if err == nil && m.Room == "r" {
				want = append(want, m) // acks of one connection arrive on one goroutine
			}
			done <- err
		})
		if i%1000 == 999 {
			for range 1000 {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	ctx := t.Context()
	before, pages := uint64(0), 0
	start := b.Stats().ReadRequests
	for more := true; more; pages++ {
		page, m, err := b.Before(ctx, "r", before, 50)
		if err != nil {
			t.Fatal(err)
		}
		n := len(want) - pages*50
		for i, msg := range page {
			if msg.ID != want[n-50+i].ID {
				t.Fatalf("page %d item %d: %s, want %s", pages, i, msg.Body, want[n-50+i].Body)
			}
		}
		before, more = page[0].Seq, m
	}
	if pages != 40 {
		t.Fatalf("%d pages for 2,000 messages, want 40", pages)
	}
	perPage := float64(b.Stats().ReadRequests-start) / float64(pages)
	t.Logf("%.1f storage requests per page of 50", perPage)
	if perPage > 10 {
		t.Fatalf("%.1f storage requests per page of 50: the search is not converging", perPage)
	}
}
