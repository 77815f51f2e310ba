package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/distchat/distchat/server"
	"github.com/distchat/distchat/server/auth"
	"github.com/distchat/distchat/server/backoff"
	"github.com/distchat/distchat/server/broker"
)

// Ending sessions: one person's (sign-out everywhere, an operator's revocation) and
// everyone's (a new session key).
//
// A revocation is a key of the shared state, revoked.<person>, holding when it was made:
// every node watches them, refuses tokens of that person issued before, and closes the
// person's connections opened before. A new session key replaces the stored one (sealed
// with the cluster secret, or plain with an external NATS without one): every node watches
// it, signs with it from then on and closes every connection opened before. A node alone
// keeps its key in <data>/session.key and its revocations in its state too.
type sessions struct {
	auth    *auth.Authenticator
	revoked *auth.Revocations
	state   broker.State
	// keys is set when the session key lives in the shared state; keyFile when it is a
	// node's own file; neither with --secret (or --store memory: a key of this process).
	keys    *sessionKeys
	keyFile string
	fixed   bool
	log     *slog.Logger
	srv     *server.Server
}

var _ server.SessionControl = (*sessions)(nil)

// revokedPrefix starts the state keys of revocations.
const revokedPrefix = "revoked."

type revocation struct {
	User   string `json:"user"`
	Before int64  `json:"before"` // Unix milliseconds
}

func revocationKey(userID string) string {
	sum := sha256.Sum256([]byte(userID))
	return revokedPrefix + hex.EncodeToString(sum[:16])
}

// Revoke implements server.SessionControl.
func (s *sessions) Revoke(ctx context.Context, userID string) error {
	now := time.Now()
	v, _ := json.Marshal(revocation{User: userID, Before: now.UnixMilli()})
	if err := s.state.Put(ctx, revocationKey(userID), v); err != nil {
		return err
	}
	s.revoked.Set(userID, now) // here at once; the watch brings it to the other nodes
	s.srv.DisconnectUser(userID, now, "your sessions were ended; sign in again")
	return nil
}

// RotateKey implements server.SessionControl.
func (s *sessions) RotateKey(ctx context.Context) error {
	key := auth.NewKey()
	switch {
	case s.keys != nil:
		// Here at once; every other node's watch sets it too.
		if err := s.keys.replace(ctx, key); err != nil {
			return err
		}
		s.keyChanged(key)
		return nil
	case s.keyFile != "":
		if err := writeKeyFile(s.keyFile, key); err != nil {
			return err
		}
		s.keyChanged(key)
		return nil
	}
	return server.ErrKeyFixed
}

// keyChanged starts signing with key and ends the sessions signed with the one before.
func (s *sessions) keyChanged(key []byte) {
	now := time.Now()
	if err := s.auth.SetKey(key); err != nil {
		s.log.Error("the new session key cannot be used", "err", err)
		return
	}
	s.log.Info("the session key was rotated: every earlier session has ended")
	s.srv.DisconnectAll(now, "the server's sessions were renewed; sign in again")
}

// watch follows the revocations (and, in a cluster, the session key) until ctx ends,
// starting again after storage trouble.
func (s *sessions) watch(ctx context.Context) {
	go s.retry(ctx, "revocations", func(ctx context.Context) error {
		return s.state.Watch(ctx, revokedPrefix, func(_ string, v []byte) {
			var r revocation
			if v == nil || json.Unmarshal(v, &r) != nil || r.User == "" {
				return
			}
			before := time.UnixMilli(r.Before)
			s.revoked.Set(r.User, before)
			s.srv.DisconnectUser(r.User, before, "your sessions were ended; sign in again")
		})
	})
	if s.keys != nil {
		go s.retry(ctx, "the session key", func(ctx context.Context) error {
			return s.keys.watch(ctx, func(key []byte) {
				// Before the node has its first key, share sets it; afterwards a key
				// other than the one in use is a rotation.
				if s.auth.Ready() == nil && !s.auth.HasKey(key) {
					s.keyChanged(key)
				}
			})
		})
	}
}

// retry runs a watch again and again, after a growing pause, until ctx ends.
func (s *sessions) retry(ctx context.Context, what string, watch func(context.Context) error) {
	pause := backoff.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for ctx.Err() == nil {
		start := time.Now()
		err := watch(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			pause.Reset() // it watched for a while: trouble anew, not the same trouble
		}
		wait := pause.Next()
		s.log.Debug("watching "+what+" again", "err", err, "in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// writeKeyFile replaces the session key file at once (a new file renamed over the old
// one), readable by its owner only.
func writeKeyFile(path string, key []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".session-key-*")
	if err != nil {
		return fmt.Errorf("writing the session key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the session key: %w", err)
	}
	_, werr := tmp.WriteString(hex.EncodeToString(key) + "\n")
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("writing the session key: %w", werr)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing the session key: %w", errors.Join(err))
	}
	return nil
}
