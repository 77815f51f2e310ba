package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestDataDirLockedWhileServing: a second node on the same data directory stops at once
// instead of sharing the store with the first.
func TestDataDirLockedWhileServing(t *testing.T) {
	data := t.TempDir()
	startRun(t, "--addr", "127.0.0.1:0", "--data", data)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--data", data}, noEnv, &stdout, &stderr)
	if code != 1 || stdout.Len() > 0 || !strings.Contains(stderr.String(), "is in use by another distchat process") {
		t.Fatalf("second node: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}
