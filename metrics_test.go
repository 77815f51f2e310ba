package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
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
	addr := regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(s.logs.wait(0, "metrics listening"))
	if addr == nil {
		t.Fatalf("no address in the metrics line; logs:\n%s", s.logs)
	}
	metricsURL := "http://" + addr[1] + "/metrics"

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

func TestMetricsAddrUnusable(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--data", t.TempDir(), "--metrics-addr", "256.0.0.1:1"}, noEnv, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "metrics listener") {
		t.Fatalf("exit %d, stderr %q; want 1 and the metrics listener's error", code, errOut.String())
	}
}
