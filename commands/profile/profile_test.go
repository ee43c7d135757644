package profile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m) }

func configFile(e *clitest.Env) string { return filepath.Join(e.ConfigDir, "config.yaml") }

func TestSetListUseRemove(t *testing.T) {
	e := clitest.New(t)
	e.Run("profile", "list").Expect(t, 0, "CURRENT\tNAME\tBASE URL\tCLIENT ID\tAUTH TYPE\n", "")
	e.Run("profile", "list", "-o", "json").Expect(t, 0, "[]\n", "")

	e.Run("profile", "set", "staging", "--base-url", "https://staging.example.com/", "--client-id", "cid-1", "--fhir-url", "fhir/R4x").
		Expect(t, 0, "", "Created profile staging in "+configFile(e)+"\n")
	e.Run("profile", "set", "staging", "--scope", "openid", "--auth-type", "client-credentials").
		Expect(t, 0, "", "Updated profile staging in "+configFile(e)+"\n")
	e.Run("profile", "set", "local", "--base-url", "http://localhost:8103/").
		Expect(t, 0, "", "Created profile local in "+configFile(e)+"\n")

	data, err := os.ReadFile(configFile(e))
	if err != nil {
		t.Fatal(err)
	}
	want := `# medplum settings. Secrets are never stored here.
profiles:
  local:
    base_url: http://localhost:8103/
  staging:
    base_url: https://staging.example.com/
    fhir_url_path: fhir/R4x
    client_id: cid-1
    auth_type: client-credentials
    scope: openid
`
	if string(data) != want {
		t.Errorf("config.yaml:\n%s\nwant:\n%s", data, want)
	}
	for path, mode := range map[string]os.FileMode{e.ConfigDir: 0o700, configFile(e): 0o600} {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v (%v)", path, st.Mode().Perm(), mode, err)
		}
	}

	e.Run("profile", "list").Expect(t, 0, "CURRENT\tNAME\tBASE URL\tCLIENT ID\tAUTH TYPE\n"+
		"\tlocal\thttp://localhost:8103/\t\t\n"+
		"\tstaging\thttps://staging.example.com/\tcid-1\tclient-credentials\n", "")
	e.Run("profile", "use", "staging").Expect(t, 0, "", "Now using profile staging\n")
	e.Run("profile", "list", "--columns", "name,current,scope", "--no-header", "-o", "csv").
		Expect(t, 0, "local,,\nstaging,*,openid\n", "")
	e.Run("profile", "list", "-o", "ndjson").Expect(t, 0,
		`{"name":"local","current":false,"base_url":"http://localhost:8103/"}`+"\n"+
			`{"name":"staging","current":true,"base_url":"https://staging.example.com/","fhir_url_path":"fhir/R4x","client_id":"cid-1","auth_type":"client-credentials","scope":"openid"}`+"\n", "")
}

func TestListTableOnTerminal(t *testing.T) {
	e := clitest.New(t)
	e.Run("profile", "set", "staging", "--base-url", "https://staging.example.com/", "--client-id", "cid-1")
	e.Run("profile", "use", "staging")
	e.Set("MEDPLUM_FORCE_TTY", "100")
	e.Run("profile", "list").Expect(t, 0,
		"CURRENT  NAME     BASE URL                      CLIENT ID  AUTH TYPE\n"+
			"*        staging  https://staging.example.com/  cid-1\n", "")
}

