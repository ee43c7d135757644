package client

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestTraceNeverShowsSecrets sends real-looking credentials through traced
// requests, in every place they travel (Authorization headers, form fields,
// JSON bodies, cookies, token answers), and checks that none of the actual
// values reaches a trace line.
func TestTraceNeverShowsSecrets(t *testing.T) {
	const (
		bearer       = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjbGllbnQifQ.c2lnbmF0dXJlLWJlYXJlcg"
		clientID     = "cid-3f1a"
		clientSecret = "sec-9d8c7b6a5f4e3d2c1b0a"
		password     = "Hunter2-Pa55word!"
		issuedAccess = "eyJhbGciOiJSUzI1NiJ9.ISSUED-ACCESS.sig"
		issuedRefr   = "refresh-7e6d5c4b3a29"
		issuedID     = "eyJhbGciOiJSUzI1NiJ9.ID-TOKEN.sig"
		authCode     = "code-5a4b3c2d1e"
		verifier     = "verifier-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		cookie       = "medplum-cli=cookie-secret-value"
		csInBody     = "created-client-secret-0123456789"
	)
	secrets := []string{bearer, clientSecret, password, issuedAccess, issuedRefr, issuedID, authCode, verifier, "cookie-secret-value", csInBody,
		base64.StdEncoding.EncodeToString([]byte(clientID + ":" + clientSecret)), url.QueryEscape(clientSecret), url.QueryEscape(password)}

	var serverSaw []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		serverSaw = append(serverSaw, r.Header.Get("Authorization")+" "+string(b))
		switch r.URL.Path {
		case "/oauth2/token":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Set-Cookie", cookie+"; Path=/; HttpOnly")
			w.Write([]byte(`{"token_type":"Bearer","expires_in":3600,"access_token":"` + issuedAccess + `","refresh_token":"` + issuedRefr + `","id_token":"` + issuedID + `","project":{"reference":"Project/p"}}`))
		case "/auth/login":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"login":"l-1","code":"` + authCode + `"}`))
		case "/admin/projects/p/client":
			w.Header().Set("Content-Type", "application/fhir+json")
			w.WriteHeader(201)
			w.Write([]byte(`{"resourceType":"ClientApplication","id":"c1","name":"ci","secret":"` + csInBody + `"}`))
		default:
			w.Header().Set("Content-Type", "application/fhir+json")
			w.Write([]byte(`{"resourceType":"ProjectMembership","id":"m1"}`))
		}
	}))
	defer srv.Close()

	var lines []string
	c := newTestClient(t, Options{
		BaseURL:     srv.URL,
		Auth:        &staticAuth{token: bearer},
		Trace:       func(l string) { lines = append(lines, l) },
		TraceBodies: true,
	})
	ctx := context.Background()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}}
	if _, err := c.Token(ctx, form, &BasicAuth{ClientID: clientID, ClientSecret: clientSecret}); err != nil {
		t.Fatal(err)
	}
	form = url.Values{"grant_type": {"authorization_code"}, "code": {authCode}, "code_verifier": {verifier}}
	if _, err := c.Token(ctx, form, nil); err != nil {
		t.Fatal(err)
	}
	var lr LoginResponse
	if err := c.AuthPost(ctx, "auth/login", map[string]string{"email": "a@example.com", "password": password}, &lr); err != nil || lr.Code != authCode {
		t.Fatal(err, lr)
	}
	if _, err := c.Invite(ctx, "p", &InviteRequest{ResourceType: "Practitioner", FirstName: "A", LastName: "B", Email: "a@example.com", Password: password}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateClientApplication(ctx, "p", map[string]string{"name": "ci"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(ctx, &Request{URL: "Patient", Header: http.Header{"Cookie": {cookie}}}); err != nil {
		t.Fatal(err)
	}

	// The secrets really travelled: the test would pass vacuously otherwise.
	all := strings.Join(serverSaw, "\n")
	for _, s := range []string{bearer, clientSecret, url.QueryEscape(clientSecret), password, authCode, verifier} {
		if !strings.Contains(all, s) {
			t.Fatalf("the server never received %q; the test proves nothing", s)
		}
	}
	trace := strings.Join(lines, "\n")
	for _, s := range secrets {
		if strings.Contains(trace, s) {
			t.Errorf("trace contains the secret %q", s)
		}
	}
	// And the trace is still useful: requests, responses and bodies are there.
	for _, want := range []string{
		"> POST " + srv.URL + "/oauth2/token [Accept: application/fhir+json] [Authorization: Basic [REDACTED]] [Content-Type: application/x-www-form-urlencoded]",
		"> body: client_id=" + clientID + "&client_secret=[REDACTED]&grant_type=client_credentials",
		`< body: {"token_type":"Bearer","expires_in":3600,"access_token":"[REDACTED]","refresh_token":"[REDACTED]","id_token":"[REDACTED]","project":{"reference":"Project/p"}}`,
		"[Set-Cookie: [REDACTED]]",
		"[Authorization: Bearer [REDACTED]]",
		"[Cookie: [REDACTED]]",
		`"password":"[REDACTED]"`,
		`< body: {"login":"l-1","code":"[REDACTED]"}`,
		`"secret":"[REDACTED]"`,
	} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace lacks %q", want)
		}
	}
	resp := regexp.MustCompile(`^< 201 Created \(\d+ bytes, \d+(\.\d+)?[µm]?s\) ` + regexp.QuoteMeta(srv.URL) + `/admin/projects/p/client \[Content-Length: \d+\] \[Content-Type: application/fhir\+json\] \[Date: .*\]$`)
	found := false
	for _, l := range lines {
		found = found || resp.MatchString(l)
	}
	if testing.Verbose() {
		t.Log("\n" + trace)
	}
	if !found {
		t.Errorf("no response line like %s in\n%s", resp, trace)
	}
}

func TestTraceOffByDefault(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }))
	defer srv.Close()
	c := newTestClient(t, Options{BaseURL: srv.URL})
	if _, err := c.Do(context.Background(), &Request{URL: "x"}); err != nil {
		t.Fatal(err)
	}
}

func TestTraceBodyTruncated(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", maxTraceBody) + `"}`
	got := traceBody("application/json", []byte(big))
	if !strings.HasSuffix(got, "… (8 more bytes)") || len(got) > maxTraceBody+40 {
		t.Errorf("truncated body ends %q (len %d)", got[len(got)-30:], len(got))
	}
}

