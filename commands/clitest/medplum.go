package clitest

import (
	"slices"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
)

// SignedIn returns an Env that signs in to srv with its seeded project-admin
// client, through the official CLI's environment variables.
func SignedIn(t testing.TB, srv *medplumtest.Server) *Env {
	t.Helper()
	e := New(t)
	e.Set("MEDPLUM_BASE_URL", srv.URL)
	e.Set("MEDPLUM_CLIENT_ID", srv.Seed.Client.ID)
	e.Set("MEDPLUM_CLIENT_SECRET", srv.Seed.Client.Secret)
	return e
}

// Paths lists "METHOD /path?query" for every request srv received, token
// requests left out.
func Paths(srv *medplumtest.Server) []string {
	var out []string
	for _, r := range srv.Requests() {
		if r.Path == "/oauth2/token" {
			continue
		}
		p := r.Method + " " + r.Path
		if r.RawQuery != "" {
			p += "?" + r.RawQuery
		}
		out = append(out, p)
	}
	return out
}

// ExpectPaths asserts the requests srv received (see Paths), in order.
func ExpectPaths(t testing.TB, srv *medplumtest.Server, want ...string) {
	t.Helper()
	if got := Paths(srv); !slices.Equal(got, want) {
		t.Errorf("requests:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
