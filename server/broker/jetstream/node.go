package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/distchat/distchat/server/natsnode"
)

// The embedded NATS server under a broker (natsnode.Node). The broker asks it why storage
// may be unavailable (its disk, refused routes), how far its own copy of the stream is,
// and lets its disk watcher restart JetStream after a full disk (diskHooks); the node
// knows nothing of the broker.

// OpenEmbedded starts a NATS server with JetStream inside this process and a broker on it.
// It returns once the server runs; the stream is set up in the background (a cluster may
// wait for its peers). Close stops both.
//
// ctx is the broker's lifetime: when it ends, background work and reads stop (Close is
// still needed to release everything).
func OpenEmbedded(ctx context.Context, no natsnode.Options, o Options) (*Broker, error) {
	ns, err := natsnode.Start(ctx, no)
	if err != nil {
		return nil, err
	}
	nc, err := ns.Connect()
	if err != nil {
		ns.Stop()
		return nil, fmt.Errorf("connecting to embedded NATS: %w", err)
	}
	if o.Replicas == 0 {
		o.Replicas = min(3, no.Cluster.Size())
	}
	if o.MaxBytes == 0 {
		o.MaxBytes, o.MaxBytesCeiling = ns.StoreLimit()
	}
	b, err := newBroker(ctx, nc, o, ns)
	if err != nil {
		nc.Close()
		ns.Stop()
		return nil, err
	}
	return b, nil
}

// diskHooks is the broker as the node's disk watcher sees it.
type diskHooks struct{ b *Broker }

var _ natsnode.Storage = diskHooks{}

func (h diskHooks) Started() bool            { return h.b.isBootstrapped() }
func (h diskHooks) Unavailable(reason error) { h.b.setNotReady(reason) }

// Restarted sets the stream up again after JetStream restarted, catches the rooms up
// (messages stored meanwhile were not republished) and checks readiness at once.
func (h diskHooks) Restarted() error {
	b := h.b
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
