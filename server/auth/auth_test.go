package auth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/distchat/distchat/server/auth"
	"github.com/distchat/distchat/server/protocol"
)

func withKey(t *testing.T, o auth.Options) *auth.Authenticator {
	t.Helper()
	a := auth.New(o)
	if err := a.SetKey(auth.NewKey()); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSessionTokens(t *testing.T) {
	a := withKey(t, auth.Options{})
	guest, isGuest, err := a.Identify("", "")
	if err != nil || !isGuest || !strings.HasPrefix(guest.Name, "guest-") || !protocol.ValidRoom("dm-"+guest.ID) {
		t.Fatalf("guest %+v, %v, %v", guest, isGuest, err)
	}
	tok, err := a.Issue(protocol.User{ID: guest.ID, Name: "Sam"})
	if err != nil {
		t.Fatal(err)
	}
	u, isGuest, err := a.Identify(tok, "")
	if err != nil || isGuest || u.ID != guest.ID || u.Name != "Sam" {
		t.Fatalf("identified %+v, %v, %v", u, isGuest, err)
	}
	if u, _, _ := a.Identify(tok, "Samuel"); u.Name != "Samuel" {
		t.Fatalf("the name asked for: %+v", u)
	}
	for name, bad := range map[string]string{
		"garbage":         "garbage",
		"another key":     must(withKey(t, auth.Options{}).Issue(guest)),
		"no signature":    strings.Join(strings.Split(tok, ".")[:2], ".") + ".",
		"another method":  must(jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"sub": "x", "iss": "distchat", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte("whatever"))),
		"no expiry":       must(jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "x", "iss": "distchat"}).SignedString([]byte("0123456789abcdef0123456789abcdef"))),
		"an empty header": "..",
	} {
		if _, _, err := a.Identify(bad, ""); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("%s token: %v, want unauthorized", name, err)
		}
	}
	old := auth.New(auth.Options{Now: func() time.Time { return time.Now().Add(-2 * auth.DefaultTTL) }})
	key := auth.NewKey()
	_ = old.SetKey(key)
	expired := must(old.Issue(guest))
	now := auth.New(auth.Options{})
	_ = now.SetKey(key)
	if _, _, err := now.Identify(expired, ""); !errors.Is(err, auth.ErrUnauthorized) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: %v", err)
	}
	if _, _, err := auth.New(auth.Options{}).Identify(tok, ""); !errors.Is(err, auth.ErrNotReady) {
		t.Fatalf("without a key: %v, want ErrNotReady", err)
	}
	if err := auth.New(auth.Options{}).SetKey([]byte("short")); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), auth.KeyFile)
	k1, err := auth.LoadOrCreateKey(path)
	if err != nil || len(k1) < auth.MinKeyBytes {
		t.Fatalf("created %d bytes, %v", len(k1), err)
	}
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
		}
	}
	k2, err := auth.LoadOrCreateKey(path)
	if err != nil || string(k1) != string(k2) {
		t.Fatalf("reloaded a different key (%v)", err)
	}
	if runtime.GOOS != "windows" {
		_ = os.Chmod(path, 0o644)
		if _, err := auth.LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("a readable key file: %v", err)
		}
	}
	short := filepath.Join(t.TempDir(), "short")
	_ = os.WriteFile(short, []byte("abcd\n"), 0o600)
	if _, err := auth.LoadOrCreateKey(short); err == nil {
		t.Fatal("a 2-byte key file was accepted")
	}
}

// TestExternalJWTs: every kind of --auth-jwt-key signs people in with its own algorithms,
// and nothing else.
func TestExternalJWTs(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pemOf := func(pub any) []byte {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sign-in"}, NotAfter: time.Now().Add(time.Hour)}
	certDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	secret := []byte("a shared secret of the sign-in service, 32+ bytes long")
	claims := jwt.MapClaims{"sub": "ada", "name": "Ada", "exp": time.Now().Add(time.Hour).Unix()}
	sign := func(m jwt.SigningMethod, key any) string { return must(jwt.NewWithClaims(m, claims).SignedString(key)) }
	for _, tc := range []struct {
		name  string
		key   []byte
		good  string
		wrong string
	}{
		{"RSA", pemOf(&rsaKey.PublicKey), sign(jwt.SigningMethodRS256, rsaKey), sign(jwt.SigningMethodHS256, pemOf(&rsaKey.PublicKey))},
		{"ECDSA", pemOf(&ecKey.PublicKey), sign(jwt.SigningMethodES256, ecKey), sign(jwt.SigningMethodHS256, secret)},
		{"Ed25519", pemOf(edPub), sign(jwt.SigningMethodEdDSA, edKey), sign(jwt.SigningMethodHS256, secret)},
		{"certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), sign(jwt.SigningMethodES256, ecKey), sign(jwt.SigningMethodRS256, rsaKey)},
		{"HMAC secret", secret, sign(jwt.SigningMethodHS256, secret), sign(jwt.SigningMethodES256, ecKey)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ext, err := auth.ParseExternal(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			a := withKey(t, auth.Options{External: ext})
			u, guest, err := a.Identify(tc.good, "ignored")
			if err != nil || guest || u.ID != "ada" || u.Name != "Ada" {
				t.Fatalf("good token: %+v, %v, %v", u, guest, err)
			}
			if _, _, err := a.Identify(tc.wrong, ""); !errors.Is(err, auth.ErrUnauthorized) {
				t.Fatalf("wrong token: %v", err)
			}
			if _, _, err := a.Identify("", "guest"); !errors.Is(err, auth.ErrUnauthorized) {
				t.Fatalf("no token without --allow-guests: %v", err)
			}
		})
	}
	priv, _ := x509.MarshalECPrivateKey(ecKey)
	if _, err := auth.ParseExternal(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: priv})); err == nil {
		t.Fatal("a private key was accepted")
	}
	if _, err := auth.ParseExternal([]byte("too short")); err == nil {
		t.Fatal("a 9-byte secret was accepted")
	}
	ext, _ := auth.ParseExternal(secret)
	a := withKey(t, auth.Options{External: ext, AllowGuests: true})
	if _, guest, err := a.Identify("", "visitor"); err != nil || !guest {
		t.Fatalf("with guests allowed: guest %v, %v", guest, err)
	}
}

// TestReadyReason: without a key the authenticator is not ready; Fail gives the reason,
// which still counts as ErrNotReady; a key makes it ready.
func TestReadyReason(t *testing.T) {
	a := auth.New(auth.Options{})
	if err := a.Ready(); !errors.Is(err, auth.ErrNotReady) {
		t.Fatalf("without a key: %v", err)
	}
	a.Fail(errors.New("sealed with another secret"))
	if err := a.Ready(); !errors.Is(err, auth.ErrNotReady) || err.Error() != "sealed with another secret" {
		t.Fatalf("after Fail: %v", err)
	}
	if _, err := a.Issue(protocol.User{ID: auth.NewUserID(), Name: "x"}); !errors.Is(err, auth.ErrNotReady) {
		t.Fatalf("a token without a key: %v", err)
	}
	if err := a.SetKey(auth.NewKey()); err != nil || a.Ready() != nil {
		t.Fatalf("with a key: %v, %v", err, a.Ready())
	}
}
