package authcmd_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
)

const pw = "correct horse battery"

func newServer(t *testing.T, opts ...medplumtest.Option) *medplumtest.Server {
	srv := medplumtest.NewServer(t, opts...)
	srv.SetLoginRateLimit(1000, time.Minute)
	srv.AddUser(medplumtest.UserSpec{Email: "ann@example.com", Password: pw, FirstName: "Ann", LastName: "Lee"})
	return srv
}

func TestLoginPasswordThenWhoamiAndToken(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	ann := srv.MembershipByEmail(srv.Seed.ProjectID, "ann@example.com")

	e.RunStdin(pw+"\n", "login", "--auth-type", "password", "--email", "ann@example.com", "--password-stdin", "--insecure-storage").
		Expect(t, 0, "", "Signed in to "+srv.URL+" as ann@example.com in project Sandbox Project.\n"+
			"Credentials are stored in plain text in "+filepath.Join(e.ConfigDir, "secrets", "credentials.json")+
			" (readable only by you), as --insecure-storage asked.\n")

	e.Run("whoami").Expect(t, 0, "Server:      "+srv.URL+"\n"+
		"User:        ann@example.com\n"+
		"Profile:     Ann Lee ("+ann.Ref("profile")+")\n"+
		"Project:     Sandbox Project (Project/"+srv.Seed.ProjectID+")\n"+
		"Membership:  ProjectMembership/"+ann.ID()+" (member)\n"+
		"Credentials: password sign-in of profile \"default\", secrets in "+filepath.Join(e.ConfigDir, "secrets", "credentials.json")+" (--insecure-storage)\n", "")

	// The profile remembers the server and the auth type; no secret in it.
	cfg, _ := os.ReadFile(filepath.Join(e.ConfigDir, "config.yaml"))
	if string(cfg) != "# medplum settings. Secrets are never stored here.\nprofiles:\n  default:\n    base_url: "+srv.URL+"\n    auth_type: password\n" {
		t.Errorf("config.yaml:\n%s", cfg)
	}

	tok := strings.TrimSpace(e.Run("token").ExpectCode(t, 0, ""))
	req, _ := http.NewRequest("GET", srv.URL+"auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the printed token does not work: %v %v", resp, err)
	}

	// Where each secret is: the refresh token only in the 0600 file, the
	// access token only in the 0600 cache, the password nowhere.
	rt := insecureStore(t, e)["default:refresh_token:"+srv.Seed.ProjectID]
	if rt == "" || !srv.RefreshTokenCurrent(rt) {
		t.Fatal("no current refresh token stored")
	}
	if got := filesWith(t, e.Home, rt); strings.Join(got, ",") != "config/secrets/credentials.json" {
		t.Errorf("refresh token found in %v", got)
	}
	if got := filesWith(t, e.Home, tok); strings.Join(got, ",") != "cache/tokens/default.json" {
		t.Errorf("access token found in %v", got)
	}
	if got := filesWith(t, e.Home, pw); len(got) != 0 {
		t.Errorf("password found in %v", got)
	}
	if runtime.GOOS != "windows" {
		for path, want := range map[string]os.FileMode{
			filepath.Join(e.ConfigDir, "secrets"):                     0o700,
			filepath.Join(e.ConfigDir, "secrets", "credentials.json"): 0o600,
			filepath.Join(cacheDir(e), "tokens", "default.json"):      0o600,
			filepath.Join(cacheDir(e), "tokens"):                      0o700,
		} {
			if got := mode(t, path); got != want {
				t.Errorf("%s: mode %o, want %o", path, got, want)
			}
		}
	}
}

func TestLoginWithoutKeyringNamesInsecureStorage(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv) // clitest hides the D-Bus session: no keyring
	e.RunStdin(pw, "login", "--auth-type", "password", "--email", "ann@example.com", "--password-stdin").
		Expect(t, 1, "", "medplum: the system keyring is not available: no D-Bus session bus (neither DBUS_SESSION_BUS_ADDRESS nor $XDG_RUNTIME_DIR/bus is set up), "+
			"so the Secret Service cannot be reached; sign in with --insecure-storage to keep credentials in a file readable only by you (0600) instead\n")
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r.Path, "/auth/") {
			t.Errorf("%s %s was sent although nothing could be stored", r.Method, r.Path)
		}
	}
	if _, err := os.Stat(e.ConfigDir); !os.IsNotExist(err) {
		t.Errorf("the config dir was created: %v", err)
	}
}

