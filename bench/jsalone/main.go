// Command jsalone measures what JetStream alone acknowledges on this machine: one
// connection publishing asynchronously (pipelined) to an embedded server with file
// storage, the way distchat stores messages, with nothing else around. bench/run.sh
// reports distchat's stored messages per second as a ratio to this figure, measured in the
// same run.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	duration := flag.Duration("duration", 5*time.Second, "how long to publish")
	size := flag.Int("size", 64, "message body bytes")
	subjects := flag.Int("subjects", 100, "subjects (rooms) the messages are spread over")
	pending := flag.Int("pending", 4096, "publishes in flight at most")
	tcp := flag.Bool("tcp", true, "connect over loopback TCP (false: in-process, as distchat's embedded store)")
	flag.Parse()

	dir, err := os.MkdirTemp("", "jsalone-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ns, err := natsserver.NewServer(&natsserver.Options{JetStream: true, StoreDir: dir, Host: "127.0.0.1", Port: -1, DontListen: !*tcp, NoSigs: true})
	if err != nil {
		log.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		log.Fatal("NATS did not start")
	}
	defer ns.Shutdown()
	url, opts := ns.ClientURL(), []nats.Option{}
	if !*tcp {
		url, opts = "", append(opts, nats.InProcessServer(ns))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(*pending))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "ALONE", Subjects: []string{"alone.*"}, Storage: jetstream.FileStorage,
	}); err != nil {
		log.Fatal(err)
	}
	body := []byte(strings.Repeat("x", *size))
	subj := make([]string, *subjects)
	for i := range subj {
		subj[i] = fmt.Sprint("alone.r", i)
	}
	start := time.Now()
	sent := 0
	for time.Since(start) < *duration {
		for range 1000 {
			if _, err := js.PublishAsync(subj[sent%len(subj)], body); err != nil {
				log.Fatal(err)
			}
			sent++
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		log.Fatal("acks did not complete")
	}
	elapsed := time.Since(start)
	rate := float64(sent) / elapsed.Seconds()
	fmt.Printf("JetStream alone: %d messages acknowledged in %v: %.0f msgs/s (one connection over %s, async, file storage)\n", sent, elapsed.Round(time.Millisecond), rate, map[bool]string{true: "loopback TCP", false: "in-process pipes"}[*tcp])
	out, _ := json.Marshal(map[string]any{"acked": sent, "seconds": elapsed.Seconds(), "msgs_per_s": rate})
	fmt.Println(string(out))
}
