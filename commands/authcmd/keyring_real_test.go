//go:build keyring

// Black-box tests against the real OS keyring: `make test-keyring` runs them
// under dbus-run-session with an unlocked gnome-keyring (go-cli.md 3.3).

package authcmd_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"
)

func TestRealKeyringLoginStoresNothingInPlainText(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	e.InheritSessionBus()
	e.RunStdin(pw, "login", "--auth-type", "password", "--email", "ann@example.com", "--password-stdin").
		Expect(t, 0, "", "Signed in to "+srv.URL+" as ann@example.com in project Sandbox Project.\nCredentials are in the system keyring.\n")

	key := "default:refresh_token:" + srv.Seed.ProjectID
	rt, err := keyring.Get("medplum", key)
	if err != nil || !srv.RefreshTokenCurrent(rt) {
		t.Fatalf("keyring item %s: %v", key, err)
	}
	tok := strings.TrimSpace(e.Run("token").ExpectCode(t, 0, ""))
	// No secret at all under the config directory; the access token only in
	// the 0600 cache; the refresh token and password nowhere on disk.
	for _, s := range []string{rt, tok, pw} {
		if got := filesWith(t, e.ConfigDir, s); len(got) != 0 {
			t.Errorf("a secret is in plain text in the config directory: %v", got)
		}
	}
	if got := filesWith(t, e.Home, rt); len(got) != 0 {
		t.Errorf("refresh token on disk: %v", got)
	}
	if got := filesWith(t, e.Home, tok); strings.Join(got, ",") != "cache/tokens/default.json" {
		t.Errorf("access token on disk: %v", got)
	}
	if m := mode(t, filepath.Join(cacheDir(e), "tokens", "default.json")); m != 0o600 {
		t.Errorf("token cache mode %o", m)
	}

	// A refresh rotates the token in the keyring.
	os.Remove(filepath.Join(cacheDir(e), "tokens", "default.json"))
	e.Run("project", "current").Expect(t, 0, "Sandbox Project (Project/"+srv.Seed.ProjectID+")\n", "")
	rt2, _ := keyring.Get("medplum", key)
	if rt2 == rt || !srv.RefreshTokenCurrent(rt2) {
		t.Error("the rotated refresh token is not in the keyring")
	}
	e.Run("logout").ExpectCode(t, 0, "Signed out of profile \"default\": 1 session revoked on "+strings.TrimSuffix(srv.URL, "/")+"; local credentials removed.\n")
	if _, err := keyring.Get("medplum", key); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("keyring item after logout: %v", err)
	}
}

func TestRealKeyringClientSecretAndImport(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	e.InheritSessionBus()
	e.RunStdin(srv.Seed.Client.Secret, "-p", "ci", "login", "--auth-type", "client-credentials", "--client-id", srv.Seed.Client.ID, "--client-secret-stdin").
		ExpectCode(t, 0, "Signed in to "+srv.URL+" as Sandbox Project Admin Client (ClientApplication/"+srv.Seed.Client.ID+") in project Sandbox Project.\nCredentials are in the system keyring.\n")
	if got, err := keyring.Get("medplum", "ci:client_secret"); err != nil || got != srv.Seed.Client.Secret {
		t.Fatalf("client secret in the keyring: %q %v", got, err)
	}

	sandbox := officialLogin(t, srv, srv.Seed.AdminEmail, srv.Seed.AdminPassword, srv.Seed.ProjectID)
	path := writeOfficialProfile(t, e.Home, "old", map[string]any{
		"options":     map[string]any{"name": "old", "baseUrl": srv.URL},
		"activeLogin": sandbox,
	})
	e.Run("profile", "import", "old", "--delete-source").Expect(t, 0, "",
		"Imported profile old from "+path+": settings into "+filepath.Join(e.ConfigDir, "config.yaml")+"; 1 project login, its refresh token into the system keyring"+
			" and the access token into "+filepath.Join(cacheDir(e), "tokens", "old.json")+".\nDeleted "+path+".\n")
	e.Run("-p", "old", "project", "current").Expect(t, 0, "Sandbox Project (Project/"+srv.Seed.ProjectID+")\n", "")
	for _, s := range []string{srv.Seed.Client.Secret, sandbox["refreshToken"].(string)} {
		if got := filesWith(t, e.Home, s); len(got) != 0 {
			t.Errorf("a secret is on disk: %v", got)
		}
	}
	base := strings.TrimSuffix(srv.URL, "/")
	e.Run("logout", "--all").Expect(t, 0, "", "Signed out of profile \"ci\": 1 session revoked on "+base+"; local credentials removed.\n"+
		"Signed out of profile \"old\": 1 session revoked on "+base+"; local credentials removed.\n")
	for _, k := range []string{"ci:client_secret", "old:refresh_token:" + srv.Seed.ProjectID} {
		if _, err := keyring.Get("medplum", k); !errors.Is(err, keyring.ErrNotFound) {
			t.Errorf("%s after logout --all: %v", k, err)
		}
	}
}

// Moving a profile from --insecure-storage to the keyring leaves no secret
// in the old file.
func TestRealKeyringReplacesAnInsecureSignIn(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	e.InheritSessionBus()
	signIn(t, e) // --insecure-storage
	old := insecureStore(t, e)["default:refresh_token:"+srv.Seed.ProjectID]
	if old == "" {
		t.Fatal("no refresh token in the file")
	}
	e.RunStdin(pw, "login", "--auth-type", "password", "--email", "ann@example.com", "--password-stdin").
		Expect(t, 0, "", "Signed in to "+srv.URL+" as ann@example.com in project Sandbox Project.\nCredentials are in the system keyring.\n")
	if store := insecureStore(t, e); len(store) != 0 {
		t.Errorf("the file still holds %d secrets", len(store))
	}
	if got := filesWith(t, e.Home, old); len(got) != 0 {
		t.Errorf("the old refresh token is still in %v", got)
	}
	e.Run("logout").ExpectCode(t, 0, "Signed out of profile \"default\": 1 session revoked on "+strings.TrimSuffix(srv.URL, "/")+"; local credentials removed.\n")
}
