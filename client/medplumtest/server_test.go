package medplumtest_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
)

// tc is a small HTTP helper for the behaviour tests.
type tc struct {
	t   *testing.T
	srv *medplumtest.Server
	tok string
}

func newTC(t *testing.T, opts ...medplumtest.Option) *tc {
	t.Helper()
	srv := medplumtest.NewServer(t, opts...)
	c := &tc{t: t, srv: srv}
	c.tok = c.token(srv.Seed.Client.ID, srv.Seed.Client.Secret)
	return c
}

func (c *tc) token(id, secret string) string {
	c.t.Helper()
	status, body := c.raw("POST", "oauth2/token", map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}.Encode())
	if status != 200 {
		c.t.Fatalf("token: %d %s", status, body)
	}
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return m["access_token"].(string)
}

func (c *tc) raw(method, path string, header map[string]string, body string) (int, []byte) {
	c.t.Helper()
	resp := c.resp(method, path, header, body)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (c *tc) resp(method, path string, header map[string]string, body string) *http.Response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

// call sends JSON with the client's token and decodes a JSON answer.
func (c *tc) call(method, path, body string) (int, map[string]any) {
	c.t.Helper()
	h := map[string]string{"Authorization": "Bearer " + c.tok}
	if body != "" {
		h["Content-Type"] = "application/fhir+json"
		if strings.HasPrefix(body, "[") {
			h["Content-Type"] = "application/json-patch+json"
		}
	}
	status, b := c.raw(method, path, h, body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("%s %s: %d, not JSON: %s", method, path, status, b)
	}
	return status, m
}

func (c *tc) must(want int, method, path, body string) map[string]any {
	c.t.Helper()
	status, m := c.call(method, path, body)
	if status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %v", method, path, status, want, m)
	}
	return m
}

func (c *tc) invite(body string) (int, map[string]any) {
	c.t.Helper()
	return c.call("POST", "admin/projects/"+c.srv.Seed.ProjectID+"/invite", body)
}

func issueText(m map[string]any) string {
	issues, _ := m["issue"].([]any)
	var out []string
	for _, i := range issues {
		d, _ := i.(map[string]any)["details"].(map[string]any)
		out = append(out, fmt.Sprint(d["text"]))
	}
	return strings.Join(out, "; ")
}

func TestNewServerSeed(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithClient("cid", "csecret"))
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") || !strings.HasSuffix(srv.URL, "/") {
		t.Fatalf("URL %q", srv.URL)
	}
	sd := srv.Seed
	if sd.Client.ID != "cid" || sd.Client.Secret != "csecret" {
		t.Fatalf("client %+v", sd.Client)
	}
	for name, v := range map[string]string{
		"ProjectID": sd.ProjectID, "SuperAdminProjectID": sd.SuperAdminProjectID, "SuperAdminClient.ID": sd.SuperAdminClient.ID,
		"SuperAdminClient.Secret": sd.SuperAdminClient.Secret, "Homer": sd.Homer.MembershipID, "Bot": sd.Bot.MembershipID,
		"Admin": sd.Admin.MembershipID, "Client.MembershipID": sd.Client.MembershipID,
	} {
		if v == "" {
			t.Errorf("Seed.%s is empty", name)
		}
	}
	if got := len(srv.Memberships(sd.ProjectID)); got != 4 {
		t.Errorf("%d memberships, want 4 (admin, client, Homer, bot)", got)
	}
	homer := srv.Resource("ProjectMembership", sd.Homer.MembershipID)
	if homer["profile"].(map[string]any)["display"] != "Homer Simpson" || sd.Homer.Email != "homer@example.com" {
		t.Errorf("Homer: %v", homer)
	}
	if srv.Resource("User", strings.TrimPrefix(sd.Homer.User, "User/"))["passwordHash"] != nil {
		t.Error("Resource exposes passwordHash")
	}
}

