package clustersecret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// sealedV1 starts a session key sealed by SealSessionKey: AES-256-GCM under the key
// derived with labelSessionWrap, then base64 of the nonce followed by the ciphertext.
const sealedV1 = "v1:"

// sessionKeyAAD binds a sealed value to what it is: a ciphertext made for something else
// under the same key does not open as a session key.
var sessionKeyAAD = []byte("distchat session key")

// ErrWrongSecret means a sealed session key does not open with this secret: it was sealed
// with another one (or altered).
var ErrWrongSecret = errors.New("the session key was sealed with another cluster secret")

func (s Secret) sessionAEAD() cipher.AEAD {
	block, err := aes.NewCipher(s.derive(labelSessionWrap, 32))
	if err != nil {
		panic("clustersecret: " + err.Error()) // a 32-byte key is always valid
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic("clustersecret: " + err.Error())
	}
	return gcm
}

// SealSessionKey encrypts and authenticates the session key for the cluster's storage,
// with a random nonce: "v1:" + base64(nonce || ciphertext).
func (s Secret) SealSessionKey(key []byte) (string, error) {
	gcm := s.sessionAEAD()
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("sealing the session key: %w", err)
	}
	out := gcm.Seal(nonce, nonce, key, sessionKeyAAD)
	return sealedV1 + base64.StdEncoding.EncodeToString(out), nil
}

// OpenSessionKey returns the session key SealSessionKey sealed, or ErrWrongSecret when
// sealed was made with another secret.
func (s Secret) OpenSessionKey(sealed string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, sealedV1)
	if !ok {
		return nil, errors.New("the sealed session key has a format this version does not know")
	}
	data, err := base64.StdEncoding.DecodeString(rest)
	gcm := s.sessionAEAD()
	if err != nil || len(data) < gcm.NonceSize()+gcm.Overhead() {
		return nil, errors.New("the sealed session key is damaged")
	}
	nonce, ct := data[:gcm.NonceSize()], data[gcm.NonceSize():]
	key, err := gcm.Open(nil, nonce, ct, sessionKeyAAD)
	if err != nil {
		return nil, ErrWrongSecret
	}
	return key, nil
}
