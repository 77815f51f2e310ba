package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stored is what the server acknowledged for one message.
type stored struct {
	Seq  uint64
	ID   string
	Body string
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, noEnv, &out, &errOut)
	return code, out.String(), errOut.String()
}

// chat sends n messages to room through a real WebSocket and returns what was acked.
func chat(t *testing.T, base, room string, n int) []stored {
	t.Helper()
	c := dial(t, base, "name=writer&room="+room)
	c.expect("welcome")
	bodies := map[string]string{}
	for i := range n {
		ref := fmt.Sprintf("%s-%d", room, i)
		bodies[ref] = fmt.Sprintf("%s message %d: <i>é</i>", room, i)
		c.send(map[string]any{"type": "message", "room": room, "body": bodies[ref], "ref": ref})
	}
	var out []stored
	for range n {
		a := c.expect("ack")
		out = append(out, stored{Seq: uint64(a["seq"].(float64)), ID: a["id"].(string), Body: bodies[a["ref"].(string)]})
	}
	return out
}

// history reads every stored message of room from a running server: the welcome's recent
// history, then history requests back to the start.
func history(t *testing.T, base, room string) []stored {
	t.Helper()
	c := dial(t, base, "name=reader&room="+room)
	w := c.expect("welcome")
	page := func(msgs []any) []stored {
		var out []stored
		for _, m := range msgs {
			m := m.(map[string]any)
			if m["room"] != room {
				t.Fatalf("history of %s has %v", room, m)
			}
			out = append(out, stored{Seq: uint64(m["seq"].(float64)), ID: m["id"].(string), Body: m["body"].(string)})
		}
		return out
	}
	all := page(w["history"].([]any))
	for more := w["has_more"] == true; more; {
		c.send(map[string]any{"type": "history", "room": room, "before": all[0].Seq, "limit": 100})
		h := c.expect("history")
		all = append(page(h["messages"].([]any)), all...)
		more = h["has_more"] == true
	}
	return all
}

func sameStored(t *testing.T, what string, got, want []stored) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d messages, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: message %d is %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

