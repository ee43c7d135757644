package authcmd_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// signIn signs ann in with a password, secrets in the 0600 file.
func signIn(t *testing.T, e *clitest.Env, args ...string) {
	t.Helper()
	r := e.RunStdin(pw, append([]string{"login", "--auth-type", "password", "--email", "ann@example.com", "--password-stdin", "--insecure-storage"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("login: %d %s", r.Code, r.Stderr)
	}
}

func TestRevokedSignInKeepsTheProfile(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	signIn(t, e)
	srv.RevokeLogins(srv.MembershipByEmail(srv.Seed.ProjectID, "ann@example.com").ID())
	e.Run("whoami").Expect(t, 4, "", "medplum: Unauthorized; refreshing the credentials failed: profile \"default\": "+
		"the sign-in has expired or was revoked (the server refused the refresh token): Token revoked (invalid_grant)\nrun: medplum login\n")
	e.Run("get", "Patient").Expect(t, 4, "", "medplum: Unauthorized; refreshing the credentials failed: profile \"default\": "+
		"the sign-in has expired or was revoked (the server refused the refresh token): Token revoked (invalid_grant)\nrun: medplum login\n")
	// Settings and the session are still there; signing in again works.
	e.Run("profile", "describe", "default").ExpectCode(t, 0, "")
	if _, err := os.Stat(filepath.Join(e.ConfigDir, "sessions", "default.json")); err != nil {
		t.Fatal(err)
	}
	signIn(t, e)
	e.Run("project", "current").Expect(t, 0, "Sandbox Project (Project/"+srv.Seed.ProjectID+")\n", "")
}

func TestNotSignedIn(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	for _, cmd := range [][]string{{"whoami"}, {"token"}, {"project", "current"}, {"project", "list"}} {
		e.Run(cmd...).Expect(t, 4, "", "medplum: profile \"default\": not signed in\nrun: medplum login\n")
	}
	e.Run("logout").Expect(t, 0, "", "Profile \"default\" is not signed in.\n")
	e.Set("MEDPLUM_KEYRING_TIMEOUT", "soon")
	e.Run("whoami").Expect(t, 2, "", "medplum: MEDPLUM_KEYRING_TIMEOUT: keyring timeout \"soon\": want a duration such as 10s or a number of seconds\n")
}

// Several processes find the cached access token gone (or expired) at the
// same moment. The refresh token rotates on every use, so only a lock lets
// them all succeed: one refreshes, the others wait and use its token.
func TestConcurrentProcessesRefresh(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	signIn(t, e)
	if err := os.Remove(filepath.Join(cacheDir(e), "tokens", "default.json")); err != nil {
		t.Fatal(err)
	}
	before := tokenRequests(srv, "refresh_token")
	var procs []*clitest.Proc
	for range 6 {
		procs = append(procs, e.Start("project", "current"))
	}
	for _, p := range procs {
		p.Wait().Expect(t, 0, "Sandbox Project (Project/"+srv.Seed.ProjectID+")\n", "")
	}
	if n := tokenRequests(srv, "refresh_token") - before; n != 1 {
		t.Errorf("%d refreshes for 6 processes, want 1", n)
	}
	rt := insecureStore(t, e)["default:refresh_token:"+srv.Seed.ProjectID]
	if !srv.RefreshTokenCurrent(rt) {
		t.Error("the stored refresh token is not the newest")
	}
}

// Two processes get a 401 for the same token at once (the server's clock
// says it expired): both refresh in turn under the lock, both succeed, and
// the stored refresh token is the newest.
func TestConcurrent401Refresh(t *testing.T) {
	// The server reads its clock on every request; the binary's requests
	// give no happens-before edge back to this goroutine, so the skew is
	// atomic.
	var skew atomic.Int64
	srv := newServer(t, medplumtest.WithClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }))
	e := env(t, srv)
	signIn(t, e)
	skew.Store(int64(2 * time.Hour))
	p1, p2 := e.Start("project", "current"), e.Start("project", "current")
	for _, p := range []*clitest.Proc{p1, p2} {
		p.Wait().Expect(t, 0, "Sandbox Project (Project/"+srv.Seed.ProjectID+")\n", "")
	}
	rt := insecureStore(t, e)["default:refresh_token:"+srv.Seed.ProjectID]
	if !srv.RefreshTokenCurrent(rt) {
		t.Error("the stored refresh token is not the newest")
	}
}

