// Package clustersecret is the secret the nodes of a cluster share. Every node is started
// with the same one (--cluster-secret or --cluster-secret-file); each derives from it, with
// HKDF-SHA256 and a label of its own for every value, the credentials its NATS routes
// present and require, and the key that seals the session key in the cluster's storage.
// A derived value tells nothing of the secret nor of the other values, so a route password
// that leaks does not open the session key.
package clustersecret

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/distchat/distchat/server/auth"
)

// MinLength is the shortest secret accepted, in bytes: that of a session key.
const MinLength = auth.MinKeyBytes

// The HKDF info labels, one per derived value. Changing one changes that value on every
// node, so a new label means a new version ("v2"), never an edit.
const (
	labelRouteUser     = "distchat route user v1"
	labelRoutePassword = "distchat route password v1"
	labelSessionWrap   = "distchat session-key wrap v1"
)

// ErrTooShort refuses a secret shorter than MinLength.
var ErrTooShort = fmt.Errorf("a cluster secret needs at least %d characters", MinLength)

// Secret is a cluster's shared secret. The zero value is no secret. It never prints
// itself: fmt and slog show a placeholder.
type Secret struct {
	b []byte
}

// New checks s and returns it as a Secret.
func New(s string) (Secret, error) {
	if len(s) < MinLength {
		return Secret{}, ErrTooShort
	}
	return Secret{b: []byte(s)}, nil
}

// ReadFile reads a secret from the file at path: its content, without surrounding white
// space (a trailing newline is not part of it). On unix a file that its group or others
// may read is refused, as the session key's file is.
func ReadFile(path string) (Secret, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Secret{}, fmt.Errorf("cluster secret file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Secret{}, fmt.Errorf("cluster secret file %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return Secret{}, fmt.Errorf("the cluster secret file %s can be read by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Secret{}, fmt.Errorf("reading the cluster secret file: %w", err)
	}
	s, err := New(strings.TrimSpace(string(data)))
	if err != nil {
		return Secret{}, fmt.Errorf("cluster secret file %s: %w", path, err)
	}
	return s, nil
}

// IsZero reports whether s is no secret.
func (s Secret) IsZero() bool { return len(s.b) == 0 }

// String implements fmt.Stringer without the secret.
func (s Secret) String() string {
	if s.IsZero() {
		return "(no cluster secret)"
	}
	return "(cluster secret)"
}

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return s.String() }

// LogValue keeps slog from printing the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// derive returns n bytes derived from the secret for the purpose named by label.
func (s Secret) derive(label string, n int) []byte {
	if s.IsZero() {
		panic("clustersecret: deriving from no secret")
	}
	k, err := hkdf.Key(sha256.New, s.b, nil, label, n)
	if err != nil {
		panic("clustersecret: " + err.Error()) // only for n beyond 255 hash lengths
	}
	return k
}

// RouteCredentials are the user name and password every node's NATS routes present and
// require. They are hex, so they fit in a URL as they are.
func (s Secret) RouteCredentials() (user, password string) {
	return hex.EncodeToString(s.derive(labelRouteUser, 16)), hex.EncodeToString(s.derive(labelRoutePassword, 32))
}
