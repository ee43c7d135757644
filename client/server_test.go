package client_test

// Tests of the client against client/medplumtest over real HTTP: retries,
// paging, credentials, membership helpers and the answers' real shapes.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
)

// bearer is an Authenticator with a token from the server; Refresh asks the
// server for a new one when renew is set.
type bearer struct {
	mu         sync.Mutex
	token      string
	renew      func() string
	refreshes  int
	refreshErr error
}

func (b *bearer) Apply(_ context.Context, r *http.Request) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	r.Header.Set("Authorization", "Bearer "+b.token)
	return nil
}

func (b *bearer) Refresh(context.Context) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refreshes++
	if b.refreshErr != nil {
		return false, b.refreshErr
	}
	if b.renew == nil {
		return false, nil
	}
	b.token = b.renew()
	return true, nil
}

var fast = client.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, MaxElapsed: 30 * time.Second}

type env struct {
	srv   *medplumtest.Server
	c     *client.Client
	auth  *bearer
	trace *lines
}

type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) add(s string) { l.mu.Lock(); l.l = append(l.l, s); l.mu.Unlock() }
func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.l, "\n")
}
func (l *lines) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.l {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// newEnv starts medplumtest and a client signed in as the seeded admin
// user's membership of the project.
func newEnv(t *testing.T, opts ...medplumtest.Option) *env {
	t.Helper()
	srv := medplumtest.NewServer(t, opts...)
	e := &env{srv: srv, trace: &lines{}}
	e.auth = &bearer{token: srv.IssueToken(srv.Seed.Admin.MembershipID)}
	e.c = e.client(t, client.Options{Auth: e.auth, Retry: fast, Trace: e.trace.add})
	return e
}

func (e *env) client(t *testing.T, o client.Options) *client.Client {
	t.Helper()
	o.BaseURL = e.srv.URL
	c, err := client.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// homerBody is Homer's membership as stored, for a PUT.
func (e *env) homerBody(t *testing.T) []byte {
	b, err := json.Marshal(e.srv.Resource("ProjectMembership", e.srv.Seed.Homer.MembershipID))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cancelOnFirstRequest returns a context that is cancelled as soon as the
// server has received a request: Ctrl-C while the client waits.
func (e *env) cancelOnFirstRequest() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for len(e.srv.Requests()) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	return ctx
}

func (e *env) homerURL() string { return "ProjectMembership/" + e.srv.Seed.Homer.MembershipID }

func TestRetriesAgainstMedplumtest(t *testing.T) {
	patient := `{"resourceType":"Patient","name":[{"family":"Retry"}]}`
	cases := []struct {
		name      string
		fault     medplumtest.Fault
		method    string
		url       func(e *env) string
		body      string
		wantSent  int
		wantErr   string
		wantTries int
	}{
		{"GET 503 twice then success", medplumtest.Fault{Status: 503, Times: 2}, "GET", (*env).homerURL, "", 3, "", 2},
		{"GET 502 then success", medplumtest.Fault{Status: 502}, "GET", (*env).homerURL, "", 2, "", 1},
		{"GET 504 then success", medplumtest.Fault{Status: 504}, "GET", (*env).homerURL, "", 2, "", 1},
		{"GET dropped before handling", medplumtest.Fault{Drop: medplumtest.DropBeforeHandling}, "GET", (*env).homerURL, "", 2, "", 1},
		{"GET dropped mid-response", medplumtest.Fault{Drop: medplumtest.DropMidResponse}, "GET", (*env).homerURL, "", 2, "", 1},
		// DELETE is repeated; the repeat finds the resource already
		// deleted, which 5.0.10 answers All OK (capture 521).
		{"DELETE dropped after handling", medplumtest.Fault{Drop: medplumtest.DropAfterHandling}, "DELETE", func(e *env) string {
			return "Patient/" + e.srv.Create(e.srv.Seed.ProjectID, client.Resource{"resourceType": "Patient"}).ID()
		}, "", 2, "", 1},
		{"PUT 503 then success", medplumtest.Fault{Status: 503}, "PUT", (*env).homerURL, "homer", 2, "", 1},
		{"GET 503 forever: MaxAttempts", medplumtest.Fault{Status: 503, Times: 100}, "GET", (*env).homerURL, "", 4, "the server answered 503 text/html: 503 Service Unavailable", 3},
		{"GET 500 not retried", medplumtest.Fault{Status: 500}, "GET", (*env).homerURL, "", 1, "the server answered 500: Internal Server Error", 0},
		{"POST 503 not retried", medplumtest.Fault{Status: 503}, "POST", func(*env) string { return "Patient" }, patient, 1, "the server answered 503 text/html: 503 Service Unavailable", 0},
		{"POST 429 not retried", medplumtest.Fault{Status: 429}, "POST", func(*env) string { return "Patient" }, patient, 1, "Too Many Requests", 0},
		{"POST dropped after handling not retried", medplumtest.Fault{Drop: medplumtest.DropAfterHandling}, "POST", func(*env) string { return "Patient" }, patient, 1, "EOF", 0},
		{"POST 409/40001 twice then success", medplumtest.Fault{Status: 409, Times: 2}, "POST", func(*env) string { return "Patient" }, patient, 3, "", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			target := tc.url(e)
			u, err := e.c.ResolveURL(target)
			if err != nil {
				t.Fatal(err)
			}
			path := strings.TrimPrefix(u, strings.TrimSuffix(e.srv.URL, "/"))
			f := tc.fault
			f.Method, f.Path = tc.method, path
			e.srv.Inject(f)
			before := e.srv.Count("Patient", e.srv.Seed.ProjectID)
			var body []byte
			switch tc.body {
			case "":
			case "homer":
				body = e.homerBody(t)
			default:
				body = []byte(tc.body)
			}
			_, err = e.c.Do(context.Background(), &client.Request{Method: tc.method, URL: target, Body: body})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("err = %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
			if sent := len(e.srv.RequestsTo(tc.method, path)); sent != tc.wantSent {
				t.Errorf("server saw %d requests, want %d", sent, tc.wantSent)
			}
			if got := e.trace.count("retry "); got != tc.wantTries {
				t.Errorf("trace shows %d retries, want %d:\n%s", got, tc.wantTries, e.trace)
			}
			if tc.method == "POST" {
				// Each POST took effect at most once (a retried 409/40001 was rolled back).
				created := e.srv.Count("Patient", e.srv.Seed.ProjectID) - before
				want := 1
				if tc.fault.Status != 0 && tc.wantErr != "" {
					want = 0
				}
				if created != want {
					t.Errorf("%d Patients created, want %d", created, want)
				}
			}
		})
	}
}

// NoRetry (for callers that retry themselves, like the bulk runner) makes
// exactly one attempt whatever the failure.
func TestNoRetry(t *testing.T) {
	for name, f := range map[string]medplumtest.Fault{
		"409/40001": {Status: 409},
		"503":       {Status: 503},
		"429":       {Status: 429},
		"dropped":   {Drop: medplumtest.DropBeforeHandling},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			f.Method = "GET"
			e.srv.Inject(f)
			_, err := e.c.Do(context.Background(), &client.Request{URL: e.homerURL(), NoRetry: true})
			if err == nil || len(e.srv.Requests()) != 1 || e.trace.count("retry ") != 0 {
				t.Fatalf("err = %v after %d requests; want the first failure, unretried", err, len(e.srv.Requests()))
			}
		})
	}
}

