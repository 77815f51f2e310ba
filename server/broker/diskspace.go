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

// watchDisk looks after the embedded server's JetStream. When a write fails because the
// disk is full, nats-server stops JetStream (to restart only with the process, on its
// own): the broker is then not ready, and once enough space is free again this starts
// JetStream again on the same store, sets the stream up and catches the rooms up.
func (b *JetStream) watchDisk(e *Embedded) {
	t := time.NewTicker(diskCheckEvery)
	defer t.Stop()
	stopped := false
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		if e.JetStreamEnabled() {
			stopped = false
			continue
		}
		if !b.isBootstrapped() {
			continue // not started yet: bootstrap reports why
		}
		free, _ := diskFree(e.dataDir)
		need := max(resumeFreeBytes, e.budget.stream/100)
		if !stopped {
			stopped = true
			b.opts.Logger.Error("message storage stopped: the disk is full; it restarts by itself once space is freed",
				"data", e.dataDir, "free", free, "needed", need)
		}
		b.setNotReady(fmt.Errorf("storage stopped: the disk holding %s is full (%d bytes free; it restarts once %d are)", e.dataDir, free, need))
		if free < need {
			continue
		}
		if err := b.restartJetStream(e); err != nil {
			b.opts.Logger.Warn("restarting message storage", "err", err)
			continue
		}
		stopped = false
	}
}

// restartJetStream starts the embedded server's JetStream again after it stopped, with the
// limits it had, and brings the stream back.
func (b *JetStream) restartJetStream(e *Embedded) error {
	// MaxMemory 0: NATS sizes memory storage itself and keeps the server's sync settings.
	cfg := &server.JetStreamConfig{StoreDir: e.dataDir, MaxStore: e.budget.server}
	if err := e.EnableJetStream(cfg); err != nil {
		return err
	}
	for {
		err := b.ensureStream()
		if err == nil {
			break
		}
		if b.ctx.Err() != nil {
			return b.ctx.Err()
		}
		b.setNotReady(fmt.Errorf("restarting storage: %w", err))
		select {
		case <-b.ctx.Done():
			return b.ctx.Err()
		case <-time.After(bootstrapRetry):
		}
	}
	b.opts.Logger.Info("message storage restarted after the disk was full")
	b.live.catchUpAll()
	b.probe(false)
	if err := b.Ready(); err != nil {
		return errors.Join(errors.New("storage restarted but is not ready"), err)
	}
	return nil
}
