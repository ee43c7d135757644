package projectadmin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
	"github.com/medplumcli/medplum/commands/internal/provtest"
)

func TestMain(m *testing.M) { clitest.Main(m) }

func projectsNamed(srv *medplumtest.Server, name string) []client.Resource {
	var out []client.Resource
	for _, p := range srv.Resources("Project", "") {
		if p["name"] == name {
			out = append(out, p)
		}
	}
	return out
}

func TestProjectCreate(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.SuperAdmin(t, srv)
	args := []string{"project", "create", "Acme Clinic", "--strict-mode", "--if-not-exists",
		"--owner-email", "Alice@Example.com", "--owner-first", "Alice", "--owner-last", "Smith"}

	r := e.Run(args...)
	projects := projectsNamed(srv, "Acme Clinic")
	if len(projects) != 1 {
		t.Fatalf("%d projects named Acme Clinic; run: %+v", len(projects), r)
	}
	pid := projects[0].ID()
	alice := srv.MembershipByEmail(pid, "alice@example.com")
	if alice == nil {
		t.Fatal("alice is not a member")
	}
	r.Expect(t, 0, pid+"\n", fmt.Sprintf("Created project \"Acme Clinic\" (%s).\nalice@example.com is an admin of the project (ProjectMembership/%s).\n", pid, alice.ID()))
	if projects[0]["strictMode"] != true || alice["admin"] != true {
		t.Errorf("project %v, membership %v", projects[0], alice)
	}
	if n := len(srv.SentEmails()); n != 0 {
		t.Errorf("%d e-mails sent without --send-email", n)
	}

	// Again: the same project, the same single membership.
	e.Run(args...).Expect(t, 0, pid+"\n", fmt.Sprintf("Project \"Acme Clinic\" already exists (%s).\nalice@example.com is an admin of the project (ProjectMembership/%s).\n", pid, alice.ID()))
	if n := len(projectsNamed(srv, "Acme Clinic")); n != 1 {
		t.Errorf("%d projects after the repeat", n)
	}
	if n := len(srv.Memberships(pid)); n != 1 {
		t.Errorf("%d memberships after the repeat", n)
	}

	// Without --if-not-exists a second project of that name is created, and
	// then --if-not-exists refuses to guess.
	r = e.Run("project", "create", "Acme Clinic", "-o", "json")
	var p map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &p); err != nil || p["resourceType"] != "Project" || p["name"] != "Acme Clinic" || p["strictMode"] != nil {
		t.Fatalf("-o json printed %s (%v)", r.Stdout, err)
	}
	second := p["id"].(string)
	r.ExpectCode(t, 0, "Created project \"Acme Clinic\" ("+second+").\n")
	r = e.Run("project", "create", "Acme Clinic", "--if-not-exists")
	ids := []string{pid, second}
	r.Expect(t, 1, "", fmt.Sprintf("medplum: 2 projects are named \"Acme Clinic\" (%s, %s); --if-not-exists needs the name to be unique\n", ids[0], ids[1]))
}

// project create -o json prints the Project as the server sent it.
func TestProjectCreateJSONIsTheServersAnswer(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.SuperAdmin(t, srv)
	tok := srv.IssueToken(srv.Seed.SuperAdminClient.MembershipID)
	for i, args := range [][]string{{"--strict-mode"}, {"--if-not-exists"}} {
		r := e.Run(append([]string{"project", "create", "Acme Clinic", "-o", "json"}, args...)...)
		ps := projectsNamed(srv, "Acme Clinic")
		if len(ps) != 1 {
			t.Fatalf("%d projects: %+v", len(ps), r)
		}
		want := clitest.Indented(t, clitest.ServerGet(t, srv, tok, "fhir/R4/Project/"+ps[0].ID()))
		msg := "Created project \"Acme Clinic\" (" + ps[0].ID() + ").\n"
		if i > 0 {
			msg = "Project \"Acme Clinic\" already exists (" + ps[0].ID() + ").\n"
		}
		r.Expect(t, 0, want, msg)
	}
	// -o yaml, --jq and --template: the same Project, through commands/output.
	clitest.ExpectDocumentFlagsStderr(t, e, srv, "Project \"Acme Clinic\" already exists ("+projectsNamed(srv, "Acme Clinic")[0].ID()+").\n",
		"project", "create", "Acme Clinic", "--if-not-exists")
	if help := e.Run("project", "create", "--help").ExpectCode(t, 0, ""); !strings.Contains(help, "(e.g. '.id')") {
		t.Errorf("project create --help has another --jq example:\n%s", help)
	}
	pid := projectsNamed(srv, "Acme Clinic")[0].ID()
	e.Run("project", "create", "Acme Clinic", "--if-not-exists", "--jq", ".id").Expect(t, 0, pid+"\n", "Project \"Acme Clinic\" already exists ("+pid+").\n")
}

