package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// staticAuth is a test Authenticator: a bearer token, a refresh that swaps
// it for another, and a record of the calls.
type staticAuth struct {
	mu        sync.Mutex
	token     string
	next      string // token after Refresh; "" = Refresh says no retry
	refreshes int
	applied   []string // hosts Apply was called for
	err       error    // returned by Refresh
}

func (a *staticAuth) Apply(_ context.Context, r *http.Request) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.applied = append(a.applied, r.URL.Host)
	r.Header.Set("Authorization", "Bearer "+a.token)
	return nil
}

func (a *staticAuth) Refresh(context.Context) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refreshes++
	if a.err != nil {
		return false, a.err
	}
	if a.next == "" {
		return false, nil
	}
	a.token = a.next
	return true, nil
}

var fastRetry = RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, MaxElapsed: 10 * time.Second}

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

// flaky answers the first n requests with fail, then 200.
func flaky(n int32, fail func(w http.ResponseWriter, r *http.Request)) (http.HandlerFunc, *atomic.Int32) {
	var count atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		if count.Add(1) <= n {
			fail(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write([]byte(`{"resourceType":"Patient","id":"ok"}`))
	}, &count
}

func status(code int, body string, hdr ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Add(hdr[i], hdr[i+1])
		}
		if body != "" {
			w.Header().Set("Content-Type", "application/fhir+json")
		}
		w.WriteHeader(code)
		w.Write([]byte(body))
	}
}

func dropConnection(w http.ResponseWriter, r *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

const conflict40001 = `{"resourceType":"OperationOutcome","id":"conflict","issue":[{"severity":"error","code":"conflict","details":{"coding":[{"code":"40001"}],"text":"Transaction conflict"}}]}`

func TestRetries(t *testing.T) {
	cases := []struct {
		name         string
		method       string
		fails        int32
		fail         func(http.ResponseWriter, *http.Request)
		wantRequests int32
		wantErr      bool
	}{
		{"GET 503 then success", "GET", 2, status(503, ""), 3, false},
		{"GET 502 then success", "GET", 1, status(502, ""), 2, false},
		{"GET 504 then success", "GET", 1, status(504, ""), 2, false},
		{"PUT 503 then success", "PUT", 1, status(503, ""), 2, false},
		{"DELETE dropped then success", "DELETE", 1, dropConnection, 2, false},
		{"GET dropped then success", "GET", 2, dropConnection, 3, false},
		{"GET 429 then success", "GET", 1, status(429, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"throttled","details":{"text":"Too Many Requests"}}]}`, "RateLimit", `"requests";r=0;t=0.01`), 2, false},
		{"POST 503 not retried", "POST", 1, status(503, ""), 1, true},
		{"POST dropped not retried", "POST", 1, dropConnection, 1, true},
		{"POST 429 not retried", "POST", 1, status(429, ""), 1, true},
		{"PATCH 502 not retried", "PATCH", 1, status(502, ""), 1, true},
		{"POST 409/40001 retried", "POST", 2, status(409, conflict40001), 3, false},
		{"PATCH 409/40001 retried", "PATCH", 1, status(409, conflict40001), 2, false},
		{"GET 500 not retried", "GET", 1, status(500, `{"msg":"Internal Server Error"}`), 1, true},
		{"GET 409 plain not retried", "GET", 1, status(409, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"conflict"}]}`), 1, true},
		{"GET 503 forever gives up after MaxAttempts", "GET", 100, status(503, ""), 4, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, count := flaky(tc.fails, tc.fail)
			srv := httptest.NewServer(h)
			defer srv.Close()
			var trace []string
			c := newTestClient(t, Options{BaseURL: srv.URL, Retry: fastRetry, Trace: func(l string) { trace = append(trace, l) }})
			var body []byte
			if tc.method == "POST" || tc.method == "PUT" || tc.method == "PATCH" {
				body = []byte(`{}`)
			}
			resp, err := c.Do(context.Background(), &Request{Method: tc.method, URL: "Patient", Body: body})
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got := count.Load(); got != tc.wantRequests {
				t.Errorf("server saw %d requests, want %d", got, tc.wantRequests)
			}
			if !tc.wantErr && resp.Attempts != int(tc.wantRequests) {
				t.Errorf("Attempts = %d", resp.Attempts)
			}
			retries := 0
			for _, l := range trace {
				if strings.HasPrefix(l, "retry ") {
					retries++
				}
			}
			if want := int(tc.wantRequests) - 1; retries != want {
				t.Errorf("trace shows %d retries, want %d:\n%s", retries, want, strings.Join(trace, "\n"))
			}
		})
	}
}

func TestNoRetry(t *testing.T) {
	for name, fail := range map[string]func(http.ResponseWriter, *http.Request){
		"409/40001": status(409, conflict40001),
		"503":       status(503, ""),
		"dropped":   dropConnection,
	} {
		t.Run(name, func(t *testing.T) {
			h, count := flaky(1, fail)
			srv := httptest.NewServer(h)
			defer srv.Close()
			c := newTestClient(t, Options{BaseURL: srv.URL, Retry: fastRetry})
			_, err := c.Do(context.Background(), &Request{Method: "GET", URL: "Patient", NoRetry: true})
			if err == nil || count.Load() != 1 {
				t.Fatalf("err = %v after %d requests; want the first failure, unretried", err, count.Load())
			}
		})
	}
}

