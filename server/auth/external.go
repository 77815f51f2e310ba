package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/distchat/distchat/server/protocol"
)

// External checks the JWTs of a deployment that signs its people in itself (--auth-jwt-key):
// signed with the private key of the public key given (RS256/384/512, PS256/384/512,
// ES256/384/512, EdDSA) or with the HMAC secret given (HS256/384/512). `sub` is the user
// id, `name` the display name, and `exp` is required.
type External struct {
	key     any
	methods []string
	// audience and issuer, when set, must be the token's aud (one of them) and iss: a key
	// that also signs tokens for other applications then signs nobody in here with those.
	audience, issuer string
}

// Bind makes the JWTs accepted only when their aud names audience and their iss is issuer
// (each when not empty), as --auth-jwt-audience and --auth-jwt-issuer ask.
func (e *External) Bind(audience, issuer string) {
	e.audience, e.issuer = audience, issuer
}

// Bound reports whether tokens are checked for both an audience and an issuer.
func (e *External) Bound() bool { return e.audience != "" && e.issuer != "" }

// LoadExternal reads --auth-jwt-key: a PEM public key (or certificate), or else the bytes
// of an HMAC secret (at least 32).
func LoadExternal(path string) (*External, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--auth-jwt-key: %w", err)
	}
	e, err := ParseExternal(data)
	if err != nil {
		return nil, fmt.Errorf("--auth-jwt-key %s: %w", path, err)
	}
	return e, nil
}

// ParseExternal is LoadExternal on the file's contents.
func ParseExternal(data []byte) (*External, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		if len(data) < MinKeyBytes {
			return nil, fmt.Errorf("neither a PEM public key nor an HMAC secret of at least %d bytes", MinKeyBytes)
		}
		return &External{key: data, methods: []string{"HS256", "HS384", "HS512"}}, nil
	}
	var pub any
	switch block.Type {
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		pub = cert.PublicKey
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			if rk, err2 := x509.ParsePKCS1PublicKey(block.Bytes); err2 == nil {
				k, err = rk, nil
			}
		}
		if err != nil {
			return nil, err
		}
		pub = k
	default:
		return nil, fmt.Errorf("a PEM %q block: want a PUBLIC KEY or a CERTIFICATE (never give distchat a private key)", block.Type)
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return &External{key: k, methods: []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}}, nil
	case *ecdsa.PublicKey:
		return &External{key: k, methods: []string{"ES256", "ES384", "ES512"}}, nil
	case ed25519.PublicKey:
		return &External{key: k, methods: []string{"EdDSA"}}, nil
	}
	return nil, fmt.Errorf("unsupported public key type %T", pub)
}

func (e *External) verify(token string, now func() time.Time) (protocol.User, time.Time, error) {
	var c sessionClaims
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(e.methods),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(now),
	}
	if e.audience != "" {
		opts = append(opts, jwt.WithAudience(e.audience))
	}
	if e.issuer != "" {
		opts = append(opts, jwt.WithIssuer(e.issuer))
	}
	_, err := jwt.ParseWithClaims(trimToken(token), &c, func(*jwt.Token) (any, error) { return e.key, nil }, opts...)
	if err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
			return protocol.User{}, time.Time{}, fmt.Errorf("%w: the token was signed by neither this server nor the sign-in service", ErrUnauthorized)
		case errors.Is(err, jwt.ErrTokenInvalidAudience):
			return protocol.User{}, time.Time{}, fmt.Errorf("%w: the token is for another service (its aud is not %q)", ErrUnauthorized, e.audience)
		case errors.Is(err, jwt.ErrTokenInvalidIssuer):
			return protocol.User{}, time.Time{}, fmt.Errorf("%w: the token was issued by another service (its iss is not %q)", ErrUnauthorized, e.issuer)
		}
		return protocol.User{}, time.Time{}, unauthorized(err)
	}
	if !protocol.ValidUserID(c.Subject) {
		return protocol.User{}, time.Time{}, fmt.Errorf("%w: the token's sub is not a valid user id (1-%d ASCII letters, digits and - . _ ~ @ : + = | /)", ErrUnauthorized, protocol.MaxUserIDLen)
	}
	name, _ := protocol.NormalizeName(c.Name)
	return protocol.User{ID: c.Subject, Name: name}, c.ExpiresAt.Time, nil
}
