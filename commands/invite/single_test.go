package invite_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

const header = "ID\tPROFILE\tPROFILE TYPE\tUSER\tADMIN\tACCESS POLICY\n"

// row is the TSV line invite prints for a membership the server holds.
func row(m client.Resource) string {
	return strings.Join([]string{m.ID(), m.Ref("profile"), strings.Split(m.Ref("profile"), "/")[0],
		m.Display("user"), boolText(m["admin"]), accessText(m)}, "\t") + "\n"
}

func boolText(v any) string {
	if v == true {
		return "true"
	}
	return "false"
}

func accessText(m client.Resource) string {
	var parts []string
	if p := m.Ref("accessPolicy"); p != "" {
		parts = append(parts, p)
	}
	acc, _ := m["access"].([]any)
	for _, a := range acc {
		am := a.(map[string]any)
		s := am["policy"].(map[string]any)["reference"].(string)
		params, _ := am["parameter"].([]any)
		for i, p := range params {
			pm := p.(map[string]any)
			sep := "&"
			if i == 0 {
				sep = "?"
			}
			v, _ := pm["valueString"].(string)
			if r, ok := pm["valueReference"].(map[string]any); ok {
				v = r["reference"].(string)
			}
			s += sep + pm["name"].(string) + "=" + strings.ReplaceAll(v, "&", "%26")
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// member returns the membership the server holds for an e-mail, failing
// the test if there is none.
func member(t *testing.T, srv *medplumtest.Server, email string) client.Resource {
	t.Helper()
	m := srv.MembershipByEmail(srv.Seed.ProjectID, email)
	if m == nil {
		t.Fatalf("the server has no membership for %s", email)
	}
	return m
}

// sentInvites returns the JSON bodies of the invites the server received.
func sentInvites(t *testing.T, srv *medplumtest.Server) []string {
	t.Helper()
	var out []string
	for _, r := range srv.RequestsTo("POST", "/admin/projects/*/invite") {
		out = append(out, string(r.Body))
	}
	return out
}

func expectSent(t *testing.T, srv *medplumtest.Server, want ...string) {
	t.Helper()
	got := sentInvites(t, srv)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("invites sent:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func inviteCall(srv *medplumtest.Server) string {
	return "POST /admin/projects/" + srv.Seed.ProjectID + "/invite"
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// removeHomer deletes the seeded Homer's membership (and with it his
// project-scoped User), so the seed's Homer payloads can be sent as new.
func removeHomer(t *testing.T, e *clitest.Env, srv *medplumtest.Server) {
	t.Helper()
	e.Run("delete", "admin/projects/"+srv.Seed.ProjectID+"/members/"+srv.Seed.Homer.MembershipID, "-o", "csv", "--no-header", "--columns", "display").
		Expect(t, 0, "All OK\n", "")
	srv.ResetRequests()
}

func TestInvitePositionalLikeTheOfficialCLI(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)

	r := e.Run("invite", "Alice", "Smith", "Alice@Example.com")
	alice := member(t, srv, "alice@example.com")
	r.Expect(t, 0, header+row(alice), "")
	if alice.Display("profile") != "Alice Smith" || !strings.HasPrefix(alice.Ref("profile"), "Practitioner/") || alice["admin"] != nil {
		t.Errorf("membership %v", alice)
	}
	clitest.ExpectPaths(t, srv, "GET /auth/me", inviteCall(srv))
	// The default role is Practitioner and sendEmail is always an explicit
	// boolean; the e-mail is sent lowercase.
	expectSent(t, srv, `{"email":"alice@example.com","firstName":"Alice","lastName":"Smith","resourceType":"Practitioner","sendEmail":false}`)

	// `project invite` is the official CLI's spelling; --admin and -r as there.
	srv.ResetRequests()
	r = e.Run("project", "invite", "Bart", "Simpson", "bart@example.com", "--admin", "-r", "Patient")
	bart := member(t, srv, "bart@example.com")
	r.Expect(t, 0, header+row(bart), "")
	if bart["admin"] != true || !strings.HasPrefix(bart.Ref("profile"), "Patient/") {
		t.Errorf("membership %v", bart)
	}
	expectSent(t, srv, `{"email":"bart@example.com","firstName":"Bart","lastName":"Simpson","membership":{"admin":true},"resourceType":"Patient","sendEmail":false}`)
	if n := len(srv.SentEmails()); n != 0 {
		t.Errorf("%d e-mails sent", n)
	}
}

func TestInviteOutputFormats(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)

	// -o json is the server's answer, unchanged.
	out := e.Run("invite", "Lisa", "Simpson", "lisa@example.com", "-o", "json").ExpectCode(t, 0, "")
	posts := srv.RequestsTo("POST", "/admin/projects/*/invite")
	if len(posts) != 1 {
		t.Fatalf("%d invites", len(posts))
	}
	lisa := member(t, srv, "lisa@example.com")
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || got["id"] != lisa.ID() || got["resourceType"] != "ProjectMembership" {
		t.Errorf("-o json printed %s (%v)", out, err)
	}
	// X-Medplum: extended keeps meta.project and meta.compartment.
	if meta, _ := got["meta"].(map[string]any); meta["project"] != srv.Seed.ProjectID || meta["compartment"] == nil {
		t.Errorf("-o json meta %v", got["meta"])
	}

	// The table on a terminal, with --columns, and CSV.
	e.Set("MEDPLUM_FORCE_TTY", "200")
	r := e.Run("invite", "Maggie", "Simpson", "maggie@example.com", "-r", "patient", "--columns", "profileType,user,admin")
	r.Expect(t, 0, "PROFILE TYPE  USER                ADMIN\nPatient       maggie@example.com  false\n", "")
	e.Unset("MEDPLUM_FORCE_TTY")
	ned := e.Run("invite", "Ned", "Flanders", "ned@example.com", "-o", "csv", "--no-header", "--columns", "user,meta.versionId")
	m := member(t, srv, "ned@example.com")
	ned.Expect(t, 0, "ned@example.com,"+m["meta"].(map[string]any)["versionId"].(string)+"\n", "")
}

func TestInviteSeedPayloadsVerbatim(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	project := srv.Seed.ProjectID
	srv.Create(project, client.Resource{"resourceType": "AccessPolicy", "id": "123", "name": "Provider organization"})

	// "Invite a New User as an Admin": the deprecated top-level admin.
	r := e.Run("invite", "-f", fixture(t, "seed-admin-alice.json"))
	alice := member(t, srv, "alicesmith@example.com")
	r.Expect(t, 0, header+row(alice), "")
	if alice["admin"] != true {
		t.Errorf("Alice is not an admin: %v", alice)
	}
	expectSent(t, srv, `{"admin":true,"email":"alicesmith@example.com","firstName":"Alice","lastName":"Smith","resourceType":"Practitioner","sendEmail":false}`)

	// The seed's CLI example sends "sendEmail":"false", a string, which a
	// Medplum server reads as "send it". medplum sends the boolean false.
	removeHomer(t, e, srv)
	r = e.Run("invite", "-f", fixture(t, "seed-homer-cli.json"))
	homer := member(t, srv, "homer@example.com")
	r.Expect(t, 0, header+row(homer), "medplum: note: sendEmail \"false\" is a string; sent as the boolean false\n")
	expectSent(t, srv, `{"email":"homer@example.com","firstName":"Homer","lastName":"Simpson","resourceType":"Patient","sendEmail":false}`)

	// "Prepare JSON payload", from stdin.
	removeHomerAgain(t, e, srv, homer.ID())
	payload, _ := os.ReadFile(fixture(t, "seed-homer.json"))
	r = e.RunStdin(string(payload), "invite", "-f", "-")
	homer = member(t, srv, "homer@example.com")
	r.Expect(t, 0, header+row(homer), "")
	expectSent(t, srv, `{"email":"homer@example.com","firstName":"Homer","lastName":"Simpson","resourceType":"Patient","sendEmail":false}`)

	// The membership template with trailing commas, as the seed prints it.
	removeHomerAgain(t, e, srv, homer.ID())
	r = e.Run("invite", "-f", fixture(t, "seed-homer-membership-admin.json"))
	homer = member(t, srv, "homer@example.com")
	r.Expect(t, 0, header+row(homer), "medplum: note: the invite payload has trailing commas (as JavaScript allows); they were ignored\n")
	if homer["admin"] != true {
		t.Errorf("Homer is not an admin: %v", homer)
	}
	expectSent(t, srv, `{"email":"homer@example.com","firstName":"Homer","lastName":"Simpson","membership":{"admin":true},"resourceType":"Patient","sendEmail":false}`)

	// The access example: the same policy twice, two organizations.
	removeHomerAgain(t, e, srv, homer.ID())
	r = e.Run("invite", "-f", fixture(t, "seed-homer-access.json"))
	homer = member(t, srv, "homer@example.com")
	r.Expect(t, 0, header+row(homer), "")
	want := "AccessPolicy/123?provider_organization=Organization/abc, AccessPolicy/123?provider_organization=Organization/def"
	if got := accessText(homer); got != want {
		t.Errorf("access %q, want %q", got, want)
	}
}

func removeHomerAgain(t *testing.T, e *clitest.Env, srv *medplumtest.Server, id string) {
	t.Helper()
	srv.Seed.Homer.MembershipID = id
	removeHomer(t, e, srv)
}

func TestInviteAccessFlagsExpressTheSeedExample(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "AccessPolicy", "id": "123", "name": "Provider organization"})
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "AccessPolicy", "id": "basic", "name": "Basic"})
	removeHomer(t, e, srv)

	r := e.Run("invite", "-r", "Patient", "--first", "Homer", "--last", "Simpson", "--email", "homer@example.com",
		"--access", "AccessPolicy/123?provider_organization=Organization/abc",
		"--access", "123?provider_organization=Organization/def&region=north%26east")
	homer := member(t, srv, "homer@example.com")
	r.Expect(t, 0, header+row(homer), "")
	expectSent(t, srv, `{"email":"homer@example.com","firstName":"Homer","lastName":"Simpson","membership":{"access":[`+
		`{"policy":{"reference":"AccessPolicy/123"},"parameter":[{"name":"provider_organization","valueReference":{"reference":"Organization/abc"}}]},`+
		`{"policy":{"reference":"AccessPolicy/123"},"parameter":[{"name":"provider_organization","valueReference":{"reference":"Organization/def"}},{"name":"region","valueString":"north&east"}]}]},`+
		`"resourceType":"Patient","sendEmail":false}`)
	// The table shows the entries in the --access syntax, escapes included.
	if !strings.HasSuffix(r.Stdout, "\tAccessPolicy/123?provider_organization=Organization/abc, AccessPolicy/123?provider_organization=Organization/def&region=north%26east\n") {
		t.Errorf("stdout %q", r.Stdout)
	}

	// --access-policy takes an id or AccessPolicy/<id>.
	srv.ResetRequests()
	r = e.Run("invite", "Carl", "Carlson", "carl@example.com", "--access-policy", "basic")
	carl := member(t, srv, "carl@example.com")
	r.Expect(t, 0, header+row(carl), "")
	if carl.Ref("accessPolicy") != "AccessPolicy/basic" {
		t.Errorf("policy %v", carl["accessPolicy"])
	}
}

