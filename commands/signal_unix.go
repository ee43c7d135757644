//go:build unix

package commands

import (
	"os"
	"os/signal"
	"syscall"
	"time"
)

// endsBySignal: a command marked one at a time may leave Ctrl-C to the
// signal's default action, which ends it by the signal (the shell's 130).
const endsBySignal = true

// endBy ends the process by sig, the way an interrupted program should:
// bash goes on with the next command of a loop or script when a child it
// waited for exits with a status, even 130, after a Ctrl-C, and stops only
// when the child died of SIGINT itself. With the handler reset, the signal
// takes its default action (the Go runtime re-raises it as it dies).
func endBy(sig os.Signal) {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return
	}
	signal.Reset(s)
	if syscall.Kill(os.Getpid(), s) == nil {
		time.Sleep(time.Second) // the signal ends the process first
	}
}