func TestRetryHonoursRateLimit(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject(medplumtest.Fault{Method: "GET", Path: "/fhir/R4/ProjectMembership/*", Status: 429, RetryAfter: time.Second})
	resp, err := e.c.Do(context.Background(), &client.Request{URL: e.homerURL()})
	if err != nil || resp.Attempts != 2 {
		t.Fatalf("err %v, resp %+v", err, resp)
	}
	if !strings.Contains(e.trace.String(), "in 1s: the server answered 429 (RateLimit asks to wait)") {
		t.Errorf("trace:\n%s", e.trace)
	}
	// A wait beyond the budget is not made: the 429 comes back at once.
	e.srv.Inject(medplumtest.Fault{Method: "GET", Path: "/fhir/R4/ProjectMembership/*", Status: 429, RetryAfter: time.Hour})
	_, err = e.c.Do(context.Background(), &client.Request{URL: e.homerURL()})
	if ce := client.AsError(err); ce == nil || ce.Status != 429 || ce.RateLimitWait != time.Hour {
		t.Errorf("err = %v", err)
	}
	if !strings.Contains(e.trace.String(), "exceed the 30s retry budget") {
		t.Errorf("trace:\n%s", e.trace)
	}
}

func TestRetryWaitStopsOnCancel(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject(medplumtest.Fault{Method: "GET", Status: 429, RetryAfter: 20 * time.Second})
	_, err := e.c.Do(e.cancelOnFirstRequest(), &client.Request{URL: e.homerURL()})
	if !errors.Is(err, context.Canceled) || len(e.srv.Requests()) != 1 {
		t.Errorf("err = %v, %d requests", err, len(e.srv.Requests()))
	}
}

