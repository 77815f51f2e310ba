// Package archive takes distchat's stored messages out of storage and puts them back, for
// distchat backup, restore and export: backups are tar archives of JetStream's own stream
// snapshots ($JS.API.STREAM.SNAPSHOT), restores go through $JS.API.STREAM.RESTORE into an
// empty data directory, and an export writes one room's messages as JSON lines. On a
// data directory it takes the directory's lock and starts an embedded NATS node there
// (natsnode), so the node that uses the directory must be stopped; the *Conn variants work
// on a running NATS server instead.
package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/distchat/distchat/server/natsnode"
)

// A backup is a tar archive of JetStream's own stream snapshots (the
// $JS.API.STREAM.SNAPSHOT API: S2-compressed, with checksums), one per stream of the
// account, so that a restore goes through $JS.API.STREAM.RESTORE and JetStream rebuilds
// its files itself. Layout:
//
//	streams/<stream>/000001.snap   the snapshot's bytes, in parts of at most backupPartSize
//	streams/<stream>/000002.snap
//	...
//	manifest.json                  format, creation time, and per stream its configuration,
//	                               state, size and SHA-256 (written last, once known)
//
// Parts keep the memory a backup needs bounded without temporary files: a tar entry needs
// its size before its content.
const (
	// BackupFormat is the version of the archive layout; Restore refuses others.
	BackupFormat   = 1
	manifestName   = "manifest.json"
	backupPartSize = 8 << 20
	// snapshotChunk is how much the server sends per message during a backup and the
	// client sends per request during a restore.
	snapshotChunk = 128 << 10
	// chunkTimeout bounds the wait for the next chunk or its acknowledgement.
	chunkTimeout = 30 * time.Second
)

// Manifest describes a backup.
type Manifest struct {
	Format  int           `json:"format"`
	Created time.Time     `json:"created"`
	Streams []StreamEntry `json:"streams"`
	// Skipped lists memory streams, which have nothing to back up.
	Skipped []string `json:"skipped,omitempty"`
}

// StreamEntry is one stream of a backup.
type StreamEntry struct {
	Name   string              `json:"name"`
	Config server.StreamConfig `json:"config"`
	State  server.StreamState  `json:"state"`
	Parts  int                 `json:"parts"`
	Size   int64               `json:"size"`
	SHA256 string              `json:"sha256"`
}

// Messages is the number of messages in the backup's streams.
func (m *Manifest) Messages() uint64 {
	var n uint64
	for _, s := range m.Streams {
		n += s.State.Msgs
	}
	return n
}

// ErrBadBackup means a backup archive is not one, is of an unknown format, or is damaged.
var ErrBadBackup = errors.New("not a valid distchat backup")

func badBackup(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadBackup, fmt.Sprintf(format, args...))
}

// Backup writes a backup of every stream in the data directory of a stopped node to w. It
// runs an embedded NATS server on the directory (locked meanwhile: a node using it makes
// this fail with a *DataDirInUseError) and snapshots each stream through JetStream.
func Backup(ctx context.Context, dataDir string, w io.Writer) (*Manifest, error) {
	var m *Manifest
	err := withStoppedNode(ctx, dataDir, false, func(n *stoppedNode) error {
		if err := n.checkAllLoaded(ctx); err != nil {
			return err
		}
		var err error
		m, err = BackupConn(ctx, n.nc, w)
		return err
	})
	return m, err
}

// BackupConn writes a backup of every stream of nc's account to w. nc may be connected to
// a running NATS server: JetStream takes consistent snapshots while it runs.
func BackupConn(ctx context.Context, nc *nats.Conn, w io.Writer) (*Manifest, error) {
	return backupConn(ctx, nc, w, backupPartSize)
}

