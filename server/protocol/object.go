package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// decodeObject decodes one JSON object of a client frame (a trimmed line starting with
// '{').
//
// Keys are matched exactly, as written after unescaping ("typ\u0065" is "type"), never
// case-insensitively as json.Unmarshal would. A key that is not one of Request's JSON names
// is skipped, whatever its value (newer clients may send fields this server does not know).
// A key given twice refuses the object: whoever reads the first value (a filtering proxy)
// and this server must see the same request.
//
// encoding/json decodes every object. Objects whose keys are all plain, distinct names of
// Request's fields (what clients send) take json.Unmarshal, which is then exact; any other
// object takes decodeExact, which reads it key by key with a json.Decoder and is several
// times slower (see BenchmarkDecodeFrame).
func decodeObject(line []byte) (Request, *Error) {
	if line[0] != '{' {
		return Request{}, &Error{CodeBadJSON, "each line of a JSON frame must be one JSON object"}
	}
	if !plainKeys(line) {
		return decodeExact(line)
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return refOnly(req), &Error{CodeBadRequest, fmt.Sprintf("field %q must be a %s", typeErr.Field, typeErr.Type)}
		}
		return Request{}, &Error{CodeBadJSON, "invalid JSON: " + err.Error()}
	}
	if err := req.validate(); err != nil {
		return req, err
	}
	return req, nil
}

// decodeExact decodes an object key by key, with the same results as json.Unmarshal has
// for objects whose keys are plain, distinct field names.
func decodeExact(line []byte) (Request, *Error) {
	if !json.Valid(line) {
		return Request{}, syntaxError(line) // before any duplicate, as json.Unmarshal does
	}
	var (
		req     Request
		seen    uint64              // Request's fields given, by their bit (fieldBit)
		others  map[string]struct{} // the other keys given, made when the first one comes
		skip    json.RawMessage     // where the values of the other keys go
		typeErr *Error              // the first value of the wrong type
	)
	dec := json.NewDecoder(bytes.NewReader(line))
	if _, err := dec.Token(); err != nil { // the opening brace
		return Request{}, syntaxError(line)
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return Request{}, syntaxError(line)
		}
		key, ok := tok.(string)
		if !ok {
			break // inside an object, Token returns keys and then the closing brace
		}
		var dst any = &skip
		if bit := fieldBit(key); bit != 0 {
			if seen&bit != 0 {
				return Request{}, duplicateKey(key)
			}
			seen |= bit
			dst = req.field(bit)
		} else {
			if _, dup := others[key]; dup {
				return Request{}, duplicateKey(key)
			}
			if others == nil {
				others = make(map[string]struct{})
			}
			others[key] = struct{}{}
		}
		if err := dec.Decode(dst); err != nil {
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				return Request{}, syntaxError(line)
			}
			// The value was read whole: go on, to the duplicates that may follow.
			if typeErr == nil {
				typeErr = &Error{CodeBadRequest, fmt.Sprintf("field %q must be a %s", key, te.Type)}
			}
		}
	}
	if typeErr != nil {
		return refOnly(req), typeErr
	}
	if err := req.validate(); err != nil {
		return req, err
	}
	return req, nil
}

// refOnly keeps only the ref of a request that failed to decode, so that the error can
// name it.
func refOnly(req Request) Request {
	if len(req.Ref) > MaxRefLen {
		return Request{}
	}
	return Request{Ref: req.Ref}
}

// Bits standing for Request's fields in a set of keys.
const (
	bitType uint64 = 1 << iota
	bitRoom
	bitBody
	bitRef
	bitSince
	bitBefore
	bitLimit
	bitID
	bitEmoji
	bitOn
	bitName
	bitUser
	bitSeq
	bitHide
	bitEpoch
)

// fieldBit returns the bit of the Request field whose JSON name is exactly key, or 0.
// A []byte converted in the switch is not copied.
func fieldBit[T string | []byte](key T) uint64 {
	switch string(key) {
	case "type":
		return bitType
	case "room":
		return bitRoom
	case "body":
		return bitBody
	case "ref":
		return bitRef
	case "since":
		return bitSince
	case "before":
		return bitBefore
	case "limit":
		return bitLimit
	case "id":
		return bitID
	case "emoji":
		return bitEmoji
	case "on":
		return bitOn
	case "name":
		return bitName
	case "user":
		return bitUser
	case "seq":
		return bitSeq
	case "hide":
		return bitHide
	case "epoch":
		return bitEpoch
	}
	return 0
}

// field returns a pointer to the field of r that bit stands for.
func (r *Request) field(bit uint64) any {
	switch bit {
	case bitType:
		return &r.Type
	case bitRoom:
		return &r.Room
	case bitBody:
		return &r.Body
	case bitRef:
		return &r.Ref
	case bitSince:
		return &r.Since
	case bitBefore:
		return &r.Before
	case bitLimit:
		return &r.Limit
	case bitID:
		return &r.ID
	case bitEmoji:
		return &r.Emoji
	case bitOn:
		return &r.On
	case bitName:
		return &r.Name
	case bitUser:
		return &r.User
	case bitSeq:
		return &r.Seq
	case bitHide:
		return &r.Hide
	case bitEpoch:
		return &r.Epoch
	}
	panic("protocol: no Request field for bit " + fmt.Sprint(bit))
}

// plainKeys reports whether every key of the object line is, as written without escapes,
// the JSON name of a Request field, none twice: then json.Unmarshal's case-insensitive
// matching cannot matter and no value hides another. It does not check the JSON (that is
// json.Unmarshal's job, and a malformed line it misreads fails there): it only finds the
// keys, the strings at depth 1 after '{' or ','. Anything it does not expect answers false,
// which sends the line to decodeExact.
func plainKeys(line []byte) bool {
	var seen uint64
	depth := 0
	key := false // the next string at depth 1 is a key
	for i := 0; i < len(line); i++ {
		switch c := line[i]; c {
		case '"':
			end := stringEnd(line, i+1)
			if end < 0 {
				return false
			}
			if depth == 1 && key {
				bit := fieldBit(line[i+1 : end])
				if bit == 0 || seen&bit != 0 {
					return false // another key, an escaped one, or a duplicate
				}
				seen |= bit
				key = false
			}
			i = end
		case '{', '[':
			depth++
			key = depth == 1 && c == '{'
		case '}', ']':
			depth--
		case ',':
			key = depth == 1
		}
	}
	return true
}

// stringEnd returns the index of the quote that ends the JSON string whose contents start
// at line[start], or -1 if there is none: the first quote not escaped, that is not after an
// odd number of backslashes.
func stringEnd(line []byte, start int) int {
	for i := start; i < len(line); {
		q := bytes.IndexByte(line[i:], '"')
		if q < 0 {
			return -1
		}
		q += i
		n := 0
		for q-1-n >= start && line[q-1-n] == '\\' {
			n++
		}
		if n%2 == 0 {
			return q
		}
		i = q + 1
	}
	return -1
}

func duplicateKey(key string) *Error {
	return &Error{CodeBadJSON, fmt.Sprintf("key %q appears more than once", truncate(key, 32))}
}

// syntaxError words the error of a malformed line as json.Unmarshal does (a json.Decoder
// words some differently: an object cut short is "unexpected EOF" there).
func syntaxError(line []byte) *Error {
	err := json.Unmarshal(line, new(struct{}))
	if err == nil {
		err = errors.New("not one JSON object")
	}
	return &Error{CodeBadJSON, "invalid JSON: " + err.Error()}
}
