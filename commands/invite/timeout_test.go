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

// In a bulk run, an invite the server made but never answered ends after
// --timeout instead of stalling the run, and is in doubt like a dropped
// connection: it is looked up before anything is sent again, found, and
// reported as created. Every row ends created, with one invite request and
// one membership each.
func TestInviteCSVTimedOutInviteIsLookedUp(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(5), medplumtest.WithConflictRate(0))
	never := make(chan struct{})
	t.Cleanup(func() { close(never) })
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "users.csv", users(5))
	const held = `"user0002@example.com"`
	srv.Inject(medplumtest.Fault{Method: http.MethodPost, Path: inviteRoute, Body: held, Drop: medplumtest.DropAfterHandling, Hold: never})

	r := e.Run("invite", "--csv", "users.csv", "-q", "--timeout", "1s", "--concurrency", "2", "-o", "csv")
	r.ExpectCode(t, 0, "5 rows: 5 created, 0 exists, 0 updated, 0 failed, 0 skipped\n")
	for email, n := range invitesByEmail(t, srv) {
		if n != 1 {
			t.Errorf("%s: %d invite requests", email, n)
		}
	}
	byEmail := membershipsByEmail(srv)
	for i := range 5 {
		email := fmt.Sprintf("user%04d@example.com", i)
		if byEmail[email] != 1 {
			t.Errorf("%s: %d memberships", email, byEmail[email])
		}
		if m := srv.MembershipByEmail(srv.Seed.ProjectID, email); m == nil || !strings.Contains(r.Stdout, ","+email+",,created,"+m.ID()+",,,false\n") {
			t.Errorf("%s is not reported created with its membership:\n%s", email, r.Stdout)
		}
	}
	if len(srv.PendingFaults()) != 0 {
		t.Error("the held invite was never sent")
	}
	if _, err := os.Stat(filepath.Join(e.Home, "users.csv.journal")); !os.IsNotExist(err) {
		t.Errorf("journal left after a complete run: %v", err)
	}
}
