package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPack packs two platforms and checks each archive's entries, their modes and times,
// SHA256SUMS against the files, and that packing again gives the same bytes.
func TestPack(t *testing.T) {
	src := t.TempDir()
	bins := filepath.Join(src, "bin")
	for dir, name := range map[string]string{"linux-arm64": "distchat", "windows-amd64": "distchat.exe"} {
		if err := os.MkdirAll(filepath.Join(bins, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bins, dir, name), []byte("binary for "+dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var docs []string
	for _, d := range []string{"README.md", "LICENSE"} {
		path := filepath.Join(src, d)
		docs = append(docs, path)
		if err := os.WriteFile(path, []byte("text of "+d), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	out := filepath.Join(t.TempDir(), "dist")
	o := options{binDir: bins, outDir: out, name: "distchat-v1.0.0", docs: docs, mtime: mtime}
	names, err := pack(o)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"distchat-v1.0.0-linux-arm64.tar.gz", "distchat-v1.0.0-windows-amd64.zip", "SHA256SUMS"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("wrote %q, want %q", names, want)
	}

	entries := readTarGz(t, filepath.Join(out, want[0]))
	checkEntries(t, want[0], entries, map[string]string{
		"distchat": "binary for linux-arm64", "README.md": "text of README.md", "LICENSE": "text of LICENSE",
	}, mtime)
	entries = readZip(t, filepath.Join(out, want[1]))
	checkEntries(t, want[1], entries, map[string]string{
		"distchat.exe": "binary for windows-amd64", "README.md": "text of README.md", "LICENSE": "text of LICENSE",
	}, mtime)

	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(sums), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("SHA256SUMS:\n%s", sums)
	}
	for i, line := range lines {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || name != want[i] {
			t.Fatalf("SHA256SUMS line %q, want \"<sha256>  %s\"", line, want[i])
		}
		data, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(data)
		if hex.EncodeToString(h[:]) != sum {
			t.Fatalf("SHA256SUMS has %s for %s, the file hashes to %x", sum, name, h)
		}
	}

	// The same inputs, packed again elsewhere, give the same archives.
	o.outDir = filepath.Join(t.TempDir(), "again")
	if _, err := pack(o); err != nil {
		t.Fatal(err)
	}
	again, err := os.ReadFile(filepath.Join(o.outDir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sums, again) {
		t.Fatalf("packing twice differs:\n%s\n%s", sums, again)
	}
}

func TestPackErrors(t *testing.T) {
	bins := t.TempDir()
	if _, err := pack(options{binDir: bins, outDir: t.TempDir(), name: "x"}); err == nil {
		t.Fatal("no platforms: no error")
	}
	if err := os.MkdirAll(filepath.Join(bins, "linux-amd64"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := pack(options{binDir: bins, outDir: t.TempDir(), name: "x"}); err == nil || !strings.Contains(err.Error(), "exactly one binary") {
		t.Fatalf("empty platform directory: %v", err)
	}
}

type entry struct {
	mode  os.FileMode
	mtime time.Time
	data  string
}

func checkEntries(t *testing.T, archive string, got map[string]entry, want map[string]string, mtime time.Time) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s has %d entries, want %d", archive, len(got), len(want))
	}
	for name, data := range want {
		e, ok := got[name]
		if !ok {
			t.Errorf("%s lacks %s", archive, name)
			continue
		}
		wantMode := os.FileMode(0o644)
		if strings.HasPrefix(name, "distchat") {
			wantMode = 0o755
		}
		if e.data != data || e.mode.Perm() != wantMode || !e.mtime.Equal(mtime) {
			t.Errorf("%s: %s is %q mode %v time %v; want %q mode %v time %v", archive, name, e.data, e.mode.Perm(), e.mtime, data, wantMode, mtime)
		}
	}
}

func readTarGz(t *testing.T, path string) map[string]entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	out := map[string]entry{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[hdr.Name] = entry{mode: hdr.FileInfo().Mode(), mtime: hdr.ModTime, data: string(data)}
	}
}

func readZip(t *testing.T, path string) map[string]entry {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string]entry{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = entry{mode: f.Mode(), mtime: f.Modified, data: string(data)}
	}
	return out
}
