//go:build unix

package natsnode

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// tryLock takes an exclusive flock on f without waiting; false means another open file
// (in this process or another) holds it.
func tryLock(f *os.File) (bool, error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

func unlock(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_UN) }

// diskSpace measures the file system holding dir with one statfs: the space left for an
// unprivileged writer, and the most such a writer could ever have there (its size, less the
// blocks kept for root).
func diskSpace(dir string) (free, size int64, ok bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, false
	}
	// The fields' types differ per platform (signed on some BSDs).
	bsize, blocks, bfree, bavail := int64(st.Bsize), int64(st.Blocks), int64(st.Bfree), int64(st.Bavail) //nolint:unconvert
	return bavail * bsize, (blocks - (bfree - bavail)) * bsize, true
}
