package review_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
	"github.com/medplumcli/medplum/commands/review"
)

// seconds is a server instant as the table shows it (RFC 3339, seconds).
func seconds(t *testing.T, instant string) string {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, instant)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UTC().Format(time.RFC3339)
}

// seedRows are the TSV rows of the seeded sandbox project, in the order
// of the review (last change first to last).
func seedRows(t *testing.T, srv *medplumtest.Server) string {
	t.Helper()
	sd := srv.Seed
	at := func(id string) string { return seconds(t, lastUpdated(srv.Resource("ProjectMembership", id))) }
	client := srv.Resource("ClientApplication", sd.Client.ID)
	u := hidden
	return strings.Join([]string{
		sd.Admin.MembershipID, "person", "Medplum Admin", sd.AdminEmail, sd.Admin.Profile, sd.Admin.User, "true", "true", "none",
		"unknown: " + u, "unknown: " + u, "unknown: " + u, at(sd.Admin.MembershipID), "system", "n/a", "n/a\n" +
			sd.Client.MembershipID, "client", "Sandbox Project Admin Client", "n/a", "ClientApplication/" + sd.Client.ID, "ClientApplication/" + sd.Client.ID,
		"true", "true", "none", "n/a", "n/a", "n/a", at(sd.Client.MembershipID), "system", seconds(t, lastUpdated(client)), "0\n" +
			sd.Homer.MembershipID, "person", "Homer Simpson", "homer@example.com", sd.Homer.Profile, sd.Homer.User, "false", "true", "none",
		"false", "false", "none", at(sd.Homer.MembershipID), "system", "n/a", "n/a\n" +
			sd.Bot.MembershipID, "bot", "Sandbox Bot", "n/a", sd.Bot.Profile, sd.Bot.User, "false", "true", "none",
		"n/a", "n/a", "n/a", at(sd.Bot.MembershipID), "system", "n/a", "n/a\n",
	}, "\t")
}

const tsvHeader = "ID\tKIND\tNAME\tEMAIL\tPROFILE\tUSER\tADMIN\tACTIVE\tACCESS\tMFA ENROLLED\tINVITE PENDING\tINVITED AT\tLAST UPDATED\tLAST UPDATED BY\tSECRET SET AT\tSECRET AGE DAYS\n"

// seedSummary is the summary of the seeded project, as a project admin
// sees it.
const seedSummary = "Findings: 1 high, 1 medium, 0 low\n" +
	"  high    client-admin              Sandbox Project Admin Client  client application with admin rights\n" +
	"  medium  project-mfa-not-required  (project)                     the project's setting mfaRequired is not true: each user decides whether to enrol\n" +
	"Not checked (the data is not visible to these credentials):\n" +
	"  admin-without-mfa  1 member  " + hidden + ": Medplum Admin\n" +
	"  stale-invite       1 member  " + hidden + ": Medplum Admin\n" +
	"  missing-user       1 member  " + hidden + ": Medplum Admin\n" +
	"4 members (2 people, 1 client, 1 bot): 2 admins, 0 deactivated, 0 invites pending, 1 unknown; 1 with values these credentials cannot read\n"

