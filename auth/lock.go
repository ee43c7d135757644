package auth

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// lockPollInterval is how often a waiting lockFile retries.
const lockPollInterval = 20 * time.Millisecond

// lockFile takes an exclusive advisory lock on path (created 0600 if missing,
// in a 0700 directory) and returns the function that releases it. It waits
// until the lock is free or ctx is done. The lock is held by an open file, so
// the operating system releases it if the process dies.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	if err := ensurePrivateDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if ok {
			return func() { unlockFile(f); f.Close() }, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the lock %s: %w", path, ctx.Err())
		case <-time.After(lockPollInterval):
		}
	}
}

// ensurePrivateDir creates dir (and parents) and makes dir itself 0700.
func ensurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	return chmodPrivate(dir, 0o700)
}
