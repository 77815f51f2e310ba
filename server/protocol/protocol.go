// Package protocol defines distchat's wire protocol v1 (see docs/protocol.md): the objects
// exchanged over the WebSocket, how client frames are decoded and validated, and how server
// objects are encoded. It knows nothing of connections, rooms or storage.
package protocol

import (
	"strconv"
	"strings"
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
	// Conversation events: stored in the room's order like messages, sent to members and
	// replayed in history. A client sends edit, delete, react and topic; members receive
	// edit, delete, reaction and topic.
	TypeEdit     = "edit"
	TypeDelete   = "delete"
	TypeReact    = "react"
	TypeReaction = "reaction"
	TypeTopic    = "topic"
	// People: rename a person (every room they are in hears it), open a direct-message
	// room with someone, move one's read position; a person's profile changed (to their
	// own devices).
	TypeRename = "rename"
	TypeDM     = "dm"
	TypeRead   = "read"
	TypeUser   = "user"
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
	// CodeUnauthorized refuses a token the server did not sign, one that expired, or a
	// connection without one where guests are not allowed; the connection closes (1008).
	CodeUnauthorized = "unauthorized"
	// CodeForbidden refuses a request about something that is not the user's: another
	// person's message to edit, a direct-message room of two other people.
	CodeForbidden = "forbidden"
	// CodeNotFound: the message a request names is not in that room.
	CodeNotFound = "not_found"
	// CodeLimitExceeded refuses a request beyond one of the limits that protect a node;
	// the message names the limit (its flag). The connection stays open, except when the
	// limit is on connections.
	CodeLimitExceeded = "limit_exceeded"
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
	// MaxTopicLen bounds a room topic (characters); MaxEmojiLen a reaction (bytes).
	MaxTopicLen = 256
	MaxEmojiLen = 32
	// MaxUserIDLen bounds a user id (a JWT's sub may be long).
	MaxUserIDLen = 128
	// DefaultRoom is where a connection starts when it names no room.
	DefaultRoom = "general"
)

// User is a person: a stable id (the same on every device and node) and a display name,
// which may change and need not be unique.
type User struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Person is someone in a room's online list: a user and how many devices (connections)
// they have in the room, on every node.
type Person struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Devices int    `json:"devices"`
}

// Entry kinds: what a stored entry of a room is. The zero kind is a chat message.
const (
	KindMessage  = ""
	KindEdit     = "edit"
	KindDelete   = "delete"
	KindReaction = "reaction"
	KindTopic    = "topic"
)

// Message is one entry of a room as stored and delivered: a chat message, or an event
// about one (an edit, a deletion, a reaction) or about the room (its topic). Every entry has
// its own seq and id in the room's order.
type Message struct {
	Room string `json:"room"`
	Seq  uint64 `json:"seq"`
	ID   string `json:"id"`
	From User   `json:"from"`
	Body string `json:"body"`
	TS   int64  `json:"ts"`
	Ref  string `json:"ref,omitempty"`
	// Kind is the entry's kind (KindMessage for a chat message).
	Kind string `json:"-"`
	// Target is the id of the message an edit, a deletion or a reaction is about.
	Target string `json:"-"`
	// Emoji and On: a reaction added (On) or taken back.
	Emoji string `json:"-"`
	On    bool   `json:"-"`
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

// ValidUserID reports whether s can be a user id: 1 to MaxUserIDLen characters of ASCII
// letters, digits and - . _ ~ @ : + = | / (a guest's "u" and 16 base32 characters, or the
// sub of a deployment's sign-in: an email address, a UUID, "auth0|123"). Nothing else, so
// that an id can never be taken for a subject, a wildcard or markup anywhere it goes.
func ValidUserID(s string) bool {
	if len(s) == 0 || len(s) > MaxUserIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~@:+=|/", c) >= 0) {
			return false
		}
	}
	return true
}

// DMPrefix starts the name of every direct-message room.
const DMPrefix = "dm-"

// IsDM reports whether room is a direct-message room.
func IsDM(room string) bool { return strings.HasPrefix(room, DMPrefix) }

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
