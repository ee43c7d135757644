package review_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// A project with more members than offset paging reaches: every member is
// reviewed once, the pages read with a cursor.
func TestReviewScale(t *testing.T) {
	tg := clitest.NewScaleTarget(t)
	e := tg.SignedIn(t)
	out := e.Run("members", "review", "-o", "ndjson").ExpectCode(t, 0, "")
	seen := map[string]bool{}
	var summary struct {
		Counts struct{ Members int }
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var r struct{ Record, ID string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		switch r.Record {
		case "member":
			if seen[r.ID] {
				t.Fatalf("member %s twice", r.ID)
			}
			seen[r.ID] = true
		case "summary":
			json.Unmarshal([]byte(line), &summary)
		}
	}
	if len(seen) != tg.Memberships || summary.Counts.Members != tg.Memberships {
		t.Errorf("%d members, counted %d, want %d", len(seen), summary.Counts.Members, tg.Memberships)
	}
	if srv := tg.Sandbox; srv != nil {
		for _, r := range srv.RequestsTo("GET", "/fhir/R4/ProjectMembership") {
			if strings.Contains(r.RawQuery, "_offset") {
				t.Errorf("offset paging: %s", r.RawQuery)
			}
		}
	}
}

// The sandbox scaled to several pages of members (1000 a page) and an
// offset limit below them.
func TestReviewPagesPastTheOffsetLimit(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithMembers(2500), medplumtest.WithMaxSearchOffset(100))
	e := clitest.SignedIn(t, srv)
	r := e.Run("members", "review", "-o", "csv", "--no-header", "--columns", "id")
	ids := strings.Fields(r.Stdout)
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	if r.Code != 0 || len(ids) != 2504 || len(seen) != 2504 {
		t.Fatalf("exit %d: %d ids, %d distinct\n%s", r.Code, len(ids), len(seen), r.Stderr)
	}
	pages := srv.RequestsTo("GET", "/fhir/R4/ProjectMembership")
	if len(pages) != 3 || !strings.Contains(pages[1].RawQuery, "_cursor=") || !strings.Contains(pages[2].RawQuery, "_cursor=") {
		t.Errorf("%d pages: %v", len(pages), pages)
	}
	// Each page's users, requests and profiles: one search of each.
	for _, p := range []string{"/fhir/R4/User/_search", "/fhir/R4/UserSecurityRequest/_search", "/fhir/R4/Practitioner/_search"} {
		if n := len(srv.RequestsTo("POST", p)); n != 3 {
			t.Errorf("%d POST %s, want one a page", n, p)
		}
	}
}
