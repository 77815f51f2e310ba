package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The tests in this file run the real command in a child process (this test binary,
// re-executed with DISTCHAT_TEST_EXEC=1), so that they can stop it with real signals,
// including SIGKILL, and start it again on the same data directory.
func TestMain(m *testing.M) {
	if os.Getenv("DISTCHAT_TEST_EXEC") == "1" {
		mountSmallDisk() // when a test asked for one
		// The test holds this process's stdin open for as long as it
		// lives: end of input means the test binary is gone (a timeout,
		// a kill), and a server it started must not outlive it.
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			os.Exit(3)
		}()
		main()
		return
	}
	os.Exit(m.Run())
}

type process struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser // held open for the child's lifetime
	base  string         // http://127.0.0.1:port
	exit  chan error
	logs  *logLines // what it wrote to stderr (also in the test's log)
}

func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	return startCmd(t, exec.Command(os.Args[0], args...))
}

// startCmd starts cmd, a command of this test binary, as a distchat process.
func startCmd(t *testing.T, cmd *exec.Cmd) *process {
	t.Helper()
	cmd.Env = append(cmd.Env, os.Environ()...)
	cmd.Env = append(cmd.Env, "DISTCHAT_TEST_EXEC=1")
	logs := newLogLines(t)
	cmd.Stderr = io.MultiWriter(testLogWriter{t}, logs)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// Never written to and never closed by hand: it closes when this test
	// binary exits, however it exits, and the child then stops itself.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, stdin: stdin, exit: make(chan error, 1), logs: logs}
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		line, _ := r.ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, r)
		p.exit <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-lineOrTimeout(p.exit)
	})
	select {
	case line := <-lines:
		base, ok := strings.CutPrefix(strings.TrimSpace(line), "distchat listening on ")
		if !ok {
			t.Fatalf("first line of output: %q", line)
		}
		p.base = base
	case <-time.After(60 * time.Second):
		t.Fatal("the server did not start")
	}
	return p
}

func lineOrTimeout(ch chan error) chan error {
	out := make(chan error, 1)
	go func() {
		select {
		case err := <-ch:
			out <- err
		case <-time.After(10 * time.Second):
			out <- fmt.Errorf("timeout")
		}
	}()
	return out
}

// stop sends sig and waits for the process to exit.
func (p *process) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exit:
		p.exit <- err // for the cleanup
		return err
	case <-time.After(15 * time.Second):
		t.Fatalf("the server did not exit after %v", sig)
		return nil
	}
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(b []byte) (int, error) {
	w.t.Logf("server: %s", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// client is a small protocol client for these tests.
type client struct {
	t    *testing.T
	conn *websocket.Conn
	rest []map[string]any
}

func dial(t *testing.T, base, query string) *client {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws?"+query, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn}
}

func (c *client) send(v map[string]any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(v); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// next returns the next object, waiting at most 10 s.
func (c *client) next() (map[string]any, error) {
	for len(c.rest) == 0 {
		_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(data), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				c.t.Fatalf("bad object %q: %v", line, err)
			}
			c.rest = append(c.rest, m)
		}
	}
	m := c.rest[0]
	c.rest = c.rest[1:]
	return m, nil
}

// expect returns the next object of type typ, skipping others.
func (c *client) expect(typ string) map[string]any {
	c.t.Helper()
	for {
		m, err := c.next()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", typ, err)
		}
		if m["type"] == typ {
			return m
		}
		if m["type"] == "error" {
			c.t.Fatalf("waiting for %s got error %v", typ, m)
		}
	}
}

// bodies returns the bodies of the messages among a room's entries (events left out).
func bodies(msgs any) []string {
	var out []string
	for _, m := range msgs.([]any) {
		if o := m.(map[string]any); o["type"] == "message" {
			out = append(out, o["body"].(string))
		}
	}
	return out
}

