package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/distchat/distchat/server/broker/jetstream"
	"github.com/distchat/distchat/server/protocol"
)

// ExportedMessage is one line of an export.
type ExportedMessage struct {
	Room string        `json:"room"`
	Seq  uint64        `json:"seq"`
	ID   string        `json:"id"`
	From protocol.User `json:"from"`
	Body string        `json:"body"`
	TS   int64         `json:"ts"`
}

// ErrNoSuchRoom means a room has no stored messages.
var ErrNoSuchRoom = errors.New("no stored messages")

// Export writes the stored messages of room in the data directory of a stopped node to w
// as JSON lines, oldest first, and returns how many it wrote. The directory is locked
// meanwhile (a node using it makes this fail with a *DataDirInUseError).
func Export(ctx context.Context, dataDir, room string, w io.Writer) (int, error) {
	if !protocol.ValidRoom(room) {
		return 0, fmt.Errorf("%q is not a room name ([a-z0-9_-], 1 to %d characters)", room, protocol.MaxRoomLen)
	}
	var n int
	err := withStoppedNode(ctx, dataDir, false, func(node *stoppedNode) error {
		var err error
		n, err = ExportConn(ctx, node.nc, room, w, jetstream.Options{})
		return err
	})
	return n, err
}

// ExportConn writes the messages of room stored in the stream o names (the default one
// when o is zero) to w as JSON lines, oldest first.
func ExportConn(ctx context.Context, nc *nats.Conn, room string, w io.Writer, o jetstream.Options) (int, error) {
	// The stream and its subjects, as the broker keeps them.
	o = o.WithDefaults()
	js, err := natsjs.New(nc)
	if err != nil {
		return 0, err
	}
	stream, err := js.Stream(ctx, o.Stream)
	if errors.Is(err, natsjs.ErrStreamNotFound) {
		return 0, fmt.Errorf("room %s: %w (there is no stream %s)", room, ErrNoSuchRoom, o.Stream)
	}
	if err != nil {
		return 0, err
	}
	subject := o.SubjectPrefix + room
	info, err := stream.Info(ctx, natsjs.WithSubjectFilter(subject))
	if err != nil {
		return 0, err
	}
	total := info.State.Subjects[subject]
	if total == 0 {
		return 0, fmt.Errorf("room %s: %w", room, ErrNoSuchRoom)
	}
	cons, err := stream.OrderedConsumer(ctx, natsjs.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  natsjs.DeliverAllPolicy,
	})
	if err != nil {
		return 0, err
	}
	it, err := cons.Messages()
	if err != nil {
		return 0, err
	}
	defer it.Stop()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	n := 0
	for {
		nctx, cancel := context.WithTimeout(ctx, chunkTimeout)
		msg, err := it.Next(natsjs.NextContext(nctx))
		cancel()
		if err != nil {
			return n, fmt.Errorf("reading room %s: %w", room, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return n, err
		}
		m, err := jetstream.DecodeStored(strings.TrimPrefix(msg.Subject(), o.SubjectPrefix), md.Sequence.Stream, msg.Data())
		if err != nil {
			return n, fmt.Errorf("message %d: %w", md.Sequence.Stream, err)
		}
		if err := enc.Encode(ExportedMessage{Room: m.Room, Seq: m.Seq, ID: m.ID, From: m.From, Body: m.Body, TS: m.TS}); err != nil {
			return n, err
		}
		n++
		// On a running server, messages stored after the export began may be left out.
		if md.NumPending == 0 || uint64(n) >= total {
			return n, nil
		}
	}
}
