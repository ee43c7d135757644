package members_test

import (
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// Issue 13, defect 5: set-access takes a policy by name, and refuses one
// the project does not have before writing anything (Medplum 5.0.10
// stores a membership pointing at nothing: capture 213).
func TestSetAccessByNameAndOnlyExistingPolicies(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	sd := srv.Seed
	srv.Create(sd.ProjectID, client.Resource{"resourceType": "AccessPolicy", "id": "staff", "name": "Clinic staff"})
	srv.Create(sd.ProjectID, client.Resource{"resourceType": "AccessPolicy", "id": "t1", "name": "Twice"})
	srv.Create(sd.ProjectID, client.Resource{"resourceType": "AccessPolicy", "id": "t2", "name": "Twice"})
	who := "Homer Simpson (Patient, homer@example.com)"
	cols := []string{"-o", "csv", "--no-header", "--columns", "accessPolicy"}

	e.Run(append([]string{"members", "set-access", "homer@example.com", "--access-policy", "Clinic staff"}, cols...)...).
		Expect(t, 0, "AccessPolicy/staff\n", who+" now has access AccessPolicy/staff\n")
	// A CSV's header names the columns as --columns does (not "ACCESS POLICY").
	e.Run("members", "set-access", "homer@example.com", "--access-policy", "staff", "-o", "csv", "--columns", "accessPolicy").
		Expect(t, 0, "accessPolicy\nAccessPolicy/staff\n", who+" already has access AccessPolicy/staff; nothing changed\n")
	e.Run(append([]string{"members", "set-access", "homer@example.com", "--access", "Clinic staff?org=Organization/1", "--access", "t1"}, cols...)...).
		Expect(t, 0, "\"AccessPolicy/staff?org=Organization/1, AccessPolicy/t1\"\n",
			who+" now has access AccessPolicy/staff?org=Organization/1, AccessPolicy/t1\n")

	srv.ResetRequests()
	e.Run("members", "set-access", "homer@example.com", "--access-policy", "00000000-0000-0000-0000-000000000000",
		"--access", "Twice", "--access", "AccessPolicy/gone?org=Organization/1").Expect(t, 2, "", "medplum: nothing was sent:\n"+
		"  --access-policy: no access policy named \"00000000-0000-0000-0000-000000000000\", nor with that id, in the project\n"+
		"  --access Twice: 2 access policies of the project are named \"Twice\" (AccessPolicy/t1, AccessPolicy/t2); give the id of one\n"+
		"  --access AccessPolicy/gone?org=Organization/1: no access policy AccessPolicy/gone in the project\n")
	if n := len(srv.RequestsTo("POST", "/admin/projects/*/members/*")); n != 0 {
		t.Errorf("%d updates sent", n)
	}
	if got := access(mem(t, srv, sd.Homer.MembershipID)); got != "AccessPolicy/staff?org=Organization/1, AccessPolicy/t1" {
		t.Errorf("access changed to %s", got)
	}
}