func TestRefreshAfter401(t *testing.T) {
	e := newEnv(t)
	admin := e.srv.Seed.Admin.MembershipID
	ctx := context.Background()

	e.auth.renew = func() string { return e.srv.IssueToken(admin) }
	e.srv.RevokeLogins(admin)
	if _, err := e.c.Do(ctx, &client.Request{URL: e.homerURL()}); err != nil || e.auth.refreshes != 1 {
		t.Fatalf("after revocation: %v, %d refreshes", err, e.auth.refreshes)
	}
	if got := len(e.srv.RequestsTo("GET", "/fhir/R4/ProjectMembership/*")); got != 2 {
		t.Errorf("%d requests, want the 401 and the resend", got)
	}

	// A second 401 is final.
	e.auth.renew = func() string { return "not-a-token" }
	e.srv.RevokeLogins(admin)
	_, err := e.c.Do(ctx, &client.Request{URL: e.homerURL()})
	if ce := client.AsError(err); ce == nil || !ce.IsUnauthorized() || ce.Error() != "Unauthorized" || e.auth.refreshes != 2 {
		t.Errorf("err %v, %d refreshes", err, e.auth.refreshes)
	}

	// Refresh that declines or fails: one request, the 401 returned.
	e.auth.renew = nil
	e.srv.ResetRequests()
	if _, err := e.c.Do(ctx, &client.Request{URL: e.homerURL()}); client.StatusOf(err) != 401 || len(e.srv.Requests()) != 1 {
		t.Errorf("declined: %v", err)
	}
	cause := errors.New("refresh token expired")
	e.auth.refreshErr = cause
	_, err = e.c.Do(ctx, &client.Request{URL: e.homerURL()})
	if client.StatusOf(err) != 401 || !errors.Is(err, cause) || err.Error() != "Unauthorized; refreshing the credentials failed: refresh token expired" {
		t.Errorf("failed refresh: %v", err)
	}

	// NoAuth requests are never refreshed.
	refreshes := e.auth.refreshes
	if _, err := e.c.Do(ctx, &client.Request{URL: "auth/me", NoAuth: true}); client.StatusOf(err) != 401 || e.auth.refreshes != refreshes {
		t.Errorf("NoAuth: %v", err)
	}
	if h := e.srv.RequestsTo("GET", "/auth/me")[0].Header.Get("Authorization"); h != "" {
		t.Errorf("NoAuth request carried %q", h)
	}
}