func TestTokenIsJWTWithExp(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newTC(t, medplumtest.WithClock(func() time.Time { return now }))
	parts := strings.Split(c.tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", c.tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	if claims["exp"] != float64(now.Add(time.Hour).Unix()) || claims["client_id"] != c.srv.Seed.Client.ID ||
		claims["login_id"] == nil || claims["sub"] != c.srv.Seed.Client.ID || claims["profile"] != "ClientApplication/"+c.srv.Seed.Client.ID {
		t.Errorf("claims %v", claims)
	}
}

func TestExpiredAndRevokedTokens(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := newTC(t, medplumtest.WithClock(clock))
	c.must(200, "GET", "auth/me", "")
	mu.Lock()
	now = now.Add(61 * time.Minute)
	mu.Unlock()
	resp := c.resp("GET", "auth/me", map[string]string{"Authorization": "Bearer " + c.tok}, "")
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer realm=") {
		t.Fatalf("expired token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	c.tok = c.token(c.srv.Seed.Client.ID, c.srv.Seed.Client.Secret)
	c.srv.RevokeLogins(c.srv.Seed.Client.MembershipID)
	c.must(401, "GET", "fhir/R4/Patient", "")

	// A deactivated membership's tokens still work on 5.0.10 (captures
	// 194-197): only a new password sign-in refuses it (187).
	tok := c.srv.IssueToken(c.srv.Seed.Homer.MembershipID)
	m := c.srv.Resource("ProjectMembership", c.srv.Seed.Homer.MembershipID)
	m["active"] = false
	c.srv.Update(m)
	c.tok = tok
	c.must(200, "GET", "auth/me", "")
}

func TestBasicAuthOnAPIRoutes(t *testing.T) {
	c := newTC(t)
	sd := c.srv.Seed
	basicHdr := "Basic " + base64.StdEncoding.EncodeToString([]byte(sd.Client.ID+":"+sd.Client.Secret))
	status, body := c.raw("GET", "admin/projects/"+sd.ProjectID, map[string]string{"Authorization": basicHdr}, "")
	if status != 200 || !strings.Contains(string(body), sd.ProjectName) {
		t.Fatalf("%d %s", status, body)
	}
	bad := "Basic " + base64.StdEncoding.EncodeToString([]byte(sd.Client.ID+":nope"))
	resp := c.resp("GET", "fhir/R4/Patient", map[string]string{"Authorization": bad}, "")
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic realm=") {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestMeForClientApplication(t *testing.T) {
	c := newTC(t)
	m := c.must(200, "GET", "auth/me", "")
	if m["user"] != nil || m["security"] != nil {
		t.Errorf("a client login has no user or security: %v", m)
	}
	if m["project"].(map[string]any)["id"] != c.srv.Seed.ProjectID ||
		m["membership"].(map[string]any)["id"] != c.srv.Seed.Client.MembershipID ||
		m["profile"].(map[string]any)["resourceType"] != "ClientApplication" {
		t.Errorf("me: %v", m)
	}
}

// pageAll follows next links and returns every entry's resource.
func (c *tc) pageAll(first string) (resources []map[string]any, pages int) {
	c.t.Helper()
	next := first
	for next != "" {
		m := c.must(200, "GET", strings.TrimPrefix(next, c.srv.URL), "")
		pages++
		for _, e := range m["entry"].([]any) {
			resources = append(resources, e.(map[string]any)["resource"].(map[string]any))
		}
		next = ""
		for _, l := range m["link"].([]any) {
			if l.(map[string]any)["relation"] == "next" {
				next = l.(map[string]any)["url"].(string)
			}
		}
	}
	return resources, pages
}

func TestCursorPagingOverManyMembers(t *testing.T) {
	c := newTC(t, medplumtest.WithMembers(2500))
	all, pages := c.pageAll("fhir/R4/ProjectMembership?_count=5000&_sort=_lastUpdated")
	if len(all) != 2504 || pages != 3 {
		t.Fatalf("%d resources in %d pages, want 2504 in 3", len(all), pages)
	}
	seen := map[string]bool{}
	for _, r := range all {
		seen[r["id"].(string)] = true
	}
	if len(seen) != 2504 {
		t.Fatalf("%d distinct", len(seen))
	}
	reqs := c.srv.RequestsTo("GET", "/fhir/R4/ProjectMembership")
	if q := reqs[1].RawQuery; !strings.Contains(q, "_cursor=") || strings.Contains(q, "_offset") || !strings.Contains(q, "_count=1000") {
		t.Errorf("second page query %q: want a cursor and the clamped count", q)
	}
}

func TestOffsetPagingAndLimits(t *testing.T) {
	c := newTC(t, medplumtest.WithMembers(45))
	all, pages := c.pageAll("fhir/R4/ProjectMembership?_count=20&profile-type=Practitioner")
	if len(all) != 46 || pages != 3 {
		t.Fatalf("%d in %d pages", len(all), pages)
	}
	m := c.must(200, "GET", "fhir/R4/ProjectMembership?_count=20&_offset=20", "")
	rels := ""
	for _, l := range m["link"].([]any) {
		rels += l.(map[string]any)["relation"].(string) + " "
	}
	if rels != "self first next previous " {
		t.Errorf("links %q", rels)
	}
	m = c.must(400, "GET", "fhir/R4/ProjectMembership?_offset=10001", "")
	if got := issueText(m); got != "Search offset exceeds maximum (got 10001, max 10000)" {
		t.Errorf("%q", got)
	}
	m = c.must(200, "GET", "fhir/R4/ProjectMembership?_count=0&_total=accurate", "")
	if m["total"] != float64(49) || m["entry"] != nil || len(m["link"].([]any)) != 1 {
		t.Errorf("count 0: %v", m)
	}
}

func TestMembershipSearchParams(t *testing.T) {
	c := newTC(t, medplumtest.WithMembers(2))
	sd := c.srv.Seed
	count := func(q string) int {
		t.Helper()
		m := c.must(200, "GET", "fhir/R4/ProjectMembership?_total=accurate&"+q, "")
		return int(m["total"].(float64))
	}
	cases := map[string]int{
		"profile-type=Patient":                           1,
		"profile-type=Patient,Practitioner":              4,
		"profile-type:not=ClientApplication,Bot":         4,
		"profile-type=ClientApplication":                 1,
		"user=" + sd.Homer.User:                          1,
		"profile=" + sd.Homer.Profile:                    1,
		"project=Project/" + sd.ProjectID:                6,
		"_id=" + sd.Bot.MembershipID:                     1,
		"access-policy:missing=true":                     6,
		"profile-type=Patient&profile-type=Practitioner": 0,
	}
	for q, want := range cases {
		if got := count(q); got != want {
			t.Errorf("%s: %d, want %d", q, got, want)
		}
	}
	// Medplum 5.0.10 has no admin or active search parameter on
	// ProjectMembership (its definitions: access-policy, external-id,
	// identifier, profile, profile-type, project, user, user-name); the
	// code is named without its modifier.
	for q, code := range map[string]string{
		"profile-kind=Patient": "profile-kind",
		"admin=true":           "admin",
		"admin:not=true":       "admin",
		"active=false":         "active",
		"active:not=false":     "active",
		"_sort=-admin":         "admin",
	} {
		m := c.must(400, "GET", "fhir/R4/ProjectMembership?"+q, "")
		if issueText(m) != "Unknown search parameter: "+code {
			t.Errorf("%s: %v", q, m)
		}
	}
	m := c.must(200, "GET", "fhir/R4/User?email=HOMER@example.com&_total=accurate", "")
	if m["total"] != float64(1) {
		t.Errorf("User?email: %v", m)
	}
	m = c.must(200, "GET", "fhir/R4/ClientApplication?name=sandbox&_total=accurate", "")
	if m["total"] != float64(1) {
		t.Errorf("ClientApplication?name: %v", m)
	}
}

// Medplum searches names with full text search: every word of the query
// begins a word of one HumanName (given names, family name, text).
func TestNameSearchMatchesWords(t *testing.T) {
	c := newTC(t)
	count := func(q string) int {
		t.Helper()
		m := c.must(200, "GET", "fhir/R4/Patient?_total=accurate&"+q, "")
		return int(m["total"].(float64))
	}
	for q, want := range map[string]int{
		"name=Homer%20Simpson": 1, "name=simp%20hom": 1, "name=HOMER": 1, "name=Homer%20Flanders": 0,
		"name=omer": 0, "family=simpson": 1, "given=simpson": 0, "name=Homer,Ned": 1,
	} {
		if got := count(q); got != want {
			t.Errorf("%s: %d, want %d", q, got, want)
		}
	}
}

func TestFHIRCrudAndExtendedMeta(t *testing.T) {
	c := newTC(t)
	resp := c.resp("POST", "fhir/R4/Patient", map[string]string{
		"Authorization": "Bearer " + c.tok, "Content-Type": "application/fhir+json", "X-Medplum": "extended",
	}, `{"resourceType":"Patient","name":[{"family":"Flanders"}]}`)
	var p map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	id, _ := p["id"].(string)
	if resp.StatusCode != 201 || resp.Header.Get("Location") != c.srv.URL+"fhir/R4/Patient/"+id || !strings.HasPrefix(resp.Header.Get("ETag"), `W/"`) {
		t.Fatalf("create: %d %v %v", resp.StatusCode, resp.Header, p)
	}
	meta := p["meta"].(map[string]any)
	if meta["project"] != c.srv.Seed.ProjectID || meta["author"].(map[string]any)["reference"] != "ClientApplication/"+c.srv.Seed.Client.ID {
		t.Errorf("extended meta: %v", meta)
	}
	got := c.must(200, "GET", "fhir/R4/Patient/"+id, "")
	if m := got["meta"].(map[string]any); m["project"] != nil || m["author"] != nil || m["versionId"] != meta["versionId"] {
		t.Errorf("plain meta: %v", m)
	}
	got["active"] = true
	b, _ := json.Marshal(got)
	upd := c.must(200, "PUT", "fhir/R4/Patient/"+id, string(b))
	if upd["active"] != true || upd["meta"].(map[string]any)["versionId"] == meta["versionId"] {
		t.Errorf("update: %v", upd)
	}
	same := c.must(200, "PUT", "fhir/R4/Patient/"+id, string(b))
	if same["meta"].(map[string]any)["versionId"] != upd["meta"].(map[string]any)["versionId"] {
		t.Error("an unchanged PUT made a new version")
	}
	c.must(400, "PUT", "fhir/R4/Patient/other", string(b))
	patched := c.must(200, "PATCH", "fhir/R4/Patient/"+id, `[{"op":"add","path":"/gender","value":"male"},{"op":"test","path":"/active","value":true}]`)
	if patched["gender"] != "male" {
		t.Errorf("patch: %v", patched)
	}
	m := c.must(400, "PATCH", "fhir/R4/Patient/"+id, `[{"op":"test","path":"/gender","value":"female"}]`)
	if issueText(m) != "Test failed: male != female" {
		t.Errorf("%v", m)
	}
	c.must(200, "DELETE", "fhir/R4/Patient/"+id, "")
	c.must(410, "GET", "fhir/R4/Patient/"+id, "")
	c.must(200, "DELETE", "fhir/R4/Patient/"+id, "") // again: All OK (capture 521)
}

func TestProjectAdminRules(t *testing.T) {
	c := newTC(t)
	sd := c.srv.Seed
	// Readonly project/user are restored silently on a FHIR PUT.
	m := c.must(200, "GET", "fhir/R4/ProjectMembership/"+sd.Homer.MembershipID, "")
	m["user"] = map[string]any{"reference": "User/someone-else"}
	m["admin"] = true
	b, _ := json.Marshal(m)
	got := c.must(200, "PUT", "fhir/R4/ProjectMembership/"+sd.Homer.MembershipID, string(b))
	if got["user"].(map[string]any)["reference"] != sd.Homer.User || got["admin"] != true {
		t.Errorf("PUT: %v", got)
	}
	// Only super admins create projects.
	c.must(403, "POST", "fhir/R4/Project", `{"resourceType":"Project","name":"Nope"}`)
	sa := &tc{t: t, srv: c.srv}
	sa.tok = sa.token(sd.SuperAdminClient.ID, sd.SuperAdminClient.Secret)
	p := sa.must(201, "POST", "fhir/R4/Project", `{"resourceType":"Project","name":"ProjectName","strictMode":true}`)
	if c.srv.Resource("Project", p["id"].(string))["name"] != "ProjectName" {
		t.Error("project not stored")
	}
	// A non-admin cannot read memberships.
	homer := &tc{t: t, srv: c.srv, tok: c.srv.IssueToken(sd.Homer.MembershipID)}
	homer.tok = c.srv.IssueToken(sd.Bot.MembershipID)
	homer.must(403, "GET", "fhir/R4/ProjectMembership", "")
	homer.must(403, "GET", "admin/projects/"+sd.ProjectID, "")
	// Another project's resources are invisible.
	c.must(404, "GET", "fhir/R4/Project/"+p["id"].(string), "")
}

func TestAdminMembers(t *testing.T) {
	c := newTC(t)
	sd := c.srv.Seed
	base := "admin/projects/" + sd.ProjectID + "/members/"
	// Owner cannot be removed.
	m := c.must(400, "DELETE", base+sd.Admin.MembershipID, "")
	if issueText(m) != "Cannot delete the owner of the project" {
		t.Errorf("%v", m)
	}
	// Removing Homer deletes his membership only: his project-scoped User
	// stays, as on 5.0.10 (admin/project.ts deletes nothing else).
	c.must(200, "DELETE", base+sd.Homer.MembershipID, "")
	if c.srv.Deleted("User", strings.TrimPrefix(sd.Homer.User, "User/")) {
		t.Error("project-scoped user deleted with its last membership: 5.0.10 keeps it")
	}
	c.must(410, "DELETE", base+sd.Homer.MembershipID, "")
	// Reconcile the default policy with the admin flag.
	pract := c.srv.Create(sd.ProjectID, map[string]any{"resourceType": "AccessPolicy", "name": "Practitioner default"})
	adm := c.srv.Create(sd.ProjectID, map[string]any{"resourceType": "AccessPolicy", "name": "Admin default"})
	proj := c.srv.Resource("Project", sd.ProjectID)
	proj["defaultAccessPolicies"] = []any{
		map[string]any{"profileType": "Practitioner", "accessPolicy": map[string]any{"reference": "AccessPolicy/" + pract["id"].(string)}},
		map[string]any{"profileType": "Admin", "accessPolicy": map[string]any{"reference": "AccessPolicy/" + adm["id"].(string)}},
	}
	c.srv.Update(proj)
	_, inv := c.invite(`{"resourceType":"Practitioner","firstName":"Ned","lastName":"Flanders","email":"ned@example.com","sendEmail":false}`)
	if inv["accessPolicy"].(map[string]any)["reference"] != "AccessPolicy/"+pract["id"].(string) {
		t.Fatalf("default policy: %v", inv)
	}
	mid := inv["id"].(string)
	got := c.must(200, "GET", base+mid, "")
	got["admin"] = true
	b, _ := json.Marshal(got)
	got = c.must(200, "POST", base+mid, string(b))
	if got["accessPolicy"].(map[string]any)["reference"] != "AccessPolicy/"+adm["id"].(string) {
		t.Errorf("promotion kept the Practitioner default: %v", got)
	}
}

func TestInviteContract(t *testing.T) {
	c := newTC(t)
	sd := c.srv.Seed
	// Homer is already a member.
	status, m := c.invite(`{"resourceType":"Patient","firstName":"Homer","lastName":"Simpson","email":"HOMER@example.com","sendEmail":false}`)
	if status != 409 || issueText(m) != "User is already a member of this project" {
		t.Fatalf("%d %v", status, m)
	}
	// upsert updates the existing membership.
	status, m = c.invite(`{"resourceType":"Patient","firstName":"Homer","lastName":"Simpson","email":"homer@example.com","sendEmail":false,"upsert":true,"membership":{"admin":true}}`)
	if status != 200 || m["id"] != sd.Homer.MembershipID || m["admin"] != true {
		t.Fatalf("upsert: %d %v", status, m)
	}
	// A RelatedPerson needs a patient, which must exist.
	status, m = c.invite(`{"resourceType":"RelatedPerson","firstName":"Abe","lastName":"Simpson","email":"abe@example.com","sendEmail":false}`)
	if status != 400 || issueText(m) != "Patient is required to create a RelatedPerson" {
		t.Errorf("%d %v", status, m)
	}
	status, m = c.invite(`{"resourceType":"RelatedPerson","firstName":"Abe","lastName":"Simpson","email":"abe@example.com","sendEmail":false,"patient":{"reference":"Patient/nope"}}`)
	if status != 400 || issueText(m) != "Patient Patient/nope does not exist" {
		t.Errorf("%d %v", status, m)
	}
	status, m = c.invite(`{"resourceType":"RelatedPerson","firstName":"Abe","lastName":"Simpson","email":"abe@example.com","sendEmail":false,"patient":{"reference":"` + sd.Homer.Profile + `"}}`)
	if status != 200 {
		t.Errorf("%d %v", status, m)
	}
	// Access policies must exist.
	status, m = c.invite(`{"resourceType":"Practitioner","firstName":"A","lastName":"B","email":"ab@example.com","sendEmail":false,"membership":{"access":[{"policy":{"reference":"AccessPolicy/123"}}]}}`)
	if status != 400 || issueText(m) != "Access policy AccessPolicy/123 does not exist" {
		t.Errorf("%d %v", status, m)
	}
	status, m = c.invite(`{"resourceType":"Practitioner","firstName":"A","lastName":"B","email":"ab@example.com","sendEmail":false,"accessPolicy":{"reference":"AccessPolicy/nope"}}`)
	if status != 400 || issueText(m) != "Access policy AccessPolicy/nope does not exist" {
		t.Errorf("accessPolicy: %d %v", status, m)
	}
	if c.srv.MembershipByEmail(sd.ProjectID, "ab@example.com") != nil {
		t.Error("a refused invite left a membership")
	}
	// ... but membership.accessPolicy is not checked (capture 204).
	status, m = c.invite(`{"resourceType":"Practitioner","firstName":"A","lastName":"B","email":"ab@example.com","sendEmail":false,"membership":{"accessPolicy":{"reference":"AccessPolicy/nope"}}}`)
	if status != 200 || m["accessPolicy"].(map[string]any)["reference"] != "AccessPolicy/nope" {
		t.Errorf("membership.accessPolicy: %d %v", status, m)
	}
	// An upsert that does not name admin takes it away (captures 201-203).
	status, m = c.invite(`{"resourceType":"Patient","firstName":"Homer","lastName":"Simpson","email":"homer@example.com","sendEmail":false,"upsert":true}`)
	if status != 200 || m["id"] != sd.Homer.MembershipID || m["admin"] != nil {
		t.Fatalf("upsert naming nothing: %d %v", status, m)
	}
	// Patients are project-scoped, Practitioners server-scoped by default.
	c.invite(`{"resourceType":"Practitioner","firstName":"Moe","lastName":"Szyslak","email":"moe@example.com","sendEmail":false}`)
	users := c.srv.Resources("User", "")
	for _, u := range users {
		if u["email"] == "moe@example.com" && u["project"] != nil {
			t.Error("Practitioner user is project-scoped")
		}
	}
	// forceNewMembership creates a second membership.
	status, _ = c.invite(`{"resourceType":"Practitioner","firstName":"Moe","lastName":"Szyslak","email":"moe@example.com","sendEmail":false,"forceNewMembership":true}`)
	if status != 200 {
		t.Errorf("forceNewMembership: %d", status)
	}
	// The string "false" is not false: the server tries to e-mail.
	status, m = c.invite(`{"resourceType":"Patient","firstName":"Maggie","lastName":"Simpson","email":"maggie@example.com","sendEmail":"false"}`)
	if status != 200 || m["resourceType"] != "OperationOutcome" || c.srv.MembershipByEmail(sd.ProjectID, "maggie@example.com") == nil {
		t.Errorf("sendEmail \"false\": %d %v", status, m)
	}
}

func TestInviteWithMailer(t *testing.T) {
	c := newTC(t, medplumtest.WithMailer())
	status, m := c.invite(`{"resourceType":"Practitioner","firstName":"Carl","lastName":"Carlson","email":"carl@example.com"}`)
	if status != 200 || m["resourceType"] != "ProjectMembership" {
		t.Fatalf("%d %v", status, m)
	}
	mails := c.srv.SentEmails()
	if len(mails) != 1 || mails[0].To != "carl@example.com" || mails[0].Subject != "Welcome to Medplum" {
		t.Errorf("%+v", mails)
	}
}

func TestExpressNotFound(t *testing.T) {
	c := newTC(t)
	status, body := c.raw("GET", "nowhere/at%20all?x=1", nil, "")
	want := "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot GET /nowhere/at%20all</pre>\n</body>\n</html>\n"
	if status != 404 || string(body) != want {
		t.Errorf("%d %q", status, body)
	}
	// Unauthenticated requests under an authenticated mount get 401 first.
	status, _ = c.raw("PATCH", "admin/projects/x/members/y", nil, "")
	if status != 401 {
		t.Errorf("PATCH without a token: %d", status)
	}
}

func TestFaults(t *testing.T) {
	c := newTC(t)
	c.srv.FailNext(2, 503, "GET", "/fhir/R4/*")
	for range 2 {
		if status, body := c.raw("GET", "fhir/R4/Patient", map[string]string{"Authorization": "Bearer " + c.tok}, ""); status != 503 || !strings.Contains(string(body), "503 Service Unavailable") {
			t.Fatalf("%d %s", status, body)
		}
	}
	c.must(200, "GET", "fhir/R4/Patient", "")

	c.srv.ConflictNext(1, "POST", "/admin/projects/*/invite")
	status, m := c.invite(`{"resourceType":"Practitioner","firstName":"Lenny","lastName":"Leonard","email":"lenny@example.com","sendEmail":false}`)
	coding := m["issue"].([]any)[0].(map[string]any)["details"].(map[string]any)["coding"]
	if status != 409 || fmt.Sprint(coding) != "[map[code:40001]]" {
		t.Fatalf("%d %v", status, m)
	}

	c.srv.Inject(medplumtest.Fault{Status: 429, RetryAfter: 2 * time.Second})
	resp := c.resp("GET", "fhir/R4/Patient", map[string]string{"Authorization": "Bearer " + c.tok}, "")
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("RateLimit") != `"requests";r=0;t=2` {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("RateLimit"))
	}

	c.srv.FailNext(1, 500, "", "")
	if status, body := c.raw("GET", "fhir/R4/Patient", nil, ""); status != 500 || string(body) != `{"msg":"Internal Server Error"}` {
		t.Fatalf("%d %s", status, body)
	}
}

func TestDroppedConnections(t *testing.T) {
	c := newTC(t)
	inv := `{"resourceType":"Practitioner","firstName":"Otto","lastName":"Mann","email":"otto@example.com","sendEmail":false}`
	do := func() error {
		req, _ := http.NewRequest("POST", c.srv.URL+"admin/projects/"+c.srv.Seed.ProjectID+"/invite", strings.NewReader(inv))
		req.Header.Set("Authorization", "Bearer "+c.tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.ReadAll(resp.Body)
		return err
	}
	c.srv.DropNext(1, medplumtest.DropBeforeHandling, "POST", "")
	if err := do(); err == nil {
		t.Fatal("DropBeforeHandling: no error")
	}
	if c.srv.MembershipByEmail(c.srv.Seed.ProjectID, "otto@example.com") != nil {
		t.Fatal("DropBeforeHandling: the invite took effect")
	}
	c.srv.DropNext(1, medplumtest.DropMidResponse, "POST", "")
	if err := do(); err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("DropMidResponse: %v", err)
	}
	if c.srv.MembershipByEmail(c.srv.Seed.ProjectID, "otto@example.com") == nil {
		t.Fatal("DropMidResponse: the invite did not take effect")
	}
	c.srv.DropNext(1, medplumtest.DropAfterHandling, "GET", "")
	if _, err := http.Get(c.srv.URL + "healthcheck"); err == nil {
		t.Fatal("DropAfterHandling: no error")
	}
}

// Faults tied to requests by their body and their rank hit exactly those
// requests, whatever else is sent in between.
func TestFaultMatchingBodyAndSkip(t *testing.T) {
	c := newTC(t)
	inv := func(email string) string {
		return `{"resourceType":"Practitioner","firstName":"A","lastName":"B","email":"` + email + `","sendEmail":false}`
	}
	const route = "/admin/projects/*/invite"
	// carl's second request conflicts; lenny's first is refused with a 503
	// twice over (Times 2); a fault for nobody's body is never used.
	c.srv.Inject(medplumtest.Fault{Method: "POST", Path: route, Body: "carl@example.com", Skip: 1, Status: 409})
	c.srv.Inject(medplumtest.Fault{Method: "POST", Path: route, Body: "lenny@example.com", Times: 2, Status: 503})
	c.srv.Inject(medplumtest.Fault{Method: "POST", Path: route, Body: "nobody@example.com", Status: 503})
	for i, step := range []struct {
		email string
		want  int
	}{
		{"carl@example.com", 200},  // carl's first: skipped by his fault
		{"lenny@example.com", 503}, // lenny's first
		{"moe@example.com", 200},   // matches no fault
		{"carl@example.com", 409},  // carl's second: his fault (40001)
		{"lenny@example.com", 503}, // lenny's second: Times 2
		{"lenny@example.com", 200}, // lenny's fault is used up
		{"carl@example.com", 409},  // already a member now: the real 409
	} {
		status, body := c.raw("POST", "admin/projects/"+c.srv.Seed.ProjectID+"/invite",
			map[string]string{"Authorization": "Bearer " + c.tok, "Content-Type": "application/fhir+json"}, inv(step.email))
		if status != step.want {
			t.Fatalf("request %d (%s): %d %s, want %d", i, step.email, status, body, step.want)
		}
		if status == 409 && (i == 3) != strings.Contains(string(body), "40001") {
			t.Errorf("request %d: %s", i, body)
		}
	}
	pending := c.srv.PendingFaults()
	if len(pending) != 1 || pending[0].Body != "nobody@example.com" || pending[0].Times != 1 {
		t.Errorf("pending faults: %+v, want only nobody's", pending)
	}

	// Skip counts every matching request, also those an earlier fault took.
	c.srv.ClearFaults()
	c.srv.Inject(medplumtest.Fault{Method: "GET", Path: "/healthcheck", Status: 502})
	c.srv.Inject(medplumtest.Fault{Method: "GET", Path: "/healthcheck", Skip: 1, Status: 504})
	for i, want := range []int{502, 504, 200} {
		if status, _ := c.raw("GET", "healthcheck", nil, ""); status != want {
			t.Errorf("healthcheck %d: %d, want %d", i, status, want)
		}
	}
	if p := c.srv.PendingFaults(); len(p) != 0 {
		t.Errorf("pending faults: %+v", p)
	}

	// Of two faults for the same request, the one added first takes it.
	c.srv.Inject(medplumtest.Fault{Method: "GET", Path: "/healthcheck", Status: 503})
	c.srv.Inject(medplumtest.Fault{Path: "/health*", Status: 502})
	for i, want := range []int{503, 502, 200} {
		if status, _ := c.raw("GET", "healthcheck", nil, ""); status != want {
			t.Errorf("overlapping faults, request %d: %d, want %d", i, status, want)
		}
	}
}

// Hold holds back what a fault does until the test lets it go: the answer
// of a Status fault, the lost answer of a request that took effect
// (DropAfterHandling), or the handling itself of a fault with neither.
func TestFaultHold(t *testing.T) {
	c := newTC(t)
	send := func(email string) <-chan error {
		done := make(chan error, 1)
		go func() {
			req, _ := http.NewRequest("POST", c.srv.URL+"admin/projects/"+c.srv.Seed.ProjectID+"/invite",
				strings.NewReader(`{"resourceType":"Practitioner","firstName":"A","lastName":"B","email":"`+email+`","sendEmail":false}`))
			req.Header.Set("Authorization", "Bearer "+c.tok)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			done <- err
		}()
		return done
	}
	logged := func(email string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			for _, r := range c.srv.Requests() {
				if strings.Contains(string(r.Body), email) {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s's request never arrived", email)
			}
		}
	}
	member := func(email string) bool { return c.srv.MembershipByEmail(c.srv.Seed.ProjectID, email) != nil }

	for _, tt := range []struct {
		email     string
		fault     medplumtest.Fault
		madeHeld  bool   // the membership exists while the answer is held
		madeAfter bool   // ... and once it is let go
		wantErr   string // what the client sees in the end
	}{
		{"held503@example.com", medplumtest.Fault{Status: 503}, false, false, "status 503"},
		{"heldbefore@example.com", medplumtest.Fault{Drop: medplumtest.DropBeforeHandling}, false, false, "EOF"},
		{"heldafter@example.com", medplumtest.Fault{Drop: medplumtest.DropAfterHandling}, true, true, "EOF"},
		{"heldonly@example.com", medplumtest.Fault{}, false, true, ""},
	} {
		gate := make(chan struct{})
		f := tt.fault
		f.Body, f.Hold = tt.email, gate
		c.srv.Inject(f)
		done := send(tt.email)
		logged(tt.email)
		for deadline := time.Now().Add(10 * time.Second); tt.madeHeld && !member(tt.email); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the held request never took effect", tt.email)
			}
		}
		select {
		case err := <-done:
			t.Fatalf("%s: answered while held: %v", tt.email, err)
		default:
		}
		if member(tt.email) != tt.madeHeld {
			t.Errorf("%s: member while held = %v", tt.email, !tt.madeHeld)
		}
		close(gate)
		err := <-done
		if got := fmt.Sprint(err); (tt.wantErr == "" && err != nil) || (tt.wantErr != "" && !strings.Contains(got, tt.wantErr)) {
			t.Errorf("%s: client got %v, want %q", tt.email, err, tt.wantErr)
		}
		if member(tt.email) != tt.madeAfter {
			t.Errorf("%s: member after = %v", tt.email, !tt.madeAfter)
		}
	}
}

