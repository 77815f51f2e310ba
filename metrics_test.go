package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestMetricsAddr runs the command with --metrics-addr: Prometheus metrics on their own
// listener, with the embedded JetStream's state, and none on the public one.
func TestMetricsAddr(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--node-name", "node-m", "--metrics-addr", "127.0.0.1:0")
	metricsURL := s.metricsURL(t)

	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	if code, body := get(s.base + "/metrics"); code != http.StatusNotFound || strings.Contains(body, "distchat_") {
		t.Errorf("GET /metrics on the public listener: %d %.100q, want a 404", code, body)
	}
	wantLines := func(lines ...string) {
		t.Helper()
		code, body := get(metricsURL)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d", metricsURL, code)
		}
		for _, l := range lines {
			if !strings.Contains("\n"+body, "\n"+l) {
				t.Errorf("no line starting %q in:\n%s", l, body)
			}
		}
	}
	wantLines(
		`distchat_build_info{commit=`,
		`distchat_node_storage_ready 1`,
		`distchat_node_storage_leader{leader="node-m"} 1`,
		`distchat_node_storage_peers 1`,
		`distchat_node_storage_messages 0`,
		`go_goroutines `,
	)
	if _, body := get(metricsURL); !strings.Contains(body, `version="dev"`) {
		t.Errorf("build info without the version: %s", body)
	}

	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.base, "http")+"/ws?name=tester", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"message","body":"counted","ref":"m1"}`)); err != nil {
		t.Fatal(err)
	}
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for the ack: %v", err)
		}
		if bytes.Contains(data, []byte(`"type":"ack"`)) {
			break
		}
	}
	wantLines(
		`distchat_node_num_clients 1`,
		`distchat_node_storage_messages 1`,
		`distchat_node_messages_sent_count{result="stored"} 1`,
		`distchat_transport_messages_received{type="message"} 1`,
	)
}

// metricsURL is the URL of the metrics, from the command's "metrics listening" log line.
func (s *runningServer) metricsURL(t *testing.T) string {
	t.Helper()
	addr := regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(s.logs.wait(0, "metrics listening"))
	if addr == nil {
		t.Fatalf("no address in the metrics line; logs:\n%s", s.logs)
	}
	return "http://" + addr[1] + "/metrics"
}

func TestMetricsAddrUnusable(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--data", t.TempDir(), "--metrics-addr", "256.0.0.1:1"}, noEnv, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "metrics listener") {
		t.Fatalf("exit %d, stderr %q; want 1 and the metrics listener's error", code, errOut.String())
	}
}

// TestMetricsAreDocumented: every series a node exposes is listed in docs/operations.md,
// and the Grafana dashboard uses only listed series.
func TestMetricsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(distchat_[a-z_]+)`").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	s := startRun(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--metrics-addr", "127.0.0.1:0")
	resp, err := http.Get(s.metricsURL(t))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	exposed := regexp.MustCompile(`(?m)^# TYPE (distchat_[a-z_]+) `).FindAllStringSubmatch(string(body), -1)
	if len(exposed) < 20 {
		t.Fatalf("only %d distchat series exposed:\n%s", len(exposed), body)
	}
	for _, m := range exposed {
		if !documented[m[1]] {
			t.Errorf("%s is exposed but not listed in docs/operations.md", m[1])
		}
	}
	dash, err := os.ReadFile("docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var parsed map[string]any
	if err := json.Unmarshal(dash, &parsed); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	for _, name := range regexp.MustCompile(`distchat_[a-z_]+`).FindAllString(string(dash), -1) {
		known := documented[name]
		for _, suffix := range []string{"_bucket", "_count", "_sum"} { // of histograms
			known = known || documented[strings.TrimSuffix(name, suffix)]
		}
		if !known {
			t.Errorf("the dashboard uses %s, which docs/operations.md does not list", name)
		}
	}
}
