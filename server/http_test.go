// The HTTP API and the UI.

package server_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/distchat/distchat/server"
)

func TestHTTP(t *testing.T) {
	t.Parallel()
	const index = "<!doctype html><title>distchat test</title>"
	ts := startServer(t, server.Config{Version: "v-http", UI: fstest.MapFS{
		"index.html":        {Data: []byte(index)},
		"assets/app-abc.js": {Data: []byte("console.log('app')")},
	}})
	for _, tc := range []struct {
		method, path string
		status       int
		contentType  string // prefix
		cache        string // substring of Cache-Control
		body         string // substring
	}{
		{"GET", "/api/health", 200, "application/json", "", `"status":"ok"`},
		{"GET", "/api/rooms", 200, "application/json", "", `{"rooms":[{"name":"general","members":0,"messages":0}]}`},
		{"GET", "/api/nope", 404, "application/json", "", `"error"`},
		{"POST", "/api/nope", 404, "application/json", "", `"error"`},
		{"GET", "/", 200, "text/html", "no-cache", index},
		{"GET", "/r/general", 200, "text/html", "no-cache", index},
		{"GET", "/index.html", 200, "text/html", "no-cache", index},
		{"GET", "/assets/app-abc.js", 200, "text/javascript", "immutable", "console.log"},
		{"GET", "/assets/missing.js", 404, "", "", ""},
		{"GET", "/favicon.ico", 404, "", "", ""},
		{"POST", "/", 405, "", "", ""},
		{"DELETE", "/r/general", 405, "", "", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, body := ts.do(t, tc.method, tc.path, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (body %.200q)", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want %q", ct, tc.contentType)
			}
			if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, tc.cache) {
				t.Errorf("Cache-Control %q, want %q", cc, tc.cache)
			}
			if !strings.Contains(string(body), tc.body) {
				t.Errorf("body %.200q, want %q in it", body, tc.body)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("no X-Content-Type-Options: nosniff")
			}
		})
	}
	t.Run("health", func(t *testing.T) {
		h := ts.health(t)
		if h != (healthReply{Status: "ok", Version: "v-http", Connections: 0}) {
			t.Errorf("health = %+v", h)
		}
		c := ts.connect(t, "alice", "")
		if h := ts.health(t); h.Connections != 1 {
			t.Errorf("health with one client = %+v", h)
		}
		c.close()
	})
	t.Run("405 names the allowed methods", func(t *testing.T) {
		resp, _ := ts.do(t, "POST", "/", nil)
		if a := resp.Header.Get("Allow"); !strings.Contains(a, "GET") {
			t.Errorf("Allow = %q", a)
		}
	})
}

func TestHTTPWithoutUI(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	for _, path := range []string{"/", "/r/general"} {
		resp, body := ts.get(t, path)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			resp.Header.Get("Cache-Control") != "no-cache" || !strings.Contains(string(body), "distchat") {
			t.Errorf("GET %s without a UI: %d %v %.100q", path, resp.StatusCode, resp.Header, body)
		}
	}
}