// project settings get -o json|ndjson prints the project's settings as the
// server sent them.
func TestSettingsJSONIsTheServersAnswer(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.Admin(t, srv)
	pid := srv.Seed.ProjectID
	p := srv.Resource("Project", pid)
	p["setting"] = []any{
		map[string]any{"name": "ratio", "valueDecimal": json.Number("0.250")},
		map[string]any{"name": "note", "valueString": "<b>&</b> \u00e9", "extension": []any{map[string]any{"url": "x"}}},
	}
	srv.Update(p)
	var doc struct {
		Setting []json.RawMessage `json:"setting"`
	}
	raw := clitest.ServerGet(t, srv, srv.IssueToken(srv.Seed.Client.MembershipID), "fhir/R4/Project/"+pid)
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc.Setting) != 2 {
		t.Fatalf("fhir/R4/Project: %v %s", err, raw)
	}
	arr := "[" + string(doc.Setting[0]) + "," + string(doc.Setting[1]) + "]"
	e.Run("project", "settings", "get", "-o", "json").Expect(t, 0, clitest.Indented(t, []byte(arr)), "")
	e.Run("project", "settings", "get", "-o", "ndjson").Expect(t, 0, string(doc.Setting[0])+"\n"+string(doc.Setting[1])+"\n", "")
}

// project create prints the Project it found or made, but never the
// values of its secrets (nor a site's reCAPTCHA secret key), not even with
// -o json: the user asked for the project's id, not for its credentials.
func TestProjectCreateHidesProjectSecrets(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.SuperAdmin(t, srv)
	r := e.Run("project", "create", "Acme Clinic")
	pid := strings.TrimSpace(r.Stdout)
	r.Expect(t, 0, pid+"\n", "Created project \"Acme Clinic\" ("+pid+").\n")
	p := srv.Resource("Project", pid)
	p["secret"] = []any{map[string]any{"name": "SMTP_PASSWORD", "valueString": "smtp-secret-value-1"}}
	p["site"] = []any{map[string]any{"name": "web", "domain": []any{"example.com"}, "recaptchaSiteKey": "site-key", "recaptchaSecretKey": "recaptcha-secret-value-2"}}
	srv.Update(p)
	for _, args := range [][]string{{"-o", "json"}, {"-o", "json", "-v"}, {}, {"-o", "yaml"}, {"--jq", "."}, {"--template", "{{json .}}"}} {
		r := e.Run(append([]string{"project", "create", "Acme Clinic", "--if-not-exists"}, args...)...)
		r.NotContains(t, "smtp-secret-value-1", "recaptcha-secret-value-2")
		if r.Code != 0 || !strings.HasSuffix(r.Stderr, "Project \"Acme Clinic\" already exists ("+pid+").\n") {
			t.Errorf("%v: %+v", args, r)
		}
		if out := r.Stdout; len(args) > 0 && (!strings.Contains(out, "site-key") || strings.Contains(out, "secret")) {
			t.Errorf("%v:\n%s", args, out)
		}
	}
}

func TestProjectCreateRefusals(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.SuperAdmin(t, srv)
	srv.ResetRequests()
	e.Run("project", "create", "X", "--owner-email", "not-an-email", "--owner-first", "A").Expect(t, 2, "",
		"medplum: --owner-email: not a valid e-mail address: \"not-an-email\"; --owner-last is required with --owner-email\nRun 'medplum project create --help' for usage.\n")
	e.Run("project", "create", "X", "--send-email").Expect(t, 2, "",
		"medplum: --owner-first, --owner-last and --send-email need --owner-email\nRun 'medplum project create --help' for usage.\n")
	e.Run("project", "create", " ").Expect(t, 2, "", "medplum: the project name is empty\nRun 'medplum project create --help' for usage.\n")
	clitest.ExpectNothingSent(t, srv)

	// A project admin cannot create projects: 403, exit 5, with the reason.
	provtest.Admin(t, srv).Run("project", "create", "X").Expect(t, 5, "",
		"medplum: Forbidden\ncreating and finding projects needs super-admin credentials (a ClientApplication of the Super Admin project)\n")
}

