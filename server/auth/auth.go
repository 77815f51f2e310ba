// Package auth decides who a connection is. A browser gets a stable user id and a session
// token signed by the server (HS256 with the cluster's session key); it presents the token
// on every connect, to any node. Deployments that sign their people in themselves can have
// distchat accept their JWTs instead (RS256/ES256/EdDSA public key, or an HMAC secret): the
// token's `sub` is the user id and its `name` the display name. Tokens are made and
// checked by github.com/golang-jwt/jwt/v5.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync"
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
	// DefaultExternalWindow is how long a session that began with a JWT of the deployment's
	// sign-in outlives that JWT at most: within it a reconnect needs no new JWT, after it
	// the person signs in again.
	DefaultExternalWindow = time.Hour
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
	// ExternalWindow is how long a session derived from an External JWT may outlive the
	// JWT's expiry (default DefaultExternalWindow): its tokens expire by then, however
	// often they are renewed.
	ExternalWindow time.Duration
	// Revoked, when set, tells whether a person's sessions issued at issuedAt have been
	// ended since (sign-out everywhere, an operator's revocation).
	Revoked func(userID string, issuedAt time.Time) bool
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
	if o.ExternalWindow <= 0 {
		o.ExternalWindow = DefaultExternalWindow
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

// Revocations remembers, per person, when their sessions were last ended: tokens issued
// before then are refused (Options.Revoked). Entries older than the TTL are forgotten, since
// every token issued before them has expired. Safe for concurrent use.
type Revocations struct {
	ttl    time.Duration
	mu     sync.Mutex
	before map[string]time.Time
}

// NewRevocations returns an empty set for tokens that live ttl.
func NewRevocations(ttl time.Duration) *Revocations {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Revocations{ttl: ttl, before: make(map[string]time.Time)}
}

// Set ends the sessions of userID issued before t (the zero time forgets an entry).
func (r *Revocations) Set(userID string, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.IsZero() || time.Since(t) > r.ttl {
		delete(r.before, userID)
		return
	}
	r.before[userID] = t
}

// Revoked reports whether a token of userID issued at issuedAt was ended since.
func (r *Revocations) Revoked(userID string, issuedAt time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.before[userID]
	// Tokens carry whole seconds: one issued in the second of the revocation counts as
	// before it.
	return ok && !issuedAt.After(t.Truncate(time.Second))
}

// GuestsAllowed reports whether people without a token are let in (as new guests).
func (a *Authenticator) GuestsAllowed() bool { return a.opts.External == nil || a.opts.AllowGuests }

// Fail records why the session key cannot be had (a cluster's stored key that this node
// cannot open): Ready returns reason, which counts as ErrNotReady, until a key is set.
func (a *Authenticator) Fail(reason error) {
	err := error(notReady{reason})
	a.failed.Store(&err)
}

// HasKey reports whether key is the session key in use.
func (a *Authenticator) HasKey(key []byte) bool {
	k := a.key.Load()
	return k != nil && subtle.ConstantTimeCompare(*k, key) == 1
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
	// ExternalExp, in distchat's own tokens, is when the JWT of the deployment's sign-in
	// that the session began with expired (Unix seconds; 0: it began without one).
	ExternalExp int64 `json:"xexp,omitempty"`
	jwt.RegisteredClaims
}

// Session is who a token names, and where the session came from.
type Session struct {
	User protocol.User
	// Guest: a new person made for a connection without a token.
	Guest bool
	// ExternalExpiry is when the JWT of the deployment's sign-in that the session began
	// with expires (zero: the session did not begin with one). Tokens of the session expire
	// at most ExternalWindow after it.
	ExternalExpiry time.Time
}

// Identify returns who a connection is: the user its token names (name, when not empty,
// is the display name the client asks for; a deployment's JWT names the person itself),
// or, without a token, a new guest. guest reports the latter.
func (a *Authenticator) Identify(token, name string) (u protocol.User, guest bool, err error) {
	s, err := a.Authenticate(token, name)
	return s.User, s.Guest, err
}

// Authenticate is Identify with what Issue needs to continue the session.
func (a *Authenticator) Authenticate(token, name string) (Session, error) {
	token = trimToken(token)
	if token == "" {
		if a.opts.External != nil && !a.opts.AllowGuests {
			return Session{}, fmt.Errorf("%w: sign in first (this server accepts only signed-in people)", ErrUnauthorized)
		}
		if name == "" {
			name = guestName()
		}
		return Session{User: protocol.User{ID: NewUserID(), Name: name}, Guest: true}, nil
	}
	if s, err := a.verifySession(token); err == nil {
		if name != "" {
			s.User.Name = name
		}
		return s, nil
	} else if a.opts.External == nil || errors.Is(err, ErrNotReady) || !isForeign(err) {
		return Session{}, err
	}
	u, exp, err := a.opts.External.verify(token, a.opts.Now)
	if err != nil {
		return Session{}, err
	}
	if u.Name == "" {
		u.Name = name
	}
	if u.Name == "" {
		u.Name = u.ID
	}
	return Session{User: u, ExternalExpiry: exp}, nil
}

// isForeign reports whether a token refused as a session token may be a JWT of the
// deployment's sign-in instead: one not signed with the session key (or of another
// method, or of another issuer). A session token that is expired or revoked is refused
// as such.
func isForeign(err error) bool {
	return !errors.Is(err, errRevoked) && !errors.Is(err, jwt.ErrTokenExpired)
}

// errRevoked marks a session token issued before its person's sessions were ended.
var errRevoked = errors.New("revoked")

func (a *Authenticator) verifySession(token string) (Session, error) {
	key := a.key.Load()
	if key == nil {
		return Session{}, ErrNotReady
	}
	var c sessionClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return *key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(a.opts.Now),
	)
	if err != nil {
		return Session{}, unauthorized(err)
	}
	if !protocol.ValidUserID(c.Subject) {
		return Session{}, fmt.Errorf("%w: the token names no valid user", ErrUnauthorized)
	}
	if a.opts.Revoked != nil && c.IssuedAt != nil && a.opts.Revoked(c.Subject, c.IssuedAt.Time) {
		return Session{}, fmt.Errorf("%w: %w: this session was ended; sign in again", ErrUnauthorized, errRevoked)
	}
	name, _ := protocol.NormalizeName(c.Name)
	s := Session{User: protocol.User{ID: c.Subject, Name: name}}
	if c.ExternalExp > 0 {
		s.ExternalExpiry = time.Unix(c.ExternalExp, 0)
	}
	return s, nil
}

