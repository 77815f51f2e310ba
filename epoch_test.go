package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/distchat/distchat/server/broker/jetstream/jstest"
)

// TestEpochAfterRestore: an older backup restored under a running node makes a new epoch.
// The node closes its connections (1012) so that clients start afresh; a client that joins
// with since and the epoch it saw gets reset:true and the restored room's latest page,
// never a recovery from seqs that now name other messages.
func TestEpochAfterRestore(t *testing.T) {
	ns := jstest.StartNATS(t)
	node := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--nats-url", ns.ClientURL(),
		"--rate-limit", "0", "--history-rate", "0")
	var alice *peer
	var err error
	if !eventuallyTrue(15*time.Second, func() bool { alice, err = tryPeer(t, node.base, "alice", "r"); return err == nil }) {
		t.Fatalf("alice cannot connect: %v", err)
	}
	w := alice.expect(5*time.Second, "welcome", isType("welcome"))
	epoch, _ := w["epoch"].(string)
	if epoch == "" {
		t.Fatalf("welcome without an epoch: %v", w)
	}
	send := func(p *peer, body string) map[string]any {
		if err := p.send(map[string]any{"type": "message", "room": "r", "body": body, "ref": body}); err != nil {
			t.Fatal(err)
		}
		return p.expect(5*time.Second, "the ack of "+body, func(o map[string]any) bool { return o["type"] == "ack" && o["ref"] == body })
	}
	for i := range 3 {
		send(alice, fmt.Sprint("old-", i))
	}
	backup := filepath.Join(t.TempDir(), "backup.tar")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"backup", "--nats-url", ns.ClientURL(), "--out", backup}, noEnv, &out, &errOut); code != 0 {
		t.Fatalf("backup: %d %s%s", code, out.String(), errOut.String())
	}
	var last float64
	for i := range 2 {
		last = send(alice, fmt.Sprint("new-", i))["seq"].(float64)
	}
	token := tokenOf(alice)

	// The operator restores the older backup: the streams go, the backup's come back.
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := natsjs.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range []string{"DISTCHAT", "KV_DISTCHAT_STATE"} {
		if err := js.DeleteStream(ctx, s); err != nil {
			t.Fatalf("deleting %s: %v", s, err)
		}
	}
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"restore", "--nats-url", ns.ClientURL(), "--in", backup}, noEnv, &out, &errOut); code != 0 {
		t.Fatalf("restore: %d %s%s", code, out.String(), errOut.String())
	}
	select {
	case <-alice.done:
	case <-time.After(15 * time.Second):
		t.Fatal("the node did not close the connections after the store was made anew")
	}
	var ce *websocket.CloseError
	if !errors.As(alice.closeErr(), &ce) || ce.Code != 1012 {
		t.Fatalf("alice's connection ended with %v, want 1012", alice.closeErr())
	}

	// Back, with what she saw: since and its epoch.
	var again *peer
	if !eventuallyTrue(15*time.Second, func() bool {
		again, err = tryPeerWith(t, node.base, "alice", "general", token)
		return err == nil
	}) {
		t.Fatalf("alice cannot connect again: %v", err)
	}
	if err := again.send(map[string]any{"type": "join", "room": "r", "since": last, "epoch": epoch, "ref": "j"}); err != nil {
		t.Fatal(err)
	}
	j := again.expect(10*time.Second, "joined", func(o map[string]any) bool { return o["type"] == "joined" && o["ref"] == "j" })
	if j["reset"] != true || j["epoch"] == epoch || j["epoch"] == "" {
		t.Fatalf("joined after the restore: reset %v, epoch %v (was %s)", j["reset"], j["epoch"], epoch)
	}
	if got := messageBodies(j["history"]); fmt.Sprint(got) != "[old-0 old-1 old-2]" {
		t.Fatalf("the restored room's page: %v", got)
	}
	// With the new epoch, since recovers as before.
	if err := again.send(map[string]any{"type": "join", "room": "r", "since": j["history"].([]any)[0].(map[string]any)["seq"], "epoch": j["epoch"], "ref": "k"}); err != nil {
		t.Fatal(err)
	}
	k := again.expect(10*time.Second, "joined", func(o map[string]any) bool { return o["type"] == "joined" && o["ref"] == "k" })
	if k["reset"] == true || fmt.Sprint(messageBodies(k["history"])) != "[old-1 old-2]" {
		t.Fatalf("a recovery within the new epoch: %v", k)
	}
}