func TestInviteEveryFlag(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithMailer())
	e := clitest.SignedIn(t, srv)
	project := srv.Seed.ProjectID
	srv.Create(project, client.Resource{"resourceType": "AccessPolicy", "id": "p1", "name": "P1"})
	const password = "correct-horse-battery-staple"

	r := e.RunStdin(password+"\n", "invite", "--role", "Practitioner", "--first", "Lenny", "--last", "Leonard",
		"--email", "lenny@example.com", "--external-id", "ext-lenny", "--admin", "--access-policy", "AccessPolicy/p1",
		"--scope", "project", "--password-stdin", "--mfa-required", "--upsert", "--force-new-membership",
		"--send-email", "--project", "Project/"+project, "--verbose")
	lenny := srv.MembershipByEmail(project, "lenny@example.com")
	if lenny == nil || r.Code != 0 {
		t.Fatalf("exit %d, stderr %s", r.Code, r.Stderr)
	}
	if r.Stdout != header+row(lenny) {
		t.Errorf("stdout %q", r.Stdout)
	}
	// A project-scoped user's password is also set through
	// admin/projects/setpassword: the invite ignores it for a user who
	// exists already.
	if !strings.Contains(r.Stderr, "Invitation e-mail sent to lenny@example.com\n"+
		"> POST "+srv.URL+"admin/projects/setpassword [Accept: application/fhir+json] [Authorization: Bearer [REDACTED]] "+
		"[Content-Type: application/fhir+json] [User-Agent: medplum-cli/"+clitest.Version+" (Go)] [X-Medplum: extended]\n"+
		"> body: [REDACTED] (71 bytes, secret)\n") || !strings.HasSuffix(r.Stderr, "password set for lenny@example.com\n") {
		t.Errorf("stderr %q", r.Stderr)
	}
	// The password is sent, and never shown (not even with --verbose).
	r.NotContains(t, password)
	expectSent(t, srv, `{"email":"lenny@example.com","externalId":"ext-lenny","firstName":"Lenny","forceNewMembership":true,"lastName":"Leonard",`+
		`"membership":{"accessPolicy":{"reference":"AccessPolicy/p1"},"admin":true},"mfaRequired":true,"password":"`+password+`",`+
		`"resourceType":"Practitioner","scope":"project","sendEmail":true,"upsert":true}`)
	// --project names the project of the invite (checked against auth/me);
	// the policy is checked first; --force-new-membership makes --upsert
	// look nothing up.
	clitest.ExpectPaths(t, srv, "GET /auth/me", "GET /fhir/R4/AccessPolicy/p1", inviteCall(srv), "POST /admin/projects/setpassword")
	if lenny["externalId"] != "ext-lenny" || lenny["admin"] != true || lenny.Ref("accessPolicy") != "AccessPolicy/p1" {
		t.Errorf("membership %v", lenny)
	}
	if mails := srv.SentEmails(); len(mails) != 1 || mails[0].To != "lenny@example.com" {
		t.Errorf("e-mails %+v", mails)
	}

	// A RelatedPerson names the Patient; an id is enough.
	srv.ResetRequests()
	patient := strings.TrimPrefix(srv.Seed.Homer.Profile, "Patient/")
	r = e.Run("invite", "-r", "RelatedPerson", "Marge", "Simpson", "marge@example.com", "--patient", patient)
	marge := member(t, srv, "marge@example.com")
	r.Expect(t, 0, header+row(marge), "")
	expectSent(t, srv, `{"email":"marge@example.com","firstName":"Marge","lastName":"Simpson","patient":{"reference":"Patient/`+patient+`"},"resourceType":"RelatedPerson","sendEmail":false}`)
	prof := srv.Resource("RelatedPerson", strings.TrimPrefix(marge.Ref("profile"), "RelatedPerson/"))
	if prof == nil || prof.Ref("patient") != srv.Seed.Homer.Profile {
		t.Errorf("RelatedPerson %v", prof)
	}

	// An external id alone (no e-mail) is enough.
	srv.ResetRequests()
	r = e.Run("invite", "-r", "Patient", "--first", "Jimbo", "--last", "Jones", "--external-id", "mrn-42")
	jimbo := srv.Memberships(project)
	var found client.Resource
	for _, m := range jimbo {
		if m["externalId"] == "mrn-42" {
			found = m
		}
	}
	if found == nil {
		t.Fatalf("no membership with externalId mrn-42; stderr %s", r.Stderr)
	}
	r.Expect(t, 0, header+row(found), "")
}

