package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// staticAuth is a test Authenticator: a bearer token and a record of the
// hosts it was applied to. It cannot refresh.
type staticAuth struct {
	mu      sync.Mutex
	token   string
	applied []string
}

func (a *staticAuth) Apply(_ context.Context, r *http.Request) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.applied = append(a.applied, r.URL.Host)
	r.Header.Set("Authorization", "Bearer "+a.token)
	return nil
}

func (a *staticAuth) Refresh(context.Context) (bool, error) { return false, nil }

func TestDoSendsStandardHeaders(t *testing.T) {
	type seen struct {
		method, path, query string
		header              http.Header
		body                string
	}
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(b)})
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write([]byte(`{"resourceType":"Patient","id":"1"}`))
	}))
	defer srv.Close()
	c := newTestClient(t, Options{BaseURL: srv.URL, UserAgent: "medplum/1.2.3"})
	ctx := context.Background()
	if _, err := c.Do(ctx, &Request{URL: "Patient?name=a b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(ctx, &Request{Method: "post", URL: "/admin/projects/p/invite", Body: []byte(`{"a":1}`), Header: http.Header{"Prefer": {"respond-async"}, "Accept": {"text/html"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(ctx, &Request{Method: "PATCH", URL: "ProjectMembership/m", Body: []byte(`[]`), ContentType: ContentTypeJSONPatch}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d requests", len(got))
	}
	for i, s := range got {
		if s.header.Get("Accept") != "application/fhir+json" || s.header.Get("X-Medplum") != "extended" || s.header.Get("User-Agent") != "medplum/1.2.3" {
			t.Errorf("request %d headers: %v", i, s.header)
		}
		if s.header.Get("Authorization") != "" {
			t.Errorf("request %d has credentials without an Authenticator", i)
		}
	}
	if g := got[0]; g.method != "GET" || g.path != "/fhir/R4/Patient" || g.query != "name=a%20b" || g.header.Get("Content-Type") != "" || g.body != "" {
		t.Errorf("GET: %+v", g)
	}
	if g := got[1]; g.method != "POST" || g.path != "/admin/projects/p/invite" || g.header.Get("Content-Type") != ContentTypeFHIR || g.header.Get("Prefer") != "respond-async" || g.body != `{"a":1}` {
		t.Errorf("POST: %+v", g)
	}
	if g := got[2]; g.method != "PATCH" || g.header.Get("Content-Type") != ContentTypeJSONPatch || g.body != `[]` {
		t.Errorf("PATCH: %+v", g)
	}
}

func TestPrepareMatchesDoWithoutCredentials(t *testing.T) {
	auth := &staticAuth{token: "tok-prepare"}
	c := newTestClient(t, Options{BaseURL: "https://api.example.com", Auth: auth, UserAgent: "ua"})
	req := &Request{Method: "PUT", URL: "Patient/1", Body: []byte(`{"resourceType":"Patient","id":"1"}`)}
	hr, err := c.Prepare(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(hr.Body)
	if hr.Method != "PUT" || hr.URL.String() != "https://api.example.com/fhir/R4/Patient/1" || string(b) != string(req.Body) ||
		hr.Header.Get("Content-Type") != ContentTypeFHIR || hr.Header.Get("Authorization") != "" || len(auth.applied) != 0 {
		t.Errorf("Prepare: %s %s %q %v applied=%v", hr.Method, hr.URL, b, hr.Header, auth.applied)
	}
	if !c.WillAuthenticate(req) || c.WillAuthenticate(&Request{URL: "https://other.example.com/x"}) || c.WillAuthenticate(&Request{URL: "Patient", NoAuth: true}) {
		t.Error("WillAuthenticate")
	}
}

// The default transport keeps an idle connection for every request bulk
// invite can have in flight (16), so none is closed and re-dialed between
// requests (BenchmarkDoConcurrent shows the churn with net/http's 2).
func TestDefaultTransportKeepsConnectionsForConcurrentRequests(t *testing.T) {
	c, err := New(Options{BaseURL: "https://example.com/"})
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := c.hc.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport %T", c.hc.Transport)
	}
	if tr.MaxIdleConnsPerHost < 16 || tr.MaxIdleConns < tr.MaxIdleConnsPerHost {
		t.Errorf("MaxIdleConnsPerHost %d, MaxIdleConns %d: want at least 16 per host", tr.MaxIdleConnsPerHost, tr.MaxIdleConns)
	}
	if tr.Proxy == nil {
		t.Error("the default transport lost ProxyFromEnvironment")
	}
}

