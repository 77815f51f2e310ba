// Reads that cannot starve storage: storms of large reads leave a bystander's messages
// acknowledged, and a read that fails is an error, never an empty complete page.

package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/distchat/distchat/server"
	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/broker/jetstream"
	"github.com/distchat/distchat/server/broker/jetstream/jstest"
	"github.com/distchat/distchat/server/protocol"
)

// A room of 1,100 messages of 16 KiB: one recovery of all of it is 16 MiB of answers.
const (
	stormMessages = 1100
	stormBody     = 16<<10 - 64
)

// seedRoom stores n messages of size bytes in room, straight through the broker.
func seedRoom(t *testing.T, b broker.Broker, room string, n, size int) {
	t.Helper()
	body := strings.Repeat("x", size)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := 0; i < n; i++ {
		if i%64 == 0 {
			wg.Wait() // at most 64 in flight: each must be stored within the publish timeout
		}
		wg.Add(1)
		b.Publish(protocol.Message{Room: room, From: protocol.User{ID: "useed", Name: "seed"}, Body: fmt.Sprintf("%d %s", i, body)},
			fmt.Sprintf("seed-%d", i), func(_ protocol.Message, _ bool, err error) {
				if err != nil {
					failed.Add(1)
				}
				wg.Done()
			})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d seed messages failed", failed.Load(), n)
	}
}

