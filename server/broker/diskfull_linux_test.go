package broker_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/broker/brokertest"
	"github.com/distchat/distchat/server/protocol"
)

// TestDiskFullStopsAndResumes fills the disk under a running store: nats-server stops
// JetStream at the first write that fails with ENOSPC, the broker reports it (not ready,
// saying why) and publishes fail; once space is freed, JetStream starts again by itself,
// without a restart, the broker is ready and every message stored before is still there.
func TestDiskFullStopsAndResumes(t *testing.T) {
	dir := brokertest.InSmallDisk(t, 96<<20)
	if dir == "" {
		return
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b, err := broker.OpenEmbedded(t.Context(), broker.EmbeddedOptions{DataDir: filepath.Join(dir, "data"), Logger: log},
		broker.JetStreamOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	brokertest.WaitReady(t, b)

	var stored []protocol.Message
	publish := func(body string) error {
		m, _, err := brokertest.Publish(b, protocol.Message{Room: "disk", Body: body}, "")
		if err == nil {
			stored = append(stored, m)
		}
		return err
	}
	for i := range 20 {
		if err := publish(fmt.Sprint("before ", i)); err != nil {
			t.Fatal(err)
		}
	}

	// Something else fills the disk.
	filler := filepath.Join(dir, "filler")
	brokertest.FillDisk(t, filler)

	// Writes fail at once (nats-server buffers a block's writes, so a few may still be
	// taken), and the failure stops JetStream: not ready, saying why.
	body := strings.Repeat("y", 4000)
	failed := 0
	for i := 0; i < 10000 && failed == 0; i++ {
		if err := publish(fmt.Sprint("full ", i, body)); err != nil {
			t.Logf("publish %d on a full disk: %v", i, err)
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("10,000 publishes on a full disk all succeeded")
	}
	waitFor(t, "the broker to report the full disk", func() bool {
		err := b.Ready()
		return err != nil && strings.Contains(err.Error(), "disk") && strings.Contains(err.Error(), "full")
	})
	t.Logf("while full: %v", b.Ready())
	if err := publish("while full"); err == nil {
		t.Fatal("a publish succeeded while storage was stopped")
	}

	// Space comes back: storage restarts by itself and takes writes again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := b.WaitReady(ctx); err != nil {
		t.Fatalf("not ready again after space was freed: %v", err)
	}
	for i := range 5 {
		if err := publish(fmt.Sprint("after ", i)); err != nil {
			t.Fatalf("publish after space was freed: %v", err)
		}
	}

	// Nothing acknowledged was lost, in order, with nothing in between that was refused.
	got, _, err := b.After(ctx, "disk", 0, len(stored)+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(stored) {
		t.Fatalf("the room holds %d messages; %d were acknowledged", len(got), len(stored))
	}
	for i := range got {
		if got[i].Seq != stored[i].Seq || got[i].Body != stored[i].Body {
			t.Fatalf("message %d is seq %d %.12q, want seq %d %.12q", i, got[i].Seq, got[i].Body, stored[i].Seq, stored[i].Body)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitFor polls cond until it holds, for at most 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
