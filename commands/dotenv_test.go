package commands_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// As the official CLI, medplum reads the connection settings from ./.env
// (the directory it runs in): the environment wins, MEDPLUM_NO_DOTENV=1
// turns the file off, and the file is never written.
func TestDotenv(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.New(t)
	dotenv := "# CI credentials\n" +
		"export MEDPLUM_BASE_URL=" + srv.URL + "\n" +
		"MEDPLUM_CLIENT_ID='" + srv.Seed.Client.ID + "'\n" +
		"MEDPLUM_CLIENT_SECRET=\"" + srv.Seed.Client.Secret + "\"   # from the vault\n" +
		"MEDPLUM_CACHE_DIR=" + filepath.Join(e.Home, "elsewhere") + "\n" +
		"DATABASE_URL=postgres://localhost/app\n"
	path := filepath.Join(e.Home, ".env")
	if err := os.WriteFile(path, []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}

	out := e.Run("get", "Project/"+srv.Seed.ProjectID).ExpectCode(t, 0, "")
	if !strings.Contains(out, `"name": "`+srv.Seed.ProjectName+`"`) {
		t.Errorf("get with the .env's credentials:\n%s", out)
	}
	e.Run("profile", "describe", "--columns", "setting,source").Expect(t, 0,
		"SETTING\tSOURCE\n"+
			"base_url\t.env MEDPLUM_BASE_URL\n"+
			"fhir_url_path\tdefault\n"+
			"token_url\tdefault\n"+
			"authorize_url\tdefault\n"+
			"client_id\t.env MEDPLUM_CLIENT_ID\n"+
			"client_secret\t.env MEDPLUM_CLIENT_SECRET\n"+
			"access_token\t\n"+
			"auth_type\t\n"+
			"scope\t\n"+
			"app_url\tdefault\n", "")
	// The environment wins, even an empty variable.
	e.Set("MEDPLUM_CLIENT_SECRET", "wrong-secret")
	e.Run("get", "Project/"+srv.Seed.ProjectID).ExpectCode(t, 4,
		"medplum: client credentials sign-in for client "+srv.Seed.Client.ID+" failed: Invalid secret (invalid_request)\n"+
			"check MEDPLUM_CLIENT_ID in "+path+" and MEDPLUM_CLIENT_SECRET: the credentials come from there, not from medplum login\n")
	e.Set("MEDPLUM_CLIENT_SECRET", "")
	e.Set("MEDPLUM_BASE_URL", "")
	e.Run("profile", "describe", "--columns", "setting,value,source", "--no-header").Expect(t, 0,
		"base_url\thttps://api.medplum.com/\tdefault\n"+
			"fhir_url_path\tfhir/R4\tdefault\n"+
			"token_url\toauth2/token\tdefault\n"+
			"authorize_url\toauth2/authorize\tdefault\n"+
			"client_id\t"+srv.Seed.Client.ID+"\t.env MEDPLUM_CLIENT_ID\n"+
			"client_secret\t\t\n"+
			"access_token\t\t\n"+
			"auth_type\t\t\n"+
			"scope\t\t\n"+
			"app_url\thttps://app.medplum.com/\tdefault\n", "")

	// MEDPLUM_NO_DOTENV=1: no .env at all.
	e.Unset("MEDPLUM_CLIENT_SECRET").Unset("MEDPLUM_BASE_URL").Set("MEDPLUM_NO_DOTENV", "1")
	e.Run("profile", "describe", "--columns", "setting,source", "--no-header").Expect(t, 0,
		"base_url\tdefault\nfhir_url_path\tdefault\ntoken_url\tdefault\nauthorize_url\tdefault\n"+
			"client_id\t\nclient_secret\t\naccess_token\t\nauth_type\t\nscope\t\napp_url\tdefault\n", "")

	// A client-credentials sign-in with the .env's secret stores nothing
	// secret; one with a secret from stdin caches its token in the default
	// cache directory, not in the one the .env names.
	e.Unset("MEDPLUM_NO_DOTENV").Run("login", "--auth-type", "client-credentials", "--insecure-storage").ExpectCode(t, 0,
		"Signed in to "+srv.URL+" as Sandbox Project Admin Client (ClientApplication/"+srv.Seed.Client.ID+") in project "+srv.Seed.ProjectName+".\n"+
			"The client secret came from MEDPLUM_CLIENT_SECRET in .env, so nothing secret was stored: keep it set for later commands, or pipe it to --client-secret-stdin to store it.\n")
	e.RunStdin(srv.Seed.Client.Secret, "login", "--auth-type", "client-credentials", "--insecure-storage", "--client-secret-stdin").ExpectCode(t, 0,
		"Signed in to "+srv.URL+" as Sandbox Project Admin Client (ClientApplication/"+srv.Seed.Client.ID+") in project "+srv.Seed.ProjectName+".\n"+
			"Credentials are stored in plain text in "+filepath.Join(e.ConfigDir, "secrets", "credentials.json")+" (readable only by you), as --insecure-storage asked.\n")
	if _, err := os.Stat(filepath.Join(e.Home, ".cache", "medplum", "tokens", "default.json")); err != nil {
		t.Errorf("the token is not in the default cache directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.Home, "elsewhere")); !os.IsNotExist(err) {
		t.Errorf("the .env chose the cache directory: %v", err)
	}

	if got, err := os.ReadFile(path); err != nil || string(got) != dotenv {
		t.Errorf(".env changed: %q %v", got, err)
	}
}
