//go:build !unix && !windows

package auth

import "os"

// On platforms without advisory locks, a lock is always granted.
func tryLock(*os.File) (bool, error) { return true, nil }

func unlockFile(*os.File) {}

func chmodPrivate(path string, mode os.FileMode) error { return os.Chmod(path, mode) }
