package protocol

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeFrame checks that no frame panics the decoder, that every decoded request
// satisfies the validation rules, that errors never carry a control character back, and,
// for each JSON object, that both decoding paths agree and that what decodes re-encodes to
// the same request.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{"hello", `{"type":"message","body":"x"}`, "{\"type\":\"typing\"}\n{\"type\":\"join\",\"room\":\"a\",\"since\":1}",
		`{"type":"history","limit":5}`, `{"type":`, "  {", "{\"ref\":\"\xff\"}",
		`{"TYPE":"message","BODY":"hi"}`, `{"type":"message","body":"a","body":"b"}`, `{"typ\u0065":"typing","type":"typing"}`,
		`{"type":"typing","x":{"type":"join","a":[1,"]"]},"ref":"r"}`, `{"type":"message","body":"a\\\",\"Type\":\"x","ref":"\\"}`,
		`{"type":"react","id":"1","emoji":"🏴` + "\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F" + `","on":true}`,
		`{"type":"rename","name":"al\u202eice"}`, `{"type":"dm","user":"u1","name":"x"}`, `{"type":"read","room":"a","seq":2}`,
		`{"type":"topic","body":"a\u0000"}`, `{"type":"join","room":"a","ſince":5,"since":-1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		DecodeFrame(frame, func(r Request, e *Error) {
			if e != nil {
				if e.Code == "" || e.Message == "" {
					t.Fatalf("error without code or message: %+v", e)
				}
				if r, class := refusedRune(e.Message, false); class != "" || !utf8.ValidString(e.Message) {
					t.Fatalf("error message %q carries %U", e.Message, r)
				}
				return
			}
			checkAccepted(t, r)
		})
		trimmed := bytes.TrimLeft(frame, " \t\r\n")
		if len(trimmed) == 0 || trimmed[0] != '{' {
			return
		}
		for _, line := range bytes.Split(trimmed, []byte("\n")) {
			if line = bytes.TrimSpace(line); len(line) > 0 && line[0] == '{' {
				checkSamePaths(t, line)
				checkRoundTrip(t, line)
			}
		}
	})
}

// checkAccepted checks a request DecodeFrame accepted against the rules of its type.
func checkAccepted(t *testing.T, r Request) {
	t.Helper()
	switch r.Type {
	case TypeMessage, TypeTyping, TypePresence, TypeHistory, TypeEdit, TypeDelete, TypeReact, TypeTopic, TypeRead:
		if r.Room != "" && !ValidRoom(r.Room) {
			t.Fatalf("accepted invalid room %q", r.Room)
		}
	case TypeJoin, TypeLeave:
		if !ValidRoom(r.Room) {
			t.Fatalf("accepted invalid room %q", r.Room)
		}
	case TypeRename:
		if _, err := CheckName(r.Name); err != nil || strings.ContainsFunc(r.Name, isControl) {
			t.Fatalf("accepted name %q", r.Name)
		}
	case TypeDM:
		if !ValidUserID(r.User) {
			t.Fatalf("accepted user %q", r.User)
		}
	default:
		t.Fatalf("accepted unknown type %q", r.Type)
	}
	if len(r.Ref) > MaxRefLen {
		t.Fatalf("accepted long ref")
	}
	switch r.Type {
	case TypeEdit, TypeDelete, TypeReact:
		if r.ID == "" || len(r.ID) > 64 {
			t.Fatalf("accepted id %q", r.ID)
		}
	case TypeHistory:
		if r.Limit < 1 || r.Limit > MaxHistoryLimit {
			t.Fatalf("accepted limit %d", r.Limit)
		}
	case TypeTopic:
		if bodyControl(r.Body) >= 0 || utf8.RuneCountInString(r.Body) > MaxTopicLen {
			t.Fatalf("accepted topic %q", r.Body)
		}
	}
	if r.Type == TypeReact {
		if checkEmoji(r.Emoji) != nil || strings.ContainsFunc(r.Emoji, isControl) || r.On == nil {
			t.Fatalf("accepted reaction %q %v", r.Emoji, r.On)
		}
	}
}

// isControl says whether c is a control or a bidirectional control, the characters an
// attacker sends first (written out again here rather than taken from runeClass).
func isControl(c rune) bool {
	return c < 0x20 || c >= 0x7f && c < 0xa0 || c == 0x61c || c == 0x200e || c == 0x200f ||
		c >= 0x202a && c <= 0x202e || c >= 0x2066 && c <= 0x2069
}