func TestInviteFlagsOverrideThePayload(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	removeHomer(t, e, srv)
	payload := `{"resourceType":"Patient","firstName":"Homer","lastName":"Simpson","email":"homer@example.com","sendEmail":true,"membership":{"admin":false,"identifier":[{"system":"x","value":"1"}]},"custom":{"kept":1.50}}`
	r := e.RunStdin(payload, "invite", "-f", "-", "--admin", "--send-email=false", "--last", "J. Simpson")
	homer := member(t, srv, "homer@example.com")
	r.Expect(t, 0, header+row(homer), "medplum: note: the invite field \"custom\" is not one medplum knows; it is sent as it is\n")
	expectSent(t, srv, `{"custom":{"kept":1.50},"email":"homer@example.com","firstName":"Homer","lastName":"J. Simpson",`+
		`"membership":{"admin":true,"identifier":[{"system":"x","value":"1"}]},"resourceType":"Patient","sendEmail":false}`)
}

func TestInviteAlreadyAMember(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	project := srv.Seed.ProjectID

	e.Run("invite", "-r", "Patient", "Homer", "Simpson", "homer@example.com").
		Expect(t, 1, "", "medplum: homer@example.com is already a member of project "+project+"\nadd --upsert to update the existing membership instead\n")

	// --upsert updates it (same profile): here, makes Homer an admin.
	r := e.Run("invite", "-r", "Patient", "Homer", "Simpson", "homer@example.com", "--upsert", "--admin")
	homer := member(t, srv, "homer@example.com")
	r.Expect(t, 0, header+row(homer), "updated homer@example.com's membership (ProjectMembership/"+homer.ID()+"): admin false -> true\n")
	if homer.ID() != srv.Seed.Homer.MembershipID || homer["admin"] != true {
		t.Errorf("membership %v", homer)
	}

	// Another profile type for the same user cannot be upserted.
	e.Run("invite", "-r", "Practitioner", "Homer", "Simpson", "homer@example.com", "--upsert", "--scope", "project").
		Expect(t, 1, "", "medplum: homer@example.com is already a member of project "+project+", with a profile that is not a Practitioner\n"+
			"--upsert only updates a membership with the same profile; see medplum members get homer@example.com\n")
}