// recorder is another host: it records the Authorization it receives and
// answers with a one-entry Bundle.
func recorder(t *testing.T) (*httptest.Server, *[]string) {
	var seen []string
	var mu sync.Mutex
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"ProjectMembership","id":"elsewhere"}}]}`))
	}))
	t.Cleanup(s.Close)
	return s, &seen
}

func TestSearchFollowsEveryPage(t *testing.T) {
	e := newEnv(t, medplumtest.WithMembers(2500))
	want := len(e.srv.Memberships(e.srv.Seed.ProjectID))
	if want < 2500 {
		t.Fatalf("seeded %d memberships", want)
	}
	ids := map[string]bool{}
	for r, err := range e.c.Search(context.Background(), "ProjectMembership?_count=1000") {
		if err != nil {
			t.Fatal(err)
		}
		if r.ResourceType() != "ProjectMembership" || ids[r.ID()] {
			t.Fatalf("bad or repeated entry %s/%s", r.ResourceType(), r.ID())
		}
		ids[r.ID()] = true
	}
	pages := len(e.srv.RequestsTo("GET", "/fhir/R4/ProjectMembership"))
	if len(ids) != want || pages != (want+999)/1000 {
		t.Errorf("%d resources in %d pages, want %d in %d", len(ids), pages, want, (want+999)/1000)
	}
	for _, r := range e.srv.Requests() {
		if r.Header.Get("Authorization") == "" {
			t.Errorf("%s %s?%s went without credentials", r.Method, r.Path, r.RawQuery)
		}
	}
}

// Medplum builds next links from its configured baseUrl; a server reached
// by another name (the real 5.0.10 one as localhost, its links 127.0.0.1)
// gets page 2 and on at the base URL, with credentials, and the host the
// links name gets nothing.
func TestNextLinkOfTheServersOtherNameIsReadFromTheBaseURL(t *testing.T) {
	other, seen := recorder(t)
	e := newEnv(t, medplumtest.WithBaseURL(other.URL+"/"))
	var ids []string
	for r, err := range e.c.Search(context.Background(), "ProjectMembership?_count=2") {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID())
	}
	if want := len(e.srv.Memberships(e.srv.Seed.ProjectID)); len(ids) != want || slices.Contains(ids, "elsewhere") {
		t.Errorf("ids %v, want %d from the base URL", ids, want)
	}
	reqs := e.srv.RequestsTo("GET", "/fhir/R4/ProjectMembership")
	if len(reqs) < 2 || len(*seen) != 0 {
		t.Errorf("%d requests to the base URL, %d to the other host", len(reqs), len(*seen))
	}
	for _, r := range reqs {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			t.Errorf("the base host saw %q on %s", r.Header.Get("Authorization"), r.RawQuery)
		}
	}
	for link, want := range map[string]string{
		other.URL + "/fhir/R4/Patient?_count=2&_cursor=2-1": e.c.FHIRBaseURL() + "Patient?_count=2&_cursor=2-1",
		"https://proxy.example/medplum/fhir/R4/Patient":     e.c.FHIRBaseURL() + "Patient",
		other.URL + "/elsewhere?page=2":                     other.URL + "/elsewhere?page=2",
		e.c.FHIRBaseURL() + "Patient?_offset=2":             e.c.FHIRBaseURL() + "Patient?_offset=2",
	} {
		if got := e.c.NextOnBase(link); got != want {
			t.Errorf("NextOnBase(%s) = %s, want %s", link, got, want)
		}
	}
}

// A next link on another host outside the FHIR path, and an absolute URL
// of another host, are read without credentials.
func TestNextLinkToAnotherHostGetsNoCredentials(t *testing.T) {
	other, seen := recorder(t)
	base := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"ProjectMembership","id":"here"}}],` +
			`"link":[{"relation":"next","url":"` + other.URL + `/elsewhere?page=2"}]}`))
	}))
	t.Cleanup(base.Close)
	c, err := client.New(client.Options{BaseURL: base.URL + "/", Auth: &bearer{token: "secret-token"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for r, err := range c.Search(context.Background(), "ProjectMembership") {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID())
	}
	if len(ids) != 2 || ids[1] != "elsewhere" {
		t.Errorf("ids %v", ids)
	}
	if len(*seen) != 1 || (*seen)[0] != "" {
		t.Errorf("the other host saw Authorization %q", *seen)
	}
	// Pasting an absolute URL of the other host behaves the same.
	if _, err := c.Do(context.Background(), &client.Request{URL: other.URL + "/fhir/R4/Patient"}); err != nil || (*seen)[1] != "" {
		t.Errorf("err %v, other host saw %q", err, *seen)
	}
}

func TestMembershipHelpers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p, homer := e.srv.Seed.ProjectID, e.srv.Seed.Homer.MembershipID
	m, err := e.c.GetMembership(ctx, p, homer)
	if err != nil || m.ID() != homer || m.Ref("profile") != e.srv.Seed.Homer.Profile {
		t.Fatalf("GetMembership: %v %v", m, err)
	}
	m["admin"] = true
	m["externalId"] = "ext-1"
	up, err := e.c.UpdateMembership(ctx, p, m)
	if b, _ := up.Bool("admin"); err != nil || !b || up.String("externalId") != "ext-1" {
		t.Fatalf("UpdateMembership: %v %v", up, err)
	}
	if b, _ := e.srv.Resource("ProjectMembership", homer).Bool("admin"); !b {
		t.Error("the server's membership is not admin")
	}
	if err := e.c.DeleteMembership(ctx, p, homer); err != nil {
		t.Fatal(err)
	}
	if !e.srv.Deleted("ProjectMembership", homer) {
		t.Error("not deleted")
	}
	err = e.c.DeleteMembership(ctx, p, homer)
	if ce := client.AsError(err); ce == nil || !ce.IsGone() {
		t.Errorf("second delete: %v", err)
	}
	_, err = e.c.GetMembership(ctx, p, "00000000-0000-0000-0000-000000000000")
	if ce := client.AsError(err); ce == nil || !ce.IsNotFound() {
		t.Errorf("missing: %v", err)
	}
	// The admin route has no PATCH: Express's HTML 404, said plainly.
	_, err = e.c.Do(ctx, &client.Request{Method: "PATCH", URL: client.MembershipURL(p, e.srv.Seed.Bot.MembershipID), Body: []byte(`[]`), ContentType: client.ContentTypeJSONPatch})
	want := "the server answered 404 text/html: Cannot PATCH /admin/projects/" + p + "/members/" + e.srv.Seed.Bot.MembershipID
	if err == nil || err.Error() != want {
		t.Errorf("PATCH: %v\nwant %s", err, want)
	}
}

