package authcmd_test

import (
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// A sign-in made against one server is not used for another: when the
// other comes from --base-url or MEDPLUM_BASE_URL, the refusal names it,
// not the profile (which still points at the server it signed in to).
func TestBaseURLOverrideIsNamedNotTheProfile(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.New(t)
	if r := e.Run("profile", "set", "ci", "--base-url", srv.URL); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	if r := e.RunStdin(srv.Seed.Client.Secret, "-p", "ci", "login", "--auth-type", "client-credentials", "--client-id", srv.Seed.Client.ID, "--client-secret-stdin", "--insecure-storage"); r.Code != 0 {
		t.Fatalf("login: exit %d: %s", r.Code, r.Stderr)
	}
	const other = "http://127.0.0.1:9/"
	e.Run("-p", "ci", "--base-url", other, "whoami").Expect(t, 4, "", `medplum: profile "ci": signed in to `+srv.URL+", but --base-url points at "+other+"\nrun: medplum login\n")
	e.Set("MEDPLUM_BASE_URL", other)
	e.Run("-p", "ci", "whoami").Expect(t, 4, "", `medplum: profile "ci": signed in to `+srv.URL+", but MEDPLUM_BASE_URL points at "+other+"\nrun: medplum login\n")
	e.Unset("MEDPLUM_BASE_URL")
	if r := e.Run("profile", "set", "ci", "--base-url", other); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	e.Run("-p", "ci", "whoami").Expect(t, 4, "", `medplum: profile "ci": signed in to `+srv.URL+", but the profile now points at "+other+"\nrun: medplum login\n")
}
