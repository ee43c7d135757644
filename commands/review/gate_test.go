package review_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
	"github.com/medplumcli/medplum/commands/review"
	"golang.org/x/net/html"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// --fail-on: exit 6 when a finding at or above the severity is not
// accepted, 0 otherwise; the output is the same either way.
func TestReviewFailOn(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	rows := tsvHeader + seedRows(t, srv)
	e.Run("members", "review", "--fail-on", "high").Expect(t, 6, rows,
		seedSummary+"medplum: 1 finding at or above high (--fail-on high)\n"+
			"and 1 check at or above high could not be made: admin-without-mfa for 1 member ("+hidden+")\n")
	both := "admin-without-mfa for 1 member (" + hidden + "); stale-invite for 1 member (" + hidden + "); missing-user for 1 member (" + hidden + ")\n"
	e.Run("members", "review", "--fail-on", "medium").Expect(t, 6, rows,
		seedSummary+"medplum: 2 findings at or above medium (--fail-on medium)\n"+
			"and 3 checks at or above medium could not be made: "+both)
	e.Run("members", "review", "--fail-on", "LOW", "-o", "csv", "--columns", "id", "--no-header").ExpectCode(t, 6,
		seedSummary+"medplum: 2 findings at or above low (--fail-on low)\n"+
			"and 3 checks at or above low could not be made: "+both)

	// Once the project requires MFA and the client's admin rights are
	// accepted, nothing fails at any level, when what could not be checked
	// is accepted too (TestReviewFailOnUnchecked).
	srv.Update(func() client.Resource {
		p := srv.Resource("Project", srv.Seed.ProjectID)
		p["setting"] = []any{map[string]any{"name": "mfaRequired", "valueBoolean": true}}
		return p
	}())
	ign := writeFile(t, "accepted.yaml", "- rule: client-admin\n  member: Sandbox Project Admin Client\n  reason: provisions the project from CI\n")
	out := e.Run("members", "review", "--fail-on", "low", "--allow-unchecked", "--ignore", ign, "-o", "csv", "--no-header", "--columns", "name").ExpectCode(t, 0,
		"Findings: 0 high, 0 medium, 0 low (and 1 accepted)\n"+
			"  accepted  client-admin  Sandbox Project Admin Client  provisions the project from CI ["+ign+":1]\n"+
			"Not checked (the data is not visible to these credentials):\n"+
			"  admin-without-mfa  1 member  "+hidden+": Medplum Admin\n"+
			"  stale-invite       1 member  "+hidden+": Medplum Admin\n"+
			"  missing-user       1 member  "+hidden+": Medplum Admin\n"+
			"4 members (2 people, 1 client, 1 bot): 2 admins, 0 deactivated, 0 invites pending, 1 unknown; 1 with values these credentials cannot read\n")
	if out != "Medplum Admin\nSandbox Project Admin Client\nHomer Simpson\nSandbox Bot\n" {
		t.Errorf("stdout:\n%s", out)
	}
}