func TestInviteAgainstMedplumtest(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := e.srv.Seed.ProjectID
	f := false
	m, err := e.c.Invite(ctx, p, &client.InviteRequest{ResourceType: "Practitioner", FirstName: "Marge", LastName: "Simpson", Email: "marge@example.com", SendEmail: &f})
	if err != nil || m.ResourceType() != "ProjectMembership" || e.srv.MembershipByEmail(p, "marge@example.com") == nil {
		t.Fatalf("invite: %v %v", m, err)
	}
	// The same again: a plain 409, not retried.
	_, err = e.c.Invite(ctx, p, &client.InviteRequest{ResourceType: "Practitioner", FirstName: "Marge", LastName: "Simpson", Email: "marge@example.com", SendEmail: &f})
	if ce := client.AsError(err); ce == nil || !ce.IsConflict() || ce.Error() != "User is already a member of this project" || len(e.srv.RequestsTo("POST", "/admin/projects/*/invite")) != 2 {
		t.Errorf("duplicate: %v", err)
	}
	// Without sendEmail the server e-mails; with no mailer that is 200 and an
	// error OperationOutcome, after the membership was created.
	_, err = e.c.Invite(ctx, p, []byte(`{"resourceType":"Patient","firstName":"Lisa","lastName":"Simpson","email":"lisa@example.com"}`))
	if !client.IsPartialSuccess(err) || client.StatusOf(err) != 200 || !strings.HasPrefix(err.Error(), "Could not send email.") {
		t.Errorf("e-mail failure: %v", err)
	}
	if e.srv.MembershipByEmail(p, "lisa@example.com") == nil {
		t.Error("the membership was not created")
	}
}

