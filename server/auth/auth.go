// Package auth decides who a connection is. A browser gets a stable user id and a session
// token signed by the server (HS256 with the cluster's session key); it presents the token
// on every connect, to any node. Deployments that sign their people in themselves can have
// distchat accept their JWTs instead (RS256/ES256/EdDSA public key, or an HMAC secret): the
// token's `sub` is the user id and its `name` the display name. Tokens are made and
// checked by github.com/golang-jwt/jwt/v5.
package auth

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/distchat/distchat/server/protocol"
)

// Errors.
var (
	// ErrUnauthorized refuses a token: not signed by this server (or the deployment's key),
	// expired, malformed; or no token where guests are not allowed.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotReady means the session key is not known yet (a cluster shares it through
	// storage, which is not ready).
	ErrNotReady = errors.New("the session key is not available yet")
)

// Defaults.
const (
	// DefaultTTL is how long a session token is valid. Every connect issues a new one, so
	// someone who comes back within this time stays the same person.
	DefaultTTL = 90 * 24 * time.Hour
	// MinKeyBytes is the shortest session key accepted.
	MinKeyBytes = 32
	issuer      = "distchat"
)

// Options configure an Authenticator.
type Options struct {
	// External checks a deployment's own JWTs (nil: none).
	External *External
	// AllowGuests lets people without a token in when External is set (without External,
	// everyone without a token is a guest).
	AllowGuests bool
	// TTL is the lifetime of session tokens (default DefaultTTL).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Authenticator issues and checks tokens. Safe for concurrent use.
type Authenticator struct {
	opts   Options
	key    atomic.Pointer[[]byte]
	failed atomic.Pointer[error] // why there will be no key, if known
}

// New returns an Authenticator without a session key: SetKey gives it one.
func New(o Options) *Authenticator {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Authenticator{opts: o}
}

// SetKey sets the session key (at least MinKeyBytes bytes).
func (a *Authenticator) SetKey(key []byte) error {
	if len(key) < MinKeyBytes {
		return fmt.Errorf("the session key has %d bytes, at least %d are needed", len(key), MinKeyBytes)
	}
	k := append([]byte(nil), key...)
	a.key.Store(&k)
	return nil
}

// Fail records why the session key cannot be had (a cluster's stored key that this node
// cannot open): Ready returns reason, which counts as ErrNotReady, until a key is set.
func (a *Authenticator) Fail(reason error) {
	err := error(notReady{reason})
	a.failed.Store(&err)
}

// Ready returns nil once the session key is known.
func (a *Authenticator) Ready() error {
	if a.key.Load() == nil {
		if err := a.failed.Load(); err != nil {
			return *err
		}
		return ErrNotReady
	}
	return nil
}

// notReady is ErrNotReady with its reason as its message.
type notReady struct{ reason error }

func (e notReady) Error() string        { return e.reason.Error() }
func (e notReady) Unwrap() error        { return e.reason }
func (e notReady) Is(target error) bool { return target == ErrNotReady }

// sessionClaims are the claims of distchat's session tokens and of a deployment's JWTs.
type sessionClaims struct {
	Name string `json:"name,omitempty"`
	jwt.RegisteredClaims
}

// Identify returns who a connection is: the user its token names (name, when not empty,
// is the display name the client asks for; a deployment's JWT names the person itself),
// or, without a token, a new guest. guest reports the latter.
func (a *Authenticator) Identify(token, name string) (u protocol.User, guest bool, err error) {
	if token == "" {
		if a.opts.External != nil && !a.opts.AllowGuests {
			return protocol.User{}, false, fmt.Errorf("%w: sign in first (this server accepts only signed-in people)", ErrUnauthorized)
		}
		if name == "" {
			name = guestName()
		}
		return protocol.User{ID: NewUserID(), Name: name}, true, nil
	}
	if u, err := a.verifySession(token); err == nil {
		if name != "" {
			u.Name = name
		}
		return u, false, nil
	} else if a.opts.External == nil || errors.Is(err, ErrNotReady) {
		return protocol.User{}, false, err
	}
	u, err = a.opts.External.verify(token, a.opts.Now)
	if err != nil {
		return protocol.User{}, false, err
	}
	if u.Name == "" {
		u.Name = name
	}
	if u.Name == "" {
		u.Name = u.ID
	}
	return u, false, nil
}

func (a *Authenticator) verifySession(token string) (protocol.User, error) {
	key := a.key.Load()
	if key == nil {
		return protocol.User{}, ErrNotReady
	}
	var c sessionClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return *key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(a.opts.Now),
	)
	if err != nil {
		return protocol.User{}, unauthorized(err)
	}
	if !protocol.ValidUserID(c.Subject) {
		return protocol.User{}, fmt.Errorf("%w: the token names no valid user", ErrUnauthorized)
	}
	name, _ := protocol.NormalizeName(c.Name)
	return protocol.User{ID: c.Subject, Name: name}, nil
}

// Issue returns a session token for u, valid for the TTL.
func (a *Authenticator) Issue(u protocol.User) (string, error) {
	key := a.key.Load()
	if key == nil {
		return "", ErrNotReady
	}
	now := a.opts.Now()
	return jwt.NewWithClaims(jwt.SigningMethodHS256, sessionClaims{
		Name: u.Name,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   u.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(a.opts.TTL)),
		},
	}).SignedString(*key)
}

// unauthorized turns a jwt error into an ErrUnauthorized with a reason a person can act on.
func unauthorized(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return fmt.Errorf("%w: the token has expired; sign in again", ErrUnauthorized)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return fmt.Errorf("%w: the token was not signed by this server", ErrUnauthorized)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return fmt.Errorf("%w: the token is not valid yet", ErrUnauthorized)
	}
	return fmt.Errorf("%w: the token is not valid (%v)", ErrUnauthorized, err)
}

// idEncoding writes user ids in lowercase letters and digits: safe in room names,
// subjects and URLs.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewUserID returns a new random user id: "u" and 16 characters (80 random bits).
func NewUserID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "u" + idEncoding.EncodeToString(b[:])
}

// NewKey returns a new random session key.
func NewKey() []byte {
	k := make([]byte, MinKeyBytes)
	_, _ = rand.Read(k)
	return k
}

func guestName() string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("guest-%04d", (int(b[0])<<8|int(b[1]))%10000)
}

// trimToken accepts "Bearer <token>" too.
func trimToken(t string) string { return strings.TrimSpace(strings.TrimPrefix(t, "Bearer ")) }