func TestSettingsKeepTheOthers(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.Admin(t, srv)
	pid := srv.Seed.ProjectID
	proj := fmt.Sprintf("%q (%s)", srv.Seed.ProjectName, pid)
	p := srv.Resource("Project", pid)
	p["setting"] = []any{
		map[string]any{"name": "allowedMfaMethods", "valueString": "totp"},
		map[string]any{"name": "retention", "valueString": "30"},
	}
	srv.Update(p)

	e.Run("project", "settings", "set", "mfaRequired", "true").Expect(t, 0, "", "Set mfaRequired = true (boolean) in project "+proj+".\n")
	e.Run("project", "settings", "set", "retention", "45").Expect(t, 0, "", "Set retention = 45 (string) in project "+proj+".\n")
	e.Run("project", "settings", "set", "ratio", "0.25").Expect(t, 0, "", "Set ratio = 0.25 (decimal) in project "+proj+".\n")
	e.Run("project", "settings", "set", "limit", "10").Expect(t, 0, "", "Set limit = 10 (integer) in project "+proj+".\n")
	e.Run("project", "settings", "set", "code", "10", "--type", "string").Expect(t, 0, "", "Set code = 10 (string) in project "+proj+".\n")

	want := `[{"name":"allowedMfaMethods","valueString":"totp"},{"name":"retention","valueString":"45"},{"name":"mfaRequired","valueBoolean":true},{"name":"ratio","valueDecimal":0.25},{"name":"limit","valueInteger":10},{"name":"code","valueString":"10"}]`
	if got, _ := json.Marshal(srv.Resource("Project", pid)["setting"]); string(got) != want {
		t.Errorf("Project.setting:\n%s\nwant\n%s", got, want)
	}

	e.Run("project", "settings", "get").Expect(t, 0, "NAME\tVALUE\tTYPE\n"+
		"allowedMfaMethods\ttotp\tstring\nretention\t45\tstring\nmfaRequired\ttrue\tboolean\n"+
		"ratio\t0.25\tdecimal\nlimit\t10\tinteger\ncode\t10\tstring\n", "")
	e.Run("project", "settings", "get", "mfaRequired").Expect(t, 0, "true\n", "")
	e.Run("project", "settings", "get", "nope").Expect(t, 1, "", "medplum: project "+proj+" has no setting \"nope\"\n")
	e.Run("project", "settings", "get", "-o", "ndjson").Expect(t, 0, strings.ReplaceAll(strings.Trim(want, "[]"), "},{", "}\n{")+"\n", "")

	// The same value again sends nothing; unset keeps the others.
	srv.ResetRequests()
	e.Run("project", "settings", "set", "mfaRequired", "true").Expect(t, 0, "", "Setting mfaRequired is already true in project "+proj+".\n")
	provtest.ExpectWrites(t, srv)
	e.Run("project", "settings", "unset", "ratio").Expect(t, 0, "", "Removed setting ratio from project "+proj+".\n")
	e.Run("project", "settings", "unset", "ratio").Expect(t, 0, "", "Project "+proj+" has no setting ratio; nothing to do.\n")
	provtest.ExpectWrites(t, srv, "PATCH /fhir/R4/Project/"+pid)
	if n := len(srv.Resource("Project", pid)["setting"].([]any)); n != 5 {
		t.Errorf("%d settings after unset", n)
	}

	// Bad values are refused before anything is sent.
	srv.ResetRequests()
	e.Run("project", "settings", "set", "mfaRequired", "yes", "--type", "boolean").Expect(t, 2, "", "medplum: \"yes\" is not a boolean (want true or false)\n")
	e.Run("project", "settings", "set", "x", "1", "--type", "float").Expect(t, 2, "", "medplum: unknown --type \"float\" (use string, boolean, integer or decimal)\nRun 'medplum project settings set --help' for usage.\n")
	clitest.ExpectNothingSent(t, srv)
	// A value that does not fit the setting's existing type is refused
	// after reading, with nothing written.
	e.Run("project", "settings", "set", "mfaRequired", "maybe").Expect(t, 2, "", "medplum: \"maybe\" is not a boolean (want true or false)\n")
	provtest.ExpectWrites(t, srv)
}

