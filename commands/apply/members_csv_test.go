package apply_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// Issue 13: apply's members CSV reads headers as invite --csv does ("E-mail",
// "First Name"), takes an active column like the YAML's members, and a blank
// admin cell leaves the member's admin as it is (invite --csv sends none)
// rather than demoting an admin. A header it cannot use gets advice apply can
// follow: there is no --ignore-unknown-columns to suggest.
func TestApplyMembersCSVReadsLikeInviteCSV(t *testing.T) {
	srv, e := newAcme(t)
	pid := srv.Seed.ProjectID
	r := e.Run("invite", "Alice", "Smith", "alice@example.com", "--admin")
	if r.Code != 0 {
		t.Fatalf("%+v", r)
	}
	writeFile(t, e, "members.csv", "\uFEFFE-mail,First Name,Last Name,Role,Admin,Active\r\n"+
		"alice@example.com,Alice,Smith,Practitioner,,false\r\n"+
		"bob@example.com,Bob,Jones,Practitioner,,\r\n")
	writeFile(t, e, "p.yaml", "project: {name: Acme Clinic}\nmembers: members.csv\n")
	out := e.Run("apply", "-f", "p.yaml", "--dry-run", "-o", "json").ExpectCode(t, 6, "medplum: dry run: changes are pending; nothing was changed\n")
	var plan struct{ Changes []map[string]any }
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range plan.Changes {
		b, _ := json.Marshal(c["details"])
		got[c["name"].(string)] = c["action"].(string) + " " + string(b)
	}
	if got["alice@example.com"] != `update ["active true -\u003e false"]` || got["bob@example.com"] != `create ["Practitioner"]` {
		t.Errorf("plan: %v", got)
	}
	e.Run("apply", "-f", "p.yaml", "--yes").ExpectCode(t, 0, "updated member alice@example.com (ProjectMembership/"+
		srv.MembershipByEmail(pid, "alice@example.com").ID()+")\n"+"invited member bob@example.com (ProjectMembership/"+
		srv.MembershipByEmail(pid, "bob@example.com").ID()+")\n")
	alice := srv.MembershipByEmail(pid, "alice@example.com")
	if alice["admin"] != true || alice["active"] != false {
		t.Errorf("alice: %v", alice)
	}
	if bob := srv.MembershipByEmail(pid, "bob@example.com"); bob == nil || bob["admin"] == true {
		t.Errorf("bob: %v", bob)
	}
	e.Run("apply", "-f", "p.yaml", "--dry-run").ExpectCode(t, 0, "")

	writeFile(t, e, "members.csv", "Given,Last Name,Email,Job Title\nAlice,Smith,alice@example.com,CMO\n")
	r = e.Run("apply", "-f", "p.yaml", "--dry-run")
	want := "members.csv:1: Given: unknown column\n  members.csv:1: Job Title: unknown column\n  members.csv:1: missing column firstName\n" +
		"  members.csv:1: the columns of a members CSV are resourceType (or role), firstName, lastName, email, externalId, admin, accessPolicy, " +
		"param:<name>, scope, patient, mfaRequired, sendEmail, active (names are matched without regard to case, spaces, hyphens and underscores); " +
		"rename or remove the others\n"
	if r.Code != 2 || !strings.HasSuffix(r.Stderr, want) || strings.Contains(r.Stderr, "--ignore-unknown-columns") {
		t.Errorf("exit %d, stderr:\n%s\nwant the suffix\n%s", r.Code, r.Stderr, want)
	}
}
