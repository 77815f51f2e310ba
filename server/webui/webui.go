// Package webui serves the single-page app embedded in the binary: hashed assets cached for
// a year, index.html never cached, and index.html for client-side routes such as /r/general.
package webui

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Handler serves the files of ui (the contents of web/dist). API and WebSocket paths are
// routed elsewhere; this handler must not see them.
func Handler(ui fs.FS) http.Handler {
	return &handler{ui: ui}
}

type handler struct{ ui fs.FS }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name != "" && h.serveFile(w, r, name) {
		return
	}
	// Client-side routes have no extension; a missing /assets/x.js or /favicon.ico is a
	// real 404, not the app.
	if path.Ext(name) != "" {
		http.NotFound(w, r)
		return
	}
	if !h.serveFile(w, r, "index.html") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, placeholder)
	}
}

// serveFile serves one file of the UI, with cache headers for its kind.
func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, name string) bool {
	f, err := h.ui.Open(name)
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		return false
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		return false
	}
	if strings.HasPrefix(name, "assets/") {
		// Vite puts a content hash in every asset name.
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	// Embedded files have no modification time; content hashes and no-cache do the work.
	http.ServeContent(w, r, name, time.Time{}, rs)
	return true
}

// HasIndex reports whether ui holds a built app.
func HasIndex(ui fs.FS) bool {
	_, err := fs.Stat(ui, "index.html")
	return !errors.Is(err, fs.ErrNotExist) && err == nil
}

const placeholder = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>distchat</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto">
<h1>distchat</h1>
<p>The server is running, but this binary was built without the web UI.
Build it with <code>make build</code> (or <code>npm run build</code> before <code>go build</code>).</p>
<p>The WebSocket endpoint is <code>/ws</code>; see docs/protocol.md.</p>
</body></html>
`
