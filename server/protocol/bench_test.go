package protocol

import "testing"

// BenchmarkDecodeFrame measures the decoder every client request goes through: a typical
// chat message, the frame a client sends when it reconnects (a join with since per room,
// its read positions, then the message it had pending), and a message with a key this
// server does not know.
func BenchmarkDecodeFrame(b *testing.B) {
	frames := []struct {
		name  string
		frame string
	}{
		{"message", `{"type":"message","room":"general","body":"hello everyone, is the deploy done yet?","ref":"c-17"}`},
		{"several", `{"type":"join","room":"general","since":1234567,"ref":"j-1"}` + "\n" +
			`{"type":"join","room":"team-backend","since":1234560,"ref":"j-2"}` + "\n" +
			`{"type":"join","room":"random","since":998877,"ref":"j-3"}` + "\n" +
			`{"type":"read","room":"general","seq":1234567}` + "\n" +
			`{"type":"react","room":"general","id":"1234567","emoji":"👍","on":true,"ref":"r-4"}` + "\n" +
			`{"type":"message","room":"general","body":"back again, sorry","ref":"c-18"}`},
		// A key this server does not know sends an object to the slower, key-by-key path.
		{"unknown-key", `{"type":"message","room":"general","body":"hello everyone, is the deploy done yet?","ref":"c-17","client":"web/1.4"}`},
	}
	for _, f := range frames {
		frame := []byte(f.frame)
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				DecodeFrame(frame, func(r Request, e *Error) {
					if e != nil {
						b.Fatal(e)
					}
				})
			}
		})
	}
}