func TestRateLimitAndRequestLog(t *testing.T) {
	c := newTC(t)
	c.srv.SetRateLimit(medplumtest.RateLimitDefault, 2, time.Minute)
	c.srv.ResetRequests()
	h := map[string]string{"Authorization": "Bearer " + c.tok}
	for i, want := range []int{200, 200, 429} {
		resp := c.resp("GET", "fhir/R4/Patient?name=x", h, "")
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
		if i == 2 && !strings.HasPrefix(resp.Header.Get("RateLimit"), `"requests";r=0;t=`) {
			t.Errorf("RateLimit %q", resp.Header.Get("RateLimit"))
		}
	}
	reqs := c.srv.Requests()
	if len(reqs) != 3 || reqs[0].Method != "GET" || reqs[0].Path != "/fhir/R4/Patient" || reqs[0].RawQuery != "name=x" ||
		reqs[0].Header.Get("Authorization") != "Bearer "+c.tok {
		t.Errorf("log: %+v", reqs)
	}
	c.srv.ResetRequests()
	if len(c.srv.Requests()) != 0 {
		t.Error("ResetRequests")
	}
}

// SetFHIRQuota enforces Medplum's FHIR interaction quota per member (a
// search costs 20 points), reported as a second RateLimit value; super
// admins are exempt. auth/me counts against the default category, not the
// sign-in one.
func TestFHIRQuotaAndRateLimitCategories(t *testing.T) {
	c := newTC(t)
	c.srv.SetFHIRQuota(40)
	h := map[string]string{"Authorization": "Bearer " + c.tok}
	for i, want := range []int{200, 200, 429} {
		resp := c.resp("GET", "fhir/R4/Patient?name=x", h, "")
		resp.Body.Close()
		quota := `"fhirInteractions";r=` + strconv.Itoa(max(0, 20-20*i)) + ";t=60"
		if got := resp.Header.Values("RateLimit"); resp.StatusCode != want || len(got) != 2 || got[1] != quota {
			t.Errorf("search %d: %d, RateLimit %q; want %d and %s", i, resp.StatusCode, got, want, quota)
		}
	}
	sa := c.token(c.srv.Seed.SuperAdminClient.ID, c.srv.Seed.SuperAdminClient.Secret)
	if status, body := c.raw("GET", "fhir/R4/Patient?name=x", map[string]string{"Authorization": "Bearer " + sa}, ""); status != 200 {
		t.Errorf("super admin over the quota: %d %s", status, body)
	}

	c.srv.SetRateLimit(medplumtest.RateLimitAuth, 1, time.Minute)
	login := func() int {
		status, _ := c.raw("POST", "auth/login", map[string]string{"Content-Type": "application/json"}, `{}`)
		return status
	}
	if status := login(); status != 400 {
		t.Fatalf("auth/login within the sign-in budget: %d, want 400", status)
	}
	for i := range 2 {
		if status, body := c.raw("GET", "auth/me", h, ""); status != 200 {
			t.Fatalf("auth/me %d with the sign-in budget spent: %d %s", i, status, body)
		}
	}
	if status := login(); status != 429 {
		t.Errorf("auth/login with the sign-in budget spent: %d, want 429", status)
	}
}

