package protocol

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// Emoji made of more than one character, all of which names and reactions keep.
var emojiSequences = []struct{ name, s string }{
	{"ZWJ sequence", "👩\u200d💻"},
	{"family", "👨\u200d👩\u200d👧"},
	{"skin tone", "👍\U0001F3FD"},
	{"variation selector", "❤\ufe0f"},
	{"text presentation", "☺\ufe0e"},
	{"keycap", "1\ufe0f\u20e3"},
	{"regional indicators", "🇫🇷"},
	{"Scotland", "🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F"},
	{"Wales", "🏴\U000E0067\U000E0062\U000E0077\U000E006C\U000E0073\U000E007F"},
	{"black flag alone", "🏴"},
	{"black flag twice", "🏴🏴"},
	{"rainbow flag", "🏳\ufe0f\u200d🌈"},
}

// Characters names and reactions refuse, with the class their error names.
var refusedChars = []struct {
	r     rune
	class string
}{
	{0x00, "control characters"}, {0x07, "control characters"}, {0x08, "control characters"},
	{0x1b, "control characters"}, {0x7f, "control characters"}, {0x80, "control characters"},
	{0x85, "control characters"}, {0x9b, "control characters"}, {0x9f, "control characters"},
	{0x061c, "bidirectional controls"}, {0x200e, "bidirectional controls"}, {0x200f, "bidirectional controls"},
	{0x202a, "bidirectional controls"}, {0x202b, "bidirectional controls"}, {0x202c, "bidirectional controls"},
	{0x202d, "bidirectional controls"}, {0x202e, "bidirectional controls"}, {0x2066, "bidirectional controls"},
	{0x2067, "bidirectional controls"}, {0x2068, "bidirectional controls"}, {0x2069, "bidirectional controls"},
	{0x2028, "line or paragraph separators"}, {0x2029, "line or paragraph separators"},
	{0x00ad, "invisible format characters"}, {0x200b, "invisible format characters"},
	{0x2060, "invisible format characters"}, {0x2064, "invisible format characters"},
	{0xfeff, "invisible format characters"}, {0xfff9, "invisible format characters"},
	{0x0600, "invisible format characters"}, {0x180e, "invisible format characters"},
	{0x1d173, "invisible format characters"}, {0xe0001, "invisible format characters"},
	{0xe0020, "tag characters other than a flag's"}, {0xe0067, "tag characters other than a flag's"},
	{0xe007f, "tag characters other than a flag's"},
}

// Tag characters outside a well-formed subdivision flag, and the one an error names.
var badTagSequences = []struct {
	name, s string
	bad     rune
}{
	{"tags without a flag", "a\U000E0067\U000E0062\U000E007F", 0xe0067},
	{"no cancel tag", "🏴\U000E0067\U000E0062", 0xe0062},
	{"cancel tag alone", "🏴\U000E007F", 0xe007f},
	{"upper-case tag", "🏴\U000E0047\U000E0042\U000E007F", 0xe0047},
	{"space tag", "🏴\U000E0020\U000E007F", 0xe0020},
	{"tags after the cancel tag", "🏴\U000E0067\U000E007F\U000E0067", 0xe0067},
	{"text after unfinished tags", "🏴\U000E0067x", 0xe0067},
}

// positions puts c at the start, in the middle (after the first character) and at the end
// of ok.
func positions(ok, c string) []string {
	_, n := utf8.DecodeRuneInString(ok)
	return []string{c + ok, ok[:n] + c + ok[n:], ok + c}
}

