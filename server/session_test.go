// Sessions over HTTP: the cookie, Authorization: Bearer, the API for signed-in people only,
// and the Host check.

package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/distchat/distchat/server"
	"github.com/distchat/distchat/server/auth"
	"github.com/distchat/distchat/server/protocol"
)

// sessionCookieOf returns the session cookie a response sets, or nil.
func sessionCookieOf(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == server.SessionCookie {
			return c
		}
	}
	return nil
}

// dialWithHeader opens a WebSocket with extra request headers and reads its first object.
func (ts *testServer) dialWithHeader(t *testing.T, rawQuery string, header http.Header) (*client, *http.Response) {
	t.Helper()
	conn, resp, err := ts.dialRaw(t, rawQuery, header, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", rawQuery, err)
	}
	return newClient(t, conn), resp
}

// TestSessionCookie: the upgrade sets the session cookie (HttpOnly, SameSite=Lax, a
// renewed token every time); a browser that presents it is the same person with no token
// in the URL; a cookie the server no longer accepts is refused and cleared.
func TestSessionCookie(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	first, resp := ts.dialWithHeader(t, "name=sam", nil)
	w := first.expect("welcome")
	c := sessionCookieOf(resp)
	if c == nil || c.Value != w.Token || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure || c.MaxAge < int((80*24*time.Hour).Seconds()) {
		t.Fatalf("the upgrade set %+v, want the welcome's token in an HttpOnly, Lax, 90-day cookie", c)
	}
	// The cookie alone (no token in the URL) is the same person, who gets a new token.
	second, resp2 := ts.dialWithHeader(t, "", http.Header{"Cookie": {c.String()}})
	w2 := second.expect("welcome")
	if w2.User.ID != w.User.ID || w2.User.Name != "sam" {
		t.Fatalf("with the cookie: %+v, want %+v", w2.User, w.User)
	}
	if c2 := sessionCookieOf(resp2); c2 == nil || c2.Value != w2.Token {
		t.Fatalf("the second upgrade set %+v", c2)
	}
	// A token in the URL or an Authorization header wins over the cookie.
	other := ts.connect(t, "bob", "")
	viaHeader, _ := ts.dialWithHeader(t, "", http.Header{"Cookie": {c.String()}, "Authorization": {"Bearer " + other.welcome.Token}})
	if u := viaHeader.expect("welcome").User; u.ID != other.welcome.User.ID {
		t.Fatalf("Authorization: Bearer gave %+v, want bob", u)
	}
	// A cookie of another server: refused and cleared.
	stranger := auth.New(auth.Options{})
	_ = stranger.SetKey(auth.NewKey())
	forged, _ := stranger.Issue(protocol.User{ID: w.User.ID, Name: "sam"})
	bad, resp3 := ts.dialWithHeader(t, "", http.Header{"Cookie": {server.SessionCookie + "=" + forged}})
	if e := bad.expect("error"); e.Code != "unauthorized" {
		t.Fatalf("a forged cookie: %s", e)
	}
	bad.expectClosed(1008)
	if c3 := sessionCookieOf(resp3); c3 == nil || c3.MaxAge >= 0 {
		t.Fatalf("a refused cookie is not cleared: %+v", c3)
	}
}