// An ignore file accepts findings by rule and member (any selector), with
// a reason and an optional expiry; expired and stale entries are reported.
func TestReviewIgnoreFile(t *testing.T) {
	f := newFixture(t)
	f.policy("Clinician")
	ada := f.person("Ada", "Admin", true, false)
	f.person("Bob", "Open", false, false)
	carl := f.person("Carl", "Open", false, false)
	yesterday := time.Now().UTC().Add(-24 * time.Hour).Format("2006-01-02")
	nextYear := time.Now().UTC().AddDate(1, 0, 0).Format("2006-01-02")
	ign := writeFile(t, "accepted.yaml", `# accepted risks, reviewed monthly
- rule: admin-without-mfa
  member: ada.admin@example.com
  reason: hardware key on order (J. Doe)
  expires: `+nextYear+`
- rule: member-without-access-policy
  member: "*"
  reason: everyone may read everything until the policies are written
  expires: `+yesterday+`
- rule: member-without-access-policy
  member: `+carl.Ref("profile")+`
  reason: Carl is the data steward
- rule: project-mfa-not-required
  reason: enforced by the identity provider
- rule: client-admin
  member: `+ada.ID()+`
  reason: nothing to accept here
`)
	rv := f.review("--ignore", ign)
	var accepted, open []string
	for _, fd := range rv.Findings {
		who := fd.Name
		if fd.Member == "" {
			who = "(project)"
		}
		if fd.Accepted != nil {
			accepted = append(accepted, fd.Rule+" "+who+": "+fd.Accepted.Reason+" until "+fd.Accepted.Expires+" "+fd.Accepted.Where)
		} else {
			open = append(open, fd.Rule+" "+who)
		}
	}
	expectList(t, "accepted", sorted(accepted),
		"admin-without-mfa Ada Admin: hardware key on order (J. Doe) until "+nextYear+" "+ign+":2",
		"member-without-access-policy Carl Open: Carl is the data steward until  "+ign+":10",
		"project-mfa-not-required (project): enforced by the identity provider until  "+ign+":13")
	expectList(t, "not accepted", sorted(open),
		"client-admin Sandbox Project Admin Client",
		"member-without-access-policy Bob Open",
		"member-without-access-policy Homer Simpson",
		"member-without-access-policy Sandbox Bot")
	expectList(t, "ignore notes", func() []string {
		var out []string
		for _, n := range rv.IgnoreNotes {
			out = append(out, n.Where+" "+n.Rule+" "+n.Member+": "+n.Note)
		}
		return sorted(out)
	}(),
		ign+":6 member-without-access-policy *: expired on "+yesterday+": no longer applies",
		ign+":15 client-admin "+ada.ID()+": matches no finding")
	for _, r := range rv.Rules {
		if r.ID == review.RuleAdminMFA && (r.Result != "incomplete" || r.Accepted != 1 || r.Findings != 0) {
			t.Errorf("admin-without-mfa: %+v", r)
		}
	}
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// Every problem of an ignore file at once, each with its line: exit 2,
// nothing sent.
func TestReviewIgnoreFileErrors(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	ign := writeFile(t, "bad.yaml", `- rule: admin-without-mfaa
  member: x@example.com
  reason: typo
- rule: stale-invite
  reason: no member
- rule: client-admin
  member: "a b@c"
  reason: ""
- rule: project-mfa-not-required
  member: someone
  reason: a project rule
  expires: next week
- rule: inactive-admin
  member: Bob
  reason: ok
  owner: me
- just a string
`)
	e.Run("members", "review", "--ignore", ign).Expect(t, 2, "", "medplum: --ignore: "+
		ign+":1: rule: unknown rule \"admin-without-mfaa\" (one of "+review.RuleIDs()+")\n  "+
		ign+":4: member: missing (the member stale-invite is accepted for: a membership id, e-mail, name or reference; \"*\" for all)\n  "+
		ign+":8: reason: missing (say why the risk is accepted, and who accepted it)\n  "+
		ign+":10: member: project-mfa-not-required is a rule of the project, not of a member: leave member out\n  "+
		ign+":12: expires: want a date (2027-06-30) or an instant (2027-06-30T12:00:00Z), got \"next week\"\n  "+
		ign+":16: unknown key \"owner\" (want rule, member, reason, expires)\n  "+
		ign+":17: entry 6: want rule, member, reason and expires\n")
	clitest.ExpectNothingSent(t, srv)

	notYAML := writeFile(t, "notyaml.yaml", "- rule: [unclosed\n")
	e.Run("members", "review", "--ignore", notYAML).ExpectCode(t, 2, "medplum: --ignore "+notYAML+": not YAML: line 1: did not find expected ',' or ']'\n")
	asMap := writeFile(t, "map.yaml", "rule: x\n")
	e.Run("members", "review", "--ignore", asMap).ExpectCode(t, 2, "medplum: "+asMap+":1: want a list of entries (- rule: ..., member: ..., reason: ...)\n")
	e.Run("members", "review", "--ignore", writeFile(t, "empty.yaml", "# nothing accepted yet\n"), "-o", "csv", "--columns", "id").ExpectCode(t, 0, seedSummary)
}

// --baseline: what changed since an earlier review.
func TestReviewBaseline(t *testing.T) {
	f := newFixture(t)
	p := f.policy("Clinician")
	stays := f.person("Stays", "Same", false, false)
	f.set(stays, withPolicy(p))
	leaves := f.person("Will", "Leave", true, false)
	promoted := f.person("Gets", "Promoted", false, false)
	paused := f.person("Gets", "Paused", false, false)
	base := filepath.Join(t.TempDir(), "before.json")
	r := f.e.Run("members", "review", "-o", "json")
	if r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	os.WriteFile(base, []byte(r.Stdout), 0o600)
	before := decodeReview(t, r)

	// A month of changes.
	if err := f.api.DeleteMembership(t.Context(), f.srv.Seed.ProjectID, leaves.ID()); err != nil {
		t.Fatal(err)
	}
	f.set(promoted, func(m client.Resource) { m["admin"] = true })
	f.set(paused, func(m client.Resource) { m["active"] = false })
	f.set(stays, func(m client.Resource) {
		delete(m, "accessPolicy")
		m["access"] = []any{map[string]any{"policy": map[string]any{"reference": p},
			"parameter": []any{map[string]any{"name": "org", "valueReference": map[string]any{"reference": "Organization/west"}}}}}
	})
	added := f.person("New", "Admin", true, false)

	rv := f.review("--baseline", base)
	var got []string
	for _, c := range rv.Changes {
		got = append(got, c.Change+" "+c.Name+" ("+c.Member+") "+c.From+" -> "+c.To)
	}
	expectList(t, "changes", sorted(got),
		"access-changed Stays Same ("+stays.ID()+") Clinician -> Clinician (org=Organization/west)",
		"added New Admin ("+added.ID()+")  -> person, admin",
		"admin-granted Gets Promoted ("+promoted.ID()+")  -> ",
		"deactivated Gets Paused ("+paused.ID()+")  -> ",
		"removed Will Leave ("+leaves.ID()+") person, admin -> ",
		// The findings too: new risks and resolved ones, by rule and member.
		"finding-new Gets Promoted ("+promoted.ID()+")  -> admin-without-mfa (high): project admin without MFA enrolled",
		"finding-new New Admin ("+added.ID()+")  -> admin-without-mfa (high): project admin without MFA enrolled",
		"finding-resolved Gets Paused ("+paused.ID()+") member-without-access-policy (medium) -> ",
		"finding-resolved Gets Promoted ("+promoted.ID()+") member-without-access-policy (medium) -> ",
		"finding-resolved Will Leave ("+leaves.ID()+") admin-without-mfa (high) -> ")

	// The summary says it too, and when the baseline was taken.
	sum := f.e.Run("members", "review", "--baseline", base, "-o", "csv", "--columns", "id")
	sum.ExpectCode(t, 0, "Findings: 3 high, 3 medium, 0 low\n"+
		"  high    client-admin                  Sandbox Project Admin Client  client application with admin rights\n"+
		"  high    admin-without-mfa             Gets Promoted                 project admin without MFA enrolled\n"+
		"  high    admin-without-mfa             New Admin                     project admin without MFA enrolled\n"+
		"  medium  project-mfa-not-required      (project)                     the project's setting mfaRequired is not true: each user decides whether to enrol\n"+
		"  medium  member-without-access-policy  Homer Simpson                 no access policy, in a project with 1 access policy\n"+
		"  medium  member-without-access-policy  Sandbox Bot                   no access policy, in a project with 1 access policy\n"+
		"Not checked (the data is not visible to these credentials):\n"+
		"  admin-without-mfa  1 member  "+hidden+": Medplum Admin\n"+
		"  stale-invite       1 member  "+hidden+": Medplum Admin\n"+
		"  missing-user       1 member  "+hidden+": Medplum Admin\n"+
		"Changes since "+before.ReviewedAt+" ("+base+"): 10 changes\n"+
		"  admin-granted     Gets Promoted\n"+
		"  finding-new       Gets Promoted  admin-without-mfa (high): project admin without MFA enrolled\n"+
		"  deactivated       Gets Paused\n"+
		"  access-changed    Stays Same     Clinician -> Clinician (org=Organization/west)\n"+
		"  added             New Admin      person, admin\n"+
		"  finding-new       New Admin      admin-without-mfa (high): project admin without MFA enrolled\n"+
		"  removed           Will Leave     person, admin\n"+
		"  finding-resolved  Will Leave     admin-without-mfa (high)\n"+
		"  finding-resolved  Gets Paused    member-without-access-policy (medium)\n"+
		"  finding-resolved  Gets Promoted  member-without-access-policy (medium)\n"+
		"8 members (6 people, 1 client, 1 bot): 4 admins, 1 deactivated, 4 invites pending, 1 unknown; 1 with values these credentials cannot read\n")
	var ids []string
	for _, m := range f.srv.Resources("ProjectMembership", f.srv.Seed.ProjectID) {
		ids = append(ids, m.ID())
	}
	expectList(t, "the csv's ids", strings.Split(strings.TrimSuffix(strings.TrimPrefix(sum.Stdout, "id\n"), "\n"), "\n"), ids...)
	if !strings.HasPrefix(sum.Stdout, "id\n") || len(ids) != 8 {
		t.Errorf("-o csv --columns id: %d members on the server, want 8; stdout:\n%s", len(ids), sum.Stdout)
	}

	// The HTML page lists the same changes.
	page := filepath.Join(t.TempDir(), "review.html")
	if r := f.e.Run("members", "review", "--baseline", base, "--html", page); r.Code != 0 {
		t.Fatalf("--html: exit %d\n%s", r.Code, r.Stderr)
	}
	var rows []string
	for _, tr := range find(parsePage(t, page), func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-change") != "" }) {
		rows = append(rows, strings.Join(cells(tr), " | "))
	}
	// (the same changes as -o json's, checked above)
	var fromJSON []string
	for _, c := range rv.Changes {
		fromJSON = append(fromJSON, c.Change+" | "+c.Name+" "+c.Member+" | "+c.From+" | "+c.To)
	}
	expectList(t, "the page's changes", rows, fromJSON...)

	// A review of another project is no baseline for this one.
	other := writeFile(t, "other.json", strings.Replace(r.Stdout, f.srv.Seed.ProjectID, "other-project", 1))
	f.srv.ResetRequests()
	f.e.Run("members", "review", "--baseline", other).Expect(t, 2, "",
		"medplum: --baseline "+other+" is a review of project other-project, not of "+f.srv.Seed.ProjectID+"\n")
	clitest.ExpectPaths(t, f.srv, "GET /auth/me")
}

// A gate does not pass on what it could not see: when a rule at or above
// --fail-on could not be checked for some member, the review exits 7 and
// says which rules, for how many members and why; --allow-unchecked
// accepts it. Findings still exit 6, with the unchecked rules named after.
func TestReviewFailOnUnchecked(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	// Every run prints the members' ids, in the order read.
	ids := ""
	for _, m := range srv.Memberships(srv.Seed.ProjectID) {
		ids += m.ID() + "\n"
	}
	// The seed as a project admin: client-admin (high) found,
	// admin-without-mfa (high) and stale-invite (medium) not checked for
	// the server-scoped Medplum Admin.
	e.Run("members", "review", "--fail-on", "high", "-o", "csv", "--columns", "id", "--no-header").Expect(t, 6, ids,
		seedSummary+"medplum: 1 finding at or above high (--fail-on high)\n"+
			"and 1 check at or above high could not be made: admin-without-mfa for 1 member ("+hidden+")\n")
	e.Run("members", "review", "--fail-on", "high", "--allow-unchecked", "-o", "csv", "--columns", "id", "--no-header").Expect(t, 6, ids,
		seedSummary+"medplum: 1 finding at or above high (--fail-on high)\n")

	// Nothing found, but two checks at or above medium not made: exit 7.
	srv.Update(func() client.Resource {
		p := srv.Resource("Project", srv.Seed.ProjectID)
		p["setting"] = []any{map[string]any{"name": "mfaRequired", "valueBoolean": true}}
		return p
	}())
	ign := writeFile(t, "accepted.yaml", "- rule: client-admin\n  member: Sandbox Project Admin Client\n  reason: provisions the project from CI\n")
	summary := "Findings: 0 high, 0 medium, 0 low (and 1 accepted)\n" +
		"  accepted  client-admin  Sandbox Project Admin Client  provisions the project from CI [" + ign + ":1]\n" +
		"Not checked (the data is not visible to these credentials):\n" +
		"  admin-without-mfa  1 member  " + hidden + ": Medplum Admin\n" +
		"  stale-invite       1 member  " + hidden + ": Medplum Admin\n" +
		"  missing-user       1 member  " + hidden + ": Medplum Admin\n" +
		"4 members (2 people, 1 client, 1 bot): 2 admins, 0 deactivated, 0 invites pending, 1 unknown; 1 with values these credentials cannot read\n"
	tip := "The gate does not pass on what it could not see: review as a super admin (--project <id>) to read server-scoped users, or pass --allow-unchecked to accept it.\n"
	args := []string{"members", "review", "--ignore", ign, "-o", "csv", "--columns", "id", "--no-header"}
	e.Run(append(args, "--fail-on", "high")...).Expect(t, 7, ids, summary+
		"medplum: --fail-on high: 1 check at or above high could not be made: admin-without-mfa for 1 member ("+hidden+")\n"+tip)
	e.Run(append(args, "--fail-on", "medium")...).Expect(t, 7, ids, summary+
		"medplum: --fail-on medium: 3 checks at or above medium could not be made: admin-without-mfa for 1 member ("+hidden+"); stale-invite for 1 member ("+hidden+"); missing-user for 1 member ("+hidden+")\n"+tip)
	e.Run(append(args, "--fail-on", "medium", "--allow-unchecked")...).Expect(t, 0, ids, summary)
	// Without a gate, nothing to fail.
	e.Run(args...).Expect(t, 0, ids, summary)
	// --allow-unchecked means nothing without a gate.
	e.Run(append(args, "--allow-unchecked")...).Expect(t, 2, "", "medplum: --allow-unchecked: only with --fail-on\nRun 'medplum members review --help' for usage.\n")

	// A super admin sees the admin's User: the check is made, and fails.
	e.Set("MEDPLUM_CLIENT_ID", srv.Seed.SuperAdminClient.ID).Set("MEDPLUM_CLIENT_SECRET", srv.Seed.SuperAdminClient.Secret)
	e.Run(append(args, "--fail-on", "high", "--project", srv.Seed.ProjectID)...).Expect(t, 6, ids,
		"Findings: 1 high, 0 medium, 0 low (and 1 accepted)\n"+
			"  high      admin-without-mfa  Medplum Admin                 project admin without MFA enrolled\n"+
			"  accepted  client-admin       Sandbox Project Admin Client  provisions the project from CI ["+ign+":1]\n"+
			"4 members (2 people, 1 client, 1 bot): 2 admins, 0 deactivated, 0 invites pending\n"+
			"medplum: 1 finding at or above high (--fail-on high)\n")
}

// An ignore entry's member names exactly one member, as a <member>
// argument does: a name two members share is exit 2, naming the line and
// the candidates, before any review output.
func TestReviewIgnoreAmbiguousMember(t *testing.T) {
	f := newFixture(t)
	one := f.invite(map[string]any{"resourceType": "Practitioner", "firstName": "Non", "lastName": "Mfa",
		"email": "non.mfa.1@example.com", "admin": true, "scope": "project"})
	two := f.invite(map[string]any{"resourceType": "Practitioner", "firstName": "Non", "lastName": "Mfa",
		"email": "non.mfa.2@example.com", "admin": true, "scope": "project"})
	ign := writeFile(t, "accepted.yaml", "- rule: admin-without-mfa\n  member: Non Mfa\n  reason: hardware key on order\n")
	f.e.Run("members", "review", "--ignore", ign, "--fail-on", "high").Expect(t, 2, "",
		"medplum: --ignore "+ign+":2: member: Non Mfa matches 2 members of project "+f.srv.Seed.ProjectID+"; name one by its membership id:\n"+
			"  "+one.ID()+"  Non Mfa (Practitioner, non.mfa.1@example.com)\n"+
			"  "+two.ID()+"  Non Mfa (Practitioner, non.mfa.2@example.com)\n")
	// By e-mail, it names one: accepted for her alone.
	ign = writeFile(t, "accepted.yaml", "- rule: admin-without-mfa\n  member: non.mfa.1@example.com\n  reason: hardware key on order\n")
	rv := f.review("--ignore", ign)
	var accepted []string
	for _, fd := range rv.Findings {
		if fd.Rule == review.RuleAdminMFA && fd.Accepted != nil {
			accepted = append(accepted, fd.Member)
		}
	}
	expectList(t, "accepted", accepted, one.ID())
}

// A baseline taken with other credentials: what the review cannot check
// now is not "resolved", and what the baseline could not check is not
// "new"; both are "not comparable", and a warning says once that the
// visibility differs.
func TestReviewBaselineOtherVisibility(t *testing.T) {
	f := newFixture(t)
	f.person("Srv", "Admin", true, true) // server-scoped admin, no MFA
	sd := f.srv.Seed
	asSuper := func() {
		f.e.Set("MEDPLUM_CLIENT_ID", sd.SuperAdminClient.ID).Set("MEDPLUM_CLIENT_SECRET", sd.SuperAdminClient.Secret)
	}
	asAdmin := func() { f.e.Set("MEDPLUM_CLIENT_ID", sd.Client.ID).Set("MEDPLUM_CLIENT_SECRET", sd.Client.Secret) }
	changes := func(rv *reviewDoc) []string {
		var got []string
		for _, c := range rv.Changes {
			got = append(got, c.Change+" "+c.Name+": "+c.From+" -> "+c.To)
		}
		return sorted(got)
	}
	warning := func(base, then, now string) string {
		return "Warning: the baseline " + base + " was taken with other credentials (" + then + "; this review: " + now + "): " +
			"findings are compared only where both reviews could check them, the others are listed as not comparable\n"
	}
	// The two baselines: each review exits 0 with nothing on stderr.
	baseline := func(name string, args ...string) string {
		t.Helper()
		r := f.e.Run(append([]string{"members", "review", "-o", "json"}, args...)...)
		decodeReview(t, r)
		if r.Stderr != "" {
			t.Fatalf("the baseline %s: stderr %q", name, r.Stderr)
		}
		return writeFile(t, name, r.Stdout)
	}

	asSuper()
	superBase := baseline("super.json", "--project", sd.ProjectID)
	asAdmin()
	adminBase := baseline("admin.json")

	// Super admin's baseline, project admin's review: the server-scoped
	// admins' MFA is not visible now, which does not resolve anything.
	r := f.e.Run("members", "review", "--baseline", superBase, "-o", "json")
	if want := warning(superBase, "a super admin's", "a project admin's"); r.Stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.Stderr, want)
	}
	why := "not comparable: not checked now (" + hidden + ")"
	expectList(t, "changes", changes(decodeReview(t, r)),
		"finding-not-comparable Medplum Admin: admin-without-mfa (high) -> "+why,
		"finding-not-comparable Srv Admin: admin-without-mfa (high) -> "+why)

	// The other way: what the baseline could not see is not new.
	asSuper()
	r = f.e.Run("members", "review", "--project", sd.ProjectID, "--baseline", adminBase, "-o", "json")
	why = "not comparable: not checked in the baseline (" + hidden + ")"
	expectList(t, "changes", changes(decodeReview(t, r)),
		"finding-not-comparable Medplum Admin: admin-without-mfa (high) -> "+why,
		"finding-not-comparable Srv Admin: admin-without-mfa (high) -> "+why)
	if want := warning(adminBase, "a project admin's", "a super admin's"); r.Stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.Stderr, want)
	}
}
