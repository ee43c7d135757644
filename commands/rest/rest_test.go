package rest_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m) }

func id(ref string) string { return ref[strings.IndexByte(ref, '/')+1:] }

func TestURLRules(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	homer := id(srv.Seed.Homer.Profile)
	project := srv.Seed.ProjectID
	csv := []string{"-o", "csv", "--no-header", "--columns"}
	cases := []struct {
		url, cols, stdout, path string
	}{
		{"Patient/" + homer, "type,id", "Patient," + homer + "\n", "/fhir/R4/Patient/" + homer},
		{"/Patient/" + homer, "type,id", "Patient," + homer + "\n", "/fhir/R4/Patient/" + homer},
		{"fhir/R4/Patient/" + homer, "type,id", "Patient," + homer + "\n", "/fhir/R4/Patient/" + homer},
		{"/fhir/R4/Patient/" + homer, "type,id", "Patient," + homer + "\n", "/fhir/R4/Patient/" + homer},
		{srv.URL + "fhir/R4/Patient/" + homer, "type,id", "Patient," + homer + "\n", "/fhir/R4/Patient/" + homer},
		{"admin/projects/" + project, "project.id", project + "\n", "/admin/projects/" + project},
		{"/admin/projects/" + project, "project.id", project + "\n", "/admin/projects/" + project},
		{"auth/me", "project.id", project + "\n", "/auth/me"},
		{"/auth/me", "project.id", project + "\n", "/auth/me"},
		{"ProjectMembership?profile-type=Patient", "id", srv.Seed.Homer.MembershipID + "\n", "/fhir/R4/ProjectMembership?profile-type=Patient"},
	}
	for _, c := range cases {
		srv.ResetRequests()
		e.Run(append([]string{"get", c.url}, append(csv, c.cols)...)...).Expect(t, 0, c.stdout, "")
		clitest.ExpectPaths(t, srv, "GET "+c.path)
	}

	// oauth2/ is relative to the base URL too (userinfo is answered or not;
	// the path is what matters here).
	srv.ResetRequests()
	e.Run("get", "oauth2/userinfo", "-o", "ndjson")
	clitest.ExpectPaths(t, srv, "GET /oauth2/userinfo")

	// --fhir-url-path moves the FHIR base, and a path starting with it is
	// still relative to the base URL.
	srv.ResetRequests()
	r := e.Run("delete", "Patient/1", "--dry-run", "--fhir-url", "fhir/R5")
	if !strings.HasPrefix(r.Stdout, "DELETE "+srv.URL+"fhir/R5/Patient/1\n") || r.Code != 0 {
		t.Errorf("--fhir-url: %+v", r)
	}
	r = e.Run("delete", "fhir/R5/Patient/1", "--dry-run", "--fhir-url-path", "fhir/R5")
	if !strings.HasPrefix(r.Stdout, "DELETE "+srv.URL+"fhir/R5/Patient/1\n") || r.Code != 0 {
		t.Errorf("--fhir-url-path: %+v", r)
	}
	clitest.ExpectNothingSent(t, srv)

	// An empty URL is the FHIR base, as in the official CLI (cleanUrl
	// passes "" to fhirUrl): where batch and transaction Bundles are posted.
	for _, u := range []string{"", "/"} {
		srv.ResetRequests()
		e.Run("post", u, `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/`+homer+`"}}]}`,
			"--jq", `.entry[0].response.status`).Expect(t, 0, "200\n", "")
		clitest.ExpectPaths(t, srv, "POST /fhir/R4/")
	}

	// Only http(s) URLs; nothing sent.
	srv.ResetRequests()
	e.Run("get", "ftp://example.com/x").Expect(t, 2, "", "medplum: URL \"ftp://example.com/x\": only http and https URLs are supported\n")
	clitest.ExpectNothingSent(t, srv)
}

func TestSeedExamplesVerbatim(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithMailer())
	e := clitest.SignedIn(t, srv)
	project := srv.Seed.ProjectID

	e.Run("get", "ProjectMembership?profile-type:not=ClientApplication,Bot", "-o", "csv", "--columns", "display,admin").
		Expect(t, 0, "display,admin\nMedplum Admin,true\nHomer Simpson,\n", "")

	e.Run("get", "ProjectMembership?profile-type=Patient", "-o", "csv", "--columns", "id,display", "--no-header").
		Expect(t, 0, srv.Seed.Homer.MembershipID+",Homer Simpson\n", "")

	// Creating a project needs a super admin: the project admin client is
	// refused (403, exit 5); the super admin client succeeds.
	e.Run("post", "Project", `{"resourceType":"Project","name":"ProjectName","strictMode":true}`).
		Expect(t, 5, "", "medplum: Forbidden\n")
	e.Set("MEDPLUM_CLIENT_ID", srv.Seed.SuperAdminClient.ID).Set("MEDPLUM_CLIENT_SECRET", srv.Seed.SuperAdminClient.Secret)
	out := e.Run("post", "Project", `{"resourceType":"Project","name":"ProjectName","strictMode":true}`).ExpectCode(t, 0, "")
	var created map[string]any
	if err := json.Unmarshal([]byte(out), &created); err != nil || created["name"] != "ProjectName" || created["strictMode"] != true {
		t.Errorf("post Project printed %s (%v)", out, err)
	}
	if got := srv.Resource("Project", created["id"].(string)); got == nil || got["name"] != "ProjectName" {
		t.Errorf("the server has no project ProjectName: %v", got)
	}

	e = clitest.SignedIn(t, srv)
	e.Run("post", "admin/projects/"+project+"/invite", `{
  "resourceType": "Practitioner",
  "firstName": "Alice",
  "lastName": "Smith",
  "email": "alicesmith@example.com",
  "admin": true
}`, "-o", "csv", "--columns", "type,display,admin").Expect(t, 0, "type,display,admin\nProjectMembership,Alice Smith,true\n", "")
	if m := srv.MembershipByEmail(project, "alicesmith@example.com"); m == nil || m["admin"] != true {
		t.Errorf("Alice is not an admin member: %v", m)
	}

	// The seed's promote example, verbatim: Homer's membership has no admin
	// field, and there is no PATCH route under admin/ on a real server.
	route := "admin/projects/" + project + "/members/" + srv.Seed.Homer.MembershipID
	srv.ResetRequests()
	e.Run("patch", route, `[{"op": "replace", "path": "/admin", "value": true}]`, "-o", "csv", "--columns", "id,display,admin").
		Expect(t, 0, "id,display,admin\n"+srv.Seed.Homer.MembershipID+",Homer Simpson,true\n", "")
	clitest.ExpectPaths(t, srv, "GET /"+route, "POST /"+route)
	if m := srv.Resource("ProjectMembership", srv.Seed.Homer.MembershipID); m["admin"] != true {
		t.Errorf("Homer is not an admin: %v", m)
	}
}

