package ws_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/distchat/distchat/server/ws"
)

func TestOriginPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		allowed []string
		origin  string // "self": the server's own origin; "": no Origin header
		ok      bool
	}{
		{"no origin (not a browser)", nil, "", true},
		{"same origin", nil, "self", true},
		{"cross origin", nil, "http://evil.example", false},
		{"same host, other port", nil, "http://127.0.0.1:1", false},
		{"opaque origin", nil, "null", false},
		{"not a URL", nil, "::", false},
		{"allowed origin", []string{"http://good.example"}, "http://good.example", true},
		{"allowed origin, other case", []string{"http://good.example"}, "HTTP://Good.Example", true},
		{"allowed origin given with a slash and spaces", []string{" http://good.example/ "}, "http://good.example", true},
		{"allowed origin, other scheme", []string{"http://good.example"}, "https://good.example", false},
		{"not the allowed origin", []string{"http://good.example"}, "http://evil.example", false},
		{"allowed list keeps same origin", []string{"http://good.example"}, "self", true},
		{"any origin", []string{"*"}, "http://evil.example", true},
		{"any origin, listed with others", []string{"http://good.example", "*"}, "http://evil.example", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, ws.Options{}, tc.allowed...)
			header := http.Header{}
			switch tc.origin {
			case "":
			case "self":
				header.Set("Origin", h.origin())
			default:
				header.Set("Origin", tc.origin)
			}
			c, resp, err := h.dialHeader(t, header)
			if !tc.ok {
				if err == nil {
					t.Fatalf("origin %q was accepted", header.Get("Origin"))
				}
				if resp == nil || resp.StatusCode != http.StatusForbidden {
					t.Fatalf("origin %q: %v (response %v), want 403", header.Get("Origin"), err, resp)
				}
				if n := h.srv.Count(); n != 0 {
					t.Errorf("Count() = %d after a refused upgrade", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("origin %q: %v (response %v), want accepted", header.Get("Origin"), err, resp)
			}
			// Accepted means served: a frame goes both ways.
			s := h.session(t)
			if err := c.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
				t.Fatal(err)
			}
			if f := s.frame(t); string(f.data) != "ping" {
				t.Fatalf("server read %q", f.data)
			}
		})
	}
}

func TestPlainGETIsRefused(t *testing.T) {
	t.Parallel()
	h := start(t, ws.Options{})
	resp, err := h.http.Client().Get(h.http.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET without upgrade: status %d, want 400", resp.StatusCode)
	}
	if n := h.srv.Count(); n != 0 {
		t.Errorf("Count() = %d after a failed upgrade", n)
	}
}

// TestRefusal: an accept callback that returns no session gets its object sent, then the
// close code; nothing is left counted.
func TestRefusal(t *testing.T) {
	t.Parallel()
	h := startWith(t, ws.Options{}, nil, func(*ws.Conn) (ws.Session, []byte, int) {
		return nil, []byte(`{"type":"error"}`), websocket.ClosePolicyViolation
	})
	c, _, err := h.dialHeader(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, data, err := c.ReadMessage(); err != nil || string(data) != `{"type":"error"}` {
		t.Fatalf("read %q, %v; want the refusal", data, err)
	}
	_, _, err = c.ReadMessage()
	expectClose(t, err, websocket.ClosePolicyViolation)
	if !eventually(waitTimeout, func() bool { return h.srv.Count() == 0 }) {
		t.Errorf("Count() = %d after the refusal", h.srv.Count())
	}
}

// TestShutdown: Shutdown closes every connection with 1001, refuses new ones with 503 while
// it waits, and returns once every connection has ended (or its context is done). It
// counts goroutines, so it does not run in parallel.
func TestShutdown(t *testing.T) {
	h := start(t, ws.Options{})
	type conn struct {
		c *websocket.Conn
		s *session
		p *peer // nil: this peer does not read, so it does not answer the close frame
	}
	var conns []conn
	for i := range 4 {
		c, s := h.dial(t)
		var p *peer
		if i > 0 {
			p = newPeer(c)
		}
		conns = append(conns, conn{c, s, p})
	}
	mute := conns[0]
	if n := h.srv.Count(); n != len(conns) {
		t.Fatalf("Count() = %d, want %d", n, len(conns))
	}

	// The mute peer keeps its connection in its close sequence for a while (the server
	// waits a grace period for the close reply), so a context that is already done ends
	// the wait at once.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.srv.Shutdown(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown with a cancelled context = %v, want context.Canceled", err)
	}

	shutdown := make(chan error, 1)
	go func() { shutdown <- h.shutdown() }()
	for _, c := range conns[1:] {
		expectClose(t, c.p.end(t), websocket.CloseGoingAway)
	}
	// Still closing (the mute peer has not answered): new connections are refused.
	_, resp, err := h.dialHeader(t, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial while shutting down: %v (response %v), want 503", err, resp)
	}
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned (%v) while the mute peer's connection was open", err)
	default:
	}

	select {
	case err := <-shutdown:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Shutdown did not return")
	}
	// It returned after every connection had ended.
	for i, c := range conns {
		select {
		case <-c.s.closed:
		default:
			t.Errorf("connection %d: OnClose had not run when Shutdown returned", i)
		}
	}
	if n := h.srv.Count(); n != 0 {
		t.Errorf("Count() = %d after Shutdown", n)
	}
	// The mute peer finds the close frame when it reads at last.
	_ = mute.c.SetReadDeadline(time.Now().Add(waitTimeout))
	_, _, err = mute.c.ReadMessage()
	expectClose(t, err, websocket.CloseGoingAway)
	waitRunning(t, 0, 0)

	// After Shutdown too.
	if _, resp, err := h.dialHeader(t, nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after Shutdown: %v (response %v), want 503", err, resp)
	}
}
