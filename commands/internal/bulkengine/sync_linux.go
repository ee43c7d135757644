package bulkengine

import (
	"os"
	"syscall"
)

// datasync makes the data written to f durable, with the metadata needed to
// read it back (fdatasync): for blocks the file already had, no journal
// commit of its size or times.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
