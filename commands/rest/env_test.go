package rest_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// Each of the official CLI's variables is used, beats the profile and loses
// to its flag, seen in the requests the server receives (TestPrecedence in
// commands/profile shows the same through profile describe;
// MEDPLUM_AUTHORIZE_URL is checked with the browser sign-in in authcmd).
func TestEveryOfficialVariable(t *testing.T) {
	srv := medplumtest.NewServer(t)
	homer := id(srv.Seed.Homer.Profile)
	get := []string{"get", "Patient/" + homer, "-o", "csv", "--no-header", "--columns", "id"}
	e := clitest.New(t)
	e.Run("profile", "set", "p", "--base-url", "http://127.0.0.1:1/", "--fhir-url-path", "fhir/P",
		"--token-url", srv.URL+"oauth2/token?via=profile", "--client-id", "profile-client").
		ExpectCode(t, 0, "Created profile p in "+filepath.Join(e.ConfigDir, "config.yaml")+"\n")
	e.Set("MEDPLUM_PROFILE", "p")

	// MEDPLUM_BASE_URL, MEDPLUM_FHIR_URL_PATH (and their flags) shape the URL.
	e.Set("MEDPLUM_BASE_URL", srv.URL).Set("MEDPLUM_FHIR_URL_PATH", "fhir/E")
	dry := func(args ...string) string {
		t.Helper()
		out := e.Run(append([]string{"delete", "Patient/1", "--dry-run"}, args...)...).ExpectCode(t, 0, "")
		first, _, _ := strings.Cut(out, "\n")
		return first
	}
	if got := dry(); got != "DELETE "+srv.URL+"fhir/E/Patient/1" {
		t.Errorf("env: %s", got)
	}
	if got := dry("--base-url", "http://flag.example/", "--fhir-url-path", "fhir/F"); got != "DELETE http://flag.example/fhir/F/Patient/1" {
		t.Errorf("flags: %s", got)
	}
	e.Unset("MEDPLUM_FHIR_URL_PATH")
	get = append(get, "--fhir-url-path", "fhir/R4")

	// MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET beat the profile's client
	// id; MEDPLUM_TOKEN_URL beats the profile's token URL (a server that
	// refuses Basic credentials, so that a token is asked for).
	srv.SetBasicAuth(false)
	tokenQueries := func() []string {
		var q []string
		for _, r := range srv.RequestsTo("POST", "/oauth2/token") {
			q = append(q, r.RawQuery)
		}
		srv.ResetRequests()
		return q
	}
	e.Set("MEDPLUM_CLIENT_SECRET", srv.Seed.Client.Secret)
	e.Run(get...).Expect(t, 4, "", "medplum: client credentials sign-in for client profile-client failed: Invalid client (invalid_request)\n"+
		"check the client id of profile \"p\" and MEDPLUM_CLIENT_SECRET: the credentials come from there, not from medplum login\n")
	if q := tokenQueries(); len(q) != 1 || q[0] != "via=profile" {
		t.Errorf("token requests with the profile's token URL: %q", q)
	}
	e.Set("MEDPLUM_CLIENT_ID", srv.Seed.Client.ID).Set("MEDPLUM_TOKEN_URL", srv.URL+"oauth2/token?via=env")
	e.Run(get...).Expect(t, 0, homer+"\n", "")
	if q := tokenQueries(); len(q) != 1 || q[0] != "via=env" {
		t.Errorf("token requests with MEDPLUM_TOKEN_URL: %q", q)
	}

	// Their flags beat them.
	e.Set("MEDPLUM_CLIENT_ID", "env-client").Set("MEDPLUM_CLIENT_SECRET", "env-secret")
	r := e.Run(append(get, "--client-id", srv.Seed.Client.ID, "--client-secret", srv.Seed.Client.Secret,
		"--token-url", srv.URL+"oauth2/token?via=flag")...)
	r.Expect(t, 0, homer+"\n", "medplum: warning: --client-secret is visible to other users in the process list; prefer MEDPLUM_CLIENT_SECRET\n")
	if q := tokenQueries(); len(q) != 1 || q[0] != "via=flag" {
		t.Errorf("token requests with --token-url: %q", q)
	}

	// MEDPLUM_CLIENT_ACCESS_TOKEN is used as it is, before any client
	// credentials: no token request.
	token := srv.IssueToken(srv.Seed.Client.MembershipID)
	e.Set("MEDPLUM_CLIENT_ID", srv.Seed.Client.ID).Set("MEDPLUM_CLIENT_SECRET", srv.Seed.Client.Secret).
		Set("MEDPLUM_CLIENT_ACCESS_TOKEN", token)
	e.Run(get...).Expect(t, 0, homer+"\n", "")
	reqs := srv.RequestsTo("GET", "/fhir/R4/Patient/"+homer)
	if len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "Bearer "+token {
		t.Errorf("requests with MEDPLUM_CLIENT_ACCESS_TOKEN: %+v", reqs)
	}
	if q := tokenQueries(); len(q) != 0 {
		t.Errorf("token requests with MEDPLUM_CLIENT_ACCESS_TOKEN: %q", q)
	}
}
