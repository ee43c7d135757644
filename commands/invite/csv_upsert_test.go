package invite_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// Issue 13, defect 1, with --csv: over a file, --upsert demoted every
// admin it touched (Medplum 5.0.10 removes what an upsert leaves out,
// captures 201-203). A row changes only what it names; a blank cell keeps
// the member's; the dry run and the report show before -> after.
func TestInviteCSVUpsertChangesOnlyWhatRowsName(t *testing.T) {
	srv, e, homer := staffAndNurses(t)
	project := srv.Seed.ProjectID
	admin := promote(t, srv, srv.Seed.AdminEmail, "AccessPolicy/staff")
	writeFile(t, e, "staff.csv", "role,firstName,lastName,email,admin,accessPolicy\n"+
		"Patient,Homer,Simpson,homer@example.com,,\n"+ // 2 nothing named: unchanged
		"Practitioner,Medplum,Admin,"+srv.Seed.AdminEmail+",,Nurses\n"+ // 3 a new policy; still an admin
		"Practitioner,Carl,Carlson,carl@example.com,,Nurses\n") // 4 new
	srv.ResetRequests()

	r := e.Run("invite", "--csv", "staff.csv", "--upsert", "--dry-run")
	r.Expect(t, 0, `{"line":2,"membership":"`+homer.ID()+`"}`+"\n"+
		`{"line":3,"membership":"`+admin.ID()+`","change":"access \"Clinic staff\" -> \"Nurses\"",`+
		`"body":{"email":"`+srv.Seed.AdminEmail+`","firstName":"Medplum","lastName":"Admin","membership":{"accessPolicy":{"reference":"AccessPolicy/nurses"},"admin":true},"resourceType":"Practitioner","sendEmail":false,"upsert":true}}`+"\n"+
		`{"line":4,"body":{"resourceType":"Practitioner","firstName":"Carl","lastName":"Carlson","email":"carl@example.com","sendEmail":false,"membership":{"accessPolicy":{"reference":"AccessPolicy/nurses"}}}}`+"\n",
		"dry run: 2 invites would be sent to admin/projects/"+project+"/invite (1 update to members, 1 member unchanged); nothing was sent\n")
	if n := len(srv.RequestsTo(http.MethodPost, "/admin/projects/*")); n != 0 {
		t.Fatalf("the dry run sent %d requests", n)
	}

	r = e.Run("invite", "--csv", "staff.csv", "--upsert", "-q", "-o", "csv", "--concurrency", "1")
	carl := member(t, srv, "carl@example.com")
	r.Expect(t, 0, "line,email,external_id,status,membership_id,error,change,earlier_run\n"+
		"2,homer@example.com,,exists,"+homer.ID()+",,,false\n"+
		"3,"+srv.Seed.AdminEmail+",,updated,"+admin.ID()+",,"+`"access ""Clinic staff"" -> ""Nurses"""`+",false\n"+
		"4,carl@example.com,,created,"+carl.ID()+",,,false\n",
		"3 rows: 1 created, 1 exists, 1 updated, 0 failed, 0 skipped\n")
	for email, want := range map[string]string{"homer@example.com": "true AccessPolicy/staff", srv.Seed.AdminEmail: "true AccessPolicy/nurses"} {
		m := member(t, srv, email)
		if got := boolText(m["admin"]) + " " + accessText(m); got != want {
			t.Errorf("%s: admin and access %s, want %s", email, got, want)
		}
	}
}

// What --upsert changes ("access \"Clinic staff\" -> \"Nurses\"") reads
// as it is in the results (-o ndjson) and in the journal a failed row
// leaves, which people read: not "-\u003e" (Go's JSON escapes <, > and &
// for HTML).
func TestInviteCSVResultsAndJournalKeepArrows(t *testing.T) {
	srv, e, homer := staffAndNurses(t)
	writeFile(t, e, "staff.csv", "role,firstName,lastName,email,accessPolicy\n"+
		"Patient,Homer,Simpson,homer@example.com,Nurses\n"+
		"Practitioner,Carl,Carlson,carl@example.com,Nurses\n")
	srv.Inject(medplumtest.Fault{Method: http.MethodPost, Path: "/admin/projects/*/invite", Body: "carl@example.com", Status: http.StatusPreconditionFailed})

	r := e.Run("invite", "--csv", "staff.csv", "--upsert", "-q", "-o", "ndjson", "--concurrency", "1")
	r.Expect(t, 3, `{"line":2,"email":"homer@example.com","status":"updated","membershipId":"`+homer.ID()+`","change":"access \"Clinic staff\" -> \"Nurses\""}`+"\n"+
		`{"line":3,"email":"carl@example.com","status":"failed","error":"Precondition Failed"}`+"\n",
		"2 rows: 0 created, 0 exists, 1 updated, 1 failed, 0 skipped\n"+
			"staff.csv:3: carl@example.com: Precondition Failed\n"+
			"run the same command again to retry the failed row (journal: staff.csv.journal)\n"+
			"medplum: 1 of 2 rows failed\n")
	b, err := os.ReadFile(filepath.Join(e.Home, "staff.csv.journal"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `"change":"access \"Clinic staff\" -> \"Nurses\""`; !strings.Contains(string(b), want) || strings.Contains(string(b), `\u00`) {
		t.Errorf("the journal:\n%s\nwant %s in it, and no \\u00", b, want)
	}
}

// A refusal that stops the run (403) at the last row: every row was
// answered, so nothing is "not done"; the failed row is retried by the
// next run. It said "0 rows not done; run the same command again to
// finish them".
func TestInviteCSVStoppedAtTheLastRowSaysWhatToRetry(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(1))
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "staff.csv", "role,firstName,lastName,email\n"+
		"Practitioner,Lenny,Leonard,lenny@example.com\n"+
		"Practitioner,Carl,Carlson,carl@example.com\n")
	srv.Inject(medplumtest.Fault{Method: http.MethodPost, Path: "/admin/projects/*/invite", Body: "carl@example.com", Status: http.StatusForbidden})
	r := e.Run("invite", "--csv", "staff.csv", "--concurrency", "1", "-q")
	r.Expect(t, 5, "", "2 rows: 1 created, 0 exists, 0 updated, 1 failed, 0 skipped\n"+
		"staff.csv:3: carl@example.com: Forbidden\n"+
		"run the same command again to retry the failed row (journal: staff.csv.journal)\n"+
		"medplum: stopped at line 3: Forbidden\n")
	e.Run("invite", "--csv", "staff.csv", "--concurrency", "1", "-q").Expect(t, 0, "", "resuming from staff.csv.journal: 1 row done, 0 to look up, 1 failed before\n"+
		"2 rows: 1 created, 0 exists, 0 updated, 0 failed, 0 skipped; 1 row done by an earlier run (1 created)\n")
	if member(t, srv, "carl@example.com") == nil {
		t.Error("carl was not invited by the second run")
	}
}

// staffAndNurses is a sandbox with the policies "Clinic staff" and
// "Nurses", and Homer an admin under the first.
func staffAndNurses(t *testing.T) (*medplumtest.Server, *clitest.Env, client.Resource) {
	t.Helper()
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(1))
	e := clitest.SignedIn(t, srv)
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "AccessPolicy", "id": "staff", "name": "Clinic staff"})
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "AccessPolicy", "id": "nurses", "name": "Nurses"})
	return srv, e, promote(t, srv, "homer@example.com", "AccessPolicy/staff")
}
