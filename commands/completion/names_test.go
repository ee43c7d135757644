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