func backupConn(ctx context.Context, nc *nats.Conn, w io.Writer, partSize int) (*Manifest, error) {
	js, err := natsjs.New(nc)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Format: BackupFormat, Created: time.Now().UTC().Truncate(time.Second)}
	var names []string
	lister := js.ListStreams(ctx)
	for info := range lister.Info() {
		if info.Config.Storage == natsjs.MemoryStorage {
			m.Skipped = append(m.Skipped, info.Config.Name)
			continue
		}
		names = append(names, info.Config.Name)
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("listing streams: %w", err)
	}
	if len(names) == 0 {
		return nil, errors.New("there are no streams to back up")
	}
	sort.Strings(names)
	sort.Strings(m.Skipped)

	tw := tar.NewWriter(w)
	for _, name := range names {
		entry, err := snapshotStream(ctx, nc, name, tw, m.Created, partSize)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		m.Streams = append(m.Streams, *entry)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeEntry(tw, manifestName, data, m.Created); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return m, nil
}

func partName(stream string, part int) string {
	return fmt.Sprintf("streams/%s/%06d.snap", stream, part)
}

func writeEntry(tw *tar.Writer, name string, data []byte, mtime time.Time) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// snapshotStream asks JetStream for a snapshot of one stream and writes it to tw in parts.
// The server sends chunks to an inbox, each with a reply subject to acknowledge it (its
// flow control), and ends with an empty message whose status is 204 when the snapshot is
// complete or an error status otherwise.
func snapshotStream(ctx context.Context, nc *nats.Conn, stream string, tw *tar.Writer, mtime time.Time, partSize int) (*StreamEntry, error) {
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	// The server bounds what is in flight (its window); the client must not drop any.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, err
	}

	req, err := json.Marshal(server.JSApiStreamSnapshotRequest{DeliverSubject: inbox, ChunkSize: snapshotChunk})
	if err != nil {
		return nil, err
	}
	var resp server.JSApiStreamSnapshotResponse
	if err := apiRequest(ctx, nc, fmt.Sprintf(server.JSApiStreamSnapshotT, stream), req, &resp); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if resp.Config == nil || resp.State == nil {
		return nil, errors.New("snapshot: the server sent no configuration or state")
	}

	entry := &StreamEntry{Name: stream, Config: *resp.Config, State: *resp.State}
	sum := sha256.New()
	var part bytes.Buffer
	flush := func() error {
		if part.Len() == 0 {
			return nil
		}
		entry.Parts++
		if err := writeEntry(tw, partName(stream, entry.Parts), part.Bytes(), mtime); err != nil {
			return err
		}
		part.Reset()
		return nil
	}
	for {
		cctx, cancel := context.WithTimeout(ctx, chunkTimeout)
		msg, err := sub.NextMsgWithContext(cctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("receiving the snapshot: %w", err)
		}
		if len(msg.Data) == 0 {
			// The end: status 204, or no status at all when the whole snapshot fit in one
			// chunk; any other status is an error.
			if status := msg.Header.Get("Status"); status != "" && status != "204" {
				return nil, fmt.Errorf("snapshot failed: %s %s", status, msg.Header.Get("Description"))
			}
			break
		}
		part.Write(msg.Data)
		sum.Write(msg.Data)
		entry.Size += int64(len(msg.Data))
		if part.Len() >= partSize {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		if msg.Reply != "" {
			if err := msg.Respond(nil); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if entry.Size == 0 {
		return nil, errors.New("snapshot: the server sent no data")
	}
	entry.SHA256 = hex.EncodeToString(sum.Sum(nil))
	return entry, nil
}

// apiRequest sends a JetStream API request and decodes the response into resp, turning an
// API error into an error.
func apiRequest(ctx context.Context, nc *nats.Conn, subject string, req []byte, resp any) error {
	rctx, cancel := context.WithTimeout(ctx, chunkTimeout)
	defer cancel()
	msg, err := nc.RequestWithContext(rctx, subject, req)
	if err != nil {
		return err
	}
	return decodeAPI(msg.Data, resp)
}

func decodeAPI(data []byte, resp any) error {
	var apiErr struct {
		Error *server.ApiError `json:"error"`
	}
	if err := json.Unmarshal(data, &apiErr); err != nil {
		return fmt.Errorf("undecodable JetStream response %q: %w", data, err)
	}
	if apiErr.Error != nil {
		return apiErr.Error
	}
	if resp == nil {
		return nil
	}
	return json.Unmarshal(data, resp)
}

// Restore restores a backup into dataDir, which must be empty or not exist. The archive is
// read twice: first to check it completely (format, every part, sizes and checksums), so
// that a damaged archive is refused before anything is written, then to restore each
// stream through JetStream. If the restore fails, dataDir is emptied again.
func Restore(ctx context.Context, dataDir string, archive io.ReadSeeker) (*Manifest, error) {
	m, err := VerifyBackup(archive)
	if err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(dataDir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("restore needs an empty data directory, and %s is not: restore into a new one (then point --data at it)", dataDir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	err = withStoppedNode(ctx, dataDir, true, func(n *stoppedNode) error {
		return restoreArchive(ctx, n.nc, archive, m)
	})
	if err != nil {
		// dataDir was empty: what is there now is a partial restore.
		if entries, rerr := os.ReadDir(dataDir); rerr == nil {
			for _, e := range entries {
				_ = os.RemoveAll(filepath.Join(dataDir, e.Name()))
			}
		}
		return nil, err
	}
	return m, nil
}

// RestoreConn restores a backup into the account of nc, where none of its streams may
// exist yet.
func RestoreConn(ctx context.Context, nc *nats.Conn, archive io.ReadSeeker) (*Manifest, error) {
	m, err := VerifyBackup(archive)
	if err != nil {
		return nil, err
	}
	return m, restoreArchive(ctx, nc, archive, m)
}

// VerifyBackup reads a whole archive and checks its format, parts, sizes and checksums. It
// returns the manifest; the archive is read from its start.
func VerifyBackup(archive io.ReadSeeker) (*Manifest, error) {
	if _, err := archive.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	type seen struct {
		parts int
		size  int64
		sum   hash.Hash
	}
	streams := map[string]*seen{}
	var m *Manifest
	last := "" // restores read each stream's parts in one run
	tr := tar.NewReader(archive)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, badBackup("%v", err)
		}
		if m != nil {
			return nil, badBackup("%s after the manifest", hdr.Name)
		}
		if hdr.Name == manifestName {
			m = &Manifest{}
			dec := json.NewDecoder(io.LimitReader(tr, 64<<20))
			if err := dec.Decode(m); err != nil {
				return nil, badBackup("manifest: %v", err)
			}
			continue
		}
		stream, part, ok := parsePartName(hdr.Name)
		if !ok || hdr.Typeflag != tar.TypeReg {
			return nil, badBackup("unexpected entry %s", hdr.Name)
		}
		s := streams[stream]
		if s == nil {
			s = &seen{sum: sha256.New()}
			streams[stream] = s
		} else if stream != last {
			return nil, badBackup("%s: parts of stream %s are not together", hdr.Name, stream)
		}
		last = stream
		if part != s.parts+1 {
			return nil, badBackup("%s out of order", hdr.Name)
		}
		s.parts = part
		n, err := io.Copy(s.sum, tr) //nolint:gosec // G110: only hashed, and a backup is the operator's own file
		if err != nil {
			return nil, badBackup("%s: %v", hdr.Name, err)
		}
		s.size += n
	}
	if m == nil {
		return nil, badBackup("no %s", manifestName)
	}
	if m.Format != BackupFormat {
		return nil, badBackup("format %d, this distchat reads format %d", m.Format, BackupFormat)
	}
	for _, e := range m.Streams {
		s := streams[e.Name]
		if s == nil {
			return nil, badBackup("stream %s has no data", e.Name)
		}
		if s.parts != e.Parts || s.size != e.Size || hex.EncodeToString(s.sum.Sum(nil)) != e.SHA256 {
			return nil, badBackup("stream %s: its data does not match the manifest (damaged archive)", e.Name)
		}
		if e.Config.Name != e.Name {
			return nil, badBackup("stream %s: configuration names %q", e.Name, e.Config.Name)
		}
		delete(streams, e.Name)
	}
	for name := range streams {
		return nil, badBackup("stream %s is not in the manifest", name)
	}
	return m, nil
}

func parsePartName(name string) (stream string, part int, ok bool) {
	dir, file := path.Split(name)
	stream, ok = strings.CutPrefix(strings.TrimSuffix(dir, "/"), "streams/")
	num, isSnap := strings.CutSuffix(file, ".snap")
	if !ok || stream == "" || strings.Contains(stream, "/") || !isSnap {
		return "", 0, false
	}
	part, err := strconv.Atoi(num)
	return stream, part, err == nil && part > 0
}

// restoreArchive restores every stream of a verified archive.
func restoreArchive(ctx context.Context, nc *nats.Conn, archive io.ReadSeeker, m *Manifest) error {
	if _, err := archive.Seek(0, io.SeekStart); err != nil {
		return err
	}
	byName := map[string]StreamEntry{}
	for _, e := range m.Streams {
		byName[e.Name] = e
	}
	tr := tar.NewReader(archive)
	var cur *streamRestore
	finish := func() error {
		if cur == nil {
			return nil
		}
		err := cur.finish(ctx)
		cur = nil
		return err
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return badBackup("%v", err)
		}
		stream, part, ok := parsePartName(hdr.Name)
		if !ok {
			continue // the manifest
		}
		if part == 1 {
			if err := finish(); err != nil {
				return err
			}
			cur, err = startRestore(ctx, nc, byName[stream])
			if err != nil {
				return fmt.Errorf("stream %s: %w", stream, err)
			}
		}
		if err := cur.send(ctx, tr); err != nil {
			return fmt.Errorf("stream %s: %w", stream, err)
		}
	}
	return finish()
}

// streamRestore is one stream being restored: JetStream gave a subject to send the
// snapshot's chunks to, each as a request that it answers once it has taken the chunk.
type streamRestore struct {
	nc      *nats.Conn
	entry   StreamEntry
	deliver string
	buf     []byte
}

func startRestore(ctx context.Context, nc *nats.Conn, e StreamEntry) (*streamRestore, error) {
	cfg := e.Config
	// The restoring server is a single node; a node that joins a cluster later raises the
	// replicas of its stream to what its options say.
	cfg.Replicas = 1
	req, err := json.Marshal(server.JSApiStreamRestoreRequest{Config: cfg, State: e.State})
	if err != nil {
		return nil, err
	}
	var resp server.JSApiStreamRestoreResponse
	if err := apiRequest(ctx, nc, fmt.Sprintf(server.JSApiStreamRestoreT, e.Name), req, &resp); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if resp.DeliverSubject == "" {
		return nil, errors.New("restore: the server gave no subject to send the snapshot to")
	}
	return &streamRestore{nc: nc, entry: e, deliver: resp.DeliverSubject, buf: make([]byte, snapshotChunk)}, nil
}

func (r *streamRestore) send(ctx context.Context, part io.Reader) error {
	for {
		n, err := io.ReadFull(part, r.buf)
		if n > 0 {
			if err := r.request(ctx, r.buf[:n], nil); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return badBackup("%v", err)
		}
	}
}

// finish sends the empty message that ends the snapshot and waits for JetStream to load
// it, then checks that the restored stream holds what was backed up.
func (r *streamRestore) finish(ctx context.Context) error {
	var resp server.JSApiStreamCreateResponse
	if err := r.request(ctx, nil, &resp); err != nil {
		return fmt.Errorf("stream %s: %w", r.entry.Name, err)
	}
	if resp.StreamInfo == nil {
		return fmt.Errorf("stream %s: the server did not confirm the restore", r.entry.Name)
	}
	got, want := resp.State, r.entry.State
	// An empty stream's first sequence is reported as 0 or as last+1: compare it only when
	// there are messages.
	if got.Msgs != want.Msgs || got.LastSeq != want.LastSeq || want.Msgs > 0 && got.FirstSeq != want.FirstSeq {
		return fmt.Errorf("stream %s restored with %d messages (seq %d-%d), the backup has %d (seq %d-%d)",
			r.entry.Name, got.Msgs, got.FirstSeq, got.LastSeq, want.Msgs, want.FirstSeq, want.LastSeq)
	}
	return nil
}

// request sends one chunk (or, when data is empty, the end) and checks the answer. The last
// answer, after JetStream has rebuilt the stream, can take long for a large stream.
func (r *streamRestore) request(ctx context.Context, data []byte, resp any) error {
	rctx := ctx
	if len(data) > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, chunkTimeout)
		defer cancel()
	}
	msg, err := r.nc.RequestWithContext(rctx, r.deliver, data)
	if err != nil {
		return fmt.Errorf("sending the snapshot: %w", err)
	}
	if len(msg.Data) == 0 {
		if resp != nil {
			return errors.New("the server sent no result")
		}
		return nil
	}
	return decodeAPI(msg.Data, resp)
}