func TestBodyFromArgumentFileAndStdin(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	body := func(family string) string {
		return `{"resourceType":"Patient","name":[{"family":"` + family + `"}],"multipleBirthInteger":2,"extension":[{"url":"http://example.com/w","valueDecimal":0.10}]}`
	}
	file := filepath.Join(t.TempDir(), "patient.json")
	if err := os.WriteFile(file, []byte(body("File")), 0o600); err != nil {
		t.Fatal(err)
	}
	cols := []string{"-o", "csv", "--no-header", "--columns", "type,name.family"}
	runs := []struct {
		family string
		r      clitest.Result
	}{
		{"Arg", e.Run(append([]string{"post", "Patient", body("Arg")}, cols...)...)},
		{"File", e.Run(append([]string{"post", "Patient", "-f", file}, cols...)...)},
		{"Stdin", e.RunStdin(body("Stdin"), append([]string{"post", "Patient", "-"}, cols...)...)},
		{"StdinF", e.RunStdin(body("StdinF"), append([]string{"post", "Patient", "-f", "-"}, cols...)...)},
	}
	posts := srv.RequestsTo("POST", "/fhir/R4/Patient")
	if len(posts) != len(runs) {
		t.Fatalf("%d POSTs, want %d", len(posts), len(runs))
	}
	for i, run := range runs {
		run.r.Expect(t, 0, "Patient,"+run.family+"\n", "")
		// The body goes out byte for byte as given.
		if string(posts[i].Body) != body(run.family) {
			t.Errorf("sent %s, want %s", posts[i].Body, body(run.family))
		}
		if ct := posts[i].Header.Get("Content-Type"); ct != "application/fhir+json" {
			t.Errorf("Content-Type %q", ct)
		}
	}
}

func TestInvalidBodiesAreRejectedAndNothingIsSent(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	dir := t.TempDir()
	file, missing := filepath.Join(dir, "bad.json"), filepath.Join(dir, "missing.json")
	os.WriteFile(file, []byte("{\n  \"resourceType\": \"Patient\",\n  \"active\": tru\n}\n"), 0o600)
	cases := []struct {
		args   []string
		stdin  string
		stderr string
	}{
		{[]string{"post", "Patient", `{"resourceType":"Patient",}`}, "",
			"medplum: the body argument is not valid JSON: line 1, column 27: invalid character '}' looking for beginning of object key string\n"},
		{[]string{"put", "Patient/1", "-f", file}, "",
			"medplum: " + file + " is not valid JSON: line 3, column 16: invalid character '\\n' in literal true (expecting 'e')\n"},
		{[]string{"post", "Patient", "-"}, `{"resourceType":"Patient"`,
			"medplum: the body on stdin is not valid JSON: line 1, column 26: unexpected end of JSON input\n"},
		{[]string{"post", "Patient", "-"}, "",
			"medplum: the body on stdin is empty: expected JSON\n"},
		{[]string{"post", "Patient", "-"}, "\ufeff{\"resourceType\":\"Patient\"}",
			"medplum: the body on stdin starts with a byte order mark (U+FEFF), which JSON does not allow: save it as UTF-8 without a BOM\n"},
		{[]string{"post", "Patient", "-f", missing}, "",
			"medplum: reading the body: open " + missing + ": no such file or directory\n"},
		{[]string{"post", "Patient"}, "",
			"medplum: a body is required: a JSON argument, -f FILE, or - for stdin\nRun 'medplum post --help' for usage.\n"},
		{[]string{"post", "Patient", "{}", "-f", file}, "",
			"medplum: give the body either as an argument or with -f, not both\nRun 'medplum post --help' for usage.\n"},
		// JSON Patch: checked locally before anything is sent.
		{[]string{"patch", "ProjectMembership/x", `{"op":"replace","path":"/admin","value":true}`}, "",
			"medplum: the body argument is not a JSON Patch: expected an array of operations such as [{\"op\":\"replace\",\"path\":\"/active\",\"value\":false}]\n"},
		{[]string{"patch", "ProjectMembership/x", `[{"op":"replace","path":"/admin"}]`}, "",
			"medplum: the body argument: operation 1: \"replace\" needs a \"value\"\n"},
		{[]string{"patch", "ProjectMembership/x", `[{"op":"upsert","path":"/admin","value":1}]`}, "",
			"medplum: the body argument: operation 1: unknown op \"upsert\" (use add, remove, replace, move, copy or test)\n"},
		{[]string{"patch", "ProjectMembership/x", `[{"op":"replace","path":"admin","value":true}]`}, "",
			"medplum: the body argument: operation 1: \"path\" must be a JSON Pointer starting with \"/\", got \"admin\"\n"},
		{[]string{"patch", "ProjectMembership/x", `[{"op":"replace","path":"/admin","value":tru}]`}, "",
			"medplum: the body argument is not valid JSON: line 1, column 45: invalid character '}' in literal true (expecting 'e')\n"},
		// The admin route: protected fields are refused before the membership is read.
		{[]string{"patch", "admin/projects/p/members/m", `[{"op":"replace","path":"/project","value":{"reference":"Project/other"}}]`}, "",
			"medplum: the body argument: operation 1 touches /project: a membership's id, resourceType, project and user cannot be changed\n"},
		{[]string{"patch", "admin/projects/p/members/m", `[{"op":"copy","from":"/profile","path":"/user"}]`}, "",
			"medplum: the body argument: operation 1 touches /user: a membership's id, resourceType, project and user cannot be changed\n"},
	}
	for _, c := range cases {
		e.RunStdin(c.stdin, c.args...).Expect(t, 2, "", c.stderr)
	}
	clitest.ExpectNothingSent(t, srv)
}

