package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/distchat/distchat/server/natsnode/nodetest"
	"github.com/distchat/distchat/server/protocol"
)

// smallDiskEnv asks a distchat process started by a test to mount a tmpfs of the given
// size at its data directory first ("DIR:BYTES"). The process runs in a user and mount
// namespace of its own, so no privilege is needed and the mount is its alone.
const smallDiskEnv = "DISTCHAT_TEST_SMALL_DISK"

func mountSmallDisk() {
	spec := os.Getenv(smallDiskEnv)
	if spec == "" {
		return
	}
	dir, rest, _ := strings.Cut(spec, ":")
	sizeText, readOnly := strings.CutSuffix(rest, ":ro")
	size, _ := strconv.Atoi(sizeText)
	if err := nodetest.MountTmpfs(dir, size, readOnly); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
}

// startOnSmallDisk starts distchat with its data directory on a tmpfs of size bytes and
// returns the process and the data directory as this test process can reach it (through
// /proc/PID/root, the process's view of the file system).
func startOnSmallDisk(t *testing.T, size int, args ...string) (*process, string) {
	t.Helper()
	data := t.TempDir()
	cmd := exec.Command(os.Args[0], append([]string{"--data", data}, args...)...)
	cmd.Env = []string{fmt.Sprintf("%s=%s:%d", smallDiskEnv, data, size)}
	nodetest.InNamespace(cmd)
	p := startCmd(t, cmd)
	return p, filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "root", data)
}

// readyStatus returns /api/ready's status code and body.
func readyStatus(t *testing.T, base string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/api/ready")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestDiskFullProcess fills the disk under a running node: messages are refused with an
// error (the connection stays open), /api/ready answers 503 naming the full disk while
// /api/health stays up, and once space is freed the node takes messages again by itself,
// with every acknowledged message still in the room's history.
func TestDiskFullProcess(t *testing.T) {
	p, data := startOnSmallDisk(t, 96<<20, "--addr", "127.0.0.1:0", "--rate-limit", "0")
	if code, body := readyStatus(t, p.base); code != http.StatusOK {
		t.Fatalf("/api/ready before: %d %s", code, body)
	}
	c := dial(t, p.base, "name=ann&room=disk")
	c.expect("welcome")
	var acked []string
	send := func(body string) (string, map[string]any) {
		ref := fmt.Sprint("r", len(acked), "-", time.Now().UnixNano())
		c.send(map[string]any{"type": "message", "body": body, "ref": ref})
		for {
			m, err := c.next()
			if err != nil {
				t.Fatalf("waiting for the answer to %s: %v", ref, err)
			}
			switch {
			case m["type"] == "ack" && m["ref"] == ref:
				acked = append(acked, body)
				return "ack", m
			case m["type"] == "error" && m["ref"] == ref:
				return "error", m
			}
		}
	}
	for i := range 10 {
		if kind, m := send(fmt.Sprint("before ", i)); kind != "ack" {
			t.Fatalf("before the disk fills: %v", m)
		}
	}

	filler := filepath.Join(data, "filler")
	nodetest.FillDisk(t, filler)
	big := strings.Repeat("z", 4000)
	var refused map[string]any
	for i := 0; i < 5000 && refused == nil; i++ {
		if kind, m := send(fmt.Sprint("full ", i, " ", big)); kind == "error" {
			refused = m
		}
	}
	if refused == nil {
		t.Fatal("5,000 messages on a full disk were all acknowledged")
	}
	t.Logf("refused on a full disk: %v", refused)
	if refused["code"] != "unavailable" {
		t.Fatalf("error code %v, want unavailable", refused["code"])
	}
	for {
		code, body := readyStatus(t, p.base)
		if code == http.StatusServiceUnavailable && strings.Contains(body, "full") {
			t.Logf("/api/ready while the disk is full: %s", strings.TrimSpace(body))
			break
		}
		time.Sleep(50 * time.Millisecond) // polling /api/ready: there is no event to wait for
	}
	if resp, err := http.Get(p.base + "/api/health"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/health while the disk is full: %v %v", resp, err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := readyStatus(t, p.base)
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/api/ready 30 s after space was freed: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond) // polling /api/ready
	}
	// The same connection sends again.
	if kind, m := send("after"); kind != "ack" {
		t.Fatalf("after space was freed: %v", m)
	}

	// A newcomer sees every acknowledged message, in order.
	r := dial(t, p.base, "name=bo&room=disk")
	w := r.expect("welcome")
	got := bodies(w["history"])
	for more := w["has_more"] == true; more; {
		first := w["history"].([]any)[0].(map[string]any)["seq"]
		r.send(map[string]any{"type": "history", "before": first, "limit": 100})
		h := r.expect("history")
		got = append(bodies(h["messages"]), got...)
		more, w = h["has_more"] == true, map[string]any{"history": h["messages"]}
	}
	if strings.Join(got, "|") != strings.Join(acked, "|") {
		t.Fatalf("history after the disk was full holds %d messages, %d were acknowledged", len(got), len(acked))
	}
}

