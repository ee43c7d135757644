package authcmd_test

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// browserEnv is an environment whose "browser" is testdata/fakebrowser, and
// a registered client that redirects to a free loopback port (tests never
// use 9615, which other tests may hold at the same moment).
func browserEnv(t *testing.T, srv *medplumtest.Server, mode string) (*clitest.Env, []string, string) {
	t.Helper()
	e := env(t, srv)
	port := freePort(t)
	srv.SetClientRedirectURI(srv.Seed.Client.ID, fmt.Sprintf("http://localhost:%d", port))
	log := filepath.Join(e.Home, "browser.log")
	e.Set("MEDPLUM_BROWSER", fakeBrowser(t))
	e.Set("FAKEBROWSER_LOG", log)
	e.Set("FAKEBROWSER_MODE", mode)
	args := []string{"login", "--auth-type", "authorization-code", "--client-id", srv.Seed.Client.ID,
		"--callback-port", fmt.Sprint(port), "--insecure-storage"}
	return e, args, log
}

func TestLoginBrowser(t *testing.T) {
	srv := newServer(t)
	srv.ApproveBrowserLogins("ann@example.com", "")
	e, args, log := browserEnv(t, srv, "")
	r := e.Run(args...)
	stderr, printed := maskURL(t, r.Stderr)
	r.Stderr = stderr
	r.Expect(t, 0, "", "Opening the sign-in page in your browser. If it does not open, visit:\n  <URL>\n"+
		"Signed in to "+srv.URL+" as ann@example.com in project Sandbox Project.\n"+
		"Credentials are stored in plain text in "+filepath.Join(e.ConfigDir, "secrets", "credentials.json")+" (readable only by you), as --insecure-storage asked.\n")
	opened, _ := os.ReadFile(log)
	if strings.TrimSpace(string(opened)) != printed {
		t.Errorf("the browser opened %q, the terminal shows %q", opened, printed)
	}
	u, _ := url.Parse(printed)
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || len(q.Get("state")) < 22 ||
		q.Get("scope") != "openid offline_access" || q.Get("client_id") != srv.Seed.Client.ID {
		t.Errorf("sign-in URL %s", printed)
	}
	e.Run("project", "current").Expect(t, 0, "Sandbox Project (Project/"+srv.Seed.ProjectID+")\n", "")
	cfg, _ := os.ReadFile(filepath.Join(e.ConfigDir, "config.yaml"))
	if !strings.Contains(string(cfg), "    client_id: "+srv.Seed.Client.ID+"\n    auth_type: authorization-code\n") {
		t.Errorf("config.yaml:\n%s", cfg)
	}
}

func TestLoginBrowserFailures(t *testing.T) {
	srv := newServer(t)
	srv.ApproveBrowserLogins("ann@example.com", "")

	check := func(r clitest.Result, code int, msg string) {
		t.Helper()
		stderr, _ := maskURL(t, r.Stderr)
		r.Stderr = stderr
		r.Expect(t, code, "", "Opening the sign-in page in your browser. If it does not open, visit:\n  <URL>\n"+msg)
	}

	e, args, _ := browserEnv(t, srv, "forge")
	check(e.Run(args...), 1, "medplum: the browser returned a sign-in for a different request (state mismatch); nothing was stored, run medplum login again\n")

	e, args, _ = browserEnv(t, srv, "none")
	check(e.Run(append(args, "--timeout", "300ms")...), 1, noSignIn("300ms"))

	srv.DenyBrowserLogins("The user said no")
	e, args, _ = browserEnv(t, srv, "")
	check(e.Run(args...), 1, "medplum: the server refused the sign-in: access_denied: The user said no\n")

	// The callback port is taken.
	e, args, _ = browserEnv(t, srv, "")
	port := args[6]
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	e.Run(args...).Expect(t, 1, "", "medplum: callback port busy: port "+port+" on 127.0.0.1 is already in use (another sign-in still waiting?); "+
		"close the other program, or use --no-browser and paste the redirected URL\n")
	// --no-browser there, but no terminal to paste into.
	r := e.Run(append(args, "--no-browser")...)
	r.Stderr, _ = maskURL(t, r.Stderr)
	r.Expect(t, 2, "", "Open this URL in a browser to sign in:\n  <URL>\n"+
		"When the browser is sent to a localhost address that does not load, copy that address from the address bar.\n"+
		"medplum: --no-browser needs a terminal to paste the redirected address into, and port "+port+", where the browser would be sent back, is busy\n")

	// An unknown client, or a port its redirect URI does not name: the
	// authorize endpoint refuses the request, so no browser is opened and
	// nobody waits for a redirect that never comes.
	e, args, log1 := browserEnv(t, srv, "")
	args[4] = "no-such-client"
	e.Run(args...).Expect(t, 4, "", "medplum: the server refused to start a sign-in for client no-such-client, redirect http://localhost:"+args[6]+": Client not found\n"+
		"nothing was stored; run medplum login again\n")
	e, args, log2 := browserEnv(t, srv, "")
	args[6] = fmt.Sprint(freePort(t))
	e.Run(args...).Expect(t, 4, "", "medplum: the server refused to start a sign-in for client "+srv.Seed.Client.ID+", redirect http://localhost:"+args[6]+": Invalid redirect URI\n"+
		"nothing was stored; run medplum login again\n")
	for _, log := range []string{log1, log2} {
		if _, err := os.Stat(log); !os.IsNotExist(err) {
			t.Errorf("the browser was opened: %v", err)
		}
	}

	if _, err := os.Stat(filepath.Join(e.ConfigDir, "sessions")); !os.IsNotExist(err) {
		t.Errorf("a failed sign-in left a session (%v)", err)
	}
}