// TestSessionAPI: POST /api/session turns a token given as Authorization: Bearer into the
// cookie; DELETE clears it; another site's page can do neither.
func TestSessionAPI(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	sam := ts.connect(t, "sam", "")
	resp, body := ts.do(t, http.MethodPost, "/api/session", http.Header{"Authorization": {"Bearer " + sam.welcome.Token}})
	var got struct {
		User  struct{ ID, Name string }
		Token string
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil || got.User.ID != sam.welcome.User.ID || got.Token == "" {
		t.Fatalf("POST /api/session: %d %s", resp.StatusCode, body)
	}
	c := sessionCookieOf(resp)
	if c == nil || c.Value != got.Token || !c.HttpOnly {
		t.Fatalf("POST /api/session set %+v", c)
	}
	again, _ := ts.dialWithHeader(t, "", http.Header{"Cookie": {c.String()}})
	if u := again.expect("welcome").User; u.ID != sam.welcome.User.ID {
		t.Fatalf("with the cookie from /api/session: %+v", u)
	}
	for _, tc := range []struct {
		name   string
		header http.Header
		status int
		code   string
	}{
		{"no token", nil, 400, "bad_request"},
		{"a garbage token", http.Header{"Authorization": {"Bearer nonsense"}}, 401, "unauthorized"},
		{"another site's page", http.Header{"Authorization": {"Bearer " + sam.welcome.Token}, "Origin": {"https://evil.example"}}, 403, "forbidden"},
	} {
		resp, body := ts.do(t, http.MethodPost, "/api/session", tc.header)
		if resp.StatusCode != tc.status || !strings.Contains(string(body), `"code":"`+tc.code+`"`) || sessionCookieOf(resp) != nil {
			t.Errorf("%s: %d %s, want %d %s and no cookie", tc.name, resp.StatusCode, body, tc.status, tc.code)
		}
	}
	resp, _ = ts.do(t, http.MethodDelete, "/api/session", http.Header{"Cookie": {c.String()}})
	if c := sessionCookieOf(resp); resp.StatusCode != http.StatusNoContent || c == nil || c.MaxAge >= 0 {
		t.Fatalf("DELETE /api/session: %d, cookie %+v", resp.StatusCode, c)
	}
}

// TestAPINeedsASessionWithoutGuests: a server that lets no guests in answers /api/rooms
// and the details of /api/health only to signed-in requests; probes still get the bare
// status.
func TestAPINeedsASessionWithoutGuests(t *testing.T) {
	t.Parallel()
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	ext, err := auth.ParseExternal(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	authn := auth.New(auth.Options{External: ext})
	_ = authn.SetKey(auth.NewKey())
	ts := startServer(t, server.Config{Auth: authn})

	resp, body := ts.get(t, "/api/rooms")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"code":"unauthorized"`) || strings.Contains(string(body), "general") {
		t.Fatalf("/api/rooms without a session: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.get(t, "/api/health")
	if resp.StatusCode != http.StatusOK || string(body) != "{\"status\":\"ok\"}\n" {
		t.Fatalf("/api/health without a session: %d %q, want the bare status", resp.StatusCode, body)
	}
	jwtTok, _ := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"sub": "ada", "exp": time.Now().Add(time.Hour).Unix()}).SignedString(priv)
	c := ts.connectWith(t, "", "", jwtTok)
	for _, h := range []http.Header{
		{"Authorization": {"Bearer " + c.welcome.Token}},
		{"Authorization": {"Bearer " + jwtTok}},
		{"Cookie": {server.SessionCookie + "=" + c.welcome.Token}},
	} {
		resp, body := ts.do(t, http.MethodGet, "/api/rooms", h)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"general"`) {
			t.Errorf("/api/rooms with %v: %d %s", h, resp.StatusCode, body)
		}
		resp, body = ts.do(t, http.MethodGet, "/api/health", h)
		if !strings.Contains(string(body), `"connections"`) {
			t.Errorf("/api/health with %v: %d %s, want the details", h, resp.StatusCode, body)
		}
	}
}