func TestRemoveAndUseErrors(t *testing.T) {
	e := clitest.New(t)
	e.Run("profile", "set", "a")
	e.Run("profile", "use", "a")
	e.Run("profile", "remove", "a").Expect(t, 0, "", "Removed profile a\n")
	e.Run("profile", "remove", "a").Expect(t, 2, "", "medplum: profile \"a\" does not exist\nrun: medplum profile list\n")
	e.Run("profile", "use", "b").Expect(t, 2, "", "medplum: profile \"b\" does not exist\nrun: medplum profile list\n")
	e.Run("profile", "use", "default").Expect(t, 0, "", "Now using profile default\n")
	e.Run("profile", "set", "bad/name").Expect(t, 2, "", "medplum: invalid profile name \"bad/name\": use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit)\n")
	e.Run("profile", "set", "x", "--base-url", "api.medplum.com").Expect(t, 2, "",
		"medplum: invalid base URL \"api.medplum.com\": it must be an absolute http(s) URL such as https://api.medplum.com/\n")
	// A password in the base URL is refused wherever the URL comes from,
	// and the message does not repeat it.
	e.Run("profile", "set", "x", "--base-url", "https://admin:pw-s3cr3t@medplum.example.com/").Expect(t, 2, "",
		"medplum: invalid base URL \"https://admin:[REDACTED]@medplum.example.com/\": a password in the URL would be kept in the settings file and shown wherever the URL is\n"+
			"remove user:password@ from the URL; medplum signs in with medplum login\n")
	e.Set("MEDPLUM_BASE_URL", "https://admin:pw-s3cr3t@medplum.example.com/")
	e.Run("get", "Patient").Expect(t, 2, "",
		"medplum: invalid base URL \"https://admin:[REDACTED]@medplum.example.com/\": a password in the URL would be kept in the settings file and shown wherever the URL is\n"+
			"remove user:password@ from the URL; medplum signs in with medplum login\n")
	e.Set("MEDPLUM_BASE_URL", "https://admin:pw-s3cr3t@[bad/")
	e.Run("get", "Patient").Expect(t, 2, "",
		"medplum: invalid base URL \"https://admin:[REDACTED]@[bad/\": it must be an absolute http(s) URL such as https://api.medplum.com/\n")
	e.Set("MEDPLUM_BASE_URL", "")
	e.Run("-p", "ghost", "profile", "describe").Expect(t, 2, "", "medplum: profile \"ghost\" does not exist\nrun: medplum profile list\n")
	e.Set("MEDPLUM_PROFILE", "ghost")
	e.Run("profile", "describe").Expect(t, 2, "", "medplum: profile \"ghost\" does not exist\nrun: medplum profile list\n")
}

func TestSetRefusesSecrets(t *testing.T) {
	e := clitest.New(t)
	r := e.Run("profile", "set", "x", "--client-secret", "s3cr3t-value")
	r.Expect(t, 2, "", "medplum: warning: --client-secret is visible to other users in the process list; prefer MEDPLUM_CLIENT_SECRET\n"+
		"medplum: --client-secret cannot be stored in a profile: the settings file never holds secrets\n"+
		"pass it at run time in MEDPLUM_CLIENT_SECRET instead\n")
	if _, err := os.Stat(configFile(e)); !os.IsNotExist(err) {
		t.Errorf("the settings file was written: %v", err)
	}
}

// Precedence flag > environment > profile > default, one setting per layer,
// as the user sees it in `profile describe`.
func TestPrecedence(t *testing.T) {
	e := clitest.New(t)
	e.Run("profile", "set", "p", "--base-url", "https://profile.example/", "--fhir-url-path", "fhir/profile",
		"--token-url", "https://profile.example/token", "--client-id", "profile-id")
	e.Set("MEDPLUM_PROFILE", "p")
	e.Set("MEDPLUM_BASE_URL", "https://env.example/")
	e.Set("MEDPLUM_FHIR_URL_PATH", "fhir/env")
	e.Set("MEDPLUM_CLIENT_SECRET", "env-secret-value-1")
	e.Set("MEDPLUM_CLIENT_ACCESS_TOKEN", "env-token-value-2")
	r := e.Run("profile", "describe", "--base-url", "https://flag.example/")
	r.Expect(t, 0, "SETTING\tVALUE\tSOURCE\n"+
		"base_url\thttps://flag.example/\tflag --base-url\n"+
		"fhir_url_path\tfhir/env\tenv MEDPLUM_FHIR_URL_PATH\n"+
		"token_url\thttps://profile.example/token\tprofile\n"+
		"authorize_url\toauth2/authorize\tdefault\n"+
		"client_id\tprofile-id\tprofile\n"+
		"client_secret\t(hidden)\tenv MEDPLUM_CLIENT_SECRET\n"+
		"access_token\t(hidden)\tenv MEDPLUM_CLIENT_ACCESS_TOKEN\n"+
		"auth_type\t\t\n"+
		"scope\t\t\n"+
		"app_url\thttps://app.medplum.com/\tdefault\n", "")
	r.NotContains(t, "env-secret-value-1", "env-token-value-2")

	r = e.Run("profile", "describe", "-o", "json", "--client-secret", "flag-secret-value-3")
	out := r.ExpectCode(t, 0, "medplum: warning: --client-secret is visible to other users in the process list; prefer MEDPLUM_CLIENT_SECRET\n")
	r.NotContains(t, "env-secret-value-1", "env-token-value-2", "flag-secret-value-3")
	if !strings.Contains(out, `"name": "client_secret",
      "value": "(hidden)",
      "source": "flag"`) {
		t.Errorf("describe -o json:\n%s", out)
	}
	// The profile layer wins over the default once the environment is gone.
	e.Unset("MEDPLUM_BASE_URL").Unset("MEDPLUM_FHIR_URL_PATH")
	e.Run("profile", "describe", "p", "--columns", "setting,value", "--no-header").Expect(t, 0,
		"base_url\thttps://profile.example/\n"+
			"fhir_url_path\tfhir/profile\n"+
			"token_url\thttps://profile.example/token\n"+
			"authorize_url\toauth2/authorize\n"+
			"client_id\tprofile-id\n"+
			"client_secret\t(hidden)\n"+
			"access_token\t(hidden)\n"+
			"auth_type\t\n"+
			"scope\t\n"+
			"app_url\thttps://app.medplum.com/\n", "")
	data, _ := os.ReadFile(configFile(e))
	for _, s := range []string{"env-secret-value-1", "env-token-value-2", "flag-secret-value-3"} {
		if strings.Contains(string(data), s) {
			t.Errorf("the settings file holds %q", s)
		}
	}
}

