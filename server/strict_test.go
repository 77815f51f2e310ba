package server_test

import (
	"strings"
	"testing"

	"github.com/distchat/distchat/server"
)

// TestStrictRequests: what an attacker sends to slip past a filtering proxy or into other
// people's screens is refused over a real connection, and nothing of it reaches the room.
func TestStrictRequests(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{RateLimit: 0})
	// What emoji are made of is no control: a joiner, the tags of Scotland's flag.
	name := "Sam 👩\u200d💻 🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F"
	alice := ts.connect(t, name, "strict")
	if alice.welcome.User.Name != name {
		t.Fatalf("welcome = %s", alice.welcome)
	}
	bob := ts.connect(t, "bob", "strict")
	alice.expect("join")
	_, m := alice.publish("first", "m1")
	bob.expect("message")
	for _, tc := range []struct {
		name, frame, code, ref, says string
	}{
		{"keys in capitals", `{"TYPE":"message","BODY":"hi","ref":"s1"}`, "unknown_type", "s1", `missing "type"`},
		{"duplicate body", `{"type":"message","body":"ok","body":"evil","ref":"s2"}`, "bad_json", "", `"body"`},
		{"duplicate type", `{"type":"typing","type":"message","body":"evil"}`, "bad_json", "", `"type"`},
		{"NUL reaction", `{"type":"react","id":"` + m.ID + `","emoji":"\u0000","on":true,"ref":"s3"}`, "bad_request", "s3", "control characters"},
		{"bidi reaction", `{"type":"react","id":"` + m.ID + `","emoji":"👍\u202e","on":true,"ref":"s4"}`, "bad_request", "s4", "bidirectional controls"},
		{"NUL in a body", `{"type":"message","body":"a\u0000b","ref":"s5"}`, "bad_request", "s5", "control characters"},
		{"escape sequence in a body", `{"type":"message","body":"\u001b[2Jgone","ref":"s6"}`, "bad_request", "s6", "U+001B"},
		{"bidi name", `{"type":"rename","name":"al\u202eecipa","ref":"s7"}`, "invalid_name", "s7", "bidirectional controls"},
		{"NUL in plain text", "hi\x00there", "bad_request", "", "control characters"},
	} {
		alice.sendText(tc.frame)
		e := alice.expect("error")
		if e.Code != tc.code || e.Ref != tc.ref || !strings.Contains(e.Message, tc.says) {
			t.Errorf("%s: %s, want %s (ref %q) saying %q", tc.name, e.raw, tc.code, tc.ref, tc.says)
		}
	}
	// Unknown keys and case variants are ignored; the real fields are used.
	alice.sendText(`{"type":"message","Body":"evil","body":"tabs\tand\nlines stay","client":{"v":[1]},"ref":"ok"}`)
	alice.expect("ack", "message")
	if got := bob.expect("message"); got.Body != "tabs\tand\nlines stay" {
		t.Fatalf("bob got %s after the refused requests, want the last message", got.raw)
	}
}