// A retry after a transient failure sends the credentials of the attempt
// before without asking the Authenticator again; a resend after a 401 and
// a refresh asks it.
func TestRetryKeepsTheCredentials(t *testing.T) {
	var mu sync.Mutex
	var statuses = []int{503, 503, 200}
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(statuses[0])
		statuses = statuses[1:]
		w.Write([]byte(`{"resourceType":"Bundle"}`))
	}))
	defer srv.Close()
	auth := &staticAuth{token: "tok-1"}
	c := newTestClient(t, Options{BaseURL: srv.URL, Auth: auth})
	if _, err := c.Do(context.Background(), &Request{URL: "Patient"}); err != nil {
		t.Fatal(err)
	}
	if len(auth.applied) != 1 {
		t.Errorf("Apply called %d times for one request and its two retries, want 1", len(auth.applied))
	}
	if len(seen) != 3 || seen[0] != "Bearer tok-1" || seen[1] != seen[0] || seen[2] != seen[0] {
		t.Errorf("the attempts carried %q; want Bearer tok-1 three times", seen)
	}
}

// A 503 or 429 with Retry-After (a proxy's or load balancer's answer;
// Medplum's own 429 carries RateLimit) is retried after the wait it asks
// for, not the backoff's; an answer that still fails after the last
// attempt says how many were made.
func TestRetryAfterAndAttempts(t *testing.T) {
	var mu sync.Mutex
	answers := []func(w http.ResponseWriter){
		func(w http.ResponseWriter) { w.Header().Set("Retry-After", "1"); w.WriteHeader(503) },
		func(w http.ResponseWriter) { w.WriteHeader(200); w.Write([]byte(`{"resourceType":"Bundle"}`)) },
		func(w http.ResponseWriter) { w.WriteHeader(502) },
		func(w http.ResponseWriter) { w.WriteHeader(502) },
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/fhir+json")
		answers[0](w)
		answers = answers[1:]
	}))
	defer srv.Close()
	var trace []string
	c := newTestClient(t, Options{BaseURL: srv.URL, Trace: func(l string) { trace = append(trace, l) },
		Retry: RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}})
	if _, err := c.Do(context.Background(), &Request{URL: "Patient"}); err != nil {
		t.Fatal(err)
	}
	want := "retry 1/1 of GET " + srv.URL + "/fhir/R4/Patient in 1s: the server answered 503 (Retry-After asks to wait)"
	if !slices.Contains(trace, want) {
		t.Errorf("trace:\n%s\nwant the line %q", strings.Join(trace, "\n"), want)
	}
	_, err := c.Do(context.Background(), &Request{URL: "Patient"})
	if e := AsError(err); e == nil || e.Status != 502 || e.Attempts != 2 {
		t.Errorf("two 502s with 2 attempts allowed: %#v; want a 502 *Error with Attempts 2", err)
	}
}

func TestRetryAfterValues(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"Mon, 07 Dec 2026 12:00:30 GMT", 30 * time.Second},
		{"Mon, 07 Dec 2026 11:59:00 GMT", 0}, // past
		{"-1", 0},
		{"soon", 0},
	} {
		if got := retryAfter(c.v, now); got != c.want {
			t.Errorf("retryAfter(%q) = %v, want %v", c.v, got, c.want)
		}
	}
}

// refreshingAuth is a test Authenticator whose Refresh gives a new token.
type refreshingAuth struct {
	mu      sync.Mutex
	n       int
	applied int
}

func (a *refreshingAuth) Apply(_ context.Context, r *http.Request) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.applied++
	r.Header.Set("Authorization", fmt.Sprintf("Bearer tok-%d", a.n))
	return nil
}

func (a *refreshingAuth) Refresh(context.Context) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	return true, nil
}