// Issue returns a session token for u, valid for the TTL.
func (a *Authenticator) Issue(u protocol.User) (string, error) {
	tok, _, err := a.IssueFor(Session{User: u})
	return tok, err
}

// IssueFor returns a new token for a session and when it expires: after the TTL, or, for a
// session that began with a JWT of the deployment's sign-in, at most ExternalWindow after
// that JWT's expiry.
func (a *Authenticator) IssueFor(s Session) (string, time.Time, error) {
	key := a.key.Load()
	if key == nil {
		return "", time.Time{}, ErrNotReady
	}
	now := a.opts.Now()
	exp := now.Add(a.opts.TTL)
	var ext int64
	if !s.ExternalExpiry.IsZero() {
		exp = minTime(exp, s.ExternalExpiry.Add(a.opts.ExternalWindow))
		ext = s.ExternalExpiry.Unix()
	}
	if !exp.After(now) {
		return "", time.Time{}, fmt.Errorf("%w: the sign-in has expired; sign in again", ErrUnauthorized)
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, sessionClaims{
		Name:        s.User.Name,
		ExternalExp: ext,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   s.User.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}).SignedString(*key)
	return tok, exp, err
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
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
	return fmt.Errorf("%w: the token is not valid (%w)", ErrUnauthorized, err)
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
