package jetstream

import (
	"context"
	"errors"

	"github.com/distchat/distchat/server/broker"
)

// StorageState asks the stream's leader for the stream's state: one request, for
// monitoring (never on a message's path).
func (b *Broker) StorageState(ctx context.Context) (broker.StorageState, error) {
	if b.closed.Load() {
		return broker.StorageState{}, broker.ErrClosed
	}
	if !b.isBootstrapped() {
		err := b.Ready()
		if err == nil {
			err = errors.New("the message stream is not set up yet")
		}
		return broker.StorageState{}, err
	}
	info, err := b.streamInfo(ctx)
	if err != nil {
		return broker.StorageState{}, err
	}
	st := broker.StorageState{Messages: info.State.Msgs, Bytes: info.State.Bytes}
	if c := info.Cluster; c != nil {
		st.Leader = c.Leader
		for _, r := range c.Replicas {
			st.Replicas = append(st.Replicas, broker.ReplicaState{Name: r.Name, Current: r.Current, Offline: r.Offline, Lag: r.Lag})
		}
	}
	return st, nil
}
