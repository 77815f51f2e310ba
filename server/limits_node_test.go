package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/distchat/distchat/server"
)

// TestNodeLimits: each limit answers limit_exceeded naming its flag; the client keeps its
// connection (except for the per-address limit, which refuses the new one) and the node
// goes on serving everyone else.
func TestNodeLimits(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{RateLimit: 0, MaxRoomsPerConn: 3, MaxRooms: 5, HistoryRate: 1, HistoryBurst: 2, MaxConnsPerIP: 6})
	a := ts.connect(t, "alice", "r0")
	for i := 1; i < 3; i++ {
		a.sendJSON(map[string]any{"type": "join", "room": fmt.Sprint("r", i)})
		a.expect("joined")
	}
	a.sendJSON(map[string]any{"type": "join", "room": "r3", "ref": "j3"})
	if e := a.expect("error"); e.Code != "limit_exceeded" || e.Ref != "j3" || !strings.Contains(e.Message, "--max-rooms-per-conn") {
		t.Fatalf("a fourth room: %s", e)
	}
	a.publish("still here", "m1")

	// Rooms per node: r0..r2 are served; two more fill the node.
	b := ts.connect(t, "bob", "r3")
	b.sendJSON(map[string]any{"type": "join", "room": "r4"})
	b.expect("joined")
	b.sendJSON(map[string]any{"type": "join", "room": "r5", "ref": "j5"})
	if e := b.expect("error"); e.Code != "limit_exceeded" || !strings.Contains(e.Message, "--max-rooms") {
		t.Fatalf("a sixth room on the node: %s", e)
	}
	b.sendJSON(map[string]any{"type": "join", "room": "r0"}) // an existing room is fine
	b.expect("joined", "join")

	// History requests have a limit of their own.
	var refused int
	for i := range 6 {
		b.sendJSON(map[string]any{"type": "history", "room": "r0", "ref": fmt.Sprint("h", i)})
	}
	for range 6 {
		o := b.expectAny("history", "error")
		if o.Type == "error" {
			if o.Code != "limit_exceeded" || !strings.Contains(o.Message, "--history-rate") {
				t.Fatalf("history answered %s", o)
			}
			refused++
		}
	}
	if refused < 3 {
		t.Fatalf("%d of 6 quick history requests refused, want at least 3 (1/s, bursts of 2)", refused)
	}
	b.publishIn("r0", "messages are not limited by it", "m2", "join", "message")

	// Connections per address: four open already (a, b), up to six.
	for range 4 {
		ts.connect(t, "more", "r0")
	}
	c := ts.dial(t, "name=one-too-many&room=r0")
	if e := c.expect("error"); e.Code != "limit_exceeded" || !strings.Contains(e.Message, "--max-conns-per-ip") {
		t.Fatalf("a seventh connection: %s", e)
	}
	c.expectClosed(1008)
	a.close()
	ts.waitConnections(t, 5)
	ts.connect(t, "room again", "r0")
}

