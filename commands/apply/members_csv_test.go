package apply_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
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
		"say what the others are in the apply file, e.g. members: {csv: FILE, map: {\"Given\": ignore}}, with a column name or ignore\n"
	if r.Code != 2 || !strings.HasSuffix(r.Stderr, want) || strings.Contains(r.Stderr, "--ignore-unknown-columns") {
		t.Errorf("exit %d, stderr:\n%s\nwant the suffix\n%s", r.Code, r.Stderr, want)
	}

	// The map the advice names: the same CSV goes in as it is.
	writeFile(t, e, "p.yaml", "project: {name: Acme Clinic}\nmembers:\n  csv: members.csv\n  map: {Given: firstName, \"Job Title\": ignore}\n")
	e.Run("apply", "-f", "p.yaml", "--dry-run").ExpectCode(t, 0, "")
}

// Issue 13: an HR export (a byte-order mark, CRLF, "First Name,Last
// Name,Email Address,Job Title", a blank line, accents) goes into apply as
// it is, the file saying what its other columns are; a map entry that names
// no column is refused with the others, and nothing is sent.
func TestApplyMembersCSVFromAnHRExport(t *testing.T) {
	srv, e := newAcme(t)
	pid := srv.Seed.ProjectID
	writeFile(t, e, "staff.csv", "\uFEFFFirst Name,Last Name,Email Address,Job Title,Work Phone\r\n"+
		"Zoë,Šimůnek,zoe.simunek@clinic.example,Nurse,555-0100\r\n\r\n"+
		"José,Núñez,jose.nunez@clinic.example,\"Physician, Cardiology\",\r\n")
	writeFile(t, e, "p.yaml", "project: {name: Acme Clinic}\nmembers:\n  csv: staff.csv\n  map:\n    Job Title: ignore\n    work-phone: nickname\n")
	e.Run("apply", "-f", "p.yaml", "--yes").Expect(t, 2, "", "medplum: p.yaml is not valid (3 problems); nothing was sent:\n"+
		"  staff.csv:1: work-phone: cannot be mapped to \"nickname\": not a column (known: "+
		"resourceType (or role), firstName, lastName, email, externalId, admin, accessPolicy, param:<name>, scope, patient, mfaRequired, sendEmail, active; or ignore)\n"+
		"  staff.csv:1: Work Phone: unknown column\n"+
		"  staff.csv:1: the columns of a members CSV are resourceType (or role), firstName, lastName, email, externalId, admin, accessPolicy, "+
		"param:<name>, scope, patient, mfaRequired, sendEmail, active (names are matched without regard to case, spaces, hyphens and underscores); "+
		"say what the others are in the apply file, e.g. members: {csv: FILE, map: {\"Work Phone\": ignore}}, with a column name or ignore\n")
	writeFile(t, e, "p.yaml", "project: {name: Acme Clinic}\nmembers:\n  csv: staff.csv\n  map:\n    Job Title: ignore\n    work-phone: ignore\n")
	r := e.Run("apply", "-f", "p.yaml", "--yes")
	if r.Code != 0 || !strings.Contains(r.Stdout, "  create        member zoe.simunek@clinic.example (Practitioner)\n  create        member jose.nunez@clinic.example (Practitioner)\n") {
		t.Fatalf("apply of the HR export: %+v", r)
	}
	for _, email := range []string{"zoe.simunek@clinic.example", "jose.nunez@clinic.example"} {
		if srv.MembershipByEmail(pid, email) == nil {
			t.Errorf("%s is not a member", email)
		}
	}
	if p := srv.MembershipByEmail(pid, "zoe.simunek@clinic.example"); p != nil && membershipName(srv, p) != "Zoë Šimůnek" {
		t.Errorf("Zoë's profile: %q", membershipName(srv, p))
	}
	e.Run("apply", "-f", "p.yaml", "--dry-run").ExpectCode(t, 0, "")
	writeFile(t, e, "p.yaml", "project: {name: Acme Clinic}\nmembers:\n  map: {a: b}\n")
	e.Run("apply", "-f", "p.yaml", "--dry-run").Expect(t, 2, "", "medplum: p.yaml is not valid (1 problem); nothing was sent:\n  p.yaml:3: members.csv: is required: the path of the members CSV\n")
}

// membershipName is the display name of a membership's profile, as the
// server holds it.
func membershipName(srv *medplumtest.Server, m client.Resource) string {
	typ, id, _ := client.SplitReference(m.Ref("profile"))
	p := srv.Resource(typ, id)
	names, _ := p["name"].([]any)
	if len(names) == 0 {
		return ""
	}
	n, _ := names[0].(map[string]any)
	given, _ := n["given"].([]any)
	parts := []string{}
	for _, g := range given {
		parts = append(parts, g.(string))
	}
	return strings.Join(append(parts, fmt.Sprint(n["family"])), " ")
}
