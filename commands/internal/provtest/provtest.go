// Package provtest holds what the black-box tests of the provisioning
// commands (project, clients, apply) share: environments signed in to
// medplumtest and views of its request log.
package provtest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// As returns an environment that signs in to srv with a client id and
// secret through the official CLI's environment variables.
func As(t *testing.T, srv *medplumtest.Server, id, secret string) *clitest.Env {
	t.Helper()
	e := clitest.New(t)
	e.Set("MEDPLUM_BASE_URL", srv.URL)
	e.Set("MEDPLUM_CLIENT_ID", id)
	e.Set("MEDPLUM_CLIENT_SECRET", secret)
	return e
}

// Admin signs in as the seeded project-admin ClientApplication.
func Admin(t *testing.T, srv *medplumtest.Server) *clitest.Env {
	return As(t, srv, srv.Seed.Client.ID, srv.Seed.Client.Secret)
}

// SuperAdmin signs in as the seeded super-admin ClientApplication.
func SuperAdmin(t *testing.T, srv *medplumtest.Server) *clitest.Env {
	return As(t, srv, srv.Seed.SuperAdminClient.ID, srv.Seed.SuperAdminClient.Secret)
}

// Writes lists "METHOD /path" for every request other than a GET (and other
// than a token request) the server received since the last reset.
func Writes(srv *medplumtest.Server) []string {
	var out []string
	for _, r := range srv.Requests() {
		if r.Method == "GET" || r.Path == "/oauth2/token" {
			continue
		}
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// ExpectWrites asserts the writes since the last reset, in order.
func ExpectWrites(t *testing.T, srv *medplumtest.Server, want ...string) {
	t.Helper()
	if got := Writes(srv); !slices.Equal(got, want) {
		t.Errorf("writes:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// ID returns the id part of "Type/id".
func ID(ref string) string { return ref[strings.IndexByte(ref, '/')+1:] }

// Bearer is an Authenticator with a fixed token (srv.IssueToken), for
// tests that run a command in process.
type Bearer string

// Apply implements client.Authenticator.
func (b Bearer) Apply(_ context.Context, r *http.Request) error {
	r.Header.Set("Authorization", "Bearer "+string(b))
	return nil
}

// Refresh implements client.Authenticator: a fixed token has none.
func (Bearer) Refresh(context.Context) (bool, error) { return false, nil }

// RemoveSettings is a clitest.Target cleanup: it takes the settings named
// off the signed-in project again (a JSON Patch of the version it read,
// made again when the project changed meanwhile), keeping everyone else's.
func RemoveSettings(names ...string) func(ctx context.Context, c *client.Client) error {
	return removeEntries("setting", names)
}

// RemoveSecrets is RemoveSettings for Project.secret.
func RemoveSecrets(names ...string) func(ctx context.Context, c *client.Client) error {
	return removeEntries("secret", names)
}

func removeEntries(key string, names []string) func(ctx context.Context, c *client.Client) error {
	return func(ctx context.Context, c *client.Client) error {
		drop := map[string]bool{}
		for _, n := range names {
			drop[n] = true
		}
		me, err := c.Me(ctx)
		if err != nil {
			return err
		}
		pid := me.Project.ID()
		for range 5 {
			p, err := c.ReadProject(ctx, pid)
			if err != nil {
				return err
			}
			all := client.SettingsList(p.Resource, key)
			var keep []client.Resource
			for _, s := range all {
				if !drop[s.String("name")] {
					keep = append(keep, s)
				}
			}
			if len(keep) == len(all) {
				return nil
			}
			_, err = c.PatchProjectList(ctx, pid, client.VersionID(p.Resource), key, keep)
			if !client.IsVersionConflict(err) {
				return err
			}
		}
		return fmt.Errorf("project %s kept changing", pid)
	}
}
