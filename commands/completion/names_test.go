package completion_test

import (
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// Access policies and clients complete by name (described by their id),
// and by id once an id is being typed; bots use the same helper
// (completion.Named(f, "Bot")).
func TestNamedResources(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	staff := srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "AccessPolicy", "name": "Clinic staff"})
	billing := srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "AccessPolicy", "name": "Billing"})
	srv.ResetRequests()

	e.Run("__complete", "members", "set-access", "homer@example.com", "--access-policy", "").Expect(t, 0,
		"Billing\t"+billing.ID()+"\nClinic staff\t"+staff.ID()+"\n"+noFile, noFileStderr)
	e.Run("__complete", "invite", "Homer", "Simpson", "homer@example.com", "--access-policy", "cl").Expect(t, 0,
		"Clinic staff\t"+staff.ID()+"\n"+noFile, noFileStderr)
	e.Run("__complete", "invite", "--access-policy", staff.ID()[:8]).Expect(t, 0,
		staff.ID()+"\tClinic staff\n"+noFile, noFileStderr)
	clitest.ExpectPaths(t, srv,
		"GET /fhir/R4/AccessPolicy?_count=1000",
		"GET /fhir/R4/AccessPolicy?_count=1000",
		"GET /fhir/R4/AccessPolicy?_count=1000")

	e.Run("__complete", "clients", "rotate-secret", "Sandbox").Expect(t, 0,
		"Sandbox Project Admin Client\t"+srv.Seed.Client.ID+"\n"+noFile, noFileStderr)
	e.Run("__complete", "clients", "delete", "x", "").Expect(t, 0, noFile, noFileStderr)
	bot := srv.Resource("ProjectMembership", srv.Seed.Bot.MembershipID).Ref("profile")
	e.Run("__complete", "bot", "run", "sandbox").Expect(t, 0,
		"Sandbox Bot\t"+strings.TrimPrefix(bot, "Bot/")+"\n"+noFile, noFileStderr)

	// Not signed in: nothing, and nothing sent.
	srv.ResetRequests()
	clitest.New(t).Set("MEDPLUM_BASE_URL", srv.URL).Run("__complete", "invite", "--access-policy", "").Expect(t, 0, noFile, noFileStderr)
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests without credentials", n)
	}
}

// Every flag that takes an access policy completes the project's policies
// (invite --access: the POLICY before its parameters, no space after it);
// --project completes the ids of the projects the profile can read,
// described by their names.
func TestEveryPolicyAndProjectFlagCompletes(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	staff := srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "AccessPolicy", "name": "Clinic staff"})
	billing := srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "AccessPolicy", "name": "Billing"})
	both := "Billing\t" + billing.ID() + "\nClinic staff\t" + staff.ID() + "\n"
	for _, args := range [][]string{
		{"bot", "create", "x", "--access-policy", ""},
		{"create-bot", "x", "--access-policy", ""},
		{"clients", "create", "x", "--access-policy", ""},
		{"project", "invite", "--access-policy", ""},
	} {
		e.Run(append([]string{"__complete"}, args...)...).Expect(t, 0, both+noFile, noFileStderr)
	}
	for _, args := range [][]string{
		{"invite", "Homer", "Simpson", "homer@example.com", "--access", ""},
		{"project", "invite", "--access", ""},
		{"members", "set-access", "homer@example.com", "--access", ""},
	} {
		e.Run(append([]string{"__complete"}, args...)...).Expect(t, 0, both+noSpace, noSpaceStderr)
	}
	e.Run("__complete", "invite", "--access", "cl").Expect(t, 0, "Clinic staff\t"+staff.ID()+"\n"+noSpace, noSpaceStderr)
	e.Run("__complete", "invite", "--access", "Clinic staff?").Expect(t, 0, noFile, noFileStderr)

	// A project admin may name its own project only: not Medplum's base
	// project, which its Project search finds too (capture 545).
	project := srv.Seed.ProjectID + "\t" + srv.Seed.ProjectName + "\n"
	for _, args := range [][]string{
		{"members", "list", "--project", ""},
		{"members", "remove", "x", "--project", ""},
		{"members", "review", "--project", ""},
		{"clients", "create", "x", "--project", ""},
		{"invite", "--project", ""},
	} {
		e.Run(append([]string{"__complete"}, args...)...).Expect(t, 0, project+noFile, noFileStderr)
	}
	e.Run("__complete", "clients", "list", "--project", srv.Seed.ProjectID[:8]).Expect(t, 0, project+noFile, noFileStderr)
	e.Run("__complete", "members", "list", "--project", "Project/").Expect(t, 0,
		"Project/"+project+noFile, noFileStderr)
	e.Run("__complete", "members", "list", "--project", "zz").Expect(t, 0, noFile, noFileStderr)
	// login's project is one the password opens: nothing to offer, no files.
	srv.ResetRequests()
	e.Run("__complete", "login", "--project", "").Expect(t, 0, noFile, noFileStderr)
	clitest.ExpectPaths(t, srv)
}
