//go:build !unix

package commands

import "os"

// endBy does nothing where a process cannot end by a signal: Main returns
// the exit code 130 instead.
func endBy(os.Signal) {}
