package authcmd_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
)

// logout uses the profile's settings like every other command: a sign-in
// whose access token the server no longer takes is renewed at the
// profile's own token URL before it is revoked (logout used to build its
// client from the base URL alone, so the renewal went to oauth2/token).
func TestLogoutUsesTheProfilesTokenURL(t *testing.T) {
	var skew atomic.Int64
	srv := newServer(t, medplumtest.WithClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }))
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// The custom token URL: another host that forwards /custom/token to
	// the server's token endpoint, marking what it forwards.
	rp := httputil.NewSingleHostReverseProxy(target)
	custom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/custom/token" {
			http.NotFound(w, r)
			return
		}
		r.URL.Path = "/oauth2/token"
		r.Header.Set("X-Via", "custom-token-url")
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(custom.Close)

	e := env(t, srv)
	e.Run("profile", "set", "default", "--base-url", srv.URL, "--token-url", custom.URL+"/custom/token").Expect(t, 0, "", "Created profile default in "+filepath.Join(e.ConfigDir, "config.yaml")+"\n")
	signIn(t, e)
	skew.Store(int64(2 * time.Hour)) // the access token has expired
	srv.ResetRequests()
	e.Run("logout").Expect(t, 0, "", "Signed out of profile \"default\": 1 session revoked on "+strings.TrimSuffix(srv.URL, "/")+"; local credentials removed.\n")
	expectRenewals(t, srv, 1)

	// --all: each profile with its own settings.
	e.Run("profile", "set", "second", "--base-url", srv.URL, "--token-url", custom.URL+"/custom/token").ExpectCode(t, 0, "Created profile second in "+filepath.Join(e.ConfigDir, "config.yaml")+"\n")
	signIn(t, e)
	signIn(t, e, "-p", "second")
	skew.Store(int64(4 * time.Hour))
	srv.ResetRequests()
	base := strings.TrimSuffix(srv.URL, "/")
	e.Run("logout", "--all").Expect(t, 0, "", "Signed out of profile \"default\": 1 session revoked on "+base+"; local credentials removed.\n"+
		"Signed out of profile \"second\": 1 session revoked on "+base+"; local credentials removed.\n")
	expectRenewals(t, srv, 2)
}

// expectRenewals checks that srv had n token requests, all through the
// custom token URL.
func expectRenewals(t *testing.T, srv *medplumtest.Server, n int) {
	t.Helper()
	renewals := 0
	for _, r := range srv.Requests() {
		if r.Path != "/oauth2/token" {
			continue
		}
		renewals++
		if r.Header.Get("X-Via") != "custom-token-url" {
			t.Errorf("a token request went to the default token URL: %s", r.Body)
		}
	}
	if renewals != n {
		t.Errorf("%d token requests, want %d renewals", renewals, n)
	}
}
