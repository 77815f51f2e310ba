// Liveness and shutdown: pong deadline, graceful shutdown, goroutine leaks.

package server_test

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/distchat/distchat/server"
)

// TestPongDeadline does not run in parallel: its timing is tight by design. The server
// pings every 9/10 of PongWait, so a healthy client has PongWait/10 to get its pong in;
// 500 ms leaves 50 ms, enough under the race detector on one CPU (300 ms is not always).
func TestPongDeadline(t *testing.T) {
	const pongWait = 500 * time.Millisecond
	ts := startServer(t, server.Config{PongWait: pongWait})
	watcher := ts.connect(t, "watcher", "") // reads, so it answers pings
	watcherSince := time.Now()

	silentSince := time.Now()
	if _, _, err := ts.dialRaw(t, "name=silent", nil, nil); err != nil {
		t.Fatal(err)
	}
	j := watcher.expect("join")
	l := watcher.expect("leave")
	elapsed := time.Since(silentSince)
	if l.User != j.User {
		t.Fatalf("watcher got %s, want the silent client's leave", l)
	}
	if elapsed < pongWait*3/4 || elapsed > 2*time.Second {
		t.Errorf("silent client dropped after %v, want about %v", elapsed, pongWait)
	}
	ts.waitConnections(t, 1)

	// The watcher answered pings all along: still connected well past the deadline. The
	// pause is what this checks: four pong deadlines pass during which the watcher must
	// keep its connection by answering pings alone.
	time.Sleep(time.Until(watcherSince.Add(4 * pongWait)))
	watcher.publish("still here", "w1")
	if n := ts.health(t).Connections; n != 1 {
		t.Errorf("%d connections, want the watcher's", n)
	}
}

// TestGracefulShutdown does not run in parallel, so that it can count goroutines.
func TestGracefulShutdown(t *testing.T) {
	before := runtime.NumGoroutine()
	ts := startServer(t, server.Config{})
	var cs []*client
	for i := range 5 {
		room := "general"
		if i%2 == 1 {
			room = "odd"
		}
		cs = append(cs, ts.connect(t, fmt.Sprint("user-", i), room))
	}
	cs[0].publish("before shutdown", "r1", "join")
	ts.waitConnections(t, len(cs))

	start := time.Now()
	if err := ts.shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	for _, c := range cs {
		c.expectClosed(websocket.CloseGoingAway)
	}
	if _, _, err := ts.dialRaw(t, "name=late", nil, nil); err == nil {
		t.Error("dial after shutdown succeeded")
	}
	if _, err := ts.http.Get(ts.url("/api/health")); err == nil {
		t.Error("HTTP request after shutdown succeeded")
	}
	for _, c := range cs {
		c.close()
	}
	ts.http.CloseIdleConnections()
	checkGoroutines(t, before)
}

// TestNoGoroutineLeak runs a little of everything, then shuts down and counts goroutines.
// It does not run in parallel.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	ts := startServer(t, server.Config{PongWait: time.Second})

	a := ts.connect(t, "alice", "")
	b := ts.connect(t, "bob", "")
	a.publish("hello", "a1", "join")
	b.sendJSON(map[string]any{"type": "join", "room": "dev", "ref": "j"})
	b.expect("joined", "message")
	b.publish("in dev", "b1")
	b.sendJSON(map[string]any{"type": "leave", "room": "dev", "ref": "l"})
	b.expect("left")
	b.abort()
	c := ts.connect(t, "carol", "")
	c.sendText("plain")
	c.expectN(2)
	c.close()
	if _, _, err := ts.dialRaw(t, "name="+strings.Repeat("n", 40), nil, nil); err != nil {
		t.Fatal(err) // refused after the upgrade; the raw connection is not read
	}
	if _, _, err := ts.dialRaw(t, "name=evil", http.Header{"Origin": {"http://evil.example"}}, nil); err == nil {
		t.Fatal("cross-origin dial accepted")
	}
	ts.get(t, "/ws")
	ts.get(t, "/api/rooms")

	if err := ts.shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	a.expectClosed(websocket.CloseGoingAway)
	a.close()
	checkGoroutines(t, before)
}