func TestInviteEmailFailureStillCreatesTheMembership(t *testing.T) {
	srv := medplumtest.NewServer(t) // no mailer: like a server without SES
	e := clitest.SignedIn(t, srv)
	r := e.Run("invite", "Bart", "Simpson", "bart@example.com", "--send-email")
	bart := member(t, srv, "bart@example.com")
	r.Expect(t, 1, header+row(bart),
		"medplum: bart@example.com was invited (membership "+bart.ID()+"), but the invitation e-mail was not sent: "+
			"Could not send email. Make sure you have AWS SES set up. (Error sending email: Could not load credentials from any providers)\n"+
			"the membership exists; invite without --send-email to skip the e-mail\n")
	if n := len(srv.RequestsTo("POST", "/admin/projects/*/invite")); n != 1 {
		t.Errorf("%d invites sent, want 1 (never resent)", n)
	}
	// -o json prints the membership found.
	out := e.Run("invite", "Lisa", "Simpson", "lisa@example.com", "--send-email", "-o", "json").ExpectCode(t, 1,
		"medplum: lisa@example.com was invited (membership "+member(t, srv, "lisa@example.com").ID()+"), but the invitation e-mail was not sent: "+
			"Could not send email. Make sure you have AWS SES set up. (Error sending email: Could not load credentials from any providers)\n"+
			"the membership exists; invite without --send-email to skip the e-mail\n")
	if !strings.Contains(out, `"display": "lisa@example.com"`) {
		t.Errorf("stdout %s", out)
	}
}

