package completion_test

import (
	"path/filepath"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// --project completes what every --project accepts: the signed-in project,
// or for a super admin every project but Medplum's base "FHIR R4" one
// (which a Project search returns: capture 545), and bot create's
// <project-id> the signed-in project; project switch completes
// the person's other projects, those project list shows, from the session
// alone.
func TestProjectCompletionOffersWhatIsAccepted(t *testing.T) {
	srv := medplumtest.NewServer(t)
	sandbox := srv.Seed.ProjectID + "\t" + srv.Seed.ProjectName + "\n"
	superAdmin := srv.Seed.SuperAdminProjectID + "\tSuper Admin\n"

	// A project admin client: its own project (another is refused).
	e := clitest.SignedIn(t, srv)
	srv.ResetRequests()
	e.Run("__complete", "members", "list", "--project", "").Expect(t, 0, sandbox+noFile, noFileStderr)
	e.Run("__complete", "members", "list", "--project", "Project/").Expect(t, 0, "Project/"+sandbox+noFile, noFileStderr)
	e.Run("__complete", "members", "list", "--project", "zz").Expect(t, 0, noFile, noFileStderr)
	clitest.ExpectPaths(t, srv, "GET /auth/me", "GET /auth/me", "GET /auth/me")

	// A super admin: every project but the base FHIR R4 one, by name.
	su := clitest.SignedIn(t, srv).Set("MEDPLUM_CLIENT_ID", srv.Seed.SuperAdminClient.ID).Set("MEDPLUM_CLIENT_SECRET", srv.Seed.SuperAdminClient.Secret)
	srv.ResetRequests()
	su.Run("__complete", "clients", "create", "x", "--project", "").Expect(t, 0, sandbox+superAdmin+noFile, noFileStderr)
	clitest.ExpectPaths(t, srv, "GET /auth/me", "GET /fhir/R4/Project?_count=1000")
	su.Run("__complete", "clients", "create", "x", "--project", medplumtest.R4ProjectID[:4]).Expect(t, 0, noFile, noFileStderr)
	// bot create's <project-id> (the official CLI's form) is the signed-in
	// project, a super admin's too; <source> and <dist> are files.
	su.Run("__complete", "bot", "create", "x", "").Expect(t, 0, superAdmin+noFile, noFileStderr)
	e.Run("__complete", "create-bot", "x", "").Expect(t, 0, sandbox+noFile, noFileStderr)
	for _, args := range [][]string{{"x", srv.Seed.ProjectID, ""}, {"x", srv.Seed.ProjectID, "src.ts", ""}} {
		e.Run(append([]string{"__complete", "bot", "create"}, args...)...).Expect(t, 0, ":0\n", "Completion ended with directive: ShellCompDirectiveDefault\n")
	}
	e.Run("__complete", "bot", "create", "").Expect(t, 0, noFile, noFileStderr)

	// A person signed in to the sandbox project, also a member of Super Admin.
	p := clitest.New(t).Set("MEDPLUM_BASE_URL", srv.URL).Set("MEDPLUM_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	p.RunStdin(srv.Seed.AdminPassword, "login", "--auth-type", "password", "--email", srv.Seed.AdminEmail, "--password-stdin",
		"--insecure-storage", "--membership", srv.Seed.Admin.MembershipID).ExpectCode(t, 0,
		"Signed in to "+srv.URL+" as "+srv.Seed.AdminEmail+" in project Sandbox Project.\n"+
			"Credentials are stored in plain text in "+filepath.Join(p.ConfigDir, "secrets", "credentials.json")+" (readable only by you), as --insecure-storage asked.\n")
	srv.ResetRequests()
	p.Run("__complete", "project", "switch", "").Expect(t, 0, superAdmin+noFile, noFileStderr)
	p.Run("__complete", "project", "switch", "Project/"+srv.Seed.SuperAdminProjectID[:3]).Expect(t, 0, "Project/"+superAdmin+noFile, noFileStderr)
	p.Run("__complete", "project", "switch", srv.Seed.ProjectID).Expect(t, 0, noFile, noFileStderr) // the current one
	p.Run("__complete", "project", "switch", srv.Seed.SuperAdminProjectID, "").Expect(t, 0, noFile, noFileStderr)
	clitest.ExpectNothingSent(t, srv)
	// Its --project: the current project; Super Admin is project switch's.
	p.Run("__complete", "members", "review", "--project", "").Expect(t, 0, sandbox+noFile, noFileStderr)
	clitest.ExpectPaths(t, srv, "GET /auth/me")

	// Switched: the other way round; in the super-admin project, it may
	// name every project.
	p.RunStdin(srv.Seed.AdminPassword, "project", "switch", srv.Seed.SuperAdminProjectID, "--password-stdin").ExpectCode(t, 0,
		"Switched to project Super Admin (Project/"+srv.Seed.SuperAdminProjectID+"), signed in as "+srv.Seed.AdminEmail+" in project Super Admin.\n")
	p.Run("__complete", "project", "switch", "").Expect(t, 0, sandbox+noFile, noFileStderr)
	p.Run("__complete", "invite", "--project", "").Expect(t, 0, sandbox+superAdmin+noFile, noFileStderr)

	// Client credentials are no person's sign-in: nothing to switch to,
	// nothing sent.
	srv.ResetRequests()
	e.Run("__complete", "project", "switch", "").Expect(t, 0, noFile, noFileStderr)
	clitest.ExpectNothingSent(t, srv)
}
