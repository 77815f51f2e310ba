package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/distchat/distchat/server/auth"
	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/broker/jetstream/jstest"
	"github.com/distchat/distchat/server/clustersecret"
	"github.com/distchat/distchat/server/protocol"
)

func testSecret(t *testing.T, s string) clustersecret.Secret {
	t.Helper()
	sec, err := clustersecret.New(s + " of thirty-two characters or more")
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

// shareOnce runs what a node does at start to get the cluster's session key, and returns
// its authenticator (ready or not) and what it logged.
func shareOnce(t *testing.T, st broker.State, s clustersecret.Secret) (*auth.Authenticator, string) {
	t.Helper()
	var logs bytes.Buffer
	a := auth.New(auth.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sessionKeys{state: st, secret: s, log: slog.New(slog.NewTextHandler(&logs, nil))}.share(ctx, a)
	return a, logs.String()
}

func stateValue(t *testing.T, st broker.State, key string) []byte {
	t.Helper()
	v, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// tokenFor signs a session token for a new user with a.
func tokenFor(t *testing.T, a *auth.Authenticator) (protocol.User, string) {
	t.Helper()
	u := protocol.User{ID: auth.NewUserID(), Name: "alice"}
	tok, err := a.Issue(u)
	if err != nil {
		t.Fatal(err)
	}
	return u, tok
}

// TestSessionKeySealed: nodes with the cluster secret agree on one key, kept only sealed:
// no plain entry, and the sealed value shows nothing of the key.
func TestSessionKeySealed(t *testing.T) {
	st := broker.NewMemory(0, time.Minute).State()
	s := testSecret(t, "one")
	var wg sync.WaitGroup
	nodes := make([]*auth.Authenticator, 5)
	for i := range nodes {
		wg.Go(func() { nodes[i], _ = shareOnce(t, st, s) })
	}
	wg.Wait()
	u, tok := tokenFor(t, nodes[0])
	for i, a := range nodes {
		if err := a.Ready(); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		if got, _, err := a.Identify(tok, ""); err != nil || got.ID != u.ID {
			t.Fatalf("node %d does not accept node 0's token: %v, %v", i, got, err)
		}
	}
	if p := stateValue(t, st, plainKeyState); p != nil {
		t.Fatalf("the key is stored in plain too: %q", p)
	}
	sealed := stateValue(t, st, sealedKeyState)
	key, err := s.OpenSessionKey(string(sealed))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), hex.EncodeToString(key)) || bytes.Contains(sealed, key) {
		t.Fatalf("the sealed value %q shows the key", sealed)
	}
}

// TestSessionKeyMigration: a key an older version stored in plain is adopted (its tokens
// stay valid), sealed, and its plain entry purged, with a warning.
func TestSessionKeyMigration(t *testing.T) {
	st := broker.NewMemory(0, time.Minute).State()
	old := auth.NewKey()
	if _, err := st.Create(context.Background(), plainKeyState, []byte(hex.EncodeToString(old))); err != nil {
		t.Fatal(err)
	}
	before := auth.New(auth.Options{})
	if err := before.SetKey(old); err != nil {
		t.Fatal(err)
	}
	u, tok := tokenFor(t, before)

	s := testSecret(t, "one")
	a, logs := shareOnce(t, st, s)
	if got, _, err := a.Identify(tok, ""); err != nil || got.ID != u.ID {
		t.Fatalf("after the migration an old token gives %v, %v", got, err)
	}
	if p := stateValue(t, st, plainKeyState); p != nil {
		t.Fatalf("the plain key is still stored: %q", p)
	}
	if key, err := s.OpenSessionKey(string(stateValue(t, st, sealedKeyState))); err != nil || !bytes.Equal(key, old) {
		t.Fatalf("sealed: %x, %v; want the old key", key, err)
	}
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "stored unencrypted") || !strings.Contains(logs, "rotate") {
		t.Fatalf("no warning about the key that was readable; logs:\n%s", logs)
	}
	// The next node finds it sealed and warns no more.
	if _, logs := shareOnce(t, st, s); strings.Contains(logs, "WARN") {
		t.Fatalf("a second node warned:\n%s", logs)
	}
}

// TestSessionKeyWrongSecret: a node whose secret does not open the stored key is not
// ready and says why; it makes no key of its own.
func TestSessionKeyWrongSecret(t *testing.T) {
	st := broker.NewMemory(0, time.Minute).State()
	first, _ := shareOnce(t, st, testSecret(t, "one"))
	_, tok := tokenFor(t, first)
	sealed := stateValue(t, st, sealedKeyState)

	a, logs := shareOnce(t, st, testSecret(t, "two"))
	err := a.Ready()
	if !errors.Is(err, auth.ErrNotReady) || !strings.Contains(err.Error(), "sealed with another cluster secret") || !strings.Contains(err.Error(), "--cluster-secret") {
		t.Fatalf("readiness with another secret: %v", err)
	}
	if !strings.Contains(logs, "level=ERROR") {
		t.Fatalf("not logged as an error:\n%s", logs)
	}
	if _, _, err := a.Identify(tok, ""); !errors.Is(err, auth.ErrNotReady) {
		t.Fatalf("a token on the node with another secret: %v", err)
	}
	if now := stateValue(t, st, sealedKeyState); !bytes.Equal(now, sealed) || stateValue(t, st, plainKeyState) != nil {
		t.Fatal("the node with another secret changed the stored key")
	}
}

