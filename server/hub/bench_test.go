package hub_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/broker/jetstream"
	"github.com/distchat/distchat/server/broker/jetstream/jstest"
	"github.com/distchat/distchat/server/hub"
	"github.com/distchat/distchat/server/people"
	"github.com/distchat/distchat/server/protocol"
)

// counter is a hub.Conn that only counts what it is sent, so the benchmark measures the
// hub's fan-out, not the network.
type counter struct {
	n       atomic.Int64
	target  atomic.Int64 // 0: none
	reached chan struct{}
	once    sync.Once
	// welcomed is closed by the first send: the member's welcome.
	welcomed chan struct{}
	first    sync.Once
}

func newCounter() *counter {
	return &counter{reached: make(chan struct{}), welcomed: make(chan struct{})}
}

func (c *counter) Send(objs []byte) bool {
	c.first.Do(func() { close(c.welcomed) })
	n := c.n.Add(int64(bytes.Count(objs, []byte{'\n'}) + 1))
	if t := c.target.Load(); t > 0 && n >= t {
		c.once.Do(func() { close(c.reached) })
	}
	return true
}

func (c *counter) Close(int, string) {}

// at returns a channel that is closed once the count reaches n.
func (c *counter) at(n int64) <-chan struct{} {
	c.target.Store(n)
	if c.n.Load() >= n {
		c.once.Do(func() { close(c.reached) })
	}
	return c.reached
}

// BenchmarkFanout publishes messages into a room with many members and waits until every
// member was handed every message. ns/op is per message; deliveries/s is reported too.
func BenchmarkFanout(b *testing.B) {
	for _, members := range []int{10, 1000} {
		for _, store := range []string{"memory", "jetstream"} {
			b.Run(fmt.Sprintf("%s/members=%d", store, members), func(b *testing.B) {
				var br broker.Broker = broker.NewMemory(0, time.Minute)
				if store == "jetstream" {
					br = jstest.Embedded(b, jetstream.Options{})
				}
				h := hub.New(context.Background(), hub.Config{}, br, people.New(br.State(), 0), nil, slog.New(slog.DiscardHandler))
				defer func() { h.Close(); br.Close() }()
				conns := make([]*counter, members)
				for i := range conns {
					conns[i] = newCounter()
					if _, err := h.Connect(conns[i], hub.Identity{User: protocol.User{ID: fmt.Sprint(i), Name: "m"}}, "bench"); err != nil {
						b.Fatal(err)
					}
				}
				// Joins are answered by the room's goroutine in order: once the last
				// member has its welcome, every join event was sent too.
				<-conns[members-1].welcomed
				base := make([]int64, members)
				for i, c := range conns {
					base[i] = c.n.Load()
				}
				last := conns[members-1]
				delivered := last.at(base[members-1] + int64(b.N))
				body := string(make([]byte, 64))
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				// Pipelined, as sessions publish: the next message does not wait for the
				// previous one's acknowledgement.
				failed := make(chan error, 1)
				for i := 0; i < b.N; i++ {
					br.Publish(protocol.Message{Room: "bench", Body: body}, "", func(_ protocol.Message, _ bool, err error) {
						if err != nil {
							select {
							case failed <- err:
							default:
							}
						}
					})
				}
				select {
				case err := <-failed:
					b.Fatal(err)
				default:
				}
				select {
				case <-delivered:
				case <-time.After(time.Minute):
					b.Fatalf("the last member got %d of %d messages", last.n.Load()-base[members-1], b.N)
				}
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N)*float64(members)/elapsed.Seconds(), "deliveries/s")
			})
		}
	}
}

// BenchmarkEncodeMessage is the per-broadcast encoding cost (paid once per message, not per
// member).
func BenchmarkEncodeMessage(b *testing.B) {
	m := protocol.Message{Room: "general", Seq: 123456, ID: "3AbpKQfDn1TIbNk8YyYQwZ",
		From: protocol.User{ID: "k3x9q2mfab", Name: "alice"}, Body: "wsb:1:2:1764000000000000000:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", TS: 1764000000000}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = protocol.EncodeMessage(&m)
	}
}

// BenchmarkEmptyRoom opens one empty room per iteration, each with one member, on the
// JetStream broker, and reports the heap each holds (room, its live subscription and the
// member's session) once they are all open: an empty room must cost little, whatever the
// queue sizes.
func BenchmarkEmptyRoom(b *testing.B) {
	br := jstest.Embedded(b, jetstream.Options{})
	h := hub.New(context.Background(), hub.Config{MaxRooms: 1 << 30}, br, people.New(br.State(), 0), nil, slog.New(slog.DiscardHandler))
	defer func() { h.Close(); br.Close() }()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	base := runtime.NumGoroutine()
	b.ResetTimer()
	conns := make([]*counter, b.N)
	for i := range conns {
		conns[i] = newCounter()
		if _, err := h.Connect(conns[i], hub.Identity{User: protocol.User{ID: fmt.Sprint(i), Name: "m"}}, fmt.Sprint("empty-", i)); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range conns {
		<-c.welcomed
	}
	b.StopTimer()
	// The rooms' first loads and catch-ups end in goroutines of their own: measure once
	// only the rooms' own goroutines are left (settled).
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > base+b.N && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "heap-B/room")
	b.ReportMetric(float64(int64(after.StackInuse)-int64(before.StackInuse))/float64(b.N), "stack-B/room")
	b.ReportMetric(float64(runtime.NumGoroutine())/float64(b.N), "goroutines/room")
}
