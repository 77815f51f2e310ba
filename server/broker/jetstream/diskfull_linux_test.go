package jetstream_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/distchat/distchat/server/broker/brokertest"
	"github.com/distchat/distchat/server/broker/jetstream"
	"github.com/distchat/distchat/server/broker/jetstream/jstest"
	"github.com/distchat/distchat/server/natsnode"
	"github.com/distchat/distchat/server/natsnode/nodetest"
	"github.com/distchat/distchat/server/protocol"
)

// TestDiskFullStopsAndResumes fills the disk under a running store: nats-server stops
// JetStream at the first write that fails with ENOSPC, the broker reports it (not ready,
// saying why) and publishes fail; once space is freed, JetStream starts again by itself,
// without a restart, the broker is ready and every message stored before is still there.
func TestDiskFullStopsAndResumes(t *testing.T) {
	dir := nodetest.InSmallDisk(t, 96<<20)
	if dir == "" {
		return
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b, err := jetstream.OpenEmbedded(t.Context(), natsnode.Options{DataDir: filepath.Join(dir, "data"), Logger: log},
		jetstream.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	jstest.WaitReady(t, b)

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
	nodetest.FillDisk(t, filler)

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

// TestDiskFullAtStart covers a full disk that no write has failed on yet, which
// nats-server does not notice (it reports a full disk only once a write fails). A new
// store on a full disk is not ready, saying the disk is full, until space is freed; a disk
// merely low on space leaves the broker ready; one that fills under a running store makes
// it not ready, saying the disk is full; a store started on a disk that filled while it was
// stopped is not ready from the start, for the same reason. Once space is freed it is ready
// again by itself, without a restart, takes messages and still holds every one stored before.
func TestDiskFullAtStart(t *testing.T) {
	dir := nodetest.InSmallDisk(t, 8<<20)
	if dir == "" {
		return
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	open := func() *jetstream.Broker {
		b, err := jetstream.OpenEmbedded(t.Context(), natsnode.Options{DataDir: filepath.Join(dir, "data"), Logger: log},
			jetstream.Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var stored []protocol.Message
	publish := func(b *jetstream.Broker, body string) {
		t.Helper()
		m, _, err := brokertest.Publish(b, protocol.Message{Room: "disk", Body: body}, "")
		if err != nil {
			t.Fatalf("publish %q: %v", body, err)
		}
		stored = append(stored, m)
	}
	// A new store on a full disk cannot even be set up: not ready, saying why.
	filler := filepath.Join(dir, "filler")
	nodetest.FillDisk(t, filler)
	b := open()
	waitFor(t, "a new store to report the full disk", func() bool { return diskFull(b.Ready()) })
	t.Logf("new store on a full disk: %v", b.Ready())
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	jstest.WaitReady(t, b)
	for i := range 20 {
		publish(b, fmt.Sprint("before ", i))
	}

	// Low on space, but with more than one write needs: ready, and writes succeed.
	nodetest.FillDisk(t, filler)
	leaveFree(t, filler, 3<<20)
	notFullFor(t, b, 3*time.Second) // three probes
	publish(b, "while low")

	// The disk fills under the running store: not ready, before any write failed.
	nodetest.FillDisk(t, filler)
	waitFor(t, "the broker to report the full disk", func() bool { return diskFull(b.Ready()) })
	t.Logf("filled under a running store: %v", b.Ready())
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := b.WaitReady(ctx); err != nil {
		t.Fatalf("not ready again after space was freed: %v", err)
	}
	b.Close()

	// The disk fills while the store is stopped; it starts on it.
	nodetest.FillDisk(t, filler)
	b = open()
	defer b.Close()
	for start := time.Now(); time.Since(start) < 3*time.Second || !diskFull(b.Ready()); {
		err := b.Ready()
		if err == nil {
			t.Fatal("ready on a full disk")
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("on a full disk after 30 s: %v, want the full disk as the reason", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("started on a full disk: %v", b.Ready())

	// Space comes back: ready without a restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitReady(ctx); err != nil {
		t.Fatalf("not ready after space was freed: %v", err)
	}
	publish(b, "after")
	got, _, err := b.After(ctx, "disk", 0, len(stored)+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(stored) {
		t.Fatalf("the room holds %d messages; %d were acknowledged", len(got), len(stored))
	}
	for i := range got {
		if got[i].Seq != stored[i].Seq || got[i].Body != stored[i].Body {
			t.Fatalf("message %d is seq %d %q, want seq %d %q", i, got[i].Seq, got[i].Body, stored[i].Seq, stored[i].Body)
		}
	}
}

// TestMaxStoreBytesCappedToDisk asks for a store far larger than its disk: the stream's
// limit is lowered to what the disk can hold, and the log names both figures.
func TestMaxStoreBytesCappedToDisk(t *testing.T) {
	const size = 8 << 20
	dir := nodetest.InSmallDisk(t, size)
	if dir == "" {
		return
	}
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(io.MultiWriter(testWriter{t}, &logs), &slog.HandlerOptions{Level: slog.LevelInfo}))
	const asked = 1 << 40
	b, err := jetstream.OpenEmbedded(t.Context(), natsnode.Options{DataDir: filepath.Join(dir, "data"), MaxStoreBytes: asked, Logger: log},
		jetstream.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	jstest.WaitReady(t, b)
	limit := streamMaxBytes(t, b)
	t.Logf("asked for %d bytes on a %d-byte disk: the stream's MaxBytes is %d", int64(asked), size, limit)
	if limit <= 0 || limit > size {
		t.Fatalf("the stream's MaxBytes is %d on a %d-byte disk", limit, size)
	}
	for _, want := range []string{"is more than this disk can hold", fmt.Sprint("max_store_bytes=", int64(asked)), fmt.Sprint("store_limit_bytes=", limit)} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("the log does not say %q:\n%s", want, logs.String())
		}
	}
}

// TestAutoStoreBudgetFitsSmallDisk starts a store with no limit set on disks smaller than
// the automatic budget's usual floor: the limit is below the disk's size, and the store
// keeps within the disk, taking twice the disk's size in messages (the oldest discarded)
// and as many writes to the state bucket without a write failing or the node ever counting
// its disk as full. This checks the block layout that diskLimit counts on.
func TestAutoStoreBudgetFitsSmallDisk(t *testing.T) {
	for _, size := range []int{8 << 20, 16 << 20} {
		t.Run(fmt.Sprint(size>>20, "MiB"), func(t *testing.T) {
			dir := nodetest.InSmallDisk(t, size)
			if dir == "" {
				return
			}
			log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
			b, err := jetstream.OpenEmbedded(t.Context(), natsnode.Options{DataDir: filepath.Join(dir, "data"), Logger: log},
				jetstream.Options{Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			jstest.WaitReady(t, b)
			limit := streamMaxBytes(t, b)
			t.Logf("automatic limit on a %d-byte disk: %d", size, limit)
			if limit <= 0 || limit >= int64(size) {
				t.Fatalf("the stream's MaxBytes is %d on a %d-byte disk", limit, size)
			}
			body := strings.Repeat("x", 4000)
			lowest := int64(size)
			for i := range 2 * size / len(body) {
				m, _, err := brokertest.Publish(b, protocol.Message{Room: "small", Body: fmt.Sprint(i, body)}, "")
				if err != nil {
					t.Fatalf("publish %d (%d bytes so far) on a %d-byte disk: %v", i, i*len(body), size, err)
				}
				// Values far larger than read positions, so that the bucket's blocks fill too.
				if err := b.State().Put(t.Context(), fmt.Sprint("read.u", i%20, ".small"), []byte(fmt.Sprint(m.Seq, body[:1000]))); err != nil {
					t.Fatalf("state write %d on a %d-byte disk: %v", i, size, err)
				}
				if err := b.Ready(); err != nil {
					t.Fatalf("not ready after %d messages on a %d-byte disk: %v", i+1, size, err)
				}
				var st syscall.Statfs_t
				if err := syscall.Statfs(dir, &st); err == nil {
					lowest = min(lowest, int64(st.Bavail)*st.Bsize)
				}
			}
			t.Logf("the disk's free space fell to %d bytes at the lowest", lowest)
			st, err := b.StorageState(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("the stream holds %d messages, %d bytes", st.Messages, st.Bytes)
		})
	}
}

// diskFull reports whether err is readiness's answer for a full disk.
func diskFull(err error) bool {
	return err != nil && strings.Contains(err.Error(), "the disk is full (")
}

// leaveFree shortens filler, which filled its disk, so that n bytes are free.
func leaveFree(t *testing.T, filler string, n int64) {
	t.Helper()
	fi, err := os.Stat(filler)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filler, max(0, fi.Size()-n)); err != nil {
		t.Fatal(err)
	}
}

// notFullFor fails if b reports a full disk, or is not ready, at any time during d.
func notFullFor(t *testing.T, b *jetstream.Broker, d time.Duration) {
	t.Helper()
	for start := time.Now(); time.Since(start) < d; time.Sleep(20 * time.Millisecond) {
		if err := b.Ready(); err != nil {
			t.Fatalf("not ready %s into a disk low on space: %v", time.Since(start).Round(time.Millisecond), err)
		}
	}
}

// streamMaxBytes is the message stream's MaxBytes as its leader reports it.
func streamMaxBytes(t *testing.T, b *jetstream.Broker) int64 {
	t.Helper()
	js, err := natsjs.New(b.Conn())
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(t.Context(), jetstream.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().Config.MaxBytes
}

// lockedBuffer collects log lines written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