// TestUnusableDataDirFailsAtOnce starts distchat on a data directory it cannot use: it
// exits at once, non-zero, naming the real cause, instead of waiting for a store that
// cannot start.
func TestUnusableDataDirFailsAtOnce(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	readOnly := t.TempDir()
	for _, c := range []struct {
		name, data, env, cause string
	}{
		{"a file, not a directory", file, "", "not a directory"},
		{"a read-only file system", readOnly, fmt.Sprintf("%s=%s:%d:ro", smallDiskEnv, readOnly, 1<<20), "read-only file system"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "--addr", "127.0.0.1:0", "--data", c.data)
			cmd.Env = append(os.Environ(), "DISTCHAT_TEST_EXEC=1")
			if c.env != "" {
				cmd.Env = append(cmd.Env, c.env)
				nodetest.InNamespace(cmd)
			}
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			stdin, err := cmd.StdinPipe() // held open: the process lives while the test does
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 1 {
					t.Fatalf("exit: %v, want status 1; output:\n%s", err, out.String())
				}
			case <-time.After(10 * time.Second): // the bug this guards against was a 30 s hang
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("still running after 10 s; output:\n%s", out.String())
			}
			if !strings.Contains(out.String(), c.cause) {
				t.Fatalf("the output does not name the cause (%q):\n%s", c.cause, out.String())
			}
			t.Logf("%s", strings.TrimSpace(out.String()))
		})
	}
}

// TestDiskFullAtStartProcess restarts the real command on a disk that filled up while it
// was stopped (no write has failed on it yet, so nats-server has noticed nothing):
// /api/ready answers 503 naming the full disk from the start and WebSockets are turned
// away with `unavailable` (close 1013: the node has not been ready since it started); once
// space is freed it is ready again without a restart, a message is acknowledged and stored,
// and the messages from before are all there. The first start asks for a store far larger
// than the disk and says it uses less.
func TestDiskFullAtStartProcess(t *testing.T) {
	dir := nodetest.InSmallDisk(t, 8<<20)
	if dir == "" {
		return
	}
	args := []string{"--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--rate-limit", "0"}
	s := startRun(t, append(args, "--max-store-bytes", "1TiB")...)
	s.logs.wait(0, "is more than this disk can hold")
	waitForReady(t, s.base, http.StatusOK, "")
	c := dial(t, s.base, "name=ann&room=disk")
	c.expect("welcome")
	var sent []string
	for i := range 5 {
		sent = append(sent, fmt.Sprint("before ", i))
		c.send(map[string]any{"type": "message", "body": sent[i], "ref": fmt.Sprint("r", i)})
		c.expect("ack")
	}
	c.conn.Close()
	if code := s.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}

	filler := filepath.Join(dir, "filler")
	nodetest.FillDisk(t, filler)
	s = startRun(t, args...)
	for start := time.Now(); time.Since(start) < 3*time.Second; time.Sleep(20 * time.Millisecond) {
		code, body := readyStatus(t, s.base)
		if code == http.StatusOK {
			t.Fatalf("/api/ready %s after a start on a full disk: %d %s", time.Since(start).Round(time.Millisecond), code, body)
		}
	}
	_, body := waitForReady(t, s.base, http.StatusServiceUnavailable, "the disk is full (")
	t.Logf("/api/ready on a full disk: %s", strings.TrimSpace(body))
	turned := dial(t, s.base, "name=bo&room=disk")
	if m, err := turned.next(); err != nil || m["type"] != "error" || m["code"] != "unavailable" {
		t.Fatalf("a WebSocket on a full disk got %v (%v), want an unavailable error", m, err)
	}
	if _, err := turned.next(); !websocket.IsCloseError(err, protocol.CloseTryAgain) {
		t.Fatalf("a WebSocket on a full disk ended with %v, want close %d", err, protocol.CloseTryAgain)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitForReady(t, s.base, http.StatusOK, "")
	c = dial(t, s.base, "name=ann&room=disk")
	c.expect("welcome")
	c.send(map[string]any{"type": "message", "body": "after", "ref": "after"})
	if a := c.expect("ack"); a["ref"] != "after" {
		t.Fatalf("ack %v", a)
	}
	sent = append(sent, "after")
	w := dial(t, s.base, "name=cy&room=disk").expect("welcome")
	if got := bodies(w["history"]); strings.Join(got, "|") != strings.Join(sent, "|") {
		t.Fatalf("history %q, want %q", got, sent)
	}
}

// waitForReady polls /api/ready until it answers code with a body containing substr, for at
// most 30 s, and returns what it answered.
func waitForReady(t *testing.T, base string, code int, substr string) (int, string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, body := readyStatus(t, base)
		if got == code && strings.Contains(body, substr) {
			return got, body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/api/ready answers %d %s after 30 s, want %d with %q", got, body, code, substr)
		}
		time.Sleep(50 * time.Millisecond) // polling /api/ready: there is no event to wait for
	}
}
