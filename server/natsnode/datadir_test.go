package natsnode_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/distchat/distchat/server/natsnode"
)

func TestLockDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // created by the lock
	release, err := natsnode.LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = natsnode.LockDataDir(dir)
	var inUse *natsnode.DataDirInUseError
	if !errors.As(err, &inUse) || !errors.Is(err, natsnode.ErrDataDirInUse) || inUse.PID != os.Getpid() || inUse.Dir != dir {
		t.Fatalf("second lock: %v", err)
	}
	release()
	release, err = natsnode.LockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	release()
}