func TestTokenMeAndAuthPostAgainstMedplumtest(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sd := e.srv.Seed
	anon := e.client(t, client.Options{})
	tr, err := anon.Token(ctx, url.Values{"grant_type": {"client_credentials"}, "client_id": {sd.Client.ID}, "client_secret": {sd.Client.Secret}}, nil)
	if err != nil || tr.AccessToken == "" || tr.ExpiresIn <= 0 || tr.Project == nil || tr.Project.Reference != "Project/"+sd.ProjectID {
		t.Fatalf("Token: %+v %v", tr, err)
	}
	tr2, err := anon.Token(ctx, url.Values{"grant_type": {"client_credentials"}}, &client.BasicAuth{ClientID: sd.Client.ID, ClientSecret: sd.Client.Secret})
	if err != nil || tr2.AccessToken == "" {
		t.Fatalf("Token with Basic: %v", err)
	}
	_, err = anon.Token(ctx, url.Values{"grant_type": {"client_credentials"}, "client_id": {sd.Client.ID}, "client_secret": {"wrong"}}, nil)
	if ce := client.AsError(err); ce == nil || ce.OAuth == nil || ce.Error() != "Invalid secret (invalid_request)" {
		t.Errorf("wrong secret: %v", err)
	}

	withToken := e.client(t, client.Options{Auth: &bearer{token: tr.AccessToken}})
	me, err := withToken.Me(ctx)
	if err != nil || me.Project.ID() != sd.ProjectID || me.Membership.ID() != sd.Client.MembershipID || len(me.Raw) == 0 {
		t.Errorf("Me: %+v %v", me, err)
	}

	// auth/* stages go without credentials, even from a client that has them.
	var lr client.LoginResponse
	err = withToken.AuthPost(ctx, "auth/login", map[string]string{"email": sd.AdminEmail, "password": sd.AdminPassword, "scope": "openid", "clientId": "medplum-cli"}, &lr)
	if err != nil || lr.Login == "" || (lr.Code == "" && len(lr.Memberships) == 0) {
		t.Errorf("auth/login: %+v %v", lr, err)
	}
	err = withToken.AuthPost(ctx, "auth/login", map[string]string{"email": sd.AdminEmail, "password": "wrong-password", "clientId": "medplum-cli"}, &lr)
	if client.StatusOf(err) != 400 || err.Error() != "Email or password is invalid" {
		t.Errorf("wrong password: %v", err)
	}
	for _, r := range e.srv.RequestsTo("POST", "/auth/login") {
		if h := r.Header.Get("Authorization"); h != "" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("auth/login sent Authorization %q, Content-Type %q", h, r.Header.Get("Content-Type"))
		}
	}
}

