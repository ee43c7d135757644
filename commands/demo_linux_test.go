package commands_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medplumcli/medplum/commands/clitest"
)

// Ctrl-C in the middle of `make demo` stops the tour there, with exit code
// 130 and the sandbox stopped, even in a step that is meant to fail (the
// Homer invite, exit 1): the tour does not carry on against a server that
// is gone. The interrupt goes to the whole process group, as a terminal
// sends it, once the medplum process of that step is talking to the sandbox.
func TestDemoInterrupted(t *testing.T) {
	// Invites take a second (Alice's before Homer's too), so that the step
	// is still running when Ctrl-C comes.
	d := newDemo(t, "--invite-cost 1s,0s")
	var out clitest.LockedBuffer
	d.cmd.Stdout, d.cmd.Stderr = &out, &out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	step := `"firstName":"Homer","lastName":"Simpson","email":"homer@example.com", "sendEmail":"false"}'` + "\n"
	deadline := time.Now().Add(2 * time.Minute) // a safety net, not a measurement
	for !strings.HasSuffix(out.String(), step) || !inRequest(d.cmd.Process.Pid, clitest.Binary(t)) {
		if s := out.String(); strings.Contains(s, step) && !strings.HasSuffix(s, step) {
			_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("the Homer invite ended before the test saw it running:\n%s", s)
		}
		select {
		case err := <-done:
			t.Fatalf("the demo ended (%v) before the Homer invite:\n%s", err, out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("the Homer invite never ran:\n%s", out.String())
		}
	}
	if err := syscall.Kill(-d.cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := <-done
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Errorf("the demo ended with %v, want exit code 130", err)
	}
	got := out.String()
	// post, a REST command, dies of the Ctrl-C without a word
	// (cmdutil.MarkOneAtATime); the tour prints nothing after it.
	if !strings.HasSuffix(got, step) {
		t.Errorf("the demo did not stop at the Homer invite:\n%s", got)
	}
	d.expectNothingLeft(t)
}

// inRequest reports whether a child of pid running bin has a socket open:
// it is talking to the sandbox, so the Homer invite is under way (a Ctrl-C
// before it would stop the tour one step early). SigCgt in
// /proc/<child>/status would say nothing: the Go runtime catches SIGINT
// from the start, before main has run.
func inRequest(pid int, bin string) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, p := range procs {
		if exe, err := os.Readlink(p); err != nil || exe != bin {
			continue
		}
		dir := filepath.Dir(p)
		status, err := os.ReadFile(filepath.Join(dir, "status"))
		if err != nil || !strings.Contains(string(status), "\nPPid:\t"+strconv.Itoa(pid)+"\n") {
			continue
		}
		fds, _ := filepath.Glob(filepath.Join(dir, "fd", "*"))
		for _, fd := range fds {
			if l, err := os.Readlink(fd); err == nil && strings.HasPrefix(l, "socket:") {
				return true
			}
		}
	}
	return false
}
