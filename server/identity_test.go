package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/distchat/distchat/server"
	"github.com/distchat/distchat/server/auth"
	"github.com/distchat/distchat/server/protocol"
)

// TestTwoPeopleWithOneName: two people who both pick "Sam" are two users: different ids,
// their messages tell them apart, and the online list has both.
func TestTwoPeopleWithOneName(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	a := ts.connect(t, "Sam", "twins")
	b := ts.connect(t, "Sam", "twins")
	if a.welcome.User.ID == "" || a.welcome.User.ID == b.welcome.User.ID {
		t.Fatalf("user ids %q and %q: want two different ids", a.welcome.User.ID, b.welcome.User.ID)
	}
	if a.welcome.User.Name != "Sam" || a.welcome.ID != a.welcome.User.ID {
		t.Fatalf("welcome user %+v, id %q", a.welcome.User, a.welcome.ID)
	}
	if o := b.welcome.Online; len(o) != 2 || o[0].ID != a.welcome.User.ID || o[1].ID != b.welcome.User.ID {
		t.Fatalf("online %v: want both Sams", o)
	}
	a.expect("join")
	// The same ref from both is two messages: refs are scoped to the person.
	_, ma := a.publish("from the first Sam", "r-1")
	_, mb := b.publish("from the second Sam", "r-1", "message")
	if ma.From.ID != a.welcome.User.ID || mb.From.ID != b.welcome.User.ID || ma.ID == mb.ID {
		t.Fatalf("messages from %q and %q (ids %s, %s): want each from its sender, stored twice", ma.From.ID, mb.From.ID, ma.ID, mb.ID)
	}
}

// TestTokenSignsTheSamePersonIn: a token from a welcome makes the same user again (with
// any name); a forged token, one signed with another key and an expired one are refused
// with unauthorized and close 1008.
func TestTokenSignsTheSamePersonIn(t *testing.T) {
	t.Parallel()
	key := auth.NewKey()
	authn := auth.New(auth.Options{})
	if err := authn.SetKey(key); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, server.Config{Auth: authn})
	first := ts.connect(t, "alice", "")
	// A second device of a person connected here takes their current name.
	second := ts.connectWith(t, "Alice B.", "", first.welcome.Token)
	if second.welcome.User.ID != first.welcome.User.ID || second.welcome.User.Name != "alice" {
		t.Fatalf("with the token: user %+v, want id %s named alice", second.welcome.User, first.welcome.User.ID)
	}
	first.close()
	second.close()
	ts.waitConnections(t, 0)
	// Connected nowhere, the person comes back with the name the client asks for.
	again := ts.connectWith(t, "Alice B.", "", first.welcome.Token)
	if again.welcome.User.ID != first.welcome.User.ID || again.welcome.User.Name != "Alice B." {
		t.Fatalf("with the token: user %+v, want id %s named Alice B.", again.welcome.User, first.welcome.User.ID)
	}
	if again.welcome.Token == "" {
		t.Fatal("no new token on reconnect")
	}

	other := auth.New(auth.Options{})
	_ = other.SetKey(auth.NewKey())
	otherToken, _ := other.Issue(protocol.User{ID: first.welcome.User.ID, Name: "alice"})
	past := auth.New(auth.Options{Now: func() time.Time { return time.Now().Add(-auth.DefaultTTL - time.Hour) }})
	_ = past.SetKey(key)
	expired, _ := past.Issue(protocol.User{ID: first.welcome.User.ID, Name: "alice"})
	for _, tc := range []struct{ name, token, reason string }{
		{"forged", "not.a.token", "not valid"},
		{"another server's", otherToken, "not signed by this server"},
		{"expired", expired, "expired"},
	} {
		c := ts.dial(t, url.Values{"name": {"mallory"}, "token": {tc.token}}.Encode())
		e := c.expect("error")
		if e.Code != "unauthorized" || !strings.Contains(e.Message, tc.reason) {
			t.Errorf("%s token: %s, want unauthorized mentioning %q", tc.name, e, tc.reason)
		}
		c.expectClosed(1008)
	}
}

// TestRenameReachesEveryMemberOnce: a rename is one event in each room, the person's other
// device hears it, and the online list shows the new name.
func TestRenameReachesEveryMemberOnce(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	bob := ts.connect(t, "Bob", "one")
	bob.sendJSON(map[string]any{"type": "join", "room": "two"})
	bob.expect("joined")
	phone := ts.connectWith(t, "Bob", "two", bob.welcome.Token)
	carol := ts.connect(t, "Carol", "one")
	dave := ts.connect(t, "Dave", "two")
	bob.expect("join")

	bob.sendJSON(map[string]any{"type": "rename", "name": "Robert", "ref": "n1"})
	if a := bob.expect("ack", "join", "rename", "user"); a.Ref != "n1" {
		t.Fatalf("rename answered %s", a)
	}
	for _, c := range []*client{carol, dave} {
		r := c.expect("rename", "join")
		if r.User.ID != bob.welcome.User.ID || r.User.Name != "Robert" || r.Old != "Bob" {
			t.Fatalf("%s got %s, want Bob is now Robert", c.user.Name, r)
		}
		c.expectQuiet(200*time.Millisecond, "rename")
	}
	if u := phone.expect("user", "join", "rename"); u.User.Name != "Robert" {
		t.Fatalf("the other device got %s", u)
	}
	carol.sendJSON(map[string]any{"type": "presence", "room": "one"})
	p := carol.expect("presence", "rename")
	for _, u := range p.Online {
		if u.Name == "Bob" {
			t.Fatalf("online %v still lists Bob", p.Online)
		}
	}
	// Later messages carry the new name.
	_, m := phone.publishIn("two", "hi", "m1", "rename", "user", "join")
	if m.From.Name != "Robert" || m.From.ID != bob.welcome.User.ID {
		t.Fatalf("message from %+v", m.From)
	}
}