func TestSettingsSecretsSites(t *testing.T) {
	c := newTC(t)
	base := "admin/projects/" + c.srv.Seed.ProjectID
	// 5.0.10 has no settings route (capture 180), and its project answer
	// leaves setting out (185).
	if status, body := c.raw("POST", base+"/settings", map[string]string{"Authorization": "Bearer " + c.tok, "Content-Type": "application/json"}, `[{"name":"a","valueString":"1"}]`); status != 404 || !strings.Contains(string(body), "Cannot POST /"+base+"/settings") {
		t.Errorf("POST settings: %d %s", status, body)
	}
	pr := c.srv.Resource("Project", c.srv.Seed.ProjectID)
	pr["setting"] = []any{map[string]any{"name": "a", "valueString": "1"}}
	c.srv.Update(pr)
	c.must(200, "POST", base+"/secrets", `[{"name":"s","valueString":"x"}]`)
	p := c.must(200, "GET", base, "")["project"].(map[string]any)
	if _, ok := p["setting"]; ok || len(p["secret"].([]any)) != 1 {
		t.Errorf("%v", p)
	}
	m := c.must(400, "POST", base+"/sites", `{"name":"not an array"}`)
	if issueText(m) != "Invalid JSON type: expected array, but got object" {
		t.Errorf("%v", m)
	}
	cl := c.must(201, "POST", base+"/client", `{"name":"CI"}`)
	if len(cl["secret"].(string)) != 32 || c.srv.Count("ProjectMembership", c.srv.Seed.ProjectID) != 5 {
		t.Errorf("client: %v", cl)
	}
	c.must(201, "POST", base+"/bot", `{"name":"Robot"}`)
}

