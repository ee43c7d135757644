package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
)

// tokenServer is a minimal OAuth server: client_credentials tokens
// "tok-N" for one client, revocable, and a protected FHIR route.
type tokenServer struct {
	*httptest.Server
	mu       sync.Mutex
	issued   int
	revoked  map[string]bool
	forms    []string
	gate     chan struct{} // if set, token requests wait for it
	lifetime int
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{revoked: map[string]bool{}, lifetime: 3600}
	ts.Server = httptest.NewServer(http.HandlerFunc(ts.serve))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth2/token" {
		if ts.gate != nil {
			<-ts.gate
		}
		r.ParseForm()
		ts.mu.Lock()
		ts.forms = append(ts.forms, r.Header.Get("Content-Type")+" "+r.PostForm.Encode())
		ok := r.PostForm.Get("client_id") == "cid" && r.PostForm.Get("client_secret") == "right-secret" && r.PostForm.Get("grant_type") == "client_credentials"
		ts.issued++
		n, life := ts.issued, ts.lifetime
		ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if !ok {
			w.WriteHeader(400)
			w.Write([]byte(`{"error":"invalid_request","error_description":"Invalid secret"}`))
			return
		}
		fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":%d,"scope":"openid","access_token":"tok-%d"}`, life, n)
		return
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	ts.mu.Lock()
	valid := strings.HasPrefix(tok, "tok-") && !ts.revoked[tok]
	ts.mu.Unlock()
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	if !valid {
		w.WriteHeader(401)
		w.Write([]byte(`{"resourceType":"OperationOutcome","id":"unauthorized","issue":[{"severity":"error","code":"login","details":{"text":"Unauthorized"}}]}`))
		return
	}
	fmt.Fprintf(w, `{"resourceType":"Patient","id":"p","token":%q}`, tok)
}

func (ts *tokenServer) tokenRequests() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.forms)
}

func newCC(t *testing.T, ts *tokenServer, secret string) (*client.Client, *ClientCredentials) {
	t.Helper()
	s := Settings{BaseURL: ts.URL, ClientID: "cid", ClientSecret: secret}
	tc, err := client.New(s.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAuthenticator(s, tc)
	if err != nil {
		t.Fatal(err)
	}
	opts := s.ClientOptions()
	opts.Auth = a
	c, err := client.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, a.(*ClientCredentials)
}

func get(c *client.Client) (string, error) {
	r, err := c.ReadResource(context.Background(), "Patient/p")
	if err != nil {
		return "", err
	}
	return r.String("token"), nil
}

func TestClientCredentialsOneTokenForConcurrentRequests(t *testing.T) {
	ts := newTokenServer(t)
	ts.gate = make(chan struct{})
	c, _ := newCC(t, ts, "right-secret")
	var wg sync.WaitGroup
	toks := make([]string, 16)
	errs := make([]error, 16)
	for i := range toks {
		wg.Add(1)
		go func() { defer wg.Done(); toks[i], errs[i] = get(c) }()
	}
	time.Sleep(20 * time.Millisecond) // let the callers pile up behind the one token request
	close(ts.gate)
	wg.Wait()
	for i := range toks {
		if errs[i] != nil || toks[i] != "tok-1" {
			t.Errorf("caller %d: %q %v", i, toks[i], errs[i])
		}
	}
	for range 10 {
		if tok, err := get(c); err != nil || tok != "tok-1" {
			t.Fatalf("later request: %q %v", tok, err)
		}
	}
	if n := ts.tokenRequests(); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
	if ts.forms[0] != "application/x-www-form-urlencoded client_id=cid&client_secret=right-secret&grant_type=client_credentials" {
		t.Errorf("token request %q", ts.forms[0])
	}
}

func TestClientCredentialsRenewsBeforeExpiry(t *testing.T) {
	ts := newTokenServer(t)
	c, cc := newCC(t, ts, "right-secret")
	now := time.Now()
	cc.now = func() time.Time { return now }
	if tok, _ := get(c); tok != "tok-1" {
		t.Fatal(tok)
	}
	now = now.Add(54 * time.Minute) // 6 minutes left: still reused
	if tok, _ := get(c); tok != "tok-1" {
		t.Errorf("at 54m: %s", tok)
	}
	now = now.Add(2 * time.Minute) // 4 minutes left: inside the 5-minute margin
	if tok, _ := get(c); tok != "tok-2" {
		t.Errorf("at 56m: %s", tok)
	}
	// A short-lived token keeps a tenth of its life as margin.
	ts.lifetime = 100
	now = now.Add(time.Hour)
	if tok, _ := get(c); tok != "tok-3" {
		t.Fatal(tok)
	}
	now = now.Add(89 * time.Second)
	if tok, _ := get(c); tok != "tok-3" {
		t.Errorf("at 89s of 100: %s", tok)
	}
	now = now.Add(2 * time.Second)
	if tok, _ := get(c); tok != "tok-4" {
		t.Errorf("at 91s of 100: %s", tok)
	}
}

func TestClientCredentialsRefreshAfter401(t *testing.T) {
	ts := newTokenServer(t)
	c, cc := newCC(t, ts, "right-secret")
	now := time.Now()
	cc.now = func() time.Time { return now }
	if tok, _ := get(c); tok != "tok-1" {
		t.Fatal(tok)
	}
	ts.mu.Lock()
	ts.revoked["tok-1"] = true
	ts.mu.Unlock()
	now = now.Add(time.Minute)
	var wg sync.WaitGroup
	toks := make([]string, 8)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if toks[i], err = get(c); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i, tok := range toks {
		if tok != "tok-2" {
			t.Errorf("caller %d got %q", i, tok)
		}
	}
	if n := ts.tokenRequests(); n != 2 {
		t.Errorf("%d token requests after a revocation seen by 8 callers, want 2", n)
	}
	// A token rejected right after it was fetched is not fetched again: the
	// request is resent once and the 401 returned.
	ts.mu.Lock()
	ts.revoked["tok-2"] = true
	ts.mu.Unlock()
	_, err := get(c)
	if client.StatusOf(err) != 401 || ts.tokenRequests() != 2 {
		t.Errorf("err %v, %d token requests", err, ts.tokenRequests())
	}
}

func TestClientCredentialsRejected(t *testing.T) {
	ts := newTokenServer(t)
	c, _ := newCC(t, ts, "wrong-secret")
	_, err := get(c)
	want := "client credentials sign-in for client cid failed: Invalid secret (invalid_request)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	e := client.AsError(err)
	if !errors.Is(err, ErrCredentialsRejected) || e == nil || e.OAuth == nil || e.Status != 400 {
		t.Errorf("Is rejected %v, *client.Error %+v", errors.Is(err, ErrCredentialsRejected), e)
	}
	// Failures are not cached: the next call asks again.
	get(c)
	if n := ts.tokenRequests(); n != 2 {
		t.Errorf("%d token requests", n)
	}
}

func TestClientCredentialsUnreachableIsNotRejected(t *testing.T) {
	ts := newTokenServer(t)
	c, _ := newCC(t, ts, "right-secret")
	ts.Close()
	_, err := get(c)
	if err == nil || errors.Is(err, ErrCredentialsRejected) || !strings.Contains(err.Error(), "client credentials sign-in for client cid failed") {
		t.Errorf("err = %v", err)
	}
}

func TestClientCredentialsWaitRespectsContext(t *testing.T) {
	ts := newTokenServer(t)
	ts.gate = make(chan struct{})
	defer close(ts.gate)
	_, cc := newCC(t, ts, "right-secret")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := cc.AccessToken(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
}
