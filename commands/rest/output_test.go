package rest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// The default output is the server's JSON, only re-indented: key order,
// unknown fields and the spelling of numbers (1.50, 1e2) are kept.
func TestGetPrintsTheServersJSON(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	out := e.Run("post", "Observation", `{"resourceType":"Observation","status":"final","code":{"text":"weight"},`+
		`"valueQuantity":{"value":1.50,"unit":"kg"},"extension":[{"url":"http://example.com/x","valueDecimal":1e2}],`+
		`"_unknown":{"z":"<&>","a":0.10}}`, "-o", "csv", "--columns", "id", "--no-header").ExpectCode(t, 0, "")
	path := "fhir/R4/Observation/" + strings.TrimSpace(out)
	want := clitest.Indented(t, clitest.ServerGet(t, srv, srv.IssueToken(srv.Seed.Client.MembershipID), path))
	for _, n := range []string{`"value": 1.50`, `"valueDecimal": 1e2`, `"z": "<&>"`, `"a": 0.10`} {
		if !strings.Contains(want, n) {
			t.Fatalf("the server's answer lacks %s:\n%s", n, want)
		}
	}
	e.Run("get", path).Expect(t, 0, want, "")
	e.Run("get", path, "-o", "json").Expect(t, 0, want, "")
}

// -o table: a row per resource with type, id, lastUpdated and a short
// display (plus a few columns per type); tab-separated when piped, a
// tablewriter table on a terminal.
func TestGetTable(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	homer := srv.Resource("ProjectMembership", srv.Seed.Homer.MembershipID)
	updated := homer["meta"].(map[string]any)["lastUpdated"].(string)
	url := "ProjectMembership?profile-type=Patient"

	e.Run("get", url, "-o", "table").Expect(t, 0,
		"TYPE\tID\tLAST UPDATED\tDISPLAY\tADMIN\tACTIVE\n"+
			"ProjectMembership\t"+homer.ID()+"\t"+updated+"\tHomer Simpson\t\t\n", "")

	e.Set("MEDPLUM_FORCE_TTY", "200")
	pad := func(s string, w int) string { return s + strings.Repeat(" ", w-len(s)) }
	idw := max(len("ID"), len(homer.ID())) + 2
	e.Run("get", url, "-o", "table").Expect(t, 0,
		pad("TYPE", 19)+pad("ID", idw)+pad("LAST UPDATED", len(updated)+2)+"DISPLAY        ADMIN  ACTIVE\n"+
			"ProjectMembership  "+homer.ID()+"  "+updated+"  Homer Simpson\n", "")
}

// An absolute URL on another host is fetched without credentials; one on
// the base URL's host gets them.
func TestAbsoluteURLOnAnotherHostGetsNoToken(t *testing.T) {
	var other []http.Header
	otherURL := newRecorder(t, &other, `{"resourceType":"Patient","id":"elsewhere"}`)
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	token := srv.IssueToken(srv.Seed.Client.MembershipID)
	e.Set("MEDPLUM_CLIENT_ACCESS_TOKEN", token)

	e.Run("get", otherURL+"fhir/R4/Patient/elsewhere", "-o", "csv", "--columns", "id", "--no-header").Expect(t, 0, "elsewhere\n", "")
	if len(other) != 1 {
		t.Fatalf("the other host got %d requests", len(other))
	}
	for k, vs := range other[0] {
		for _, v := range vs {
			if strings.Contains(v, token) || strings.EqualFold(k, "Authorization") || strings.EqualFold(k, "Cookie") {
				t.Errorf("the other host received %s: %s", k, v)
			}
		}
	}
	clitest.ExpectNothingSent(t, srv)

	homer := id(srv.Seed.Homer.Profile)
	e.Run("get", srv.URL+"fhir/R4/Patient/"+homer, "-o", "csv", "--columns", "id", "--no-header").Expect(t, 0, homer+"\n", "")
	if got := srv.RequestsTo("GET", "/fhir/R4/Patient/"+homer); len(got) != 1 || got[0].Header.Get("Authorization") != "Bearer "+token {
		t.Errorf("the base URL's host: %+v", got)
	}
}