// A bulk export's manifest lists presigned storage URLs: their signatures
// grant the files, so a trace shows them redacted (the rest stays).
func TestTraceHidesSignaturesInBodies(t *testing.T) {
	manifest := `{"output":[{"type":"Patient","url":"http://h/storage/b/v?Expires=1796599865&Signature=VQX%2Bj%3D%3D"}],"x":"?signature=abc"}`
	want := `{"output":[{"type":"Patient","url":"http://h/storage/b/v?Expires=1796599865&Signature=[REDACTED]"}],"x":"?signature=[REDACTED]"}`
	if got := traceBody("application/json", []byte(manifest)); got != want {
		t.Errorf("trace body\n%s\nwant\n%s", got, want)
	}
}

// An S3 presigned link made with temporary credentials carries the session
// token beside the signature (X-Amz-Security-Token): both are hidden in a
// traced body, the rest of the link stays.
func TestTraceHidesS3SessionTokensInBodies(t *testing.T) {
	const token, sig = "IQoJb3JpZ2luX2VjEJr%2F%2F%2F%2F%2F", "9f0e1d2c3b4a"
	link := "https://b.s3.amazonaws.com/k/Patient.ndjson?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE%2F20261207%2Fus-east-1%2Fs3%2Faws4_request" +
		"&X-Amz-Date=20261207T060000Z&X-Amz-Expires=3600&X-Amz-Security-Token=" + token + "&X-Amz-Signature=" + sig + "&X-Amz-SignedHeaders=host"
	manifest := `{"output":[{"type":"Patient","url":"` + link + `"}],"x":"?x-amz-security-token=abc"}`
	want := `{"output":[{"type":"Patient","url":"https://b.s3.amazonaws.com/k/Patient.ndjson?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE%2F20261207%2Fus-east-1%2Fs3%2Faws4_request` +
		`&X-Amz-Date=20261207T060000Z&X-Amz-Expires=3600&X-Amz-Security-Token=[REDACTED]&X-Amz-Signature=[REDACTED]&X-Amz-SignedHeaders=host"}],"x":"?x-amz-security-token=[REDACTED]"}`
	got := traceBody("application/json", []byte(manifest))
	if got != want {
		t.Errorf("trace body\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(got, token) || strings.Contains(got, sig) {
		t.Errorf("trace body shows the token or the signature: %s", got)
	}
}

// TestTraceSecretBody: a body that is secret as a whole (no field name says
// so) is shown by size only, while ordinary bodies still appear.
func TestTraceSecretBody(t *testing.T) {
	const value = "smtp-pa55-value-0123"
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"resourceType":"Project","id":"p"}`))
	}))
	defer srv.Close()
	var lines []string
	c := newTestClient(t, Options{BaseURL: srv.URL, Trace: func(l string) { lines = append(lines, l) }, TraceBodies: true})
	body := []byte(`[{"name":"SMTP","valueString":"` + value + `"}]`)
	if _, err := c.Do(context.Background(), &Request{Method: "POST", URL: "admin/projects/p/secrets", Body: body, SecretBody: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), value) {
		t.Fatal("the secret never reached the server; the test proves nothing")
	}
	trace := strings.Join(lines, "\n")
	if strings.Contains(trace, value) {
		t.Errorf("trace shows the secret body:\n%s", trace)
	}
	if want := "> body: [REDACTED] (54 bytes, secret)"; !strings.Contains(trace, want) {
		t.Errorf("trace lacks %q:\n%s", want, trace)
	}
	if !strings.Contains(trace, `< body: {"resourceType":"Project","id":"p"}`) {
		t.Errorf("the answer's body is missing from the trace:\n%s", trace)
	}
}

// A base URL with user info (sent by net/http as Basic credentials) keeps
// its password out of the trace and of transport errors.
func TestTraceHidesURLPassword(t *testing.T) {
	const password = "url-pa55word-0123"
	var gotUser, gotPass string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUser, gotPass, _ = r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"resourceType":"Patient","id":"p"}`))
	}))
	defer srv.Close()
	var lines []string
	base := strings.Replace(srv.URL, "://", "://admin:"+password+"@", 1)
	c := newTestClient(t, Options{BaseURL: base, Trace: func(l string) { lines = append(lines, l) }})
	if _, err := c.Do(context.Background(), &Request{URL: "Patient/p"}); err != nil {
		t.Fatal(err)
	}
	if gotUser != "admin" || gotPass != password {
		t.Fatalf("the server got %q:%q; the test proves nothing", gotUser, gotPass)
	}
	srv.Close()
	_, err := c.Do(context.Background(), &Request{URL: "Patient/p", NoRetry: true})
	trace := strings.Join(lines, "\n")
	if err == nil || strings.Contains(trace, password) || !strings.Contains(trace, "://admin:[REDACTED]@") {
		t.Errorf("trace:\n%s", trace)
	}
}
