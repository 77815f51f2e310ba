package natsnode

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockFile is the file in a data directory that the process using it holds locked.
// nats-server takes no lock of its own on its store directory, and two servers on one
// directory would corrupt it, so distchat locks it: a serving node, backup, restore and
// export all take this lock. The operating system releases it when the process ends,
// however it ends.
const LockFile = "distchat.lock"

// ErrDataDirInUse means another process holds the data directory's lock.
var ErrDataDirInUse = errors.New("data directory in use")

// DataDirInUseError says which data directory is in use and, when known, by which process.
type DataDirInUseError struct {
	Dir string
	PID int // 0 when unknown
}

func (e *DataDirInUseError) Error() string {
	by := "another distchat process"
	if e.PID > 0 {
		by = fmt.Sprintf("another distchat process (pid %d)", e.PID)
	}
	return fmt.Sprintf("data directory %s is in use by %s: stop it first", e.Dir, by)
}

// Unwrap makes errors.Is(err, ErrDataDirInUse) true.
func (e *DataDirInUseError) Unwrap() error { return ErrDataDirInUse }

// LockDataDir creates dir if needed and locks it for this process until release is
// called. When another process holds it, the error is a *DataDirInUseError.
func LockDataDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating the data directory: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the lock file: %w", err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if !held {
		f.Close()
		e := &DataDirInUseError{Dir: dir}
		if b, err := os.ReadFile(path); err == nil {
			e.PID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		return nil, e
	}
	// The process id is for people (and the error above); the lock is what counts.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() {
		_ = unlock(f)
		f.Close()
	}, nil
}