// noSignIn is medplum's message when the browser never came back.
func noSignIn(wait string) string {
	return "medplum: no sign-in arrived within " + wait + "; run medplum login again (--timeout sets a longer wait). " +
		"If the sign-in page said \"Profile not active\", a project admin deactivated your membership: ask one of them to activate it again\n"
}

// A member whose only membership is deactivated: Medplum's authorize hands
// over to the web app as for anyone (capture 500), whose sign-in refuses
// with "Profile not active" on its page and never sends the browser back
// (501). medplum waits, then says what that page meant.
func TestLoginBrowserDeactivatedMember(t *testing.T) {
	srv := newServer(t)
	ann := srv.MembershipByEmail(srv.Seed.ProjectID, "ann@example.com")
	ann["active"] = false
	srv.Update(ann)
	srv.ApproveBrowserLogins("ann@example.com", "")
	e, args, log := browserEnv(t, srv, "")
	r := e.Run(append(args, "--timeout", "2s")...)
	r.Stderr, _ = maskURL(t, r.Stderr)
	r.Expect(t, 1, "", "Opening the sign-in page in your browser. If it does not open, visit:\n  <URL>\n"+noSignIn("2s"))
	if data, _ := os.ReadFile(log); len(data) == 0 {
		t.Error("the browser was not opened")
	}
	if _, err := os.Stat(filepath.Join(e.ConfigDir, "sessions")); !os.IsNotExist(err) {
		t.Errorf("a refused sign-in left a session (%v)", err)
	}
}

// A password sign-in for an e-mail whose domain uses an external identity
// provider continues in the browser.
func TestLoginExternalIdPSwitchesToBrowser(t *testing.T) {
	srv := newServer(t)
	srv.AddExternalIdP("example.com", "https://idp.example.com/authorize")
	srv.ApproveBrowserLogins("ann@example.com", "")
	e, args, log := browserEnv(t, srv, "")
	args[2] = "password"
	r := e.Run(append(args, "--email", "ann@example.com")...)
	stderr, printed := maskURL(t, r.Stderr)
	r.Stderr = stderr
	r.Expect(t, 0, "", "ann@example.com signs in through the identity provider of example.com; continuing in the browser.\n"+
		"Opening the sign-in page in your browser. If it does not open, visit:\n  <URL>\n"+
		"Signed in to "+srv.URL+" as ann@example.com in project Sandbox Project.\n"+
		"Credentials are stored in plain text in "+filepath.Join(e.ConfigDir, "secrets", "credentials.json")+" (readable only by you), as --insecure-storage asked.\n")
	if u, _ := url.Parse(printed); u.Query().Get("login_hint") != "ann@example.com" {
		t.Errorf("URL %s has no login_hint", printed)
	}
	if data, _ := os.ReadFile(log); len(data) == 0 {
		t.Error("the browser was not opened")
	}
	for _, r := range srv.Requests() {
		if r.Path == "/auth/login" {
			t.Error("the password flow went on to auth/login")
		}
	}
}
