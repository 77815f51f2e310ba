package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func noEnv(string) string { return "" }

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"--version"}, noEnv, &out, &errOut); code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut.String())
	}
	if got, want := out.String(), "distchat dev (commit unknown, built unknown)\n"; got != want {
		t.Fatalf("printed %q, want %q (not stamped)", got, want)
	}
}

func TestBadFlagsAndEnv(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--no-such-flag"}, nil, "no-such-flag"},
		{[]string{"extra"}, nil, "unexpected arguments"},
		{[]string{"--rate-limit", "-1"}, nil, "limits must be positive"},
		{nil, map[string]string{"DISTCHAT_RATE_BURST": "lots"}, "DISTCHAT_RATE_BURST"},
		{[]string{"--log-level", "loud"}, nil, "--log-level"},
		{[]string{"--addr", "256.0.0.1:1"}, nil, "listening"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tt.args, envOf(tt.env), &out, &errOut)
		if code == 0 || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("args %q env %v: exit %d, stderr %q; want failure mentioning %q", tt.args, tt.env, code, errOut.String(), tt.want)
		}
	}
}

func TestOptionsFromEnvAndFlags(t *testing.T) {
	o, err := parseOptions([]string{"--rate-burst", "7"}, envOf(map[string]string{
		"DISTCHAT_ADDR":            "127.0.0.1:9999",
		"DISTCHAT_RATE_LIMIT":      "0",
		"DISTCHAT_RATE_BURST":      "50",
		"DISTCHAT_ALLOWED_ORIGINS": "http://a.example, http://b.example",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.addr != "127.0.0.1:9999" || o.rateLimit != 0 || o.rateBurst != 7 {
		t.Fatalf("options %+v: env sets defaults, flags win", o)
	}
	if got := splitList(o.allowedOrigins); len(got) != 2 || got[1] != "http://b.example" {
		t.Fatalf("origins %q", got)
	}
	d, err := parseOptions(nil, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if d.addr != ":8080" || d.data != "./data" || d.maxMessageBytes != 64<<10 || d.rateLimit != 10 || d.rateBurst != 30 {
		t.Fatalf("defaults %+v", d)
	}
}

// syncBuffer is a bytes.Buffer safe to read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunServesAndShutsDownOnSignal starts the real command on a free port, chats through
// it, then cancels its context as SIGTERM would and expects a clean exit with 1001 sent.
func TestRunServesAndShutsDownOnSignal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var errOut syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"--addr", "127.0.0.1:0", "--data", t.TempDir()}, noEnv, pw, &errOut)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the listening line: %v (stderr: %s)", err, errOut.String())
	}
	go io.Copy(io.Discard, pr)
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "distchat listening on ")
	if !ok {
		t.Fatalf("first line %q", line)
	}

	resp, err := http.Get(base + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health: %d", resp.StatusCode)
	}
	resp, err = http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("UI: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws?name=tester", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := conn.ReadMessage(); err != nil || !strings.Contains(string(msg), `"type":"welcome"`) {
		t.Fatalf("welcome: %s %v", msg, err)
	}

	start := time.Now()
	cancel()
	for {
		_, _, err := conn.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Fatalf("socket ended with %v, want close 1001", err)
		}
		break
	}
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit %d, stderr: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after the signal")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	if !strings.Contains(errOut.String(), "stopped") {
		t.Fatalf("stderr lacks the stop line: %s", errOut.String())
	}
}
