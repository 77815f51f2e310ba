package archive

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/broker/jetstream"
	"github.com/distchat/distchat/server/natsnode"
	"github.com/distchat/distchat/server/protocol"
)

// TestBackupInParts backs up with small parts, so that a snapshot spans several tar entries,
// and restores it.
func TestBackupInParts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := t.TempDir()
	b, node, err := openReadyInternal(t, natsnode.Options{DataDir: src}, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want []protocol.Message
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 400 {
		noise := make([]byte, 500)
		for j := range noise {
			noise[j] = byte(rng.Uint32())
		}
		m, _, err := publishWait(b, protocol.Message{Room: "r", Body: fmt.Sprintf("%d %x", i, noise)}, "")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, m)
	}
	var archive bytes.Buffer
	err = func() error {
		nc, err := nats.Connect("", nats.InProcessServer(node))
		if err != nil {
			return err
		}
		defer nc.Close()
		m, err := backupConn(ctx, nc, &archive, 4<<10)
		if err == nil && m.Streams[0].Parts < 2 {
			t.Errorf("a snapshot of %d bytes in parts of 4 KiB has %d parts", m.Streams[0].Size, m.Streams[0].Parts)
		}
		return err
	}()
	b.Close()
	node.Stop()
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if _, err := Restore(ctx, dst, bytes.NewReader(archive.Bytes())); err != nil {
		t.Fatal(err)
	}
	rb, rnode, err := openReadyInternal(t, natsnode.Options{DataDir: dst}, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rnode.Stop()
	defer rb.Close()
	got, more, err := rb.After(ctx, "r", 0, 1000)
	if err != nil || more || len(got) != len(want) {
		t.Fatalf("restored %d messages (more %v, %v), want %d", len(got), more, err, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("message %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// openReadyInternal starts an embedded NATS node and a broker on it, and waits until the
// broker is ready. The caller closes the broker, then stops the node.
func openReadyInternal(t *testing.T, no natsnode.Options, o jetstream.Options) (*jetstream.Broker, *natsnode.Node, error) {
	t.Helper()
	node, err := natsnode.Start(t.Context(), no)
	if err != nil {
		return nil, nil, err
	}
	nc, err := node.Connect()
	if err != nil {
		node.Stop()
		return nil, nil, err
	}
	b, err := jetstream.New(t.Context(), nc, o)
	if err != nil {
		nc.Close()
		node.Stop()
		return nil, nil, err
	}
	if err := b.WaitReady(t.Context()); err != nil {
		b.Close()
		node.Stop()
		return nil, nil, err
	}
	return b, node, nil
}

// publishWait stores m and waits for the outcome.
func publishWait(b broker.Broker, m protocol.Message, dedupeKey string) (protocol.Message, bool, error) {
	type result struct {
		m   protocol.Message
		dup bool
		err error
	}
	ch := make(chan result, 1)
	b.Publish(m, dedupeKey, func(m protocol.Message, dup bool, err error) { ch <- result{m, dup, err} })
	r := <-ch
	return r.m, r.dup, r.err
}
