package jetstream

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/distchat/distchat/server/natsnode"
	"github.com/distchat/distchat/server/protocol"
)

// TestLiveGapsAreFilledFromStorage hands a room live messages whose previous sequence is
// beyond the last one it delivered, as when republished messages were lost: the room
// reads what it missed from the stream and delivers everything once, in order, including
// a second gap that opens while the first is being filled.
func TestLiveGapsAreFilledFromStorage(t *testing.T) {
	b, err := OpenEmbedded(t.Context(), natsnode.Options{DataDir: t.TempDir()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	var stored []protocol.Message
	for i := range 9 {
		done := make(chan struct{})
		b.Publish(protocol.Message{Room: "r", Body: fmt.Sprint(i)}, "", func(m protocol.Message, _ bool, err error) {
			if err != nil {
				t.Error(err)
			}
			stored = append(stored, m)
			close(done)
		})
		<-done
	}
	var mu sync.Mutex
	var got []protocol.Message
	more := make(chan struct{}, 1)
	lr := &liveRoom{set: b.live, room: "r", last: stored[0].Seq, target: stored[0].Seq, fn: func(ms []protocol.Message) {
		mu.Lock()
		got = append(got, ms...)
		mu.Unlock()
		select {
		case more <- struct{}{}:
		default:
		}
	}}
	// Only messages 5 and 8 arrive live; 1-4, 6 and 7 were lost.
	lr.live(stored[5], stored[4].Seq, true)
	lr.live(stored[8], stored[7].Seq, true)
	deadline := time.After(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 8 {
			break
		}
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("%d of 8 messages delivered", n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 8 {
		t.Fatalf("%d deliveries, want 8", len(got))
	}
	for i, m := range got {
		if m.ID != stored[i+1].ID || m.Body != stored[i+1].Body {
			t.Fatalf("delivery %d: %q (seq %d), want %q", i, m.Body, m.Seq, stored[i+1].Body)
		}
	}
	if b.live.fills.Load() == 0 {
		t.Fatal("no gap fill was counted")
	}
}

// TestLiveGapWithNothingInItCloses: a gap whose entries are gone from the stream (erased,
// or removed by retention) is closed once the stream's leader says it holds none of them,
// and the live message held behind it is delivered.
func TestLiveGapWithNothingInItCloses(t *testing.T) {
	b, err := OpenEmbedded(t.Context(), natsnode.Options{DataDir: t.TempDir()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	var stored []protocol.Message
	for i := range 4 {
		done := make(chan struct{})
		b.Publish(protocol.Message{Room: "r", Body: fmt.Sprint(i)}, "", func(m protocol.Message, _ bool, err error) {
			if err != nil {
				t.Error(err)
			}
			stored = append(stored, m)
			close(done)
		})
		<-done
	}
	for _, m := range stored[1:] {
		if err := b.Erase(t.Context(), "r", m.Seq); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan []protocol.Message, 4)
	lr := &liveRoom{set: b.live, room: "r", last: stored[0].Seq, target: stored[0].Seq, fn: func(ms []protocol.Message) { got <- ms }}
	// A live message (its entry not in the stream either: only its seq matters) whose
	// previous seq is the last erased one.
	held := protocol.Message{Room: "r", Seq: stored[3].Seq + 10, ID: "held", Body: "held"}
	lr.live(held, stored[3].Seq, true)
	select {
	case ms := <-got:
		if len(ms) != 1 || ms[0].ID != "held" {
			t.Fatalf("delivered %+v, want only the held message", ms)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the gap was not closed")
	}
}
