package main

import (
	"context"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/distchat/distchat/server/auth"
	"github.com/distchat/distchat/server/broker"
)

// sessionKeyState is the shared state's key of a cluster's session key.
const sessionKeyState = "meta.session-key"

// openAuth makes the authenticator: distchat's own session tokens, signed with --secret,
// or a key made once and kept in the data directory (a node alone) or in the cluster's
// shared storage (every node signs with the same key); and, with --auth-jwt-key, the JWTs
// of the deployment's own sign-in.
func openAuth(ctx context.Context, o *options, b broker.Broker, log *slog.Logger) (*auth.Authenticator, error) {
	opts := auth.Options{AllowGuests: o.allowGuests, TTL: o.sessionTTL, ExternalWindow: o.sessionTTL}
	if o.authJWTKey != "" {
		ext, err := auth.LoadExternal(o.authJWTKey)
		if err != nil {
			return nil, err
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
	switch {
	case o.secret != "":
		return a, a.SetKey([]byte(o.secret))
	case o.store == "memory":
		log.Warn("session tokens are signed with a key kept in memory: people are new guests after a restart")
		return a, a.SetKey(auth.NewKey())
	case o.clusterListen != "" || o.natsURL != "":
		// Shared through storage, once it is ready; the node is not ready until then.
		go shareSessionKey(ctx, a, b.State(), log)
		return a, nil
	default:
		key, err := auth.LoadOrCreateKey(filepath.Join(o.data, auth.KeyFile))
		if err != nil {
			return nil, err
		}
		return a, a.SetKey(key)
	}
}

// shareSessionKey reads the cluster's session key from storage, the first node to get
// there creating it, retrying until storage answers or ctx ends.
func shareSessionKey(ctx context.Context, a *auth.Authenticator, st broker.State, log *slog.Logger) {
	for wait := 100 * time.Millisecond; ctx.Err() == nil; wait = min(2*wait, 2*time.Second) {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		stored, err := st.Create(cctx, sessionKeyState, []byte(hex.EncodeToString(auth.NewKey())))
		cancel()
		if err == nil {
			key, derr := hex.DecodeString(string(stored))
			if derr == nil && a.SetKey(key) == nil {
				log.Info("session key shared by the cluster is in use")
				return
			}
			log.Error("the cluster's session key in storage is not valid; set --secret", "err", derr)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}
