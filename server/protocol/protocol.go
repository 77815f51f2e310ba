// Package protocol defines distchat's wire protocol v1 (see docs/protocol.md): the objects
// exchanged over the WebSocket, how client frames are decoded and validated, and how server
// objects are encoded. It knows nothing of connections, rooms or storage.
package protocol

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Server-to-client and client-to-server object types.
const (
	TypeWelcome  = "welcome"
	TypeMessage  = "message"
	TypeJoin     = "join"
	TypeLeave    = "leave"
	TypeJoined   = "joined"
	TypeLeft     = "left"
	TypePresence = "presence"
	TypeTyping   = "typing"
	TypeHistory  = "history"
	TypeAck      = "ack"
	TypeError    = "error"
	// TypeOnlineCount reports the member count of a large room (see Presence).
	TypeOnlineCount = "online_count"
)

// Error codes carried by error objects. They are stable: clients branch on them.
const (
	CodeBadJSON     = "bad_json"
	CodeUnknownType = "unknown_type"
	CodeBadRequest  = "bad_request"
	CodeInvalidName = "invalid_name"
	CodeInvalidRoom = "invalid_room"
	CodeNotMember   = "not_member"
	CodeEmptyBody   = "empty_body"
	CodeTooLong     = "too_long"
	CodeRateLimited = "rate_limited"
	CodeUnsupported = "unsupported"
	CodeUnavailable = "unavailable"
)

// WebSocket close codes used by the server beyond the standard ones (1001 going away,
// 1008 policy violation, 1009 message too big).
const (
	// CloseTooSlow closes a connection whose send queue overflowed. The client reconnects
	// and recovers what it missed with join+since.
	CloseTooSlow = 4008
	// CloseTryAgain (1013, "try again later") closes a connection the server cannot serve
	// right now (storage unavailable, the node starting): the client reconnects with
	// backoff, possibly to another node.
	CloseTryAgain = 1013
)

// Limits on names and references.
const (
	MaxNameLen = 32
	MaxRoomLen = 64
	MaxRefLen  = 64
	// DefaultRoom is where a connection starts when it names no room.
	DefaultRoom = "general"
)

// User identifies one connection of a person.
type User struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Message is one chat message as stored and delivered.
type Message struct {
	Room string `json:"room"`
	Seq  uint64 `json:"seq"`
	ID   string `json:"id"`
	From User   `json:"from"`
	Body string `json:"body"`
	TS   int64  `json:"ts"`
	Ref  string `json:"ref,omitempty"`
}

// MessageID is the id of the message stored at seq. The sequence is unique across rooms
// (one stream holds them all), so the id is too, and the server can find a message again
// from its id alone (edits, deletions and reactions name messages by id). Clients treat
// ids as opaque strings.
func MessageID(seq uint64) string { return strconv.FormatUint(seq, 10) }

// SeqOfID returns the seq a MessageID was made from, or false for any other string (such
// as the random ids of messages stored by earlier versions).
func SeqOfID(id string) (uint64, bool) {
	if id == "" || id[0] == '0' || len(id) > 20 {
		return 0, false
	}
	seq, err := strconv.ParseUint(id, 10, 64)
	return seq, err == nil
}

// Error is a protocol error: a stable code and a human-readable message.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// NormalizeName trims a display name and reports whether it is acceptable:
// 1 to MaxNameLen characters, printable, no control characters.
func NormalizeName(s string) (string, bool) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n == 0 || n > MaxNameLen || !utf8.ValidString(s) {
		return "", false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return "", false
		}
	}
	return s, true
}

// ValidRoom reports whether s is an acceptable room name: [a-z0-9_-]{1,64}.
func ValidRoom(s string) bool {
	if len(s) == 0 || len(s) > MaxRoomLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