// TestHistorySurvivesRestart stores messages in two rooms, stops the server with SIGTERM,
// starts it again on the same data directory and reads each room's history.
func TestHistorySurvivesRestart(t *testing.T) {
	data := t.TempDir()
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", data, "--rate-limit", "0")
	c := dial(t, p.base, "name=alice&room=alpha")
	aw := c.expect("welcome")
	c.send(map[string]any{"type": "join", "room": "beta"})
	c.expect("joined")
	var want = map[string][]string{}
	for i := range 120 {
		want["alpha"] = append(want["alpha"], fmt.Sprintf("alpha %d", i))
		c.send(map[string]any{"type": "message", "room": "alpha", "body": want["alpha"][i], "ref": fmt.Sprint("a", i)})
		if i%15 == 0 {
			b := fmt.Sprintf("beta %d", len(want["beta"]))
			want["beta"] = append(want["beta"], b)
			c.send(map[string]any{"type": "message", "room": "beta", "body": b, "ref": fmt.Sprint("b", i)})
		}
	}
	var lastBeta map[string]any
	for range len(want["alpha"]) + len(want["beta"]) {
		if a := c.expect("ack"); a["room"] == "beta" {
			lastBeta = a
		}
	}
	// An edit is an entry of the room too: it survives the restart.
	c.send(map[string]any{"type": "edit", "room": "beta", "id": lastBeta["id"], "body": "beta, edited", "ref": "e1"})
	c.expect("ack")
	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}

	p = startProcess(t, "--addr", "127.0.0.1:0", "--data", data)
	// alice's token still signs her in: the key is kept in the data directory.
	again := dial(t, p.base, "room=alpha&token="+aw["token"].(string))
	if w := again.expect("welcome"); w["user"].(map[string]any)["id"] != aw["user"].(map[string]any)["id"] {
		t.Fatalf("after the restart the token made %v, want %v", w["user"], aw["user"])
	}
	n := dial(t, p.base, "name=bob&room=beta")
	w := n.expect("welcome")
	if got := bodies(w["history"]); strings.Join(got, "|") != strings.Join(want["beta"], "|") {
		t.Fatalf("beta history after restart: %q, want %q", got, want["beta"])
	}
	hist := w["history"].([]any)
	if e := hist[len(hist)-1].(map[string]any); e["type"] != "edit" || e["body"] != "beta, edited" || e["id"] != lastBeta["id"] {
		t.Fatalf("beta history after restart ends with %v, want the edit", e)
	}
	n.send(map[string]any{"type": "join", "room": "alpha"})
	j := n.expect("joined")
	got := bodies(j["history"])
	if len(got) != 50 || got[49] != "alpha 119" || j["has_more"] != true {
		t.Fatalf("alpha joined history: %d messages ending %q, has_more %v", len(got), got[len(got)-1], j["has_more"])
	}
	// Page back to the start of the room.
	all := got
	before := j["history"].([]any)[0].(map[string]any)["seq"]
	for {
		n.send(map[string]any{"type": "history", "room": "alpha", "before": before, "limit": 50})
		h := n.expect("history")
		page := bodies(h["messages"])
		all = append(page, all...)
		if h["has_more"] != true {
			break
		}
		before = h["messages"].([]any)[0].(map[string]any)["seq"]
	}
	if strings.Join(all, "|") != strings.Join(want["alpha"], "|") {
		t.Fatalf("alpha paged history after restart: %d messages, want %d in order", len(all), len(want["alpha"]))
	}
}

// TestAckedMessagesSurviveKill sends a stream of messages and kills the server with SIGKILL
// the moment an ack arrives; after a restart every acknowledged message must be stored.
func TestAckedMessagesSurviveKill(t *testing.T) {
	data := t.TempDir()
	acked := map[string]bool{}
	for round, killAt := range []int{1, 40, 150} {
		p := startProcess(t, "--addr", "127.0.0.1:0", "--data", data, "--rate-limit", "0")
		c := dial(t, p.base, "name=writer&room=durable")
		c.expect("welcome")
		go func() {
			for i := range 400 {
				if c.conn.WriteJSON(map[string]any{"type": "message", "body": fmt.Sprintf("r%d-%d", round, i)}) != nil {
					return
				}
			}
		}()
		for n := 0; n < killAt; {
			m, err := c.next()
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if m["type"] == "ack" {
				acked[m["id"].(string)] = true
				n++
			}
		}
		_ = p.stop(t, syscall.SIGKILL)
		// Acks that were already on the wire when the process died count too.
		for {
			m, err := c.next()
			if err != nil {
				break
			}
			if m["type"] == "ack" {
				acked[m["id"].(string)] = true
			}
		}
	}

	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", data, "--history-rate", "0") // pages through everything at once
	c := dial(t, p.base, "name=reader&room=durable")
	w := c.expect("welcome")
	stored := map[string]bool{}
	for _, m := range w["history"].([]any) {
		stored[m.(map[string]any)["id"].(string)] = true
	}
	if len(w["history"].([]any)) > 0 {
		before := w["history"].([]any)[0].(map[string]any)["seq"]
		for more := w["has_more"] == true; more; {
			c.send(map[string]any{"type": "history", "before": before, "limit": 100})
			h := c.expect("history")
			msgs := h["messages"].([]any)
			for _, m := range msgs {
				stored[m.(map[string]any)["id"].(string)] = true
			}
			more = h["has_more"] == true
			if len(msgs) > 0 {
				before = msgs[0].(map[string]any)["seq"]
			}
		}
	}
	lost := 0
	for id := range acked {
		if !stored[id] {
			lost++
		}
	}
	if lost > 0 || len(acked) < 191 {
		t.Fatalf("%d of %d acknowledged messages lost after SIGKILL (%d stored)", lost, len(acked), len(stored))
	}
	t.Logf("%d acknowledged messages, all stored (%d stored in all)", len(acked), len(stored))
}
