package brokertest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// Tests of a full or read-only disk run their process in a user and mount namespace of its
// own, where it mounts a small tmpfs: a real file system that fills up, without privileges
// and visible to that process alone (the test reaches it through /proc/PID/root).

// InNamespace makes cmd run in a user and mount namespace of its own, as root of it.
func InNamespace(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		Pdeathsig:   syscall.SIGKILL,
	}
}

// MountTmpfs mounts a tmpfs of size bytes at dir, read-only if asked; the process must run
// in a namespace of its own (InNamespace).
func MountTmpfs(dir string, size int, readOnly bool) error {
	var flags uintptr
	if readOnly {
		flags = syscall.MS_RDONLY
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		return fmt.Errorf("mounting a %d-byte tmpfs at %s (this needs user namespaces, as `unshare -Urm true` does): %w", size, dir, err)
	}
	return nil
}

// FillDisk writes path until its file system has no space left.
func FillDisk(t testing.TB, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, size := range []int{1 << 20, 4096} {
		chunk := make([]byte, size)
		for {
			_, err := f.Write(chunk)
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			if err != nil {
				t.Fatalf("filling the disk: %v", err)
			}
		}
	}
}
