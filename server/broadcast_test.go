// Broadcasting: fan-out in order to many clients, plain-text and multi-object frames.

package server_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distchat/distchat/server"
)

func TestBroadcastToManyClientsInOrder(t *testing.T) {
	t.Parallel()
	const clients, publishers, perPublisher = 30, 3, 100
	const total = publishers * perPublisher
	// Queues large enough for every object of the test: nobody is too slow here.
	ts := startServer(t, server.Config{SendQueue: 4 * total})

	cs := make([]*client, clients)
	for i := range cs {
		cs[i] = ts.connect(t, fmt.Sprintf("user-%02d", i), "")
	}

	type result struct {
		msgs []object
		acks map[string]object
		err  error
	}
	results := make([]result, clients)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			r := &results[i]
			r.acks = make(map[string]object)
			wantAcks := 0
			if i < publishers {
				wantAcks = perPublisher
			}
			deadline := time.Now().Add(20 * time.Second)
			for len(r.msgs) < total || len(r.acks) < wantAcks {
				o, err := c.next(time.Until(deadline))
				if err != nil {
					r.err = fmt.Errorf("after %d messages and %d acks: %w", len(r.msgs), len(r.acks), err)
					return
				}
				switch o.Type {
				case "join": // clients that connected later
				case "message":
					r.msgs = append(r.msgs, o)
				case "ack":
					if _, dup := r.acks[o.Ref]; dup {
						r.err = fmt.Errorf("second ack for %q: %s", o.Ref, o)
						return
					}
					r.acks[o.Ref] = o
				default:
					r.err = fmt.Errorf("unexpected %s", o)
					return
				}
			}
		})
	}
	sendErrs := make([]error, publishers)
	for p := range publishers {
		wg.Go(func() {
			for n := range perPublisher {
				ref := fmt.Sprintf("p%d-%03d", p, n)
				if err := cs[p].writeJSON(msg(ref, ref)); err != nil {
					sendErrs[p] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(sendErrs...); err != nil {
		t.Fatalf("sending: %v", err)
	}

	// The seq of every message id, as the first client saw it.
	seqOf := make(map[string]uint64)
	for i, r := range results {
		name := cs[i].user.Name
		if r.err != nil {
			t.Errorf("%s: %v", name, r.err)
			continue
		}
		seen := make(map[string]bool)
		next := make([]int, publishers) // next expected n per publisher
		var lastSeq uint64
		for _, m := range r.msgs {
			if seen[m.ID] {
				t.Errorf("%s: message %s received twice", name, m)
			}
			seen[m.ID] = true
			if m.Seq <= lastSeq {
				t.Errorf("%s: seq %d after %d", name, m.Seq, lastSeq)
			}
			lastSeq = m.Seq
			if s, ok := seqOf[m.ID]; !ok {
				seqOf[m.ID] = m.Seq
			} else if s != m.Seq {
				t.Errorf("%s: message %s has seq %d for another client", name, m.ID, s)
			}
			var p, n int
			if _, err := fmt.Sscanf(m.Body, "p%d-%03d", &p, &n); err != nil || p >= publishers {
				t.Errorf("%s: unexpected body in %s", name, m)
				continue
			}
			if n != next[p] {
				t.Errorf("%s: from publisher %d got message %d, want %d", name, p, n, next[p])
			}
			next[p] = n + 1
			if m.From != cs[p].user || m.Room != "general" || m.Ref != m.Body || m.TS <= 0 {
				t.Errorf("%s: message %s, want from %v in general with ref and ts", name, m, cs[p].user)
			}
		}
		if t.Failed() {
			t.FailNow() // one client's listing is enough
		}
		for p := range publishers {
			if next[p] != perPublisher {
				t.Errorf("%s: got %d messages of publisher %d, want %d", name, next[p], p, perPublisher)
			}
		}
	}
	// Each publisher's acks name the seq and id the room saw.
	byRef := make(map[string]object)
	for _, m := range results[0].msgs {
		byRef[m.Ref] = m
	}
	for p := range publishers {
		for n := range perPublisher {
			ref := fmt.Sprintf("p%d-%03d", p, n)
			a, ok := results[p].acks[ref]
			m := byRef[ref]
			if !ok || a.Seq != m.Seq || a.ID != m.ID || a.Room != "general" || a.TS != m.TS {
				t.Errorf("publisher %d: ack for %q = %s, want seq %d, id %s", p, ref, a, m.Seq, m.ID)
			}
		}
	}
	// Nothing more than once: after a last message, every client's next message is it.
	cs[0].sendJSON(msg("end", "end"))
	for _, c := range cs {
		if o := c.expect("message", "ack"); o.Body != "end" {
			t.Errorf("%s: after all messages got %s, want the last one", c.user.Name, o)
		}
	}
}

func TestPlainTextAndMultiObjectFrames(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{})

	// pair connects a sender and an observer in a room of their own.
	pair := func(t *testing.T, room string) (a, b *client) {
		a = ts.connect(t, "alice", room)
		b = ts.connect(t, "bob", room)
		a.expect("join")
		return a, b
	}
	// split sorts objects into messages and the rest, keeping the order of each.
	split := func(objs []object) (msgs, others []object) {
		for _, o := range objs {
			if o.Type == "message" {
				msgs = append(msgs, o)
			} else {
				others = append(others, o)
			}
		}
		return msgs, others
	}

	t.Run("plain text is a message body", func(t *testing.T) {
		t.Parallel()
		a, b := pair(t, "plain")
		for _, tc := range []struct{ frame, body string }{
			{"hello there", "hello there"},
			{"  indented, not JSON", "  indented, not JSON"},
			{"line one\nline two\n", "line one\nline two"},
			{"[1, 2]", "[1, 2]"},
		} {
			a.sendText(tc.frame)
			msgs, others := split(a.expectN(2))
			if len(msgs) != 1 || len(others) != 1 || others[0].Type != "ack" {
				t.Fatalf("after %q got %v %v, want an ack and the message", tc.frame, msgs, others)
			}
			m := msgs[0]
			if m.Body != tc.body || m.From != a.user || m.Room != "plain" || others[0].Seq != m.Seq {
				t.Errorf("after %q: message %s, ack %s; want body %q from alice", tc.frame, m, others[0], tc.body)
			}
			if o := b.expect("message"); o.ID != m.ID || o.Body != tc.body {
				t.Errorf("bob got %s, want %s", o, m)
			}
		}
	})

	t.Run("leading spaces before { still mean JSON", func(t *testing.T) {
		t.Parallel()
		a, b := pair(t, "spaces")
		a.sendText(" \t {\"type\":\"message\",\"body\":\"json body\",\"ref\":\"j1\"}")
		msgs, others := split(a.expectN(2))
		if len(msgs) != 1 || len(others) != 1 || others[0].Type != "ack" || others[0].Ref != "j1" || msgs[0].Body != "json body" {
			t.Fatalf("got %v %v, want ack j1 and message \"json body\"", msgs, others)
		}
		if o := b.expect("message"); o.Body != "json body" {
			t.Errorf("bob got %s, want body \"json body\"", o)
		}
	})

	t.Run("several objects, one bad", func(t *testing.T) {
		t.Parallel()
		a, b := pair(t, "multi")
		a.sendText(strings.Join([]string{
			`{"type":"message","body":"one","ref":"m1"}`,
			`{"type":`,
			``,
			`{"type":"message","body":"three","ref":"m3"}`,
			`{"type":"message","body":"","ref":"m4"}`,
			`{"type":"message","body":"five","ref":"m5"}`,
		}, "\n"))
		msgs, others := split(a.expectN(8))
		var got []string
		for _, o := range others {
			got = append(got, o.Type+":"+o.Code+o.Ref)
		}
		want := []string{"ack:m1", "error:bad_json", "ack:m3", "error:empty_bodym4", "ack:m5"}
		if !slices.Equal(got, want) {
			t.Errorf("answers = %q, want %q", got, want)
		}
		var bodies []string
		for _, m := range msgs {
			bodies = append(bodies, m.Body)
		}
		if !slices.Equal(bodies, []string{"one", "three", "five"}) {
			t.Errorf("alice's messages = %q, want one, three, five", bodies)
		}
		bodies = nil
		for _, o := range b.expectN(3) {
			bodies = append(bodies, o.Type+":"+o.Body)
		}
		if !slices.Equal(bodies, []string{"message:one", "message:three", "message:five"}) {
			t.Errorf("bob got %q, want the three messages", bodies)
		}
	})
}
