package main

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/distchat/distchat/server/auth"
	"github.com/distchat/distchat/server/backoff"
	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/clustersecret"
)

// The shared state's keys of a cluster's session key.
const (
	// sealedKeyState holds the session key sealed with the cluster secret
	// (clustersecret.SealSessionKey): whoever reads the state bucket without the secret
	// learns nothing of it.
	sealedKeyState = "meta.session-key.sealed"
	// plainKeyState holds it in plain hex: what older versions stored, and still the way
	// of an external NATS without a cluster secret. A node with the secret that finds it
	// there seals it and removes it, history included.
	plainKeyState = "meta.session-key"
)

// openAuth makes the authenticator: distchat's own session tokens, signed with --secret,
// or a key made once and kept in the data directory (a node alone) or in the cluster's
// shared storage (every node signs with the same key), sealed with the cluster secret;
// and, with --auth-jwt-key, the JWTs of the deployment's own sign-in. The sessions it
// returns end sessions (revocations, a new key); they start watching once the server is
// made (sessions.srv, sessions.watch).
func openAuth(ctx context.Context, o *options, st broker.State, log *slog.Logger) (*auth.Authenticator, *sessions, error) {
	ttl := cmp.Or(o.sessionTTL, auth.DefaultTTL)
	revoked := auth.NewRevocations(ttl)
	opts := auth.Options{AllowGuests: o.allowGuests, TTL: o.sessionTTL, ExternalWindow: o.sessionTTL, Revoked: revoked.Revoked}
	if o.authJWTKey != "" {
		ext, err := auth.LoadExternal(o.authJWTKey)
		if err != nil {
			return nil, nil, err
		}
		ext.Bind(o.authJWTAudience, o.authJWTIssuer)
		opts.External = ext
		log.Info("sign-in: accepting JWTs signed with --auth-jwt-key", "guests", o.allowGuests,
			"audience", o.authJWTAudience, "issuer", o.authJWTIssuer)
		if !ext.Bound() {
			log.Warn("sign-in: set --auth-jwt-audience and --auth-jwt-issuer: without them, a JWT the same key signed for another application signs people in here too")
		}
	}
	a := auth.New(opts)
	ss := &sessions{auth: a, revoked: revoked, state: st, log: log}
	switch {
	case o.secret != "":
		ss.fixed = true
		return a, ss, a.SetKey([]byte(o.secret))
	case o.store == "memory":
		log.Warn("session tokens are signed with a key kept in memory: people are new guests after a restart")
		ss.fixed = true
		return a, ss, a.SetKey(auth.NewKey())
	case o.clusterListen != "" || o.natsURL != "":
		// An embedded cluster always has the secret (parseOptions); an external NATS
		// may not.
		if o.clusterKey.IsZero() {
			log.Warn("the session key is stored unencrypted in the external NATS (the state bucket): whoever can read it can sign session tokens; set --cluster-secret to store it sealed")
		}
		// Shared through storage, once it is ready; the node is not ready until then.
		ss.keys = &sessionKeys{state: st, secret: o.clusterKey, external: o.natsURL != "", log: log}
		go ss.keys.share(ctx, a)
		return a, ss, nil
	default:
		ss.keyFile = filepath.Join(o.data, auth.KeyFile)
		key, err := auth.LoadOrCreateKey(ss.keyFile)
		if err != nil {
			return nil, nil, err
		}
		return a, ss, a.SetKey(key)
	}
}

// sessionKeys finds the cluster's session key in the shared state, the first node to
// look creating it.
type sessionKeys struct {
	state    broker.State
	secret   clustersecret.Secret // zero: the key is kept in plain (external NATS only)
	external bool                 // the state is an external NATS's, not the embedded cluster's
	log      *slog.Logger
}

// errKeyFinal is an answer about the stored key that no retry changes.
var errKeyFinal = errors.New("session key")

// share gives a the cluster's session key, retrying until storage answers or ctx ends.
// When the stored key cannot be used (sealed with another secret, damaged) a is told why,
// and the node stays not ready: a new key would sign everyone out, and the nodes would
// no longer agree on it.
func (k sessionKeys) share(ctx context.Context, a *auth.Authenticator) {
	retry := backoff.Backoff{Min: 100 * time.Millisecond, Max: 2 * time.Second}
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		key, err := k.load(cctx)
		cancel()
		if err == nil {
			if err = a.SetKey(key); err == nil {
				k.log.Info("session key shared by the cluster is in use", "sealed", !k.secret.IsZero())
				return
			}
			err = fmt.Errorf("%w: %w", errKeyFinal, err)
		}
		if errors.Is(err, errKeyFinal) {
			a.Fail(err)
			k.log.Error("sign-in is not available: the cluster's session key", "err", err)
			return
		}
		retry.Wait(ctx)
	}
}

