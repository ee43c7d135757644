//go:build unix

package bulkengine

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking advisory lock on f, so two runs
// cannot share a journal. The lock goes away with the process.
func lockFile(f *os.File) (func(), error) {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return nil, err
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }, nil
}
