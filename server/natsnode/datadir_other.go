//go:build !unix && !windows

package natsnode

import "os"

// Platforms without file locks get no protection against two processes on one directory.
func tryLock(*os.File) (bool, error) { return true, nil }

func unlock(*os.File) error { return nil }

// diskSpace is unknown here: the store then has no automatic size limit, and readiness
// does not look at the disk.
func diskSpace(string) (free, size int64, ok bool) { return 0, 0, false }
