package protocol

import "encoding/json"

// Server objects. Each is encoded once (Encode) and the bytes are shared by every recipient.

// OutMessage is a Message as sent on the wire, with its type.
type OutMessage struct {
	Type string `json:"type"`
	Message
}

// Limits tells clients what the server enforces.
type Limits struct {
	MaxMessageBytes int64   `json:"max_message_bytes"`
	MaxBodyBytes    int     `json:"max_body_bytes"`
	Rate            float64 `json:"rate"`
	Burst           int     `json:"burst"`
}

// Welcome is the first object a connection receives. Online and History are encoded
// arrays ([]User and []OutMessage) that rooms keep encoded for the next joiner; encode a
// Welcome with its Encode method, which splices them in as they are.
type Welcome struct {
	Type        string   `json:"type"`
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Room        string   `json:"room"`
	Rooms       []string `json:"rooms"`
	Online      []byte   `json:"-"`
	OnlineCount int      `json:"online_count"`
	History     []byte   `json:"-"`
	LastSeq     uint64   `json:"last_seq"`
	HasMore     bool     `json:"has_more"`
	Limits      Limits   `json:"limits"`
	Version     string   `json:"version"`
}

// Joined answers a client's join. Online and History are as in Welcome: use Encode.
type Joined struct {
	Type        string `json:"type"`
	Room        string `json:"room"`
	Online      []byte `json:"-"`
	OnlineCount int    `json:"online_count"`
	History     []byte `json:"-"`
	LastSeq     uint64 `json:"last_seq"`
	HasMore     bool   `json:"has_more"`
	Ref         string `json:"ref,omitempty"`
}

// OnlineCount tells a large room how many members it has now.
type OnlineCount struct {
	Type  string `json:"type"`
	Room  string `json:"room"`
	Count int    `json:"count"`
}

// Left answers a client's leave.
type Left struct {
	Type string `json:"type"`
	Room string `json:"room"`
	Ref  string `json:"ref,omitempty"`
}

// MemberEvent tells a room that someone joined or left.
type MemberEvent struct {
	Type string `json:"type"`
	Room string `json:"room"`
	User User   `json:"user"`
	TS   int64  `json:"ts"`
}

// Presence lists the users in a room: all of them, or the first ones in a large room
// (OnlineCount is the total). Online is as in Welcome: use Encode.
type Presence struct {
	Type        string `json:"type"`
	Room        string `json:"room"`
	Online      []byte `json:"-"`
	OnlineCount int    `json:"online_count"`
}

// Encode encodes w with its pre-encoded arrays.
func (w *Welcome) Encode() []byte {
	return appendRaw(Encode(w), "online", w.Online, "history", w.History)
}

// Encode encodes j with its pre-encoded arrays.
func (j *Joined) Encode() []byte {
	return appendRaw(Encode(j), "online", j.Online, "history", j.History)
}

// Encode encodes p with its pre-encoded array.
func (p *Presence) Encode() []byte {
	return appendRaw(Encode(p), "online", p.Online)
}

// appendRaw adds already-encoded fields to an encoded object. Re-encoding them through
// encoding/json would validate and copy kilobytes per joiner for nothing: they come from
// Encode.
func appendRaw(obj []byte, fields ...any) []byte {
	n := len(obj)
	for i := 0; i < len(fields); i += 2 {
		n += len(fields[i].(string)) + len(fields[i+1].([]byte)) + 4
	}
	out := make([]byte, 0, n)
	out = append(out, obj[:len(obj)-1]...) // without the closing brace
	for i := 0; i < len(fields); i += 2 {
		raw := fields[i+1].([]byte)
		if raw == nil {
			raw = []byte("[]")
		}
		out = append(out, ",\""...)
		out = append(out, fields[i].(string)...)
		out = append(out, "\":"...)
		out = append(out, raw...)
	}
	return append(out, '}')
}

// Typing tells a room that someone is typing.
type Typing struct {
	Type string `json:"type"`
	Room string `json:"room"`
	User User   `json:"user"`
}

// History is a page of a room's messages, oldest first.
type History struct {
	Type     string       `json:"type"`
	Room     string       `json:"room"`
	Messages []OutMessage `json:"messages"`
	HasMore  bool         `json:"has_more"`
	Ref      string       `json:"ref,omitempty"`
}

// Ack confirms that a client's message was stored.
type Ack struct {
	Type string `json:"type"`
	Ref  string `json:"ref,omitempty"`
	Room string `json:"room"`
	Seq  uint64 `json:"seq"`
	ID   string `json:"id"`
	TS   int64  `json:"ts"`
}

// ErrorObject refuses a request. The connection stays open.
type ErrorObject struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Ref     string `json:"ref,omitempty"`
}

// Encode marshals a server object. The types above cannot fail to marshal, so a failure is
// a programming error.
func Encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("protocol: encode: " + err.Error())
	}
	return b
}

// EncodeMessage encodes a message object, once per broadcast.
func EncodeMessage(m *Message) []byte {
	return Encode(OutMessage{Type: TypeMessage, Message: *m})
}

// EncodeError encodes an error object.
func EncodeError(e *Error, ref string) []byte {
	return Encode(ErrorObject{Type: TypeError, Code: e.Code, Message: e.Message, Ref: ref})
}

// EncodeArray joins encoded objects into a JSON array.
func EncodeArray(objs [][]byte) []byte {
	n := 2 + len(objs)
	for _, o := range objs {
		n += len(o)
	}
	out := make([]byte, 0, n)
	out = append(out, '[')
	for i, o := range objs {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, o...)
	}
	return append(out, ']')
}

// OutMessages wraps stored messages for a welcome, joined or history object.
func OutMessages(ms []Message) []OutMessage {
	out := make([]OutMessage, len(ms))
	for i := range ms {
		out[i] = OutMessage{Type: TypeMessage, Message: ms[i]}
	}
	return out
}