// TestReconnectWithinGraceIsNoLeave: a person who reconnects (or reloads) within the grace
// period produces no leave and no join; one who stays away is announced gone after it.
func TestReconnectWithinGraceIsNoLeave(t *testing.T) {
	t.Parallel()
	const grace = 700 * time.Millisecond
	ts := startServer(t, server.Config{PresenceGrace: grace})
	obs := ts.connect(t, "observer", "g")
	a := ts.connect(t, "alice", "g")
	obs.expect("join")
	token := a.welcome.Token
	for range 3 {
		a.close()
		a = ts.connectWith(t, "alice", "g", token)
	}
	if len(a.welcome.Online) != 2 {
		t.Fatalf("online after reconnects: %v", a.welcome.Online)
	}
	obs.expectQuiet(grace+300*time.Millisecond, "join", "leave")
	a.close()
	start := time.Now()
	l := obs.expect("leave")
	if l.User.ID != a.welcome.User.ID || time.Since(start) < grace/2 {
		t.Fatalf("leave %s after %v, want alice after the grace period", l, time.Since(start))
	}
}

// TestDirectMessages: a DM is a room of two; the other person hears of it; a third can
// neither join it, nor read it, nor open the connection in it; /api/rooms does not list it.
func TestDirectMessages(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	alice := ts.connect(t, "alice", "")
	bob := ts.connect(t, "bob", "")
	carol := ts.connect(t, "carol", "")
	alicePhone := ts.connectWith(t, "alice", "", alice.welcome.Token)
	alice.sendJSON(map[string]any{"type": "dm", "user": bob.welcome.User.ID, "name": "bob", "ref": "d1"})
	j := alice.expect("joined", "join")
	if !strings.HasPrefix(j.Room, "dm-") || j.Ref != "d1" || j.DM == nil || j.DM.ID != bob.welcome.User.ID || j.DM.Name != "bob" {
		t.Fatalf("dm answered %s", j)
	}
	room := j.Room
	n := bob.expect("dm", "join")
	if n.Room != room || n.User.ID != alice.welcome.User.ID {
		t.Fatalf("bob heard %s", n)
	}
	// Alice's other device lists it too, with bob as the other person.
	if m := alicePhone.expect("dm", "join"); m.Room != room || m.User.ID != bob.welcome.User.ID {
		t.Fatalf("alice's other device heard %s", m)
	}
	bob.sendJSON(map[string]any{"type": "join", "room": room, "ref": "b1"})
	if jb := bob.expect("joined", "join"); jb.Room != room || jb.DM == nil || jb.DM.ID != alice.welcome.User.ID {
		t.Fatalf("bob's join answered %s", jb)
	}
	alice.publishIn(room, "just us", "p1", "join")

	carol.sendJSON(map[string]any{"type": "join", "room": room, "ref": "c1"})
	if e := carol.expect("error", "join"); e.Code != "forbidden" || e.Ref != "c1" {
		t.Fatalf("carol's join answered %s", e)
	}
	carol.sendJSON(map[string]any{"type": "history", "room": room, "ref": "c2"})
	if e := carol.expect("error", "join"); e.Code != "forbidden" || e.Ref != "c2" {
		t.Fatalf("carol's history answered %s", e)
	}
	snoop := ts.connectWith(t, "carol", room, carol.welcome.Token)
	if snoop.welcome.Room != "general" {
		t.Fatalf("carol's connection to %s opened in %s", room, snoop.welcome.Room)
	}
	if e := snoop.expect("error"); e.Code != "forbidden" {
		t.Fatalf("after the welcome: %s, want forbidden", e)
	}
	for _, r := range ts.rooms(t) {
		if strings.HasPrefix(r.Name, "dm-") {
			t.Fatalf("/api/rooms lists %s", r.Name)
		}
	}
	// Both find it again on their next connect.
	for _, c := range []*client{alice, bob} {
		again := ts.connectWith(t, c.user.Name, "", c.welcome.Token)
		if len(again.welcome.DMs) != 1 || again.welcome.DMs[0].Room != room {
			t.Fatalf("%s's welcome lists DMs %+v", c.user.Name, again.welcome.DMs)
		}
	}
}

