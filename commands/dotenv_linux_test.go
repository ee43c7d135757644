//go:build linux

package commands_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// When ./.env changes where or as whom a command runs (it sets a
// connection variable the environment does not), one line on stderr says
// which variables and which file, once per command, for a person at a
// terminal (or with --verbose); a script whose stderr is not a terminal
// gets no line per command. whoami names the file whatever stderr is.
func TestDotenvSaysWhereCredentialsComeFrom(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.New(t)
	dotenv := "MEDPLUM_BASE_URL=" + srv.URL + "\n" +
		"MEDPLUM_CLIENT_ID=" + srv.Seed.Client.ID + "\n" +
		"MEDPLUM_CLIENT_SECRET=" + srv.Seed.Client.Secret + "\n" +
		"DATABASE_URL=postgres://localhost/app\n"
	path := filepath.Join(e.Home, ".env")
	if err := os.WriteFile(path, []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	note := func(vars string) string {
		return "medplum: using " + vars + " from " + path + " (MEDPLUM_NO_DOTENV=1 ignores the file)\n"
	}
	project := "Project/" + srv.Seed.ProjectID

	// At a terminal: the line, once, though the command signs in and
	// sends two requests.
	r := e.RunStderrOnPTY("members", "list", "--limit", "1", "-o", "json")
	if r.Code != 0 || r.Stderr != note("MEDPLUM_BASE_URL, MEDPLUM_CLIENT_ID, MEDPLUM_CLIENT_SECRET") {
		t.Errorf("members list at a terminal: exit %d, stderr %q", r.Code, r.Stderr)
	}
	r.NotContains(t, srv.Seed.Client.Secret)
	// A script (stderr not a terminal): nothing.
	e.Run("get", project).ExpectCode(t, 0, "")
	// --verbose: the line first, once, whatever stderr is.
	r = e.Run("-v", "members", "list", "--limit", "1")
	if r.Code != 0 || !strings.HasPrefix(r.Stderr, note("MEDPLUM_BASE_URL, MEDPLUM_CLIENT_ID, MEDPLUM_CLIENT_SECRET")) ||
		strings.Count(r.Stderr, "medplum: using ") != 1 {
		t.Errorf("-v members list: exit %d, stderr:\n%s", r.Code, r.Stderr)
	}
	r.NotContains(t, srv.Seed.Client.Secret)

	// whoami names the file for the server and the secret.
	e.Run("whoami").Expect(t, 0,
		"Server:      "+srv.URL+" (MEDPLUM_BASE_URL in "+path+")\n"+
			"Client:      Sandbox Project Admin Client (ClientApplication/"+srv.Seed.Client.ID+")\n"+
			"Profile:     Sandbox Project Admin Client (ClientApplication/"+srv.Seed.Client.ID+")\n"+
			"Project:     "+srv.Seed.ProjectName+" ("+project+")\n"+
			"Membership:  ProjectMembership/"+srv.Seed.Client.MembershipID+" (project admin)\n"+
			"Credentials: client "+srv.Seed.Client.ID+" with a secret from MEDPLUM_CLIENT_SECRET in "+path+" (never stored)\n", "")

	// Only what the file changes: the environment's variables win and are
	// not named; a flag beats the file's value.
	e.Set("MEDPLUM_CLIENT_SECRET", srv.Seed.Client.Secret)
	r = e.RunStderrOnPTY("--base-url", srv.URL, "get", project)
	if r.Code != 0 || r.Stderr != note("MEDPLUM_CLIENT_ID") {
		t.Errorf("get with --base-url and the secret in the environment: exit %d, stderr %q", r.Code, r.Stderr)
	}
	e.Run("whoami").ExpectCode(t, 0, "")
	if out := e.Run("whoami").Stdout; !strings.Contains(out, "\nCredentials: client "+srv.Seed.Client.ID+" with a secret from MEDPLUM_CLIENT_SECRET (never stored)\n") {
		t.Errorf("whoami with the secret in the environment:\n%s", out)
	}
	// Nothing the file sets is used: no line.
	e.Set("MEDPLUM_BASE_URL", srv.URL).Set("MEDPLUM_CLIENT_ID", srv.Seed.Client.ID)
	if r = e.RunStderrOnPTY("get", project); r.Code != 0 || r.Stderr != "" {
		t.Errorf("get with everything in the environment: exit %d, stderr %q", r.Code, r.Stderr)
	}
	// A command that does not connect says nothing.
	e.Unset("MEDPLUM_BASE_URL").Unset("MEDPLUM_CLIENT_ID").Unset("MEDPLUM_CLIENT_SECRET")
	for _, args := range [][]string{{"version"}, {"get", "--help"}, {"profile", "list"}} {
		if r = e.RunStderrOnPTY(args...); r.Code != 0 || r.Stderr != "" {
			t.Errorf("%v: exit %d, stderr %q", args, r.Code, r.Stderr)
		}
	}

	// MEDPLUM_PROFILE in .env chose the profile: said, and whoami says so.
	e.RunStdin(srv.Seed.Client.Secret, "-p", "staging", "login", "--base-url", srv.URL, "--auth-type", "client-credentials",
		"--client-id", srv.Seed.Client.ID, "--client-secret-stdin", "--insecure-storage").ExpectCode(t, 0,
		"Signed in to "+srv.URL+" as Sandbox Project Admin Client (ClientApplication/"+srv.Seed.Client.ID+") in project "+srv.Seed.ProjectName+".\n"+
			"Credentials are stored in plain text in "+filepath.Join(e.ConfigDir, "secrets", "credentials.json")+" (readable only by you), as --insecure-storage asked.\n")
	if err := os.WriteFile(path, []byte("MEDPLUM_PROFILE=staging\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r = e.RunStderrOnPTY("get", project); r.Code != 0 || r.Stderr != note("MEDPLUM_PROFILE") {
		t.Errorf("get with the profile from .env: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if out := e.Run("whoami").ExpectCode(t, 0, ""); !strings.HasPrefix(out, "Server:      "+srv.URL+"\n") ||
		!strings.HasSuffix(out, "\nCredentials: client-credentials sign-in of profile \"staging\" (chosen by MEDPLUM_PROFILE in "+path+
			"), secrets in "+filepath.Join(e.ConfigDir, "secrets", "credentials.json")+" (--insecure-storage)\n") {
		t.Errorf("whoami with the profile from .env:\n%s", out)
	}
}
