package broker_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/distchat/distchat/server/broker"
)

func TestLockDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // created by the lock
	release, err := broker.LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = broker.LockDataDir(dir)
	var inUse *broker.DataDirInUseError
	if !errors.As(err, &inUse) || !errors.Is(err, broker.ErrDataDirInUse) || inUse.PID != os.Getpid() || inUse.Dir != dir {
		t.Fatalf("second lock: %v", err)
	}
	release()
	release, err = broker.LockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	release()
}
