package protocol

import (
	"encoding/json"
	"strings"
	"testing"
)

type decoded struct {
	req  Request
	code string
}

func decodeAll(frame string) []decoded {
	var out []decoded
	DecodeFrame([]byte(frame), func(r Request, e *Error) {
		d := decoded{req: r}
		if e != nil {
			d.code = e.Code
		}
		out = append(out, d)
	})
	return out
}

func TestDecodeFrame(t *testing.T) {
	seven := uint64(7)
	tests := []struct {
		name  string
		frame string
		want  []decoded
	}{
		{"plain text is a message", "hello there", []decoded{{req: Request{Type: TypeMessage, Body: "hello there"}}}},
		{"plain text keeps inner newlines, drops trailing", "line one\nline two\n", []decoded{{req: Request{Type: TypeMessage, Body: "line one\nline two"}}}},
		{"array is plain text", `[1,2]`, []decoded{{req: Request{Type: TypeMessage, Body: "[1,2]"}}}},
		{"empty frame", "  \n", []decoded{{req: Request{Type: TypeMessage}, code: CodeEmptyBody}}},
		{"json message", `{"type":"message","body":"hi","ref":"r1","room":"a"}`,
			[]decoded{{req: Request{Type: TypeMessage, Body: "hi", Ref: "r1", Room: "a"}}}},
		{"leading spaces before json", "  \t{\"type\":\"typing\"}", []decoded{{req: Request{Type: TypeTyping}}}},
		{"several objects, blank lines skipped", "{\"type\":\"typing\"}\n\n{\"type\":\"join\",\"room\":\"x\",\"since\":7}\n",
			[]decoded{{req: Request{Type: TypeTyping}}, {req: Request{Type: TypeJoin, Room: "x", Since: &seven}}}},
		{"bad object in the middle", "{\"type\":\"typing\"}\n{\"type\":\n{\"type\":\"presence\"}",
			[]decoded{{req: Request{Type: TypeTyping}}, {code: CodeBadJSON}, {req: Request{Type: TypePresence}}}},
		{"non-object line in a json frame", "{\"type\":\"typing\"}\nhello", []decoded{{req: Request{Type: TypeTyping}}, {code: CodeBadJSON}}},
		{"invalid json", `{"type":`, []decoded{{code: CodeBadJSON}}},
		{"missing type", `{"body":"x"}`, []decoded{{req: Request{Body: "x"}, code: CodeUnknownType}}},
		{"unknown type keeps ref", `{"type":"dance","ref":"r9"}`, []decoded{{req: Request{Type: "dance", Ref: "r9"}, code: CodeUnknownType}}},
		{"wrong field type keeps ref", `{"type":"message","body":5,"ref":"x"}`, []decoded{{req: Request{Ref: "x"}, code: CodeBadRequest}}},
		{"negative since", `{"type":"join","room":"a","since":-1}`, []decoded{{req: Request{}, code: CodeBadRequest}}},
		{"join needs a room", `{"type":"join"}`, []decoded{{req: Request{Type: TypeJoin}, code: CodeInvalidRoom}}},
		{"invalid room", `{"type":"message","room":"Bad Room","body":"x"}`, []decoded{{req: Request{Type: TypeMessage, Room: "Bad Room", Body: "x"}, code: CodeInvalidRoom}}},
		{"history default limit", `{"type":"history","before":9}`, []decoded{{req: Request{Type: TypeHistory, Before: 9, Limit: DefaultHistoryLimit}}}},
		{"history limit too large", `{"type":"history","limit":101}`, []decoded{{req: Request{Type: TypeHistory, Limit: 101}, code: CodeBadRequest}}},
		{"ref too long is dropped", `{"type":"typing","ref":"` + strings.Repeat("r", 65) + `"}`, []decoded{{req: Request{Type: TypeTyping}, code: CodeBadRequest}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeAll(tt.frame)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d items %+v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.code != w.code {
					t.Errorf("item %d: code %q, want %q", i, g.code, w.code)
				}
				if w.code == "" || w.req.Ref != "" || w.req.Type != "" {
					gj, _ := json.Marshal(g.req)
					wj, _ := json.Marshal(w.req)
					if string(gj) != string(wj) {
						t.Errorf("item %d: request %s, want %s", i, gj, wj)
					}
				}
			}
		})
	}
}