func TestLoginPasswordFailures(t *testing.T) {
	srv := newServer(t)
	srv.AddUser(medplumtest.UserSpec{Email: "mfa@example.com", Password: pw, MFASecret: medplumtest.TOTPSecret})
	e := env(t, srv)
	login := func(_ string, args ...string) []string {
		return append([]string{"login", "--auth-type", "password", "--insecure-storage"}, args...)
	}
	e.RunStdin("wrong horse", login("", "--email", "ann@example.com", "--password-stdin")...).
		Expect(t, 4, "", "medplum: sign-in refused: Email or password is invalid\nnothing was stored; run medplum login again\n")
	e.RunStdin(pw, login("", "--email", "nobody@example.com", "--password-stdin")...).
		Expect(t, 4, "", "medplum: sign-in refused: User not found\nnothing was stored; run medplum login again\n")
	e.RunStdin(pw, login("", "--email", "ann@example.com", "--password-stdin", "--client-id", "no-such-client")...).
		Expect(t, 4, "", "medplum: sign-in refused: the server has no client no-such-client (Not found)\nnothing was stored; run medplum login again\n")
	e.Run(login("", "--email", "ann@example.com")...).
		Expect(t, 2, "", "medplum: no password: pipe it to --password-stdin (it is never accepted as a flag)\n")
	e.Run(login("")...).Expect(t, 2, "", "medplum: password sign-in needs --email\nRun 'medplum login --help' for usage.\n")
	e.Run("login", "--password", "x").Expect(t, 2, "", "medplum: unknown flag: --password\nRun 'medplum login --help' for usage.\n")
	e.RunStdin("", login("", "--email", "ann@example.com", "--password-stdin")...).
		Expect(t, 2, "", "medplum: stdin is empty: pipe the password to it\n")
	e.RunStdin(pw, login("", "--email", "mfa@example.com", "--password-stdin")...).
		Expect(t, 2, "", "medplum: this account needs a multi-factor code: pass it with --mfa-code\n")
	e.RunStdin(pw, login("", "--email", "mfa@example.com", "--password-stdin", "--mfa-code", "000000")...).
		Expect(t, 4, "", "medplum: multi-factor code refused: Invalid MFA token\nnothing was stored; run medplum login again\n")
	e.Run("login", "--auth-type", "magic").Expect(t, 2, "",
		"medplum: --auth-type \"magic\": use one of authorization-code, password, client-credentials, jwt-assertion\nRun 'medplum login --help' for usage.\n")
	e.Run("login", "--with-token", "--password-stdin").Expect(t, 2, "",
		"medplum: only one of --with-token, --password-stdin and --client-secret-stdin can read stdin\nRun 'medplum login --help' for usage.\n")
	e.Run("login").Expect(t, 2, "",
		"medplum: no terminal to sign in on: choose --auth-type (client-credentials for CI, or password with --password-stdin)\nRun 'medplum login --help' for usage.\n")
	if _, err := os.Stat(filepath.Join(e.ConfigDir, "sessions")); !os.IsNotExist(err) {
		t.Errorf("a failed login left a session: %v", err)
	}

	// MFA with the right code.
	code := medplumtest.TOTP(medplumtest.TOTPSecret, time.Now())
	e.RunStdin(pw, login("", "--email", "mfa@example.com", "--password-stdin", "--mfa-code", code)...).
		ExpectCode(t, 0, "Signed in to "+srv.URL+" as mfa@example.com in project Sandbox Project.\n"+
			"Credentials are stored in plain text in "+filepath.Join(e.ConfigDir, "secrets", "credentials.json")+" (readable only by you), as --insecure-storage asked.\n")

	// The server's login rate limit.
	srv.SetLoginRateLimit(1, time.Minute)
	e.RunStdin(pw, login("", "--email", "ann@example.com", "--password-stdin")...)
	r := e.RunStdin(pw, login("", "--email", "ann@example.com", "--password-stdin")...)
	// The wait left (60 seconds, or 59 if a second went by) varies.
	if r.Code != 1 || r.Stdout != "" || !strings.HasPrefix(r.Stderr, "medplum: too many sign-in attempts: the server takes the next one in ") ||
		!strings.HasSuffix(r.Stderr, " seconds\n") || strings.Count(r.Stderr, "\n") != 1 {
		t.Errorf("rate limited: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

func TestLoginSeveralProjects(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	email := srv.Seed.AdminEmail
	r := e.RunStdin(srv.Seed.AdminPassword, "login", "--auth-type", "password", "--email", email, "--password-stdin", "--insecure-storage")
	want := "medplum: you belong to 2 projects; choose one with --project ID (or --membership ID):\n"
	if r.Code != 2 || !strings.HasPrefix(r.Stderr, want) ||
		!strings.Contains(r.Stderr, "\n  Sandbox Project (Project/"+srv.Seed.ProjectID+") as Medplum Admin [membership "+srv.Seed.Admin.MembershipID+"]") ||
		!strings.Contains(r.Stderr, "\n  Super Admin (Project/"+srv.Seed.SuperAdminProjectID+") as Medplum Admin [membership "+srv.Seed.SuperAdmin.MembershipID+"]") {
		t.Fatalf("exit %d, stderr:\n%s", r.Code, r.Stderr)
	}
	e.RunStdin(srv.Seed.AdminPassword, "login", "--auth-type", "password", "--email", email, "--password-stdin", "--insecure-storage",
		"--membership", srv.Seed.SuperAdmin.MembershipID).ExpectCode(t, 0,
		"Signed in to "+srv.URL+" as admin@example.com in project Super Admin.\n"+
			"Credentials are stored in plain text in "+filepath.Join(e.ConfigDir, "secrets", "credentials.json")+" (readable only by you), as --insecure-storage asked.\n")
	e.Run("project", "current").Expect(t, 0, "Super Admin (Project/"+srv.Seed.SuperAdminProjectID+")\n", "")
}

func TestLoginClientCredentials(t *testing.T) {
	srv := newServer(t)
	cc := srv.Seed.Client
	e := env(t, srv)
	e.RunStdin(cc.Secret+"\n", "login", "--auth-type", "client-credentials", "--client-id", cc.ID, "--client-secret-stdin", "--insecure-storage").
		Expect(t, 0, "", "Signed in to "+srv.URL+" as Sandbox Project Admin Client (ClientApplication/"+cc.ID+") in project Sandbox Project.\n"+
			"Credentials are stored in plain text in "+filepath.Join(e.ConfigDir, "secrets", "credentials.json")+" (readable only by you), as --insecure-storage asked.\n")
	// Three more processes: the cached token serves them all.
	for range 3 {
		e.Run("whoami", "-o", "json").ExpectCode(t, 0, "")
	}
	if n := tokenRequests(srv, "client_credentials"); n != 1 {
		t.Errorf("%d client_credentials requests for 4 processes, want 1", n)
	}
	if got := insecureStore(t, e)["default:client_secret"]; got != cc.Secret {
		t.Errorf("stored secret = %q", got)
	}
	if got := filesWith(t, e.Home, cc.Secret); strings.Join(got, ",") != "config/secrets/credentials.json" {
		t.Errorf("client secret found in %v", got)
	}

	// A wrong secret: exit 4, nothing stored.
	e2 := env(t, srv)
	e2.RunStdin("wrong", "login", "--auth-type", "client-credentials", "--client-id", cc.ID, "--client-secret-stdin", "--insecure-storage").
		Expect(t, 4, "", "medplum: the server refused the client credentials: Invalid secret (invalid_request)\ncheck the client id and secret; nothing was stored\n")
	if _, err := os.Stat(filepath.Join(e2.ConfigDir, "secrets", "credentials.json")); !os.IsNotExist(err) {
		t.Errorf("a refused secret was stored: %v", err)
	}

	// An unknown client.
	e2.RunStdin("whatever", "login", "--auth-type", "client-credentials", "--client-id", "no-such-client", "--client-secret-stdin", "--insecure-storage").
		Expect(t, 4, "", "medplum: the server refused the client credentials: Invalid client (invalid_request)\ncheck the client id and secret; nothing was stored\n")

	// --client-secret works, with a warning: the process list shows it.
	e4 := env(t, srv)
	e4.Run("login", "--auth-type", "client-credentials", "--client-id", cc.ID, "--client-secret", cc.Secret, "--insecure-storage").
		Expect(t, 0, "", "medplum: warning: --client-secret is visible to other users in the process list; prefer MEDPLUM_CLIENT_SECRET\n"+
			"Signed in to "+srv.URL+" as Sandbox Project Admin Client (ClientApplication/"+cc.ID+") in project Sandbox Project.\n"+
			"Credentials are stored in plain text in "+filepath.Join(e4.ConfigDir, "secrets", "credentials.json")+" (readable only by you), as --insecure-storage asked.\n")
	if got := insecureStore(t, e4)["default:client_secret"]; got != cc.Secret {
		t.Errorf("--client-secret was not stored: %q", got)
	}

	// A secret from the environment is used but never written.
	e3 := env(t, srv)
	e3.Set("MEDPLUM_CLIENT_SECRET", cc.Secret)
	e3.Run("login", "--auth-type", "client-credentials", "--client-id", cc.ID).
		Expect(t, 0, "", "Signed in to "+srv.URL+" as Sandbox Project Admin Client (ClientApplication/"+cc.ID+") in project Sandbox Project.\n"+
			"The client secret came from MEDPLUM_CLIENT_SECRET, so nothing secret was stored: keep it set for later commands, or pipe it to --client-secret-stdin to store it.\n")
	if got := filesWith(t, e3.Home, cc.Secret); len(got) != 0 {
		t.Errorf("the environment's secret was written to %v", got)
	}
	e3.Run("whoami", "-o", "json").ExpectCode(t, 0, "")
	e3.Unset("MEDPLUM_CLIENT_SECRET")
	e3.Run("whoami").Expect(t, 4, "", "medplum: not signed in: client id "+cc.ID+" has no client secret (set MEDPLUM_CLIENT_SECRET or --client-secret)\nrun: medplum login\n")
}

func TestLoginJWTAssertion(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	keyPath := filepath.Join(e.Home, "key.pem")
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	id := srv.Seed.Client.ID

	e.Run("login", "--auth-type", "jwt-assertion", "--client-id", id, "--private-key-path", keyPath, "--insecure-storage").
		Expect(t, 4, "", "medplum: the server refused the client assertion: Client must have a JWK Set URL (invalid_request)\n"+
			"check the client id, that its JWK set (jwksUri) holds this key, and --alg; nothing was stored\n")
	srv.SetClientKeys(id, &key.PublicKey)
	e.Run("login", "--auth-type", "jwt-assertion", "--client-id", id, "--private-key-path", keyPath, "--alg", "ES256", "--insecure-storage").
		Expect(t, 2, "", "medplum: --private-key-path "+keyPath+": algorithm ES256 does not fit an RSA key (use RS256, RS384, RS512, PS256, PS384 or PS512)\n")
	e.Run("login", "--auth-type", "jwt-assertion", "--client-id", id, "--private-key-path", keyPath, "--insecure-storage").
		Expect(t, 0, "", "Signed in to "+srv.URL+" as Sandbox Project Admin Client (ClientApplication/"+id+") in project Sandbox Project.\n"+
			"Credentials are stored in plain text in "+filepath.Join(e.ConfigDir, "secrets", "credentials.json")+" (readable only by you), as --insecure-storage asked.\n")
	e.Run("project", "current").Expect(t, 0, "Sandbox Project (Project/"+srv.Seed.ProjectID+")\n", "")
	// Each assertion sent was a jwt-bearer one, signed RS384 (the default
	// for an RSA key), its audience the token URL as a plain string.
	assertions := 0
	for _, r := range srv.Requests() {
		form, _ := url.ParseQuery(string(r.Body))
		a := form.Get("client_assertion")
		if r.Path != "/oauth2/token" || a == "" {
			continue
		}
		assertions++
		parts := strings.Split(a, ".")
		if len(parts) != 3 {
			t.Fatalf("client_assertion %q is not a JWT", a)
		}
		header, _ := base64.RawURLEncoding.DecodeString(parts[0])
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" ||
			!strings.Contains(string(header), `"alg":"RS384"`) ||
			!strings.Contains(string(payload), `"aud":"`+srv.URL+`oauth2/token"`) ||
			!strings.Contains(string(payload), `"iss":"`+id+`"`) || !strings.Contains(string(payload), `"sub":"`+id+`"`) {
			t.Errorf("assertion request %s: header %s, claims %s", r.Body, header, payload)
		}
	}
	if assertions != 2 {
		t.Errorf("%d assertions sent, want 2 (the refused sign-in and the good one)", assertions)
	}
}

func TestLoginWithToken(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	tok := srv.IssueToken(srv.Seed.Admin.MembershipID)
	e.RunStdin(tok+"\n", "login", "--with-token", "--insecure-storage").
		Expect(t, 0, "", "Signed in to "+srv.URL+" as admin@example.com in project Sandbox Project.\n"+
			"Credentials are stored in plain text in "+filepath.Join(e.ConfigDir, "secrets", "credentials.json")+" (readable only by you), as --insecure-storage asked.\n")
	e.Run("token").Expect(t, 0, tok+"\n", "")
	e.RunStdin("not-a-token", "login", "--with-token", "--insecure-storage").
		Expect(t, 4, "", "medplum: the server does not accept this access token (expired, revoked, or for another server)\nnothing was stored\n")
	e.Run("token").Expect(t, 0, tok+"\n", "")
	srv.RevokeLogins(srv.Seed.Admin.MembershipID)
	r := e.Run("whoami")
	r.Expect(t, 4, "", "medplum: Unauthorized; refreshing the credentials failed: profile \"default\": the server no longer accepts the access token given with --with-token (it cannot be renewed; sign in again)\nrun: medplum login\n")
	r.NotContains(t, tok)
}

// The CI recipe: credentials in the environment, no sign-in. They are used
// and never written anywhere: no file at all appears under HOME.
func TestEnvironmentCredentialsLeaveNothingBehind(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	cc := srv.Seed.Client
	e.Set("MEDPLUM_CLIENT_ID", cc.ID).Set("MEDPLUM_CLIENT_SECRET", cc.Secret)
	e.Run("whoami").ExpectCode(t, 0, "")
	tok := strings.TrimSpace(e.Run("token").ExpectCode(t, 0, ""))
	e.Run("get", "Patient").ExpectCode(t, 0, "")
	e.Unset("MEDPLUM_CLIENT_ID").Unset("MEDPLUM_CLIENT_SECRET").Set("MEDPLUM_CLIENT_ACCESS_TOKEN", tok)
	e.Run("project", "current").Expect(t, 0, "Sandbox Project (Project/"+srv.Seed.ProjectID+")\n", "")
	e.Run("token").Expect(t, 0, tok+"\n", "")
	var files []string
	filepath.WalkDir(e.Home, func(path string, d os.DirEntry, err error) error {
		if err == nil && path != e.Home {
			files = append(files, path)
		}
		return nil
	})
	if len(files) != 0 {
		t.Errorf("environment credentials left files behind: %v", files)
	}
}

// A member whose membership a project admin deactivated is told so in
// plain words when signing in (Medplum: 400 "Profile not active", capture
// 187). A sign-in made before the deactivation goes on working: 5.0.10
// checks the membership only when a password sign-in chooses it, not its
// tokens or their refresh (captures 194, 195).
func TestLoginDeactivatedMember(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	ann := srv.MembershipByEmail(srv.Seed.ProjectID, "ann@example.com")
	e.RunStdin(pw+"\n", "login", "--auth-type", "password", "--email", "ann@example.com", "--password-stdin", "--insecure-storage").ExpectCode(t, 0,
		"Signed in to "+srv.URL+" as ann@example.com in project Sandbox Project.\n"+
			"Credentials are stored in plain text in "+filepath.Join(e.ConfigDir, "secrets", "credentials.json")+" (readable only by you), as --insecure-storage asked.\n")
	ann["active"] = false
	srv.Update(ann)
	if r := e.Run("project", "current"); r.Code != 0 {
		t.Errorf("the earlier sign-in: %+v", r)
	}
	e.RunStdin(pw+"\n", "login", "--auth-type", "password", "--email", "ann@example.com", "--password-stdin", "--insecure-storage").Expect(t, 4, "",
		"medplum: sign-in refused: your membership of this project is deactivated: a project admin turned it off; ask one of them to activate it again\n"+
			"nothing was stored\n")
}