// Piped: every column as TSV on stdout, the findings on stderr; -o csv
// the same rows as CSV.
func TestReviewTSVAndCSV(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	e.Run("members", "review").Expect(t, 0, tsvHeader+seedRows(t, srv), seedSummary)

	out := e.Run("members", "review", "-o", "csv", "--columns", "name,kind,admin,mfaEnrolled,access").ExpectCode(t, 0, seedSummary)
	want := "name,kind,admin,mfaEnrolled,access\n" +
		"Medplum Admin,person,true,unknown: " + hidden + ",none\n" +
		"Sandbox Project Admin Client,client,true,n/a,none\n" +
		"Homer Simpson,person,false,false,none\n" +
		"Sandbox Bot,bot,false,n/a,none\n"
	if out != want {
		t.Errorf("-o csv:\n%s\nwant:\n%s", out, want)
	}
	// What the review reads, in order: who is asking, the project, its
	// policies, clients (whole: the secret's age) and bots, the client's
	// history, then the members with their users, invites and profiles.
	srv.ResetRequests()
	e.Run("members", "review", "-o", "csv", "--no-header", "--columns", "id").ExpectCode(t, 0, seedSummary)
	p := "_project=Project%2F" + srv.Seed.ProjectID
	got := clitest.Paths(srv)
	if len(got) == 11 {
		sort.Strings(got[6:10]) // read at the same time
	}
	wantPaths := []string{
		"GET /auth/me",
		"GET /fhir/R4/Project/" + srv.Seed.ProjectID,
		"GET /fhir/R4/AccessPolicy?" + p + "&_count=1000&_elements=name&_sort=_lastUpdated",
		"GET /fhir/R4/ClientApplication?" + p + "&_count=1000&_sort=_lastUpdated",
		"GET /fhir/R4/Bot?" + p + "&_count=1000&_elements=name&_sort=_lastUpdated",
		"GET /fhir/R4/ProjectMembership?_count=1000&_sort=_lastUpdated&project=Project%2F" + srv.Seed.ProjectID,
		"POST /fhir/R4/Patient/_search",
		"POST /fhir/R4/Practitioner/_search",
		"POST /fhir/R4/User/_search",
		"POST /fhir/R4/UserSecurityRequest/_search",
		"GET /fhir/R4/ClientApplication/" + srv.Seed.Client.ID + "/_history?_count=100&_offset=0",
	}
	if strings.Join(got, "\n") != strings.Join(wantPaths, "\n") {
		t.Errorf("requests:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(wantPaths, "\n  "))
	}
}

// A terminal: the essential columns, unknowns as numbered notes, then the
// findings on stdout.
func TestReviewTerminalTable(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	e.Set("MEDPLUM_FORCE_TTY", "120")
	e.Run("members", "review").Expect(t, 0,
		"NAME                          KIND    ADMIN  ACTIVE  MFA ENROLLED  INVITE PENDING  ACCESS\n"+
			"Medplum Admin                 person  true   true    unknown [1]   unknown [1]     none\n"+
			"Sandbox Project Admin Client  client  true   true    n/a           n/a             none\n"+
			"Homer Simpson                 person  false  true    false         false           none\n"+
			"Sandbox Bot                   bot     false  true    n/a           n/a             none\n"+
			"[1] unknown: "+hidden+"\n"+
			"\n"+seedSummary, "")
	// -o wide: every column (one block per member, when they do not fit),
	// the same values as the TSV.
	var wide []string
	heads := strings.Split(strings.TrimSuffix(tsvHeader, "\n"), "\t")
	for _, row := range strings.Split(strings.TrimSuffix(seedRows(t, srv), "\n"), "\n") {
		var block string
		for i, v := range strings.Split(row, "\t") {
			block += fmt.Sprintf("%-17s%s\n", heads[i], strings.ReplaceAll(v, "unknown: "+hidden, "unknown [1]"))
		}
		wide = append(wide, block)
	}
	if len(wide) != 4 {
		t.Fatalf("%d seeded members, want 4", len(wide))
	}
	e.Run("members", "review", "-o", "wide").Expect(t, 0, strings.Join(wide, "\n")+"[1] unknown: "+hidden+"\n\n"+seedSummary, "")
}

// -o json is one document; yaml, --jq and --template work on it.
func TestReviewJSON(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	e.Set("MEDPLUM_REVIEW_TIME", time.Now().UTC().Format(time.RFC3339)) // the same document every run
	clitest.ExpectDocumentFlags(t, e, srv, "members", "review")
	e.Unset("MEDPLUM_REVIEW_TIME")

	out := e.Run("members", "review", "-o", "json").ExpectCode(t, 0, "")
	var doc map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	// The document's keys, in order, and it is what json.Indent makes.
	var keys []string
	kd := json.NewDecoder(strings.NewReader(out))
	kd.Token()
	for kd.More() {
		k, _ := kd.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		kd.Decode(&skip)
	}
	if got := strings.Join(keys, ","); got != "project,reviewedAt,reviewer,settings,members,findings,rules,counts" {
		t.Errorf("keys %s", got)
	}
	var compact, indented bytes.Buffer
	if err := json.Compact(&compact, []byte(out)); err != nil {
		t.Fatal(err)
	}
	if err := json.Indent(&indented, compact.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	if indented.String()+"\n" != out {
		t.Errorf("-o json is not indented as json.Indent does:\n%s", out)
	}
	rv := decodeReview(t, clitest.Result{Stdout: out})
	if rv.Project.ID != srv.Seed.ProjectID || rv.Project.Name != "Sandbox Project" || rv.Reviewer.Profile != "ClientApplication/"+srv.Seed.Client.ID ||
		rv.Reviewer.Server != srv.URL || rv.Reviewer.SuperAdmin || len(rv.Members) != 4 {
		t.Errorf("header: %+v %+v, %d members", rv.Project, rv.Reviewer, len(rv.Members))
	}
	wantCounts := `{"accepted":0,"admins":2,"bots":1,"clients":1,"findings":{"high":1,"low":0,"medium":1},"inactive":0,"members":4,"membersWithUnknowns":1,"notChecked":3,"pendingInvites":0,"pendingInvitesUnknown":1,"people":2}`
	if b, _ := json.Marshal(rv.Counts); string(b) != wantCounts {
		t.Errorf("counts %s", b)
	}
	bot := rv.member(t, srv.Seed.Bot.MembershipID)
	if b, _ := json.Marshal(bot); string(b) != `{"access":[],"active":true,"admin":false,"id":"`+srv.Seed.Bot.MembershipID+`","kind":"bot","lastUpdated":"`+
		lastUpdated(srv.Resource("ProjectMembership", srv.Seed.Bot.MembershipID))+`","lastUpdatedBy":"system","name":"Sandbox Bot","profile":"`+srv.Seed.Bot.Profile+`","user":"`+srv.Seed.Bot.User+`"}` {
		t.Errorf("the bot: %s", b)
	}
}

// -o ndjson: one line per member as it is read, then per finding, rule and
// the summary.
func TestReviewNDJSON(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	out := e.Run("members", "review", "-o", "ndjson").ExpectCode(t, 0, "")
	var kinds []string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var r struct{ Record string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		kinds = append(kinds, r.Record)
	}
	if got := strings.Join(kinds, ","); got != "member,member,member,member,finding,finding,rule,rule,rule,rule,rule,rule,rule,rule,rule,rule,rule,rule,summary" {
		t.Errorf("records %s", got)
	}
}

// Secrets the review reads (client secrets in ClientApplication and its
// history, invite secrets in UserSecurityRequests) appear nowhere: not in
// any format, the HTML page, or the --verbose trace.
func TestReviewShowsNoSecrets(t *testing.T) {
	f := newFixture(t)
	f.person("Scoped", "Invitee", true, false)
	f.newClient("Extra", false, "")
	var secrets []string
	for _, c := range f.srv.Resources("ClientApplication", "") {
		secrets = append(secrets, c.String("secret"))
	}
	for _, r := range f.srv.Resources("UserSecurityRequest", "") {
		secrets = append(secrets, r.String("secret"))
	}
	if len(secrets) < 4 {
		t.Fatalf("secrets: %d", len(secrets))
	}
	dir := t.TempDir()
	for _, args := range [][]string{{}, {"-o", "json"}, {"-o", "ndjson"}, {"-o", "wide"}, {"-o", "csv"}, {"-v"}, {"--html", filepath.Join(dir, "r.html")}} {
		r := f.e.Run(append([]string{"members", "review"}, args...)...)
		if r.Code != 0 {
			t.Fatalf("%v: exit %d %s", args, r.Code, r.Stderr)
		}
		r.NotContains(t, secrets...)
	}
	page, err := os.ReadFile(filepath.Join(dir, "r.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(string(page), s) {
			t.Errorf("the HTML page holds a secret")
		}
	}
}

// Bad flags and files are exit 2 before anything is sent.
func TestReviewUsageErrors(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "old.json")
	os.WriteFile(notJSON, []byte(`{"members": 3}`), 0o600)
	for _, c := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"--fail-on", "critical"}, "medplum: --fail-on: want high, medium or low, not \"critical\"\nRun 'medplum members review --help' for usage.\n"},
		{[]string{"--stale-invite", "two weeks"}, "medplum: --stale-invite: want a number of days (14d) or a duration (36h), not \"two weeks\"\nRun 'medplum members review --help' for usage.\n"},
		{[]string{"--secret-max-age", "-3d"}, "medplum: --secret-max-age: want a number of days (14d) or a duration (36h), not \"-3d\"\nRun 'medplum members review --help' for usage.\n"},
		{[]string{"--secret-max-age", "90"}, "medplum: --secret-max-age: \"90\" has no unit: write 90d (days) or a duration such as 36h\nRun 'medplum members review --help' for usage.\n"},
		{[]string{"--stale-invite", " 14 "}, "medplum: --stale-invite: \" 14 \" has no unit: write 14d (days) or a duration such as 36h\nRun 'medplum members review --help' for usage.\n"},
		{[]string{"--columns", "name,secret"}, "medplum: --columns: unknown column \"secret\" (choose from id, kind, name, email, profile, user, admin, active, access, mfaEnrolled, invitePending, invitedAt, lastUpdated, lastUpdatedBy, secretSetAt, secretAgeDays)\nRun 'medplum members review --help' for usage.\n"},
		{[]string{"--baseline", filepath.Join(dir, "missing.json")}, "medplum: --baseline: open " + filepath.Join(dir, "missing.json") + ": no such file or directory\n"},
		{[]string{"--baseline", notJSON}, "medplum: --baseline " + notJSON + ": members: not a list (want the -o json of an earlier medplum members review)\n"},
		{[]string{"extra"}, "medplum: medplum members review takes no arguments, got \"extra\"\nRun 'medplum members review --help' for usage.\n"},
	} {
		srv.ResetRequests()
		e.Run(append([]string{"members", "review"}, c.args...)...).Expect(t, 2, "", c.stderr)
		clitest.ExpectNothingSent(t, srv)
	}
}