// Mixed concurrent use (run with -race): invites, searches, member updates,
// project settings and fault knobs at the same time; every invite ends with
// exactly one membership.
func TestConcurrentUse(t *testing.T) {
	c := newTC(t, medplumtest.WithSeed(3))
	sd := c.srv.Seed
	var wg sync.WaitGroup
	const workers, each = 6, 15
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				body := fmt.Sprintf(`{"resourceType":"Practitioner","firstName":"W%d","lastName":"N%d","email":"w%d-%d@example.com","sendEmail":false}`, w, i, w, i)
				for {
					status, _ := c.invite(body)
					if status == 200 {
						break
					}
					if status != 409 {
						t.Errorf("invite: %d", status)
						return
					}
				}
				c.must(200, "GET", "fhir/R4/ProjectMembership?_count=5&profile-type=Practitioner", "")
				c.must(200, "POST", "admin/projects/"+sd.ProjectID+"/secrets", fmt.Sprintf(`[{"name":"w%d","valueString":"%d"}]`, w, i))
				m := c.must(200, "GET", "admin/projects/"+sd.ProjectID+"/members/"+sd.Homer.MembershipID, "")
				m["active"] = i%2 == 0
				b, _ := json.Marshal(m)
				c.must(200, "POST", "admin/projects/"+sd.ProjectID+"/members/"+sd.Homer.MembershipID, string(b))
				c.srv.SetLatency(0)
				_ = c.srv.Requests()
			}
		}()
	}
	wg.Wait()
	for w := range workers {
		for i := range each {
			if c.srv.MembershipByEmail(sd.ProjectID, fmt.Sprintf("w%d-%d@example.com", w, i)) == nil {
				t.Errorf("w%d-%d has no membership", w, i)
			}
		}
	}
	if got := c.srv.Count("ProjectMembership", sd.ProjectID); got != 4+workers*each {
		t.Errorf("%d memberships, want %d", got, 4+workers*each)
	}
}