func TestLogout(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	signIn(t, e)
	tok := strings.TrimSpace(e.Run("token").ExpectCode(t, 0, ""))
	rt := insecureStore(t, e)["default:refresh_token:"+srv.Seed.ProjectID]
	e.Run("logout").Expect(t, 0, "", "Signed out of profile \"default\": 1 session revoked on "+strings.TrimSuffix(srv.URL, "/")+"; local credentials removed.\n")
	if !srv.AccessTokenRevoked(tok) || srv.RefreshTokenCurrent(rt) {
		t.Error("the session is still valid on the server")
	}
	if got := filesWith(t, e.Home, rt); len(got) != 0 {
		t.Errorf("refresh token left in %v", got)
	}
	if got := filesWith(t, e.Home, tok); len(got) != 0 {
		t.Errorf("access token left in %v", got)
	}
	e.Run("whoami").Expect(t, 4, "", "medplum: profile \"default\": not signed in\nrun: medplum login\n")
	e.Run("profile", "describe", "default").ExpectCode(t, 0, "") // settings stay

	// --all, with one profile whose server is gone.
	signIn(t, e)
	signIn(t, e, "-p", "second")
	gone := medplumtest.NewServer(t)
	gone.AddUser(medplumtest.UserSpec{Email: "ann@example.com", Password: pw})
	e.RunStdin(pw, "-p", "third", "--base-url", gone.URL, "login", "--auth-type", "password", "--email", "ann@example.com", "--password-stdin", "--insecure-storage").ExpectCode(t, 0,
		"Signed in to "+gone.URL+" as ann@example.com in project Sandbox Project.\n"+
			"Credentials are stored in plain text in "+filepath.Join(e.ConfigDir, "secrets", "credentials.json")+" (readable only by you), as --insecure-storage asked.\n")
	gone.Close()
	r := e.Run("logout", "--all")
	base := strings.TrimSuffix(srv.URL, "/")
	if r.Code != 1 || !strings.Contains(r.Stderr, "Signed out of profile \"default\": 1 session revoked on "+base+"; local credentials removed.\n") ||
		!strings.Contains(r.Stderr, "Signed out of profile \"second\": 1 session revoked on "+base+"; local credentials removed.\n") ||
		!strings.Contains(r.Stderr, "medplum: profile \"third\": removed the local credentials, but revoking the session on "+gone.URL+" failed, so it stays valid there until it expires: ") {
		t.Fatalf("logout --all: exit %d\n%s", r.Code, r.Stderr)
	}
	if store := insecureStore(t, e); len(store) != 0 {
		t.Errorf("secrets left after logout --all: %v", store)
	}
	e.Run("logout", "--all").Expect(t, 0, "", "No profile is signed in.\n")
}

