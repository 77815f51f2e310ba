// Command seed fills a distchat data directory with stored messages, the way a node
// stores them (the same broker, stream and payloads), for the start-up benchmark: how
// long a node holding many messages takes to be ready, and how much memory it holds.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/distchat/distchat/server/broker/jetstream"
	"github.com/distchat/distchat/server/natsnode"
	"github.com/distchat/distchat/server/protocol"
)

func main() {
	data := flag.String("data", "", "data directory to fill (created if missing)")
	rooms := flag.Int("rooms", 20, "rooms")
	per := flag.Int("per-room", 50000, "messages per room")
	size := flag.Int("size", 100, "body bytes")
	flag.Parse()
	if *data == "" {
		log.Fatal("seed: --data is required")
	}
	b, err := jetstream.OpenEmbedded(context.Background(), natsnode.Options{DataDir: *data}, jetstream.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	ctx, cancel := contextWithTimeout(time.Minute)
	defer cancel()
	if err := b.WaitReady(ctx); err != nil {
		log.Fatal(err)
	}
	body := strings.Repeat("x", *size)
	start := time.Now()
	total := *rooms * *per
	errs := make(chan error, 4096)
	inflight := make(chan struct{}, 4096)
	for i := range total {
		inflight <- struct{}{}
		room := fmt.Sprintf("room-%02d", i%*rooms)
		b.Publish(protocol.Message{Room: room, From: protocol.User{ID: "seed", Name: "seed"}, Body: body}, "",
			func(_ protocol.Message, _ bool, err error) {
				<-inflight
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			})
	}
	for range cap(inflight) {
		inflight <- struct{}{}
	}
	select {
	case err := <-errs:
		log.Fatal(err)
	default:
	}
	fmt.Printf("seeded %d messages in %d rooms in %v\n", total, *rooms, time.Since(start).Round(time.Millisecond))
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
