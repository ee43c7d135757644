package invite_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// hrExport is testdata/invite/staff-export.csv: a staff list as an HR
// system exports it (a byte-order mark, CRLF, "First Name,Last Name,Email
// Address,Job Title", a blank line, a bad e-mail, a duplicate, accents).
func hrExport(t *testing.T, e *clitest.Env) {
	t.Helper()
	b, err := os.ReadFile("../../testdata/invite/staff-export.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "\uFEFFFirst Name,Last Name,Email Address,Job Title\r\n") || !strings.Contains(string(b), "\r\n\r\n") {
		t.Fatal("staff-export.csv is no longer what an HR system exports")
	}
	writeFile(t, e, "staff-export.csv", string(b))
}

// Issue 13: an HR export goes in without hand edits. The headers match
// without regard to case and spaces ("First Name", "Email Address"); the
// advice for "Job Title" leads somewhere (--map 'Job Title=ignore'); the
// bad e-mail and the duplicate are listed and skipped; a second run finds
// everyone a member already.
func TestInviteCSVFromAnHRExport(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(1))
	e := clitest.SignedIn(t, srv)
	hrExport(t, e)
	srv.ResetRequests()

	e.Run("invite", "--csv", "staff-export.csv").Expect(t, 2, "", "medplum: staff-export.csv:1: Job Title: unknown column\nnothing was sent\n"+
		"known columns: "+knownColumns+"\n"+
		"leave out a column the invites do not need with --map 'Job Title=ignore' (or --ignore-unknown-columns for all of them)\n")
	clitest.ExpectNothingSent(t, srv)

	problems := "staff-export.csv:5: Email Address: not a valid e-mail address: \"amelie.dubois@clinic\"\n" +
		"staff-export.csv:7: Email Address: duplicate: jose.nunez@clinic.example is already on line 3\n"
	args := []string{"invite", "--csv", "staff-export.csv", "--map", "Job Title=ignore", "--skip-invalid", "-q", "--report", "results.csv"}
	e.Run(args...).Expect(t, 0, "", problems+"5 rows: 3 created, 0 exists, 0 updated, 0 failed, 2 skipped\nreport: results.csv\n")
	for email, first := range map[string]string{"zoe.simunek@clinic.example": "Zoë Šimůnek", "jose.nunez@clinic.example": "José Núñez",
		"bjorn.angstrom@clinic.example": "Björn Ångström"} {
		if m := member(t, srv, email); m.Display("profile") != first {
			t.Errorf("%s: profile %q, want %q", email, m.Display("profile"), first)
		}
	}
	e.Run(args...).Expect(t, 0, "", problems+"5 rows: 0 created, 3 exists, 0 updated, 0 failed, 2 skipped\nreport: results.csv\n")
	if n := len(srv.RequestsTo(http.MethodPost, inviteRoute)); n != 6 {
		t.Errorf("%d invites sent over the two runs, want 6", n)
	}
	_, rows := readReport(t, filepath.Join(e.Home, "results.csv"))
	if rows["5"][3] != "skipped" || rows["7"][3] != "skipped" || rows["6"][1] != "bjorn.angstrom@clinic.example" {
		t.Errorf("report: %v", rows)
	}
}

// Issue 13, defect 6: advice that leads nowhere. A column the file needs is
// to be mapped, not ignored (ignoring it left "missing column firstName");
// the known columns are listed once; and every problem is listed: a
// duplicate too when every row has another problem.
func TestInviteCSVAdviceLeadsSomewhere(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(1))
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "given.csv", "Given,Family,Work Email,Nickname\nAda,Lovelace,ada@example.com,Countess\n")
	e.Run("invite", "--csv", "given.csv").Expect(t, 2, "",
		"medplum: given.csv:1: Given: unknown column\n"+
			"given.csv:1: Family: unknown column\n"+
			"given.csv:1: Work Email: unknown column\n"+
			"given.csv:1: Nickname: unknown column\n"+
			"given.csv:1: missing column firstName\n"+
			"given.csv:1: missing column lastName\n"+
			"given.csv:1: missing column email (or externalId)\n"+
			"nothing was sent\n"+
			"known columns: "+knownColumns+"\n"+
			"say which column holds firstName and lastName and email with --map, e.g. --map 'Given=firstName'\n"+
			"leave out a column the invites do not need with --map 'Given=ignore'\n")
	r := e.Run("invite", "--csv", "given.csv", "-q", "--map", "Given=firstName", "--map", "family=lastName", "--map", "Work Email=email", "--map", "Nickname=ignore")
	r.Expect(t, 0, "", "1 row: 1 created, 0 exists, 0 updated, 0 failed, 0 skipped\n")
	member(t, srv, "ada@example.com")

	// Every row has an unknown role; line 28 is also a duplicate of line 2.
	var b strings.Builder
	b.WriteString("role,firstName,lastName,email\n")
	for i := 2; i <= 28; i++ {
		email := fmt.Sprintf("user%04d@example.com", i)
		if i == 28 {
			email = "user0002@example.com"
		}
		fmt.Fprintf(&b, "Doctor,F%d,L%d,%s\n", i, i, email)
	}
	writeFile(t, e, "doctors.csv", b.String())
	r = e.Run("invite", "--csv", "doctors.csv")
	if r.Code != 2 || !strings.Contains(r.Stderr, "doctors.csv:28: role: unknown role \"Doctor\" (want Patient, Practitioner or RelatedPerson)\n"+
		"doctors.csv:28: email: duplicate: user0002@example.com is already on line 2\n") {
		t.Errorf("exit %d, stderr:\n%s", r.Code, r.Stderr)
	}
}
