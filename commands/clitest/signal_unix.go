//go:build unix

package clitest

import (
	"os/exec"
	"syscall"
)

// signalCode is 128 + the signal that ended the process (what a shell's
// $? shows), or 0 when no signal did.
func signalCode(ee *exec.ExitError) int {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return 0
}