func TestInviteDryRun(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	project := srv.Seed.ProjectID
	r := e.RunStdin("s3cret-passw0rd\n", "invite", "Bob", "Jones", "bob@example.com", "--password-stdin", "--dry-run", "--project", project)
	r.Expect(t, 0, "POST "+srv.URL+"admin/projects/"+project+"/invite\n\n"+`{
  "email": "bob@example.com",
  "firstName": "Bob",
  "lastName": "Jones",
  "password": "`+client.Redacted+`",
  "resourceType": "Practitioner",
  "sendEmail": false
}
`, "medplum: note: the password is set only if bob@example.com is new to this Medplum server: the server keeps the password of an existing account, "+
		"and a project admin can set the passwords of project-scoped users only\n")
	r.NotContains(t, "s3cret-passw0rd")
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("--dry-run with --project sent %d requests", n)
	}
}

func TestInviteValidationListsEveryProblemAndSendsNothing(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const pre = "medplum: the invite is not valid; nothing was sent:\n"
	cases := []struct {
		args   []string
		stdin  string
		stderr string
	}{
		{[]string{"invite", "-r", "Doctor", "--first", " ", "--email", "bob@", "--scope", "galaxy"}, "", pre +
			"  resourceType: unknown role \"Doctor\" (want Patient, Practitioner or RelatedPerson)\n" +
			"  firstName: is required\n  lastName: is required\n" +
			"  email: not a valid e-mail address: \"bob@\"\n" +
			"  scope: unknown scope \"galaxy\" (want project or server)\n"},
		{[]string{"invite", "-r", "RelatedPerson", "Marge", "Simpson", "marge@example.com"}, "", pre +
			"  patient: is required for a RelatedPerson (the Patient/<id> they are related to)\n"},
		{[]string{"invite", "Marge", "Simpson", "marge@example.com", "--patient", "Practitioner/1", "--access-policy", "Organization/1",
			"--access", "AccessPolicy/1?org", "--access", "AccessPolicy/2?bad name=x", "--access", "Patient/1"}, "", pre +
			"  patient: not a Patient reference: \"Practitioner/1\" (want Patient/<id>)\n" +
			"  patient: only applies to a RelatedPerson; this invite is for a Practitioner\n" +
			"  --access-policy: not an access policy: \"Organization/1\" (want a name, an id or AccessPolicy/<id>)\n" +
			"  --access AccessPolicy/1?org: parameter \"org\" has no value (want NAME=VALUE)\n" +
			"  --access AccessPolicy/2?bad name=x: parameter name \"bad name\": use letters, digits, _ . -\n" +
			"  --access Patient/1: not an access policy: \"Patient/1\" (want a name, an id or AccessPolicy/<id>)\n"},
		{[]string{"invite", "Oz", "Ra", "--external-id", "x", "--scope", "server"}, "", "medplum: medplum invite takes a first name, a last name and an e-mail (or flags), got 2 arguments\nRun 'medplum invite --help' for usage.\n"},
		{[]string{"invite", "oz@example.com"}, "", "medplum: medplum invite takes a first name, a last name and an e-mail (or flags), got 1 argument\nRun 'medplum invite --help' for usage.\n"},
		{[]string{"invite", "--first", "Oz", "--last", "Ra", "--external-id", "x", "--scope", "server"}, "", pre +
			"  scope: users with an externalId are always project-scoped; leave scope empty or say project\n"},
		{[]string{"invite", "-r", "Patient", "--first", "Oz", "--last", "Ra"}, "", pre + "  email: is required (or an externalId)\n"},
		{[]string{"invite", "Oz", "Ra", "oz@example.com", "--password-stdin"}, "short\n", pre + "  password: must be at least 8 characters\n"},
		{[]string{"invite", "Oz", "Ra", "oz@example.com", "--password-stdin"}, "", "medplum: --password-stdin: stdin is empty\n"},
		{[]string{"invite", "Oz", "Ra", "oz@example.com", "--first", "Oz"}, "", "medplum: give the name and e-mail either as arguments or with --first, not both\nRun 'medplum invite --help' for usage.\n"},
		{[]string{"invite", "-f", "-", "--password-stdin"}, "{}", "medplum: -f - and --password-stdin both read stdin; put the payload in a file\nRun 'medplum invite --help' for usage.\n"},
		{[]string{"invite", "--project", "Patient/1", "A", "B", "a@b.co"}, "", "medplum: --project: not a project: \"Patient/1\" (want an id or Project/<id>)\nRun 'medplum invite --help' for usage.\n"},
		{[]string{"invite", "-f", "-"}, `{"resourceType":"Patient","firstName":"A","lastName":"B","email":"a@b.co","sendEmail":"maybe","upsert":"TRUE","membership":{"admin":1},"patient":"Patient/1","access":{}}`, "" +
			"medplum: note: upsert \"TRUE\" is a string; sent as the boolean true\n" + pre +
			"  sendEmail: must be true or false, not \"maybe\"\n" +
			"  membership.admin: must be true or false, not 1\n" +
			"  patient: must be a JSON object like {\"reference\": \"Type/<id>\"}, not \"Patient/1\"\n" +
			"  access: must be a JSON array, not {}\n"},
		// A value is shown as it was given: & < > too, not \u0026 \u003c \u003e.
		{[]string{"invite", "-f", "-"}, `{"firstName":"A","lastName":"B","email":"a@b.co","patient":"<Patient/1> & co"}`, pre +
			"  patient: must be a JSON object like {\"reference\": \"Type/<id>\"}, not \"<Patient/1> & co\"\n"},
		// A field of the wrong kind does not hide the other problems: the
		// missing last name and the bad e-mail are listed too, and so is
		// every nested field of the wrong kind.
		{[]string{"invite", "-f", "-"}, `{"resourceType":"Patient","firstName":1,"email":"bad","membership":{"admin":"yes","accessPolicy":"AccessPolicy/1","access":[{"policy":"AccessPolicy/2"},{"policy":{"reference":"AccessPolicy/3"},"parameter":{"name":"x"}}]}}`, pre +
			"  membership.admin: must be true or false, not \"yes\"\n" +
			"  firstName: must be a string, not 1\n" +
			"  membership.access.policy: must be a JSON object, not a string\n" +
			"  membership.access.parameter: must be a JSON array, not an object\n" +
			"  membership.accessPolicy: must be a JSON object, not a string\n" +
			"  lastName: is required\n" +
			"  email: not a valid e-mail address: \"bad\"\n"},
		{[]string{"invite", "-f", "-"}, `{"resourceType":"Patient","firstName":"A","lastName":"B","email":"a@b.co","membership":{"access":[{"parameter":[{"name":"org","valueString":"x","valueReference":{"reference":"Organization/1"}}]}],"profile":{"reference":"Practitioner/1"}}}`, pre +
			"  membership.profile: not a Patient reference: \"Practitioner/1\" (an existing profile of the invite's resourceType)\n" +
			"  membership.access[0].policy: is required\n" +
			"  membership.access[0].parameter[0]: parameter org has both a valueString and a valueReference\n"},
		// A password of the wrong kind is named by its kind: its value never reaches stderr.
		{[]string{"invite", "-f", "-"}, `{"firstName":"A","lastName":"B","email":"a@b.co","password":["hunter2-secret-value"]}`, pre +
			"  password: must be a string, not a JSON array\n"},
		{[]string{"invite", "-f", "-"}, `{"firstName":"A","lastName":"B","email":"a@b.co","password":73619245810}`, pre +
			"  password: must be a string, not a number\n"},
		{[]string{"invite", "-f", write("bad.json", "{\n  \"firstName\": \"A\",\n  \"lastName\": B\n}\n")}, "", "medplum: the invite payload in " + filepath.Join(dir, "bad.json") + " is not valid JSON: line 3, column 15: invalid character 'B' looking for beginning of value\n"},
		{[]string{"invite", "-f", write("array.json", "[]")}, "", "medplum: the invite payload in " + filepath.Join(dir, "array.json") + " is not a JSON object\n"},
		{[]string{"invite", "-f", filepath.Join(dir, "missing.json")}, "", "medplum: reading the invite payload: open " + filepath.Join(dir, "missing.json") + ": no such file or directory\n"},
		{[]string{"invite", "A", "B", "a@b.co", "-o", "xml"}, "", "medplum: invalid argument \"xml\" for \"-o, --output\" flag: unknown format \"xml\" (use json, yaml, ndjson, table, csv)\nRun 'medplum invite --help' for usage.\n"},
	}
	for _, c := range cases {
		e.RunStdin(c.stdin, c.args...).Expect(t, 2, "", c.stderr)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("invalid invites sent %d requests", n)
	}
}

