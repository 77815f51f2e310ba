package broker

import (
	"context"
	"errors"
)

// StorageState is the message stream's state as its leader reports it, for monitoring.
type StorageState struct {
	// Messages and Bytes are what the stream holds, every room together.
	Messages uint64
	Bytes    uint64
	// Leader is the name of the NATS server that leads the stream (the node's own server
	// when it is alone); empty while the stream has no leader.
	Leader string
	// Replicas are the stream's other copies, in a cluster.
	Replicas []ReplicaState
}

// ReplicaState is one copy of the stream other than the leader's.
type ReplicaState struct {
	// Name is the NATS server that keeps the copy.
	Name string
	// Current: the copy has everything the leader has.
	Current bool
	// Offline: the leader cannot reach the copy.
	Offline bool
	// Lag is how many operations the copy is behind the leader.
	Lag uint64
}

// StorageState asks the stream's leader for the stream's state: one request, for
// monitoring (never on a message's path).
func (b *JetStream) StorageState(ctx context.Context) (StorageState, error) {
	if b.closed.Load() {
		return StorageState{}, ErrClosed
	}
	if !b.isBootstrapped() {
		err := b.Ready()
		if err == nil {
			err = errors.New("the message stream is not set up yet")
		}
		return StorageState{}, err
	}
	info, err := b.streamInfo(ctx)
	if err != nil {
		return StorageState{}, err
	}
	st := StorageState{Messages: info.State.Msgs, Bytes: info.State.Bytes}
	if c := info.Cluster; c != nil {
		st.Leader = c.Leader
		for _, r := range c.Replicas {
			st.Replicas = append(st.Replicas, ReplicaState{Name: r.Name, Current: r.Current, Offline: r.Offline, Lag: r.Lag})
		}
	}
	return st, nil
}