func TestRequestLogOff(t *testing.T) {
	c := newTC(t)
	c.srv.SetRequestLog(false)
	c.must(200, "GET", "auth/me", "")
	if n := len(c.srv.Requests()); n != 0 {
		t.Errorf("%d requests logged with the log off", n)
	}
	c.srv.SetRequestLog(true)
	c.must(200, "GET", "auth/me", "")
	if n := len(c.srv.Requests()); n != 1 {
		t.Errorf("%d requests logged, want 1", n)
	}
}

func TestDiscoveryEndpoints(t *testing.T) {
	c := newTC(t)
	status, body := c.raw("GET", "fhir/R4/metadata", nil, "")
	if status != 200 || !strings.Contains(string(body), `"resourceType":"CapabilityStatement"`) {
		t.Errorf("metadata: %d %.200s", status, body)
	}
	status, body = c.raw("GET", ".well-known/openid-configuration", nil, "")
	if status != 200 || !strings.Contains(string(body), `"token_endpoint":"`+c.srv.URL+`oauth2/token"`) {
		t.Errorf("openid-configuration: %d %s", status, body)
	}
}

func TestGenericSearchParams(t *testing.T) {
	c := newTC(t)
	pat := c.srv.Seed.Homer.Profile
	c.must(201, "POST", "fhir/R4/Observation", `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"`+pat+`"}}`)
	c.must(201, "POST", "fhir/R4/Observation", `{"resourceType":"Observation","status":"preliminary","code":{"text":"x"}}`)
	for q, want := range map[string]float64{
		"status=final":                          1,
		"status:not=final":                      1,
		"code=http://loinc.org|8867-4":          1,
		"code=8867-4":                           1,
		"subject=" + pat:                        1,
		"patient=" + pat:                        1,
		"patient=" + strings.Split(pat, "/")[1]: 1,
	} {
		m := c.must(200, "GET", "fhir/R4/Observation?_total=accurate&"+q, "")
		if m["total"] != want {
			t.Errorf("%s: total %v, want %v", q, m["total"], want)
		}
	}
	c.must(400, "GET", "fhir/R4/Observation?notaparam=1", "")
}

