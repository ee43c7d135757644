package clitest

import (
	"os/exec"
)

// Command returns the binary as an *exec.Cmd with the Env's environment and
// working directory, for runs that need their own stdio (a pseudo-terminal,
// say). The caller starts and waits for it.
func (e *Env) Command(args ...string) *exec.Cmd {
	e.t.Helper()
	cmd := exec.Command(Binary(e.t), args...)
	cmd.Dir = e.Home
	for k, v := range e.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}
