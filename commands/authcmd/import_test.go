package authcmd_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
)

// officialLogin signs in the way the official CLI does (medplum-cli, no
// PKCE) and returns its LoginState.
func officialLogin(t *testing.T, srv *medplumtest.Server, email, password, projectID string) map[string]any {
	t.Helper()
	c, err := client.New(client.Options{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	l, err := auth.PasswordLogin(context.Background(), c, auth.PasswordOptions{Email: email, Password: password, ProjectID: projectID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"project": l.Token.Project, "profile": l.Token.Profile,
		"accessToken": l.Token.AccessToken, "refreshToken": l.Token.RefreshToken}
}

// writeOfficialProfile writes ~/.medplum/<name>.json as the official CLI
// does: pretty JSON whose values are JSON strings.
func writeOfficialProfile(t *testing.T, home, name string, values map[string]any) string {
	t.Helper()
	outer := map[string]string{}
	for k, v := range values {
		b, _ := json.Marshal(v)
		outer[k] = string(b)
	}
	data, _ := json.MarshalIndent(outer, "", "  ")
	dir := filepath.Join(home, ".medplum")
	os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, name+".json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProfileImport(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	e.Unset("MEDPLUM_BASE_URL")
	sandbox := officialLogin(t, srv, srv.Seed.AdminEmail, srv.Seed.AdminPassword, srv.Seed.ProjectID)
	super := officialLogin(t, srv, srv.Seed.AdminEmail, srv.Seed.AdminPassword, srv.Seed.SuperAdminProjectID)
	userFile := writeOfficialProfile(t, e.Home, "local", map[string]any{
		"options":     map[string]any{"name": "local", "baseUrl": srv.URL, "authType": "authorization-code", "scope": "openid offline_access"},
		"activeLogin": sandbox,
		"logins":      []any{super, sandbox},
	})
	ccFile := writeOfficialProfile(t, e.Home, "ci", map[string]any{
		"options": map[string]any{"name": "ci", "baseUrl": srv.URL, "clientId": srv.Seed.Client.ID, "clientSecret": srv.Seed.Client.Secret, "authType": "client-credentials"},
	})
	store := filepath.Join(e.ConfigDir, "secrets", "credentials.json")

	e.Run("profile", "import", "--insecure-storage").Expect(t, 0, "",
		"Imported profile ci from "+ccFile+": settings, and client secret into the "+store+".\n"+
			ccFile+" still holds these secrets in plain text: delete it (or run again with --delete-source).\n"+
			"Imported profile local from "+userFile+": settings, and 2 project logins into the "+store+".\n"+
			userFile+" still holds these secrets in plain text: delete it (or run again with --delete-source).\n")

	e.Run("-p", "local", "project", "current").Expect(t, 0, "Sandbox Project (Project/"+srv.Seed.ProjectID+")\n", "")
	e.Run("-p", "local", "project", "switch", srv.Seed.SuperAdminProjectID).Expect(t, 0, "", "Switched to project Super Admin (Project/"+srv.Seed.SuperAdminProjectID+").\n")
	e.Run("-p", "local", "project", "current").Expect(t, 0, "Super Admin (Project/"+srv.Seed.SuperAdminProjectID+")\n", "")
	e.Run("-p", "ci", "project", "current").Expect(t, 0, "Sandbox Project (Project/"+srv.Seed.ProjectID+")\n", "")
	e.Run("profile", "list").Expect(t, 0, "CURRENT\tNAME\tBASE URL\tCLIENT ID\tAUTH TYPE\n"+
		"\tci\t"+srv.URL+"\t"+srv.Seed.Client.ID+"\tclient-credentials\n"+
		"\tlocal\t"+srv.URL+"\t\tauthorization-code\n", "")
	cfg, _ := os.ReadFile(filepath.Join(e.ConfigDir, "config.yaml"))
	for _, secret := range []string{srv.Seed.Client.Secret, sandbox["refreshToken"].(string), super["refreshToken"].(string)} {
		if strings.Contains(string(cfg), secret) {
			t.Error("a secret went to config.yaml")
		}
	}

	// Existing profiles are not replaced without --force; --delete-source
	// removes the old file.
	e.Run("profile", "import", "ci", "--insecure-storage").Expect(t, 1, "", "medplum: "+ccFile+": profile \"ci\" already exists (--force replaces it)\n")
	e.Run("profile", "import", "ci", "--force", "--delete-source", "--insecure-storage").Expect(t, 0, "",
		"Imported profile ci from "+ccFile+": settings, and client secret into the "+store+".\nDeleted "+ccFile+".\n")
	if _, err := os.Stat(ccFile); !os.IsNotExist(err) {
		t.Errorf("%s still exists", ccFile)
	}
	e.Run("profile", "import", "nope", "--insecure-storage").Expect(t, 1, "", "medplum: "+filepath.Join(e.Home, ".medplum", "nope.json")+": no such file or directory\n")
	os.WriteFile(filepath.Join(e.Home, ".medplum", "empty.json"), []byte("{}"), 0o644)
	e.Run("profile", "import", "empty", "--insecure-storage").Expect(t, 1, "", "medplum: "+filepath.Join(e.Home, ".medplum", "empty.json")+": the profile holds no settings and no login\n")
	// Without a keyring and without --insecure-storage nothing is imported.
	e.Run("profile", "import", "local", "--force").ExpectCode(t, 1, "medplum: the system keyring is not available: no D-Bus session bus (neither DBUS_SESSION_BUS_ADDRESS nor $XDG_RUNTIME_DIR/bus is set up), "+
		"so the Secret Service cannot be reached; sign in with --insecure-storage to keep credentials in a file readable only by you (0600) instead\n")
}