func TestAdminMembershipPatchEmulation(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	project, mid := srv.Seed.ProjectID, srv.Seed.Homer.MembershipID
	route := "admin/projects/" + project + "/members/" + mid
	before := srv.Resource("ProjectMembership", mid)

	// Several operations, unknown fields and HTML kept, absolute URL form.
	srv.ResetRequests()
	patch := `[{"op":"add","path":"/active","value":false},{"op":"add","path":"/externalId","value":"<ext&1>"},{"op":"test","path":"/admin","value":false}]`
	e.Run("patch", srv.URL+route, patch, "-o", "csv", "--columns", "active,externalId").
		Expect(t, 0, "active,externalId\nfalse,<ext&1>\n", "")
	clitest.ExpectPaths(t, srv, "GET /"+route, "POST /"+route)
	posted := srv.RequestsTo("POST", "/"+route)[0]
	var sent map[string]any
	if err := json.Unmarshal(posted.Body, &sent); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"resourceType", "id", "project", "user", "profile"} {
		if fmt.Sprint(sent[k]) != fmt.Sprint(before[k]) {
			t.Errorf("POSTed %s = %v, was %v", k, sent[k], before[k])
		}
	}
	if !strings.Contains(string(posted.Body), `"externalId":"<ext&1>"`) {
		t.Errorf("HTML was escaped in %s", posted.Body)
	}
	after := srv.Resource("ProjectMembership", mid)
	if after["active"] != false || after["externalId"] != "<ext&1>" {
		t.Errorf("membership after the patch: %v", after)
	}

	// A patch that does not apply: the membership is read, nothing is written.
	srv.ResetRequests()
	e.Run("patch", route, `[{"op":"test","path":"/active","value":true}]`).
		Expect(t, 2, "", "medplum: the patch does not apply to the membership: testing value /active failed: test failed\n")
	clitest.ExpectPaths(t, srv, "GET /"+route)

	// --dry-run reads the membership and shows the POST it would send.
	srv.ResetRequests()
	r := e.Run("patch", route, `[{"op":"replace","path":"/admin","value":true}]`, "--dry-run")
	out := r.ExpectCode(t, 0, "")
	head := "POST " + srv.URL + route + "\nAccept: application/fhir+json\nAuthorization: [REDACTED]\nContent-Type: application/fhir+json\n" +
		"User-Agent: medplum-cli/" + clitest.Version + " (Go)\nX-Medplum: extended\n\n{\n"
	if !strings.HasPrefix(out, head) || !strings.Contains(out, "\n  \"admin\": true,\n") {
		t.Errorf("dry run:\n%s", out)
	}
	clitest.ExpectPaths(t, srv, "GET /"+route)
	if srv.Resource("ProjectMembership", mid)["admin"] == true {
		t.Error("--dry-run wrote the membership")
	}

	// A FHIR URL is a real PATCH.
	srv.ResetRequests()
	e.Run("patch", "ProjectMembership/"+mid, `[{"op":"replace","path":"/active","value":true}]`, "-o", "csv", "--columns", "active", "--no-header").
		Expect(t, 0, "true\n", "")
	clitest.ExpectPaths(t, srv, "PATCH /fhir/R4/ProjectMembership/"+mid)
	if ct := srv.RequestsTo("PATCH", "")[0].Header.Get("Content-Type"); ct != "application/json-patch+json" {
		t.Errorf("PATCH Content-Type %q", ct)
	}
}

