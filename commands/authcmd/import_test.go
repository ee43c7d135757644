package authcmd_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

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
	cfgFile := filepath.Join(e.ConfigDir, "config.yaml")

	e.Run("profile", "import", "--insecure-storage").Expect(t, 0, "",
		"Imported profile ci from "+ccFile+": settings into "+cfgFile+"; the client secret into "+store+".\n"+
			ccFile+" still holds these secrets in plain text: delete it (or run again with --delete-source).\n"+
			"Imported profile local from "+userFile+": settings into "+cfgFile+"; 2 project logins, their refresh tokens into "+store+
			" and the access token into "+filepath.Join(cacheDir(e), "tokens", "local.json")+".\n"+
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
		"Imported profile ci from "+ccFile+": settings into "+cfgFile+"; the client secret into "+store+".\nDeleted "+ccFile+".\n")
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

// The official CLI's browser sign-in asked only for scope openid before
// 5.1.29 (reference medplum.md 1.5): such a login has no refresh token and
// ends with its access token, within the hour. profile import says so,
// and says where the token went (not into the secret store: nothing did).
func TestProfileImportOpenIDLogin(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	e.Unset("MEDPLUM_BASE_URL")
	login := officialLogin(t, srv, srv.Seed.AdminEmail, srv.Seed.AdminPassword, srv.Seed.ProjectID)
	delete(login, "refreshToken")
	file := writeOfficialProfile(t, e.Home, "old", map[string]any{
		"options":     map[string]any{"name": "old", "baseUrl": srv.URL},
		"activeLogin": login,
		"logins":      []any{login},
	})
	exp := jwtExp(t, login["accessToken"].(string))
	e.Set("TZ", "UTC") // the time the warning shows
	r := e.Run("profile", "import", "old", "--insecure-storage")
	// The token was issued a moment ago, for an hour.
	minutes := regexp.MustCompile(`\(in (59|58|57) minutes\)`)
	if !minutes.MatchString(r.Stderr) {
		t.Errorf("how long the login lasts: %s", r.Stderr)
	}
	r.Stderr = minutes.ReplaceAllString(r.Stderr, "(in N minutes)")
	r.Expect(t, 0, "",
		"Imported profile old from "+file+": settings into "+filepath.Join(e.ConfigDir, "config.yaml")+"; 1 project login, the access token into "+filepath.Join(cacheDir(e), "tokens", "old.json")+".\n"+
			"medplum: warning: profile old: the official CLI signed in with scope openid only, so there is no refresh token to renew the sign-in: "+
			"it stops working when its access token expires, at "+exp.UTC().Format("15:04")+" (in N minutes); then sign in again: medplum -p old login\n"+
			file+" still holds these secrets in plain text: delete it (or run again with --delete-source).\n")
	if _, err := os.Stat(filepath.Join(e.ConfigDir, "secrets", "credentials.json")); !os.IsNotExist(err) {
		t.Errorf("something went into the secret store: %v", err)
	}
	e.Run("-p", "old", "project", "current").Expect(t, 0, "Sandbox Project (Project/"+srv.Seed.ProjectID+")\n", "")

	// An expired one is said to be of no use.
	login["accessToken"] = unsignedJWT(t, time.Now().Add(-time.Minute))
	file = writeOfficialProfile(t, e.Home, "older", map[string]any{"options": map[string]any{"baseUrl": srv.URL}, "activeLogin": login})
	e.Run("profile", "import", "older", "--insecure-storage", "--delete-source").Expect(t, 0, "",
		"Imported profile older from "+file+": settings into "+filepath.Join(e.ConfigDir, "config.yaml")+"; 1 project login, with no token that still works.\n"+
			"medplum: warning: profile older: the official CLI signed in with scope openid only, so there is no refresh token to renew the sign-in: "+
			"its access token has expired, so it no longer works; sign in again: medplum -p older login\n"+
			"Deleted "+file+".\n")
}

// jwtExp reads a JWT's exp claim.
func jwtExp(t *testing.T, tok string) time.Time {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Exp int64 }
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp == 0 {
		t.Fatalf("exp of %s: %v", payload, err)
	}
	return time.Unix(claims.Exp, 0)
}

// unsignedJWT is a token that expires at exp (its signature is not valid).
func unsignedJWT(t *testing.T, exp time.Time) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256"}`)) + "." + enc([]byte(fmt.Sprintf(`{"exp":%d}`, exp.Unix()))) + ".c2ln"
}