func TestProjectListAndSwitch(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	admin := func(args ...string) clitest.Result {
		return e.RunStdin(srv.Seed.AdminPassword, append([]string{"login", "--auth-type", "password", "--email", srv.Seed.AdminEmail,
			"--password-stdin", "--insecure-storage"}, args...)...)
	}
	admin("--membership", srv.Seed.Admin.MembershipID).ExpectCode(t, 0, "Signed in to "+srv.URL+" as admin@example.com in project Sandbox Project.\n"+
		"Credentials are stored in plain text in "+filepath.Join(e.ConfigDir, "secrets", "credentials.json")+" (readable only by you), as --insecure-storage asked.\n")
	prof := srv.Resource("ProjectMembership", srv.Seed.Admin.MembershipID).Ref("profile")
	saProf := srv.Resource("ProjectMembership", srv.Seed.SuperAdmin.MembershipID).Ref("profile")
	e.Run("project", "list").Expect(t, 0, "CURRENT\tID\tNAME\tPROFILE\tMEMBERSHIP\tSIGNED IN\n"+
		"*\t"+srv.Seed.ProjectID+"\tSandbox Project\tMedplum Admin ("+prof+")\t"+srv.Seed.Admin.MembershipID+"\tyes\n"+
		"\t"+srv.Seed.SuperAdminProjectID+"\tSuper Admin\tMedplum Admin ("+saProf+")\t"+srv.Seed.SuperAdmin.MembershipID+"\tno\n", "")

	// Not signed in to the super-admin project yet: a new sign-in.
	e.RunStdin(srv.Seed.AdminPassword, "project", "switch", srv.Seed.SuperAdminProjectID, "--password-stdin").
		Expect(t, 0, "", "Switched to project Super Admin (Project/"+srv.Seed.SuperAdminProjectID+"), signed in as admin@example.com in project Super Admin.\n")
	e.Run("project", "current").Expect(t, 0, "Super Admin (Project/"+srv.Seed.SuperAdminProjectID+")\n", "")

	// Back and forth without a password.
	logins := 0
	for _, r := range srv.Requests() {
		if r.Path == "/auth/login" {
			logins++
		}
	}
	e.Run("project", "switch", srv.Seed.ProjectID).Expect(t, 0, "", "Switched to project Sandbox Project (Project/"+srv.Seed.ProjectID+").\n")
	e.Run("project", "switch", "Project/"+srv.Seed.ProjectID).Expect(t, 0, "", "Already in project Sandbox Project (Project/"+srv.Seed.ProjectID+").\n")
	e.Run("project", "current").Expect(t, 0, "Sandbox Project (Project/"+srv.Seed.ProjectID+")\n", "")
	for _, r := range srv.Requests() {
		if r.Path == "/auth/login" {
			logins--
		}
	}
	if logins != 0 {
		t.Errorf("switching between signed-in projects sent %d logins", -logins)
	}
	e.Run("project", "list", "-o", "csv", "--columns", "id,current,signed_in", "--no-header").Expect(t, 0,
		srv.Seed.ProjectID+",*,yes\n"+srv.Seed.SuperAdminProjectID+",,yes\n", "")

	// A project the user is not a member of (the list is in the server's order).
	r := e.RunStdin(srv.Seed.AdminPassword, "project", "switch", "no-such-project", "--password-stdin")
	if r.Code != 2 || r.Stdout != "" || !strings.HasPrefix(r.Stderr, "medplum: you are not a member of project no-such-project; your projects are:\n") ||
		!strings.Contains(r.Stderr, "\n  Sandbox Project (Project/"+srv.Seed.ProjectID+") as Medplum Admin [membership "+srv.Seed.Admin.MembershipID+"]") ||
		!strings.Contains(r.Stderr, "\n  Super Admin (Project/"+srv.Seed.SuperAdminProjectID+") as Medplum Admin [membership "+srv.Seed.SuperAdmin.MembershipID+"]") ||
		strings.Count(r.Stderr, "\n") != 3 {
		t.Errorf("unknown project: exit %d\n%s", r.Code, r.Stderr)
	}

	// Client credentials belong to one project.
	e.Set("MEDPLUM_CLIENT_ID", srv.Seed.Client.ID).Set("MEDPLUM_CLIENT_SECRET", srv.Seed.Client.Secret)
	e.Run("project", "list").Expect(t, 2, "", "medplum: project list needs a person's sign-in (medplum login); these credentials belong to one project\n"+
		"Run 'medplum project list --help' for usage.\n")
}