// TestHostCheck: a page of another site whose name resolves to this server (DNS
// rebinding) gets neither the page, nor the API, nor a WebSocket; addresses, localhost,
// the public URL's host and --allowed-hosts are answered, and probes always are.
func TestHostCheck(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{PublicURL: "https://chat.example.com", AllowedHosts: []string{"intranet-chat"}})
	hostGet := func(host, path string) int {
		req, _ := http.NewRequest(http.MethodGet, ts.url(path), nil)
		req.Host = host
		resp, err := ts.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		host, path string
		status     int
	}{
		{"evil.example", "/", 421},
		{"evil.example:80", "/api/rooms", 421},
		{"evil.example", "/api/session", 421},
		{"evil.example", "/api/health", 200},
		{"evil.example", "/api/ready", 200},
		{ts.addr, "/", 200},
		{"localhost:8080", "/api/rooms", 200},
		{"app.localhost", "/api/rooms", 200},
		{"[::1]:8080", "/api/rooms", 200},
		{"chat.example.com", "/api/rooms", 200},
		{"CHAT.example.com.", "/api/rooms", 200},
		{"intranet-chat:8080", "/api/rooms", 200},
	} {
		if got := hostGet(tc.host, tc.path); got != tc.status {
			t.Errorf("Host %s, GET %s: %d, want %d", tc.host, tc.path, got, tc.status)
		}
	}
	// The WebSocket of a rebinding page: its Origin matches its Host, and both are refused.
	d := websocket.Dialer{HandshakeTimeout: waitTimeout, NetDial: nil}
	hdr := http.Header{"Origin": {"http://evil.example"}, "Host": {"evil.example"}}
	u, _ := url.Parse(ts.wsURL("name=x"))
	req := http.Header{}
	for k, v := range hdr {
		req[k] = v
	}
	conn, resp, err := d.Dial(u.String(), req)
	if err == nil {
		conn.Close()
		t.Fatal("a WebSocket for Host evil.example was opened")
	}
	if resp == nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("the WebSocket for Host evil.example: %v, %v", resp, err)
	}
}

// TestJWTBoundToThisService: with an audience and an issuer, a JWT the same key signed for
// another application signs nobody in; a session begun with a JWT lasts at most the
// window past that JWT's expiry, however often it is renewed.
func TestJWTBoundToThisService(t *testing.T) {
	t.Parallel()
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	ext, _ := auth.ParseExternal(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	ext.Bind("distchat", "https://login.example.com")
	const window = time.Minute
	authn := auth.New(auth.Options{External: ext, ExternalWindow: window})
	_ = authn.SetKey(auth.NewKey())
	ts := startServer(t, server.Config{Auth: authn})
	mint := func(claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(priv)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	jwtExp := time.Now().Add(5 * time.Second)
	good := jwt.MapClaims{"sub": "ada", "aud": "distchat", "iss": "https://login.example.com", "exp": jwtExp.Unix()}
	c := ts.connectWith(t, "", "", mint(good))
	if c.welcome.User.ID != "ada" {
		t.Fatalf("signed in as %+v", c.welcome.User)
	}
	for name, claims := range map[string]jwt.MapClaims{
		"another audience": {"sub": "ada", "aud": "payroll", "iss": "https://login.example.com", "exp": jwtExp.Unix()},
		"no audience":      {"sub": "ada", "iss": "https://login.example.com", "exp": jwtExp.Unix()},
		"another issuer":   {"sub": "ada", "aud": "distchat", "iss": "https://evil.example", "exp": jwtExp.Unix()},
	} {
		bad := ts.dial(t, url.Values{"token": {mint(claims)}}.Encode())
		if e := bad.expect("error"); e.Code != "unauthorized" {
			t.Errorf("%s: %s, want unauthorized", name, e)
		}
		bad.expectClosed(1008)
	}
	// The session token's expiry is capped at the JWT's plus the window, renewal after
	// renewal.
	tok := c.welcome.Token
	for i := 0; i < 3; i++ {
		exp := tokenExpiry(t, tok)
		if exp.After(jwtExp.Add(window)) || exp.Before(jwtExp.Add(window-2*time.Second)) {
			t.Fatalf("renewal %d expires at %v, want %v (the JWT's expiry + %v)", i, exp, jwtExp.Add(window), window)
		}
		tok = ts.connectWith(t, "", "", tok).welcome.Token
	}
}

// tokenExpiry reads a token's exp without checking it.
func tokenExpiry(t *testing.T, token string) time.Time {
	t.Helper()
	var c jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &c); err != nil || c.ExpiresAt == nil {
		t.Fatalf("token %q: %v", token, err)
	}
	return c.ExpiresAt.Time
}
