//go:build linux

package authcmd_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/medplumcli/medplum/commands/clitest"
)

// Without a D-Bus session bus, godbus would run dbus-launch, which starts a
// dbus-daemon that outlives medplum. A dbus-launch that only leaves a mark
// is first on PATH: no command that reaches for the keyring may run it.
func TestNoSessionBusLaunchesNoDBus(t *testing.T) {
	if _, err := os.Stat(fmt.Sprintf("/run/user/%d/bus", os.Getuid())); err == nil {
		t.Skip("this machine has a session bus at /run/user/<uid>/bus, which the keyring may use")
	}
	srv := newServer(t)
	e := env(t, srv)
	bin := filepath.Join(e.Home, "bin")
	mark := filepath.Join(e.Home, "dbus-launch-ran")
	if err := os.MkdirAll(bin, 0o700); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho ran >> '" + mark + "'\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "dbus-launch"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	e.Set("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	e.Set("XDG_RUNTIME_DIR", filepath.Join(e.Home, "run")) // no bus socket in it

	unavailable := "medplum: the system keyring is not available: no D-Bus session bus (neither DBUS_SESSION_BUS_ADDRESS nor $XDG_RUNTIME_DIR/bus is set up), " +
		"so the Secret Service cannot be reached; sign in with --insecure-storage to keep credentials in a file readable only by you (0600) instead\n"
	e.RunStdin(pw, "login", "--auth-type", "password", "--email", "ann@example.com", "--password-stdin").Expect(t, 1, "", unavailable)
	e.RunStdin(srv.Seed.Client.Secret, "login", "--auth-type", "client-credentials", "--client-id", srv.Seed.Client.ID, "--client-secret-stdin").Expect(t, 1, "", unavailable)

	writeOfficialProfile(t, e.Home, "old", map[string]any{"options": map[string]any{"baseUrl": srv.URL, "clientId": "c", "clientSecret": "s"}})
	e.Run("profile", "import").Expect(t, 1, "", unavailable)

	// A sign-in whose secrets are in the keyring (made on a desktop, say),
	// used where there is no bus: renewing needs the keyring.
	keyringSession(t, e)
	e.Run("whoami").Expect(t, 1, "", unavailable)

	if _, err := os.Stat(mark); err == nil {
		t.Fatal("dbus-launch was run: a dbus-daemon would outlive medplum")
	}
}

// keyringSession signs ann in and then makes the profile's sign-in one whose
// secrets are in the keyring, as if made where a keyring is (the tests have
// none), with no cached access token.
func keyringSession(t *testing.T, e *clitest.Env) {
	t.Helper()
	signIn(t, e)
	path := filepath.Join(e.ConfigDir, "sessions", "default.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sess map[string]any
	if err := json.Unmarshal(data, &sess); err != nil {
		t.Fatal(err)
	}
	sess["storage"] = "keyring"
	data, _ = json.Marshal(sess)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(cacheDir(e), "tokens", "default.json")); err != nil {
		t.Fatal(err)
	}
}

// logout where the keyring of a keyring sign-in cannot be reached: it says
// so once and keeps the sign-in's record, so that signing out where the
// keyring is still finds (and removes) its secrets.
func TestLogoutWithoutTheKeyringKeepsTheSignIn(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	keyringSession(t, e)
	e.Run("logout").Expect(t, 1, "", "medplum: profile \"default\": still signed in: the sign-in's secrets are in the system keyring, which cannot be used here "+
		"(no D-Bus session bus (neither DBUS_SESSION_BUS_ADDRESS nor $XDG_RUNTIME_DIR/bus is set up), so the Secret Service cannot be reached); sign out where it can\n")
	if _, err := os.Stat(filepath.Join(e.ConfigDir, "sessions", "default.json")); err != nil {
		t.Errorf("the sign-in's record is gone: %v", err)
	}
}
