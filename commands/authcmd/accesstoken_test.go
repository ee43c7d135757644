package authcmd_test

import (
	"strings"
	"testing"

	"github.com/medplumcli/medplum/commands/clitest"
)

// --access-token, as in the official CLI: the bearer token is sent as it
// is, ahead of MEDPLUM_CLIENT_ACCESS_TOKEN (a flag beats the environment),
// with a warning that it shows in the process list; it is never stored.
func TestAccessTokenFlag(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	tok := srv.IssueToken(srv.Seed.Client.MembershipID)
	e.Set("MEDPLUM_CLIENT_ACCESS_TOKEN", "not-a-valid-token")
	const warning = "medplum: warning: --access-token is visible to other users in the process list; prefer MEDPLUM_CLIENT_ACCESS_TOKEN\n"

	r := e.Run("whoami", "--access-token", tok)
	out := r.ExpectCode(t, 0, warning)
	if !strings.Contains(out, "\nCredentials: access token from --access-token (never stored)\n") {
		t.Errorf("whoami --access-token:\n%s", out)
	}
	r.NotContains(t, tok)
	for _, req := range srv.Requests() {
		if req.Path == "/oauth2/token" {
			t.Errorf("a token request was sent: %s %s", req.Method, req.Path)
		}
		if got := req.Header.Get("Authorization"); got != "Bearer "+tok {
			t.Errorf("%s %s sent Authorization %q", req.Method, req.Path, got)
		}
	}
	if len(srv.Requests()) == 0 {
		t.Fatal("nothing was sent")
	}

	// It is never stored: not by profile set, not by login (which would
	// not use it), and not by any command that ran with it.
	srv.ResetRequests()
	e.Run("profile", "set", "x", "--access-token", tok).Expect(t, 2, "", warning+
		"medplum: --access-token cannot be stored in a profile: the settings file never holds secrets\n"+
		"pass it at run time in MEDPLUM_CLIENT_ACCESS_TOKEN instead\n")
	e.Run("login", "--access-token", tok).Expect(t, 2, "", warning+
		"medplum: login does not use --access-token: that token is sent as it is by one command and never stored; to store a token, pipe it to: medplum login --with-token\n"+
		"Run 'medplum login --help' for usage.\n")
	clitest.ExpectNothingSent(t, srv)
	if files := filesWith(t, e.Home, tok); len(files) > 0 {
		t.Errorf("the token was written to %v", files)
	}

	// Without the flag, the environment's token is the one used.
	e.Set("MEDPLUM_CLIENT_ACCESS_TOKEN", tok)
	out = e.Run("whoami").ExpectCode(t, 0, "")
	if !strings.Contains(out, "\nCredentials: access token from MEDPLUM_CLIENT_ACCESS_TOKEN (never stored)\n") {
		t.Errorf("whoami:\n%s", out)
	}
	e.Run("logout").Expect(t, 0, "", "Profile \"default\" is not signed in.\nMEDPLUM_CLIENT_ACCESS_TOKEN is still set in the environment; commands keep using it.\n")
	e.Run("logout", "--access-token", tok).Expect(t, 0, "", warning+"Profile \"default\" is not signed in.\nMEDPLUM_CLIENT_ACCESS_TOKEN is still set in the environment; commands keep using it.\n")
	e.Unset("MEDPLUM_CLIENT_ACCESS_TOKEN")
	e.Run("logout", "--access-token", tok).Expect(t, 0, "", warning+"Profile \"default\" is not signed in.\n")
}
