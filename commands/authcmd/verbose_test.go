package authcmd_test

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// secretsSent collects every secret value the CLI sent to the server: the
// authorization codes, verifiers, refresh tokens and client secrets in token
// requests, and the bearer tokens in headers.
func secretsSent(srv *medplumtest.Server) []string {
	var out []string
	for _, r := range srv.Requests() {
		if r.Path == "/oauth2/token" {
			form, _ := url.ParseQuery(string(r.Body))
			for _, k := range []string{"code", "code_verifier", "refresh_token", "client_secret", "client_assertion"} {
				if v := form.Get(k); v != "" {
					out = append(out, v)
				}
			}
		}
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
			out = append(out, strings.TrimPrefix(h, "Bearer "))
		}
	}
	return out
}

// No token, code, secret or password appears in any output, --verbose
// traces included.
func TestVerboseTracesHoldNoSecrets(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	var runs []clitest.Result
	run := func(stdin string, args ...string) {
		r := e.RunStdin(stdin, args...)
		if r.Code != 0 {
			t.Fatalf("medplum %v: %d %s", args, r.Code, r.Stderr)
		}
		runs = append(runs, r)
	}
	run(pw, "-v", "login", "--auth-type", "password", "--email", "ann@example.com", "--password-stdin", "--insecure-storage")
	os.Remove(filepath.Join(cacheDir(e), "tokens", "default.json")) // the next command refreshes
	run("", "-v", "whoami")
	run("", "-v", "project", "current")
	run(srv.Seed.Client.Secret, "-v", "-p", "ci", "login", "--auth-type", "client-credentials", "--client-id", srv.Seed.Client.ID, "--client-secret-stdin", "--insecure-storage")
	run("", "-v", "-p", "ci", "get", "Patient")
	run("", "-v", "logout", "--all")
	// The authenticator code goes to auth/mfa/verify as "token".
	srv.AddUser(medplumtest.UserSpec{Email: "mfa@example.com", Password: pw, MFASecret: medplumtest.TOTPSecret})
	code := medplumtest.TOTP(medplumtest.TOTPSecret, time.Now())
	run(pw, "-v", "-p", "mfa", "login", "--auth-type", "password", "--email", "mfa@example.com", "--password-stdin", "--mfa-code", code, "--insecure-storage")
	mfa := runs[len(runs)-1].Stderr
	if !regexp.MustCompile(`(?m)^> body: \{"login":"[^"]+","token":"` + regexp.QuoteMeta(client.Redacted) + `"\}$`).MatchString(mfa) {
		t.Errorf("the trace shows no redacted auth/mfa/verify body:\n%s", mfa)
	}
	for _, line := range strings.Split(mfa, "\n") {
		if strings.HasPrefix(line, "> ") && strings.Contains(line, code) {
			t.Errorf("a request in the trace shows the authenticator code %s: %s", code, line)
		}
	}

	if !strings.Contains(runs[0].Stderr, "POST "+srv.URL+"auth/login") || !strings.Contains(runs[1].Stderr, "POST "+srv.URL+"oauth2/token") {
		t.Fatalf("the trace does not show the requests:\n%s\n%s", runs[0].Stderr, runs[1].Stderr)
	}
	secrets := append(secretsSent(srv), pw, srv.Seed.Client.Secret)
	if len(secrets) < 8 {
		t.Fatalf("only %d secrets collected; the test would prove little", len(secrets))
	}
	for _, r := range runs {
		r.NotContains(t, secrets...)
	}
}