func TestInviteServerRefusals(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	// What the server refuses (a patient that does not exist): its 400,
	// exit 1. (An access policy that does not exist is refused before
	// anything is sent: TestInviteChecksPoliciesBeforeSending.)
	e.Run("invite", "-r", "RelatedPerson", "Bob", "Jones", "bob@example.com", "--patient", "Patient/nope").
		Expect(t, 1, "", "medplum: Patient Patient/nope does not exist\n")

	// A member who is not an admin: 403, exit 5.
	e = clitest.SignedInAsMember(t, srv)
	e.Run("invite", "Bob", "Jones", "bob@example.com").Expect(t, 5, "", "medplum: Forbidden\n")
}

// A project admin's invite lands in their own project whatever project the
// path names (the server ignores it for anyone but a super admin), so
// --project naming another project is refused before anything is sent. A
// super admin can name any project.
func TestInviteProjectFlagNamesTheProjectActedOn(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	other := srv.Seed.SuperAdminProjectID
	want := "medplum: --project " + other + ": you are signed in to project \"" + srv.Seed.ProjectName + "\" (" + srv.Seed.ProjectID +
		"), and only a super admin can act on another project\n"
	e.Run("invite", "Otto", "Mann", "otto@example.com", "--project", other).Expect(t, 2, "", want)
	writeFile := func(name, body string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	e.Run("invite", "--csv", writeFile("u.csv", "firstName,lastName,email\nOtto,Mann,otto@example.com\n"), "--project", "Project/"+other).Expect(t, 2, "", want)
	if n := len(srv.RequestsTo("POST", "/admin/projects/*/invite")); n != 0 || srv.MembershipByEmail(srv.Seed.ProjectID, "otto@example.com") != nil {
		t.Fatalf("%d invites sent", n)
	}
	// Its own project, named: fine.
	r := e.Run("invite", "Otto", "Mann", "otto@example.com", "--project", srv.Seed.ProjectID)
	r.Expect(t, 0, header+row(member(t, srv, "otto@example.com")), "")

	// A super admin invites into the project named.
	sa := clitest.New(t)
	sa.Set("MEDPLUM_BASE_URL", srv.URL).Set("MEDPLUM_CLIENT_ID", srv.Seed.SuperAdminClient.ID).Set("MEDPLUM_CLIENT_SECRET", srv.Seed.SuperAdminClient.Secret)
	r = sa.Run("invite", "Edna", "Krabappel", "edna@example.com", "--project", srv.Seed.ProjectID)
	r.Expect(t, 0, header+row(member(t, srv, "edna@example.com")), "")
}