// ErrClusteredDataDir means a data directory belongs to a node of a JetStream cluster. Its
// replicated streams can only be loaded by the cluster, not by a single server.
var ErrClusteredDataDir = errors.New("the data directory of a clustered node")

// stoppedNode is an embedded NATS server started on a stopped node's data directory.
type stoppedNode struct {
	dataDir string
	nc      *nats.Conn
	// warnings are what the server logged at warning level or above: why a stream could
	// not be loaded, for instance.
	warnings *warningRecorder
}

// withStoppedNode runs fn with a connection to an embedded NATS server on dataDir, which it
// locks for the time. fresh allows a directory without a store (for restores).
func withStoppedNode(ctx context.Context, dataDir string, fresh bool, fn func(*stoppedNode) error) error {
	if !fresh {
		if fi, err := os.Stat(filepath.Join(dataDir, "jetstream")); err != nil || !fi.IsDir() {
			return fmt.Errorf("%s is not a distchat data directory (it has no jetstream directory)", dataDir)
		}
		// The meta group's directory: JetStream ran clustered on this store.
		if _, err := os.Stat(filepath.Join(dataDir, "jetstream", "$SYS", "_js_")); err == nil {
			return fmt.Errorf("%s is %w: back the cluster up while it runs, through NATS (--nats-url)", dataDir, ErrClusteredDataDir)
		}
	}
	release, err := natsnode.LockDataDir(dataDir)
	if err != nil {
		return err
	}
	defer release()
	rec := &warningRecorder{}
	ns, err := natsnode.Start(ctx, natsnode.Options{DataDir: dataDir, Logger: slog.New(rec)})
	if err != nil {
		return err
	}
	defer ns.Stop()
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.Name("distchat-admin"))
	if err != nil {
		return fmt.Errorf("connecting to embedded NATS: %w", err)
	}
	defer nc.Close()
	return fn(&stoppedNode{dataDir: dataDir, nc: nc, warnings: rec})
}

