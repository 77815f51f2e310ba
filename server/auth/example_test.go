package auth_test

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/distchat/distchat/server/auth"
)

// An existing web application signs its people into distchat by minting a JWT for the
// person who is signed in to it, and handing it to the page that opens distchat
// (`/ws?token=…`, or `?token=` in the page's URL). Here the application and distchat share
// an HMAC secret (distchat: --auth-jwt-key FILE with the secret in FILE); with a key pair,
// the application signs with its private key (RS256, ES256 or EdDSA) and distchat gets the
// public key in PEM.
func Example_mintToken() {
	secret := []byte("the secret shared with distchat, at least 32 bytes")

	// In the web application, for the person signed in there:
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub":  "user-1234",                             // their id in the application: distchat's user id
		"name": "Grace Hopper",                          // the name distchat shows
		"exp":  time.Now().Add(10 * time.Minute).Unix(), // required; a short life is enough
	}).SignedString(secret)
	if err != nil {
		panic(err)
	}

	// What distchat does with it:
	ext, _ := auth.ParseExternal(secret)
	a := auth.New(auth.Options{External: ext})
	_ = a.SetKey(auth.NewKey())
	user, _, err := a.Identify(token, "")
	fmt.Println(user.ID, user.Name, err)
	// Output: user-1234 Grace Hopper <nil>
}
