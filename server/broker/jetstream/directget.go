package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
)

// Batched direct gets, checked for completeness.
//
// A batched direct get ($JS.API.DIRECT.GET.<stream> with "batch") answers with up to that
// many messages of a subject from a sequence on, each carrying the sequence of the message
// sent before it in the batch (Nats-Last-Sequence, 0 for the first) and how many of the
// subject's messages remain (Nats-Num-Pending), then an end-of-batch marker (status 204
// "EOB") with the last sequence sent and what remains after it. A batch whose marker never
// comes (the connection dropped, the request timed out) or whose chain of sequences has a
// hole (a message dropped on the way) is an error here, never a short page: orbit.go's
// GetBatch ends such an iteration quietly, which made a cut-short read look like the end
// of a room's history.

// readChunkBytes bounds one answer: the server stops adding messages once it has sent this
// many bytes (it may exceed it by one message). With readSlots requests at once, a node
// never has more than a few MiB of reads in flight, far below what makes nats-server drop
// a connection as a slow consumer (64 MiB pending).
const readChunkBytes = 256 << 10

// readSlots bounds the storage reads of a node in flight at once: every history page,
// recovery, first load of a room, gap fill and count waits for one.
const readSlots = 16

type directRequest struct {
	Seq      uint64 `json:"seq,omitempty"`
	NextFor  string `json:"next_by_subj,omitempty"`
	Batch    int    `json:"batch,omitempty"`
	MaxBytes int    `json:"max_bytes,omitempty"`
}

// rawEntry is one stored message as a direct get returns it.
type rawEntry struct {
	seq  uint64
	data []byte
}

// acquireRead waits for one of the node's read slots, or fails when ctx ends first.
func (b *Broker) acquireRead(ctx context.Context) (release func(), err error) {
	select {
	case b.readGate <- struct{}{}:
		return func() { <-b.readGate }, nil
	case <-ctx.Done():
		return nil, b.readErr(fmt.Errorf("waiting for a read slot: %w", ctx.Err()))
	}
}

// directBatch reads up to n messages of subject from seq on (at most readChunkBytes of
// them), oldest first, and how many of the subject's messages follow the last one.
func (b *Broker) directBatch(ctx context.Context, subject string, seq uint64, n int) ([]rawEntry, uint64, error) {
	release, err := b.acquireRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer release()
	b.reads.Add(1)
	req, _ := json.Marshal(directRequest{Seq: max(seq, 1), NextFor: subject, Batch: n, MaxBytes: readChunkBytes})
	nc := b.rnc
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, 0, b.readErr(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest("$JS.API.DIRECT.GET."+b.opts.Stream, inbox, req); err != nil {
		return nil, 0, b.readErr(err)
	}
	var out []rawEntry
	var last uint64 // the sequence of the last message received
	for {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, 0, b.readErr(fmt.Errorf("a batch cut short after %d messages: %w", len(out), err))
		}
		status := msg.Header.Get("Status")
		if len(msg.Data) == 0 && status != "" {
			switch {
			case status == "404" && len(out) == 0:
				return nil, 0, nil // nothing from seq on
			case status == "204":
				sent, err1 := strconv.ParseUint(msg.Header.Get("Nats-Last-Sequence"), 10, 64)
				pending, err2 := strconv.ParseUint(msg.Header.Get("Nats-Num-Pending"), 10, 64)
				if err1 != nil || err2 != nil {
					return nil, 0, b.readErr(errors.New("an end-of-batch marker without its sequences (nats-server 2.11 or newer is needed)"))
				}
				if sent != last {
					return nil, 0, b.readErr(fmt.Errorf("a batch lost messages: the last sent was %d, the last received %d", sent, last))
				}
				return out, pending, nil
			default:
				return nil, 0, b.readErr(fmt.Errorf("batched read refused: %s %s", status, msg.Header.Get("Description")))
			}
		}
		e, prev, err := directEntry(msg)
		if err != nil {
			return nil, 0, b.readErr(err)
		}
		if prev != last {
			return nil, 0, b.readErr(fmt.Errorf("a batch lost messages between %d and %d", last, e.seq))
		}
		last = e.seq
		out = append(out, e)
	}
}

// directEntry reads a message of a batched direct get: its sequence and data, and the
// sequence sent before it in the batch.
func directEntry(msg *nats.Msg) (rawEntry, uint64, error) {
	if msg.Header.Get("Nats-Num-Pending") == "" {
		return rawEntry{}, 0, errors.New("batch get not supported by the NATS server (2.11 or newer is needed)")
	}
	seq, err := strconv.ParseUint(msg.Header.Get("Nats-Sequence"), 10, 64)
	if err != nil {
		return rawEntry{}, 0, fmt.Errorf("a batched read's message without a valid Nats-Sequence: %w", err)
	}
	prev, err := strconv.ParseUint(msg.Header.Get("Nats-Last-Sequence"), 10, 64)
	if err != nil {
		return rawEntry{}, 0, fmt.Errorf("a batched read's message without a valid Nats-Last-Sequence: %w", err)
	}
	return rawEntry{seq: seq, data: msg.Data}, prev, nil
}
