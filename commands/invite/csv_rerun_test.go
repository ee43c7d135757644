package invite_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// Issue 13, defect 4: rows skipped with --skip-invalid are not failures:
// the run exits 0 as its --dry-run does, and leaves no journal behind, so
// running the same command again sends the rows again and reports what
// the server says ("exists"), not "created" replayed from a journal.
func TestInviteCSVSkippedRowsEndTheRunLikeItsDryRun(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(3))
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "users.csv", users(3)+"Doctor,Bad,Role,bad@example.com\n")
	args := []string{"invite", "--csv", "users.csv", "--skip-invalid", "-q"}
	problem := "users.csv:5: role: unknown role \"Doctor\" (want Patient, Practitioner or RelatedPerson)\n"

	e.Run(append(args, "--dry-run")...).ExpectCode(t, 0, problem+
		"dry run: 3 invites would be sent to admin/projects/<signed-in project>/invite (1 invalid row skipped); nothing was sent\n")
	e.Run(args...).Expect(t, 0, "", problem+"4 rows: 3 created, 0 exists, 0 updated, 0 failed, 1 skipped\n")
	if _, err := os.Stat(filepath.Join(e.Home, "users.csv.journal")); !os.IsNotExist(err) {
		t.Fatalf("a journal outlived a run whose only leftovers are rows skipped on purpose: %v", err)
	}
	srv.ResetRequests()
	e.Run(args...).Expect(t, 0, "", problem+"4 rows: 0 created, 3 exists, 0 updated, 0 failed, 1 skipped\n")
	if n := len(srv.RequestsTo(http.MethodPost, inviteRoute)); n != 3 {
		t.Errorf("the second run sent %d invites, want 3", n)
	}
}

// Issue 13, defect 4: rows an earlier run finished (read from its journal,
// not sent again) are reported as done by it and counted apart, in the
// summary, the report and -o json.
func TestInviteCSVRowsFromTheJournalAreCountedApart(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(3))
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "users.csv", users(3))
	srv.Inject(medplumtest.Fault{Method: http.MethodPost, Path: inviteRoute, Body: `"user0002@example.com"`, Status: 412})
	e.Run("invite", "--csv", "users.csv", "-q").ExpectCode(t, 3, "3 rows: 2 created, 0 exists, 0 updated, 1 failed, 0 skipped\n"+
		"users.csv:4: user0002@example.com: Precondition Failed\n"+
		"run the same command again to retry the failed row (journal: users.csv.journal)\n"+
		"medplum: 1 of 3 rows failed\n")

	srv.ResetRequests()
	r := e.Run("invite", "--csv", "users.csv", "-q", "--report", "report.csv", "-o", "ndjson")
	r.ExpectCode(t, 0, "resuming from users.csv.journal: 2 rows done, 0 to look up, 1 failed before\n"+
		"3 rows: 1 created, 0 exists, 0 updated, 0 failed, 0 skipped; 2 rows done by an earlier run (2 created)\n"+
		"report: report.csv\n")
	if n := strings.Count(r.Stdout, `"earlierRun":true`); n != 2 {
		t.Errorf("%d rows said to be done earlier:\n%s", n, r.Stdout)
	}
	_, rows := readReport(t, filepath.Join(e.Home, "report.csv"))
	for line, want := range map[string]string{"2": "true", "3": "true", "4": "false"} {
		if rows[line][7] != want {
			t.Errorf("report line %s: earlier_run %q, want %s", line, rows[line][7], want)
		}
	}
	if n := len(srv.RequestsTo(http.MethodPost, inviteRoute)); n != 1 {
		t.Errorf("the second run sent %d invites, want 1", n)
	}
}
