package natsnode

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/distchat/distchat/server/backoff"
)

// Storage is what runs on the node's JetStream (the message store, jetstream.Broker), as
// the disk watcher sees it.
type Storage interface {
	// Started reports whether the storage has been set up once: until then its own
	// start-up reports trouble and retries, and the watcher leaves it alone.
	Started() bool
	// Unavailable tells the storage why it cannot take writes, at every check while it
	// cannot.
	Unavailable(reason error)
	// Restarted runs once JetStream runs again on the same store: the storage sets itself
	// up again (its streams, its subscribers' catch-up) and returns nil once it is ready.
	Restarted() error
}

// WatchDisk looks after the node's JetStream until ctx ends. A write that fails (the disk
// is full) leaves it unable to store anything until it restarts: nats-server either stops
// JetStream or latches the error in the stream. The storage is then told why it cannot
// write (its readiness probe also finds out through DiskTrouble), and once enough space is
// free again this restarts JetStream on the same store and lets the storage set itself up
// again, retrying with a growing pause. log receives the storage's trouble and recovery.
func (n *Node) WatchDisk(ctx context.Context, s Storage, log *slog.Logger) {
	t := time.NewTicker(diskCheckEvery)
	defer t.Stop()
	var failedAt, nextTry time.Time
	pause := backoff.Backoff{Min: restartPause, Max: maxRestartPause}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		failure := n.failure()
		if failure == nil || !s.Started() {
			// Healthy, or not started yet (the storage's start-up reports why and retries).
			failedAt = time.Time{}
			pause.Reset()
			continue
		}
		free, _, known := diskSpace(n.dataDir)
		need := n.budget.resume
		if failedAt.IsZero() {
			failedAt, nextTry = time.Now(), time.Now()
			log.Error("message storage cannot write; it restarts by itself once the disk has space",
				"reason", failure.Error(), "data", n.dataDir, "free_bytes", free, "needed_bytes", need)
		}
		s.Unavailable(storageStopped(n, failure, free, known))
		if (known && free < need) || time.Now().Before(nextTry) {
			continue
		}
		err := n.restartJetStream()
		if err == nil {
			err = s.Restarted()
		}
		if err != nil {
			wait := pause.Next()
			log.Warn("restarting message storage failed; trying again", "err", err, "in", wait)
			nextTry = time.Now().Add(wait)
			continue
		}
		log.Info("message storage restarted", "stopped_for", time.Since(failedAt).Round(time.Second))
		failedAt = time.Time{}
		pause.Reset()
	}
}

// Pauses between two attempts to restart a JetStream that cannot write.
const (
	restartPause    = 2 * time.Second
	maxRestartPause = time.Minute
)

// restartJetStream stops the node's JetStream if it still runs and starts it again with
// the limits it had: the streams reload from disk, their write errors cleared.
func (n *Node) restartJetStream() error {
	if n.JetStreamEnabled() {
		if err := n.ShutdownJetStream(); err != nil {
			return fmt.Errorf("stopping JetStream: %w", err)
		}
	}
	n.writeFailure.Store(nil)
	// MaxMemory 0: NATS sizes memory storage itself and keeps the server's sync settings.
	cfg := &server.JetStreamConfig{StoreDir: n.dataDir, MaxStore: n.budget.server}
	if err := n.EnableJetStream(cfg); err != nil {
		return fmt.Errorf("starting JetStream: %w", err)
	}
	return nil
}