// load reads (or creates) the session key. Errors wrapping errKeyFinal are final; others
// are storage's, worth another try.
func (k sessionKeys) load(ctx context.Context) ([]byte, error) {
	sealed, err := k.state.Get(ctx, sealedKeyState)
	if err != nil {
		return nil, err
	}
	if k.secret.IsZero() {
		if sealed != nil {
			return nil, fmt.Errorf("%w: it is stored sealed with a cluster secret: start this node with it (--cluster-secret)", errKeyFinal)
		}
		plain, err := k.state.Create(ctx, plainKeyState, []byte(hex.EncodeToString(auth.NewKey())))
		if err != nil {
			return nil, err
		}
		return decodePlainKey(plain)
	}
	plain, err := k.state.Get(ctx, plainKeyState)
	if err != nil {
		return nil, err
	}
	if sealed == nil {
		// The first node here seals the key (an older version's, so that people stay
		// signed in, or a new one); Create makes every node agree on one.
		key := auth.NewKey()
		if plain != nil {
			if key, err = decodePlainKey(plain); err != nil {
				return nil, err
			}
		}
		s, err := k.secret.SealSessionKey(key)
		if err != nil {
			return nil, err
		}
		if sealed, err = k.state.Create(ctx, sealedKeyState, []byte(s)); err != nil {
			return nil, err
		}
	}
	key, err := k.secret.OpenSessionKey(string(sealed))
	if errors.Is(err, clustersecret.ErrWrongSecret) {
		return nil, fmt.Errorf("%w: the one in storage was sealed with another cluster secret: every node needs the secret it was sealed with (--cluster-secret)", errKeyFinal)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errKeyFinal, err)
	}
	if plain != nil {
		// Sealed now (by this node or another): the plain copy goes, with its history.
		if err := k.state.Purge(ctx, plainKeyState); err != nil {
			return nil, err
		}
		k.warnExposed()
	}
	return key, nil
}

// replace stores a new session key in the shared state (sealed, when there is a secret).
// Every node's watch then starts signing with it.
func (k *sessionKeys) replace(ctx context.Context, key []byte) error {
	if k.secret.IsZero() {
		return k.state.Put(ctx, plainKeyState, []byte(hex.EncodeToString(key)))
	}
	sealed, err := k.secret.SealSessionKey(key)
	if err != nil {
		return err
	}
	return k.state.Put(ctx, sealedKeyState, []byte(sealed))
}

// watch calls fn with the stored session key whenever it changes (and once with the key as
// it is), until ctx ends.
func (k *sessionKeys) watch(ctx context.Context, fn func(key []byte)) error {
	want := sealedKeyState
	if k.secret.IsZero() {
		want = plainKeyState
	}
	return k.state.Watch(ctx, "meta.", func(name string, v []byte) {
		if name != want || v == nil {
			return
		}
		var key []byte
		var err error
		if k.secret.IsZero() {
			key, err = decodePlainKey(v)
		} else {
			key, err = k.secret.OpenSessionKey(string(v))
		}
		if err != nil {
			k.log.Error("the cluster's new session key cannot be opened; signing with the one before", "err", err)
			return
		}
		fn(key)
	})
}

// warnExposed tells the operator that the key was readable until now.
func (k sessionKeys) warnExposed() {
	who := "anyone who could reach a node's route port (--cluster-listen accepted routes without credentials before this version)"
	if k.external {
		who = "anyone who could read the external NATS's state bucket"
	}
	k.log.Warn("the session key had been stored unencrypted: it is sealed with the cluster secret now and the plain copy deleted, "+
		"but until now "+who+" could read it and sign session tokens for anyone; once every node runs this version, make a new one (distchat admin rotate-key)",
		"state_key", plainKeyState)
}

// decodePlainKey decodes a key stored in plain hex.
func decodePlainKey(v []byte) ([]byte, error) {
	key, err := hex.DecodeString(string(v))
	if err != nil || len(key) < auth.MinKeyBytes {
		return nil, fmt.Errorf("%w: the one in storage (%s) is not valid; set --secret", errKeyFinal, plainKeyState)
	}
	return key, nil
}
