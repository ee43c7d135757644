package authcmd_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/clitest"
	"github.com/medplumcli/medplum/commands/ojson"
)

// whoami -o json signed in as a client never prints the client's secrets
// (auth/me returns the ClientApplication whole): the fields are left out,
// and the rest is the server's JSON in the server's order.
func TestWhoamiJSONHidesClientSecrets(t *testing.T) {
	srv := newServer(t)
	cc := srv.Seed.Client
	app := srv.Resource("ClientApplication", cc.ID)
	app["retiringSecret"] = "retiring-" + cc.Secret
	srv.Update(app)

	e := env(t, srv)
	e.Set("MEDPLUM_CLIENT_ID", cc.ID)
	e.Set("MEDPLUM_CLIENT_SECRET", cc.Secret)
	for _, args := range [][]string{{"whoami", "-o", "json"}, {"whoami"}, {"-v", "whoami", "-o", "json"}} {
		r := e.Run(args...)
		r.NotContains(t, cc.Secret, "retiring-"+cc.Secret)
		if r.Code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.Code, r.Stderr)
		}
	}
	out := e.Run("whoami", "-o", "json").ExpectCode(t, 0, "")

	// The expected document: the server's, minus the two fields.
	raw := clitest.ServerGet(t, srv, srv.IssueToken(cc.MembershipID), "auth/me")
	if !strings.Contains(string(raw), cc.Secret) {
		t.Fatal("auth/me does not hold the client secret: the test proves nothing")
	}
	doc, err := ojson.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	doc.Get("profile").Del("secret")
	doc.Get("profile").Del("retiringSecret")
	if want := clitest.Indented(t, doc.Bytes()); out != want {
		t.Errorf("whoami -o json:\n%s\nwant:\n%s", out, want)
	}
	// -o yaml, --jq and --template: the same document, secrets left out.
	clitest.ExpectDocumentFlags(t, e, srv, "whoami")
	for _, args := range [][]string{{"-o", "yaml"}, {"--jq", "."}, {"--template", "{{json .}}"}, {"--jq", ".profile.secret"}} {
		r := e.Run(append([]string{"whoami"}, args...)...)
		r.NotContains(t, cc.Secret, "retiring-"+cc.Secret)
		if r.Code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.Code, r.Stderr)
		}
	}
	e.Run("whoami", "--jq", ".profile.secret").Expect(t, 0, "null\n", "")
	e.Run("whoami", "--jq", ".profile.resourceType").Expect(t, 0, "ClientApplication\n", "")
	// The --jq example of --help works.
	if help := e.Run("whoami", "--help").ExpectCode(t, 0, ""); !strings.Contains(help, "(e.g. '.project.name')") {
		t.Errorf("whoami --help has another --jq example:\n%s", help)
	}
	e.Run("whoami", "--jq", ".project.name").Expect(t, 0, srv.Seed.ProjectName+"\n", "")
}

// For a person, whoami -o json is the server's auth/me answer unchanged.
func TestWhoamiJSONIsTheServersAnswer(t *testing.T) {
	srv := newServer(t)
	ann := srv.MembershipByEmail(srv.Seed.ProjectID, "ann@example.com")
	e := env(t, srv)
	tok := srv.IssueToken(ann.ID())
	e.Set("MEDPLUM_CLIENT_ACCESS_TOKEN", tok)
	out := e.Run("whoami", "-o", "json").ExpectCode(t, 0, "")
	if want := clitest.Indented(t, clitest.ServerGet(t, srv, tok, "auth/me")); out != want {
		t.Errorf("whoami -o json:\n%s\nwant:\n%s", out, want)
	}
}

