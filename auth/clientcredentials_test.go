package auth

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
)

// ccEnv is medplumtest plus a client signed in with the seeded project
// admin ClientApplication's credentials, the way the CLI builds it.
type ccEnv struct {
	srv *medplumtest.Server
	c   *client.Client
	cc  *ClientCredentials
}

func newCCEnv(t *testing.T, secret string, opts ...medplumtest.Option) *ccEnv {
	t.Helper()
	srv := medplumtest.NewServer(t, opts...)
	if secret == "" {
		secret = srv.Seed.Client.Secret
	}
	// The token path from the first request (basicfirst_test.go has the
	// Basic first request).
	s := Settings{Profile: "default", BaseURL: srv.URL, ClientID: srv.Seed.Client.ID, ClientSecret: secret, AuthType: AuthTypeClientCredentials}
	c, a := authedClient(t, s)
	return &ccEnv{srv: srv, c: c, cc: a.(*ClientCredentials)}
}

// authedClient is a client with the authenticator NewAuthenticator makes
// for s (token requests through a client without one).
func authedClient(t *testing.T, s Settings) (*client.Client, client.Authenticator) {
	t.Helper()
	tc, err := client.New(s.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAuthenticator(s, tc)
	if err != nil {
		t.Fatal(err)
	}
	o := s.ClientOptions()
	o.Auth = a
	c, err := client.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, a
}

func (e *ccEnv) get() error {
	_, err := e.c.ReadResource(context.Background(), "ProjectMembership/"+e.srv.Seed.Homer.MembershipID)
	return err
}

func (e *ccEnv) tokenRequests() int { return len(e.srv.RequestsTo("POST", "/oauth2/token")) }

// bearers lists the distinct Authorization headers the FHIR API received, in order.
func (e *ccEnv) bearers() []string {
	var out []string
	for _, r := range e.srv.RequestsTo("GET", "/fhir/R4/*/*") {
		h := r.Header.Get("Authorization")
		if len(out) == 0 || out[len(out)-1] != h {
			out = append(out, h)
		}
	}
	return out
}

func TestClientCredentialsOneTokenForConcurrentRequests(t *testing.T) {
	e := newCCEnv(t, "")
	e.srv.SetLatency(50 * time.Millisecond) // callers pile up behind the one token request
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = e.get() }()
	}
	wg.Wait()
	e.srv.SetLatency(0)
	for range 10 {
		errs = append(errs, e.get())
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if n := e.tokenRequests(); n != 1 {
		t.Errorf("%d token requests for 26 API requests, want 1", n)
	}
	if n := e.srv.LoginCount(); n != 1 {
		t.Errorf("the server has %d logins, want 1", n)
	}
	if b := e.bearers(); len(b) != 1 || !strings.HasPrefix(b[0], "Bearer ") {
		t.Errorf("bearers %v", b)
	}
	r := e.srv.RequestsTo("POST", "/oauth2/token")[0]
	want := url.Values{"grant_type": {"client_credentials"}, "client_id": {e.srv.Seed.Client.ID}, "client_secret": {e.srv.Seed.Client.Secret}}.Encode()
	if string(r.Body) != want || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.Header.Get("Authorization") != "" {
		t.Errorf("token request: %s %q %v", r.Body, r.Header.Get("Content-Type"), r.Header)
	}
}

func TestClientCredentialsRenewsBeforeExpiry(t *testing.T) {
	e := newCCEnv(t, "")
	now := time.Now()
	e.cc.now = func() time.Time { return now }
	step := func(d time.Duration, wantTokens int) {
		t.Helper()
		now = now.Add(d)
		if err := e.get(); err != nil {
			t.Fatal(err)
		}
		if n := e.tokenRequests(); n != wantTokens {
			t.Errorf("after %s: %d token requests, want %d", d, n, wantTokens)
		}
	}
	step(0, 1)
	step(54*time.Minute, 1) // 6 minutes left of 1 h: reused
	step(2*time.Minute, 2)  // 4 minutes left: inside the 5-minute margin
	if b := e.bearers(); len(b) != 2 || b[0] == b[1] {
		t.Errorf("bearers %v", b)
	}
}

func TestClientCredentialsShortLivedTokenMargin(t *testing.T) {
	e := newCCEnv(t, "", medplumtest.WithTokenLifetime(100*time.Second))
	now := time.Now()
	e.cc.now = func() time.Time { return now }
	for _, s := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {89 * time.Second, 1}, {2 * time.Second, 2}} { // margin is a tenth: 10 s
		now = now.Add(s.d)
		if err := e.get(); err != nil {
			t.Fatal(err)
		}
		if n := e.tokenRequests(); n != s.want {
			t.Errorf("at +%s: %d token requests, want %d", s.d, n, s.want)
		}
	}
}

