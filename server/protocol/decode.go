package protocol

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// History page sizes.
const (
	DefaultHistoryLimit = 50
	MaxHistoryLimit     = 100
)

// Request is one object sent by a client. Room empty means the connection's current room.
// An object's keys are these JSON names exactly, each at most once (see decodeObject).
type Request struct {
	Type   string  `json:"type"`
	Room   string  `json:"room"`
	Body   string  `json:"body"`
	Ref    string  `json:"ref"`
	Since  *uint64 `json:"since"`
	Before uint64  `json:"before"`
	Limit  int     `json:"limit"`
	// ID names a message (edit, delete, react).
	ID string `json:"id"`
	// Emoji and On: react with an emoji, or take it back (on false).
	Emoji string `json:"emoji"`
	On    *bool  `json:"on"`
	// Name is a new display name (rename).
	Name string `json:"name"`
	// User is the other person of a direct-message room (dm).
	User string `json:"user"`
	// Seq is a read position (read).
	Seq uint64 `json:"seq"`
	// Hide, on leaving a direct-message room, takes it off the person's list.
	Hide bool `json:"hide"`
	// Epoch, with since in a join, is the epoch the client's seqs belong to.
	Epoch string `json:"epoch"`
}

// DecodeFrame splits one client text frame into requests and calls fn for each, in order,
// with either the request or the reason it was refused (the request then carries whatever
// ref could be read, so the error can name it).
//
// A frame whose first non-space byte is '{' holds one or more JSON objects separated by
// '\n'. Any other frame is the body of one message to the current room. An object's keys
// must be Request's JSON names exactly; other keys are ignored, and a key given twice
// refuses the object (bad_json).
func DecodeFrame(frame []byte, fn func(Request, *Error)) {
	trimmed := bytes.TrimLeft(frame, " \t\r\n")
	if len(trimmed) == 0 {
		fn(Request{Type: TypeMessage}, &Error{CodeEmptyBody, "empty frame"})
		return
	}
	if trimmed[0] != '{' {
		body := strings.TrimRight(string(frame), "\r\n")
		fn(Request{Type: TypeMessage, Body: body}, nil)
		return
	}
	for len(trimmed) > 0 {
		var line []byte
		if i := bytes.IndexByte(trimmed, '\n'); i >= 0 {
			line, trimmed = trimmed[:i], trimmed[i+1:]
		} else {
			line, trimmed = trimmed, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		req, err := decodeObject(line)
		fn(req, err)
	}
}

// validate checks what can be checked without knowing the connection: type, room syntax,
// ref and limit ranges. Body rules depend on server limits and are checked by ValidateBody.
func (r *Request) validate() *Error {
	if len(r.Ref) > MaxRefLen {
		ref := r.Ref
		r.Ref = ""
		return &Error{CodeBadRequest, fmt.Sprintf("ref is %d bytes, at most %d allowed", len(ref), MaxRefLen)}
	}
	switch r.Type {
	case TypeMessage, TypeTyping, TypePresence, TypeHistory, TypeEdit, TypeDelete, TypeReact, TypeTopic, TypeRead:
		if r.Room != "" && !ValidRoom(r.Room) {
			return &Error{CodeInvalidRoom, "room names are 1-64 characters a-z, 0-9, - and _"}
		}
	case TypeJoin, TypeLeave:
		if !ValidRoom(r.Room) {
			return &Error{CodeInvalidRoom, "room names are 1-64 characters a-z, 0-9, - and _"}
		}
	case TypeRename:
		if _, err := CheckName(r.Name); err != nil {
			return err
		}
	case TypeDM:
		if !ValidUserID(r.User) {
			return &Error{CodeBadRequest, "\"user\" must be the id of the person to write to"}
		}
	case "":
		return &Error{CodeUnknownType, "missing \"type\""}
	default:
		return &Error{CodeUnknownType, fmt.Sprintf("unknown type %q", truncate(r.Type, 32))}
	}
	switch r.Type {
	case TypeEdit, TypeDelete, TypeReact:
		if r.ID == "" || len(r.ID) > 64 {
			return &Error{CodeBadRequest, "\"id\" must name a message"}
		}
	}
	if r.Type == TypeReact {
		if err := checkEmoji(r.Emoji); err != nil {
			return err
		}
		if r.On == nil {
			return &Error{CodeBadRequest, "\"on\" must be true (add the reaction) or false (take it back)"}
		}
	}
	if r.Type == TypeTopic {
		if utf8.RuneCountInString(r.Body) > MaxTopicLen || !utf8.ValidString(r.Body) {
			return &Error{CodeTooLong, fmt.Sprintf("a topic is at most %d characters", MaxTopicLen)}
		}
		if c := bodyControl(r.Body); c >= 0 {
			return &Error{CodeBadRequest, fmt.Sprintf("a topic cannot contain control characters other than tab and line breaks (%U)", c)}
		}
	}
	if r.Type == TypeHistory {
		if r.Limit < 0 || r.Limit > MaxHistoryLimit {
			return &Error{CodeBadRequest, fmt.Sprintf("limit must be 1-%d", MaxHistoryLimit)}
		}
		if r.Limit == 0 {
			r.Limit = DefaultHistoryLimit
		}
	}
	return nil
}

// ValidateBody checks a message body: not blank, at most maxBytes, valid UTF-8, no control
// characters other than tab, line feed and carriage return.
func ValidateBody(body string, maxBytes int) *Error {
	if strings.TrimSpace(body) == "" {
		return &Error{CodeEmptyBody, "message body is empty"}
	}
	if len(body) > maxBytes {
		return &Error{CodeTooLong, fmt.Sprintf("message body is %d bytes, at most %d allowed", len(body), maxBytes)}
	}
	if !utf8.ValidString(body) {
		return &Error{CodeBadRequest, "message body is not valid UTF-8"}
	}
	if c := bodyControl(body); c >= 0 {
		return &Error{CodeBadRequest, fmt.Sprintf("message body cannot contain control characters other than tab and line breaks (%U)", c)}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
