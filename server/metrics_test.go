// Metrics: a real server with its metrics served on a listener of their own, real
// WebSocket clients, and the series moving as the clients chat.

package server_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/distchat/distchat/server"
	"github.com/distchat/distchat/server/metrics"
)

// metricsEndpoint is a server's metrics, served on a loopback port of their own.
type metricsEndpoint struct {
	url  string
	http *http.Client
}

// startServerWithMetrics starts a server with metrics (see startServer) and serves them on
// their own listener, as --metrics-addr does.
func startServerWithMetrics(t *testing.T, cfg server.Config) (*testServer, *metricsEndpoint) {
	t.Helper()
	m := metrics.New(metrics.Build{Version: "v-metrics", Commit: "c0ffee"})
	cfg.Metrics = m
	ts := startServer(t, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	hs := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: waitTimeout}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln)
	}()
	me := &metricsEndpoint{url: "http://" + ln.Addr().String(), http: &http.Client{Transport: &http.Transport{}, Timeout: waitTimeout}}
	t.Cleanup(func() {
		_ = hs.Close()
		<-done
		me.http.CloseIdleConnections()
	})
	return ts, me
}

// samples are the values of a scrape by series, written as the text format writes them:
// `distchat_transport_disconnect_count{code="4008"}`.
type samples map[string]float64

