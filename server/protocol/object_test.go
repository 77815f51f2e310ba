package protocol

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// TestDecodeObjectKeys: keys are matched exactly (after unescaping), unknown keys are
// skipped whatever their value, and a key given twice refuses the object.
func TestDecodeObjectKeys(t *testing.T) {
	five := uint64(5)
	yes := true
	tests := []struct {
		name string
		line string
		want Request
		code string
		msg  string // a part of the error's message
	}{
		// Case variants are other keys, skipped as unknown.
		{name: "upper-case keys are unknown", line: `{"TYPE":"message","BODY":"hi"}`, code: CodeUnknownType, msg: `missing "type"`},
		{name: "capitalised type is unknown", line: `{"Type":"message","body":"hi"}`, want: Request{Body: "hi"}, code: CodeUnknownType},
		{name: "capitalised body is unknown", line: `{"type":"message","Body":"x"}`, want: Request{Type: TypeMessage}},
		{name: "case variant next to the key", line: `{"type":"typing","Type":"message","TYPE":"join"}`, want: Request{Type: TypeTyping}},
		{name: "upper-case ref is not the ref", line: `{"type":"typing","REF":"r1"}`, want: Request{Type: TypeTyping}},
		{name: "upper-case since", line: `{"type":"join","room":"a","SINCE":5}`, want: Request{Type: TypeJoin, Room: "a"}},
		{name: "Unicode case folding (long s)", line: `{"type":"join","room":"a","ſince":5,"ſeq":3}`, want: Request{Type: TypeJoin, Room: "a"}},
		{name: "wrong type under a case variant is skipped", line: `{"type":"message","body":"x","BODY":5,"Since":"s"}`, want: Request{Type: TypeMessage, Body: "x"}},

		// Keys are compared after unescaping, as encoding/json reads them.
		{name: "escaped key is that key", line: `{"typ\u0065":"message","body":"hi"}`, want: Request{Type: TypeMessage, Body: "hi"}},
		{name: "fully escaped key", line: `{"\u0074\u0079\u0070\u0065":"typing"}`, want: Request{Type: TypeTyping}},
		{name: "escaped upper case is still another key", line: `{"typ\u0045":"typing"}`, code: CodeUnknownType},
		{name: "escaped solidus", line: `{"type":"typing","a\/b":1}`, want: Request{Type: TypeTyping}},

		// Duplicates, known or unknown, escaped or not, refuse the object.
		{name: "duplicate body", line: `{"type":"message","body":"a","body":"b"}`, code: CodeBadJSON, msg: `key "body" appears more than once`},
		{name: "duplicate type", line: `{"type":"message","type":"typing"}`, code: CodeBadJSON, msg: `"type"`},
		{name: "duplicate type, same value", line: `{"type":"typing","type":"typing"}`, code: CodeBadJSON},
		{name: "duplicate through an escape", line: `{"type":"typing","typ\u0065":"join"}`, code: CodeBadJSON, msg: `"type"`},
		{name: "duplicate ref", line: `{"type":"typing","ref":"a","ref":"b"}`, code: CodeBadJSON},
		{name: "duplicate with null", line: `{"type":"message","body":null,"body":"x"}`, code: CodeBadJSON},
		{name: "duplicate unknown key", line: `{"type":"typing","x":1,"x":{"y":2}}`, code: CodeBadJSON, msg: `"x"`},
		{name: "duplicate after a wrong type", line: `{"type":"message","body":5,"body":"x","ref":"r"}`, code: CodeBadJSON},
		{name: "duplicate far apart", line: `{"ref":"r","type":"message","a":[1,2],"b":{"c":"d"},"body":"x","ref":"s"}`, code: CodeBadJSON},
		{name: "duplicate key with control characters is quoted", line: `{"type":"typing","\u0000\u202e":1,"\u0000\u202e":2}`, code: CodeBadJSON, msg: `"\x00\u202e"`},
		{name: "malformed JSON wins over a duplicate", line: `{"type":"typing","type":"typing",}`, code: CodeBadJSON, msg: "invalid JSON: invalid character '}'"},
		{name: "keys of nested objects are not the object's", line: `{"type":"typing","x":{"type":"message","body":"a"},"y":[{"type":"join"}]}`, want: Request{Type: TypeTyping}},
		{name: "nested duplicates are not looked at", line: `{"type":"typing","meta":{"k":1,"k":2}}`, want: Request{Type: TypeTyping}},

		// Unknown keys are skipped, whatever their value.
		{name: "unknown scalar keys", line: `{"type":"message","body":"hi","client":"web","v":2,"beta":true,"z":null}`, want: Request{Type: TypeMessage, Body: "hi"}},
		{name: "unknown nested values", line: `{"type":"join","x":{"a":[1,{"b":"}]\"{"}],"c":{}},"room":"a","since":5,"y":[[],[[{}]]]}`,
			want: Request{Type: TypeJoin, Room: "a", Since: &five}},
		{name: "unknown deeply nested", line: `{"type":"typing","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, want: Request{Type: TypeTyping}},
		{name: "unknown key before type", line: `{"x":{"type":"join"},"type":"typing"}`, want: Request{Type: TypeTyping}},
		{name: "empty key", line: `{"":"x","type":"typing"}`, want: Request{Type: TypeTyping}},

		// Values that look like keys, quotes and backslashes in strings.
		{name: "quoted key in a value", line: `{"type":"message","body":"a\",\"type\":\"join","ref":"r"}`, want: Request{Type: TypeMessage, Body: `a","type":"join`, Ref: "r"}},
		{name: "value ending in backslashes", line: `{"type":"message","body":"a\\\\","ref":"\\"}`, want: Request{Type: TypeMessage, Body: `a\\`, Ref: `\`}},
		{name: "braces in a value", line: `{"type":"message","body":"{\"body\":1}","room":"a"}`, want: Request{Type: TypeMessage, Body: `{"body":1}`, Room: "a"}},
		{name: "spaces everywhere", line: "{ \"type\" :\t\"react\" , \"id\" : \"9\" ,\"emoji\":\"👍\",\r\"on\" : true }", want: Request{Type: TypeReact, ID: "9", Emoji: "👍", On: &yes}},

		// Wrong types: the message names the field; only the ref is kept.
		{name: "negative since", line: `{"type":"join","room":"a","since":-1,"ref":"j"}`, want: Request{Ref: "j"}, code: CodeBadRequest, msg: `field "since" must be a uint64`},
		{name: "on as a string", line: `{"type":"react","id":"1","emoji":"x","on":"yes"}`, code: CodeBadRequest, msg: `field "on" must be a bool`},
		{name: "fractional limit", line: `{"type":"history","limit":1.5}`, code: CodeBadRequest, msg: `field "limit" must be a int`},
		{name: "object for a string", line: `{"type":"message","body":{"text":"hi"},"ref":"r"}`, want: Request{Ref: "r"}, code: CodeBadRequest, msg: `field "body" must be a string`},
		{name: "array for a number", line: `{"type":"read","room":"a","seq":[1]}`, code: CodeBadRequest, msg: `field "seq" must be a uint64`},
		{name: "first wrong type is named", line: `{"type":"join","room":"a","before":"x","since":"y"}`, code: CodeBadRequest, msg: `"before"`},
		{name: "wrong type keeps ref with unknown keys", line: `{"type":"message","body":5,"ref":"x","client":{"v":1}}`, want: Request{Ref: "x"}, code: CodeBadRequest},
		{name: "wrong type keeps ref given first", line: `{"ref":"x","client":[],"type":9}`, want: Request{Ref: "x"}, code: CodeBadRequest, msg: `field "type" must be a string`},
		{name: "wrong type drops a case-variant ref", line: `{"type":"message","body":5,"REF":"x"}`, code: CodeBadRequest},
		{name: "wrong type drops a long ref", line: `{"type":"message","body":5,"ref":"` + strings.Repeat("r", 65) + `"}`, code: CodeBadRequest},

		// Malformed lines, with the messages json.Unmarshal gives.
		{name: "cut short", line: `{"type":`, code: CodeBadJSON, msg: "invalid JSON: unexpected end of JSON input"},
		{name: "cut short after an unknown key", line: `{"TYPE":`, code: CodeBadJSON, msg: "invalid JSON: unexpected end of JSON input"},
		{name: "two objects on a line", line: `{"type":"typing"} {"type":"typing"}`, code: CodeBadJSON, msg: "after top-level value"},
		{name: "two objects on a line, unknown keys", line: `{"x":1} {"type":"typing"}`, code: CodeBadJSON, msg: "after top-level value"},
		{name: "extra closing brace", line: `{"type":"typing"}}`, code: CodeBadJSON, msg: "after top-level value"},
		{name: "unquoted key", line: `{type:"typing"}`, code: CodeBadJSON},
		{name: "single quotes", line: `{'type':'typing'}`, code: CodeBadJSON},
		{name: "trailing comma", line: `{"type":"typing","x":1,}`, code: CodeBadJSON},
		{name: "unterminated string", line: `{"type":"typing","x":"\"}`, code: CodeBadJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeObject([]byte(tt.line))
			code, msg := "", ""
			if err != nil {
				code, msg = err.Code, err.Message
			}
			if code != tt.code || !strings.Contains(msg, tt.msg) {
				t.Errorf("error %q %q, want %q containing %q", code, msg, tt.code, tt.msg)
			}
			if tt.code == "" || tt.want != (Request{}) {
				if tt.code == "" && tt.want.Type == TypeHistory && tt.want.Limit == 0 {
					tt.want.Limit = DefaultHistoryLimit
				}
				if !reflect.DeepEqual(got, tt.want) {
					gj, _ := json.Marshal(got)
					wj, _ := json.Marshal(tt.want)
					t.Errorf("request %s, want %s", gj, wj)
				}
			}
			checkSamePaths(t, []byte(tt.line))
		})
	}
}

// checkSamePaths checks that the fast path (json.Unmarshal, for plain keys) and the exact
// one (key by key) decode line alike, so that which one runs never shows.
func checkSamePaths(t *testing.T, line []byte) {
	t.Helper()
	fast, ferr := decodeObject(line)
	exact, eerr := decodeExact(line)
	if !reflect.DeepEqual(fast, exact) || !reflect.DeepEqual(ferr, eerr) {
		fj, _ := json.Marshal(fast)
		ej, _ := json.Marshal(exact)
		t.Fatalf("%q: decodeObject gives %s %v, decodeExact %s %v", line, fj, ferr, ej, eerr)
	}
	if ferr == nil && !json.Valid(line) {
		t.Fatalf("%q: accepted but not valid JSON", line)
	}
}

// TestPlainKeys checks the key finder that picks the fast path: it must say no to every
// object whose keys are not plain, distinct field names.
func TestPlainKeys(t *testing.T) {
	for _, line := range []string{
		`{}`, `{"type":"typing"}`, `{"type":"message","body":"a\"b\\","ref":"{\"x\":1}"}`,
		`{"type":"join","since":null,"room":"a" , "limit" : 5}`,
	} {
		if !plainKeys([]byte(line)) {
			t.Errorf("plainKeys(%s) = false", line)
		}
	}
	for _, line := range []string{
		`{"TYPE":"typing"}`, `{"typ\u0065":"typing"}`, `{"type":"typing","type":"typing"}`,
		`{"type":"typing","x":1}`, `{"body":"\\","Body":1}`, `{"type":{"a":1},"ref":"r","ref":"s"}`,
		`{"type":"typing","body":"x\\\"","body":"y"}`, `{"":1}`, `{"type":"a","room`,
	} {
		if plainKeys([]byte(line)) {
			t.Errorf("plainKeys(%s) = true", line)
		}
	}
}

// TestRequestFields keeps fieldBit and Request.field in step with Request's JSON names.
func TestRequestFields(t *testing.T) {
	var r Request
	rv := reflect.ValueOf(&r).Elem()
	var all uint64
	for i := 0; i < rv.NumField(); i++ {
		name := rv.Type().Field(i).Tag.Get("json")
		bit := fieldBit(name)
		if bit == 0 || all&bit != 0 {
			t.Fatalf("field %s (%q) has bit %b", rv.Type().Field(i).Name, name, bit)
		}
		all |= bit
		if p := reflect.ValueOf(r.field(bit)); p.Pointer() != rv.Field(i).Addr().Pointer() {
			t.Errorf("field(%b) is not %s", bit, rv.Type().Field(i).Name)
		}
		if fieldBit(strings.ToUpper(name)) != 0 {
			t.Errorf("%q matches in upper case", name)
		}
	}
}

// TestDecodeRoundTrip: a request decoded from an object re-encodes (json.Marshal) to an
// object that decodes to the same request.
func TestDecodeRoundTrip(t *testing.T) {
	for _, line := range []string{
		`{"type":"message","body":"hi <b>&</b> \u2028 \"q\"\n","ref":"r1","room":"a"}`,
		`{"type":"join","room":"a","since":0}`, `{"type":"join","room":"a","since":18446744073709551615}`,
		`{"type":"history","room":"a","before":9,"limit":7}`, `{"type":"history"}`,
		`{"type":"react","id":"12","emoji":"🏴󠁧󠁢󠁳󠁣󠁴󠁿","on":false}`, `{"type":"rename","name":"Zoë 👩‍💻"}`,
		`{"type":"dm","user":"ufq3kz7ngw4xa2bte","name":"al"}`, `{"type":"read","room":"a","seq":3}`,
		`{"type":"topic","body":""}`, `{"type":"message","body":"x","limit":-3,"client":{"v":1}}`,
	} {
		checkRoundTrip(t, []byte(line))
	}
}

func checkRoundTrip(t *testing.T, line []byte) {
	t.Helper()
	req, err := decodeObject(line)
	if err != nil {
		return
	}
	enc, merr := json.Marshal(req)
	if merr != nil {
		t.Fatalf("%q: %v", line, merr)
	}
	back, err := decodeObject(enc)
	if err != nil || !reflect.DeepEqual(back, req) {
		bj, _ := json.Marshal(back)
		t.Fatalf("%q decodes to %s, which decodes to %s (%v)", line, enc, bj, err)
	}
}

// TestDecodePathsAgree builds objects from keys and values that stress the choice of path
// (case variants, escapes, duplicates, nesting, quotes in values) and checks that both
// paths decode each alike and that what decodes re-encodes to the same request.
func TestDecodePathsAgree(t *testing.T) {
	keys := []string{`"type"`, `"TYPE"`, `"typ\u0065"`, `"body"`, `"Body"`, `"ref"`, `"since"`, `"ſince"`,
		`"room"`, `"on"`, `"emoji"`, `"id"`, `"limit"`, `"x"`, `"X"`, `""`, `"\""`, `"a\\"`}
	values := []string{`"message"`, `"typing"`, `"join"`, `"react"`, `"a"`, `5`, `-1`, `1.5`, `true`, `null`,
		`{"type":"join"}`, `["}",{"a":"]"}]`, `"x\",\"type\":\"join"`, `"\\"`, `"👍"`, `"\u0000"`}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		var b strings.Builder
		b.WriteByte('{')
		for i := range rng.IntN(5) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(keys[rng.IntN(len(keys))])
			b.WriteByte(':')
			b.WriteString(values[rng.IntN(len(values))])
		}
		b.WriteByte('}')
		line := []byte(b.String())
		checkSamePaths(t, line)
		checkRoundTrip(t, line)
	}
}