func TestNormalizeName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"alice", "alice", true},
		{"  Zoë Ω  ", "Zoë Ω", true},
		{"", "", false},
		{"   ", "", false},
		{strings.Repeat("a", 32), strings.Repeat("a", 32), true},
		{strings.Repeat("a", 33), "", false},
		{strings.Repeat("é", 32), strings.Repeat("é", 32), true},
		{"bad\x00name", "", false},
		{"tab\tname", "", false},
		{"new\nline", "", false},
		{"\xff\xfe", "", false},
	}
	for _, tt := range tests {
		got, ok := NormalizeName(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestValidRoom(t *testing.T) {
	for _, ok := range []string{"general", "a", "team-42_x", strings.Repeat("z", 64)} {
		if !ValidRoom(ok) {
			t.Errorf("ValidRoom(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "General", "a b", "é", "a/b", strings.Repeat("z", 65), "../x"} {
		if ValidRoom(bad) {
			t.Errorf("ValidRoom(%q) = true", bad)
		}
	}
}

func TestValidateBody(t *testing.T) {
	if e := ValidateBody(" \n ", 10); e == nil || e.Code != CodeEmptyBody {
		t.Errorf("blank body: %v", e)
	}
	if e := ValidateBody("12345678901", 10); e == nil || e.Code != CodeTooLong {
		t.Errorf("long body: %v", e)
	}
	if e := ValidateBody("\xff", 10); e == nil || e.Code != CodeBadRequest {
		t.Errorf("invalid utf-8: %v", e)
	}
	if e := ValidateBody("hi", 10); e != nil {
		t.Errorf("valid body: %v", e)
	}
}

func TestEncodeMessageIsJSONWithType(t *testing.T) {
	m := Message{Room: "general", Seq: 3, ID: "x", From: User{ID: "u", Name: "<b>al</b>"}, Body: "a\nb \"q\"", TS: 5}
	var back map[string]any
	if err := json.Unmarshal(EncodeMessage(&m), &back); err != nil {
		t.Fatal(err)
	}
	if back["type"] != TypeMessage || back["body"] != m.Body || back["seq"] != float64(3) {
		t.Fatalf("round trip: %v", back)
	}
	if _, ok := back["ref"]; ok {
		t.Fatalf("empty ref must be omitted: %v", back)
	}
}

func TestEncodeSplicesPreEncodedArrays(t *testing.T) {
	online := Encode([]User{{ID: "a", Name: "al"}})
	history := EncodeArray([][]byte{EncodeMessage(&Message{Room: "r", Seq: 1, Body: "x"})})
	w := Welcome{Type: TypeWelcome, ID: "a", Name: "al", Room: "r", Rooms: []string{"r"}, Online: online, OnlineCount: 1, History: history}
	var back struct {
		Type        string
		Online      []User
		OnlineCount int `json:"online_count"`
		History     []map[string]any
	}
	if err := json.Unmarshal(w.Encode(), &back); err != nil {
		t.Fatalf("welcome is not JSON: %v\n%s", err, w.Encode())
	}
	if back.Type != TypeWelcome || len(back.Online) != 1 || back.Online[0].Name != "al" || back.OnlineCount != 1 ||
		len(back.History) != 1 || back.History[0]["body"] != "x" || back.History[0]["type"] != TypeMessage {
		t.Fatalf("decoded %+v", back)
	}
	j := Joined{Type: TypeJoined, Room: "r"} // nil arrays encode as []
	var jb map[string]any
	if err := json.Unmarshal(j.Encode(), &jb); err != nil {
		t.Fatal(err)
	}
	if o, ok := jb["online"].([]any); !ok || len(o) != 0 {
		t.Fatalf("nil online encodes as %v", jb["online"])
	}
	if h, ok := jb["history"].([]any); !ok || len(h) != 0 {
		t.Fatalf("nil history encodes as %v", jb["history"])
	}
}

// TestValidUserID: ids are plain ASCII of the shapes sign-in services use; nothing that
// could be a subject, a wildcard or markup.
func TestValidUserID(t *testing.T) {
	for id, want := range map[string]bool{
		"u7x2ab3cdefghij4k": true, "employee-42@example.com": true, "auth0|5f1c": true,
		"0b9e4c8a-1f2d-4e3a-9b7c-6d5e4f3a2b1c": true, "https://login.example.com/u/1": true,
		"": false, "$JS.API.>": false, "a*": false, "a b": false, "<script>": false, "naïve": false,
		"quote\"": false, "back\\slash": false, "nul\x00": false, strings.Repeat("a", MaxUserIDLen+1): false,
	} {
		if got := ValidUserID(id); got != want {
			t.Errorf("ValidUserID(%q) = %v, want %v", id, got, want)
		}
	}
}
