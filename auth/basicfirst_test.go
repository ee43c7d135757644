package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
)

// newBasicFirst is a client signed in with the seeded client's id and
// secret as the environment gives them (no auth type, no scope).
func newBasicFirst(t *testing.T, srv *medplumtest.Server, secret string) *client.Client {
	t.Helper()
	c, a := authedClient(t, Settings{Profile: "default", BaseURL: srv.URL, ClientID: srv.Seed.Client.ID, ClientSecret: secret})
	if cc, ok := a.(*ClientCredentials); !ok || !cc.BasicFirst {
		t.Fatalf("authenticator %T %+v, want *ClientCredentials with BasicFirst", a, a)
	}
	return c
}

// schemes lists each request's method, path, Authorization scheme and status.
func schemes(srv *medplumtest.Server) []string {
	var out []string
	for _, r := range srv.Requests() {
		scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		out = append(out, r.Method+" "+r.Path+" "+scheme)
	}
	return out
}

func expectSchemes(t *testing.T, srv *medplumtest.Server, want ...string) {
	t.Helper()
	if got := schemes(srv); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// Client credentials from the environment: the first request carries them
// as Basic credentials (one round trip); the requests after it share one
// token.
func TestBasicFirstThenOneToken(t *testing.T) {
	srv := medplumtest.NewServer(t)
	c := newBasicFirst(t, srv, srv.Seed.Client.Secret)
	ctx := context.Background()
	homer := "ProjectMembership/" + srv.Seed.Homer.MembershipID
	if _, err := c.ReadResource(ctx, homer); err != nil {
		t.Fatal(err)
	}
	expectSchemes(t, srv, "GET /fhir/R4/"+homer+" Basic")
	for range 3 {
		if _, err := c.ReadResource(ctx, homer); err != nil {
			t.Fatal(err)
		}
	}
	expectSchemes(t, srv, "GET /fhir/R4/"+homer+" Basic", "POST /oauth2/token ", "GET /fhir/R4/"+homer+" Bearer",
		"GET /fhir/R4/"+homer+" Bearer", "GET /fhir/R4/"+homer+" Bearer")
}

// Concurrent first requests: one of them goes with Basic credentials, the
// others wait for one token.
func TestBasicFirstConcurrent(t *testing.T) {
	srv := medplumtest.NewServer(t)
	c := newBasicFirst(t, srv, srv.Seed.Client.Secret)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := c.ReadResource(context.Background(), "ProjectMembership/"+srv.Seed.Homer.MembershipID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	n := map[string]int{}
	for _, s := range schemes(srv) {
		n[s[strings.LastIndexByte(s, ' ')+1:]]++
	}
	if n["Basic"] != 1 || n[""] != 1 || n["Bearer"] != 7 {
		t.Errorf("requests by scheme %v, want 1 Basic, 1 token request, 7 Bearer:\n%s", n, strings.Join(schemes(srv), "\n"))
	}
}

// A server that refuses the Basic credentials (401) gets the request again
// with a token: capture 230 (5.0.10 takes Basic credentials against the
// client's secret only) and a server that takes none (SetBasicAuth).
func TestBasicFirstFallsBackToTheToken(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.SetBasicAuth(false)
	c := newBasicFirst(t, srv, srv.Seed.Client.Secret)
	homer := "ProjectMembership/" + srv.Seed.Homer.MembershipID
	if _, err := c.ReadResource(context.Background(), homer); err != nil {
		t.Fatal(err)
	}
	expectSchemes(t, srv, "GET /fhir/R4/"+homer+" Basic", "POST /oauth2/token ", "GET /fhir/R4/"+homer+" Bearer")

	// A rotated-out secret (now the client's retiringSecret).
	srv = medplumtest.NewServer(t)
	old := srv.Seed.Client.Secret
	admin, err := client.New(client.Options{BaseURL: srv.URL, Auth: &BearerToken{Token: srv.IssueToken(srv.Seed.Admin.MembershipID)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RotateClientSecret(context.Background(), srv.Seed.Client.ID, old); err != nil {
		t.Fatal(err)
	}
	srv.ResetRequests()
	homer = "ProjectMembership/" + srv.Seed.Homer.MembershipID
	c = newBasicFirst(t, srv, old)
	if _, err := c.ReadResource(context.Background(), homer); err != nil {
		t.Fatal(err)
	}
	expectSchemes(t, srv, "GET /fhir/R4/"+homer+" Basic", "POST /oauth2/token ", "GET /fhir/R4/"+homer+" Bearer")
}

// A wrong secret: the token endpoint's refusal is the error (exit 4), not
// the 401 of the Basic request.
func TestBasicFirstWrongSecret(t *testing.T) {
	srv := medplumtest.NewServer(t)
	c := newBasicFirst(t, srv, "wrong")
	_, err := c.ReadResource(context.Background(), "ProjectMembership/"+srv.Seed.Homer.MembershipID)
	if !errors.Is(err, ErrCredentialsRejected) || err.Error() != "client credentials sign-in for client "+srv.Seed.Client.ID+" failed: Invalid secret (invalid_request)" {
		t.Fatalf("err = %v", err)
	}
	if e := client.AsError(err); e == nil || e.Status != http.StatusBadRequest {
		t.Errorf("the *client.Error is %+v, want the token endpoint's 400", e)
	}
	expectSchemes(t, srv, "GET /fhir/R4/ProjectMembership/"+srv.Seed.Homer.MembershipID+" Basic", "POST /oauth2/token ")
}

// An auth type or a scope keeps the token from the first request: a scope
// is only granted through the token endpoint.
func TestBasicFirstOnlyWithoutAuthTypeOrScope(t *testing.T) {
	tc, _ := client.New(client.Options{BaseURL: "http://127.0.0.1:1/"})
	for _, s := range []Settings{
		{ClientID: "id", ClientSecret: "s", AuthType: AuthTypeClientCredentials},
		{ClientID: "id", ClientSecret: "s", Scope: "openid"},
	} {
		a, err := NewAuthenticator(s, tc)
		if err != nil {
			t.Fatal(err)
		}
		if a.(*ClientCredentials).BasicFirst {
			t.Errorf("%+v: BasicFirst", s)
		}
	}
}
