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
	Type string `json:"type"`
	// ID and Name are the user's (as User), for clients from before stable ids.
	ID   string `json:"id"`
	Name string `json:"name"`
	// User is who this connection is: a stable id and the current display name.
	User User `json:"user"`
	// Token signs the user in again, on any node: the client keeps the latest and
	// presents it on its next connect (?token=).
	Token string `json:"token,omitempty"`
	// Conn is this connection's id.
	Conn        string   `json:"conn"`
	Room        string   `json:"room"`
	Rooms       []string `json:"rooms"`
	Topic       string   `json:"topic,omitempty"`
	Online      []byte   `json:"-"`
	OnlineCount int      `json:"online_count"`
	History     []byte   `json:"-"`
	LastSeq     uint64   `json:"last_seq"`
	HasMore     bool     `json:"has_more"`
	// Epoch names the store the seqs belong to: a join with since presents it, and seqs of
	// another epoch (a restored backup, a re-created stream) are not recovered from.
	Epoch string `json:"epoch"`
	// DMs are the user's direct-message rooms.
	DMs     []DMRoom `json:"dms"`
	Limits  Limits   `json:"limits"`
	Version string   `json:"version"`
}

// DMRoom is a direct-message room and the other person in it.
type DMRoom struct {
	Room string `json:"room"`
	User User   `json:"user"`
}

// Joined answers a client's join. Online and History are as in Welcome: use Encode.
type Joined struct {
	Type  string `json:"type"`
	Room  string `json:"room"`
	Topic string `json:"topic,omitempty"`
	// DM is the other person, in a direct-message room.
	DM          *User  `json:"dm,omitempty"`
	Online      []byte `json:"-"`
	OnlineCount int    `json:"online_count"`
	History     []byte `json:"-"`
	LastSeq     uint64 `json:"last_seq"`
	HasMore     bool   `json:"has_more"`
	Epoch       string `json:"epoch"`
	// Reset: the join's since belonged to another epoch; History is the latest page, and
	// whatever the client held of the room is to be replaced by it.
	Reset bool   `json:"reset,omitempty"`
	Ref   string `json:"ref,omitempty"`
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

// Rename tells a room that a person changed their display name.
type Rename struct {
	Type string `json:"type"`
	Room string `json:"room"`
	User User   `json:"user"`
	Old  string `json:"old"`
	TS   int64  `json:"ts"`
}

// UserUpdate tells a person's devices that their profile changed.
type UserUpdate struct {
	Type string `json:"type"`
	User User   `json:"user"`
}

// DMOpened tells a person that someone opened a direct-message room with them.
type DMOpened struct {
	Type string `json:"type"`
	Room string `json:"room"`
	User User   `json:"user"`
	Ref  string `json:"ref,omitempty"`
}

// ReadState is a person's read position in a room (the highest seq they have seen) and how
// many entries follow it.
type ReadState struct {
	Type   string `json:"type"`
	Room   string `json:"room"`
	Seq    uint64 `json:"seq"`
	Unread uint64 `json:"unread"`
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
		n += len(fields[i].(string)) + len(fields[i+1].([]byte)) + 4 //nolint:gosec // G602: fields come in pairs
	}
	out := make([]byte, 0, n)
	out = append(out, obj[:len(obj)-1]...) // without the closing brace
	for i := 0; i < len(fields); i += 2 {
		raw := fields[i+1].([]byte) //nolint:gosec // G602: fields come in pairs
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

// History is a page of a room's entries, oldest first. Messages is an encoded array
// (EncodeEntries): use Encode.
type History struct {
	Type     string `json:"type"`
	Room     string `json:"room"`
	Messages []byte `json:"-"`
	HasMore  bool   `json:"has_more"`
	Ref      string `json:"ref,omitempty"`
}

// Encode encodes h with its pre-encoded array.
func (h *History) Encode() []byte {
	return appendRaw(Encode(h), "messages", h.Messages)
}

// Ack confirms that a client's request was done: for a message or an event, that it was
// stored (with its room, seq, id and time); for a rename, just the ref.
type Ack struct {
	Type string `json:"type"`
	Ref  string `json:"ref,omitempty"`
	Room string `json:"room,omitempty"`
	Seq  uint64 `json:"seq,omitempty"`
	ID   string `json:"id,omitempty"`
	TS   int64  `json:"ts,omitempty"`
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

// Wire shapes of the events about messages and rooms. Id is the message the event is
// about; User who did it.
type (
	outEdit struct {
		Type string `json:"type"`
		Room string `json:"room"`
		ID   string `json:"id"`
		Seq  uint64 `json:"seq"`
		Body string `json:"body"`
		TS   int64  `json:"ts"`
		User User   `json:"user"`
		Ref  string `json:"ref,omitempty"`
	}
	outDelete struct {
		Type string `json:"type"`
		Room string `json:"room"`
		ID   string `json:"id"`
		Seq  uint64 `json:"seq"`
		TS   int64  `json:"ts"`
		User User   `json:"user"`
		Ref  string `json:"ref,omitempty"`
	}
	outReaction struct {
		Type  string `json:"type"`
		Room  string `json:"room"`
		ID    string `json:"id"`
		Seq   uint64 `json:"seq"`
		Emoji string `json:"emoji"`
		On    bool   `json:"on"`
		TS    int64  `json:"ts"`
		User  User   `json:"user"`
		Ref   string `json:"ref,omitempty"`
	}
	outTopic struct {
		Type string `json:"type"`
		Room string `json:"room"`
		Seq  uint64 `json:"seq"`
		Body string `json:"body"`
		TS   int64  `json:"ts"`
		User User   `json:"user"`
		Ref  string `json:"ref,omitempty"`
	}
)

// EncodeMessage encodes an entry of a room, once per broadcast: a message object, or the
// event object of its kind.
func EncodeMessage(m *Message) []byte {
	switch m.Kind {
	case KindEdit:
		return Encode(outEdit{TypeEdit, m.Room, m.Target, m.Seq, m.Body, m.TS, m.From, m.Ref})
	case KindDelete:
		return Encode(outDelete{TypeDelete, m.Room, m.Target, m.Seq, m.TS, m.From, m.Ref})
	case KindReaction:
		return Encode(outReaction{TypeReaction, m.Room, m.Target, m.Seq, m.Emoji, m.On, m.TS, m.From, m.Ref})
	case KindTopic:
		return Encode(outTopic{TypeTopic, m.Room, m.Seq, m.Body, m.TS, m.From, m.Ref})
	}
	return Encode(OutMessage{Type: TypeMessage, Message: *m})
}

// EncodeEntries encodes a room's entries as a JSON array, each as EncodeMessage does.
func EncodeEntries(ms []Message) []byte {
	encs := make([][]byte, len(ms))
	for i := range ms {
		encs[i] = EncodeMessage(&ms[i])
	}
	return EncodeArray(encs)
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
