// Limits: frame size, bad requests and the rate limit.

package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/distchat/distchat/server"
)

// TestWelcomeLimitsMatchEnforcement: limits in welcome must tell clients what the server
// enforces, also when the configuration names a rate but no burst.
func TestWelcomeLimitsMatchEnforcement(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{RateLimit: 0.5})
	c := ts.connect(t, "alice", "")
	burst := c.welcome.Limits.Burst
	if c.welcome.Limits.Rate != 0.5 {
		t.Errorf("welcome limits = %+v, want rate 0.5", c.welcome.Limits)
	}
	// At 0.5/s nothing refills while these are sent: exactly burst of them pass.
	n := burst + 3
	for i := range n {
		c.sendJSON(msg("hi", fmt.Sprint("r", i)))
	}
	accepted, refused := 0, 0
	for accepted+refused < n {
		switch o := c.expectAny("ack", "error", "message"); o.Type {
		case "ack":
			accepted++
		case "error":
			if o.Code != "rate_limited" {
				t.Fatalf("got %s, want rate_limited", o)
			}
			refused++
		}
	}
	if accepted != burst {
		t.Errorf("welcome says burst %d, but %d of %d messages sent at once were accepted", burst, accepted, n)
	}
}

func TestOversizedFrameClosesWith1009(t *testing.T) {
	t.Parallel()
	const limit = 4096
	ts := startServer(t, server.Config{MaxMessageBytes: limit})
	a := ts.connect(t, "alice", "")
	b := ts.connect(t, "bob", "")
	a.expect("join")

	// A frame of exactly the limit is fine (the body limit follows the frame limit).
	b.sendText(strings.Repeat("b", limit))
	if m := a.expect("message"); len(m.Body) != limit {
		t.Fatalf("alice got a body of %d bytes, want %d", len(m.Body), limit)
	}
	b.expect("ack", "message")

	a.sendText(strings.Repeat("a", limit+1))
	a.expectClosed(websocket.CloseMessageTooBig)

	if l := b.expect("leave", "message"); l.User != a.user {
		t.Errorf("bob got %s, want alice's leave", l)
	}
	b.publish("still here", "r1")
	c := ts.connect(t, "carol", "")
	c.publish("me too", "r2")
}

func TestBadRequestsAreAnsweredAndKeepTheConnection(t *testing.T) {
	t.Parallel()
	const maxBody = 100
	ts := startServer(t, server.Config{MaxBodyBytes: maxBody})
	c := ts.connect(t, "alice", "")
	for i, tc := range []struct {
		name, frame string
		binary      bool
		code, ref   string
	}{
		{name: "truncated JSON", frame: `{"type":`, code: "bad_json"},
		{name: "a line that is not an object", frame: "{\"type\":\"presence\"}\n[1]", code: "bad_json"},
		{name: "unknown type", frame: `{"type":"shout","ref":"u1"}`, code: "unknown_type", ref: "u1"},
		{name: "missing type", frame: `{"body":"hi","ref":"u2"}`, code: "unknown_type", ref: "u2"},
		{name: "body of the wrong type", frame: `{"type":"message","body":5,"ref":"x"}`, code: "bad_request", ref: "x"},
		{name: "empty body", frame: `{"type":"message","body":"","ref":"e1"}`, code: "empty_body", ref: "e1"},
		{name: "body of spaces", frame: `{"type":"message","body":"  \n ","ref":"e2"}`, code: "empty_body", ref: "e2"},
		{name: "empty frame", frame: "", code: "empty_body"},
		{name: "body too long", frame: fmt.Sprintf(`{"type":"message","body":%q,"ref":"l1"}`, strings.Repeat("y", maxBody+1)), code: "too_long", ref: "l1"},
		{name: "ref too long", frame: fmt.Sprintf(`{"type":"message","body":"hi","ref":%q}`, strings.Repeat("r", 65)), code: "bad_request"},
		{name: "history limit out of range", frame: `{"type":"history","limit":101,"ref":"h1"}`, code: "bad_request", ref: "h1"},
		{name: "binary frame", frame: "\x00\x01", binary: true, code: "unsupported"},
		{name: "message to a room not joined", frame: `{"type":"message","room":"elsewhere","body":"hi","ref":"n1"}`, code: "not_member", ref: "n1"},
		{name: "history of a room not joined", frame: `{"type":"history","room":"elsewhere","ref":"n2"}`, code: "not_member", ref: "n2"},
		{name: "join an invalid room", frame: `{"type":"join","room":"Bad Room","ref":"j1"}`, code: "invalid_room", ref: "j1"},
	} {
		typ := websocket.TextMessage
		if tc.binary {
			typ = websocket.BinaryMessage
		}
		if err := c.conn.WriteMessage(typ, []byte(tc.frame)); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// Any presence answer comes from the valid first line of a frame.
		e := c.expect("error", "presence")
		if e.Code != tc.code || e.Ref != tc.ref || e.Message == "" {
			t.Errorf("%s: got %s, want code %q, ref %q and a message", tc.name, e, tc.code, tc.ref)
		}
		// The connection stays open and usable.
		c.publish(fmt.Sprintf("still here %d", i), fmt.Sprint("ok-", i), "presence")
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	t.Run("limited", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, server.Config{RateLimit: 5, RateBurst: 10})
		c := ts.connect(t, "alice", "")
		if l := c.welcome.Limits; l.Rate != 5 || l.Burst != 10 {
			t.Errorf("welcome limits = %+v, want rate 5, burst 10", l)
		}
		const n = 30
		for i := range n {
			c.sendJSON(msg(fmt.Sprint("m", i), fmt.Sprint("r", i)))
		}
		answers := make(map[string]object)
		messages := 0
		acked := 0
		for len(answers) < n || messages < acked {
			o := c.expectAny("ack", "message", "error")
			switch o.Type {
			case "message":
				messages++
				continue
			case "ack":
				acked++
			case "error":
				if o.Code != "rate_limited" {
					t.Fatalf("got %s, want rate_limited", o)
				}
			}
			if prev, dup := answers[o.Ref]; dup {
				t.Fatalf("%q answered twice: %s and %s", o.Ref, prev, o)
			}
			answers[o.Ref] = o
		}
		for i := range 10 {
			if a := answers[fmt.Sprint("r", i)]; a.Type != "ack" {
				t.Errorf("message %d within the burst: %s, want an ack", i, a)
			}
		}
		if acked < 10 || n-acked < 15 {
			t.Errorf("%d acked, %d refused; want at least 10 and 15", acked, n-acked)
		}
		// Tokens come back: 5 per second. The pause is what this checks, not a wait for an
		// event: after a second of silence at least 5 tokens are back, 3 are used.
		time.Sleep(time.Second)
		for i := range 3 {
			c.publish("later", fmt.Sprint("later-", i))
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, server.Config{RateLimit: 0})
		c := ts.connect(t, "alice", "")
		if l := c.welcome.Limits; l.Rate != 0 {
			t.Errorf("welcome limits = %+v, want rate 0", l)
		}
		const n = 50
		for i := range n {
			c.sendJSON(msg("m", fmt.Sprint("r", i)))
		}
		acks := 0
		for _, o := range c.expectN(2 * n) {
			switch o.Type {
			case "ack":
				acks++
			case "message":
			default:
				t.Fatalf("got %s, want acks and messages", o)
			}
		}
		if acks != n {
			t.Errorf("%d acks, want %d", acks, n)
		}
	})
}
