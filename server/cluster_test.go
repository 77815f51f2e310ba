package server_test

import (
	"fmt"
	"testing"

	"github.com/distchat/distchat/server"
	"github.com/distchat/distchat/server/broker/jetstream"
	"github.com/distchat/distchat/server/broker/jetstream/jstest"
)

// TestTwoNodesShareRooms runs two distchat nodes on one external NATS server (as with
// --nats-url): a client on node A and a client on node B chat in one room, both see every
// message in the same order, and a newcomer on B gets the history written through A.
func TestTwoNodesShareRooms(t *testing.T) {
	ns := jstest.StartNATS(t) // stopped after both nodes: cleanups run in reverse

	node := func() *testServer {
		return startServer(t, server.Config{Broker: jstest.Connect(t, ns.ClientURL(), jetstream.Options{}), RateLimit: 0})
	}
	a, b := node(), node()

	alice := a.connect(t, "alice", "shared")
	bob := b.connect(t, "bob", "shared")
	for i := range 20 {
		alice.sendJSON(msg(fmt.Sprint("from a ", i), fmt.Sprint("a", i)))
		bob.sendJSON(msg(fmt.Sprint("from b ", i), fmt.Sprint("b", i)))
	}
	order := func(c *client) []string {
		var bodies []string
		var last uint64
		for len(bodies) < 40 {
			o := c.expect("message", "ack", "join", "leave", "typing")
			if o.Seq <= last {
				t.Fatalf("seq %d after %d", o.Seq, last)
			}
			last = o.Seq
			bodies = append(bodies, o.Body)
		}
		return bodies
	}
	got, want := order(alice), order(bob)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the nodes delivered different orders:\nA: %q\nB: %q", got, want)
	}

	carol := b.connect(t, "carol", "shared")
	if n := len(carol.welcome.History); n != 40 {
		t.Fatalf("newcomer on node B got %d messages of history, want 40", n)
	}
	if carol.welcome.History[39].Body != want[39] {
		t.Fatalf("history ends with %q, want %q", carol.welcome.History[39].Body, want[39])
	}
}
