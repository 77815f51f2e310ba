package jetstream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/protocol"
)

// storedMessage is an entry's payload in the stream. Room, seq and id come from the
// subject and the stream sequence.
type storedMessage struct {
	// ID is set only in messages stored by versions that gave messages random ids.
	ID   string        `json:"id,omitempty"`
	From protocol.User `json:"from"`
	Body string        `json:"body,omitempty"`
	TS   int64         `json:"ts"`
	Ref  string        `json:"ref,omitempty"`
	// Kind, Target, Emoji and On: an event about a message or the room (protocol.Message).
	Kind   string `json:"k,omitempty"`
	Target string `json:"t,omitempty"`
	Emoji  string `json:"e,omitempty"`
	On     bool   `json:"on,omitempty"`
}

func encodeStored(m *protocol.Message) ([]byte, error) {
	return json.Marshal(storedMessage{From: m.From, Body: m.Body, TS: m.TS, Ref: m.Ref,
		Kind: m.Kind, Target: m.Target, Emoji: m.Emoji, On: m.On})
}

// DecodeStored turns the payload of a message stored in the stream back into a message of
// room at seq: the broker's reads, and tools that read the stream themselves (distchat
// export).
func DecodeStored(room string, seq uint64, data []byte) (protocol.Message, error) {
	var sm storedMessage
	if err := json.Unmarshal(data, &sm); err != nil {
		return protocol.Message{}, err
	}
	id := sm.ID
	if id == "" {
		id = protocol.MessageID(seq)
	}
	return protocol.Message{Room: room, Seq: seq, ID: id, From: sm.From, Body: sm.Body, TS: sm.TS, Ref: sm.Ref,
		Kind: sm.Kind, Target: sm.Target, Emoji: sm.Emoji, On: sm.On}, nil
}

// duplicateReadWait bounds reading the original of a duplicate.
const duplicateReadWait = 2 * time.Second

// publication is a message on its way to the stream: JetStream's async acknowledgement (or
// its failure) finds it by its *nats.Msg.
type publication struct {
	b    *Broker
	m    protocol.Message
	done broker.Done
	once sync.Once
}

func (p *publication) finish(err error) {
	p.once.Do(func() {
		if errors.Is(err, broker.ErrClosed) {
			p.done(protocol.Message{}, false, broker.ErrClosed)
			return
		}
		p.done(protocol.Message{}, false, fmt.Errorf("%w: %w", broker.ErrUnavailable, err))
	})
}

func (p *publication) stored(m protocol.Message, dup bool) {
	p.once.Do(func() { p.done(m, dup, nil) })
}

// Publish implements broker.Log. The message goes out at once; JetStream acknowledges it once
// it is in the stream's store (on a quorum of replicas in a cluster), and the
// acknowledgement calls done from the connection's ack handler. A message with a dedupe
// key carries its hash as Nats-Msg-Id, so that a client's retries store it once. The
// publish itself is retried only when no stream answered at all (during a leader
// election), which means it was not stored.
func (b *Broker) Publish(m protocol.Message, dedupeKey string, done broker.Done) {
	p := &publication{b: b, m: m, done: done}
	if b.closed.Load() {
		p.finish(broker.ErrClosed)
		return
	}
	if !b.isBootstrapped() {
		p.finish(b.Ready())
		return
	}
	p.m.TS = time.Now().UnixMilli()
	data, err := encodeStored(&p.m)
	if err != nil {
		p.finish(err)
		return
	}
	msg := nats.NewMsg(b.subject(m.Room))
	msg.Data = data
	if dedupeKey != "" {
		sum := sha256.Sum256([]byte(m.Room + "\x00" + dedupeKey))
		msg.Header.Set(natsjs.MsgIDHeader, hex.EncodeToString(sum[:16]))
	}
	b.pubs.Store(msg, p)
	// Without options: nats.go then retries a publish that no stream answered twice,
	// 250 ms apart, without allocating options for every message.
	_, err = b.js.PublishMsgAsync(msg)
	if err != nil {
		if _, mine := b.pubs.LoadAndDelete(msg); mine {
			p.finish(err)
		}
	}
}

// onAck runs on the connection's ack handler for every acknowledged publish.
func (b *Broker) onAck(_ natsjs.JetStream, msg *nats.Msg, ack *natsjs.PubAck) {
	v, ok := b.pubs.LoadAndDelete(msg)
	if !ok {
		return
	}
	p := v.(*publication)
	if !ack.Duplicate {
		p.m.Seq, p.m.ID = ack.Sequence, protocol.MessageID(ack.Sequence)
		p.stored(p.m, false)
		return
	}
	// Stored before under this dedupe key: report the original, which has to be read
	// (not here: this goroutine handles every ack of the connection).
	go func() {
		orig, err := b.readSeq(ack.Sequence)
		if err != nil {
			p.finish(fmt.Errorf("reading the original of a duplicate: %w", err))
			return
		}
		p.stored(orig, true)
	}()
}

// onPublishError runs when a publish failed: no stream answered (after the retries), the
// acknowledgement timed out, or JetStream refused the message.
func (b *Broker) onPublishError(_ natsjs.JetStream, msg *nats.Msg, err error) {
	if v, ok := b.pubs.LoadAndDelete(msg); ok {
		v.(*publication).finish(err)
	}
}

// readSeq reads one stored message by its sequence.
func (b *Broker) readSeq(seq uint64) (protocol.Message, error) {
	ctx, cancel := context.WithTimeout(b.ctx, duplicateReadWait)
	defer cancel()
	raw, err := b.rstream.GetMsg(ctx, seq)
	if err != nil {
		return protocol.Message{}, err
	}
	return DecodeStored(strings.TrimPrefix(raw.Subject, b.opts.SubjectPrefix), raw.Sequence, raw.Data)
}
