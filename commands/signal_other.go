//go:build !unix

package commands

import "os"

// endBy does nothing where a process cannot end by a signal: Main returns
// the exit code 130 instead.
func endBy(os.Signal) {}

// endsBySignal is false: where a process cannot end by a signal (Windows),
// a Ctrl-C left to the default action ends it with the console's code
// (0xC000013A), not 130, so every command keeps the handler.
const endsBySignal = false