func TestGetAllFollowsNextLinks(t *testing.T) {
	const generated = 2496 // plus the 4 seeded memberships: 2,500
	srv := medplumtest.NewServer(t, medplumtest.WithMembers(generated))
	e := clitest.SignedIn(t, srv)
	want := map[string]bool{}
	for _, m := range srv.Memberships(srv.Seed.ProjectID) {
		want[m.ID()] = true
	}
	if len(want) != 2500 {
		t.Fatalf("the server holds %d memberships, want 2500", len(want))
	}

	out := e.Run("get", "ProjectMembership?_count=1000", "--all", "-o", "ndjson").ExpectCode(t, 0, "")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	got := map[string]bool{}
	for _, l := range lines {
		var r struct{ ResourceType, ID string }
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.ResourceType != "ProjectMembership" {
			t.Fatalf("line %q: %v", l, err)
		}
		got[r.ID] = true
	}
	if len(lines) != 2500 || len(got) != 2500 {
		t.Errorf("%d lines, %d distinct ids, want 2500", len(lines), len(got))
	}
	for id := range want {
		if !got[id] {
			t.Errorf("membership %s missing", id)
			break
		}
	}
	gets := clitest.Paths(srv)
	// (Sorted by _lastUpdated, so that the server pages with a cursor.)
	if len(gets) != 3 || gets[0] != "GET /fhir/R4/ProjectMembership?_count=1000&_sort=_lastUpdated" || !strings.Contains(gets[1], "_cursor=") {
		t.Errorf("pages read: %v", gets)
	}
	// One token for the whole run, not one per page.
	if n := len(srv.RequestsTo("POST", "/oauth2/token")); n != 1 {
		t.Errorf("%d token requests for 3 pages", n)
	}

	// -o json: one searchset Bundle, every entry, only the self link.
	srv.ResetRequests()
	out = e.Run("get", "ProjectMembership?_count=1000", "--all").ExpectCode(t, 0, "")
	var b struct {
		ResourceType, Type string
		Link               []struct{ Relation, URL string }
		Entry              []struct{ Resource struct{ ID string } }
	}
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatal(err)
	}
	if b.ResourceType != "Bundle" || b.Type != "searchset" || len(b.Entry) != 2500 {
		t.Errorf("merged bundle: %s %s with %d entries", b.ResourceType, b.Type, len(b.Entry))
	}
	if len(b.Link) != 1 || b.Link[0].Relation != "self" {
		t.Errorf("merged bundle links: %+v", b.Link)
	}
	if !strings.HasPrefix(out, "{\n  \"") {
		t.Errorf("not pretty-printed: %.40q", out)
	}
	if n := len(clitest.Paths(srv)); n != 3 {
		t.Errorf("%d pages read", n)
	}

	// Without --all: exactly one page, as the official CLI.
	srv.ResetRequests()
	out = e.Run("get", "ProjectMembership?_count=1000", "-o", "ndjson").ExpectCode(t, 0, "")
	if n := strings.Count(out, "\n"); n != 1000 {
		t.Errorf("one page printed %d resources", n)
	}
	if n := len(clitest.Paths(srv)); n != 1 {
		t.Errorf("%d requests without --all", n)
	}
}

// Medplum writes its next links with its configured baseUrl, which need not
// be the address the CLI reaches it by (on the real 5.0.10 server reached as
// localhost, the links name 127.0.0.1): get --all reads them from the base
// URL, with the token, and never sends anything to the other host.
func TestGetAllReadsNextLinksOfTheServersOtherName(t *testing.T) {
	var other []http.Header
	otherHost := newRecorder(t, &other, `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"ProjectMembership","id":"from-other-host"}}]}`)
	srv := medplumtest.NewServer(t, medplumtest.WithBaseURL(otherHost))
	e := clitest.SignedIn(t, srv)
	token := srv.IssueToken(srv.Seed.Client.MembershipID)
	e.Set("MEDPLUM_CLIENT_ACCESS_TOKEN", token)
	want := len(srv.Memberships(srv.Seed.ProjectID))

	for _, search := range []string{
		"ProjectMembership?_count=2&_sort=-_lastUpdated", // paged with _offset
		"ProjectMembership?_count=2",                     // paged with the cursor
	} {
		srv.ResetRequests()
		out := e.Run("get", search, "--all", "-o", "csv", "--columns", "id", "--no-header").ExpectCode(t, 0, "")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != want || slices.Contains(lines, "from-other-host") {
			t.Errorf("%s: %d rows, want %d: %q", search, len(lines), want, lines)
		}
		for _, r := range srv.RequestsTo("GET", "/fhir/R4/ProjectMembership") {
			if r.Header.Get("Authorization") != "Bearer "+token {
				t.Errorf("%s: the request %s came without the token", search, r.RawQuery)
			}
		}
	}
	if len(other) != 0 {
		t.Fatalf("the other host got %d requests", len(other))
	}
}

func TestRetries(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	homer := id(srv.Seed.Homer.Profile)
	get := []string{"get", "Patient/" + homer, "-o", "csv", "--no-header", "--columns", "id"}

	// 429 with RateLimit t=1: waited out, then success.
	srv.FailNext(1, http.StatusTooManyRequests, "GET", "/fhir/R4/Patient/*")
	e.Run(get...).Expect(t, 0, homer+"\n", "")
	clitest.ExpectPaths(t, srv, "GET /fhir/R4/Patient/"+homer, "GET /fhir/R4/Patient/"+homer)

	// 503 from a proxy: retried, then success; -v shows the retry.
	srv.ResetRequests()
	srv.FailNext(1, http.StatusServiceUnavailable, "GET", "/fhir/R4/Patient/*")
	r := e.Run(append(get, "-v")...)
	if r.Code != 0 || r.Stdout != homer+"\n" || !strings.Contains(r.Stderr, "retry 1/3 of GET "+srv.URL+"fhir/R4/Patient/"+homer) {
		t.Errorf("503 then success: %+v", r)
	}
	clitest.ExpectPaths(t, srv, "GET /fhir/R4/Patient/"+homer, "GET /fhir/R4/Patient/"+homer)

	// A POST is not repeated after a 503: it may have been applied.
	srv.ResetRequests()
	srv.FailNext(1, http.StatusServiceUnavailable, "POST", "/fhir/R4/Patient")
	before := srv.Count("Patient", srv.Seed.ProjectID)
	e.Run("post", "Patient", `{"resourceType":"Patient"}`).
		Expect(t, 1, "", "medplum: the server answered 503 text/html: 503 Service Unavailable\n")
	clitest.ExpectPaths(t, srv, "POST /fhir/R4/Patient")
	if n := srv.Count("Patient", srv.Seed.ProjectID); n != before {
		t.Errorf("patients: %d, want %d", n, before)
	}

	// A PUT is idempotent: retried.
	srv.ResetRequests()
	srv.FailNext(1, http.StatusServiceUnavailable, "PUT", "/fhir/R4/Patient/*")
	e.Run("put", "Patient/"+homer, `{"resourceType":"Patient","id":"`+homer+`","gender":"male"}`, "-o", "csv", "--no-header", "--columns", "gender").
		Expect(t, 0, "male\n", "")
	clitest.ExpectPaths(t, srv, "PUT /fhir/R4/Patient/"+homer, "PUT /fhir/R4/Patient/"+homer)
}