func TestSecrets(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.Admin(t, srv)
	pid := srv.Seed.ProjectID
	proj := fmt.Sprintf("%q (%s)", srv.Seed.ProjectName, pid)
	const v1, v2 = "smtp-pass-0123456789", "api-key-abcdefghijkl"

	r := e.RunStdin(v1+"\n", "project", "secrets", "set", "SMTP_PASSWORD", "--verbose")
	if r.Code != 0 || r.Stdout != "" || !strings.HasSuffix(r.Stderr, "Set secret SMTP_PASSWORD in project "+proj+".\n") {
		t.Errorf("set: %+v", r)
	}
	r.NotContains(t, v1)
	e.RunStdin(v2, "project", "secrets", "set", "API_KEY").Expect(t, 0, "", "Set secret API_KEY in project "+proj+".\n")
	e.RunStdin(v2, "project", "secrets", "set", "API_KEY").Expect(t, 0, "", "Secret API_KEY of project "+proj+" already has this value.\n")

	want := `[{"name":"SMTP_PASSWORD","valueString":"` + v1 + `"},{"name":"API_KEY","valueString":"` + v2 + `"}]`
	if got, _ := json.Marshal(srv.Resource("Project", pid)["secret"]); string(got) != want {
		t.Errorf("Project.secret:\n%s\nwant\n%s", got, want)
	}
	for _, args := range [][]string{{"list"}, {"list", "-o", "json"}, {"list", "-v"}} {
		r := e.Run(append([]string{"project", "secrets"}, args...)...)
		r.NotContains(t, v1, v2)
		if r.Code != 0 {
			t.Errorf("%v: %+v", args, r)
		}
	}
	e.Run("project", "secrets", "list").Expect(t, 0, "NAME\nSMTP_PASSWORD\nAPI_KEY\n", "")
	e.Run("project", "secrets", "list", "-o", "json").Expect(t, 0, "[\n  {\n    \"name\": \"SMTP_PASSWORD\"\n  },\n  {\n    \"name\": \"API_KEY\"\n  }\n]\n", "")
	e.Run("project", "secrets", "list", "-o", "ndjson").Expect(t, 0, "{\"name\":\"SMTP_PASSWORD\"}\n{\"name\":\"API_KEY\"}\n", "")
	// Settings never show secrets either.
	e.Run("project", "settings", "get", "-o", "json", "-v").NotContains(t, v1, v2)

	e.Run("project", "secrets", "unset", "SMTP_PASSWORD").Expect(t, 0, "", "Removed secret SMTP_PASSWORD from project "+proj+".\n")
	want = `[{"name":"API_KEY","valueString":"` + v2 + `"}]`
	if got, _ := json.Marshal(srv.Resource("Project", pid)["secret"]); string(got) != want {
		t.Errorf("after unset:\n%s\nwant\n%s", got, want)
	}

	srv.ResetRequests()
	e.RunStdin("\n", "project", "secrets", "set", "EMPTY").Expect(t, 2, "", "medplum: the secret value is empty: pipe it to standard input\n")
	clitest.ExpectNothingSent(t, srv)
}

