//go:build linux

package authcmd_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// A person at a terminal: the password is typed without echo, the MFA code
// is asked for, and the project is chosen from a numbered list.
func TestInteractivePasswordLoginOnATerminal(t *testing.T) {
	srv := newServer(t)
	srv.EnableMFA(srv.Seed.AdminEmail, medplumtest.TOTPSecret)
	e := env(t, srv)
	screen, code := e.RunOnPTY([]clitest.PTYStep{
		{Prompt: "E-mail: ", Answer: srv.Seed.AdminEmail},
		{Prompt: "Password for " + srv.Seed.AdminEmail + ": ", Answer: srv.Seed.AdminPassword},
		{Prompt: "Authenticator code: ", Answer: "000000"},
		{Prompt: "000000\r\nAuthenticator code: ", Answer: medplumtest.TOTP(medplumtest.TOTPSecret, time.Now())},
		{Prompt: "Enter a number (1-2): ", Answer: "7"},
		{Prompt: "\"7\" is not one of the numbers above.\r\nEnter a number (1-2): ", Answer: "x"},
		{Prompt: "\"x\" is not one of the numbers above.\r\nEnter a number (1-2): ", Answer: "1"},
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
	steps := []clitest.PTYStep{{Prompt: "Paste the URL your browser was sent to (or the code): ", Dynamic: func(shown string) string {
		u := urlLine.FindString(strings.ReplaceAll(shown, "\r\n", "\n"))
		return followToRedirect(t, strings.TrimSpace(u))
	}}}
	screen, code := e.RunOnPTY(steps, "login", "--auth-type", "authorization-code", "--client-id", srv.Seed.Client.ID, "--callback-port", fmt.Sprint(port), "--no-browser", "--insecure-storage")
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
	server, _, _ := strings.Cut(u, "/oauth2/")
	// The server hands over to its web app, which sends the browser on.
	for range 3 {
		resp, err := hc.Get(u)
		if err != nil {
			t.Errorf("browser: %v", err)
			return ""
		}
		resp.Body.Close()
		u = resp.Header.Get("Location")
		if !strings.HasPrefix(u, server+"/") {
			return u
		}
	}
	t.Errorf("browser: still on %s", u)
	return ""
}
