//go:build windows

package natsnode

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockOffset is where the locked byte lies: past the process id written at the start of
// the file, so that other processes can still read it.
const lockOffset = 1 << 20

// tryLock locks one byte of f without waiting; false means another handle holds it.
func tryLock(f *os.File) (bool, error) {
	ol := &windows.Overlapped{Offset: lockOffset}
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return false, nil
	}
	return err == nil, err
}

func unlock(f *os.File) error {
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &windows.Overlapped{Offset: lockOffset})
}

// diskSpace is the space left for this process on the volume holding dir, and the most it
// could have there (the volume's size, less quotas).
func diskSpace(dir string) (free, size int64, ok bool) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, 0, false
	}
	var avail, total uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &total, nil); err != nil {
		return 0, 0, false
	}
	return int64(avail), int64(total), true
}