func TestCheckName(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"alice", "alice"}, {"  Zoë Ω  ", "Zoë Ω"}, {strings.Repeat("é", 32), strings.Repeat("é", 32)},
		// Spaces around a name are trimmed, not refused; ZWNJ is Persian.
		{"\talice\n", "alice"}, {"Sam 👩\u200d💻", "Sam 👩\u200d💻"}, {"مهر\u200cناز", "مهر\u200cناز"},
		{"עברית", "עברית"}, {"Ana ❤\ufe0f", "Ana ❤\ufe0f"},
	} {
		if got, err := CheckName(tt.in); got != tt.want || err != nil {
			t.Errorf("CheckName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, e := range emojiSequences {
		if _, err := CheckName("al " + e.s); err != nil {
			t.Errorf("name with %s refused: %v", e.name, err)
		}
	}
	for _, bad := range []string{"", "   ", strings.Repeat("a", 33), "\xff\xfe", "a\xffb"} {
		if _, err := CheckName(bad); err == nil || err.Code != CodeInvalidName || !strings.Contains(err.Message, "1-32 printable") {
			t.Errorf("CheckName(%q) = %v", bad, err)
		}
	}
	for _, c := range refusedChars {
		for _, s := range positions("alice", string(c.r)) {
			if strings.TrimSpace(s) != s {
				continue // spaces (U+0085, U+2028) around a name are trimmed away
			}
			checkRefused(t, "name", s, c.r, c.class, func(s string) *Error { _, err := CheckName(s); return err }, CodeInvalidName)
		}
	}
	for _, b := range badTagSequences {
		if _, err := CheckName("al " + b.s); err == nil || err.Code != CodeInvalidName || !strings.Contains(err.Message, "tag characters") || !strings.Contains(err.Message, fmt.Sprintf("%U", b.bad)) {
			t.Errorf("name with %s: %v, want %U named", b.name, err, b.bad)
		}
	}
	// Names, unlike reactions, must be printable.
	for _, r := range []rune{0x00a0, 0x3000, 0xe000, 0xfffe, 0x0378} {
		if _, err := CheckName("al" + string(r) + "ice"); err == nil || !strings.Contains(err.Message, "not printable") {
			t.Errorf("name with %U: %v", r, err)
		}
	}
}

// checkRefused checks that check refuses s for its character r of the class, with a
// message that names the class and the code point without carrying the character itself.
func checkRefused(t *testing.T, what, s string, r rune, class string, check func(string) *Error, code string) {
	t.Helper()
	err := check(s)
	if err == nil {
		t.Errorf("%s %q accepted", what, s)
		return
	}
	if err.Code != code || !strings.Contains(err.Message, class) || !strings.Contains(err.Message, fmt.Sprintf("%U", r)) {
		t.Errorf("%s %q: %v, want %s naming %s and %U", what, s, err, code, class, r)
	}
	if strings.ContainsRune(err.Message, r) {
		t.Errorf("%s %q: the message %q carries the character", what, s, err.Message)
	}
}

func TestCheckEmoji(t *testing.T) {
	for _, ok := range []string{"👍", "+1", "ok", "\U0001FAE9" /* newer than these tables */, strings.Repeat("a", MaxEmojiLen)} {
		if err := checkEmoji(ok); err != nil {
			t.Errorf("checkEmoji(%q) = %v", ok, err)
		}
	}
	for _, e := range emojiSequences {
		if err := checkEmoji(e.s); err != nil {
			t.Errorf("%s refused: %v", e.name, err)
		}
	}
	checkRefused(t, "emoji", "👍\u200c", zwnj, "invisible format characters", checkEmoji, CodeBadRequest)
	for _, bad := range []string{"", " 👍", "👍 ", "\xff", strings.Repeat("a", MaxEmojiLen+1)} {
		if err := checkEmoji(bad); err == nil || err.Code != CodeBadRequest {
			t.Errorf("checkEmoji(%q) = %v", bad, err)
		}
	}
	for _, c := range refusedChars {
		for _, s := range positions("👍", string(c.r)) {
			checkRefused(t, "emoji", s, c.r, c.class, checkEmoji, CodeBadRequest)
		}
	}
	for _, b := range badTagSequences {
		if err := checkEmoji(b.s); err == nil || err.Code != CodeBadRequest || !strings.Contains(err.Message, "tag characters") || !strings.Contains(err.Message, fmt.Sprintf("%U", b.bad)) {
			t.Errorf("emoji with %s: %v, want %U named", b.name, err, b.bad)
		}
	}
}

func TestValidateBodyControls(t *testing.T) {
	for _, ok := range []string{"a\tb", "line\nline", "line\r\nline", "\ttabbed", "👩\u200d💻", "שלום\u200f!", "a\u202eb", "x\u00a0y"} {
		if err := ValidateBody(ok, 100); err != nil {
			t.Errorf("ValidateBody(%q) = %v", ok, err)
		}
	}
	for _, r := range []rune{0x00, 0x01, 0x07, 0x08, 0x0b, 0x0c, 0x1b, 0x1f, 0x7f, 0x80, 0x85, 0x9b, 0x9f} {
		for _, s := range positions("hello", string(r)) {
			checkRefused(t, "body", s, r, "control characters", func(s string) *Error { return ValidateBody(s, 100) }, CodeBadRequest)
		}
	}
	// What the body rule keeps and refuses in JSON, topics included.
	for _, tt := range []struct {
		line, code string
	}{
		{`{"type":"topic","body":"a\tb"}`, ""},
		{`{"type":"topic","body":"a\u0000b"}`, CodeBadRequest},
		{`{"type":"topic","body":"\u001b[31mred"}`, CodeBadRequest},
		{`{"type":"topic","body":"\u0085"}`, CodeBadRequest},
	} {
		if _, err := decodeObject([]byte(tt.line)); (err == nil) != (tt.code == "") || err != nil && err.Code != tt.code {
			t.Errorf("%s: %v, want %q", tt.line, err, tt.code)
		}
	}
}

// TestDecodeRefusesControls: rename and react refuse the characters in JSON, escaped or not.
func TestDecodeRefusesControls(t *testing.T) {
	for _, c := range refusedChars {
		esc, _ := json.Marshal(string(c.r)) // \u0000, \u2028 ...
		raw := `"` + string(c.r) + `"`
		for _, v := range []string{string(esc), raw} {
			if !json.Valid([]byte(v)) {
				continue // raw controls are not JSON
			}
			val := v[1 : len(v)-1]
			cases := []struct{ line, code string }{
				{`{"type":"rename","name":"al` + val + `ice"}`, CodeInvalidName},
				{`{"type":"react","id":"1","emoji":"👍` + val + `","on":true}`, CodeBadRequest},
				{`{"type":"react","id":"1","emoji":"` + val + `","on":true}`, CodeBadRequest},
			}
			if !unicode.IsSpace(c.r) { // else trimmed from around a name
				cases = append(cases, struct{ line, code string }{`{"type":"rename","name":"` + val + `alice"}`, CodeInvalidName})
			}
			for _, tt := range cases {
				_, err := decodeObject([]byte(tt.line))
				if err == nil || err.Code != tt.code || !strings.Contains(err.Message, c.class) || strings.ContainsRune(err.Message, c.r) {
					t.Errorf("%q: %v, want %s naming %s", tt.line, err, tt.code, c.class)
				}
			}
		}
	}
}
