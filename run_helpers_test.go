package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// runningServer is the real command, run in this process on a free port.
type runningServer struct {
	base   string // http(s)://127.0.0.1:port
	cancel context.CancelFunc
	exit   chan int
	logs   *logLines
}

// startRun starts run with args and returns once it listens. The test's end stops it.
func startRun(t *testing.T, args ...string) *runningServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &runningServer{cancel: cancel, exit: make(chan int, 1), logs: newLogLines(t)}
	go func() {
		s.exit <- run(ctx, args, noEnv, pw, s.logs)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("reading the listening line: %v (logs: %s)", err, s.logs)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "distchat listening on ")
	if !ok {
		cancel()
		t.Fatalf("first line %q", line)
	}
	s.base = base
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop cancels the command's context, as SIGTERM does, and returns its exit code.
func (s *runningServer) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.exit:
		s.exit <- code // for later calls
		return code
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after its context ended")
		return -1
	}
}

// logLines collects the command's log lines and lets a test wait for one.
type logLines struct {
	t       *testing.T
	mu      sync.Mutex
	partial string
	lines   []string
	changed chan struct{} // closed and replaced on every new line
}

func newLogLines(t *testing.T) *logLines {
	return &logLines{t: t, changed: make(chan struct{})}
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial += string(p)
	for {
		line, rest, ok := strings.Cut(l.partial, "\n")
		if !ok {
			break
		}
		l.partial = rest
		l.lines = append(l.lines, line)
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(p), nil
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n") + l.partial
}

// count is how many lines there are so far; wait looks at lines from such a mark on.
func (l *logLines) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// wait returns the first line from index from on that contains substr, waiting up to 10 s.
func (l *logLines) wait(from int, substr string) string {
	l.t.Helper()
	return l.waitFor(from, fmt.Sprintf("a log line with %q", substr), func(line string) bool { return strings.Contains(line, substr) })
}

// waitFor returns the first line from index from on that matches, waiting up to 10 s.
func (l *logLines) waitFor(from int, what string, match func(line string) bool) string {
	l.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		for _, line := range l.lines[min(from, len(l.lines)):] {
			if match(line) {
				l.mu.Unlock()
				return line
			}
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			l.t.Fatalf("no %s; logs:\n%s", what, l)
			return ""
		}
	}
}

// readyReason returns /api/ready's reason ("" when ready).
func readyReason(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/api/ready")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct{ Reason string }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r.Reason
}
