//go:build linux

package clitest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// OpenPTY returns the master side of a new pseudo-terminal and its slave,
// both closed when the test ends. It skips the test where there are no
// pseudo-terminals.
func OpenPTY(t testing.TB) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// PTYStep is one exchange at a terminal: wait until the screen shows
// Prompt, then type Answer (or what Dynamic computes from the screen so
// far) and Enter.
type PTYStep struct {
	Prompt, Answer string
	Dynamic        func(screen string) string
}

// RunOnPTY runs the binary with stdin, stdout and stderr on a
// pseudo-terminal that is its controlling terminal, the way a person at a
// terminal does, going through steps. It returns everything the terminal
// showed (line ends as "\n") and the exit code.
func (e *Env) RunOnPTY(steps []PTYStep, args ...string) (string, int) {
	t := e.t
	t.Helper()
	master, slave := OpenPTY(t)
	cmd := e.Command(args...)
	cmd.Env = append(cmd.Env, "TERM=dumb")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()

	var mu sync.Mutex
	var screen bytes.Buffer
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				close(done)
				return
			}
		}
	}()
	shown := func() string { mu.Lock(); defer mu.Unlock(); return screen.String() }
	for _, s := range steps {
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(shown(), s.Prompt) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("prompt %q never appeared; screen:\n%s", s.Prompt, shown())
			}
			time.Sleep(10 * time.Millisecond)
		}
		// Give term.ReadPassword time to turn echo off after printing the
		// prompt; tests that check for an echoed secret catch it anyway.
		time.Sleep(50 * time.Millisecond)
		answer := s.Answer
		if s.Dynamic != nil {
			answer = s.Dynamic(shown())
		}
		master.Write([]byte(answer + "\r"))
	}
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
		if c := signalCode(ee); c != 0 {
			code = c // ended by a signal: what a shell's $? shows
		}
	}
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	return strings.ReplaceAll(shown(), "\r\n", "\n"), code
}

// RunStderrOnPTY runs the binary with only stderr on a pseudo-terminal, as
// when a person pipes a command's output (`medplum get ... | jq`) and
// watches its messages: stdin is empty, stdout is collected apart. The
// Result's Stderr is what the terminal showed (line ends as "\n").
func (e *Env) RunStderrOnPTY(args ...string) Result {
	t := e.t
	t.Helper()
	master, slave := OpenPTY(t)
	cmd := e.Command(args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var screen bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			screen.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	<-done // the slave's last holder has exited: the read ends with EIO
	return Result{Args: args, Stdout: stdout.String(), Stderr: strings.ReplaceAll(screen.String(), "\r\n", "\n"), Code: code}
}