// A stored sign-in renews only at the token URL it was made with: a .env
// in the directory a command runs in (or the environment) that points
// MEDPLUM_TOKEN_URL at another server must not receive the refresh token.
func TestStoredSignInIgnoresAForeignTokenURL(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	signIn(t, e)
	rt := insecureStore(t, e)["default:refresh_token:"+srv.Seed.ProjectID]
	if rt == "" {
		t.Fatal("no refresh token stored: the test proves nothing")
	}
	var mu sync.Mutex
	var got []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+string(body))
		mu.Unlock()
		http.Error(w, "no", http.StatusBadRequest)
	}))
	t.Cleanup(other.Close)
	if err := os.WriteFile(filepath.Join(e.Home, ".env"), []byte("MEDPLUM_TOKEN_URL="+other.URL+"/oauth2/token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(cacheDir(e), "tokens", "default.json")); err != nil {
		t.Fatal(err)
	}
	r := e.Run("whoami")
	r.Expect(t, 4, "", "medplum: profile \"default\": signed in to "+srv.URL+", "+
		"but the profile now sends credentials to the token URL "+other.URL+"/oauth2/token on another server\nrun: medplum login\n")
	r.NotContains(t, rt)
	mu.Lock()
	defer mu.Unlock()
	if len(got) > 0 {
		t.Fatalf("the other token URL was sent %v", got)
	}
}

// A person in projects A and B who signs in with --project A can list and
// switch to B: the project is chosen with auth/profile from every
// membership the server offers, not by sending projectId to auth/login,
// which narrows the offer to A (and which 5.0.10 refuses with the
// medplum-cli client: capture 186).
func TestProjectListAfterLoginWithProject(t *testing.T) {
	tg, e, a, b, email, pw := personInTwoProjects(t, "login", false)
	nameA, nameB := a.name, b.name
	out := e.Run("project", "list", "-o", "csv", "--columns", "id,name,current,signed_in", "--no-header").ExpectCode(t, 0, "")
	if got, want := sortedLines(out), sortedLines(a.ProjectID+","+nameA+",*,yes\n"+b.ProjectID+","+nameB+",,no\n"); got != want {
		t.Errorf("project list:\n%s\nwant\n%s", got, want)
	}
	e.RunStdin(pw, "project", "switch", b.ProjectID, "--password-stdin").Expect(t, 0, "",
		"Switched to project "+nameB+" (Project/"+b.ProjectID+"), signed in as "+email+" in project "+nameB+".\n")
	e.Run("project", "current").Expect(t, 0, nameB+" (Project/"+b.ProjectID+")\n", "")
	// Its document is auth/me's project (me.ts), on the real server too.
	e.Run("project", "current", "--jq", ".id").Expect(t, 0, b.ProjectID+"\n", "")
	e.Run("project", "current", "--template", "{{.resourceType}} {{.name}}").Expect(t, 0, "Project "+nameB, "")
	if srv := tg.Sandbox; srv != nil {
		for _, r := range srv.RequestsTo("POST", "/auth/login") {
			if strings.Contains(string(r.Body), "projectId") {
				t.Error("auth/login was sent a projectId")
			}
		}
	}
}

