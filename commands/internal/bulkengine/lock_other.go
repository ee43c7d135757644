//go:build !unix

package bulkengine

import "os"

// lockFile is a no-op where flock is not available: two runs sharing a
// journal are not detected there.
func lockFile(*os.File) (func(), error) { return func() {}, nil }
