package protocol

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// What people see of each other (display names, reactions, message bodies, topics) may not
// carry characters that control how text is shown rather than being text: controls (NUL,
// ESC and the rest of C0, DEL, C1), bidirectional controls (which reverse what follows:
// "exe.txt" shown for "txt.exe"), line and paragraph separators, and invisible format
// characters. What emoji are made of stays: the zero-width joiner (U+200D) of sequences
// such as 👩‍💻, variation selectors, skin tones, regional indicators (flags), and the tag
// characters of subdivision flags such as 🏴󠁧󠁢󠁳󠁣󠁴󠁿 (only there: elsewhere they are invisible
// text). Names also keep the zero-width non-joiner (U+200C), which Persian and Indic
// scripts need. Bodies and topics are text people write: only controls other than tab,
// line feed and carriage return are refused there.

const (
	zwnj      = '\u200c'
	zwj       = '\u200d'
	flagBase  = '\U0001F3F4' // 🏴, the base of subdivision flags
	tagBase   = '\U000E0000' // tagBase+'a' is the tag for a
	tagFirst  = tagBase + ' '
	tagCancel = '\U000E007F' // ends a flag's tag sequence
)

// refusedRune returns the first character of s (valid UTF-8) that a reaction, or with
// name a name, may not contain, and its class (plural, for messages); class is "" when
// there is none. A name keeps the zero-width non-joiner and must be printable otherwise
// (unicode.IsPrint, a space or a joiner).
func refusedRune(s string, name bool) (r rune, class string) {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if r < utf8.RuneSelf && r >= ' ' && r != 0x7f {
			continue
		}
		if r == flagBase {
			var bad rune
			if i, bad = flagTagsEnd(s, i); bad != 0 {
				return bad, "tag characters other than a flag's"
			}
			continue
		}
		if class := runeClass(r); class != "" {
			return r, class
		}
		if r == zwnj && !name {
			return r, "invisible format characters"
		}
		if name && r != zwj && r != zwnj && !unicode.IsPrint(r) {
			return r, "characters that are not printable"
		}
	}
	return 0, ""
}

// flagTagsEnd returns where the tags that follow a 🏴 at s[:i] end (i if none follow), or
// the tag that makes them other than a subdivision's: one or more of the tags for a-z and
// 0-9, then the cancel tag, as in the flags of Scotland, England and Wales.
func flagTagsEnd(s string, i int) (int, rune) {
	var last rune // the last tag read
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r >= tagBase+'0' && r <= tagBase+'9', r >= tagBase+'a' && r <= tagBase+'z':
		case r == tagCancel && last != 0:
			return i + n, 0
		case r >= tagFirst && r <= tagCancel:
			return i, r
		default:
			return i, last // no cancel tag after the last, if any
		}
		last = r
		i += n
	}
	return i, last
}

// runeClass returns the class of a character names and reactions may not contain, or ""
// (for the joiners too: refusedRune decides on the non-joiner).
func runeClass(r rune) string {
	switch {
	case r < 0x20 || r >= 0x7f && r < 0xa0:
		return "control characters"
	case r == '\u061c' || r == '\u200e' || r == '\u200f' || r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069':
		return "bidirectional controls"
	case r == '\u2028' || r == '\u2029':
		return "line or paragraph separators"
	case r >= tagFirst && r <= tagCancel:
		return "tag characters other than a flag's"
	case r == zwj || r == zwnj:
		return ""
	case unicode.Is(unicode.Cf, r):
		return "invisible format characters"
	}
	return ""
}

// bodyControl returns the first control character of s (valid UTF-8) other than tab, line
// feed and carriage return, or -1.
func bodyControl(s string) rune {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r', c == 0x7f:
			return rune(c)
		case c == 0xc2 && i+1 < len(s) && s[i+1] < 0xa0: // C1: U+0080-U+009F
			return rune(s[i+1])
		}
	}
	return -1
}

// CheckName trims a display name and returns it, or why it is not acceptable (code
// invalid_name): it must be valid UTF-8, 1 to MaxNameLen characters, printable, without
// the characters described above.
func CheckName(s string) (string, *Error) {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n == 0 || n > MaxNameLen || !utf8.ValidString(s) {
		return "", &Error{CodeInvalidName, fmt.Sprintf("names are 1-%d printable characters", MaxNameLen)}
	}
	if r, class := refusedRune(s, true); class != "" {
		return "", &Error{CodeInvalidName, fmt.Sprintf("names cannot contain %s (%U)", class, r)}
	}
	return s, nil
}

// NormalizeName trims a display name and reports whether it is acceptable (see CheckName).
func NormalizeName(s string) (string, bool) {
	s, err := CheckName(s)
	return s, err == nil
}

// checkEmoji checks a reaction: 1 to MaxEmojiLen bytes of UTF-8, no spaces around it, none
// of the characters described above. Characters newer than this build's Unicode tables
// are accepted: newer clients know newer emoji.
func checkEmoji(e string) *Error {
	if e == "" || len(e) > MaxEmojiLen || !utf8.ValidString(e) {
		return &Error{CodeBadRequest, fmt.Sprintf("\"emoji\" must be 1-%d bytes", MaxEmojiLen)}
	}
	if r, class := refusedRune(e, false); class != "" {
		return &Error{CodeBadRequest, fmt.Sprintf("\"emoji\" cannot contain %s (%U)", class, r)}
	}
	if strings.TrimSpace(e) != e {
		return &Error{CodeBadRequest, "\"emoji\" cannot start or end with spaces"}
	}
	return nil
}