// A project admin cannot review another project; a super admin can.
func TestReviewProjectFlag(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	e.Run("members", "review", "--project", srv.Seed.SuperAdminProjectID).Expect(t, 2, "",
		"medplum: --project "+srv.Seed.SuperAdminProjectID+": you are signed in to project \"Sandbox Project\" ("+srv.Seed.ProjectID+"), and only a super admin can act on another project\n")
	e.Set("MEDPLUM_CLIENT_ID", srv.Seed.SuperAdminClient.ID).Set("MEDPLUM_CLIENT_SECRET", srv.Seed.SuperAdminClient.Secret)
	out := e.Run("members", "review", "--project", "Project/"+srv.Seed.ProjectID, "-o", "csv", "--no-header", "--columns", "name,mfaEnrolled,invitePending").ExpectCode(t, 0,
		"Findings: 2 high, 1 medium, 0 low\n"+
			"  high    admin-without-mfa         Medplum Admin                 project admin without MFA enrolled\n"+
			"  high    client-admin              Sandbox Project Admin Client  client application with admin rights\n"+
			"  medium  project-mfa-not-required  (project)                     the project's setting mfaRequired is not true: each user decides whether to enrol\n"+
			"4 members (2 people, 1 client, 1 bot): 2 admins, 0 deactivated, 0 invites pending\n")
	// Every user is visible to a super admin: nothing unknown.
	if want := "Medplum Admin,false,false\nSandbox Project Admin Client,n/a,n/a\nHomer Simpson,false,false\nSandbox Bot,n/a,n/a\n"; out != want {
		t.Errorf("as a super admin:\n%s\nwant:\n%s", out, want)
	}
}

