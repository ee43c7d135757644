package completion_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

func TestMembersFromTheServer(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithMembers(3))
	sd := srv.Seed
	e := clitest.SignedIn(t, srv)
	out := e.Run("__complete", "members", "get", "").ExpectCode(t, 0, noFileStderr)
	got := strings.Split(strings.TrimSuffix(out, "\n"+noFile), "\n")
	homer := sd.Homer.MembershipID + "\tHomer Simpson, Patient, homer@example.com"
	admin := sd.Admin.MembershipID + "\tMedplum Admin, Practitioner, " + sd.AdminEmail
	if !slices.Contains(got, homer) || !slices.Contains(got, admin) {
		t.Errorf("no %q or %q in\n%s", homer, admin, out)
	}
	// Every membership of the project, once, newest first.
	if n := len(srv.Memberships(sd.ProjectID)); len(got) != n {
		t.Errorf("%d suggestions for %d memberships:\n%s", len(got), n, out)
	}
	if last := sd.Generated[2].MembershipID; !strings.HasPrefix(got[0], last+"\t") {
		t.Errorf("first suggestion %q, want the newest membership %s", got[0], last)
	}
	clitest.ExpectPaths(t, srv, "GET /fhir/R4/ProjectMembership?_count=1000&_sort=-_lastUpdated")

	// What was typed filters: the start of an id, or of an e-mail.
	e.Run("__complete", "members", "promote", sd.Homer.MembershipID[:8]).Expect(t, 0, homer+"\n"+noFile, noFileStderr)
	e.Run("__complete", "members", "remove", "HOMER@").Expect(t, 0, "homer@example.com\t"+sd.Homer.MembershipID+"\n"+noFile, noFileStderr)
	e.Run("__complete", "members", "set-access", "nobody").Expect(t, 0, noFile, noFileStderr)
	// A command that takes one member completes only the first argument;
	// one that takes several completes each, without those given.
	e.Run("__complete", "members", "get", sd.Homer.MembershipID, "").Expect(t, 0, noFile, noFileStderr)
	out = e.Run("__complete", "members", "deactivate", sd.Homer.MembershipID, "").ExpectCode(t, 0, noFileStderr)
	if strings.Contains(out, sd.Homer.MembershipID) || !strings.Contains(out, admin+"\n") {
		t.Errorf("second argument of deactivate:\n%s", out)
	}
}

// A super admin completes the members of the project --project names.
func TestMembersOfAnotherProject(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.New(t).Set("MEDPLUM_BASE_URL", srv.URL).
		Set("MEDPLUM_CLIENT_ID", srv.Seed.SuperAdminClient.ID).Set("MEDPLUM_CLIENT_SECRET", srv.Seed.SuperAdminClient.Secret)
	out := e.Run("__complete", "members", "get", "--project", srv.Seed.ProjectID, "").ExpectCode(t, 0, noFileStderr)
	if !strings.Contains(out, srv.Seed.Homer.MembershipID+"\t") {
		t.Errorf("--project %s: no Homer in\n%s", srv.Seed.ProjectID, out)
	}
	clitest.ExpectPaths(t, srv, "GET /fhir/R4/ProjectMembership?_count=1000&_sort=-_lastUpdated&project=Project%2F"+srv.Seed.ProjectID)
}

// Not signed in: no suggestions, and nothing at all is sent to the server.
func TestMembersNotSignedIn(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.New(t).Set("MEDPLUM_BASE_URL", srv.URL)
	e.Run("__complete", "members", "get", "").Expect(t, 0, noFile, noFileStderr)
	if reqs := srv.Requests(); len(reqs) != 0 {
		t.Errorf("%d requests sent without credentials: %+v", len(reqs), reqs)
	}
	// Credentials the server refuses: nothing but the one search with them
	// as Basic credentials (refused: 401) and the token request after it.
	e = clitest.SignedIn(t, srv).Set("MEDPLUM_CLIENT_SECRET", "wrong")
	e.Run("__complete", "members", "get", "").Expect(t, 0, noFile, noFileStderr)
	clitest.ExpectPaths(t, srv, "GET /fhir/R4/ProjectMembership?_count=1000&_sort=-_lastUpdated")
}

// A server slower than completion.Timeout (2s) gives no suggestions rather
// than a hung shell.
func TestMembersSlowServer(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.SetLatency(time.Minute)
	clitest.SignedIn(t, srv).Run("__complete", "members", "get", "").Expect(t, 0, noFile, noFileStderr)
}

func TestMembersListFlags(t *testing.T) {
	e := clitest.New(t)
	e.Run("__complete", "members", "list", "--type", "").Expect(t, 0,
		lines("Patient", "Practitioner", "RelatedPerson", "ClientApplication", "Bot")+noSpace, noSpaceStderr)
	e.Run("__complete", "members", "list", "--exclude-type", "ClientApplication,B").Expect(t, 0,
		lines("ClientApplication,Bot")+noSpace, noSpaceStderr)
	e.Run("__complete", "members", "list", "--type", "Patient,P").Expect(t, 0, lines("Patient,Practitioner")+noSpace, noSpaceStderr)
	e.Run("__complete", "members", "list", "--columns", "id,").Expect(t, 0,
		lines("id,name", "id,profileType", "id,user", "id,admin", "id,accessPolicy", "id,active", "id,email", "id,type")+noSpace, noSpaceStderr)
}