func TestErrorAnswers(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)

	// Express's HTML 404 for a route the server does not have.
	e.Run("post", "admin/nonexistent", `{}`).
		Expect(t, 1, "", "medplum: the server answered 404 text/html: Cannot POST /admin/nonexistent\n")
	// A FHIR 404 OperationOutcome.
	e.Run("get", "Patient/does-not-exist").Expect(t, 1, "", "medplum: Not found\n")
	// A 500 {"msg":...}.
	srv.FailNext(1, http.StatusInternalServerError, "DELETE", "")
	e.Run("delete", "Patient/x").Expect(t, 1, "", "medplum: the server answered 500: Internal Server Error\n")

	// 200 with an error OperationOutcome: the invite was made, the e-mail
	// was not sent. The answer is printed, the exit code says it failed.
	e.Run("post", "admin/projects/"+srv.Seed.ProjectID+"/invite",
		`{"resourceType":"Patient","firstName":"Bart","lastName":"Simpson","email":"bart@example.com"}`,
		"-o", "csv", "--columns", "type,display").
		Expect(t, 1, "type,display\nOperationOutcome,Could not send email. Make sure you have AWS SES set up.\n",
			"medplum: Could not send email. Make sure you have AWS SES set up. (Error sending email: Could not load credentials from any providers)\n"+
				"the server answered 200, so the request may have taken effect despite the error\n")
	if srv.MembershipByEmail(srv.Seed.ProjectID, "bart@example.com") == nil {
		t.Error("the membership was not created")
	}
}

func TestExitCodes(t *testing.T) {
	srv := medplumtest.NewServer(t)
	homer := id(srv.Seed.Homer.Profile)

	// 4: no credentials at all.
	e := clitest.New(t).Set("MEDPLUM_BASE_URL", srv.URL)
	e.Run("get", "Patient").Expect(t, 4, "", "medplum: profile \"default\": not signed in\nrun: medplum login\n")
	// 4: the token is rejected (401).
	e.Set("MEDPLUM_CLIENT_ACCESS_TOKEN", "not-a-valid-token")
	e.Run("get", "Patient").Expect(t, 4, "", "medplum: Unauthorized\ncheck MEDPLUM_CLIENT_ACCESS_TOKEN: the token comes from there, not from medplum login\n")
	// 4: the client secret is wrong.
	e = clitest.SignedIn(t, srv).Set("MEDPLUM_CLIENT_SECRET", "wrong-secret")
	e.Run("get", "Patient").Expect(t, 4, "", "medplum: client credentials sign-in for client "+srv.Seed.Client.ID+
		" failed: Invalid secret (invalid_request)\ncheck MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET: the credentials come from there, not from medplum login\n")
	// 1, not 4: a token endpoint that is not there (a wrong token URL) or
	// that is rate limited did not reject the credentials (reached once the
	// server refuses Basic credentials).
	srv.SetBasicAuth(false)
	e = clitest.SignedIn(t, srv).Set("MEDPLUM_TOKEN_URL", "oauth2/nottoken")
	e.Run("get", "Patient").Expect(t, 1, "", "medplum: client credentials sign-in for client "+srv.Seed.Client.ID+
		" failed: the server answered 404 text/html: Cannot POST /oauth2/nottoken\n")
	// (A token request is retried like a GET; this rate limit resets
	// after the retry budget, so the first answer is the last.)
	srv.Inject(medplumtest.Fault{Method: "POST", Path: "/oauth2/token", Times: 1, Status: http.StatusTooManyRequests, RetryAfter: 3 * time.Minute})
	e = clitest.SignedIn(t, srv)
	e.Run("get", "Patient").Expect(t, 1, "", "medplum: client credentials sign-in for client "+srv.Seed.Client.ID+
		" failed: the server is rate limiting requests: try again in 180 seconds\n")
	srv.SetBasicAuth(true)
	// 5: permission denied (only a super admin may create a project).
	e = clitest.SignedIn(t, srv)
	e.Run("post", "Project", `{"resourceType":"Project","name":"X"}`).Expect(t, 5, "", "medplum: Forbidden\n")
	// 2: usage.
	e.Run("get").Expect(t, 2, "", "medplum: medplum get needs a URL\nRun 'medplum get --help' for usage.\n")
	e.Run("get", "Patient", "-o", "xml").Expect(t, 2, "",
		"medplum: invalid argument \"xml\" for \"-o, --output\" flag: unknown format \"xml\" (use json, yaml, ndjson, table, csv)\nRun 'medplum get --help' for usage.\n")
	e.Run("get", "Patient", "--no-header").Expect(t, 2, "", "medplum: --columns and --no-header need -o table or -o csv\nRun 'medplum get --help' for usage.\n")
	// 1: the network.
	e.Set("MEDPLUM_CLIENT_ACCESS_TOKEN", "t").Set("MEDPLUM_BASE_URL", "http://127.0.0.1:1/")
	e.Run("get", "Patient/"+homer).Expect(t, 1, "", "medplum: GET http://127.0.0.1:1/fhir/R4/Patient/"+homer+
		": dial tcp 127.0.0.1:1: connect: connection refused\ncheck that the server is up and the base URL is right (medplum profile describe)\n")
	// A secret in the URL's query stays out of the message.
	e.Run("get", "Patient?client_secret=leaked-5678&_count=1").Expect(t, 1, "", "medplum: GET http://127.0.0.1:1/fhir/R4/Patient?client_secret=[REDACTED]&_count=1"+
		": dial tcp 127.0.0.1:1: connect: connection refused\ncheck that the server is up and the base URL is right (medplum profile describe)\n")
}