// A membership that points at a User that no longer exists: a super admin
// reads every User, so it is a finding (missing-user), not something "not
// visible"; a project admin cannot tell it from a server-scoped user
// (5.0.10 answers 404 for both), and says both.
func TestRuleMissingUser(t *testing.T) {
	f := newFixture(t)
	m := f.person("Gone", "User", true, true)
	f.person("Kept", "User", false, false)
	typ, id, _ := client.SplitReference(m.Ref("user"))
	sc := f.client(f.srv.Seed.SuperAdmin.MembershipID)
	if err := sc.DeleteResource(t.Context(), typ, id); err != nil {
		t.Fatal(err)
	}
	rv := f.review()
	expectList(t, "missing-user as a project admin", rv.of(review.RuleMissingUser))
	expectList(t, "not checked as a project admin", rv.notChecked(review.RuleMissingUser), hidden+": Medplum Admin, Gone User")

	f.e.Set("MEDPLUM_CLIENT_ID", f.srv.Seed.SuperAdminClient.ID).Set("MEDPLUM_CLIENT_SECRET", f.srv.Seed.SuperAdminClient.Secret)
	rv = f.review("--project", f.srv.Seed.ProjectID)
	expectList(t, "missing-user as a super admin", rv.of(review.RuleMissingUser), "Gone User: "+m.Ref("user")+" does not exist (deleted)")
	for _, rule := range []string{review.RuleMissingUser, review.RuleAdminMFA, review.RuleStaleInvite} {
		expectList(t, rule+" not checked as a super admin", rv.notChecked(rule))
	}
	expectList(t, "admin-without-mfa as a super admin", rv.of(review.RuleAdminMFA), "Medplum Admin: project admin without MFA enrolled")
	if got := rv.member(t, m.ID()); got["unknown"] != nil || got["mfaEnrolled"] != nil {
		t.Errorf("the member whose User is gone: %v", got)
	}
}

