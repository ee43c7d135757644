//go:build !unix

package clitest

import "os/exec"

// signalCode is 0: no process ends by a signal here.
func signalCode(*exec.ExitError) int { return 0 }