// A person in projects A and B, signed in to A: project switch completes
// B (what project list shows, but the current project), from the session
// alone; --project completes A only (another project is refused to anyone
// but a super admin), not Medplum's base "FHIR R4" project, which a Project
// search by a project admin finds (capture 545). Switched to B, the other
// way round.
func TestProjectCompletionOnTarget(t *testing.T) {
	tg, e, a, b, email, pw := personInTwoProjects(t, "projcomp", true)
	nameA, nameB := a.name, b.name
	const noFile, noFileStderr = ":4\n", "Completion ended with directive: ShellCompDirectiveNoFileComp\n"
	var before int
	if tg.Sandbox != nil {
		before = len(tg.Sandbox.Requests())
	}
	e.Run("__complete", "project", "switch", "").Expect(t, 0, b.ProjectID+"\t"+nameB+"\n"+noFile, noFileStderr)
	if tg.Sandbox != nil && len(tg.Sandbox.Requests()) != before {
		t.Errorf("project switch's completion sent %d requests", len(tg.Sandbox.Requests())-before)
	}
	for _, args := range [][]string{{"members", "list"}, {"members", "review"}, {"clients", "create", "x"}, {"invite"}} {
		e.Run(append(append([]string{"__complete"}, args...), "--project", "")...).Expect(t, 0, a.ProjectID+"\t"+nameA+"\n"+noFile, noFileStderr)
	}
	e.RunStdin(pw, "project", "switch", b.ProjectID, "--password-stdin").ExpectCode(t, 0,
		"Switched to project "+nameB+" (Project/"+b.ProjectID+"), signed in as "+email+" in project "+nameB+".\n")
	e.Run("__complete", "project", "switch", "").Expect(t, 0, a.ProjectID+"\t"+nameA+"\n"+noFile, noFileStderr)
	e.Run("__complete", "members", "list", "--project", "").Expect(t, 0, b.ProjectID+"\t"+nameB+"\n"+noFile, noFileStderr)
}

// namedProject is a Target's project with its name.
type namedProject struct {
	*clitest.Target
	name string
}

// personInTwoProjects adds a person (a project admin if admin) to two new
// projects A and B of the target, and signs them in to A with a password
// (--project A) in a fresh environment.
func personInTwoProjects(t *testing.T, prefix string, admin bool) (tg *clitest.Target, e *clitest.Env, a, b namedProject, email, pw string) {
	t.Helper()
	tg = clitest.NewTarget(t)
	a.Target = tg.NewProject(t, "", tg.Unique(prefix+"-a"))
	b.Target = tg.NewProject(t, "", tg.Unique(prefix+"-b"))
	email = strings.ToLower(tg.Unique("realfix-"+prefix)) + "@example.com"
	pw = "pw-" + clitest.RandomID("")
	a.AddPerson(t, email, pw, admin)
	b.AddPerson(t, email, pw, admin)
	e = clitest.New(t)
	e.Set("MEDPLUM_BASE_URL", tg.URL).Set("MEDPLUM_CACHE_DIR", filepath.Join(e.Home, "cache"))
	a.name, b.name = projectName(t, a.Target), projectName(t, b.Target)
	e.RunStdin(pw, "login", "--auth-type", "password", "--email", email, "--project", a.ProjectID, "--password-stdin", "--insecure-storage").ExpectCode(t, 0,
		"Signed in to "+tg.URL+" as "+email+" in project "+a.name+".\n"+
			"Credentials are stored in plain text in "+filepath.Join(e.ConfigDir, "secrets", "credentials.json")+" (readable only by you), as --insecure-storage asked.\n")
	return tg, e, a, b, email, pw
}

func projectName(t *testing.T, tg *clitest.Target) string {
	t.Helper()
	p, err := tg.API(t).ReadProject(context.Background(), tg.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	return p.Resource.String("name")
}

func sortedLines(s string) string {
	l := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	slices.Sort(l)
	return strings.Join(l, "\n")
}

// The sign-in state (sessions/<profile>.json) names the project as the
// server does, & < > included: people read it, and Go's JSON would write
// "Smith \u0026 Sons".
func TestSessionFileKeepsNamesAsTheyAre(t *testing.T) {
	srv := newServer(t, medplumtest.WithProjectName("Smith & Sons <Clinic>"))
	e := env(t, srv)
	signIn(t, e)
	e.Run("project", "current").Expect(t, 0, "Smith & Sons <Clinic> (Project/"+srv.Seed.ProjectID+")\n", "")
	b, err := os.ReadFile(filepath.Join(e.ConfigDir, "sessions", "default.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `"display": "Smith & Sons <Clinic>"`; !strings.Contains(string(b), want) || strings.Contains(string(b), `\u00`) {
		t.Errorf("the session file:\n%s\nwant %s in it, and no \\u00", b, want)
	}
}
