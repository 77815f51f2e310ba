package metrics_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/hub"
	"github.com/distchat/distchat/server/metrics"
)

// scrape returns the text the handler serves at GET /metrics.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// wantLines fails unless every line is in the scrape.
func wantLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	have := map[string]bool{}
	for l := range strings.SplitSeq(text, "\n") {
		have[l] = true
	}
	for _, l := range lines {
		if !have[l] {
			t.Errorf("no line %q in the scrape", l)
		}
	}
}

// TestLabelsAreBounded: values a client could choose (close codes) or that later versions
// may add (request types, error codes) fall into "other" rather than growing new series.
func TestLabelsAreBounded(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Build{Version: "v", Commit: "c"})
	for _, code := range []int{1000, 4008, 4999, 3000, 1000} {
		m.Connected()
		m.Disconnected(code)
	}
	m.Request("message")
	m.Request("shout")
	m.Request("dance")
	m.ReplyError("rate_limited")
	m.ReplyError("no_such_code")
	text := scrape(t, m)
	wantLines(t, text,
		`distchat_transport_disconnect_count{code="1000"} 2`,
		`distchat_transport_disconnect_count{code="4008"} 1`,
		`distchat_transport_disconnect_count{code="other"} 2`,
		`distchat_transport_connect_count 5`,
		`distchat_node_num_clients 0`,
		`distchat_transport_messages_received{type="message"} 1`,
		`distchat_transport_messages_received{type="other"} 2`,
		`distchat_client_num_reply_errors{code="rate_limited"} 1`,
		`distchat_client_num_reply_errors{code="other"} 1`,
	)
	for _, bad := range []string{"4999", "3000", "shout", "no_such_code"} {
		if strings.Contains(text, `"`+bad+`"`) {
			t.Errorf("a series is labelled %q", bad)
		}
	}
}

// TestBatchesCountByTheirObjects: a room's batch of n messages handed to k members counts
// n × k objects: one per send where the connection queued it, the rest at the fan-out.
func TestBatchesCountByTheirObjects(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Build{})
	const objects, members = 5, 3
	for range members {
		m.Queued(1)
	}
	m.Flushed(objects, members, 3*time.Microsecond)
	m.Queued(1) // an ack
	m.Flushed(1, 0, time.Microsecond)
	wantLines(t, scrape(t, m),
		"distchat_transport_messages_sent 16",
		"distchat_transport_send_queue_depth_count 4",
		"distchat_node_broadcast_duration_seconds_count 2",
	)
}

func TestPublishAndReadOutcomes(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Build{})
	m.Published(time.Millisecond, false, nil)
	m.Published(time.Millisecond, true, nil)
	m.Published(time.Second, false, broker.ErrUnavailable)
	m.Read(hub.ReadHistory, time.Millisecond, nil)
	m.Read(hub.ReadRecovery, time.Millisecond, errors.New("timeout"))
	wantLines(t, scrape(t, m),
		`distchat_node_messages_sent_count{result="stored"} 1`,
		`distchat_node_messages_sent_count{result="duplicate"} 1`,
		`distchat_node_messages_sent_count{result="unavailable"} 1`,
		"distchat_node_publish_duration_seconds_count 3",
		`distchat_node_publish_duration_seconds_bucket{le="0.0025"} 2`,
		`distchat_node_storage_read_duration_seconds_count{kind="history",result="ok"} 1`,
		`distchat_node_storage_read_duration_seconds_count{kind="recovery",result="error"} 1`,
		`distchat_node_storage_read_duration_seconds_count{kind="load",result="ok"} 0`,
	)
}

// TestWatchReadsTheNodeWhenScraped: rooms and the broker's state are read at each scrape.
func TestWatchReadsTheNodeWhenScraped(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Build{})
	stats := hub.Stats{Rooms: 2, People: 5}
	b := broker.NewMemory(0, time.Minute)
	if err := m.Watch(t.Context(), func() hub.Stats { return stats }, b); err != nil {
		t.Fatal(err)
	}
	if err := m.Watch(t.Context(), func() hub.Stats { return stats }, b); err == nil {
		t.Error("a second Watch of the same metrics succeeded")
	}
	wantLines(t, scrape(t, m), "distchat_node_num_rooms 2", "distchat_node_num_people 5", "distchat_node_storage_ready 1")
	stats = hub.Stats{Rooms: 1, People: 1}
	b.Close()
	wantLines(t, scrape(t, m), "distchat_node_num_rooms 1", "distchat_node_num_people 1", "distchat_node_storage_ready 0")
}

func TestHandlerServesOnlyMetrics(t *testing.T) {
	t.Parallel()
	h := metrics.New(metrics.Build{}).Handler()
	for path, want := range map[string]int{"/metrics": 200, "/": 404, "/debug/pprof/": 404} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/metrics", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d, want 405", rec.Code)
	}
}
