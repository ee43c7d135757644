package invite_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// Issue 13, defect 5, with --csv: the accessPolicy column names a policy
// of the project by its name, its id or AccessPolicy/<id>; each distinct
// value is looked up once, before anything is sent, and a row naming a
// policy the project does not have is invalid (Medplum 5.0.10 would store
// it: capture 204).
func TestInviteCSVChecksEachPolicyOnce(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(1))
	e := clitest.SignedIn(t, srv)
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "AccessPolicy", "id": "staff", "name": "Clinic staff"})
	var b strings.Builder
	b.WriteString("firstName,lastName,email,accessPolicy,param:ward\n")
	for i := range 40 {
		policy := []string{"Clinic staff", "staff", "AccessPolicy/staff", "Clinic staff"}[i%4]
		fmt.Fprintf(&b, "F%d,L%d,user%04d@example.com,%s,\n", i, i, i, policy)
	}
	b.WriteString("Nick,Riviera,riviera@example.com,00000000-0000-0000-0000-000000000000,north\n" + // 42
		"Nick,Riviera2,riviera2@example.com,00000000-0000-0000-0000-000000000000,\n") // 43
	writeFile(t, e, "users.csv", b.String())
	srv.ResetRequests()

	missing := "accessPolicy: no access policy named \"00000000-0000-0000-0000-000000000000\", nor with that id, in the project\n"
	e.Run("invite", "--csv", "users.csv", "-q").Expect(t, 2, "",
		"users.csv:42: "+missing+"users.csv:43: "+missing+
			"medplum: users.csv: 2 of 42 rows are invalid; nothing was sent (fix them, or pass --skip-invalid to send the other 40)\n")
	reads := 0
	for _, p := range clitest.Paths(srv) {
		if strings.Contains(p, "AccessPolicy") {
			reads++
		}
		if !strings.HasPrefix(p, "GET ") {
			t.Errorf("sent %s", p)
		}
	}
	// "Clinic staff" (a name), "staff" (a name, then an id),
	// AccessPolicy/staff (known by then), the missing one (a name, an id).
	if reads != 5 {
		t.Errorf("%d policy lookups, want 5:\n%s", reads, strings.Join(clitest.Paths(srv), "\n"))
	}

	e.Run("invite", "--csv", "users.csv", "-q", "--skip-invalid").ExpectCode(t, 0, "users.csv:42: "+missing+"users.csv:43: "+missing+
		"42 rows: 40 created, 0 exists, 0 updated, 0 failed, 2 skipped\n")
	for i := range 40 {
		if m := member(t, srv, fmt.Sprintf("user%04d@example.com", i)); m.Ref("accessPolicy") != "AccessPolicy/staff" {
			t.Errorf("user%04d: %v", i, m)
		}
	}
	if n := len(srv.RequestsTo(http.MethodPost, inviteRoute)); n != 40 {
		t.Errorf("%d invites sent, want 40", n)
	}
}