// A client deleted on the server while its token is still held: 5.0.10's
// auth/me reads the membership's profile and answers 410 Gone (capture
// 591b; 404 once expunged, 591c). That is credentials the server no longer
// takes: exit 4, not "Not found" exit 1, and a hint to sign in again (a
// stored sign-in) or to check the variable the token came from. Its
// client credentials are "Invalid client" (591), exit 4 too.
func TestWhoamiClientDeletedOnTheServer(t *testing.T) {
	srv := newServer(t)
	project := srv.Seed.ProjectID
	const secret = "doomed-secret-0123456789"
	app := srv.Create(project, client.Resource{"resourceType": "ClientApplication", "name": "Doomed", "secret": secret})
	ref := map[string]any{"reference": "ClientApplication/" + app.ID(), "display": "Doomed"}
	m := srv.Create(project, client.Resource{"resourceType": "ProjectMembership", "project": map[string]any{"reference": "Project/" + project},
		"user": ref, "profile": ref})
	tok := srv.IssueToken(m.ID())
	// The same token stored by medplum login before the client is deleted.
	stored := env(t, srv)
	if r := stored.RunStdin(tok+"\n", "login", "--with-token", "--insecure-storage"); r.Code != 0 {
		t.Fatalf("login: %+v", r)
	}
	admin := clitest.SignedIn(t, srv)
	admin.Run("delete", "ClientApplication/"+app.ID()).ExpectCode(t, 0, "")

	e := env(t, srv).Set("MEDPLUM_CLIENT_ACCESS_TOKEN", tok)
	r := e.Run("whoami")
	r.Expect(t, 4, "", "medplum: GET auth/me: Gone: the user or client these credentials sign in as is no longer on the server (deleted)\n"+
		"check MEDPLUM_CLIENT_ACCESS_TOKEN: the token comes from there, not from medplum login\n")
	r.NotContains(t, tok)
	// Stored by medplum login, the hint is to sign in again.
	r = stored.Run("whoami")
	r.Expect(t, 4, "", "medplum: GET auth/me: Gone: the user or client these credentials sign in as is no longer on the server (deleted)\n"+
		"sign in again with credentials that exist: medplum login\n")
	r.NotContains(t, tok)

	e = env(t, srv).Set("MEDPLUM_CLIENT_ID", app.ID()).Set("MEDPLUM_CLIENT_SECRET", secret)
	r = e.Run("whoami")
	r.Expect(t, 4, "", "medplum: client credentials sign-in for client "+app.ID()+" failed: Invalid client (invalid_request)\n"+
		"check MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET: the credentials come from there, not from medplum login\n")
	r.NotContains(t, secret)
}

// project current -o json (yaml, --jq, --template) prints the project as
// auth/me holds it; its text stays "Name (Project/id)".
func TestProjectCurrentDocument(t *testing.T) {
	srv := newServer(t)
	cc := srv.Seed.Client
	e := env(t, srv).Set("MEDPLUM_CLIENT_ID", cc.ID).Set("MEDPLUM_CLIENT_SECRET", cc.Secret)

	e.Run("project", "current").Expect(t, 0, srv.Seed.ProjectName+" (Project/"+srv.Seed.ProjectID+")\n", "")
	doc, err := ojson.Parse(clitest.ServerGet(t, srv, srv.IssueToken(cc.MembershipID), "auth/me"))
	if err != nil {
		t.Fatal(err)
	}
	e.Run("project", "current", "-o", "json").Expect(t, 0, clitest.Indented(t, doc.Get("project").Bytes()), "")
	e.Run("project", "current", "--jq", ".id").Expect(t, 0, srv.Seed.ProjectID+"\n", "")
	e.Run("project", "current", "--template", "{{.name}}").Expect(t, 0, srv.Seed.ProjectName, "")
	e.Run("project", "current", "-o", "yaml").Expect(t, 0, fmt.Sprintf("resourceType: Project\nid: %s\nname: %s\nstrictMode: true\n", srv.Seed.ProjectID, srv.Seed.ProjectName), "")
	clitest.ExpectDocumentFlags(t, e, srv, "project", "current")
	srv.ResetRequests()
	e.Run("-v", "project", "current", "--jq", ".id |").Expect(t, 2, "", "medplum: invalid --jq expression \".id |\": unexpected EOF at column 6 (the end)\n")
	clitest.ExpectNothingSent(t, srv)
}
