package invite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/clitest"
)

// Cells a spreadsheet would run as formulas (CSV injection) are written
// with a leading ' in -o csv and --report, as every -o csv is (numbers
// stay as they are); a cell written that way ('@Mal) is read back
// without it. On the sandbox and, in make test-real, a real Medplum.
func TestTargetInviteCSVReportNeutralisesFormulas(t *testing.T) {
	p, e, api := clitest.OwnProject(t, "invite-formula")
	tag := strings.ToLower(p.Unique("f"))
	ext := `=HYPERLINK("https://evil.example/?` + tag + `","open")`
	mal := "+mal-" + tag + "@example.com"
	writeFile(t, e, "users.csv", "role,firstName,lastName,email,externalId,scope,sendEmail\n"+
		`Patient,Eve,Doe,,"`+strings.ReplaceAll(ext, `"`, `""`)+`",project,false`+"\n"+
		"Practitioner,'@Mal,Lory,"+mal+",,project,false\n")
	r := e.Run("invite", "--csv", "users.csv", "--concurrency", "1", "-q", "-o", "csv", "--report", "results.csv")
	ms, err := api.SearchAll(context.Background(), "ProjectMembership?project=Project/"+p.ProjectID+"&_count=1000")
	if err != nil {
		t.Fatal(err)
	}
	var eve, mm client.Resource
	for _, m := range ms {
		switch {
		case m["externalId"] == ext:
			eve = m
		case strings.HasPrefix(m.Ref("profile"), "Practitioner/") && m.Display("profile") == "@Mal Lory":
			mm = m
		}
	}
	if eve == nil || mm == nil {
		t.Fatalf("not invited (or not named as the file says): %v %v; %+v", eve, mm, r)
	}
	r.Expect(t, 0,
		"line,email,external_id,status,membership_id,error,change,earlier_run\n"+
			`2,,"'`+strings.ReplaceAll(ext, `"`, `""`)+`",created,`+eve.ID()+",,,false\n"+
			"3,'"+mal+",,created,"+mm.ID()+",,,false\n",
		"2 rows: 2 created, 0 exists, 0 updated, 0 failed, 0 skipped\n"+
			"report: results.csv\n")
	report, err := os.ReadFile(filepath.Join(e.Home, "results.csv"))
	if err != nil || string(report) != r.Stdout {
		t.Errorf("report file (%v):\n%s\nwant the same as stdout", err, report)
	}
}
