//go:build !unix && !windows

package broker

import "os"

// Platforms without file locks get no protection against two processes on one directory.
func tryLock(*os.File) (bool, error) { return true, nil }

func unlock(*os.File) error { return nil }

// diskFree is unknown here: the store then has no automatic size limit.
func diskFree(string) (int64, bool) { return 0, false }
