package rest_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/clitest"
)

// On any Medplum (make test-real runs it against a real one): a get with
// the client's id and secret in the environment is answered in one request
// (the sandbox's log shows it; on Medplum it goes as HTTP Basic); -o yaml,
// --jq and --template agree with -o json; and a client whose secret was
// rotated out still signs in with it, through the token endpoint, after
// Medplum refuses it as Basic credentials (capture 230).
func TestClientCredentialsAndFiltersOnTarget(t *testing.T) {
	tg := clitest.NewTarget(t)
	e := tg.SignedIn(t)
	if srv := tg.Sandbox; srv != nil {
		srv.ResetRequests()
	}
	e.Run("get", "Project/"+tg.ProjectID, "--jq", ".id").Expect(t, 0, tg.ProjectID+"\n", "")
	if srv := tg.Sandbox; srv != nil {
		if got, want := requestLog(srv), "GET /fhir/R4/Project/"+tg.ProjectID+" Basic\n"; got != want {
			t.Errorf("requests:\n%swant:\n%s", got, want)
		}
	}
	clitest.ExpectDocumentFlags(t, e, tg.Sandbox, "get", "Project/"+tg.ProjectID)

	ctx := context.Background()
	api := tg.API(t)
	app, err := api.CreateClientApplication(ctx, tg.ProjectID, map[string]any{"name": tg.Unique("floor-rotated")})
	if err != nil {
		t.Fatal(err)
	}
	id, old := app.Resource.ID(), app.Resource.String("secret")
	tg.Cleanup(t, func(ctx context.Context, c *client.Client) error {
		for r, err := range c.Search(ctx, "ProjectMembership?user=ClientApplication/"+id) {
			if err != nil {
				return err
			}
			if err := c.DeleteMembership(ctx, tg.ProjectID, r.ID()); err != nil {
				return err
			}
		}
		return c.DeleteResource(ctx, "ClientApplication", id)
	})
	if _, err := api.RotateClientSecret(ctx, id, old); err != nil {
		t.Fatal(err)
	}
	rotated := clitest.New(t).Set("MEDPLUM_BASE_URL", tg.URL).Set("MEDPLUM_CLIENT_ID", id).Set("MEDPLUM_CLIENT_SECRET", old)
	r := rotated.Run("get", "auth/me", "--jq", ".project.id")
	r.Expect(t, 0, tg.ProjectID+"\n", "")
	r.NotContains(t, old)
	if srv := tg.Sandbox; srv != nil {
		log := requestLog(srv)
		if !strings.HasSuffix(log, "GET /auth/me Basic\nPOST /oauth2/token \nGET /auth/me Bearer\n") {
			t.Errorf("a retiring secret: want Basic refused, then the token:\n%s", log)
		}
	}
}

// get --all reads every result of a search without _sort, past the offset
// Medplum stops at (10,000; capture 171): it sorts the search by
// _lastUpdated, whose next links carry a cursor (captures 169, 170). A
// search whose own _sort rules the cursor out is refused before anything
// is printed, rather than after the first 10,000 rows; one whose results
// fit keeps its sort.
func TestGetAllPastTheOffsetLimit(t *testing.T) {
	tg := clitest.NewScaleTarget(t)
	e := tg.SignedIn(t)
	count := strconv.Itoa(tg.MaxOffset / 10)

	r := e.Run("get", "ProjectMembership?_count="+count, "--all", "-o", "ndjson")
	if r.Code != 0 || r.Stderr != "" {
		t.Errorf("get --all without _sort: exit %d after %d lines, stderr:\n%s", r.Code, strings.Count(r.Stdout, "\n"), r.Stderr)
	}
	out := r.Stdout
	seen := map[string]bool{}
	for line := range strings.Lines(out) {
		var r struct{ ResourceType, ID string }
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.ResourceType != "ProjectMembership" || seen[r.ID] {
			t.Fatalf("line %q: %v (or a repeat)", line, err)
		}
		seen[r.ID] = true
	}
	if len(seen) != tg.Memberships {
		t.Errorf("get --all printed %d memberships, want all %d", len(seen), tg.Memberships)
	}

	r = e.Run("get", "ProjectMembership?_count="+count+"&_sort=-_lastUpdated", "--all", "-o", "ndjson")
	if r.Code != 1 || r.Stdout != "" ||
		!strings.HasPrefix(r.Stderr, "medplum: --all: this search has "+strconv.Itoa(tg.Memberships)+" results, more than Medplum pages through with _offset (Search offset exceeds maximum (got ") ||
		!strings.HasSuffix(r.Stderr, "), and with _sort=-_lastUpdated it cannot page with a cursor; nothing was printed\n"+
			"drop _sort and _offset (the results then come oldest first, _sort=_lastUpdated, and the server pages with a cursor), or narrow the search\n") {
		t.Errorf("a _sort that rules the cursor out: exit %d, %d lines printed, stderr:\n%s", r.Code, strings.Count(r.Stdout, "\n"), r.Stderr)
	}

	// Few results: the search's own sort is kept.
	out = e.Run("get", "ProjectMembership?profile-type=ClientApplication&_sort=-_lastUpdated", "--all", "-o", "ndjson").ExpectCode(t, 0, "")
	if n := strings.Count(out, "\n"); n < 1 || n > 10 {
		t.Errorf("a small sorted search printed %d lines", n)
	}
}