// Ctrl-C ends a REST command at once, by the signal's default action (it
// has nothing to clean up: cmdutil.MarkOneAtATime), as it ends curl or the
// official CLI; any other command says it was interrupted first (here
// whoami; bulk, invite and bot have their own tests of what they finish).
// Either way the process ends by the SIGINT itself, so that the shell
// running it in a loop stops too (bash goes on after a child that exited
// 130), and the shell's $? is 130.
func TestInterruptExits130(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.SetLatency(time.Hour)
	defer srv.ClearFaults()
	for _, c := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"get", "Patient"}, ""},
		{[]string{"delete", "Patient/1"}, ""},
		{[]string{"whoami"}, "medplum: interrupted\n"},
	} {
		e := clitest.SignedIn(t, srv)
		e.Set("MEDPLUM_CLIENT_ACCESS_TOKEN", srv.IssueToken(srv.Seed.Client.MembershipID))
		before := len(srv.Requests())
		p := e.Start(c.args...)
		waitForRequests(t, srv, before+1)
		p.Signal(os.Interrupt)
		r := p.Wait()
		r.Expect(t, 130, "", c.stderr)
		if !r.Signaled {
			t.Errorf("%v: the interrupted run exited with a status; it should end by its SIGINT", c.args)
		}
	}
}

func TestVerboseRedactsSecrets(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	r := e.Run("-v", "post", "admin/projects/"+srv.Seed.ProjectID+"/invite",
		`{"resourceType":"Patient","firstName":"Lisa","lastName":"Simpson","email":"lisa@example.com","password":"lisa-pass-1234","sendEmail":false}`,
		"-o", "csv", "--columns", "display", "--no-header")
	if r.Code != 0 || r.Stdout != "Lisa Simpson\n" {
		t.Fatalf("invite: %+v", r)
	}
	for _, want := range []string{"> POST " + srv.URL + "admin/projects/", "Authorization: Basic [REDACTED]", "< 200 OK"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("-v lacks %q:\n%s", want, r.Stderr)
		}
	}
	basic := base64.StdEncoding.EncodeToString([]byte(srv.Seed.Client.ID + ":" + srv.Seed.Client.Secret))
	r.NotContains(t, srv.Seed.Client.Secret, basic, basic[:20], "lisa-pass-1234", "eyJ")

	// Refused Basic credentials, then the token request: neither shows the
	// secret or the token.
	srv.SetBasicAuth(false)
	r = e.Run("-v", "get", "Patient/"+id(srv.Seed.Homer.Profile), "-o", "csv", "--columns", "id", "--no-header")
	for _, want := range []string{"Authorization: Basic [REDACTED]", "< 401 Unauthorized", "> POST " + srv.URL + "oauth2/token",
		"Authorization: Bearer [REDACTED]", "< 200 OK"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("-v lacks %q:\n%s", want, r.Stderr)
		}
	}
	r.NotContains(t, srv.Seed.Client.Secret, basic, basic[:20], "eyJ")
	srv.SetBasicAuth(true)

	// A bearer token from the environment is never shown either.
	token := srv.IssueToken(srv.Seed.Client.MembershipID)
	e.Set("MEDPLUM_CLIENT_ACCESS_TOKEN", token)
	r = e.Run("get", "auth/me", "--verbose", "-o", "csv", "--columns", "project.id", "--no-header")
	if r.Code != 0 || r.Stdout != srv.Seed.ProjectID+"\n" {
		t.Fatalf("auth/me: %+v", r)
	}
	r.NotContains(t, token, token[len(token)-20:], srv.Seed.Client.Secret)

	// --dry-run redacts too.
	r = e.Run("post", "ClientApplication", `{"resourceType":"ClientApplication","secret":"app-secret-5678"}`, "--dry-run")
	r.Expect(t, 0, "POST "+srv.URL+"fhir/R4/ClientApplication\nAccept: application/fhir+json\nAuthorization: [REDACTED]\n"+
		"Content-Type: application/fhir+json\nUser-Agent: medplum-cli/"+clitest.Version+" (Go)\nX-Medplum: extended\n\n"+
		"{\n  \"resourceType\": \"ClientApplication\",\n  \"secret\": \"[REDACTED]\"\n}\n", "")
	r.NotContains(t, "app-secret-5678", token)
	// ... and in the URL's query.
	r = e.Run("delete", "ClientApplication?secret=app-secret-5678&name=x", "--dry-run")
	r.Expect(t, 0, "DELETE "+srv.URL+"fhir/R4/ClientApplication?secret=[REDACTED]&name=x\nAccept: application/fhir+json\nAuthorization: [REDACTED]\n"+
		"User-Agent: medplum-cli/"+clitest.Version+" (Go)\nX-Medplum: extended\n", "")
}