// TestConnsPerIPBehindProxy: behind a trusted proxy, the client address comes from
// X-Forwarded-For; from anywhere else the header is ignored.
func TestConnsPerIPBehindProxy(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{MaxConnsPerIP: 1, TrustedProxies: []string{"127.0.0.1"}})
	fwd := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {"203.0.113.9, " + ip}} }
	if _, _, err := ts.dialRaw(t, "name=a", fwd("198.51.100.1"), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ts.dialRaw(t, "name=b", fwd("198.51.100.2"), nil); err != nil {
		t.Fatal(err)
	}
	conn, _, err := ts.dialRaw(t, "name=c", fwd("198.51.100.1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, conn)
	if e := c.expect("error"); e.Code != "limit_exceeded" {
		t.Fatalf("a second connection from 198.51.100.1: %s", e)
	}
}

// TestDMsCountApartFromRooms: direct-message rooms have their own bound (4 × the rooms per
// connection), so someone with many conversations can still join rooms, and the reverse.
func TestDMsCountApartFromRooms(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{RateLimit: 0, MaxRoomsPerConn: 1})
	a := ts.connect(t, "alice", "general")
	for i := range 5 {
		other := ts.connect(t, fmt.Sprint("friend", i), "general") // a DM is with someone one shares a room with
		a.expect("join")
		ref := fmt.Sprint("d", i)
		a.sendJSON(map[string]any{"type": "dm", "user": other.welcome.User.ID, "ref": ref})
		o := a.expectAny("joined", "error")
		switch {
		case i < 4 && (o.Type != "joined" || !strings.HasPrefix(o.Room, "dm-")):
			t.Fatalf("DM %d, in one room and %d DMs: %s", i+1, i, o)
		case i == 4 && (o.Type != "error" || o.Code != "limit_exceeded" || o.Ref != ref || !strings.Contains(o.Message, "direct-message rooms")):
			t.Fatalf("a fifth DM with --max-rooms-per-conn 1: %s", o)
		}
	}
	a.sendJSON(map[string]any{"type": "join", "room": "second", "ref": "j2"})
	if e := a.expect("error"); e.Code != "limit_exceeded" || e.Ref != "j2" || !strings.Contains(e.Message, "--max-rooms-per-conn") {
		t.Fatalf("a second room: %s", e)
	}
	a.publish("still here", "m1")
}

// TestRoomsPerAddressAndPerson: the connections of one address cannot take the node's
// rooms, nor those of one person; whoever else comes still opens rooms, and direct-message
// rooms open even when the node serves its most rooms.
func TestRoomsPerAddressAndPerson(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{RateLimit: 0, MaxRoomsPerConn: 10, MaxRooms: 35, MaxRoomsPerIP: 20, MaxRoomsPerUser: 15,
		TrustedProxies: []string{"127.0.0.1"}})
	from := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }
	dialFrom := func(ip, query string) *client {
		conn, _, err := ts.dialRaw(t, query, from(ip), nil)
		if err != nil {
			t.Fatal(err)
		}
		c := newClient(t, conn)
		c.welcome = c.expect("welcome")
		c.user = user{ID: c.welcome.User.ID, Name: c.welcome.User.Name}
		return c
	}
	// The attacker's guests, all from one address, each in the lobby and nine rooms of its
	// own: 20 distinct rooms, then no more.
	refused := 0
	for c := 0; c < 4; c++ {
		g := dialFrom("198.51.100.7", fmt.Sprintf("name=g%d&room=lobby", c))
		for i := 1; i < 10; i++ {
			g.sendJSON(map[string]any{"type": "join", "room": fmt.Sprintf("a%d-%d", c, i), "ref": "j"})
			o := g.expectAny("joined", "error")
			if o.Type == "error" {
				if o.Code != "limit_exceeded" || !strings.Contains(o.Message, "--max-rooms-per-ip") {
					t.Fatalf("guest %d, room %d: %s", c, i, o)
				}
				refused++
			}
		}
	}
	if refused != 36-19 {
		t.Fatalf("%d joins refused, want 17 (36 asked, 20 rooms per address, the lobby one of them)", refused)
	}
	// A new connection of that address into a new room is refused outright.
	conn, _, err := ts.dialRaw(t, "name=more&room=another", from("198.51.100.7"), nil)
	if err != nil {
		t.Fatal(err)
	}
	more := newClient(t, conn)
	if e := more.expect("error"); e.Code != "limit_exceeded" || !strings.Contains(e.Message, "--max-rooms-per-ip") {
		t.Fatalf("a connection of the same address into a new room: %s", e)
	}
	more.expectClosed(1008)

	// Someone else still opens rooms; one person's connections share a bound of their own.
	bob := dialFrom("203.0.113.5", "name=bob&room=b0")
	for i := 1; i < 10; i++ {
		bob.sendJSON(map[string]any{"type": "join", "room": fmt.Sprint("b", i)})
		bob.expect("joined")
	}
	bob2 := dialFrom("203.0.113.6", "name=bob&room=b0&token="+bob.welcome.Token)
	for i := 10; i < 15; i++ {
		bob2.sendJSON(map[string]any{"type": "join", "room": fmt.Sprint("b", i)})
		bob2.expect("joined")
	}
	bob2.sendJSON(map[string]any{"type": "join", "room": "b15", "ref": "j15"})
	if e := bob2.expect("error"); e.Code != "limit_exceeded" || !strings.Contains(e.Message, "--max-rooms-per-user") {
		t.Fatalf("bob's 16th room: %s", e)
	}
	// The node now serves its most rooms (20 + 15): a third person gets --max-rooms for a
	// new one, but a conversation opens.
	carol := dialFrom("192.0.2.1", "name=carol&room=b0")
	carol.sendJSON(map[string]any{"type": "join", "room": "c1", "ref": "c1"})
	if e := carol.expect("error", "join"); e.Code != "limit_exceeded" || !strings.Contains(e.Message, "--max-rooms") {
		t.Fatalf("a new room on a full node: %s", e)
	}
	carol.sendJSON(map[string]any{"type": "dm", "user": bob.welcome.User.ID, "ref": "d"})
	if j := carol.expect("joined", "join"); !strings.HasPrefix(j.Room, "dm-") {
		t.Fatalf("a DM on a full node: %s", j)
	}
}