// Medplum writes its next links with its configured baseUrl. A user who
// reaches it by another name (localhost for 127.0.0.1, as the scale
// project's env file does on the real server) still gets every page:
// against the real 5.0.10 server, get --all stopped after the first page
// with "Unauthorized" (exit 4), its credentials rightly never sent to the
// host the links named.
func TestGetAllByAnotherNameOfTheServer(t *testing.T) {
	tg := clitest.NewTarget(t)
	if !strings.Contains(tg.URL, "//127.0.0.1:") {
		t.Skipf("the server is not reached as 127.0.0.1 (%s): no other name to try", tg.URL)
	}
	e := tg.SignedIn(t)
	args := []string{"get", "ProjectMembership?_count=2", "--all", "-o", "csv", "--no-header", "--columns", "id"}
	want := e.Run(args...).ExpectCode(t, 0, "")
	if strings.Count(want, "\n") < 3 {
		t.Fatalf("the project has too few members to page: %q", want)
	}
	e.Set("MEDPLUM_BASE_URL", strings.Replace(tg.URL, "//127.0.0.1:", "//localhost:", 1))
	e.Run(args...).Expect(t, 0, want, "")
}

// On any Medplum (make test-real runs it against a real one): a super
// admin deletes a project made with $init, then the default client the
// server made with it. 5.0.10 answers both deletes 410 Gone after doing
// them (captures 520, 522b); medplum reads each back, says it deleted it
// and exits 0. A second delete is the server's 200.
func TestDeleteProjectOnTarget(t *testing.T) {
	tg := clitest.NewTarget(t)
	name := tg.Unique("delete")
	p := tg.InitProject(t, name)
	apps, err := tg.Super(t).SearchAll(context.Background(), "ClientApplication?_project="+p.ProjectID+"&name="+url.QueryEscape(name+" Default Client"))
	if err != nil || len(apps) != 1 {
		t.Fatalf("the default client of %s: %v (%d found)", p.ProjectID, err, len(apps))
	}
	def := apps[0].ID()
	note := " (Medplum answered 410 Gone, as it does when it deletes a project or something of a deleted project; reading it back answers 410 too).\n"
	sa := tg.SuperSignedIn(t)
	sa.Run("delete", "Project/"+p.ProjectID).Expect(t, 0, "", "Deleted Project/"+p.ProjectID+note)
	sa.Run("get", "Project/"+p.ProjectID).Expect(t, 1, "", "medplum: GET Project/"+p.ProjectID+": the resource was deleted (410 Gone)\nMedplum keeps its history (medplum get Project/"+p.ProjectID+"/_history)\n")
	sa.Run("delete", "ClientApplication/"+def).Expect(t, 0, "", "Deleted ClientApplication/"+def+note)
	sa.Run("delete", "ClientApplication/"+def, "-o", "csv", "--columns", "type,display").Expect(t, 0, "type,display\nOperationOutcome,All OK\n", "")
}

