// Command dist packs release archives for `make dist`: one per platform (.tar.gz for Linux
// and macOS, .zip for Windows), each holding the binary and the given documents at its top
// level, plus a SHA256SUMS file in sha256sum's format. Entries are sorted and carry a
// fixed time and owner, so the same inputs give the same archives.
//
//	go run ./tools/dist -bin dist/.bin -out dist -name distchat-v1.0.0 -mtime 1767225600 README.md LICENSE
//
// -bin holds one directory per platform, named OS-ARCH, with the binary inside.
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.binDir, "bin", "", "directory with one OS-ARCH directory per platform, each holding the binary")
	flag.StringVar(&o.outDir, "out", "dist", "where the archives and SHA256SUMS go")
	flag.StringVar(&o.name, "name", "", "archive name prefix, e.g. distchat-v1.0.0 (archives are NAME-OS-ARCH.EXT)")
	mtime := flag.Int64("mtime", 0, "modification time of every entry, in seconds since 1970 (e.g. the commit's)")
	flag.Parse()
	o.docs = flag.Args()
	o.mtime = time.Unix(*mtime, 0).UTC()
	if o.binDir == "" || o.name == "" {
		fmt.Fprintln(os.Stderr, "dist: -bin and -name are required")
		os.Exit(2)
	}
	names, err := pack(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
	for _, n := range names {
		fmt.Println("  " + filepath.Join(o.outDir, n))
	}
}

type options struct {
	binDir, outDir, name string
	docs                 []string
	mtime                time.Time
}

// file is one entry of an archive.
type file struct {
	name string
	mode os.FileMode
	data []byte
}

// pack writes one archive per platform directory of o.binDir and SHA256SUMS, and returns
// the names written.
func pack(o options) ([]string, error) {
	var docs []file
	for _, d := range o.docs {
		data, err := os.ReadFile(d)
		if err != nil {
			return nil, err
		}
		docs = append(docs, file{name: filepath.Base(d), mode: 0o644, data: data})
	}
	platforms, err := os.ReadDir(o.binDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.outDir, 0o755); err != nil { //nolint:gosec // G301: release archives are for everyone to read
		return nil, err
	}
	var names []string
	sums := map[string]string{}
	for _, p := range platforms {
		if !p.IsDir() {
			continue
		}
		goos, _, ok := strings.Cut(p.Name(), "-")
		if !ok {
			return nil, fmt.Errorf("%s: platform directories are named OS-ARCH", p.Name())
		}
		bins, err := os.ReadDir(filepath.Join(o.binDir, p.Name()))
		if err != nil {
			return nil, err
		}
		if len(bins) != 1 || bins[0].IsDir() {
			return nil, fmt.Errorf("%s: want exactly one binary", filepath.Join(o.binDir, p.Name()))
		}
		bin, err := os.ReadFile(filepath.Join(o.binDir, p.Name(), bins[0].Name()))
		if err != nil {
			return nil, err
		}
		files := append([]file{{name: bins[0].Name(), mode: 0o755, data: bin}}, docs...)
		sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })

		var buf bytes.Buffer
		name := o.name + "-" + p.Name()
		if goos == "windows" {
			name += ".zip"
			err = writeZip(&buf, files, o.mtime)
		} else {
			name += ".tar.gz"
			err = writeTarGz(&buf, files, o.mtime)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(o.outDir, name), buf.Bytes(), 0o644); err != nil { //nolint:gosec // G306: release archives are for everyone to read
			return nil, err
		}
		sum := sha256.Sum256(buf.Bytes())
		sums[name] = hex.EncodeToString(sum[:])
		names = append(names, name)
	}
	if len(names) == 0 {
		return nil, errors.New("no platform directories in " + o.binDir)
	}
	sort.Strings(names)
	var list strings.Builder
	for _, n := range names {
		// Two spaces: sha256sum's text mode, which `sha256sum -c` reads.
		fmt.Fprintf(&list, "%s  %s\n", sums[n], n)
	}
	if err := os.WriteFile(filepath.Join(o.outDir, "SHA256SUMS"), []byte(list.String()), 0o644); err != nil { //nolint:gosec // G306: the checksums are public
		return nil, err
	}
	return append(names, "SHA256SUMS"), nil
}

func writeTarGz(w io.Writer, files []file, mtime time.Time) error {
	// No name or time in the gzip header, so that it depends on the content only.
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	for _, f := range files {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     f.name,
			Mode:     int64(f.mode),
			Size:     int64(len(f.data)),
			ModTime:  mtime,
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

func writeZip(w io.Writer, files []file, mtime time.Time) error {
	zw := zip.NewWriter(w)
	for _, f := range files {
		hdr := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: mtime}
		hdr.SetMode(f.mode)
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := fw.Write(f.data); err != nil {
			return err
		}
	}
	return zw.Close()
}