func TestBatchAndTransaction(t *testing.T) {
	c := newTC(t)
	patients := func() int { return c.srv.Count("Patient", c.srv.Seed.ProjectID) }
	before := patients()
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[
	  {"fullUrl":"urn:uuid:11111111-1111-4111-8111-111111111111","request":{"method":"POST","url":"Patient"},
	   "resource":{"resourceType":"Patient","name":[{"family":"Gumble"}]}},
	  {"request":{"method":"POST","url":"Observation"},
	   "resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:11111111-1111-4111-8111-111111111111"}}}]}`
	m := c.must(200, "POST", "fhir/R4", tx)
	entries := m["entry"].([]any)
	pat := entries[0].(map[string]any)["resource"].(map[string]any)
	obs := entries[1].(map[string]any)["resource"].(map[string]any)
	if m["type"] != "transaction-response" || entries[0].(map[string]any)["response"].(map[string]any)["status"] != "201" ||
		obs["subject"].(map[string]any)["reference"] != "Patient/"+pat["id"].(string) {
		t.Fatalf("transaction: %v", m)
	}
	bad := `{"resourceType":"Bundle","type":"transaction","entry":[
	  {"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient"}},
	  {"request":{"method":"PUT","url":"Patient/` + pat["id"].(string) + `"},"resource":{"resourceType":"Patient","id":"` + pat["id"].(string) + `","active":true}},
	  {"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","birthDate":"not-a-date"}}]}`
	statuses := func(m map[string]any) string {
		out := ""
		for _, e := range m["entry"].([]any) {
			out += e.(map[string]any)["response"].(map[string]any)["status"].(string) + " "
		}
		return out
	}
	// A batch keeps going, and so does a transaction in a project without
	// the "transaction-bundles" feature (5.0.10, capture 134).
	for i, typ := range []string{"batch", "transaction"} {
		m = c.must(200, "POST", "fhir/R4", strings.Replace(bad, `"transaction"`, `"`+typ+`"`, 1))
		if got := statuses(m); got != "201 200 400 " || m["type"] != typ+"-response" || patients() != before+2+i {
			t.Errorf("%s: statuses %q, type %v, %d patients", typ, got, m["type"], patients())
		}
	}
	// A spent quota stops a batch: the entries after it answer the same 429.
	c.srv.SetFHIRQuota(150)
	m = c.must(200, "POST", "fhir/R4", strings.Replace(strings.Replace(bad, `"transaction"`, `"batch"`, 1), `"not-a-date"`, `"1970-01-01"`, 1))
	if got := statuses(m); got != "201 429 429 " || patients() != before+4 {
		t.Errorf("batch over quota: statuses %q, %d patients", got, patients())
	}
	c.srv.SetFHIRQuota(1 << 30)
	// With the feature, a failing entry rolls the whole transaction back.
	project := c.srv.Resource("Project", c.srv.Seed.ProjectID)
	project["features"] = append(project["features"].([]any), "transaction-bundles")
	c.srv.Update(project)
	c.srv.Update(client.Resource{"resourceType": "Patient", "id": pat["id"].(string), "name": pat["name"]})
	m = c.must(400, "POST", "fhir/R4", bad)
	if issueText(m) != "Invalid date format" || patients() != before+4 || c.srv.Resource("Patient", pat["id"].(string))["active"] != nil {
		t.Fatalf("rollback: %v, %d patients", m, patients())
	}
	c.must(400, "POST", "fhir/R4", `{"resourceType":"Bundle","type":"searchset"}`)
}

// The history of a resource: every version newest first, _count and
// _offset, a deletion as an entry without a resource, 404 for a resource
// that never was (or is another project's).
func TestHistory(t *testing.T) {
	c := newTC(t)
	created := c.must(201, "POST", "fhir/R4/Patient", `{"resourceType":"Patient","name":[{"family":"One"}]}`)
	id := created["id"].(string)
	c.must(200, "PATCH", "fhir/R4/Patient/"+id, `[{"op":"replace","path":"/name/0/family","value":"Two"}]`)
	c.must(200, "PATCH", "fhir/R4/Patient/"+id, `[{"op":"replace","path":"/name/0/family","value":"Three"}]`)
	families := func(m map[string]any) string {
		var out []string
		for _, e := range m["entry"].([]any) {
			r, ok := e.(map[string]any)["resource"].(map[string]any)
			if !ok {
				out = append(out, "(deleted)")
				continue
			}
			out = append(out, r["name"].([]any)[0].(map[string]any)["family"].(string))
		}
		return strings.Join(out, " ")
	}
	m := c.must(200, "GET", "fhir/R4/Patient/"+id+"/_history", "")
	if got := families(m); got != "Three Two One" || m["total"] != float64(3) || m["link"] != nil {
		t.Errorf("history: %s, total %v, link %v", got, m["total"], m["link"])
	}
	if got := families(c.must(200, "GET", "fhir/R4/Patient/"+id+"/_history?_count=1&_offset=1", "")); got != "Two" {
		t.Errorf("_count=1&_offset=1: %s", got)
	}
	c.must(200, "DELETE", "fhir/R4/Patient/"+id, "")
	m = c.must(200, "GET", "fhir/R4/Patient/"+id+"/_history", "")
	deleted := m["entry"].([]any)[0].(map[string]any)
	if got := families(m); got != "(deleted) Three Two One" || deleted["response"].(map[string]any)["status"] != "410" ||
		!strings.HasPrefix(issueText(deleted["response"].(map[string]any)["outcome"].(map[string]any)), "Deleted on ") {
		t.Errorf("after delete: %s %v", got, deleted)
	}
	c.must(404, "GET", "fhir/R4/Patient/nope/_history", "")
	other := c.srv.Create(c.srv.Seed.SuperAdminProjectID, client.Resource{"resourceType": "Patient"})
	c.must(404, "GET", "fhir/R4/Patient/"+other.ID()+"/_history", "")
}

// Filters with many values (the batch lookups of members review) match as
// one value at a time would: _id by lookup, visibility and deletion kept;
// a reference list by id or by Type/id.
func TestManyValueFilters(t *testing.T) {
	c := newTC(t, medplumtest.WithMembers(40))
	sd := c.srv.Seed
	var ids, refs, bare []string
	for _, m := range sd.Generated {
		ids = append(ids, strings.TrimPrefix(m.Profile, "Practitioner/"))
		refs = append(refs, m.Profile)
	}
	for _, m := range sd.Generated[:20] {
		bare = append(bare, strings.TrimPrefix(m.Profile, "Practitioner/"))
	}
	// One deleted, one of another project (invisible), one that never was.
	c.must(200, "DELETE", "fhir/R4/"+sd.Generated[0].Profile, "")
	other := c.srv.Create(sd.SuperAdminProjectID, client.Resource{"resourceType": "Practitioner"})
	ids = append(ids, other.ID(), "no-such-id")
	total := func(typ string, form url.Values) float64 {
		t.Helper()
		form.Set("_total", "accurate")
		status, body := c.raw("POST", "fhir/R4/"+typ+"/_search", map[string]string{"Authorization": "Bearer " + c.tok,
			"Content-Type": "application/x-www-form-urlencoded"}, form.Encode())
		var m map[string]any
		if status != 200 || json.Unmarshal([]byte(body), &m) != nil {
			t.Fatalf("%s: %d %s", typ, status, body)
		}
		return m["total"].(float64)
	}
	if n := total("Practitioner", url.Values{"_id": {strings.Join(ids, ",")}}); n != 39 {
		t.Errorf("_id: %v, want 39", n)
	}
	if n := total("ProjectMembership", url.Values{"profile": {strings.Join(refs, ",")}}); n != 40 {
		t.Errorf("profile=Type/id: %v, want 40", n)
	}
	if n := total("ProjectMembership", url.Values{"profile": {strings.Join(bare, ",")}}); n != 20 {
		t.Errorf("profile=id: %v, want 20", n)
	}
	if n := total("ProjectMembership", url.Values{"profile:not": {strings.Join(refs, ",")}}); n != 4 {
		t.Errorf("profile:not: %v, want the 4 seeded members", n)
	}
}

// Cursor pages come from the write log (no sort of every record): the
// same members, in the same order, as the sorted search, with a filter,
// and a member changed between two pages comes again at the end (its
// lastUpdated moved), as on the real server.
func TestCursorPagesFromTheWriteLog(t *testing.T) {
	c := newTC(t, medplumtest.WithMembers(150))
	sorted := c.must(200, "GET", "fhir/R4/ProjectMembership?_count=1000&_sort=_lastUpdated&_total=accurate&profile-type=Practitioner", "")
	var want []string
	for _, e := range sorted["entry"].([]any) {
		want = append(want, e.(map[string]any)["resource"].(map[string]any)["id"].(string))
	}
	first := c.must(200, "GET", "fhir/R4/ProjectMembership?_count=50&_sort=_lastUpdated&profile-type=Practitioner", "")
	// A member of the first page changes before the second is read.
	moved := first["entry"].([]any)[3].(map[string]any)["resource"].(map[string]any)["id"].(string)
	m := c.srv.Resource("ProjectMembership", moved)
	m["admin"] = true
	c.srv.Update(m)
	var got []string
	for _, e := range first["entry"].([]any) {
		got = append(got, e.(map[string]any)["resource"].(map[string]any)["id"].(string))
	}
	next := ""
	for _, l := range first["link"].([]any) {
		if l.(map[string]any)["relation"] == "next" {
			next = l.(map[string]any)["url"].(string)
		}
	}
	rest, _ := c.pageAll(strings.TrimPrefix(next, c.srv.URL))
	for _, r := range rest {
		got = append(got, r["id"].(string))
	}
	if len(want) != 151 || strings.Join(got, ",") != strings.Join(append(want, moved), ",") {
		t.Errorf("pages:\n%v\nwant the sorted search and then the changed member %s:\n%v", got, moved, want)
	}
}

// request.ifNoneExist in a batch: created the first time, the match the
// second (captures 401, 402), 412 when several match.
func TestBatchConditionalCreate(t *testing.T) {
	c := newTC(t)
	cond := `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:x|1"},
	  "resource":{"resourceType":"Patient","identifier":[{"system":"urn:x","value":"1"}]}}]}`
	status := func() string {
		m := c.must(200, "POST", "fhir/R4", cond)
		return m["entry"].([]any)[0].(map[string]any)["response"].(map[string]any)["status"].(string)
	}
	before := c.srv.Count("Patient", c.srv.Seed.ProjectID)
	if first, again := status(), status(); first != "201" || again != "200" || c.srv.Count("Patient", c.srv.Seed.ProjectID) != before+1 {
		t.Errorf("conditional create: %s then %s, %d Patients more", first, again, c.srv.Count("Patient", c.srv.Seed.ProjectID)-before)
	}
	c.srv.Create(c.srv.Seed.ProjectID, client.Resource{"resourceType": "Patient", "identifier": []any{map[string]any{"system": "urn:x", "value": "1"}}})
	if s := status(); s != "412" {
		t.Errorf("with two matches: %s", s)
	}
}

// A conditional create in a batch is looked up twice (the Bundle's
// preprocessing, then the create itself): 140 points when it creates, 40
// when it finds its match, as captures 401 and 402 show (three entries:
// 49,900 -> 49,480 -> 49,360 points left).
func TestBatchConditionalCreateQuota(t *testing.T) {
	c := newTC(t)
	c.srv.SetFHIRQuota(50000)
	h := map[string]string{"Authorization": "Bearer " + c.tok, "Content-Type": "application/fhir+json"}
	var entries []string
	for i := range 3 {
		entries = append(entries, fmt.Sprintf(`{"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:q|%d"},`+
			`"resource":{"resourceType":"Patient","identifier":[{"system":"urn:q","value":"%d"}]}}`, i, i))
	}
	bundle := `{"resourceType":"Bundle","type":"batch","entry":[` + strings.Join(entries, ",") + `]}`
	for _, want := range []int{50000 - 420, 50000 - 420 - 120} {
		resp := c.resp("POST", "fhir/R4", h, bundle)
		resp.Body.Close()
		quota := `"fhirInteractions";r=` + strconv.Itoa(want) + ";t=60"
		if got := resp.Header.Values("RateLimit"); resp.StatusCode != 200 || len(got) != 2 || got[1] != quota {
			t.Errorf("%d, RateLimit %q; want 200 and %s", resp.StatusCode, got, quota)
		}
	}
}