// statusServer answers each request with the next status of the list and
// records the Authorization header and body of each.
func statusServer(t *testing.T, statuses ...int) (url string, seen func() []string) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.Header.Get("Authorization"))
		st := 200
		if len(statuses) > 0 {
			st, statuses = statuses[0], statuses[1:]
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(st)
		w.Write([]byte(`{"access_token":"t","resourceType":"Bundle"}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(got) }
}

var fastRetry = RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}

// After a 503 the retry resends the same credentials; after a 401 the
// refreshed ones are asked for, and a later retry resends those.
func TestRetryAfterRefreshUsesTheNewCredentials(t *testing.T) {
	u, seen := statusServer(t, 503, 401, 503, 200)
	auth := &refreshingAuth{}
	c := newTestClient(t, Options{BaseURL: u, Auth: auth, Retry: fastRetry})
	if _, err := c.Do(context.Background(), &Request{URL: "Patient"}); err != nil {
		t.Fatal(err)
	}
	if got, want := seen(), []string{"Bearer tok-0", "Bearer tok-0", "Bearer tok-1", "Bearer tok-1"}; !slices.Equal(got, want) {
		t.Errorf("the attempts carried %q, want %q", got, want)
	}
	if auth.applied != 2 {
		t.Errorf("Apply called %d times, want 2 (the first attempt and the resend after the refresh)", auth.applied)
	}
}

// Only a client-credentials grant with the client's secret is retried: a
// refresh token, a code or a signed assertion (one-time jti) go once.
func TestTokenRetriesOnlyRepeatableGrants(t *testing.T) {
	for _, c := range []struct {
		form url.Values
		sent int
	}{
		{url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {"s"}}, 2},
		{url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {"a.b.c"}}, 1},
		{url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"r"}}, 1},
		{url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, 1},
	} {
		u, seen := statusServer(t, 503, 200)
		cl := newTestClient(t, Options{BaseURL: u, Retry: fastRetry})
		_, _ = cl.Token(context.Background(), c.form, nil)
		if n := len(seen()); n != c.sent {
			t.Errorf("%s grant (assertion %v) answered 503: sent %d times, want %d", c.form.Get("grant_type"), c.form.Has("client_assertion"), n, c.sent)
		}
	}
}

// A wait the caller's deadline would cut short is not started: the
// answer is the server's, not "context deadline exceeded".
func TestRetryWaitPastTheCallersDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(503)
	}))
	defer srv.Close()
	c := newTestClient(t, Options{BaseURL: srv.URL, Retry: fastRetry})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Do(ctx, &Request{URL: "Patient"})
	if e := AsError(err); e == nil || e.Status != 503 {
		t.Errorf("Retry-After 30s under a 10s deadline: %v; want the 503", err)
	}
}

// failingAuth cannot give credentials.
type failingAuth struct{ applied int }

func (a *failingAuth) Apply(context.Context, *http.Request) error {
	a.applied++
	return &url.Error{Op: "Post", URL: "https://example.com/oauth2/token", Err: io.ErrUnexpectedEOF}
}
func (a *failingAuth) Refresh(context.Context) (bool, error) { return false, nil }

// An Authenticator that fails (its token request, retried on its own,
// failed) is not asked again by a retry of the request, which was never
// sent; and an answer that ends the retries without being retryable
// itself still says how many attempts were made.
func TestApplyFailureIsNotRetriedAndAttemptsAreCounted(t *testing.T) {
	u, seen := statusServer(t, 503, 500)
	auth := &failingAuth{}
	c := newTestClient(t, Options{BaseURL: u, Auth: auth, Retry: fastRetry})
	if _, err := c.Do(context.Background(), &Request{URL: "Patient"}); err == nil || auth.applied != 1 || len(seen()) != 0 {
		t.Errorf("Apply failing: err %v, Apply called %d times, %d requests; want an error, 1, 0", err, auth.applied, len(seen()))
	}
	c = newTestClient(t, Options{BaseURL: u, Retry: fastRetry})
	_, err := c.Do(context.Background(), &Request{URL: "Patient"})
	if e := AsError(err); e == nil || e.Status != 500 || e.Attempts != 2 {
		t.Errorf("503 then 500: %#v; want the 500 with Attempts 2", err)
	}
}
