//go:build keyring

// Against the real OS keyring: `make test-keyring` runs these under
// dbus-run-session with an unlocked gnome-keyring.

package clients_test

import (
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/internal/provtest"
)

// TestRealKeyringSaveProfile: --save-profile without --insecure-storage
// puts the secret in the keyring and nowhere on disk, and the profile signs
// in with it.
func TestRealKeyringSaveProfile(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.Admin(t, srv)
	e.InheritSessionBus()
	r := e.Run("clients", "create", "CI", "--admin", "--save-profile", "ci-keyring")
	app := clientNamed(t, srv, srv.Seed.ProjectID, "CI")
	secret := app.String("secret")
	if r.Code != 0 || !strings.HasSuffix(r.Stderr, "saved it in profile ci-keyring (the secret is in the system keyring): medplum -p ci-keyring ...\n") {
		t.Fatalf("%+v", r)
	}
	r.NotContains(t, secret)
	if got, err := keyring.Get("medplum", "ci-keyring:client_secret"); err != nil || got != secret {
		t.Fatalf("keyring item: %v", err)
	}
	t.Cleanup(func() { _ = keyring.Delete("medplum", "ci-keyring:client_secret") })
	if got := filesWith(t, e.Home, secret); len(got) != 0 {
		t.Errorf("the secret is on disk: %v", got)
	}
	e.Unset("MEDPLUM_CLIENT_ID").Unset("MEDPLUM_CLIENT_SECRET").Unset("MEDPLUM_BASE_URL")
	e.Run("-p", "ci-keyring", "clients", "list", "--columns", "name", "--no-header", "-o", "csv").
		Expect(t, 0, srv.Seed.ProjectName+" Admin Client\nCI\n", "")
}