// scrape reads /metrics.
func (me *metricsEndpoint) scrape(t *testing.T) samples {
	t.Helper()
	resp, err := me.http.Get(me.url + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := samples{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("GET /metrics: unreadable line %q", line)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	return out
}

// get returns a series' value, failing the test when the scrape lacks it.
func (s samples) get(t *testing.T, series string) float64 {
	t.Helper()
	v, ok := s[series]
	if !ok {
		t.Fatalf("no series %s in the scrape", series)
	}
	return v
}

// want checks series against their expected values.
func (s samples) want(t *testing.T, want map[string]float64) {
	t.Helper()
	for series, v := range want {
		if got := s.get(t, series); got != v {
			t.Errorf("%s = %v, want %v", series, got, v)
		}
	}
}

// moved checks how much series grew from before to s.
func (s samples) moved(t *testing.T, before samples, want map[string]float64) {
	t.Helper()
	for series, d := range want {
		if got := s.get(t, series) - before.get(t, series); got != d {
			t.Errorf("%s grew by %v, want %v", series, got, d)
		}
	}
}

func TestMetricsFollowAConversation(t *testing.T) {
	t.Parallel()
	ts, me := startServerWithMetrics(t, server.Config{})

	if resp, body := ts.get(t, "/metrics"); resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "distchat_") {
		t.Fatalf("GET /metrics on the public listener: %d %.100q, want a 404", resp.StatusCode, body)
	}
	start := me.scrape(t)
	start.want(t, map[string]float64{
		`distchat_build_info{commit="c0ffee",go_version="` + runtime.Version() + `",version="v-metrics"}`: 1,
		"distchat_node_num_clients":        0,
		"distchat_node_num_rooms":          0,
		"distchat_node_storage_ready":      1,
		"distchat_transport_connect_count": 0,
	})
	for _, series := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		start.get(t, series)
	}

	a := ts.connect(t, "alice", "")
	b := ts.connect(t, "bob", "")
	a.expect("join")
	before := me.scrape(t)
	before.want(t, map[string]float64{
		"distchat_node_num_clients":        2,
		"distchat_transport_connect_count": 2,
		"distchat_node_num_rooms":          1,
		"distchat_node_num_people":         2,
		// welcome, welcome, bob's join to alice
		"distchat_transport_messages_sent":                                           3,
		`distchat_node_storage_read_duration_seconds_count{kind="load",result="ok"}`: 1,
	})

	// Messages sent at once reach the room in batches (how many is up to timing); each
	// message counts once for every member it is handed to.
	const n = 20
	publishMany(t, a, "m", n)
	for range n {
		b.expect("message")
	}
	// The presence answer comes from the room's goroutine after it handed out every
	// message above, so the fan-outs are all counted by now.
	a.sendJSON(map[string]any{"type": "presence"})
	a.expect("presence")
	b.sendJSON(map[string]any{"type": "history", "ref": "h1"})
	if h := b.expect("history"); len(h.Messages) != n {
		t.Fatalf("history of %d messages, want %d", len(h.Messages), n)
	}
	after := me.scrape(t)
	after.moved(t, before, map[string]float64{
		`distchat_transport_messages_received{type="message"}`:    n,
		`distchat_transport_messages_received{type="presence"}`:   1,
		`distchat_transport_messages_received{type="history"}`:    1,
		`distchat_node_messages_sent_count{result="stored"}`:      n,
		`distchat_node_messages_sent_count{result="unavailable"}`: 0,
		"distchat_node_publish_duration_seconds_count":            n,
		"distchat_node_messages_received_count":                   n,
		// n acks, n messages to each of two members, the presence and history answers
		"distchat_transport_messages_sent":                                              3*n + 2,
		`distchat_node_storage_read_duration_seconds_count{kind="history",result="ok"}`: 1,
	})
	if fanouts := after.get(t, "distchat_node_broadcast_duration_seconds_count") - before.get(t, "distchat_node_broadcast_duration_seconds_count"); fanouts < 1 || fanouts > n {
		t.Errorf("%v fan-outs counted for %d messages, want 1 to %d", fanouts, n, n)
	}
	// Every send was sampled for the queue depth: as many as objects, less the batches'
	// extra objects; at least one per fan-out and member.
	if d := after.get(t, "distchat_transport_send_queue_depth_count") - before.get(t, "distchat_transport_send_queue_depth_count"); d < n+2+2 || d > 3*n+2 {
		t.Errorf("%v sends sampled, want %d to %d", d, n+4, 3*n+2)
	}

	// Alice closes normally; Bob's connection drops. Bob hears Alice leave after the
	// server is done with her connection.
	a.close()
	b.expect("leave")
	me.scrape(t).moved(t, after, map[string]float64{`distchat_transport_disconnect_count{code="1000"}`: 1})
	b.abort()
	ts.waitConnections(t, 0)
	gone := me.scrape(t)
	gone.moved(t, after, map[string]float64{
		`distchat_transport_disconnect_count{code="1000"}`: 1,
		`distchat_transport_disconnect_count{code="1006"}`: 1,
	})
	gone.want(t, map[string]float64{"distchat_node_num_clients": 0, "distchat_node_num_rooms": 0})

	// A shutdown closes the connections with 1001.
	ts.connect(t, "carol", "")
	if err := ts.shutdown(); err != nil {
		t.Fatal(err)
	}
	end := me.scrape(t)
	end.moved(t, gone, map[string]float64{`distchat_transport_disconnect_count{code="1001"}`: 1})
	end.want(t, map[string]float64{"distchat_node_num_clients": 0, "distchat_node_storage_ready": 0})
}

func TestMetricsCountRefusals(t *testing.T) {
	t.Parallel()
	const limit = 4096
	ts, me := startServerWithMetrics(t, server.Config{MaxMessageBytes: limit, RateLimit: 0.001, RateBurst: 2})
	a := ts.connect(t, "alice", "")
	b := ts.connect(t, "bob", "")
	a.expect("join")

	// Two messages pass the rate limit, three are refused.
	for i := range 5 {
		b.sendJSON(msg("hi", fmt.Sprint("r", i)))
	}
	refused := 0
	for answers := 0; answers < 5; {
		switch o := b.expectAny("ack", "message", "error"); o.Type {
		case "error":
			if o.Code != "rate_limited" {
				t.Fatalf("got %s, want rate_limited", o)
			}
			refused++
			answers++
		case "ack":
			answers++
		}
	}
	if refused != 3 {
		t.Fatalf("%d of 5 messages refused, want 3", refused)
	}
	me.scrape(t).want(t, map[string]float64{
		`distchat_client_num_reply_errors{code="rate_limited"}`: 3,
		`distchat_transport_messages_received{type="message"}`:  5,
		`distchat_node_messages_sent_count{result="stored"}`:    2,
	})

	// A frame over the limit closes with 1009.
	a.sendText(strings.Repeat("a", limit+1))
	a.expectClosed(websocket.CloseMessageTooBig)
	b.expect("leave", "message")
	me.scrape(t).want(t, map[string]float64{`distchat_transport_disconnect_count{code="1009"}`: 1})

	// A name that is not acceptable is refused with 1008.
	c := ts.dial(t, "name="+strings.Repeat("x", 40))
	if e := c.expect("error"); e.Code != "invalid_name" {
		t.Fatalf("got %s, want invalid_name", e)
	}
	c.expectClosed(closePolicyViolation)
	ts.waitConnections(t, 1)
	me.scrape(t).want(t, map[string]float64{
		`distchat_transport_disconnect_count{code="1008"}`: 1,
		"distchat_transport_connect_count":                 3,
		"distchat_node_num_clients":                        1,
	})
}