// TestBackupRestoreExport chats through a real server on a data directory, checks that a
// backup is refused while it runs, stops it, backs the directory up, restores it into a new
// directory, exports a room, and starts a server on the restored directory that must serve
// exactly the acknowledged history: every message, same seq and id, nothing more.
func TestBackupRestoreExport(t *testing.T) {
	data := t.TempDir()
	archive := filepath.Join(t.TempDir(), "backup.tar")
	s := startRun(t, "--addr", "127.0.0.1:0", "--data", data, "--rate-limit", "0")
	want := map[string][]stored{"ops": chat(t, s.base, "ops", 130), "misc": chat(t, s.base, "misc", 3)}

	code, _, errOut := runCmd(t, "backup", "--data", data, "--out", archive)
	if code != 1 || !strings.Contains(errOut, "in use") || !strings.Contains(errOut, fmt.Sprint("pid ", os.Getpid())) {
		t.Fatalf("backup of a running node's directory: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(archive); !os.IsNotExist(err) {
		t.Fatalf("a refused backup left %s (%v)", archive, err)
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("exit %d: %s", code, s.logs)
	}

	code, out, errOut := runCmd(t, "backup", "--data", data, "--out", archive)
	if code != 0 || !strings.Contains(out, "133 messages") {
		t.Fatalf("backup: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	code, out, errOut = runCmd(t, "restore", "--data", restored, "--in", archive)
	if code != 0 || !strings.Contains(out, "133 messages") {
		t.Fatalf("restore: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = runCmd(t, "restore", "--data", restored, "--in", archive)
	if code == 0 || !strings.Contains(errOut, "empty data directory") {
		t.Fatalf("restore into a non-empty directory: exit %d, %q", code, errOut)
	}

	code, out, errOut = runCmd(t, "export", "--data", restored, "--room", "ops")
	if code != 0 {
		t.Fatalf("export: exit %d, %q", code, errOut)
	}
	var exported []stored
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var line struct {
			Room string `json:"room"`
			Seq  uint64 `json:"seq"`
			ID   string `json:"id"`
			From struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"from"`
			Body string `json:"body"`
			TS   int64  `json:"ts"`
		}
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		if line.Room != "ops" || line.From.Name != "writer" || line.From.ID == "" || line.TS == 0 {
			t.Fatalf("export line %q", sc.Text())
		}
		exported = append(exported, stored{Seq: line.Seq, ID: line.ID, Body: line.Body})
	}
	sameStored(t, "export of ops", exported, want["ops"])

	s = startRun(t, "--addr", "127.0.0.1:0", "--data", restored)
	for room, msgs := range want {
		sameStored(t, "history of "+room+" after the restore", history(t, s.base, room), msgs)
	}
	resp, err := http.Get(s.base + "/api/rooms")
	if err != nil {
		t.Fatal(err)
	}
	var rooms struct {
		Rooms []struct{ Name string } `json:"rooms"`
	}
	err = json.NewDecoder(resp.Body).Decode(&rooms)
	resp.Body.Close()
	var names []string
	for _, r := range rooms.Rooms {
		names = append(names, r.Name)
	}
	// general is always listed; the others are the rooms with stored messages.
	if err != nil || strings.Join(names, ",") != "general,misc,ops" {
		t.Fatalf("rooms after the restore: %q, %v", names, err)
	}
}

func TestCommandErrors(t *testing.T) {
	empty := t.TempDir()
	notBackup := filepath.Join(t.TempDir(), "junk.tar")
	if err := os.WriteFile(notBackup, []byte("certainly not a tar archive"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "b.tar")
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"backup", "--out", out}, 2, "missing --data DIR"},
		{[]string{"backup", "--data", empty}, 2, "missing --out"},
		{[]string{"backup"}, 2, "missing --data DIR (or --nats-url URL, not both) and --out"},
		{[]string{"backup", "--data", empty, "--nats-url", "nats://127.0.0.1:1", "--out", out}, 2, "not both"},
		{[]string{"backup", "--data", empty, "--out", out, "--room", "x"}, 2, "flag provided but not defined: -room"},
		{[]string{"backup", "--data", empty, "--out", out, "extra"}, 2, "unexpected arguments"},
		{[]string{"backup", "--data", empty, "--out", out}, 1, "not a distchat data directory"},
		{[]string{"restore", "--data", filepath.Join(empty, "new")}, 2, "missing --in"},
		{[]string{"restore", "--data", filepath.Join(empty, "new"), "--in", notBackup}, 1, "not a valid distchat backup"},
		{[]string{"restore", "--data", filepath.Join(empty, "new"), "--in", filepath.Join(empty, "none.tar")}, 1, "no such file"},
		{[]string{"export", "--data", empty}, 2, "missing --room"},
		{[]string{"export", "--data", empty, "--room", "general"}, 1, "not a distchat data directory"},
		{[]string{"export", "--data", empty, "--room", "No Such Room"}, 1, "not a room name"},
	} {
		code, stdout, stderr := runCmd(t, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d mentioning %q", tt.args, code, stderr, tt.code, tt.want)
		}
		if stdout != "" {
			t.Errorf("%q: printed %q", tt.args, stdout)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("failed backups left %s", out)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
		t.Fatalf("failed backups left temporary files: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(empty, "new")); err == nil {
		if entries, _ := os.ReadDir(filepath.Join(empty, "new")); len(entries) != 0 {
			t.Fatalf("a refused restore left files: %v", entries)
		}
	}

	code, stdout, _ := runCmd(t, "backup", "--help")
	if code != 0 || !strings.Contains(stdout, "-out") || !strings.Contains(stdout, "-data") {
		t.Fatalf("backup --help: exit %d, %q", code, stdout)
	}
}

// TestExportUnknownRoom exports a room that has no messages in a real data directory.
func TestExportUnknownRoom(t *testing.T) {
	data := t.TempDir()
	s := startRun(t, "--addr", "127.0.0.1:0", "--data", data)
	chat(t, s.base, "here", 1)
	if code := s.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	code, stdout, stderr := runCmd(t, "export", "--data", data, "--room", "elsewhere")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "room elsewhere: no stored messages") {
		t.Fatalf("export of an unknown room: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
