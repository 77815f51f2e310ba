package clustersecret_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/distchat/distchat/server/clustersecret"
)

const text = "correct horse battery staple, and then some"

func mustNew(t *testing.T, s string) clustersecret.Secret {
	t.Helper()
	sec, err := clustersecret.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

func TestNewRefusesShortSecrets(t *testing.T) {
	if _, err := clustersecret.New(strings.Repeat("x", clustersecret.MinLength-1)); !errors.Is(err, clustersecret.ErrTooShort) {
		t.Fatalf("a secret of %d characters: %v", clustersecret.MinLength-1, err)
	}
	if _, err := clustersecret.New(strings.Repeat("x", clustersecret.MinLength)); err != nil {
		t.Fatal(err)
	}
}

// TestRouteCredentials: the same secret gives the same credentials on every node, another
// secret others; user and password differ.
func TestRouteCredentials(t *testing.T) {
	u1, p1 := mustNew(t, text).RouteCredentials()
	u2, p2 := mustNew(t, text).RouteCredentials()
	if u1 != u2 || p1 != p2 {
		t.Fatal("one secret gave two sets of credentials")
	}
	u3, p3 := mustNew(t, text+"!").RouteCredentials()
	if u3 == u1 || p3 == p1 {
		t.Fatal("two secrets gave the same credentials")
	}
	if u1 == p1[:len(u1)] || len(u1) != 32 || len(p1) != 64 {
		t.Fatalf("user %q, password %q: want 16 and 32 distinct bytes in hex", u1, p1)
	}
	for _, v := range []string{u1, p1} {
		if _, err := hex.DecodeString(v); err != nil {
			t.Fatalf("credential %q is not hex (it goes into route URLs)", v)
		}
	}
}

func TestSealSessionKey(t *testing.T) {
	s := mustNew(t, text)
	key := bytes.Repeat([]byte{0xab}, 32)
	sealed, err := s.SealSessionKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealed, "v1:") || strings.Contains(sealed, hex.EncodeToString(key)) {
		t.Fatalf("sealed %q", sealed)
	}
	again, _ := s.SealSessionKey(key)
	if again == sealed {
		t.Fatal("two seals of one key are equal: the nonce is not random")
	}
	got, err := mustNew(t, text).OpenSessionKey(sealed)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("open: %x, %v", got, err)
	}
	if _, err := mustNew(t, text+"!").OpenSessionKey(sealed); !errors.Is(err, clustersecret.ErrWrongSecret) {
		t.Fatalf("open with another secret: %v", err)
	}
	// Altered, truncated, foreign.
	b := []byte(sealed)
	b[len(b)-3] ^= 1
	for _, bad := range []string{string(b), sealed[:10], "v2:" + sealed[3:], hex.EncodeToString(key)} {
		if k, err := s.OpenSessionKey(bad); err == nil {
			t.Fatalf("%q opened as %x", bad, k)
		}
	}
}

// TestSecretNeverPrints: formatting a Secret, with fmt or slog, never shows it.
func TestSecretNeverPrints(t *testing.T) {
	s := mustNew(t, text)
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "secret", s, "struct", struct{ S clustersecret.Secret }{s})
	out := buf.String() + fmt.Sprintf("%v %+v %#v %s %q %x", s, s, s, s, s, s)
	if strings.Contains(out, text) || strings.Contains(out, hex.EncodeToString([]byte(text))) {
		t.Fatalf("the secret shows: %s", out)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	s, err := clustersecret.ReadFile(write("ok", "  "+text+"\n", 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := s.RouteCredentials(); u != func() string { u, _ := mustNew(t, text).RouteCredentials(); return u }() {
		t.Fatal("the file's secret is not its trimmed content")
	}
	if _, err := clustersecret.ReadFile(write("short", "short\n", 0o600)); !errors.Is(err, clustersecret.ErrTooShort) {
		t.Fatalf("short: %v", err)
	}
	if _, err := clustersecret.ReadFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing file was accepted")
	}
	if runtime.GOOS != "windows" {
		for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
			if _, err := clustersecret.ReadFile(write(fmt.Sprint("open", mode), text, mode)); err == nil || !strings.Contains(err.Error(), "chmod 600") {
				t.Fatalf("mode %v: %v", mode, err)
			}
		}
	}
}
