package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestErrorsFromRealCaptures sends a request to a server replaying each
// captured real answer and checks what Do makes of it.
func TestErrorsFromRealCaptures(t *testing.T) {
	cases := []struct {
		capture     string
		method      string
		wantStatus  int
		wantMessage string
		wantCT      string
		check       func(t *testing.T, e *Error)
	}{
		{"33-patch-member-admin-route", "PATCH", 404,
			"the server answered 404 text/html: Cannot PATCH /admin/projects/977e8dfa-0352-4ecf-8c73-3fd9ad501e57/members/82399b9d-4910-43c8-a667-64e4d3ee3dad",
			"text/html", func(t *testing.T, e *Error) {
				if !e.IsNotFound() || e.Outcome != nil {
					t.Errorf("IsNotFound=%v Outcome=%v", e.IsNotFound(), e.Outcome)
				}
			}},
		{"08-cc-token-json", "POST", 400, "the server answered 400 text/html: Unsupported content type", "text/html", nil},
		{"09-cc-token-badsecret", "POST", 400, "Invalid secret (invalid_request)", "application/json", func(t *testing.T, e *Error) {
			if e.OAuth == nil || e.OAuth.Code != "invalid_request" || e.OAuth.Description != "Invalid secret" {
				t.Errorf("OAuth = %+v", e.OAuth)
			}
		}},
		{"62-token-code-reuse", "POST", 400, "Token already granted (invalid_grant)", "application/json", nil},
		{"43-no-token", "GET", 401, "Unauthorized", "application/fhir+json", func(t *testing.T, e *Error) {
			if !e.IsUnauthorized() || e.Retryable() {
				t.Errorf("IsUnauthorized=%v Retryable=%v", e.IsUnauthorized(), e.Retryable())
			}
			is := e.Issues()
			if len(is) != 1 || is[0].Severity != "error" || is[0].Code != "login" || is[0].Text() != "Unauthorized" {
				t.Errorf("issues = %+v", is)
			}
		}},
		{"26-invite-duplicate", "POST", 409, "User is already a member of this project", "application/fhir+json", func(t *testing.T, e *Error) {
			if !e.IsConflict() || e.IsSerializationConflict() || e.Retryable() {
				t.Errorf("IsConflict=%v IsSerializationConflict=%v Retryable=%v", e.IsConflict(), e.IsSerializationConflict(), e.Retryable())
			}
		}},
		{"27-invite-invalid", "POST", 400,
			"Resource type is required (resourceType); First name is required (firstName); Last name is required (lastName); Either email or externalId is required",
			"application/fhir+json", func(t *testing.T, e *Error) {
				if len(e.Issues()) != 4 || e.Issues()[0].Expression[0] != "resourceType" {
					t.Errorf("issues = %+v", e.Issues())
				}
			}},
		{"48-create-invalid", "POST", 400, `Invalid additional property "foo" (Patient.foo)`, "application/fhir+json", nil},
		{"42-delete-member-again", "DELETE", 410, "Gone", "application/fhir+json", func(t *testing.T, e *Error) {
			if !e.IsGone() {
				t.Error("IsGone = false")
			}
		}},
		{"29-invite-sendemail-default", "POST", 200,
			"Could not send email. Make sure you have AWS SES set up. (Error sending email: Could not load credentials from any providers)",
			"application/fhir+json", func(t *testing.T, e *Error) {
				if !e.IsPartialSuccess() || e.Retryable() {
					t.Errorf("IsPartialSuccess=%v Retryable=%v", e.IsPartialSuccess(), e.Retryable())
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.capture, func(t *testing.T) {
			srv := httptest.NewServer(loadCapture(t, tc.capture).replay())
			defer srv.Close()
			c := newTestClient(t, Options{BaseURL: srv.URL, Retry: RetryPolicy{MaxAttempts: 1}})
			var body []byte
			if tc.method != "GET" && tc.method != "DELETE" {
				body = []byte(`{}`)
			}
			resp, err := c.Do(context.Background(), &Request{Method: tc.method, URL: "admin/x", Body: body})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if resp == nil || resp.Status != tc.wantStatus {
				t.Errorf("resp = %+v", resp)
			}
			if e.Status != tc.wantStatus || e.Method != tc.method || e.URL != srv.URL+"/admin/x" || e.ContentType != tc.wantCT {
				t.Errorf("Error fields: status %d method %s url %s ct %q", e.Status, e.Method, e.URL, e.ContentType)
			}
			if got := e.Error(); got != tc.wantMessage {
				t.Errorf("Error() = %q\n want %q", got, tc.wantMessage)
			}
			if StatusOf(fmt.Errorf("wrapped: %w", err)) != tc.wantStatus {
				t.Errorf("StatusOf through a wrap = %d", StatusOf(err))
			}
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}

func TestSuccessCapturesAreNotErrors(t *testing.T) {
	for _, name := range []string{"25-invite-homer", "41-delete-member", "30-search-pm-patient"} {
		srv := httptest.NewServer(loadCapture(t, name).replay())
		c := newTestClient(t, Options{BaseURL: srv.URL})
		resp, err := c.Do(context.Background(), &Request{URL: "x"})
		srv.Close()
		if err != nil || resp.Status != 200 {
			t.Errorf("%s: %v, %+v", name, err, resp)
		}
	}
}

func TestDecodeOtherBodies(t *testing.T) {
	h := func(ct string) http.Header { return http.Header{"Content-Type": {ct}} }
	cases := []struct {
		status int
		header http.Header
		body   string
		want   string
	}{
		{500, h("application/json; charset=utf-8"), `{"msg":"Internal Server Error"}`, "the server answered 500: Internal Server Error"},
		{502, nil, "", "the server answered 502 with an empty body"},
		{503, h("text/plain"), "", "the server answered 503 text/plain with an empty body"},
		{502, h("text/plain; charset=utf-8"), "upstream\nconnect error  or disconnect", "the server answered 502 text/plain: upstream connect error or disconnect"},
		{404, h("text/html"), "<html><head><title>Not Found</title></head><body><h1>404 &amp; gone</h1></body></html>", "the server answered 404 text/html: 404 & gone"},
		{400, h("application/json"), `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"only diagnostics","expression":["a","b"]}]}`, "only diagnostics (a, b)"},
		{400, h("application/json"), `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid"}]}`, "Unknown error"},
		{400, h("application/json"), `{"resourceType":"OperationOutcome","issue":[]}`, "Unknown error"},
		{400, h("application/json"), `{"error":"invalid_client"}`, "invalid_client"},
		{400, h("application/json"), `{"unexpected":true}`, `the server answered 400: {"unexpected":true}`},
		{418, h("application/octet-stream"), "\x00\x01", "the server answered 418 application/octet-stream: \x00\x01"},
	}
	for _, tc := range cases {
		e := newError(tc.status, "GET", "http://x/y", tc.header, []byte(tc.body))
		if got := e.Error(); got != tc.want {
			t.Errorf("%d %v %q: Error() = %q, want %q", tc.status, tc.header, tc.body, got, tc.want)
		}
	}
}

func TestRedirectIsReportedNotFollowed(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		http.Redirect(w, r, "https://secure.example.com/fhir/R4/Patient", http.StatusMovedPermanently)
	}))
	defer srv.Close()
	c := newTestClient(t, Options{BaseURL: srv.URL})
	_, err := c.Do(context.Background(), &Request{URL: "Patient"})
	want := "the server answered 301 redirecting to https://secure.example.com/fhir/R4/Patient (redirects are not followed; check the base URL)"
	if err == nil || err.Error() != want || hits != 1 {
		t.Errorf("err = %v, hits %d; want %q", err, hits, want)
	}
}

func TestSerializationConflict(t *testing.T) {
	body := `{"resourceType":"OperationOutcome","id":"conflict","issue":[{"severity":"error","code":"conflict","details":{"coding":[{"code":"40001"}],"text":"Concurrent update"}}]}`
	e := newError(409, "POST", "http://x/y", http.Header{"Content-Type": {"application/fhir+json"}}, []byte(body))
	if !e.IsSerializationConflict() || !e.Retryable() || e.IsConflict() {
		t.Errorf("IsSerializationConflict=%v Retryable=%v IsConflict=%v", e.IsSerializationConflict(), e.Retryable(), e.IsConflict())
	}
	e.Status = 400
	if e.IsSerializationConflict() {
		t.Error("a 400 with coding 40001 is not a serialization conflict")
	}
}

func TestErrorRateLimitWait(t *testing.T) {
	h := http.Header{"Content-Type": {"application/fhir+json"}, "Ratelimit": {`"requests";r=0;t=7`}}
	e := newError(429, "GET", "http://x/y", h, []byte(`{"resourceType":"OperationOutcome","id":"too-many-requests","issue":[{"severity":"error","code":"throttled","details":{"text":"Too Many Requests"}}]}`))
	if e.RateLimitWait != 7*time.Second || !e.Retryable() || e.Error() != "Too Many Requests" {
		t.Errorf("RateLimitWait=%s Retryable=%v Error=%q", e.RateLimitWait, e.Retryable(), e.Error())
	}
}

func TestStoredOperationOutcomeIsData(t *testing.T) {
	stored := `{"resourceType":"OperationOutcome","id":"0b7f","meta":{"versionId":"1","lastUpdated":"2026-01-01T00:00:00Z"},"issue":[{"severity":"error","code":"exception"}]}`
	if e := successOutcomeError(200, "GET", "u", nil, []byte(stored)); e != nil {
		t.Errorf("a stored OperationOutcome read by GET became an error: %v", e)
	}
	info := `{"resourceType":"OperationOutcome","id":"ok","issue":[{"severity":"information","code":"informational","details":{"text":"All OK"}}]}`
	if e := successOutcomeError(200, "DELETE", "u", nil, []byte(info)); e != nil {
		t.Errorf("an informational outcome became an error: %v", e)
	}
}

func TestErrorCauseAfterFailedRefresh(t *testing.T) {
	e := newError(401, "GET", "u", http.Header{"Content-Type": {"application/fhir+json"}},
		[]byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"login","details":{"text":"Unauthorized"}}]}`))
	cause := errors.New("token endpoint unreachable")
	e.Cause = cause
	if !errors.Is(e, cause) || e.Error() != "Unauthorized; refreshing the credentials failed: token endpoint unreachable" {
		t.Errorf("Error() = %q, Is cause = %v", e.Error(), errors.Is(e, cause))
	}
	if !AsError(e).IsUnauthorized() || IsPartialSuccess(e) {
		t.Error("accessors")
	}
}

// Medplum's FHIR quota (fhirInteractions) is also spent by routes that do
// not report it: a Binary upload's 429 has only the "requests" RateLimit,
// with points left, and says how long to wait in its diagnostics, the rate
// limiter's state with underscored keys (capture 124d; 124e, a FHIR route,
// has both).
func TestErrorRateLimitWaitFromQuotaDiagnostics(t *testing.T) {
	for name, want := range map[string]time.Duration{
		"124d-binary-create-over-quota": 20379 * time.Millisecond,
		"124e-bot-patch-over-quota":     21 * time.Second, // the header's t, rounded up
	} {
		c := loadCapture(t, name)
		e := newError(c.Status, "POST", "http://x/y", c.Header, c.Body)
		if e.RateLimitWait != want || !e.Retryable() {
			t.Errorf("%s: RateLimitWait=%s Retryable=%v, want %s", name, e.RateLimitWait, e.Retryable(), want)
		}
	}
}

// A 2xx answer is an error when the object itself is an OperationOutcome
// with an error issue, wherever its resourceType key is; a Bundle whose
// entries hold error outcomes (a batch's answer) is not one.
func TestSuccessOutcomeErrorReadsTheTopLevelType(t *testing.T) {
	issue := `"issue":[{"severity":"error","code":"invalid","details":{"text":"Bad"}}]`
	for body, isErr := range map[string]bool{
		`{"resourceType":"OperationOutcome",` + issue + `}`:          true,
		`{"id":"x",` + issue + `,"resourceType":"OperationOutcome"}`: true,
		`{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"400","outcome":{"resourceType":"OperationOutcome",` + issue + `}}}]}`: false,
		`{"entry":[{"resource":{"resourceType":"OperationOutcome",` + issue + `}}],"resourceType":"Bundle"}`:                                                    false,
		`{"resourceType":"OperationOutcome",` + issue: false, // cut short
	} {
		if e := successOutcomeError(200, "POST", "u", nil, []byte(body)); (e != nil) != isErr {
			t.Errorf("%s: error %v, want one: %v", body, e, isErr)
		}
	}
}