// closePolicyViolation is the close code of a connection refused for its name or room.
const closePolicyViolation = 1008

// TestMetricsCountSlowClients: a client that never reads, with a small send queue, is
// closed with 4008 and counted under that code.
func TestMetricsCountSlowClients(t *testing.T) {
	t.Parallel()
	const queue, bodyBytes = 16, 60 << 10
	// The write deadline is long enough for the queue to overflow while the writer waits
	// for the full socket (a write that takes longer resets the connection: 1006), and
	// short enough for the close frame's write to give up soon.
	ts, me := startServerWithMetrics(t, server.Config{SendQueue: queue, WriteWait: 3 * time.Second, MaxBodyBytes: bodyBytes})
	const room = "slow"
	pub := ts.connect(t, "pub", room)
	d := tinyBufferDialer()
	if _, _, err := ts.dialRaw(t, "name=slowpoke&room="+room, nil, d); err != nil {
		t.Fatalf("dialing the slow client: %v", err)
	}
	pub.expect("join")

	// The publisher reads in its own goroutine and keeps at most window messages without
	// their echo, so that its own queue stays short while the slow client's grows once its
	// socket is full, until the publisher sees the slow client leave.
	const window, maxMessages = 4, 300
	echoes := make(chan struct{}, maxMessages)
	left := make(chan error, 1)
	go func() {
		for {
			o, err := pub.next(4 * waitTimeout)
			switch {
			case err != nil:
				left <- err
				return
			case o.Type == "leave":
				left <- nil
				return
			case o.Type == "message":
				echoes <- struct{}{}
			case o.Type != "ack":
				left <- fmt.Errorf("unexpected %s", o)
				return
			}
		}
	}()
	// Once maxMessages are out (several times what the socket buffers, at most 4 MiB here,
	// and the queue hold), the publisher stops and waits: closing the slow client takes up
	// to a write deadline.
	body := strings.Repeat("x", bodyBytes)
	sent, dropped := 0, false
send:
	for ; sent < maxMessages; sent++ {
		if sent >= window {
			select {
			case <-echoes:
			case err := <-left:
				if err != nil {
					t.Fatal(err)
				}
				dropped = true
				break send
			case <-time.After(waitTimeout):
				t.Fatalf("no echo of message %d within %v", sent-window, waitTimeout)
			}
		}
		if err := pub.writeJSON(msg(body, fmt.Sprint(sent))); err != nil {
			t.Fatal(err)
		}
	}
	if !dropped {
		select {
		case err := <-left:
			if err != nil {
				t.Fatalf("the slow client was not dropped after %d messages of %d bytes: %v", sent, bodyBytes, err)
			}
		case <-time.After(4 * waitTimeout):
			t.Fatalf("the slow client was not dropped after %d messages of %d bytes", sent, bodyBytes)
		}
	}
	t.Logf("the slow client was dropped; %d messages of %d bytes were sent", sent, bodyBytes)
	me.scrape(t).want(t, map[string]float64{
		`distchat_transport_disconnect_count{code="4008"}`: 1,
		`distchat_transport_disconnect_count{code="1006"}`: 0,
	})
}
