// Connecting: the welcome, the upgrade, the origin policy and names and rooms in the URL.

package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/distchat/distchat/server"
)

func TestWelcome(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{
		Version: "v-test", MaxMessageBytes: 8192, MaxBodyBytes: 1000, RateLimit: 7, RateBurst: 9,
	})
	wantLimits := limits{MaxMessageBytes: 8192, MaxBodyBytes: 1000, Rate: 7, Burst: 9}
	idRE := regexp.MustCompile(`^[a-z0-9]{6,}$`)

	t.Run("named, default room", func(t *testing.T) {
		c := ts.connect(t, "alice", "")
		w := c.welcome
		if !idRE.MatchString(w.ID) {
			t.Errorf("id = %q, want a random id", w.ID)
		}
		if w.Name != "alice" || w.Room != "general" || !slices.Equal(w.Rooms, []string{"general"}) {
			t.Errorf("name, room, rooms = %q, %q, %q; want alice, general, [general]", w.Name, w.Room, w.Rooms)
		}
		if !slices.Equal(w.Online, []user{{w.ID, "alice"}}) {
			t.Errorf("online = %v, want only alice herself", w.Online)
		}
		if h := w.field("history"); h != "[]" {
			t.Errorf("history = %s, want []", h)
		}
		if w.LastSeq != 0 || w.HasMore {
			t.Errorf("last_seq, has_more = %d, %v; want 0, false", w.LastSeq, w.HasMore)
		}
		if w.Limits == nil || *w.Limits != wantLimits {
			t.Errorf("limits = %+v, want %+v", w.Limits, wantLimits)
		}
		if w.Version != "v-test" {
			t.Errorf("version = %q, want v-test", w.Version)
		}
		c.close()
		ts.waitConnections(t, 0)
	})

	t.Run("guest name", func(t *testing.T) {
		c := ts.connect(t, "", "guests")
		if !regexp.MustCompile(`^guest-[0-9]{4}$`).MatchString(c.welcome.Name) {
			t.Errorf("name = %q, want guest-NNNN", c.welcome.Name)
		}
		if !slices.Equal(c.welcome.Online, []user{c.user}) {
			t.Errorf("online = %v, want only %v", c.welcome.Online, c.user)
		}
	})

	t.Run("room from the URL", func(t *testing.T) {
		c := ts.connect(t, "bob", "x")
		if c.welcome.Room != "x" || !slices.Equal(c.welcome.Rooms, []string{"x"}) {
			t.Errorf("room, rooms = %q, %q; want x, [x]", c.welcome.Room, c.welcome.Rooms)
		}
		if !slices.Equal(c.welcome.Online, []user{c.user}) {
			t.Errorf("online = %v, want only %v", c.welcome.Online, c.user)
		}
	})

	t.Run("name is trimmed, limits count characters", func(t *testing.T) {
		c := ts.connect(t, "  carol  ", "trim")
		if c.welcome.Name != "carol" {
			t.Errorf("name = %q, want carol", c.welcome.Name)
		}
		long := strings.Repeat("é", 32) // 32 characters, 64 bytes
		d := ts.connect(t, long, "trim")
		if d.welcome.Name != long {
			t.Errorf("name = %q, want %q", d.welcome.Name, long)
		}
	})

	t.Run("every connection has its own id", func(t *testing.T) {
		a := ts.connect(t, "twin", "twins")
		b := ts.connect(t, "twin", "twins")
		if a.user.ID == b.user.ID {
			t.Fatalf("two connections share id %q", a.user.ID)
		}
		if !slices.Equal(b.welcome.Online, []user{a.user, b.user}) {
			t.Errorf("online = %v, want both tabs %v, %v", b.welcome.Online, a.user, b.user)
		}
	})
}

func TestPlainGETOnWebSocketEndpoint(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	resp, body := ts.get(t, "/ws")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /ws without upgrade: status %d, want 400 (body %q)", resp.StatusCode, body)
	}
	if h := ts.health(t); h.Status != "ok" || h.Connections != 0 {
		t.Errorf("health after a plain GET /ws = %+v", h)
	}
	c := ts.connect(t, "alice", "")
	c.publish("still works", "r1")
}

func TestOriginPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		allowed []string
		origin  string // "self": the listener's own origin
		ok      bool
	}{
		{"no origin", nil, "", true},
		{"same origin", nil, "self", true},
		{"cross origin", nil, "http://evil.example", false},
		{"same host, other port", nil, "http://127.0.0.1:1", false},
		{"opaque origin", nil, "null", false},
		{"allowed origin", []string{"http://good.example"}, "http://good.example", true},
		{"allowed origin, other case", []string{"http://good.example"}, "HTTP://Good.Example", true},
		{"not the allowed origin", []string{"http://good.example"}, "http://evil.example", false},
		{"allowed list keeps same origin", []string{"http://good.example"}, "self", true},
		{"any origin", []string{"*"}, "http://evil.example", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, server.Config{AllowedOrigins: tc.allowed})
			watcher := ts.connect(t, "watcher", "")

			origin := tc.origin
			if origin == "self" {
				origin = "http://" + ts.addr
			}
			h := http.Header{}
			if origin != "" {
				h.Set("Origin", origin)
			}
			conn, resp, err := ts.dialRaw(t, "name=visitor", h, nil)
			if !tc.ok {
				if err == nil {
					t.Fatalf("origin %q was accepted", origin)
				}
				if resp == nil || resp.StatusCode != http.StatusForbidden {
					t.Fatalf("origin %q: %v (response %v), want 403", origin, err, resp)
				}
				// The refused client is nowhere: the next to connect sees only the watcher,
				// and the watcher's next event is that newcomer's join.
				probe := ts.connect(t, "probe", "")
				if !slices.Equal(probe.welcome.Online, []user{watcher.user, probe.user}) {
					t.Errorf("online = %v, want only watcher and probe", probe.welcome.Online)
				}
				if j := watcher.expect("join"); j.User != probe.user {
					t.Errorf("watcher got %s, want the probe's join", j)
				}
				return
			}
			if err != nil {
				t.Fatalf("origin %q: %v (response %v), want accepted", origin, err, resp)
			}
			c := newClient(t, conn)
			if w := c.expect("welcome"); w.Name != "visitor" {
				t.Errorf("welcome = %s", w)
			}
			if j := watcher.expect("join"); j.User.Name != "visitor" {
				t.Errorf("watcher got %s, want the visitor's join", j)
			}
		})
	}
}

func TestInvalidNameOrRoomIsRefusedAndClosed(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})
	watcher := ts.connect(t, "watcher", "")
	for _, tc := range []struct {
		name, query, code string
	}{
		{"name of 40 characters", "name=" + strings.Repeat("n", 40), "invalid_name"},
		{"name of 33 characters", "name=" + strings.Repeat("n", 33), "invalid_name"},
		{"control character", "name=" + url.QueryEscape("bad\x01name"), "invalid_name"},
		{"newline", "name=" + url.QueryEscape("two\nlines"), "invalid_name"},
		{"only spaces", "name=%20%20%20", "invalid_name"},
		{"invalid UTF-8", "name=%FF%FE", "invalid_name"},
		{"bidi override", "name=" + url.QueryEscape("al\u202eecipa"), "invalid_name"},
		{"escape sequence", "name=" + url.QueryEscape("\x1b[31mred"), "invalid_name"},
		{"invisible", "name=" + url.QueryEscape("a\u200bb"), "invalid_name"},
		{"room with space and capitals", "name=eve&room=" + url.QueryEscape("Bad Room"), "invalid_room"},
		{"room in capitals", "name=eve&room=GENERAL", "invalid_room"},
		{"room of 65 characters", "name=eve&room=" + strings.Repeat("r", 65), "invalid_room"},
		{"room with a slash", "name=eve&room=a%2Fb", "invalid_room"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.dial(t, tc.query)
			if e := c.expect("error"); e.Code != tc.code {
				t.Errorf("first object = %s, want error %s", e, tc.code)
			}
			c.expectClosed(websocket.ClosePolicyViolation)
		})
	}
	t.Run("limits are inclusive", func(t *testing.T) {
		c := ts.connect(t, strings.Repeat("n", 32), strings.Repeat("r", 64))
		if c.welcome.Room != strings.Repeat("r", 64) {
			t.Errorf("welcome = %s", c.welcome)
		}
		c.close()
	})
	ts.waitConnections(t, 1)
	probe := ts.connect(t, "probe", "")
	if !slices.Equal(probe.welcome.Online, []user{watcher.user, probe.user}) {
		t.Errorf("online = %v, want only watcher and probe", probe.welcome.Online)
	}
	if j := watcher.expect("join"); j.User != probe.user {
		t.Errorf("watcher got %s, want the probe's join", j)
	}
}
