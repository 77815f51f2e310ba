package main

import (
	"os"
	"strings"
	"testing"
)

// TestNATSServerIsPatched: the build uses third_party/nats-server, whose raft catchup fix
// keeps a node that was cut off from stalling the cluster after it heals
// (third_party/nats-server/DISTCHAT.md). An upgrade that drops the replace or the change
// fails here, before TestPartitions would.
func TestNATSServerIsPatched(t *testing.T) {
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "replace github.com/nats-io/nats-server/v2 => ./third_party/nats-server") {
		t.Fatal("go.mod no longer replaces nats-server with third_party/nats-server: see third_party/nats-server/DISTCHAT.md")
	}
	raft, err := os.ReadFile("third_party/nats-server/server/raft.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raft), "AppendEntry ignoring catchup entry") {
		t.Fatal("third_party/nats-server/server/raft.go lacks distchat's change: see third_party/nats-server/DISTCHAT.md")
	}
}
