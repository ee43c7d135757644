package auth_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client/medplumtest"
)

// What a new medplum process pays for its credentials after `medplum login`:
// with the cached access token (the usual case) and when it has to renew.
//
//	go test -run '^$' -bench . ./auth

// BenchmarkNewProcessCachedToken: read the session and the 0600 token cache.
func BenchmarkNewProcessCachedToken(b *testing.B) {
	f := newFixture(b)
	f.srv.SetRateLimit(medplumtest.RateLimitAuth, 1<<30, time.Minute)
	l, err := auth.PasswordLogin(context.Background(), tokenClient(b, f.srv), auth.PasswordOptions{
		Email: f.srv.Seed.AdminEmail, Password: f.srv.Seed.AdminPassword, ProjectID: f.srv.Seed.ProjectID}, &scripted{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.manager().SaveUserLogin("default", auth.SaveOptions{BaseURL: f.srv.URL, AuthType: auth.AuthTypePassword}, l); err != nil {
		b.Fatal(err)
	}
	tc := tokenClient(b, f.srv)
	b.ResetTimer()
	for range b.N {
		a, err := f.manager().Authenticator("default", f.srv.URL, tc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := a.AccessToken(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewProcessRefresh: no usable cached token, so take the lock,
// refresh over loopback HTTP (the in-memory server), store the rotated
// refresh token and the new access token.
func BenchmarkNewProcessRefresh(b *testing.B) {
	f := newFixture(b)
	f.srv.SetRateLimit(medplumtest.RateLimitAuth, 1<<30, time.Minute)
	l, err := auth.PasswordLogin(context.Background(), tokenClient(b, f.srv), auth.PasswordOptions{
		Email: f.srv.Seed.AdminEmail, Password: f.srv.Seed.AdminPassword, ProjectID: f.srv.Seed.ProjectID}, &scripted{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.manager().SaveUserLogin("default", auth.SaveOptions{BaseURL: f.srv.URL, AuthType: auth.AuthTypePassword}, l); err != nil {
		b.Fatal(err)
	}
	tc := tokenClient(b, f.srv)
	cache := filepath.Join(f.dir, "cache", "tokens", "default.json")
	b.ResetTimer()
	for range b.N {
		os.Remove(cache)
		a, err := f.manager().Authenticator("default", f.srv.URL, tc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := a.AccessToken(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