func TestClientCredentialsRefreshAfter401(t *testing.T) {
	e := newCCEnv(t, "")
	now := time.Now()
	e.cc.now = func() time.Time { return now }
	if err := e.get(); err != nil {
		t.Fatal(err)
	}
	e.srv.RevokeLogins(e.srv.Seed.Client.MembershipID)
	now = now.Add(time.Minute)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = e.get() }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if n := e.tokenRequests(); n != 2 {
		t.Errorf("%d token requests after a revocation seen by 8 callers, want 2", n)
	}
	// A token rejected moments after it was fetched is not fetched again:
	// the request is resent once and the 401 returned.
	e.srv.RevokeLogins(e.srv.Seed.Client.MembershipID)
	err := e.get()
	if ce := client.AsError(err); ce == nil || !ce.IsUnauthorized() || e.tokenRequests() != 2 {
		t.Errorf("err %v, %d token requests", err, e.tokenRequests())
	}
	// Later, it is.
	now = now.Add(time.Minute)
	if err := e.get(); err != nil || e.tokenRequests() != 3 {
		t.Errorf("err %v, %d token requests", err, e.tokenRequests())
	}
}

func TestClientCredentialsRejected(t *testing.T) {
	e := newCCEnv(t, "wrong-secret")
	err := e.get()
	want := "client credentials sign-in for client " + e.srv.Seed.Client.ID + " failed: Invalid secret (invalid_request)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	ce := client.AsError(err)
	if !errors.Is(err, ErrCredentialsRejected) || ce == nil || ce.OAuth == nil || ce.Status != 400 {
		t.Errorf("Is rejected %v, *client.Error %+v", errors.Is(err, ErrCredentialsRejected), ce)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Error("the error shows the secret")
	}
	if n := len(e.srv.RequestsTo("GET", "/fhir/R4/*/*")); n != 0 {
		t.Errorf("%d API requests went out without a token", n)
	}
	// Failures are not cached: the next call asks again.
	e.get()
	if n := e.tokenRequests(); n != 2 {
		t.Errorf("%d token requests", n)
	}
}

func TestClientCredentialsUnreachableIsNotRejected(t *testing.T) {
	e := newCCEnv(t, "")
	e.srv.Close()
	err := e.get()
	if err == nil || errors.Is(err, ErrCredentialsRejected) || errors.Is(err, ErrNotSignedIn) ||
		!strings.HasPrefix(err.Error(), "client credentials sign-in for client "+e.srv.Seed.Client.ID+" failed: ") {
		t.Errorf("err = %v", err)
	}
}

func TestClientCredentialsWaitRespectsContext(t *testing.T) {
	e := newCCEnv(t, "")
	e.srv.SetLatency(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := e.cc.AccessToken(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
}

func TestBearerTokenAgainstMedplumtest(t *testing.T) {
	srv := medplumtest.NewServer(t)
	a, err := NewAuthenticator(Settings{BaseURL: srv.URL, AccessToken: srv.IssueToken(srv.Seed.Admin.MembershipID)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Options{BaseURL: srv.URL, Auth: a})
	if err != nil {
		t.Fatal(err)
	}
	me, err := c.Me(context.Background())
	if err != nil || me.Membership.ID() != srv.Seed.Admin.MembershipID {
		t.Fatalf("Me: %v %v", me, err)
	}
	// A fixed token cannot be refreshed: a revoked one is a final 401.
	srv.RevokeLogins(srv.Seed.Admin.MembershipID)
	_, err = c.Me(context.Background())
	if ce := client.AsError(err); ce == nil || !ce.IsUnauthorized() || len(srv.RequestsTo("GET", "/auth/me")) != 2 {
		t.Errorf("err %v", err)
	}
}

func TestBasicCredentialsAgainstMedplumtest(t *testing.T) {
	srv := medplumtest.NewServer(t)
	a, err := NewAuthenticator(Settings{BaseURL: srv.URL, ClientID: srv.Seed.Client.ID, ClientSecret: srv.Seed.Client.Secret, AuthType: AuthTypeBasic}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Options{BaseURL: srv.URL, Auth: a})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadResource(context.Background(), "ProjectMembership/"+srv.Seed.Homer.MembershipID); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.RequestsTo("POST", "/oauth2/token")); n != 0 {
		t.Errorf("basic auth made %d token requests", n)
	}
	if h := srv.Requests()[0].Header.Get("Authorization"); !strings.HasPrefix(h, "Basic ") {
		t.Errorf("Authorization %q", h)
	}
}
