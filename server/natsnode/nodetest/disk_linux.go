package nodetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
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

// InSmallDisk runs the calling test again in a child process that has a user and mount
// namespace of its own, where it mounts a tmpfs of size bytes at the returned directory:
// a real disk that fills up, without privileges, which outlives the stores the test opens
// and closes on it. In the parent it returns "" once the child passed (the caller
// returns); in the child it returns the directory. Where user namespaces cannot be made,
// the test fails, saying so: it never passes without having run.
func InSmallDisk(t *testing.T, size int) string {
	t.Helper()
	const env = "DISTCHAT_TEST_SMALL_DISK_TEST"
	if dir := os.Getenv(env); dir != "" {
		if err := MountTmpfs(dir, size, false); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Unmount(dir, 0) })
		return dir
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1") //nolint:gosec // G204: this test binary, again
	cmd.Env = append(os.Environ(), env+"="+dir)
	InNamespace(cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("child test in its own mount namespace:\n%s", out.String())
	if err != nil {
		t.Fatalf("the child test failed (it needs user namespaces, as `unshare -Urm true` does): %v", err)
	}
	if !strings.Contains(out.String(), "--- PASS: "+t.Name()) {
		t.Fatal("the child test did not run")
	}
	return ""
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
