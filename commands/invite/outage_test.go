package invite_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// The server goes down mid-run (it drops every connection from the 30th
// request on) and stays down: once it has answered nothing for --timeout,
// the run stops with exit 1, saying since when, and records what finished;
// no row is called failed. The same command, once the server is back,
// finishes the rest: one membership per row.
func TestInviteCSVStopsWhenServerUnreachable(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(6), medplumtest.WithConflictRate(0))
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "users.csv", users(200))
	before := len(srv.Memberships(srv.Seed.ProjectID))
	srv.Inject(medplumtest.Fault{Skip: 30, Times: 1 << 30, Drop: medplumtest.DropBeforeHandling})

	r := e.Run("invite", "--csv", "users.csv", "-q", "--timeout", "1s", "--concurrency", "4")
	made := len(srv.Memberships(srv.Seed.ProjectID)) - before
	want := regexp.MustCompile(`^` + regexp.QuoteMeta(fmt.Sprintf("200 rows: %d created, 0 exists, 0 updated, 0 failed, 0 skipped\n", made)+
		fmt.Sprintf("%d rows not done; run the same command again to finish them (journal: users.csv.journal)\n", 200-made)) +
		`medplum: server unreachable since \d\d:\d\d:\d\d \((the connection closed without an answer|read tcp [^)]*: connection reset by peer)\); run the same command again to continue\n` +
		regexp.QuoteMeta("check that the server is up and the base URL is right (medplum profile describe)\n") + `$`)
	if r.Code != 1 || r.Stdout != "" || !want.MatchString(r.Stderr) || made < 10 || made > 30 {
		t.Fatalf("run 1: exit %d, %d memberships made\nstdout:\n%s\nstderr:\n%s", r.Code, made, r.Stdout, r.Stderr)
	}

	srv.ClearFaults()
	r = e.Run("invite", "--csv", "users.csv", "-q")
	resumed := regexp.MustCompile(fmt.Sprintf(`^resuming from users\.csv\.journal: %d rows done, [0-4] to look up, 0 failed before\n`, made) +
		regexp.QuoteMeta(fmt.Sprintf("200 rows: %d created, 0 exists, 0 updated, 0 failed, 0 skipped; %d rows done by an earlier run (%d created)\n", 200-made, made, made)) + `$`)
	if r.Code != 0 || !resumed.MatchString(r.Stderr) {
		t.Fatalf("run 2: exit %d\nstderr:\n%s", r.Code, r.Stderr)
	}
	byEmail := membershipsByEmail(srv)
	for i := range 200 {
		if email := fmt.Sprintf("user%04d@example.com", i); byEmail[email] != 1 {
			t.Errorf("%s: %d memberships", email, byEmail[email])
		}
	}
}
