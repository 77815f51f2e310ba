package jetstream

import (
	"context"
	"errors"
	"fmt"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/distchat/distchat/server/broker"
)

// The shared state lives in a JetStream key-value bucket next to the stream, with the same
// replicas: read positions, direct-message rooms, topics, the session key (sealed with the
// cluster secret: see signin.go). It is created
// when the stream is (a cluster cannot create replicated assets without a majority, so not
// later, on demand).

// stateBucket names the bucket of stream s.
func stateBucket(s string) string { return s + "_STATE" }

// ensureState creates or updates the state bucket with r replicas, never fewer than it has.
func (b *Broker) ensureState(ctx context.Context, r int) error {
	name := stateBucket(b.opts.Stream)
	if kv, err := b.js.KeyValue(ctx, name); err == nil {
		st, err := kv.Status(ctx)
		if err != nil {
			return fmt.Errorf("state bucket %s: %w", name, err)
		}
		if info := st.(*natsjs.KeyValueBucketStatus).StreamInfo(); info.Config.Replicas >= r {
			b.state = &jsState{b: b, kv: kv}
			return nil
		}
	}
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, natsjs.KeyValueConfig{
		Bucket:      name,
		Description: "distchat shared state: read positions, direct messages, topics",
		History:     1,
		Storage:     natsjs.FileStorage,
		Replicas:    r,
	})
	if err != nil {
		return fmt.Errorf("creating state bucket %s with %d replicas: %w", name, r, err)
	}
	b.state = &jsState{b: b, kv: kv}
	return nil
}

// State implements broker.Broker.
func (b *Broker) State() broker.State { return stateOf{b} }

// stateOf answers unavailable until the bucket exists.
type stateOf struct{ b *Broker }

func (s stateOf) get() (*jsState, error) {
	if !s.b.isBootstrapped() {
		return nil, s.b.Ready()
	}
	return s.b.state, nil
}

func (s stateOf) Get(ctx context.Context, key string) ([]byte, error) {
	st, err := s.get()
	if err != nil {
		return nil, err
	}
	e, err := st.kv.Get(ctx, key)
	if errors.Is(err, natsjs.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, s.b.readErr(err)
	}
	return e.Value(), nil
}

func (s stateOf) Create(ctx context.Context, key string, value []byte) ([]byte, error) {
	st, err := s.get()
	if err != nil {
		return nil, err
	}
	if _, err := st.kv.Create(ctx, key, value); err == nil {
		return value, nil
	} else if !errors.Is(err, natsjs.ErrKeyExists) {
		return nil, fmt.Errorf("%w: storing %s: %w", broker.ErrUnavailable, key, err)
	}
	return s.Get(ctx, key)
}

func (s stateOf) Put(ctx context.Context, key string, value []byte) error {
	st, err := s.get()
	if err != nil {
		return err
	}
	if _, err := st.kv.Put(ctx, key, value); err != nil {
		return fmt.Errorf("%w: storing %s: %w", broker.ErrUnavailable, key, err)
	}
	return nil
}

func (s stateOf) Update(ctx context.Context, key string, change func([]byte) []byte) error {
	st, err := s.get()
	if err != nil {
		return err
	}
	for {
		var old []byte
		var rev uint64
		e, err := st.kv.Get(ctx, key)
		switch {
		case err == nil:
			old, rev = e.Value(), e.Revision()
		case !errors.Is(err, natsjs.ErrKeyNotFound):
			return s.b.readErr(err)
		}
		v := change(old)
		if v == nil {
			return nil
		}
		if rev == 0 {
			_, err = st.kv.Create(ctx, key, v)
		} else {
			_, err = st.kv.Update(ctx, key, v, rev)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, natsjs.ErrKeyExists) && ctx.Err() == nil {
			var apiErr *natsjs.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode != natsjs.JSErrCodeStreamWrongLastSequence {
				return fmt.Errorf("%w: storing %s: %w", broker.ErrUnavailable, key, err)
			}
		}
		if ctx.Err() != nil {
			return s.b.readErr(ctx.Err())
		}
		// Changed by someone else since the read: read it again.
	}
}

func (s stateOf) List(ctx context.Context, prefix string) (map[string][]byte, error) {
	st, err := s.get()
	if err != nil {
		return nil, err
	}
	// A watcher delivers every current value, then nil: one subscription, not a request
	// per key.
	w, err := st.kv.Watch(ctx, prefix+">", natsjs.IgnoreDeletes())
	if err != nil {
		return nil, s.b.readErr(err)
	}
	defer func() { _ = w.Stop() }()
	out := make(map[string][]byte)
	for {
		select {
		case e := <-w.Updates():
			if e == nil {
				return out, nil
			}
			out[e.Key()] = e.Value()
		case <-ctx.Done():
			return nil, s.b.readErr(ctx.Err())
		}
	}
}

// Watch implements broker.State with a watcher of the bucket.
func (s stateOf) Watch(ctx context.Context, prefix string, fn func(key string, value []byte)) error {
	st, err := s.get()
	if err != nil {
		return err
	}
	w, err := st.kv.Watch(ctx, prefix+">")
	if err != nil {
		return s.b.readErr(err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case e, ok := <-w.Updates():
			switch {
			case !ok:
				return s.b.readErr(errors.New("the watch of the state ended"))
			case e == nil: // the current values are all delivered
			case e.Operation() == natsjs.KeyValuePut:
				fn(e.Key(), e.Value())
			default:
				fn(e.Key(), nil)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Purge implements broker.State with the bucket's purge: the key's values go, with its history,
// and a purge marker stays in their place.
func (s stateOf) Purge(ctx context.Context, key string) error {
	st, err := s.get()
	if err != nil {
		return err
	}
	if err := st.kv.Purge(ctx, key); err != nil {
		return fmt.Errorf("%w: purging %s: %w", broker.ErrUnavailable, key, err)
	}
	return nil
}

type jsState struct {
	b  *Broker
	kv natsjs.KeyValue
}