// project settings set|unset|get on the server itself: Medplum 5.0.10 has
// no admin route for settings (capture 180: 404 "Cannot POST"), so they go
// through a FHIR JSON Patch of the Project that tests the version read
// (182-184), and a setting written by someone else meanwhile is kept.
func TestSettingsOnTheServer(t *testing.T) {
	tg := clitest.NewTarget(t)
	e := tg.SignedIn(t)
	flag, other, third := tg.Unique("realfixFlag"), tg.Unique("realfixOther"), tg.Unique("realfixThird")
	tg.Cleanup(t, provtest.RemoveSettings(flag, other, third))
	api := tg.API(t)
	p, err := api.ReadProject(context.Background(), tg.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	proj := fmt.Sprintf("%q (%s)", p.Resource.String("name"), tg.ProjectID)

	e.Run("project", "settings", "set", flag, "true").Expect(t, 0, "", "Set "+flag+" = true (boolean) in project "+proj+".\n")
	e.Run("project", "settings", "get", flag).Expect(t, 0, "true\n", "")
	e.Run("project", "settings", "set", other, "hello").Expect(t, 0, "", "Set "+other+" = hello (string) in project "+proj+".\n")
	e.Run("project", "settings", "set", flag, "false").Expect(t, 0, "", "Set "+flag+" = false (boolean) in project "+proj+".\n")
	e.Run("project", "settings", "get", other).Expect(t, 0, "hello\n", "")
	e.Run("project", "settings", "unset", flag).Expect(t, 0, "", "Removed setting "+flag+" from project "+proj+".\n")
	e.Run("project", "settings", "get", flag).Expect(t, 1, "", "medplum: project "+proj+" has no setting \""+flag+"\"\n")
	e.Run("project", "settings", "get", other).Expect(t, 0, "hello\n", "")

	srv := tg.Sandbox
	if srv == nil {
		return
	}
	// Someone else writes a setting after the command read the project and
	// before its write arrives: the write is refused (the version it tests
	// is gone), the command reads again and writes both.
	hold := make(chan struct{})
	srv.Inject(medplumtest.Fault{Method: "PATCH", Path: "/fhir/R4/Project/*", Hold: hold})
	proc := e.Start("project", "settings", "set", flag, "true")
	ended := make(chan clitest.Result, 1)
	go func() { ended <- proc.Wait() }()
	for len(srv.PendingFaults()) > 0 { // until the command's PATCH is held
		select {
		case r := <-ended:
			close(hold)
			t.Fatalf("the command ended before it wrote: %+v", r)
		case <-time.After(5 * time.Millisecond):
		}
	}
	cur, err := api.ReadProject(context.Background(), tg.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	list := append(client.SettingsList(cur.Resource, "setting"), client.Resource{"name": third, "valueInteger": json.Number("3")})
	if _, err := api.PatchProjectList(context.Background(), tg.ProjectID, client.VersionID(cur.Resource), "setting", list); err != nil {
		t.Fatal(err)
	}
	close(hold)
	(<-ended).Expect(t, 0, "", "Set "+flag+" = true (boolean) in project "+proj+".\n")
	e.Run("project", "settings", "get", "--columns", "name,value").Expect(t, 0, "NAME\tVALUE\n"+other+"\thello\n"+third+"\t3\n"+flag+"\ttrue\n", "")
	if n := len(srv.RequestsTo("PATCH", "/fhir/R4/Project/*")); n != 7 {
		t.Errorf("%d PATCH requests, want 7 (4 writes, the test's own, the refused one and its retry)", n)
	}
}

// project secrets set|list|unset on the server itself: read through FHIR
// and written as a patch of the version read, like the settings; the value
// shows nowhere.
func TestSecretsOnTheServer(t *testing.T) {
	tg := clitest.NewTarget(t)
	e := tg.SignedIn(t)
	name := tg.Unique("REALFIX_SECRET")
	value := "realfix-secret-" + clitest.RandomID("")
	tg.Cleanup(t, provtest.RemoveSecrets(name))
	p, err := tg.API(t).ReadProject(context.Background(), tg.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	proj := fmt.Sprintf("%q (%s)", p.Resource.String("name"), tg.ProjectID)

	r := e.RunStdin(value+"\n", "project", "secrets", "set", name, "--verbose")
	if r.Code != 0 || r.Stdout != "" || !strings.HasSuffix(r.Stderr, "Set secret "+name+" in project "+proj+".\n") {
		t.Errorf("set: %+v", r)
	}
	r.NotContains(t, value)
	e.RunStdin(value, "project", "secrets", "set", name).Expect(t, 0, "", "Secret "+name+" of project "+proj+" already has this value.\n")
	r = e.Run("project", "secrets", "list", "-v")
	r.NotContains(t, value)
	if r.Code != 0 || !strings.Contains(r.Stdout, "\n"+name+"\n") {
		t.Errorf("list: %+v", r)
	}
	e.Run("project", "secrets", "unset", name).Expect(t, 0, "", "Removed secret "+name+" from project "+proj+".\n")
	if strings.Contains(e.Run("project", "secrets", "list").Stdout, name) {
		t.Errorf("%s listed after unset", name)
	}
}
