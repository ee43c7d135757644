package clitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
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

// SignedInAsMember is SignedIn as a new client of the seeded project that
// is a member but not an admin ("Reader"): what project admins' commands
// must refuse with the server's 403.
func SignedInAsMember(t testing.TB, srv *medplumtest.Server) *Env {
	t.Helper()
	project := srv.Seed.ProjectID
	const secret = "reader-secret-0123456789"
	app := srv.Create(project, client.Resource{"resourceType": "ClientApplication", "name": "Reader", "secret": secret})
	ref := map[string]any{"reference": "ClientApplication/" + app.ID(), "display": "Reader"}
	srv.Create(project, client.Resource{"resourceType": "ProjectMembership", "project": map[string]any{"reference": "Project/" + project},
		"user": ref, "profile": ref})
	return SignedIn(t, srv).Set("MEDPLUM_CLIENT_ID", app.ID()).Set("MEDPLUM_CLIENT_SECRET", secret)
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

// ExpectNothingSent asserts that no request at all reached srv.
func ExpectNothingSent(t testing.TB, srv *medplumtest.Server) {
	t.Helper()
	if reqs := srv.Requests(); len(reqs) != 0 {
		t.Errorf("%d requests were sent, the first %s %s", len(reqs), reqs[0].Method, reqs[0].Path)
	}
}

// ServerGet is GET path (relative to the base URL) as srv answers medplum
// (X-Medplum: extended) for an access token (srv.IssueToken): the bytes a
// command's -o json is checked against.
func ServerGet(t testing.TB, srv *medplumtest.Server, token, path string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Medplum", "extended")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v: %s", path, resp.StatusCode, err, b)
	}
	return b
}

// Indented is a JSON document as -o json prints it: indented by two
// spaces, with a final newline.
func Indented(t testing.TB, doc []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, doc, "", "  "); err != nil {
		t.Fatal(err)
	}
	return buf.String() + "\n"
}
