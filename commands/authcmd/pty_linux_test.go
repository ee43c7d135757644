//go:build linux

package authcmd_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// ptyRun runs medplum on a pseudo-terminal (stdin, stdout and stderr), the
// way a person at a terminal does. Each step waits until the screen shows
// its prompt, then types its answer.
type ptyStep struct {
	prompt, answer string
	// dynamic, if set, computes the answer from the screen so far.
	dynamic func(screen string) string
}

func ptyRun(t *testing.T, e *clitest.Env, vars map[string]string, steps []ptyStep, args ...string) (string, int) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer master.Close()
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(clitest.Binary(t), args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	cmd.Dir = e.Home
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.Home, "MEDPLUM_CONFIG_DIR=" + e.ConfigDir, "TERM=dumb"}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
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
		for !strings.Contains(shown(), s.prompt) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("prompt %q never appeared; screen:\n%s", s.prompt, shown())
			}
			time.Sleep(10 * time.Millisecond)
		}
		// Give term.ReadPassword time to turn echo off after printing the
		// prompt; the check below catches a password echoed anyway.
		time.Sleep(50 * time.Millisecond)
		answer := s.answer
		if s.dynamic != nil {
			answer = s.dynamic(shown())
		}
		master.Write([]byte(answer + "\r"))
	}
	err = cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	return strings.ReplaceAll(shown(), "\r\n", "\n"), code
}

// A person at a terminal: the password is typed without echo, the MFA code
// is asked for, and the project is chosen from a numbered list.
func TestInteractivePasswordLoginOnATerminal(t *testing.T) {
	srv := newServer(t)
	srv.EnableMFA(srv.Seed.AdminEmail, medplumtest.TOTPSecret)
	e := env(t, srv)
	vars := map[string]string{"MEDPLUM_BASE_URL": srv.URL, "MEDPLUM_CACHE_DIR": cacheDir(e)}
	screen, code := ptyRun(t, e, vars, []ptyStep{
		{prompt: "E-mail: ", answer: srv.Seed.AdminEmail},
		{prompt: "Password for " + srv.Seed.AdminEmail + ": ", answer: srv.Seed.AdminPassword},
		{prompt: "Authenticator code: ", answer: "000000"},
		{prompt: "000000\r\nAuthenticator code: ", answer: medplumtest.TOTP(medplumtest.TOTPSecret, time.Now())},
		{prompt: "Enter a number (1-2): ", answer: "7"},
		{prompt: "\"7\" is not one of the numbers above.\r\nEnter a number (1-2): ", answer: "x"},
		{prompt: "\"x\" is not one of the numbers above.\r\nEnter a number (1-2): ", answer: "1"},
	}, "login", "--auth-type", "password", "--insecure-storage")
	if code != 0 {
		t.Fatalf("exit %d; screen:\n%s", code, screen)
	}
	if strings.Contains(screen, srv.Seed.AdminPassword) {
		t.Fatalf("the password was echoed:\n%s", screen)
	}
	for _, want := range []string{"Choose a project:\n  1) ", "\n  2) ", "Signed in to " + srv.URL + " as admin@example.com in project "} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
}

// --no-browser on a terminal: the user pastes the address the browser ended
// on (here: after signing in on "another machine").
func TestNoBrowserPasteOnATerminal(t *testing.T) {
	srv := newServer(t)
	srv.ApproveBrowserLogins("ann@example.com", "")
	e := env(t, srv)
	port := freePort(t)
	srv.SetClientRedirectURI(srv.Seed.Client.ID, fmt.Sprintf("http://localhost:%d", port))
	// The loopback port is busy (as on a remote machine whose port is
	// forwarded elsewhere): only the paste can finish the sign-in.
	ln, err := netListen(port)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	vars := map[string]string{"MEDPLUM_BASE_URL": srv.URL, "MEDPLUM_CACHE_DIR": cacheDir(e)}
	steps := []ptyStep{{prompt: "Paste the URL your browser was sent to (or the code): ", dynamic: func(shown string) string {
		u := urlLine.FindString(strings.ReplaceAll(shown, "\r\n", "\n"))
		return followToRedirect(t, strings.TrimSpace(u))
	}}}
	screen, code := ptyRun(t, e, vars, steps, "login", "--auth-type", "authorization-code", "--client-id", srv.Seed.Client.ID, "--callback-port", fmt.Sprint(port), "--no-browser", "--insecure-storage")
	if code != 0 {
		t.Fatalf("exit %d; screen:\n%s", code, screen)
	}
	if !strings.Contains(screen, "Open this URL in a browser to sign in:\n  http") || !strings.Contains(screen, "Signed in to "+srv.URL+" as ann@example.com") {
		t.Fatalf("screen:\n%s", screen)
	}
}

func netListen(port int) (net.Listener, error) {
	return net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
}

// followToRedirect opens the sign-in URL like a browser and returns the
// address it is finally sent to (which does not load: its port is busy).
func followToRedirect(t *testing.T, u string) string {
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(u)
	if err != nil {
		t.Errorf("browser: %v", err)
		return ""
	}
	resp.Body.Close()
	return resp.Header.Get("Location")
}