// TestReadPositionFollowsThePerson: a read position is remembered for the person: their
// next connection hears it with the count of entries after it.
func TestReadPositionFollowsThePerson(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{RateLimit: 0})
	a := ts.connect(t, "alice", "news")
	var last object
	for i := range 5 {
		_, last = a.publish("n", "r"+string(rune('0'+i)))
		if i == 1 {
			a.sendJSON(map[string]any{"type": "read", "room": "news", "seq": last.Seq})
		}
	}
	// Storing the position is asynchronous; another device of alice hears it either way.
	phone := ts.connectWith(t, "alice", "news", a.welcome.Token)
	r := phone.expect("read")
	if r.Room != "news" || r.Unread != 3 {
		t.Fatalf("read state %s, want 3 unread in news", r)
	}
}

// TestSignInWithJWT: with --auth-jwt-key, a JWT of the deployment's sign-in makes its sub
// the user and its name the display name; a wrong signature, an expired token or none at
// all are refused.
func TestSignInWithJWT(t *testing.T) {
	t.Parallel()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	ext, err := auth.ParseExternal(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	authn := auth.New(auth.Options{External: ext})
	_ = authn.SetKey(auth.NewKey())
	ts := startServer(t, server.Config{Auth: authn})

	mint := func(key *ecdsa.PrivateKey, exp time.Time) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
			"sub": "employee-42@example.com", "name": "Ada Lovelace", "exp": exp.Unix(),
		}).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	c := ts.connectWith(t, "", "", mint(priv, time.Now().Add(time.Hour)))
	if c.welcome.User.ID != "employee-42@example.com" || c.welcome.User.Name != "Ada Lovelace" {
		t.Fatalf("signed in as %+v", c.welcome.User)
	}
	// The session token it got works too.
	if again := ts.connectWith(t, "", "", c.welcome.Token); again.welcome.User.ID != "employee-42@example.com" {
		t.Fatalf("with the session token: %+v", again.welcome.User)
	}
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct{ name, query string }{
		{"no token", url.Values{"name": {"guest"}}.Encode()},
		{"another key", url.Values{"token": {mint(stranger, time.Now().Add(time.Hour))}}.Encode()},
		{"expired", url.Values{"token": {mint(priv, time.Now().Add(-time.Minute))}}.Encode()},
	} {
		c := ts.dial(t, tc.query)
		if e := c.expect("error"); e.Code != "unauthorized" {
			t.Errorf("%s: %s, want unauthorized", tc.name, e)
		}
		c.expectClosed(1008)
	}
}

// TestReadPositionInAnEmptyRoom: someone who saw a room while it had no entries reads it
// up to seq 0; what is stored there afterwards is unread on their next connection.
func TestReadPositionInAnEmptyRoom(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{RateLimit: 0})
	a := ts.connect(t, "alice", "quiet")
	if len(a.welcome.History) != 0 || a.welcome.LastSeq != 0 {
		t.Fatalf("a new room has history %v, last_seq %d", a.welcome.History, a.welcome.LastSeq)
	}
	a.sendJSON(map[string]any{"type": "read", "room": "quiet", "seq": 0})
	b := ts.connect(t, "bob", "quiet")
	a.expect("join")
	b.publish("first", "b1")
	b.publish("second", "b2")
	phone := ts.connectWith(t, "alice", "quiet", a.welcome.Token)
	r := phone.expect("read", "message")
	if r.Room != "quiet" || r.Seq != 0 || r.Unread != 2 {
		t.Fatalf("read state %s, want seq 0 with 2 unread in quiet", r)
	}
}

// TestBackUnderANewName: someone who comes back within the grace period with another name
// (the name given with their token, connected nowhere else on the node) is renamed in the
// room: the others get one rename, not a stale name in the online list, and the newcomer's
// welcome comes first and lists the new name.
func TestBackUnderANewName(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{PresenceGrace: 3 * time.Second})
	obs := ts.connect(t, "observer", "g")
	bob := ts.connect(t, "Bob", "g")
	obs.expect("join")
	bob.close()
	ts.waitConnections(t, 1)

	again := ts.connectWith(t, "Robert", "g", bob.welcome.Token)
	if again.welcome.User.ID != bob.welcome.User.ID || again.welcome.User.Name != "Robert" {
		t.Fatalf("back as %+v, want %s named Robert", again.welcome.User, bob.welcome.User.ID)
	}
	for _, u := range again.welcome.Online {
		if u.ID == bob.welcome.User.ID && u.Name != "Robert" {
			t.Fatalf("the welcome lists %+v", again.welcome.Online)
		}
	}
	r := obs.expect("rename")
	if r.User.ID != bob.welcome.User.ID || r.User.Name != "Robert" || r.Old != "Bob" {
		t.Fatalf("observer got %s, want Bob is now Robert", r)
	}
	obs.sendJSON(map[string]any{"type": "presence", "room": "g"})
	p := obs.expect("presence")
	if len(p.Online) != 2 || p.Online[1].Name != "Robert" {
		t.Fatalf("online %v, want observer and Robert", p.Online)
	}
	obs.expectQuiet(200*time.Millisecond, "join", "leave", "rename")
}
