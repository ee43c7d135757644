package rest_test

import (
	"fmt"
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
// table on a terminal.
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

// -o yaml, --jq and --template work on what -o json prints.
func TestGetDocumentFlags(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	clitest.ExpectDocumentFlags(t, e, srv, "get", "Project/"+srv.Seed.ProjectID)
	clitest.ExpectDocumentFlags(t, e, srv, "get", "ProjectMembership?profile-type=Patient")

	// A search's resources, one per line, with jq; a decimal keeps its digits
	// and a string is printed raw.
	out := e.Run("post", "Observation", `{"resourceType":"Observation","status":"final","code":{"text":"a <b> & c"},`+
		`"valueQuantity":{"value":12345678901234567890.125,"unit":"kg"}}`, "--jq", ".id").ExpectCode(t, 0, "")
	id := strings.TrimSpace(out)
	e.Run("get", "Observation?_id="+id, "--jq", ".entry[].resource | .code.text, .valueQuantity.value").
		Expect(t, 0, "a <b> & c\n12345678901234567890.125\n", "")

	// -o yaml quotes what YAML would read as another type and writes
	// multi-line text as a block (keys in the order the server sent them:
	// the sandbox's, resourceType first; TestWriteYAML).
	doc := e.Run("post", "Patient", `{"resourceType":"Patient","active":true,"name":[{"family":"true","given":["007"]}],`+
		`"birthDate":"1970-01-01","multipleBirthInteger":2,"extension":[{"url":"u","valueString":"line 1\nline 2"}]}`, "--jq", ".id").ExpectCode(t, 0, "")
	pid := strings.TrimSpace(doc)
	p := srv.Resource("Patient", pid)
	meta := p["meta"].(map[string]any)
	e.Run("get", "Patient/"+pid, "-o", "yaml").Expect(t, 0, "resourceType: Patient\n"+
		"active: true\n"+
		"birthDate: \"1970-01-01\"\n"+
		"extension:\n"+
		"  - url: u\n"+
		"    valueString: |-\n"+
		"      line 1\n"+
		"      line 2\n"+
		"id: "+pid+"\n"+
		"meta:\n"+
		"  author:\n"+
		"    display: Sandbox Project Admin Client\n"+
		"    reference: ClientApplication/"+srv.Seed.Client.ID+"\n"+
		"  compartment:\n"+
		"    - reference: Project/"+srv.Seed.ProjectID+"\n"+
		"  lastUpdated: \""+meta["lastUpdated"].(string)+"\"\n"+
		"  project: "+srv.Seed.ProjectID+"\n"+
		"  versionId: "+meta["versionId"].(string)+"\n"+
		"multipleBirthInteger: 2\n"+
		"name:\n"+
		"  - family: \"true\"\n"+
		"    given:\n"+
		"      - \"007\"\n", "")

	// --template with gh's helpers: tablerow aligns on a terminal and is
	// tab-separated when piped; join and pluck.
	tmpl := `{{range .entry}}{{tablerow .resource.id (join "," (pluck "family" .resource.name))}}{{end}}`
	e.Run("get", "Patient?_id="+pid, "--template", tmpl).Expect(t, 0, pid+"\ttrue\n", "")
	e.Set("MEDPLUM_FORCE_TTY", "120")
	e.Run("get", "Patient?_id="+pid, "--template", `{{tablerow "ID" "FAMILY"}}`+tmpl).Expect(t, 0,
		"ID"+strings.Repeat(" ", len(pid))+"FAMILY\n"+pid+"  true\n", "")
	// On a terminal --jq indents.
	e.Run("get", "Patient/"+pid, "--jq", ".name[0]").Expect(t, 0, "{\n  \"family\": \"true\",\n  \"given\": [\n    \"007\"\n  ]\n}\n", "")
}

// A --template call that fails whatever the data (the wrong number of
// arguments for a helper or a builtin, a literal of the wrong kind) is exit
// 2 naming its line and column, before anything is sent: -v prints no
// request. It was exit 1 after the GET, with the output before the call
// printed ("HEADER searchset "). A template that fails on the data is
// still exit 1 when it runs.
// On any Medplum (make test-real runs it against a real one).
func TestGetTemplateErrorsNameTheirPosition(t *testing.T) {
	tg := clitest.NewTarget(t)
	e := tg.SignedIn(t)
	srv := tg.Sandbox
	for _, c := range []struct{ tmpl, msg string }{
		{"{{truncate .type}}", "line 1, column 3: wrong number of args for truncate: want 2 got 1"},
		{"{{join .link}}", "line 1, column 3: wrong number of args for join: want 2 got 1"},
		{"{{pluck}}", "line 1, column 3: wrong number of args for pluck: want 2 got 0"},
		{`{{timefmt "2006"}}`, "line 1, column 3: wrong number of args for timefmt: want 2 got 1"},
		{"{{json}}", "line 1, column 3: wrong number of args for json: want 1 got 0"},
		{"{{len 1 2}}", "line 1, column 3: wrong number of args for len: want 1 got 2"},
		{"{{printf}}", "line 1, column 3: wrong number of args for printf: want at least 1 got 0"},
		{`{{truncate "x" .type}}`, `line 1, column 12: argument 1 of truncate: expected integer; found "x"`},
		{"HEADER {{.type}} {{truncate .type}}", "line 1, column 20: wrong number of args for truncate: want 2 got 1"},
		{"{{.type | truncate}}", "line 1, column 11: wrong number of args for truncate: want 2 got 1"},
		{"{{range .entry}}\n  {{tablerow .resource.id (join \",\" (pluck .resource.name))}}\n{{end}}", "line 2, column 38: wrong number of args for pluck: want 2 got 1"},
	} {
		if srv != nil {
			srv.ResetRequests()
		}
		e.Run("-v", "get", "Patient", "--template", c.tmpl).Expect(t, 2, "", "medplum: invalid --template: "+c.msg+"\n")
		if srv != nil {
			clitest.ExpectNothingSent(t, srv)
		}
	}
	// Valid templates still run: pipelines into helpers, variadic printf,
	// range with helpers.
	p := "Project/" + tg.ProjectID
	for tmpl, want := range map[string]string{
		`{{.resourceType | truncate 4}}`:               "Pro…",
		`{{printf "%s/%s" .resourceType .id}}`:         p,
		`{{.id | printf "%s:%s" .resourceType | len}}`: fmt.Sprint(len(p)),
	} {
		e.Run("get", p, "--template", tmpl).Expect(t, 0, want, "")
	}
	id8 := string([]rune(tg.ProjectID)[:8])
	e.Run("get", "Project?_id="+tg.ProjectID, "--template",
		`{{range .entry}}{{tablerow .resource.resourceType (truncate 9 .resource.id) (.resource.id | printf "%.8s")}}{{end}}`).
		Expect(t, 0, "Project\t"+id8+"…\t"+id8+"\n", "")
	// The data decides: a string where join wants a list is exit 1 once
	// the answer is there.
	e.Run("get", p, "--template", `{{.resourceType}} {{join "," .resourceType}}`).Expect(t, 1, "Project ",
		`medplum: --template: line 1, column 21: executing "t" at <join "," .resourceType>: error calling join: join: want a list, got a string`+"\n")
}

// A --jq expression that names a function, variable, label or format that
// does not exist is exit 2 naming where it is (gojq says only what), before
// anything is sent: -v prints no request. An unknown format (@foo) was
// found only when it ran, after the request (exit 1). In an expression of
// several lines the position is a line and a column.
// On any Medplum (make test-real runs it against a real one).
func TestGetJQErrorsNameTheirPosition(t *testing.T) {
	tg := clitest.NewTarget(t)
	e := tg.SignedIn(t)
	srv := tg.Sandbox
	for _, c := range []struct{ expr, msg string }{
		{".a | lenght", `function not defined: lenght/0 at column 6`},
		{".a as $x | $y", `variable not defined: $y at column 12`},
		{"{$y}", `variable not defined: $y at column 2`},
		{"label $out | break $in", `label not defined: $in at column 20`},
		{"@foo", `format not defined: @foo at column 1`},
		// --jq reads no inputs and loads no modules (gojq said which, not where).
		{".entry[] | input", `input(s)/0 is not allowed at column 12`},
		{`include "lib"; .`, `cannot load module: "lib" at column 10`},
		{`.id | @base64, @foo "x\(.)"`, `format not defined: @foo at column 16`},
		// The name occurs more than once: in a string, as a field name, in
		// a comment, defined in an inner scope; the one that fails is named.
		{`"lenght", .lenght, (def lenght: 1; lenght), lenght # lenght`, `function not defined: lenght/0 at column 45`},
		{". as $y | ($y, $z) | $z", `variable not defined: $z at column 16`},
		// Several lines: the line and the column in it.
		{".entry[]\n| select(.x ==)\n| .id", `unexpected token ")" at line 2, column 15`},
		{".entry[]\n| .resource\n| lenght", `function not defined: lenght/0 at line 3, column 3`},
		{".entry[]\n|  @foo", `format not defined: @foo at line 2, column 4`},
	} {
		if srv != nil {
			srv.ResetRequests()
		}
		// -v would trace a request: stderr is the error alone.
		e.Run("-v", "get", "Patient", "--jq", c.expr).Expect(t, 2, "",
			fmt.Sprintf("medplum: invalid --jq expression %q: %s\n", c.expr, c.msg))
		if srv != nil {
			clitest.ExpectNothingSent(t, srv)
		}
	}
	// gojq's formats all work (and @base64d, which jq 1.6 lacks).
	e.Run("get", "Project/"+tg.ProjectID, "--jq", `.resourceType | @base64 | ., @base64d, @json, @text, @html, @uri, @sh, ([.] | @csv, @tsv)`).
		Expect(t, 0, "UHJvamVjdA==\nProject\n\"UHJvamVjdA==\"\nUHJvamVjdA==\nUHJvamVjdA==\nUHJvamVjdA%3D%3D\n'UHJvamVjdA=='\n\"UHJvamVjdA==\"\nUHJvamVjdA==\n", "")
}

// --jq's $ENV and env are empty: the environment holds the credentials
// (MEDPLUM_CLIENT_SECRET), which a filter must not print. An empty --jq or
// --template is no filter: the output is what it is without one (and -o
// works beside it).
func TestJQEnvironmentIsEmptyAndEmptyFiltersAreNone(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	e.Set("MEDPLUM_CLIENT_ID", srv.Seed.Client.ID).Set("MEDPLUM_CLIENT_SECRET", srv.Seed.Client.Secret)
	p := "Project/" + srv.Seed.ProjectID
	r := e.Run("get", p, "--jq", `$ENV.MEDPLUM_CLIENT_SECRET, env.MEDPLUM_CLIENT_SECRET, $ENV, env, env.HOME`)
	r.Expect(t, 0, "null\nnull\n{}\n{}\nnull\n", "")
	r.NotContains(t, srv.Seed.Client.Secret)

	doc := e.Run("get", p).ExpectCode(t, 0, "")
	e.Run("get", p, "--jq", "").Expect(t, 0, doc, "")
	e.Run("get", p, "--template", "").Expect(t, 0, doc, "")
	yaml := e.Run("get", p, "-o", "yaml").ExpectCode(t, 0, "")
	e.Run("get", p, "-o", "yaml", "--jq", "", "--template", "").Expect(t, 0, yaml, "")
}
