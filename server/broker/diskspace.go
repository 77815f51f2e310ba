package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// How much of the disk the store may use, and when a full disk counts as free again.
const (
	// autoStoreShare is the share of (free space + the store's own size) that the message
	// stream may take when --max-store-bytes is not set. nats-server's own default is 75%
	// of the free space alone, which shrinks as the store grows (nats-server issue 3520):
	// counting the store's size keeps the budget stable across restarts.
	autoStoreShare = 0.70
	// minStoreBytes is the smallest automatic budget.
	minStoreBytes = 64 << 20
	// storeHeadroom is what JetStream may hold beyond the message stream (the state
	// bucket, raft logs): a tenth of the stream's limit, at least this much.
	storeHeadroom = 32 << 20
	// diskCheckEvery is how often the embedded server's health is looked at while
	// JetStream runs, and how often free space is measured once it stopped.
	diskCheckEvery = time.Second
	// resumeFreeBytes: JetStream is restarted once at least this much disk is free again
	// (and 1% of what the store may use, whichever is more).
	resumeFreeBytes = 16 << 20
)

// storeBudget is how many bytes the message stream may hold, and how many JetStream as a
// whole may hold on this server.
type storeBudget struct {
	// stream is the stream's MaxBytes; 0 when unknown (no limit).
	stream int64
	// server is the embedded server's JetStream MaxStore; 0 lets NATS pick.
	server int64
	// auto: nobody set the stream's limit; it was derived from the disk.
	auto bool
	// used is what the store held on disk at start, free what the disk had left.
	used, free int64
}

// planStore sizes the store in dataDir. A positive maxStoreBytes is the operator's
// choice; 0 derives it from the disk. The server's JetStream limit is the stream's plus
// headroom, and never below what the store already holds (a lower one stops JetStream
// at start with "resource limits exceeded").
func planStore(dataDir string, maxStoreBytes int64) storeBudget {
	used := dirSize(filepath.Join(dataDir, server.JetStreamStoreDir))
	free, known := diskFree(dataDir)
	b := storeBudget{stream: maxStoreBytes, used: used, free: free}
	if maxStoreBytes <= 0 {
		if !known {
			return storeBudget{used: used}
		}
		b.auto = true
		b.stream = max(minStoreBytes, int64(autoStoreShare*float64(free+used)))
	}
	b.server = max(b.stream+max(b.stream/10, storeHeadroom), used+storeHeadroom)
	return b
}

// dirSize adds up the sizes of the files under dir (0 when it does not exist).
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file that went away, an unreadable one: counted as empty
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// watchDisk looks after the embedded server's JetStream. A write that fails (the disk
// is full) leaves it unable to store anything until it restarts: nats-server either stops
// JetStream or latches the error in the stream. The broker is then not ready (probe says
// why), and once enough space is free again this restarts JetStream on the same store,
// sets the stream up and catches the rooms up, retrying with a growing pause.
func (b *JetStream) watchDisk(e *Embedded) {
	t := time.NewTicker(diskCheckEvery)
	defer t.Stop()
	var failedAt, nextTry time.Time
	pause := restartPause
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		failure := e.failure()
		if failure == nil || !b.isBootstrapped() {
			// Healthy, or not started yet (bootstrap reports why and retries).
			failedAt, pause = time.Time{}, restartPause
			continue
		}
		free, _ := diskFree(e.dataDir)
		need := max(resumeFreeBytes, e.budget.stream/100)
		if failedAt.IsZero() {
			failedAt, nextTry = time.Now(), time.Now()
			b.opts.Logger.Error("message storage cannot write; it restarts by itself once the disk has space",
				"reason", failure.Error(), "data", e.dataDir, "free_bytes", free, "needed_bytes", need)
		}
		b.setNotReady(storageStopped(e, failure))
		if free < need || time.Now().Before(nextTry) {
			continue
		}
		if err := b.restartJetStream(e); err != nil {
			b.opts.Logger.Warn("restarting message storage failed; trying again", "err", err, "in", pause)
			nextTry = time.Now().Add(pause)
			pause = min(2*pause, maxRestartPause)
			continue
		}
		b.opts.Logger.Info("message storage restarted", "stopped_for", time.Since(failedAt).Round(time.Second))
		failedAt, pause = time.Time{}, restartPause
	}
}

// Pauses between two attempts to restart a JetStream that cannot write.
const (
	restartPause    = 2 * time.Second
	maxRestartPause = time.Minute
)

// storageStopped explains to /api/ready why storage takes no writes, without the paths
// and store errors that the log has.
func storageStopped(e *Embedded, failure error) error {
	free, known := diskFree(e.dataDir)
	need := max(resumeFreeBytes, e.budget.stream/100)
	if known && free < need {
		return fmt.Errorf("storage stopped: the disk is full (%s free; writes resume by themselves once %s are)",
			friendlyBytes(free), friendlyBytes(need))
	}
	if !e.JetStreamEnabled() {
		return errors.New("storage stopped: JetStream is restarting")
	}
	return errors.New("storage stopped: a write to the disk failed; restarting")
}

// friendlyBytes writes n in the largest binary unit that keeps it at least 1.
func friendlyBytes(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n)/1024, 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, units[i])
}

// restartJetStream stops the embedded server's JetStream if it still runs, starts it
// again with the limits it had (streams reload from disk, their write errors cleared), and
// brings the stream back.
func (b *JetStream) restartJetStream(e *Embedded) error {
	if e.JetStreamEnabled() {
		if err := e.ShutdownJetStream(); err != nil {
			return fmt.Errorf("stopping JetStream: %w", err)
		}
	}
	e.writeFailure.Store(nil)
	// MaxMemory 0: NATS sizes memory storage itself and keeps the server's sync settings.
	cfg := &server.JetStreamConfig{StoreDir: e.dataDir, MaxStore: e.budget.server}
	if err := e.EnableJetStream(cfg); err != nil {
		return fmt.Errorf("starting JetStream: %w", err)
	}
	deadline := time.Now().Add(restartWait)
	for {
		err := b.ensureStream()
		if err == nil {
			break
		}
		if b.ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("setting the stream up: %w", err)
		}
		select {
		case <-b.ctx.Done():
			return b.ctx.Err()
		case <-time.After(bootstrapRetry):
		}
	}
	b.live.catchUpAll()
	b.probe(true)
	if err := b.Ready(); err != nil {
		return errors.Join(errors.New("storage restarted but is not ready"), err)
	}
	return nil
}

// restartWait bounds setting the stream up after a restart of JetStream.
const restartWait = 30 * time.Second