// TestSessionKeyWithoutSecret: an external NATS without a cluster secret keeps the key in
// plain, as before; a node without the secret of a key stored sealed is not ready.
func TestSessionKeyWithoutSecret(t *testing.T) {
	st := broker.NewMemory(0, time.Minute).State()
	a, _ := shareOnce(t, st, clustersecret.Secret{})
	if err := a.Ready(); err != nil {
		t.Fatal(err)
	}
	if p := stateValue(t, st, plainKeyState); len(p) != 2*auth.MinKeyBytes {
		t.Fatalf("plain key %q", p)
	}

	st = broker.NewMemory(0, time.Minute).State()
	shareOnce(t, st, testSecret(t, "one"))
	a, _ = shareOnce(t, st, clustersecret.Secret{})
	if err := a.Ready(); err == nil || !strings.Contains(err.Error(), "--cluster-secret") {
		t.Fatalf("without the secret of a sealed key: %v", err)
	}
	if stateValue(t, st, plainKeyState) != nil {
		t.Fatal("a plain key was made beside the sealed one")
	}
}

// TestSessionKeyDamaged: a plain key that is not a key stops the migration with a reason.
func TestSessionKeyDamaged(t *testing.T) {
	st := broker.NewMemory(0, time.Minute).State()
	if _, err := st.Create(context.Background(), plainKeyState, []byte("not hex")); err != nil {
		t.Fatal(err)
	}
	a, _ := shareOnce(t, st, testSecret(t, "one"))
	if err := a.Ready(); err == nil || !strings.Contains(err.Error(), "not valid") {
		t.Fatalf("with a damaged plain key: %v", err)
	}
	if stateValue(t, st, sealedKeyState) != nil {
		t.Fatal("a key was sealed anyway")
	}
}

// TestSessionKeyExternalNATS runs the command against an external NATS (--nats-url): a
// node without a cluster secret keeps the key in plain and warns; a node with the secret
// then seals that key (an old token stays valid) and purges the plain entry with its
// history; a node with another secret is not ready and says why.
func TestSessionKeyExternalNATS(t *testing.T) {
	ns := jstest.StartNATS(t)
	node := func(extra ...string) *runningServer {
		return startRun(t, append([]string{"--addr", "127.0.0.1:0", "--data", t.TempDir(), "--nats-url", ns.ClientURL()}, extra...)...)
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	old := node("--node-name", "old")
	old.logs.wait(0, "the session key is stored unencrypted in the external NATS")
	old.logs.wait(0, "session key shared by the cluster is in use")
	c := dial(t, old.base, "name=alice")
	w := c.expect("welcome")
	c.conn.Close()
	old.stop(t)
	kv, err := js.KeyValue(ctx, "DISTCHAT_STATE")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := kv.Get(ctx, plainKeyState)
	if err != nil {
		t.Fatalf("the node without a secret stored no plain key: %v", err)
	}

	secret := newSecret(t)
	sealed := node("--node-name", "sealed", "--cluster-secret", secret)
	sealed.logs.wait(0, "the session key had been stored unencrypted")
	c = dial(t, sealed.base, "token="+w["token"].(string))
	if again := c.expect("welcome"); again["user"].(map[string]any)["id"] != w["user"].(map[string]any)["id"] {
		t.Fatalf("after sealing, alice's token made %v, want %v", again["user"], w["user"])
	}
	if e, err := kv.Get(ctx, plainKeyState); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("%s after sealing: %v, %v", plainKeyState, e, err)
	}
	hist, err := kv.History(ctx, plainKeyState)
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatal(err)
	}
	for _, e := range hist {
		if e.Operation() == jetstream.KeyValuePut || bytes.Contains(e.Value(), plain.Value()) {
			t.Fatalf("the plain key's history keeps %v %q", e.Operation(), e.Value())
		}
	}
	e, err := kv.Get(ctx, sealedKeyState)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(e.Value(), plain.Value()) {
		t.Fatalf("the sealed value %q holds the key's hex", e.Value())
	}

	other := node("--node-name", "other", "--cluster-secret", newSecret(t))
	other.logs.wait(0, "sign-in is not available")
	if reason := readyReason(t, other.base); !strings.Contains(reason, "sealed with another cluster secret") {
		t.Fatalf("readiness of the node with another secret: %q", reason)
	}
	if reason := readyReason(t, sealed.base); reason != "" {
		t.Fatalf("the node with the secret is not ready: %q", reason)
	}
}