// A project that does not exist, or was deleted, is an error before any
// review output: a gate must not pass on it.
func TestReviewMissingProject(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	e.Set("MEDPLUM_CLIENT_ID", srv.Seed.SuperAdminClient.ID).Set("MEDPLUM_CLIENT_SECRET", srv.Seed.SuperAdminClient.Secret)
	for _, id := range []string{"00000000-0000-0000-0000-000000000000", "not-a-uuid"} {
		e.Run("members", "review", "--project", id, "--fail-on", "high").Expect(t, 2, "",
			"medplum: no project "+id+" on this server (it answered Not found)\n")
	}
	sc, err := client.New(client.Options{BaseURL: srv.URL, Auth: tokenAuth{srv.IssueToken(srv.Seed.SuperAdmin.MembershipID)}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := sc.CreateResource(t.Context(), client.Resource{"resourceType": "Project", "name": "Doomed"})
	if err != nil {
		t.Fatal(err)
	}
	// (5.0.10 answers 410 to the DELETE of a Project, after deleting it.)
	if err := sc.DeleteResource(t.Context(), "Project", d.ID()); err != nil && client.StatusOf(err) != http.StatusGone {
		t.Fatal(err)
	}
	e.Run("members", "review", "--project", d.ID(), "--fail-on", "high", "-o", "json").Expect(t, 2, "",
		"medplum: project "+d.ID()+" was deleted\n")
}

// -o csv (every command's, through commands/output) neutralises a text
// cell a spreadsheet would run as a formula: a leading ' (OWASP's advice);
// a number, negative ones included, is written as it is.
func TestCSVFormulaInjection(t *testing.T) {
	f := newFixture(t)
	f.invite(map[string]any{"resourceType": "Practitioner", "firstName": "=HYPERLINK(\"http://evil.example\")", "lastName": "Cmd",
		"email": "formula@example.com", "scope": "project"})
	f.invite(map[string]any{"resourceType": "Practitioner", "firstName": "@SUM(A1)", "lastName": "-1+2",
		"email": "at@example.com", "scope": "project"})
	want := "\"'=HYPERLINK(\"\"http://evil.example\"\") Cmd\",formula@example.com\n'@SUM(A1) -1+2,at@example.com\n"
	out := f.e.Run("members", "review", "-o", "csv", "--no-header", "--columns", "name,email").Stdout
	if !strings.HasSuffix(out, want) {
		t.Errorf("members review -o csv:\n%s\nwant it to end with:\n%s", out, want)
	}
	f.e.Run("members", "list", "--type", "Practitioner", "-o", "csv", "--no-header", "--columns", "name").Expect(t, 0,
		"Medplum Admin\n\"'=HYPERLINK(\"\"http://evil.example\"\") Cmd\"\n'@SUM(A1) -1+2\n", "")
	// A negative number stays a number; a text beginning with + or a tab
	// does not.
	obs, err := f.api.CreateResource(t.Context(), client.Resource{"resourceType": "Observation", "status": "final",
		"code": map[string]any{"text": "+cmd|' /C calc'!A0"}, "valueQuantity": map[string]any{"value": -3.5},
		"note": []any{map[string]any{"text": "\tindented"}}})
	if err != nil {
		t.Fatal(err)
	}
	f.e.Run("get", "Observation/"+obs.ID(), "-o", "csv", "--no-header", "--columns", "valueQuantity.value,code.text,note.0.text").Expect(t, 0,
		"-3.5,'+cmd|' /C calc'!A0,'\tindented\n", "")
}

// MEDPLUM_REVIEW_TIME more than an hour from now is used, with a warning
// saying how far it is, since every age counts from it; within the hour,
// nothing is said; not an instant is exit 2.
func TestReviewTimeFarFromNowWarns(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	warning := func(at time.Time, when string) string {
		return "Warning: MEDPLUM_REVIEW_TIME sets the review's time to " + at.Format(time.RFC3339) + " (" + when +
			"): invites, secrets and changes are aged from it, and the report is dated then\n"
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, c := range []struct {
		at      time.Time
		warning string
	}{
		{now.Add(-36*24*time.Hour - time.Hour), warning(now.Add(-36*24*time.Hour-time.Hour), "36 days ago")},
		{now.Add(-5*time.Hour - 30*time.Minute), warning(now.Add(-5*time.Hour-30*time.Minute), "5h30m ago")},
		{now.Add(3*24*time.Hour + 12*time.Hour), warning(now.Add(3*24*time.Hour+12*time.Hour), "in 3 days")},
		{now.Add(-30 * time.Minute), ""},
	} {
		e.Set("MEDPLUM_REVIEW_TIME", c.at.Format(time.RFC3339))
		var doc struct{ ReviewedAt string }
		if err := json.Unmarshal([]byte(e.Run("members", "review", "-o", "json").ExpectCode(t, 0, c.warning)), &doc); err != nil || doc.ReviewedAt != c.at.Format(time.RFC3339) {
			t.Errorf("%s: reviewedAt %q (%v)", c.at, doc.ReviewedAt, err)
		}
	}
	e.Set("MEDPLUM_REVIEW_TIME", "yesterday")
	e.Run("members", "review").Expect(t, 2, "", "medplum: MEDPLUM_REVIEW_TIME: want an instant such as 2026-12-01T09:00:00Z, not \"yesterday\"\n")
}
