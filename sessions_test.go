package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const testAdminToken = "an admin token of at least thirty-two characters"

// admin runs distchat admin against base and returns its exit code and output.
func admin(t *testing.T, base, token string, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"admin", "--url", base, "--token", token}, args...), noEnv, &out, &errOut)
	return code, out.String() + errOut.String()
}

// endedWith reports whether p's connection was ended with error unauthorized and 1008.
func endedWith(p *peer) bool {
	_, ok := p.waitFor(10*time.Second, func(o map[string]any) bool { return o["type"] == "error" && o["code"] == "unauthorized" })
	if !ok {
		return false
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		return false
	}
	var ce *websocket.CloseError
	return errors.As(p.closeErr(), &ce) && ce.Code == 1008
}

// refused reports whether a connection with token is refused as unauthorized.
func refused(t *testing.T, base, token string) bool {
	p, err := tryPeerWith(t, base, "again", "general", token)
	if err == nil {
		p.conn.Close()
		return false
	}
	return strings.Contains(err.Error(), "unauthorized")
}

// TestEndSessions: the admin API ends one person's sessions (their connections close, their
// tokens are refused; everyone else stays) and everyone's (a new session key); someone can
// sign out everywhere themselves; without the admin token nothing is done.
func TestEndSessions(t *testing.T) {
	data := t.TempDir()
	s := startRun(t, "--addr", "127.0.0.1:0", "--data", data, "--admin-token", testAdminToken)
	alice := connectPeer(t, s.base, "alice", "general")
	alicePhone := connectPeerWith(t, s.base, "alice", "general", tokenOf(alice))
	bob := connectPeer(t, s.base, "bob", "general")
	aliceToken, aliceID := tokenOf(alice), userIDOf(alice)

	if code, out := admin(t, s.base, "not the token", "revoke", aliceID); code != 1 || !strings.Contains(out, "401") {
		t.Fatalf("a wrong admin token: %d %s", code, out)
	}
	if code, out := admin(t, s.base, testAdminToken, "revoke", aliceID); code != 0 {
		t.Fatalf("revoke: %d %s", code, out)
	}
	if !endedWith(alice) || !endedWith(alicePhone) {
		t.Fatal("alice's connections were not ended with unauthorized and 1008")
	}
	if !refused(t, s.base, aliceToken) {
		t.Fatal("alice's token still works after the revocation")
	}
	if err := bob.send(map[string]any{"type": "message", "body": "still here", "ref": "b1"}); err != nil {
		t.Fatal(err)
	}
	bob.expect(5*time.Second, "bob's ack", func(o map[string]any) bool { return o["type"] == "ack" && o["ref"] == "b1" })

	// Sign out everywhere: carol's own request ends her other device too.
	carol := connectPeer(t, s.base, "carol", "general")
	carolTab := connectPeerWith(t, s.base, "carol", "general", tokenOf(carol))
	req, _ := http.NewRequest(http.MethodDelete, s.base+"/api/session?everywhere=true", nil)
	req.Header.Set("Authorization", "Bearer "+tokenOf(carolTab))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE /api/session?everywhere=true: %v %v", resp, err)
	}
	resp.Body.Close()
	if !endedWith(carol) || !refused(t, s.base, tokenOf(carol)) {
		t.Fatal("signing out everywhere left carol's other session")
	}

	// A new key: every session ends, every earlier token is refused, the key file changes.
	before, _ := os.ReadFile(filepath.Join(data, "session.key"))
	bobToken := tokenOf(bob)
	if code, out := admin(t, s.base, testAdminToken, "rotate-key"); code != 0 {
		t.Fatalf("rotate-key: %d %s", code, out)
	}
	if !endedWith(bob) || !refused(t, s.base, bobToken) {
		t.Fatal("bob's session outlived the new key")
	}
	if after, _ := os.ReadFile(filepath.Join(data, "session.key")); len(after) == 0 || bytes.Equal(after, before) {
		t.Fatal("the session key file did not change")
	}
	dave := connectPeer(t, s.base, "dave", "general")
	if again := connectPeerWith(t, s.base, "dave", "general", tokenOf(dave)); userIDOf(again) != userIDOf(dave) {
		t.Fatal("a token of the new key does not work")
	}

	// A node without --admin-token has no admin API; one with --secret cannot rotate it.
	plain := startRun(t, "--addr", "127.0.0.1:0", "--data", t.TempDir())
	if code, out := admin(t, plain.base, testAdminToken, "rotate-key"); code != 1 || !strings.Contains(out, "--admin-token") {
		t.Fatalf("without --admin-token: %d %s", code, out)
	}
	fixed := startRun(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--admin-token", testAdminToken,
		"--secret", "a session secret of at least thirty-two characters")
	if code, out := admin(t, fixed.base, testAdminToken, "rotate-key"); code != 1 || !strings.Contains(out, "--secret") {
		t.Fatalf("rotating --secret: %d %s", code, out)
	}
	if code, out := admin(t, fixed.base, testAdminToken, "nonsense"); code != 2 || !strings.Contains(out, "unknown action") {
		t.Fatalf("an unknown action: %d %s", code, out)
	}
}

// TestEndSessionsInACluster: a revocation made on one node ends the person's connections on
// another, and a new key made on one node is the only one every node accepts.
func TestEndSessionsInACluster(t *testing.T) {
	c := startCluster(t, "--admin-token", testAdminToken)
	alice := connectPeer(t, c.url(1), "alice", "general")
	bob := connectPeer(t, c.url(2), "bob", "general")
	aliceToken, bobToken := tokenOf(alice), tokenOf(bob)
	if code, out := admin(t, c.url(0), testAdminToken, "revoke", userIDOf(alice)); code != 0 {
		t.Fatalf("revoke on node1: %d %s", code, out)
	}
	if !endedWith(alice) {
		t.Fatal("alice's connection on node2 was not ended")
	}
	for i := range 3 {
		// The other nodes hear of it through the shared state within moments.
		if !eventuallyTrue(10*time.Second, func() bool { return refused(t, c.url(i), aliceToken) }) {
			t.Fatalf("node%d accepts alice's revoked token", i+1)
		}
	}
	if code, out := admin(t, c.url(0), testAdminToken, "rotate-key"); code != 0 {
		t.Fatalf("rotate-key on node1: %d %s", code, out)
	}
	if !endedWith(bob) {
		t.Fatal("bob's connection on node3 outlived the new key")
	}
	carol := connectPeer(t, c.url(0), "carol", "general")
	for i := range 3 {
		if !eventuallyTrue(10*time.Second, func() bool { return refused(t, c.url(i), bobToken) }) {
			t.Fatalf("node%d accepts a token of the old key", i+1)
		}
		if p := connectPeerWith(t, c.url(i), "carol", "general", tokenOf(carol)); userIDOf(p) != userIDOf(carol) {
			t.Fatalf("node%d does not accept a token of the new key", i+1)
		}
	}
}

// eventuallyTrue polls cond until it holds or d has passed.
func eventuallyTrue(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tokenOf(p *peer) string {
	w, _ := p.waitFor(time.Second, isType("welcome"))
	tok, _ := w["token"].(string)
	return tok
}

func userIDOf(p *peer) string {
	w, _ := p.waitFor(time.Second, isType("welcome"))
	u, _ := w["user"].(map[string]any)
	id, _ := u["id"].(string)
	return id
}