// stormServer is a server on the embedded JetStream with a room "big" of 1,100 messages
// of body bytes.
func stormServer(t *testing.T, body int) *testServer {
	t.Helper()
	b := jstest.Embedded(t, jetstream.Options{})
	seedRoom(t, b, "big", stormMessages, body)
	return startServer(t, server.Config{Broker: b, RateLimit: 10, MaxBodyBytes: 16 << 10, MaxMessageBytes: 64 << 10,
		Logger: slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
}

// bystander publishes n messages with refs into its own room, one every gap, and returns
// how many were acknowledged and the errors it got.
func bystander(t *testing.T, c *client, room string, n int, gap time.Duration) (acked int, errs []string) {
	t.Helper()
	for i := 0; i < n; i++ {
		c.sendJSON(map[string]any{"type": "message", "room": room, "body": fmt.Sprintf("bystander %d", i), "ref": fmt.Sprintf("b-%d", i)})
		time.Sleep(gap) // a person typing: the pace is the test's input, not a wait for a result
	}
	deadline := time.Now().Add(waitTimeout)
	for acked+len(errs) < n && time.Now().Before(deadline) {
		o, err := c.next(time.Until(deadline))
		if err != nil {
			break
		}
		switch o.Type {
		case "ack":
			acked++
		case "error":
			errs = append(errs, o.String())
		}
	}
	return acked, errs
}

// heapWatch samples the live heap (as the last garbage collection measured it: what is
// held, not garbage waiting to be collected) until stopped, and returns the largest.
func heapWatch() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// liveHeap is the live heap after a collection.
func liveHeap() uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

// TestReadStormLeavesStorageToOthers: one guest asks for the whole of a room of 16 MiB 30
// times in one frame. Its recoveries wait for its read slots and its history rate (the
// ones that would wait too long are refused with limit_exceeded), so memory stays bounded,
// and a bystander in another room has every message acknowledged meanwhile.
func TestReadStormLeavesStorageToOthers(t *testing.T) {
	ts := stormServer(t, stormBody)
	base := liveHeap()
	peak := heapWatch()

	other := ts.connect(t, "bystander", "elsewhere")
	// The attacker reads what it gets but keeps only what the test looks at, so that the
	// heap measured is the server's.
	conn, _, err := ts.dialRaw(t, "name=storm&room=big", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	answers := make(chan leanObject, 64)
	go readLean(conn, answers)
	if w := <-answers; w.Type != "welcome" {
		t.Fatalf("the attacker got %+v first", w)
	}
	var frame []string
	for i := 0; i < 30; i++ {
		frame = append(frame, fmt.Sprintf(`{"type":"join","room":"big","since":0,"ref":"j%d"}`, i))
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte(strings.Join(frame, "\n"))); err != nil {
		t.Fatal(err)
	}

	// Within the rate limit (10 a second) for the 6 s the storm lasts.
	acked, errs := bystander(t, other, "elsewhere", 50, 120*time.Millisecond)
	if acked != 50 || len(errs) > 0 {
		t.Fatalf("the bystander had %d of 50 messages acknowledged, errors %v", acked, errs)
	}
	// Every join is answered: with every message of the room, or refused by the rate.
	full, limited, slow := 0, 0, 0
	timeout := time.After(6 * waitTimeout)
	for full+limited+slow < 30 {
		var o leanObject
		select {
		case o = <-answers:
		case <-timeout:
			t.Fatalf("after %d answers to the 30 joins: no more", full+limited+slow)
		}
		if o.Type != "joined" && o.Type != "error" {
			continue
		}
		switch {
		case o.Type == "joined" && len(o.History) > 0 && o.HasMore && o.History[len(o.History)-1].Seq == o.LastSeq:
			// The latest messages, a few MiB of them: the rest is paged with history.
			full++
		case o.Type == "error" && o.Code == "limit_exceeded" && strings.Contains(o.Message, "--history-rate"):
			limited++
		case o.Type == "error" && o.Code == "unavailable":
			slow++ // waited longer than a read may for the connection's earlier reads
		default:
			t.Fatalf("join %d: %+v", full+limited+slow, o)
		}
	}
	growth := int64(peak()) - int64(base)
	t.Logf("%d joins recovered the latest messages, %d refused by the history rate, %d unavailable after waiting for earlier reads; heap grew by at most %d MiB",
		full, limited, slow, growth>>20)
	if full == 0 {
		t.Errorf("no recovery was served")
	}
	if growth > 100<<20 {
		t.Errorf("the heap grew by %d MiB during the storm", growth>>20)
	}
}

// TestReconnectStormNeverEmptyPages: 20 clients arrive at once in a room of 1,100 messages
// of 4 KiB and each asks for 10 pages: every answer holds messages or is an error, never an
// empty page that says there is nothing more.
func TestReconnectStormNeverEmptyPages(t *testing.T) {
	ts := stormServer(t, 4<<10)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	pages, refused := 0, 0
	report := func(s string) { mu.Lock(); bad = append(bad, s); mu.Unlock() }
	for i := 0; i < 20; i++ {
		conn, _, err := ts.dialRaw(t, fmt.Sprintf("name=r%d&room=big", i), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers := make(chan leanObject, 16)
			go readLean(conn, answers)
			// 20 clients reading 200 KiB pages at once share two cores with the test.
			next := func(types ...string) (leanObject, bool) {
				timeout := time.After(6 * waitTimeout)
				for {
					select {
					case o, ok := <-answers:
						if !ok {
							return o, false
						}
						if slices.Contains(types, o.Type) {
							return o, true
						}
					case <-timeout:
						return leanObject{}, false
					}
				}
			}
			w, ok := next("welcome", "error")
			if !ok || w.Type != "welcome" || len(w.History) == 0 || !w.HasMore {
				report(fmt.Sprintf("client %d: welcome %+v", i, w))
				return
			}
			before := w.History[0].Seq
			for p := 0; p < 10; p++ {
				req := fmt.Sprintf(`{"type":"history","room":"big","before":%d,"ref":"h%d"}`, before, p)
				if err := conn.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
					report(fmt.Sprintf("client %d: %v", i, err))
					return
				}
				o, ok := next("history", "error")
				switch {
				case !ok:
					report(fmt.Sprintf("client %d page %d: no answer", i, p))
					return
				case o.Type == "error" && (o.Code == "unavailable" || o.Code == "limit_exceeded"):
					mu.Lock()
					refused++
					mu.Unlock()
				case o.Type == "history" && len(o.Messages) > 0 && o.HasMore:
					before = o.Messages[0].Seq
					mu.Lock()
					pages++
					mu.Unlock()
				default:
					report(fmt.Sprintf("client %d page %d: %+v", i, p, o))
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d pages served, %d refused (unavailable or over the history rate)", pages, refused)
	if len(bad) > 0 {
		t.Fatalf("%d bad answers, e.g. %s", len(bad), bad[0])
	}
	if pages < 100 {
		t.Fatalf("only %d of 200 pages were served", pages)
	}
}

// leanObject is what the storm test looks at in a server object: the bodies are skipped
// by the decoder, never held.
type leanObject struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Ref     string `json:"ref"`
	HasMore bool   `json:"has_more"`
	LastSeq uint64 `json:"last_seq"`
	History []struct {
		Seq uint64 `json:"seq"`
	} `json:"history"`
	Messages []struct {
		Seq uint64 `json:"seq"`
	} `json:"messages"`
}

// readLean reads conn until it ends, handing on every object.
func readLean(conn *websocket.Conn, out chan<- leanObject) {
	defer close(out)
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		for _, line := range bytes.Split(data, []byte{'\n'}) {
			var o leanObject
			if json.Unmarshal(line, &o) == nil {
				out <- o
			}
		}
	}
}

// tlogWriter writes a server's log lines into the test's log.
type tlogWriter struct{ t *testing.T }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