func TestRetryGivesUpWhenRateLimitWaitExceedsBudget(t *testing.T) {
	h, count := flaky(5, status(429, "", "RateLimit", `"requests";r=0;t=60`))
	srv := httptest.NewServer(h)
	defer srv.Close()
	var trace []string
	p := fastRetry
	p.MaxElapsed = 2 * time.Second
	c := newTestClient(t, Options{BaseURL: srv.URL, Retry: p, Trace: func(l string) { trace = append(trace, l) }})
	_, err := c.Do(context.Background(), &Request{URL: "Patient"})
	e := AsError(err)
	if e == nil || e.Status != 429 || e.RateLimitWait != time.Minute || count.Load() != 1 {
		t.Fatalf("err = %v, requests %d", err, count.Load())
	}
	if last := trace[len(trace)-1]; !strings.Contains(last, "giving up") || !strings.Contains(last, "retry budget") {
		t.Errorf("trace: %q", last)
	}
}

func TestRetryWaitRespectsContext(t *testing.T) {
	h, count := flaky(5, status(429, "", "RateLimit", `"requests";r=0;t=30`))
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := newTestClient(t, Options{BaseURL: srv.URL})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for count.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := c.Do(ctx, &Request{URL: "Patient"})
	if !errors.Is(err, context.Canceled) || count.Load() != 1 {
		t.Errorf("err = %v, requests %d", err, count.Load())
	}
}

func TestRefreshAfter401(t *testing.T) {
	var tokens []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokens = append(tokens, r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") != "Bearer new-token" {
			status(401, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"login","details":{"text":"Unauthorized"}}]}`)(w, r)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()

	t.Run("refresh then resend once", func(t *testing.T) {
		tokens = nil
		auth := &staticAuth{token: "old-token", next: "new-token"}
		c := newTestClient(t, Options{BaseURL: srv.URL, Auth: auth, Retry: fastRetry})
		resp, err := c.Do(context.Background(), &Request{Method: "POST", URL: "Patient", Body: []byte(`{}`)})
		if err != nil || resp.Status != 200 || auth.refreshes != 1 || strings.Join(tokens, ",") != "Bearer old-token,Bearer new-token" {
			t.Errorf("err %v, refreshes %d, tokens %v", err, auth.refreshes, tokens)
		}
	})
	t.Run("second 401 is returned", func(t *testing.T) {
		tokens = nil
		auth := &staticAuth{token: "old-token", next: "still-bad"}
		c := newTestClient(t, Options{BaseURL: srv.URL, Auth: auth, Retry: fastRetry})
		_, err := c.Do(context.Background(), &Request{URL: "Patient"})
		if e := AsError(err); e == nil || !e.IsUnauthorized() || auth.refreshes != 1 || len(tokens) != 2 {
			t.Errorf("err %v, refreshes %d, tokens %v", err, auth.refreshes, tokens)
		}
	})
	t.Run("refresh declines", func(t *testing.T) {
		tokens = nil
		auth := &staticAuth{token: "old-token"}
		c := newTestClient(t, Options{BaseURL: srv.URL, Auth: auth, Retry: fastRetry})
		_, err := c.Do(context.Background(), &Request{URL: "Patient"})
		if StatusOf(err) != 401 || auth.refreshes != 1 || len(tokens) != 1 {
			t.Errorf("err %v, refreshes %d, tokens %v", err, auth.refreshes, tokens)
		}
	})
	t.Run("refresh fails", func(t *testing.T) {
		tokens = nil
		cause := errors.New("invalid_grant")
		auth := &staticAuth{token: "old-token", err: cause}
		c := newTestClient(t, Options{BaseURL: srv.URL, Auth: auth, Retry: fastRetry})
		_, err := c.Do(context.Background(), &Request{URL: "Patient"})
		if StatusOf(err) != 401 || !errors.Is(err, cause) || len(tokens) != 1 {
			t.Errorf("err %v, tokens %v", err, tokens)
		}
	})
	t.Run("no refresh for NoAuth requests", func(t *testing.T) {
		tokens = nil
		auth := &staticAuth{token: "old-token", next: "new-token"}
		c := newTestClient(t, Options{BaseURL: srv.URL, Auth: auth, Retry: fastRetry})
		_, err := c.Do(context.Background(), &Request{URL: "auth/x", NoAuth: true})
		if StatusOf(err) != 401 || auth.refreshes != 0 || tokens[0] != "" {
			t.Errorf("err %v, refreshes %d, tokens %q", err, auth.refreshes, tokens)
		}
	})
}

func TestCredentialsOnlyForBaseOrigin(t *testing.T) {
	var otherAuth []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherAuth = append(otherAuth, r.Header.Get("Authorization"))
		w.Write([]byte(`{}`))
	}))
	defer other.Close()
	var baseAuth []string
	base := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		baseAuth = append(baseAuth, r.Header.Get("Authorization"))
		w.Write([]byte(`{}`))
	}))
	defer base.Close()
	auth := &staticAuth{token: "base-only-token"}
	c := newTestClient(t, Options{BaseURL: base.URL, Auth: auth})
	ctx := context.Background()
	for _, u := range []string{"Patient", base.URL + "/fhir/R4/Patient?_offset=20", other.URL + "/fhir/R4/Patient"} {
		if _, err := c.Do(ctx, &Request{URL: u}); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(baseAuth, ",") != "Bearer base-only-token,Bearer base-only-token" {
		t.Errorf("base saw %q", baseAuth)
	}
	if len(otherAuth) != 1 || otherAuth[0] != "" {
		t.Errorf("other host saw %q", otherAuth)
	}
	bu, _ := url.Parse(base.URL)
	for _, h := range auth.applied {
		if h != bu.Host {
			t.Errorf("Apply called for host %s", h)
		}
	}
}