func TestLoadRefusesSecretInFile(t *testing.T) {
	e := clitest.New(t)
	os.MkdirAll(e.ConfigDir, 0o700)
	os.WriteFile(configFile(e), []byte("profiles:\n  a:\n    client_secret: hand-written\n"), 0o600)
	r := e.Run("profile", "list")
	r.Expect(t, 2, "", "medplum: "+configFile(e)+": profile \"a\" holds client_secret, but the settings file never holds secrets\n"+
		"remove it from the file and pass it in the environment instead (medplum help environment)\n")
	r.NotContains(t, "hand-written")
}

// A signed-in profile is not removed: its secrets would stay behind with
// nothing to find them by. After logout it is.
func TestRemoveSignedInProfile(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.New(t)
	e.Set("MEDPLUM_CACHE_DIR", filepath.Join(e.Home, "cache"))
	e.Run("profile", "set", "ci", "--base-url", srv.URL).Expect(t, 0, "", "Created profile ci in "+configFile(e)+"\n")
	store := filepath.Join(e.ConfigDir, "secrets", "credentials.json")
	e.RunStdin(srv.Seed.Client.Secret, "-p", "ci", "login", "--auth-type", "client-credentials",
		"--client-id", srv.Seed.Client.ID, "--client-secret-stdin", "--insecure-storage").Expect(t, 0, "",
		"Signed in to "+srv.URL+" as Sandbox Project Admin Client (ClientApplication/"+srv.Seed.Client.ID+") in project Sandbox Project.\n"+
			"Credentials are stored in plain text in "+store+" (readable only by you), as --insecure-storage asked.\n")
	holds := func() bool {
		data, err := os.ReadFile(store)
		return err == nil && strings.Contains(string(data), srv.Seed.Client.Secret)
	}
	if !holds() {
		t.Fatal("the login stored no secret: the test proves nothing")
	}
	e.Run("profile", "remove", "ci").Expect(t, 2, "",
		"medplum: profile \"ci\" is signed in to "+srv.URL+": sign out first, so its credentials do not stay behind\nrun: medplum -p ci logout\n")
	e.Run("profile", "list", "--columns", "name", "--no-header").Expect(t, 0, "ci\n", "")
	e.Run("-p", "ci", "logout").Expect(t, 0, "", "Signed out of profile \"ci\": 1 session revoked on "+strings.TrimSuffix(srv.URL, "/")+"; local credentials removed.\n")
	if holds() {
		t.Fatal("logout left the secret")
	}
	e.Run("profile", "remove", "ci").Expect(t, 0, "", "Removed profile ci\n")
}