// checkAllLoaded fails when a stream stored in the directory was not loaded by JetStream
// (it logs why and goes on without it), so that a backup never silently leaves one out.
func (n *stoppedNode) checkAllLoaded(ctx context.Context) error {
	entries, err := os.ReadDir(filepath.Join(n.dataDir, "jetstream", server.DEFAULT_GLOBAL_ACCOUNT, "streams"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	js, err := natsjs.New(n.nc)
	if err != nil {
		return err
	}
	loaded := map[string]bool{}
	lister := js.StreamNames(ctx)
	for name := range lister.Name() {
		loaded[name] = true
	}
	if err := lister.Err(); err != nil {
		return fmt.Errorf("listing streams: %w", err)
	}
	var missing []string
	for _, e := range entries {
		if e.IsDir() && !loaded[e.Name()] {
			missing = append(missing, e.Name())
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("JetStream could not load stream %s from %s, so a backup would miss it: %s",
		strings.Join(missing, ", "), n.dataDir, strings.Join(n.warnings.messages(), "; "))
}

// warningRecorder is a slog.Handler that keeps the messages of warnings and errors.
type warningRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *warningRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (r *warningRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, strings.TrimSpace(strings.TrimPrefix(rec.Message, "nats: ")))
	return nil
}
func (r *warningRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *warningRecorder) WithGroup(string) slog.Handler      { return r }

func (r *warningRecorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}