// On any Medplum (make test-real runs it against a real one): a read or a
// patch of a deleted Patient names it and says it was deleted (5.0.10:
// 410 "Gone", captures 534b, 600; it said only "medplum: Gone"), with
// where its history still is (600b) and how it comes back: a put with its
// id (547). A delete of it again is the server's 200 "All OK", printed as
// the official CLI prints it (521); an id never there is still 404.
func TestDeletedResourceIsNamedOnTarget(t *testing.T) {
	_, e, _ := clitest.OwnProject(t, "gone")
	r := e.Run("post", "Patient", `{"resourceType":"Patient","name":[{"family":"Gone"}]}`, "-o", "csv", "--columns", "id", "--no-header")
	r.ExpectCode(t, 0, "")
	pid := strings.TrimSpace(r.Stdout)
	e.Run("delete", "Patient/"+pid, "-o", "csv", "--columns", "type,display").Expect(t, 0, "type,display\nOperationOutcome,All OK\n", "")
	hint := "Medplum keeps its history (medplum get Patient/" + pid + "/_history); a put of the resource with this id puts it back\n"
	e.Run("get", "Patient/"+pid).Expect(t, 1, "", "medplum: GET Patient/"+pid+": the resource was deleted (410 Gone)\n"+hint)
	e.Run("get", "/fhir/R4/Patient/"+pid+"?_elements=name").Expect(t, 1, "", "medplum: GET Patient/"+pid+": the resource was deleted (410 Gone)\n"+hint)
	e.Run("patch", "Patient/"+pid, `[{"op":"add","path":"/active","value":true}]`).Expect(t, 1, "", "medplum: PATCH Patient/"+pid+": the resource was deleted (410 Gone)\n"+hint)
	e.Run("delete", "Patient/"+pid, "-o", "csv", "--columns", "type,display").Expect(t, 0, "type,display\nOperationOutcome,All OK\n", "")
	e.Run("get", "Patient/"+pid+"/_history", "-o", "csv", "--columns", "type", "--no-header").Expect(t, 0, "Patient\n", "") // the deletion has no resource
	e.Run("put", "Patient/"+pid, `{"resourceType":"Patient","id":"`+pid+`","name":[{"family":"Back"}]}`, "-o", "csv", "--columns", "id", "--no-header").Expect(t, 0, pid+"\n", "")
	e.Run("get", "Patient/"+pid, "-o", "csv", "--columns", "id", "--no-header").Expect(t, 0, pid+"\n", "")
	e.Run("get", "Patient/0b9e5b8e-5c3a-4d61-9d2e-7f1c2a600000").Expect(t, 1, "", "medplum: Not found\n")
}

// On any Medplum: credentials from the environment that fail (exit 4) get
// a hint naming the variables, not "run: medplum login" (newcomer12-s4
// item 16): an empty MEDPLUM_CLIENT_SECRET (nothing is sent) and an access
// token the server refuses.
func TestEnvironmentCredentialsHintOnTarget(t *testing.T) {
	tg := clitest.NewTarget(t)
	clientID := tg.ClientID
	e := clitest.New(t).Set("MEDPLUM_BASE_URL", tg.URL).Set("MEDPLUM_CLIENT_ID", clientID).Set("MEDPLUM_CLIENT_SECRET", "")
	e.Run("-v", "get", "Patient").Expect(t, 4, "", "medplum: not signed in: client id "+clientID+" has no client secret (set MEDPLUM_CLIENT_SECRET or --client-secret)\n"+
		"check MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET: the credentials come from there, not from medplum login\n")
	e = clitest.New(t).Set("MEDPLUM_BASE_URL", tg.URL).Set("MEDPLUM_CLIENT_ACCESS_TOKEN", "not-a-valid-token")
	e.Run("get", "Patient").Expect(t, 4, "", "medplum: Unauthorized\n"+
		"check MEDPLUM_CLIENT_ACCESS_TOKEN: the token comes from there, not from medplum login\n")
}
