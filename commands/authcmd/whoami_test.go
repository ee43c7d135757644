package authcmd_test

import (
	"strings"
	"testing"

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