// TestVerboseTraceHidesRealSecrets runs real credentials through a traced
// client against medplumtest and looks for their actual values in the trace.
func TestVerboseTraceHidesRealSecrets(t *testing.T) {
	srv := medplumtest.NewServer(t)
	sd := srv.Seed
	tr := &lines{}
	c, err := client.New(client.Options{BaseURL: srv.URL, Trace: tr.add, TraceBodies: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok, err := c.Token(ctx, url.Values{"grant_type": {"client_credentials"}, "client_id": {sd.Client.ID}, "client_secret": {sd.Client.Secret}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	authed, err := client.New(client.Options{BaseURL: srv.URL, Auth: &bearer{token: tok.AccessToken}, Trace: tr.add, TraceBodies: true})
	if err != nil {
		t.Fatal(err)
	}
	const password = "Correct-Horse-Battery-9"
	f := false
	if _, err := authed.Invite(ctx, sd.ProjectID, &client.InviteRequest{ResourceType: "Practitioner", FirstName: "Ned", LastName: "Flanders", Email: "ned@example.com", Password: password, SendEmail: &f}); err != nil {
		t.Fatal(err)
	}
	app, err := authed.CreateClientApplication(ctx, sd.ProjectID, map[string]string{"name": "traced"})
	if err != nil || app.String("secret") == "" {
		t.Fatalf("client: %v %v", app, err)
	}
	var lr client.LoginResponse
	login := map[string]string{"email": sd.AdminEmail, "password": sd.AdminPassword, "clientId": "medplum-cli", "scope": "openid offline_access"}
	if err := c.AuthPost(ctx, "auth/login", login, &lr); err != nil || lr.Login == "" {
		t.Fatalf("auth/login: %+v %v", lr, err)
	}
	if lr.Code == "" { // the admin is in two projects: choose one
		if err := c.AuthPost(ctx, "auth/profile", map[string]string{"login": lr.Login, "profile": sd.Admin.MembershipID}, &lr); err != nil || lr.Code == "" {
			t.Fatalf("auth/profile: %+v %v", lr, err)
		}
	}
	code, err := c.Token(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {lr.Code}, "client_id": {"medplum-cli"}}, nil)
	if err != nil || code.RefreshToken == "" {
		t.Fatalf("code exchange: %+v %v", code, err)
	}
	trace := tr.String()
	for name, secret := range map[string]string{
		"client secret": sd.Client.Secret, "access token": tok.AccessToken, "id token": tok.IDToken,
		"invite password": password, "admin password": sd.AdminPassword, "new client secret": app.String("secret"), "login code": lr.Code, "refresh token": code.RefreshToken, "user access token": code.AccessToken,
	} {
		if secret == "" {
			continue
		}
		if strings.Contains(trace, secret) {
			t.Errorf("the trace shows the %s", name)
		}
	}
	for _, want := range []string{"client_secret=[REDACTED]", "code=[REDACTED]", `"refresh_token":"[REDACTED]"`, `"code":"[REDACTED]"`, `"access_token":"[REDACTED]"`, "[Authorization: Bearer [REDACTED]]", `"password":"[REDACTED]"`, `"secret":"[REDACTED]"`} {
		if !strings.Contains(trace, want) {
			t.Errorf("the trace lacks %s", want)
		}
	}
}

func TestSearchPostPagesByOffset(t *testing.T) {
	e := newEnv(t, medplumtest.WithMembers(30))
	e.auth.token = e.srv.IssueToken(e.srv.Seed.SuperAdmin.MembershipID) // server-scoped users: a super admin's to read
	var ids []string
	for _, m := range e.srv.Seed.Generated {
		ids = append(ids, strings.TrimPrefix(m.User, "User/"))
	}
	form := url.Values{"_id": {strings.Join(ids, ",")}, "_count": {"20"}}
	got := map[string]bool{}
	for d, err := range e.c.SearchPost(context.Background(), "User", form) {
		if err != nil {
			t.Fatal(err)
		}
		if d.ResourceType() != "User" || got[d.ID()] || len(d.Raw) == 0 {
			t.Fatalf("bad or repeated entry %s/%s", d.ResourceType(), d.ID())
		}
		got[d.ID()] = true
	}
	if len(got) != 30 {
		t.Errorf("%d users, want 30", len(got))
	}
	// Two POSTs of the form, the second with _offset=20; nothing in the URL.
	reqs := e.srv.RequestsTo("POST", "/fhir/R4/User/_search")
	if len(reqs) != 2 {
		t.Fatalf("%d POSTs, want 2", len(reqs))
	}
	for i, want := range []string{"", "20"} {
		r := reqs[i]
		body, _ := url.ParseQuery(string(r.Body))
		if r.RawQuery != "" || body.Get("_offset") != want || body.Get("_count") != "20" || len(strings.Split(body.Get("_id"), ",")) != 30 ||
			r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("POST %d: query %q, body %v, content type %q", i, r.RawQuery, body, r.Header.Get("Content-Type"))
		}
	}
	if len(e.srv.RequestsTo("GET", "/fhir/R4/User")) != 0 {
		t.Errorf("a GET followed the next link")
	}
}
