package jetstream_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/distchat/distchat/server/broker/brokertest"
	"github.com/distchat/distchat/server/broker/jetstream"
	"github.com/distchat/distchat/server/broker/jetstream/jstest"
	"github.com/distchat/distchat/server/natsnode"
	"github.com/distchat/distchat/server/protocol"
)

// TestMaxStoreBytesDiscardsOldest fills a store with a 1 MiB limit three times over: every
// publish succeeds, the stream stays within the limit, the oldest messages are gone and
// the newest are all there.
func TestMaxStoreBytesDiscardsOldest(t *testing.T) {
	const limit = 1 << 20
	b, err := jetstream.OpenEmbedded(t.Context(), natsnode.Options{DataDir: t.TempDir(), MaxStoreBytes: limit}, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	jstest.WaitReady(t, b)

	body := strings.Repeat("x", 1000)
	const n = 3000 // about 3 MiB
	var last protocol.Message
	for i := range n {
		m, _, err := brokertest.Publish(b, protocol.Message{Room: "full", Body: fmt.Sprint(i, body)}, "")
		if err != nil {
			t.Fatalf("publish %d of %d into a store at its limit: %v", i, n, err)
		}
		last = m
	}
	st, err := b.StorageState(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Bytes > limit {
		t.Fatalf("the stream holds %d bytes, over its %d limit", st.Bytes, limit)
	}
	if st.Messages == 0 || st.Messages >= n {
		t.Fatalf("the stream holds %d of %d messages; want the oldest discarded, the newest kept", st.Messages, n)
	}
	if _, err := b.Get(t.Context(), "full", 1); err == nil {
		t.Fatal("the first message is still there after the store went three times over its limit")
	}
	page, more, err := b.Before(t.Context(), "full", 0, 50)
	if err != nil || len(page) != 50 || !more {
		t.Fatalf("latest page: %d messages, more=%v, err=%v", len(page), more, err)
	}
	if page[49].Seq != last.Seq || !strings.HasPrefix(page[49].Body, fmt.Sprint(n-1)) {
		t.Fatalf("latest message is seq %d %.10q, want seq %d (the last published)", page[49].Seq, page[49].Body, last.Seq)
	}
}

// TestStreamSizeLimit checks how a node's limit meets the stream's: an operator's limit is
// applied as set (raised or lowered), a limit derived from a node's disk only ever lowers
// the stream's, so a cluster's stream fits its smallest disk.
func TestStreamSizeLimit(t *testing.T) {
	ns := jstest.StartNATS(t)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		what    string
		limit   int64
		ceiling bool
		want    int64
	}{
		{"no limit on a new stream", 0, false, -1},
		{"a node's disk sets one", 8 << 20, true, 8 << 20},
		{"a larger disk does not raise it", 64 << 20, true, 8 << 20},
		{"a smaller disk lowers it", 4 << 20, true, 4 << 20},
		{"no limit keeps the stream's", 0, false, 4 << 20},
		{"an operator raises it", 16 << 20, false, 16 << 20},
		{"an operator lowers it", 2 << 20, false, 2 << 20},
	} {
		b := jstest.Connect(t, ns.ClientURL(), jetstream.Options{MaxBytes: step.limit, MaxBytesCeiling: step.ceiling})
		b.Close()
		s, err := js.Stream(t.Context(), jetstream.DefaultStream)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().Config.MaxBytes; got != step.want {
			t.Fatalf("%s: the stream's MaxBytes is %d, want %d", step.what, got, step.want)
		}
		if d := s.CachedInfo().Config.Discard; d != natsjs.DiscardOld {
			t.Fatalf("%s: discard policy %v, want DiscardOld", step.what, d)
		}
	}
}
