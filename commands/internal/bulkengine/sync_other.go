//go:build !linux

package bulkengine

import "os"

// datasync is f.Sync where fdatasync is not available (on macOS Sync is
// F_FULLFSYNC).
func datasync(f *os.File) error { return f.Sync() }