func TestDryRunSendsNothing(t *testing.T) {
	srv := medplumtest.NewServer(t)
	// Without credentials, the request is shown without Authorization.
	e := clitest.New(t).Set("MEDPLUM_BASE_URL", srv.URL)
	e.Run("post", "/Patient", `{"resourceType":"Patient", "name":[{"family":"Dry"}]}`, "--dry-run", "--prefer-async").
		Expect(t, 0, "POST "+srv.URL+"fhir/R4/Patient\nAccept: application/fhir+json\nContent-Type: application/fhir+json\n"+
			"Prefer: respond-async\nUser-Agent: medplum-cli/"+clitest.Version+" (Go)\nX-Medplum: extended\n\n"+
			"{\n  \"resourceType\": \"Patient\",\n  \"name\": [\n    {\n      \"family\": \"Dry\"\n    }\n  ]\n}\n", "")
	e.Run("delete", "Patient/123", "--dry-run").
		Expect(t, 0, "DELETE "+srv.URL+"fhir/R4/Patient/123\nAccept: application/fhir+json\nUser-Agent: medplum-cli/"+clitest.Version+" (Go)\nX-Medplum: extended\n", "")
	clitest.ExpectNothingSent(t, srv)

	// With client credentials, not even the token is fetched.
	e = clitest.SignedIn(t, srv)
	e.Run("delete", "Patient/123", "--dry-run").
		Expect(t, 0, "DELETE "+srv.URL+"fhir/R4/Patient/123\nAccept: application/fhir+json\nAuthorization: [REDACTED]\nUser-Agent: medplum-cli/"+clitest.Version+" (Go)\nX-Medplum: extended\n", "")
	clitest.ExpectNothingSent(t, srv)
}

func TestPreferAsync(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	e.Run("post", "Patient", `{"resourceType":"Patient"}`, "--prefer-async", "-o", "csv", "--columns", "type", "--no-header").
		ExpectCode(t, 0, "")
	posts := srv.RequestsTo("POST", "/fhir/R4/Patient")
	if len(posts) != 1 || posts[0].Header.Get("Prefer") != "respond-async" {
		t.Errorf("Prefer header: %+v", posts)
	}
}

// Precedence through real requests: the flag beats the environment, which
// beats the profile, which beats the default.
func TestPrecedenceEndToEnd(t *testing.T) {
	srv := medplumtest.NewServer(t)
	homer := id(srv.Seed.Homer.Profile)
	dead := "http://127.0.0.1:1/"
	e := clitest.New(t)
	e.Run("profile", "set", "p", "--base-url", dead, "--client-id", srv.Seed.Client.ID).ExpectCode(t, 0, "Created profile p in "+filepath.Join(e.ConfigDir, "config.yaml")+"\n")
	e.Set("MEDPLUM_PROFILE", "p").Set("MEDPLUM_CLIENT_SECRET", srv.Seed.Client.Secret)
	get := []string{"get", "Patient/" + homer, "-o", "csv", "--no-header", "--columns", "id"}

	// profile (dead) only: fails on the network.
	if r := e.Run(get...); r.Code != 1 || !strings.Contains(r.Stderr, "127.0.0.1:1") {
		t.Errorf("profile base URL not used: %+v", r)
	}
	// env beats profile.
	e.Set("MEDPLUM_BASE_URL", srv.URL)
	e.Run(get...).Expect(t, 0, homer+"\n", "")
	// flag beats env.
	e.Set("MEDPLUM_BASE_URL", dead)
	e.Run(append(get, "--base-url", srv.URL)...).Expect(t, 0, homer+"\n", "")
	// default when nothing is set.
	e = clitest.New(t)
	e.Run("delete", "Patient/1", "--dry-run").Expect(t, 0, "DELETE https://api.medplum.com/fhir/R4/Patient/1\n"+
		"Accept: application/fhir+json\nUser-Agent: medplum-cli/"+clitest.Version+" (Go)\nX-Medplum: extended\n", "")
}

func TestAsTransaction(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	out := e.Run("get", "ProjectMembership?profile-type=Patient", "--as-transaction").ExpectCode(t, 0, "")
	var tx struct {
		ResourceType, Type string
		Entry              []struct {
			FullURL  string `json:"fullUrl"`
			Request  struct{ Method, URL string }
			Resource map[string]any `json:"resource"`
		}
	}
	if err := json.Unmarshal([]byte(out), &tx); err != nil {
		t.Fatal(err)
	}
	if tx.ResourceType != "Bundle" || tx.Type != "transaction" || len(tx.Entry) != 1 {
		t.Fatalf("%s", out)
	}
	en := tx.Entry[0]
	if !strings.HasPrefix(en.FullURL, "urn:uuid:") || en.Request.Method != "POST" || en.Request.URL != "ProjectMembership" {
		t.Errorf("entry: %+v", en)
	}
	if _, ok := en.Resource["id"]; ok {
		t.Error("id kept")
	}
	if meta, ok := en.Resource["meta"]; ok {
		t.Errorf("meta kept: %v", meta)
	}
	if !strings.HasPrefix(out, "{\n  \"resourceType\": \"Bundle\",\n  \"type\": \"transaction\",\n  \"entry\": [\n    {\n      \"fullUrl\": \"urn:uuid:") {
		t.Errorf("layout:\n%.200s", out)
	}
	e.Run("get", "Patient/"+id(srv.Seed.Homer.Profile), "--as-transaction").
		Expect(t, 1, "", "medplum: --as-transaction needs a Bundle (a search), but the answer is a Patient\n")
}

