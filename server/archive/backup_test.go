package archive_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/distchat/distchat/server/archive"
	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/broker/brokertest"
	"github.com/distchat/distchat/server/broker/jetstream"
	"github.com/distchat/distchat/server/broker/jetstream/jstest"
	"github.com/distchat/distchat/server/natsnode"
	"github.com/distchat/distchat/server/protocol"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fillDataDir stores messages in rooms through a JetStream broker on an embedded NATS in
// dir, deletes one of them (a gap in the sequence), adds another stream and a KV bucket,
// stops everything and returns the messages of each room as stored.
func fillDataDir(t *testing.T, dir string) map[string][]protocol.Message {
	t.Helper()
	ctx := testContext(t)
	ns, err := natsnode.Start(t.Context(), natsnode.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		t.Fatal(err)
	}
	b, err := jetstream.New(t.Context(), nc, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	jstest.WaitReady(t, b)
	for i := range 300 {
		room := "alpha"
		if i%50 == 0 {
			room = "beta"
		}
		// Bodies that hardly compress, so that the snapshot takes several chunks.
		body := fmt.Sprintf("message %d <b>&</b> é ✓ %s", i, noise(i, 2<<10))
		if _, _, err := brokertest.Publish(b, protocol.Message{Room: room, Body: body, From: protocol.User{ID: "u1", Name: "alice"}}, fmt.Sprint("ref", i)); err != nil {
			t.Fatal(err)
		}
	}
	other, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	js, err := natsjs.New(other)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "DISTCHAT")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMsg(ctx, 10); err != nil {
		t.Fatal(err)
	}
	extra, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: "EXTRA", Subjects: []string{"extra.>"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := js.Publish(ctx, fmt.Sprint("extra.", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := extra.Info(ctx); err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, natsjs.KeyValueConfig{Bucket: "settings"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "theme", []byte("dark")); err != nil {
		t.Fatal(err)
	}
	stored := readRooms(t, b, "alpha", "beta")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	return stored
}

// noise is n bytes of hex that differ for every i.
func noise(i, n int) string {
	var sb strings.Builder
	for j := 0; sb.Len() < n; j++ {
		sum := sha256.Sum256([]byte(fmt.Sprint(i, "/", j)))
		sb.WriteString(hex.EncodeToString(sum[:]))
	}
	return sb.String()[:n]
}

// readRooms reads every stored message of the rooms, oldest first.
func readRooms(t *testing.T, b broker.Broker, rooms ...string) map[string][]protocol.Message {
	t.Helper()
	out := map[string][]protocol.Message{}
	for _, room := range rooms {
		var after uint64
		for {
			page, more, err := b.After(testContext(t), room, after, 100)
			if err != nil {
				t.Fatal(err)
			}
			out[room] = append(out[room], page...)
			if !more {
				break
			}
			after = page[len(page)-1].Seq
		}
	}
	return out
}

func sameMessages(t *testing.T, what string, got, want []protocol.Message) {
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

// TestBackupRestore backs up a stopped node's data directory, restores it into a new one
// and checks that a broker there serves exactly the backed-up messages, with the same seq
// and id, and that the other stream and the KV bucket came back too.
func TestBackupRestore(t *testing.T) {
	ctx := testContext(t)
	src := t.TempDir()
	want := fillDataDir(t, src)
	if len(want["alpha"]) != 293 || len(want["beta"]) != 6 {
		t.Fatalf("stored %d + %d messages", len(want["alpha"]), len(want["beta"]))
	}

	var tarball bytes.Buffer
	m, err := archive.Backup(ctx, src, &tarball)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range m.Streams {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "DISTCHAT,EXTRA,KV_DISTCHAT_STATE,KV_settings" || m.Messages() != 299+5+1 {
		t.Fatalf("backed up streams %q with %d messages", names, m.Messages())
	}
	if m.Streams[0].Size < 3*128<<10 {
		t.Fatalf("the snapshot has %d bytes: too few to test the chunked transfer", m.Streams[0].Size)
	}

	dst := filepath.Join(t.TempDir(), "restored") // Restore creates it
	if _, err := archive.Restore(ctx, dst, bytes.NewReader(tarball.Bytes())); err != nil {
		t.Fatal(err)
	}
	b, err := openReady(t, natsnode.Options{DataDir: dst}, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rooms, err := b.Rooms(ctx)
	if err != nil || len(rooms) != 2 || rooms[0].Name != "alpha" || rooms[1].Name != "beta" {
		t.Fatalf("rooms after restore: %v, %v", rooms, err)
	}
	got := readRooms(t, b, "alpha", "beta")
	sameMessages(t, "alpha", got["alpha"], want["alpha"])
	sameMessages(t, "beta", got["beta"], want["beta"])
	// Publishing continues after the restored sequence.
	next, _, err := brokertest.Publish(b, protocol.Message{Room: "alpha", Body: "after"}, "")
	if err != nil || next.Seq != want["alpha"][len(want["alpha"])-1].Seq+1 {
		t.Fatalf("first message after the restore: seq %d, %v", next.Seq, err)
	}
}

// TestBackupRestoreEmpty backs up the store of a node that never stored a message.
func TestBackupRestoreEmpty(t *testing.T) {
	ctx := testContext(t)
	src := t.TempDir()
	b, err := openReady(t, natsnode.Options{DataDir: src}, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	var tarball bytes.Buffer
	if m, err := archive.Backup(ctx, src, &tarball); err != nil || len(m.Streams) != 2 || m.Messages() != 0 {
		t.Fatalf("backup of an empty store: %+v, %v", m, err)
	}
	dst := t.TempDir()
	if _, err := archive.Restore(ctx, dst, bytes.NewReader(tarball.Bytes())); err != nil {
		t.Fatal(err)
	}
	rb, err := openReady(t, natsnode.Options{DataDir: dst}, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	if m, _, err := brokertest.Publish(rb, protocol.Message{Room: "r", Body: "first"}, ""); err != nil || m.Seq != 1 {
		t.Fatalf("first message after restoring an empty store: seq %d, %v", m.Seq, err)
	}
}

// TestBackupRestoreOtherStreams checks the streams distchat does not use itself.
func TestBackupRestoreOtherStreams(t *testing.T) {
	ctx := testContext(t)
	src := t.TempDir()
	fillDataDir(t, src)
	var tarball bytes.Buffer
	if _, err := archive.Backup(ctx, src, &tarball); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if _, err := archive.Restore(ctx, dst, bytes.NewReader(tarball.Bytes())); err != nil {
		t.Fatal(err)
	}
	ns, err := natsnode.Start(t.Context(), natsnode.Options{DataDir: dst})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := natsjs.New(nc)
	extra, err := js.Stream(ctx, "EXTRA")
	if err != nil {
		t.Fatal(err)
	}
	if info, err := extra.Info(ctx); err != nil || info.State.Msgs != 5 {
		t.Fatalf("EXTRA after restore: %+v, %v", info, err)
	}
	kv, err := js.KeyValue(ctx, "settings")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, "theme"); err != nil || string(e.Value()) != "dark" {
		t.Fatalf("KV after restore: %v, %v", e, err)
	}
}

func TestExport(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	want := fillDataDir(t, dir)
	var out bytes.Buffer
	n, err := archive.Export(ctx, dir, "beta", &out)
	if err != nil || n != len(want["beta"]) {
		t.Fatalf("export: %d messages, %v", n, err)
	}
	if !strings.Contains(out.String(), "<b>&</b>") {
		t.Fatal("bodies are HTML-escaped in the export")
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	i := 0
	for ; sc.Scan(); i++ {
		var got map[string]any
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("line %d %q: %v", i, sc.Text(), err)
		}
		w := want["beta"][i]
		if len(got) != 6 || got["room"] != "beta" || got["seq"] != float64(w.Seq) || got["id"] != w.ID || got["body"] != w.Body ||
			got["ts"] != float64(w.TS) || got["from"].(map[string]any)["name"] != "alice" {
			t.Fatalf("line %d: %s, want %+v", i, sc.Text(), w)
		}
	}
	if i != len(want["beta"]) {
		t.Fatalf("%d lines, want %d", i, len(want["beta"]))
	}

	if _, err := archive.Export(ctx, dir, "nobody-here", io.Discard); !errors.Is(err, archive.ErrNoSuchRoom) {
		t.Fatalf("unknown room: %v", err)
	}
	if _, err := archive.Export(ctx, dir, "Not A Room", io.Discard); err == nil || !strings.Contains(err.Error(), "not a room name") {
		t.Fatalf("bad room name: %v", err)
	}
}

// TestDataDirInUse: backup, restore and export refuse a directory another process (or
// another part of this one) holds, and say so.
func TestDataDirInUse(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	fillDataDir(t, dir)
	release, err := natsnode.LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := natsnode.LockDataDir(dir); err == nil {
		t.Fatal("a second lock succeeded")
	}
	var inUse *natsnode.DataDirInUseError
	_, err = archive.Backup(ctx, dir, io.Discard)
	if !errors.As(err, &inUse) || inUse.PID != os.Getpid() || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("backup of a locked directory: %v", err)
	}
	if _, err := archive.Export(ctx, dir, "alpha", io.Discard); !errors.Is(err, natsnode.ErrDataDirInUse) {
		t.Fatalf("export of a locked directory: %v", err)
	}
	release()
	if _, err := archive.Export(ctx, dir, "alpha", io.Discard); err != nil {
		t.Fatalf("export after the lock was released: %v", err)
	}
}

func TestBackupAndRestoreErrors(t *testing.T) {
	ctx := testContext(t)
	if _, err := archive.Backup(ctx, filepath.Join(t.TempDir(), "none"), io.Discard); err == nil || !strings.Contains(err.Error(), "not a distchat data directory") {
		t.Fatalf("backup of a missing directory: %v", err)
	}
	src := t.TempDir()
	fillDataDir(t, src)
	var tarball bytes.Buffer
	if _, err := archive.Backup(ctx, src, &tarball); err != nil {
		t.Fatal(err)
	}
	good := tarball.Bytes()

	// Restore refuses a directory that is not empty, and leaves it alone.
	if _, err := archive.Restore(ctx, src, bytes.NewReader(good)); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("restore into a non-empty directory: %v", err)
	}
	if _, err := archive.Export(ctx, src, "alpha", io.Discard); err != nil {
		t.Fatalf("the directory a restore refused is damaged: %v", err)
	}

	flipped := bytes.Clone(good)
	flipped[len(flipped)/3] ^= 0xff
	for name, data := range map[string][]byte{
		"flipped byte": flipped,
		"truncated":    good[:len(good)/2],
		"not a tar":    []byte("hello, this is not a backup"),
		"empty":        nil,
		"format 2":     rewriteManifest(t, good, func(m map[string]any) { m["format"] = 2 }),
		"other sha":    rewriteManifest(t, good, func(m map[string]any) { m["streams"].([]any)[0].(map[string]any)["sha256"] = strings.Repeat("0", 64) }),
	} {
		t.Run(name, func(t *testing.T) {
			dst := t.TempDir()
			_, err := archive.Restore(ctx, dst, bytes.NewReader(data))
			if !errors.Is(err, archive.ErrBadBackup) {
				t.Fatalf("restore of a damaged archive: %v", err)
			}
			if entries, _ := os.ReadDir(dst); len(entries) != 0 {
				t.Fatalf("a refused restore left %d files", len(entries))
			}
		})
	}
}

// TestBackupRefusesIncompleteStores: a backup must never leave out a stream silently.
func TestBackupRefusesIncompleteStores(t *testing.T) {
	ctx := testContext(t)

	// A stream whose metadata JetStream rejects is not loaded; the backup names it.
	dir := t.TempDir()
	fillDataDir(t, dir)
	meta := filepath.Join(dir, "jetstream", "$G", "streams", "EXTRA", "meta.inf")
	data, err := os.ReadFile(meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(meta, append(data, ' '), 0o600); err != nil { // its checksum no longer matches
		t.Fatal(err)
	}
	_, err = archive.Backup(ctx, dir, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "could not load stream EXTRA") || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("backup with a damaged stream: %v", err)
	}

	// A clustered node's store: a single server cannot load its replicated streams.
	dir = t.TempDir()
	fillDataDir(t, dir)
	if err := os.MkdirAll(filepath.Join(dir, "jetstream", "$SYS", "_js_", "_meta_"), 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := archive.Backup(ctx, dir, io.Discard); !errors.Is(err, archive.ErrClusteredDataDir) {
		t.Fatalf("backup of a clustered node's directory: %v", err)
	}

	// A store without streams.
	dir = t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "jetstream"), 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := archive.Backup(ctx, dir, io.Discard); err == nil || !strings.Contains(err.Error(), "no streams") {
		t.Fatalf("backup of a store without streams: %v", err)
	}
}

// rewriteManifest returns the archive with its manifest changed by edit.
func rewriteManifest(t *testing.T, tarball []byte, edit func(map[string]any)) []byte {
	t.Helper()
	var out bytes.Buffer
	tr, tw := tar.NewReader(bytes.NewReader(tarball)), tar.NewWriter(&out)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Name == "manifest.json" {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			edit(m)
			if data, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
			hdr.Size = int64(len(data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestBackupRunningNATS backs up the streams of a NATS server while a broker uses it (as
// with --nats-url) and restores them into another server.
func TestBackupRunningNATS(t *testing.T) {
	ctx := testContext(t)
	ns := jstest.StartNATS(t)
	b, err := connectReady(t, ns.ClientURL(), jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range 20 {
		if _, _, err := brokertest.Publish(b, protocol.Message{Room: "live", Body: fmt.Sprint(i)}, ""); err != nil {
			t.Fatal(err)
		}
	}
	want := readRooms(t, b, "live")
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var tarball bytes.Buffer
	if _, err := archive.BackupConn(ctx, nc, &tarball); err != nil {
		t.Fatal(err)
	}

	other := jstest.StartNATS(t)
	onc, err := nats.Connect(other.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer onc.Close()
	if _, err := archive.RestoreConn(ctx, onc, bytes.NewReader(tarball.Bytes())); err != nil {
		t.Fatal(err)
	}
	// The streams exist now: a second restore is refused by JetStream.
	if _, err := archive.RestoreConn(ctx, onc, bytes.NewReader(tarball.Bytes())); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("restore over an existing stream: %v", err)
	}
	rb, err := connectReady(t, other.ClientURL(), jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	sameMessages(t, "live", readRooms(t, rb, "live")["live"], want["live"])
	var out bytes.Buffer
	if n, err := archive.ExportConn(ctx, onc, "live", &out, jetstream.Options{}); err != nil || n != 20 {
		t.Fatalf("export from a running server: %d, %v", n, err)
	}
}

// openReady opens an embedded broker and waits until it is ready.
func openReady(t *testing.T, eo natsnode.Options, o jetstream.Options) (*jetstream.Broker, error) {
	t.Helper()
	b, err := jetstream.OpenEmbedded(t.Context(), eo, o)
	if err != nil {
		return nil, err
	}
	jstest.WaitReady(t, b)
	return b, nil
}

// connectReady opens a broker on the NATS server at url and waits until it is ready.
func connectReady(t *testing.T, url string, o jetstream.Options) (*jetstream.Broker, error) {
	t.Helper()
	return jstest.Connect(t, url, o), nil
}