// Medplum refuses an _offset past its limit (10,000 by default; capture
// 171), and pages with a cursor only from offset 0: get --all from an
// offset whose last page lies past the limit is refused before anything is
// printed, and says how to page further.
func TestGetAllFromAnOffsetPastTheLimit(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithMembers(30), medplumtest.WithMaxSearchOffset(20))
	e := clitest.SignedIn(t, srv)
	e.Run("get", "ProjectMembership?_count=10&_offset=10", "--all", "-o", "ndjson").Expect(t, 1, "",
		"medplum: --all: this search has 34 results, more than Medplum pages through with _offset (Search offset exceeds maximum (got 30, max 20)), and with _offset=10 it cannot page with a cursor; nothing was printed\n"+
			"drop _sort and _offset (the results then come oldest first, _sort=_lastUpdated, and the server pages with a cursor), or narrow the search\n")
	// Within the limit, the offset is followed.
	out := e.Run("get", "ProjectMembership?_count=14&_offset=20", "--all", "-o", "ndjson").ExpectCode(t, 0, "")
	if n := strings.Count(out, "\n"); n != 14 {
		t.Errorf("%d memberships from offset 20, want the last 14", n)
	}
}

// Medplum 5.0.10 deletes a project and answers its DELETE with 410 Gone
// (capture 520); a read then is 410 too (520b), a second delete 200 (520c).
// The same for a resource of a deleted project (522b). medplum reads the
// resource back after a 410 to a DELETE: when it is gone, the delete
// worked (exit 0, a note on stderr, nothing printed as the answer). A 410
// for something still there stays an error.
func TestDeleteAnswered410(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	e.Set("MEDPLUM_CLIENT_ACCESS_TOKEN", srv.IssueToken(srv.Seed.SuperAdmin.MembershipID))
	r := e.Run("post", "Project/$init", `{"resourceType":"Parameters","parameter":[{"name":"name","valueString":"Throwaway"}]}`, "-o", "csv", "--columns", "id", "--no-header")
	r.ExpectCode(t, 0, "")
	pid := strings.TrimSpace(r.Stdout)
	note := " (Medplum answered 410 Gone, as it does when it deletes a project or something of a deleted project; reading it back answers 410 too).\n"

	e.Run("delete", "Project/"+pid).Expect(t, 0, "", "Deleted Project/"+pid+note)
	if !srv.Deleted("Project", pid) {
		t.Error("the project is not deleted")
	}
	e.Run("get", "Project/"+pid).Expect(t, 1, "", "medplum: GET Project/"+pid+": the resource was deleted (410 Gone)\nMedplum keeps its history (medplum get Project/"+pid+"/_history)\n")
	e.Run("delete", "Project/"+pid, "-o", "csv", "--columns", "type,display").Expect(t, 0, "type,display\nOperationOutcome,All OK\n", "")
	// Its default client, left by the server.
	apps := srv.Resources("ClientApplication", pid)
	if len(apps) != 1 {
		t.Fatalf("the deleted project's clients: %v", apps)
	}
	e.Run("delete", "ClientApplication/"+apps[0].ID()).Expect(t, 0, "", "Deleted ClientApplication/"+apps[0].ID()+note)
	if !srv.Deleted("ClientApplication", apps[0].ID()) {
		t.Error("the client is not deleted")
	}

	// A 410 for a project, or a Patient, that is still there is an error.
	r = e.Run("post", "Project/$init", `{"resourceType":"Parameters","parameter":[{"name":"name","valueString":"Kept"}]}`, "-o", "csv", "--columns", "id", "--no-header")
	kept := strings.TrimSpace(r.Stdout)
	srv.FailNext(1, http.StatusGone, "DELETE", "/fhir/R4/Project/"+kept)
	e.Run("delete", "Project/"+kept).Expect(t, 1, "", "medplum: Gone\n")
	if srv.Deleted("Project", kept) {
		t.Error("the kept project is deleted")
	}
	homer := id(srv.Seed.Homer.Profile)
	srv.FailNext(1, http.StatusGone, "DELETE", "/fhir/R4/Patient/"+homer)
	e.Run("delete", "Patient/"+homer).Expect(t, 1, "", "medplum: Gone\n")
	// The admin route's 410 means deleted before (capture 42): not read back.
	e.Set("MEDPLUM_CLIENT_ACCESS_TOKEN", srv.IssueToken(srv.Seed.Client.MembershipID)) // a project admin
	srv.ResetRequests()
	mid := srv.Seed.Homer.MembershipID
	e.Run("delete", "admin/projects/"+srv.Seed.ProjectID+"/members/"+mid).ExpectCode(t, 0, "")
	e.Run("delete", "admin/projects/"+srv.Seed.ProjectID+"/members/"+mid).Expect(t, 1, "", "medplum: Gone\n")
	if n := len(srv.RequestsTo("GET", "/admin/projects/"+srv.Seed.ProjectID+"/members/"+mid)); n != 0 {
		t.Errorf("the admin route's 410 was read back %d times", n)
	}
}
