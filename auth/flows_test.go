package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
)

// scripted is a Prompter with canned answers; it records the prompts.
type scripted struct {
	inputs    []string
	passwords []string
	choice    int
	prompts   []string
	noPrompt  bool
}

func (s *scripted) next(list *[]string, prompt string) (string, error) {
	s.prompts = append(s.prompts, prompt)
	if s.noPrompt {
		return "", auth.ErrNoPrompt
	}
	if len(*list) == 0 {
		return "", errors.New("unexpected prompt " + prompt)
	}
	v := (*list)[0]
	*list = (*list)[1:]
	return v, nil
}

func (s *scripted) Input(_ context.Context, p string) (string, error) { return s.next(&s.inputs, p) }
func (s *scripted) Password(_ context.Context, p string) (string, error) {
	return s.next(&s.passwords, p)
}
func (s *scripted) Select(_ context.Context, p string, options []string) (int, error) {
	s.prompts = append(s.prompts, p+" "+strings.Join(options, " | "))
	if s.noPrompt {
		return -1, auth.ErrNoPrompt
	}
	return s.choice, nil
}

func tokenClient(t testing.TB, srv *medplumtest.Server) *client.Client {
	t.Helper()
	c, err := client.New(client.Options{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPasswordLoginSingleProject(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.AddUser(medplumtest.UserSpec{Email: "ann@example.com", Password: "correct horse"})
	p := &scripted{passwords: []string{"correct horse"}}
	l, err := auth.PasswordLogin(context.Background(), tokenClient(t, srv), auth.PasswordOptions{Email: "ann@example.com"}, p)
	if err != nil {
		t.Fatal(err)
	}
	if l.Token.RefreshToken == "" || l.Token.Scope != auth.DefaultScope || l.Email != "ann@example.com" ||
		l.Token.Project.Reference != "Project/"+srv.Seed.ProjectID {
		t.Fatalf("login = %+v, token %+v", l, l.Token)
	}
	if strings.Join(p.prompts, "|") != "Password for ann@example.com: " {
		t.Fatalf("prompts = %q", p.prompts)
	}
	// PKCE S256 was used, and the password went only to auth/login.
	for _, r := range srv.Requests() {
		if r.Path == "/auth/login" && (!strings.Contains(string(r.Body), `"codeChallengeMethod":"S256"`) || strings.Contains(string(r.Body), "clientId")) {
			t.Errorf("auth/login body = %s", r.Body)
		}
		if r.Path != "/auth/login" && strings.Contains(string(r.Body), "correct horse") {
			t.Errorf("%s %s carried the password", r.Method, r.Path)
		}
	}
}

func TestPasswordLoginFailures(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.SetLoginRateLimit(100, time.Minute)
	srv.AddUser(medplumtest.UserSpec{Email: "ann@example.com", Password: "correct horse"})
	srv.AddUser(medplumtest.UserSpec{Email: "mfa@example.com", Password: "correct horse", MFASecret: medplumtest.TOTPSecret})
	srv.AddExternalIdP("corp.example", "https://idp.corp.example/authorize")
	tc := tokenClient(t, srv)
	ctx := context.Background()

	_, err := auth.PasswordLogin(ctx, tc, auth.PasswordOptions{Email: "ann@example.com", Password: "wrong horse"}, &scripted{})
	if !errors.Is(err, auth.ErrCredentialsRejected) || err.Error() != "sign-in refused: Email or password is invalid" {
		t.Errorf("wrong password: %v", err)
	}
	_, err = auth.PasswordLogin(ctx, tc, auth.PasswordOptions{Email: "ann@example.com"}, &scripted{noPrompt: true})
	if err == nil || err.Error() != "no password: pipe it to --password-stdin (it is never accepted as a flag)" {
		t.Errorf("no terminal: %v", err)
	}
	var ext *auth.ExternalIdPError
	_, err = auth.PasswordLogin(ctx, tc, auth.PasswordOptions{Email: "alice@corp.example", Password: "x"}, &scripted{})
	if !errors.As(err, &ext) || ext.AuthorizeURL != "https://idp.corp.example/authorize" || ext.Domain != "corp.example" {
		t.Errorf("external IdP: %v", err)
	}
	// An OAuth client the server does not know.
	_, err = auth.PasswordLogin(ctx, tc, auth.PasswordOptions{Email: "ann@example.com", Password: "correct horse", ClientID: "no-such-client"}, &scripted{})
	if !errors.Is(err, auth.ErrCredentialsRejected) || err.Error() != "sign-in refused: the server has no client no-such-client (Not found)" {
		t.Errorf("unknown client: %v", err)
	}
	// Wrong TOTP: a given --mfa-code gets one try.
	_, err = auth.PasswordLogin(ctx, tc, auth.PasswordOptions{Email: "mfa@example.com", Password: "correct horse", MFACode: "000000"}, &scripted{})
	if !errors.Is(err, auth.ErrCredentialsRejected) || err.Error() != "multi-factor code refused: Invalid MFA token" {
		t.Errorf("wrong TOTP: %v", err)
	}
	_, err = auth.PasswordLogin(ctx, tc, auth.PasswordOptions{Email: "mfa@example.com", Password: "correct horse"}, &scripted{noPrompt: true})
	if err == nil || err.Error() != "this account needs a multi-factor code: pass it with --mfa-code" {
		t.Errorf("MFA without terminal: %v", err)
	}
	// On a terminal the user may retype a wrong code.
	p := &scripted{inputs: []string{"111111", medplumtest.TOTP(medplumtest.TOTPSecret, time.Now())}}
	l, err := auth.PasswordLogin(ctx, tc, auth.PasswordOptions{Email: "mfa@example.com", Password: "correct horse"}, p)
	if err != nil || l.Token.AccessToken == "" || len(p.prompts) != 2 || p.prompts[0] != "Authenticator code: " {
		t.Errorf("MFA retry: %v, prompts %q", err, p.prompts)
	}
}

func TestPasswordLoginChoosesProject(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.SetLoginRateLimit(100, time.Minute)
	ctx := context.Background()
	tc := tokenClient(t, srv)
	email, pw := srv.Seed.AdminEmail, srv.Seed.AdminPassword

	_, err := auth.PasswordLogin(ctx, tc, auth.PasswordOptions{Email: email, Password: pw}, &scripted{noPrompt: true})
	if err == nil || !strings.HasPrefix(err.Error(), "you belong to 2 projects; choose one with --project ID (or --membership ID):\n  ") ||
		!strings.Contains(err.Error(), "Sandbox Project (Project/"+srv.Seed.ProjectID+") as Medplum Admin [membership "+srv.Seed.Admin.MembershipID+"]") {
		t.Fatalf("no terminal: %v", err)
	}
	l, err := auth.PasswordLogin(ctx, tc, auth.PasswordOptions{Email: email, Password: pw, ProjectID: srv.Seed.ProjectID}, &scripted{})
	if err != nil || l.Token.Project.Reference != "Project/"+srv.Seed.ProjectID {
		t.Fatalf("--project: %v %+v", err, l)
	}
	l, err = auth.PasswordLogin(ctx, tc, auth.PasswordOptions{Email: email, Password: pw, MembershipID: srv.Seed.SuperAdmin.MembershipID}, &scripted{})
	if err != nil || l.MembershipID != srv.Seed.SuperAdmin.MembershipID || l.Token.Project.Reference != "Project/"+srv.Seed.SuperAdminProjectID {
		t.Fatalf("--membership: %v %+v", err, l)
	}
	// --project names a project the user is not a member of: the
	// memberships the server offers say so (no projectId is sent, which
	// would narrow them), and the error lists them.
	_, err = auth.PasswordLogin(ctx, tc, auth.PasswordOptions{Email: email, Password: pw, ProjectID: "no-such-project"}, &scripted{})
	var need *auth.InputNeededError
	if !errors.As(err, &need) || !strings.HasPrefix(err.Error(), "you are not a member of that project; your projects are:\n  ") {
		t.Fatalf("--project of another project: %v", err)
	}
	_, err = auth.PasswordLogin(ctx, tc, auth.PasswordOptions{Email: email, Password: pw, MembershipID: "nope"}, &scripted{})
	if err == nil || !strings.HasPrefix(err.Error(), "you are not a member of that project; your projects are:") {
		t.Fatalf("unknown membership: %v", err)
	}
	// On a terminal: a choice, and the scope stage when the server asks.
	srv.RequireScopeConfirmation(true)
	p := &scripted{choice: 0}
	l, err = auth.PasswordLogin(ctx, tc, auth.PasswordOptions{Email: email, Password: pw, Scope: "openid"}, p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.prompts[0], "Choose a project: ") || l.Token.Scope != "openid" || l.Token.RefreshToken != "" {
		t.Fatalf("terminal choice: prompts %q, token %+v", p.prompts, l.Token)
	}
	scopeCalls := 0
	for _, r := range srv.Requests() {
		if r.Path == "/auth/scope" {
			scopeCalls++
		}
	}
	if scopeCalls == 0 {
		t.Fatal("the scope stage was not confirmed with auth/scope")
	}
}

// browse plays the user's browser: it follows the authorization URL to the
// (simulated) web app and then to the loopback redirect.
func browse(t *testing.T) func(string) {
	return func(u string) {
		go func() {
			resp, err := http.Get(u)
			if err != nil {
				t.Errorf("browser: %v", err)
				return
			}
			resp.Body.Close()
		}()
	}
}

// freePort finds a loopback port nobody listens on (tests never bind 9615,
// which black-box tests of other packages may use at the same time).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// browserSetup registers http://localhost:<free port> on the seeded client,
// which (unlike medplum-cli) requires PKCE, and returns options using it.
func browserSetup(t *testing.T, srv *medplumtest.Server) auth.BrowserOptions {
	port := freePort(t)
	srv.SetClientRedirectURI(srv.Seed.Client.ID, fmt.Sprintf("http://localhost:%d", port))
	return auth.BrowserOptions{AuthorizeURL: srv.URL + "oauth2/authorize", ClientID: srv.Seed.Client.ID, Port: port, Timeout: 10 * time.Second}
}

func TestBrowserLogin(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.ApproveBrowserLogins(srv.Seed.AdminEmail, srv.Seed.Admin.MembershipID)
	opts := browserSetup(t, srv)
	var opened string
	open := func(u string) { opened = u; browse(t)(u) }
	l, err := auth.BrowserLogin(context.Background(), tokenClient(t, srv), opts, open, &scripted{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Token.RefreshToken == "" || l.Token.Project.Reference != "Project/"+srv.Seed.ProjectID {
		t.Fatalf("token = %+v", l.Token)
	}
	u, _ := url.Parse(opened)
	q := u.Query()
	if q.Get("client_id") != srv.Seed.Client.ID || q.Get("redirect_uri") != fmt.Sprintf("http://localhost:%d", opts.Port) ||
		q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || len(q.Get("state")) < 22 ||
		q.Get("scope") != "openid offline_access" || q.Get("response_type") != "code" {
		t.Fatalf("authorization URL = %s", opened)
	}
	// The code exchange carried the verifier (the server checks it for this client).
	for _, r := range srv.Requests() {
		if r.Path == "/oauth2/token" && !strings.Contains(string(r.Body), "code_verifier=") {
			t.Errorf("token request without code_verifier: %s", r.Body)
		}
	}
}

func TestBrowserLoginFailures(t *testing.T) {
	srv := medplumtest.NewServer(t)
	ctx := context.Background()
	tc := tokenClient(t, srv)
	opts := browserSetup(t, srv)

	srv.DenyBrowserLogins("The user said no")
	_, err := auth.BrowserLogin(ctx, tc, opts, browse(t), &scripted{})
	if err == nil || err.Error() != "the server refused the sign-in: access_denied: The user said no" {
		t.Errorf("denied: %v", err)
	}

	// A redirect with another state.
	_, err = auth.BrowserLogin(ctx, tc, opts, func(string) {
		go http.Get(fmt.Sprintf("http://127.0.0.1:%d/?code=abc&state=forged", opts.Port))
	}, &scripted{})
	if !errors.Is(err, auth.ErrStateMismatch) || !strings.Contains(err.Error(), "nothing was stored, run medplum login again") {
		t.Errorf("wrong state: %v", err)
	}

	// Nobody signs in.
	short := opts
	short.Timeout = 50 * time.Millisecond
	_, err = auth.BrowserLogin(ctx, tc, short, func(string) {}, &scripted{})
	if err == nil || err.Error() != "no sign-in arrived within 50ms; run medplum login again (--timeout sets a longer wait). "+
		"If the sign-in page said \"Profile not active\", a project admin deactivated your membership: ask one of them to activate it again" {
		t.Errorf("timeout: %v", err)
	}

	// The port is busy.
	cb, err := auth.ListenCallback(opts.Port)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	busy := opts
	_, err = auth.BrowserLogin(ctx, tc, busy, func(string) { t.Error("the browser was opened although the port is busy") }, &scripted{})
	if !errors.Is(err, auth.ErrCallbackPortBusy) || !strings.Contains(err.Error(), "use --no-browser and paste the redirected URL") {
		t.Errorf("busy port: %v", err)
	}

	// --no-browser on a busy port: the pasted URL still works.
	srv.ApproveBrowserLogins(srv.Seed.AdminEmail, srv.Seed.Admin.MembershipID)
	busy.NoBrowser = true
	p := &pasteBrowser{t: t, redirect: make(chan string, 1)}
	l, err := auth.BrowserLogin(ctx, tc, busy, p.open, p)
	if err != nil || l.Token.AccessToken == "" {
		t.Fatalf("paste on a busy port: %v", err)
	}
}

// pasteBrowser is a user on another machine: the browser's redirect to
// localhost goes nowhere, so the user pastes the address bar. The user can
// only paste what the shown URL led to: BrowserLogin must call open before
// it asks.
type pasteBrowser struct {
	scripted
	t        *testing.T
	opened   atomic.Bool
	redirect chan string
}

func (p *pasteBrowser) open(u string) {
	p.opened.Store(true)
	go func() {
		hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		server, _, _ := strings.Cut(u, "/oauth2/")
		// The server hands over to its web app, which sends the browser on.
		for range 3 {
			resp, err := hc.Get(u)
			if err != nil {
				p.t.Errorf("browser: %v", err)
				return
			}
			resp.Body.Close()
			u = resp.Header.Get("Location")
			if !strings.HasPrefix(u, server+"/") {
				p.redirect <- u
				return
			}
		}
		p.t.Errorf("browser: still on %s", u)
	}()
}

func (p *pasteBrowser) Input(ctx context.Context, prompt string) (string, error) {
	if !p.opened.Load() {
		p.t.Error("asked to paste before the sign-in URL was shown")
	}
	select {
	case u := <-p.redirect:
		return u, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Medplum allows a few sign-ins per address and minute. Hitting the limit
// says so, and when to try again, instead of the limiter's JSON.
func TestPasswordLoginRateLimited(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	srv := medplumtest.NewServer(t, medplumtest.WithClock(func() time.Time { return at }))
	srv.AddUser(medplumtest.UserSpec{Email: "ann@example.com", Password: "correct horse"})
	srv.SetLoginRateLimit(1, time.Minute)
	tc := tokenClient(t, srv)
	ctx := context.Background()
	if _, err := auth.PasswordLogin(ctx, tc, auth.PasswordOptions{Email: "ann@example.com", Password: "correct horse"}, &scripted{}); err != nil {
		t.Fatal(err)
	}
	_, err := auth.PasswordLogin(ctx, tc, auth.PasswordOptions{Email: "ann@example.com", Password: "correct horse"}, &scripted{})
	if err == nil || err.Error() != "too many sign-in attempts: the server takes the next one in 60 seconds" ||
		client.StatusOf(err) != 429 || errors.Is(err, auth.ErrCredentialsRejected) {
		t.Fatalf("rate limited: %v", err)
	}
	// A one-second window: "1 second", not "1 seconds".
	srv.SetLoginRateLimit(0, time.Second)
	_, err = auth.PasswordLogin(ctx, tc, auth.PasswordOptions{Email: "ann@example.com", Password: "correct horse"}, &scripted{})
	if err == nil || err.Error() != "too many sign-in attempts: the server takes the next one in 1 second" {
		t.Fatalf("rate limited for a second: %v", err)
	}
}

// --no-browser where nobody can paste (no terminal) and nothing can take
// the browser's redirect (the port is busy): the sign-in cannot finish, and
// the error names what is missing.
func TestBrowserLoginNoBrowserWithoutTerminalOnBusyPort(t *testing.T) {
	srv := medplumtest.NewServer(t)
	opts := browserSetup(t, srv)
	cb, err := auth.ListenCallback(opts.Port)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	opts.NoBrowser = true
	_, err = auth.BrowserLogin(context.Background(), tokenClient(t, srv), opts, func(string) {}, &scripted{noPrompt: true})
	var in *auth.InputNeededError
	want := fmt.Sprintf("--no-browser needs a terminal to paste the redirected address into, and port %d, where the browser would be sent back, is busy", opts.Port)
	if !errors.As(err, &in) || err.Error() != want {
		t.Fatalf("err = %v", err)
	}
}

// A client the server does not know, or a redirect it does not register,
// is refused by the authorize endpoint itself (a plain-text 400, which only
// the browser would show): the sign-in fails at once with the server's
// reason, before any browser is opened, instead of waiting out the timeout.
func TestBrowserLoginRefusedRequest(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.ApproveBrowserLogins(srv.Seed.AdminEmail, srv.Seed.Admin.MembershipID)
	tc := tokenClient(t, srv)
	opts := browserSetup(t, srv)
	opened := func(string) { t.Error("the browser was opened for a request the server refuses") }

	unknown := opts
	unknown.ClientID = "no-such-client"
	_, err := auth.BrowserLogin(context.Background(), tc, unknown, opened, &scripted{})
	if !errors.Is(err, auth.ErrCredentialsRejected) || err.Error() != fmt.Sprintf("the server refused to start a sign-in for client no-such-client, redirect http://localhost:%d: Client not found", opts.Port) {
		t.Errorf("unknown client: %v", err)
	}
	other := opts
	other.Port = freePort(t) // not the port the client registers
	_, err = auth.BrowserLogin(context.Background(), tc, other, opened, &scripted{})
	if !errors.Is(err, auth.ErrCredentialsRejected) || err.Error() != fmt.Sprintf("the server refused to start a sign-in for client %s, redirect http://localhost:%d: Invalid redirect URI", opts.ClientID, other.Port) {
		t.Errorf("unregistered redirect: %v", err)
	}
}

// adminAPI is a client signed in as the seeded project-admin client.
func adminAPI(t *testing.T, srv *medplumtest.Server) *client.Client {
	t.Helper()
	c, err := client.New(client.Options{BaseURL: srv.URL, Auth: &auth.BearerToken{Token: srv.IssueToken(srv.Seed.Client.MembershipID)}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func loginBodies(srv *medplumtest.Server) []string {
	var out []string
	for _, r := range srv.RequestsTo("POST", "/auth/login") {
		out = append(out, string(r.Body))
	}
	return out
}

// A user scoped to a project is found by auth/login only with that
// project's id: after "User not found" without it, --project is sent.
func TestPasswordLoginProjectScopedUser(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.SetLoginRateLimit(100, time.Minute)
	ctx := context.Background()
	pid := srv.Seed.ProjectID
	if _, err := adminAPI(t, srv).Invite(ctx, pid, map[string]any{"resourceType": "Practitioner", "firstName": "Pat", "lastName": "Scoped",
		"email": "pat@example.com", "password": "pat-password", "scope": "project", "sendEmail": false}); err != nil {
		t.Fatal(err)
	}
	l, err := auth.PasswordLogin(ctx, tokenClient(t, srv), auth.PasswordOptions{Email: "pat@example.com", Password: "pat-password", ProjectID: pid}, &scripted{})
	if err != nil || l.Token.Project.Reference != "Project/"+pid {
		t.Fatalf("project-scoped user: %v %+v", err, l)
	}
	if b := loginBodies(srv); len(b) != 2 || strings.Contains(b[0], "projectId") || !strings.Contains(b[1], `"projectId":"`+pid+`"`) {
		t.Errorf("auth/login bodies: %d, projectId first %v", len(b), len(b) > 0 && strings.Contains(b[0], "projectId"))
	}
	// Without --project such a user is unknown, as on the server.
	_, err = auth.PasswordLogin(ctx, tokenClient(t, srv), auth.PasswordOptions{Email: "pat@example.com", Password: "pat-password"}, &scripted{})
	if !errors.Is(err, auth.ErrCredentialsRejected) || err.Error() != "sign-in refused: User not found" {
		t.Errorf("without --project: %v", err)
	}
}

// A user whose only membership is in another project than --project gets
// a code at once (nothing to choose from); the sign-in is checked after the
// exchange, signed out again, and refused in words.
func TestPasswordLoginOnlyMembershipElsewhere(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.SetLoginRateLimit(100, time.Minute)
	ctx := context.Background()
	other := srv.AddProject("Other")
	srv.AddUser(medplumtest.UserSpec{Email: "solo@example.com", Password: "solo-password", ProjectID: other})
	_, err := auth.PasswordLogin(ctx, tokenClient(t, srv), auth.PasswordOptions{Email: "solo@example.com", Password: "solo-password", ProjectID: srv.Seed.ProjectID}, &scripted{})
	var need *auth.InputNeededError
	if !errors.As(err, &need) || err.Error() != "you are not a member of project "+srv.Seed.ProjectID+"; your project is Project/"+other {
		t.Fatalf("err = %v", err)
	}
	if n := len(srv.RequestsTo("POST", "/oauth2/logout")); n != 1 {
		t.Errorf("%d oauth2/logout, want the unwanted sign-in signed out", n)
	}
	if b := loginBodies(srv); len(b) != 2 || !strings.Contains(b[1], `"projectId"`) {
		t.Errorf("auth/login bodies: %d", len(b))
	}
}

// A deactivated membership is refused in plain words (Medplum says
// "Profile not active": captures 187, 189), with the credentials-rejected
// exit code.
func TestPasswordLoginDeactivatedMembership(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.SetLoginRateLimit(100, time.Minute)
	ctx := context.Background()
	m := srv.AddUser(medplumtest.UserSpec{Email: "ina@example.com", Password: "ina-password"})
	r := srv.Resource("ProjectMembership", m.MembershipID)
	r["active"] = false
	srv.Update(r)
	const want = "sign-in refused: your membership of this project is deactivated: a project admin turned it off; ask one of them to activate it again"
	_, err := auth.PasswordLogin(ctx, tokenClient(t, srv), auth.PasswordOptions{Email: "ina@example.com", Password: "ina-password"}, &scripted{})
	var pna *auth.ProfileNotActiveError
	if !errors.Is(err, auth.ErrCredentialsRejected) || !errors.As(err, &pna) || err.Error() != want {
		t.Errorf("only membership deactivated: %v", err)
	}
	// One of two memberships deactivated: offered, refused when chosen.
	srv.AddUser(medplumtest.UserSpec{Email: "ina@example.com", ProjectID: srv.Seed.SuperAdminProjectID})
	_, err = auth.PasswordLogin(ctx, tokenClient(t, srv), auth.PasswordOptions{Email: "ina@example.com", Password: "ina-password", ProjectID: srv.Seed.ProjectID}, &scripted{})
	if !errors.As(err, &pna) || err.Error() != "choosing the project was refused: your membership of this project is deactivated: a project admin turned it off; ask one of them to activate it again" {
		t.Errorf("chosen membership deactivated: %v", err)
	}
	l, err := auth.PasswordLogin(ctx, tokenClient(t, srv), auth.PasswordOptions{Email: "ina@example.com", Password: "ina-password", ProjectID: srv.Seed.SuperAdminProjectID}, &scripted{})
	if err != nil || l.Token.Project.Reference != "Project/"+srv.Seed.SuperAdminProjectID {
		t.Errorf("the active one: %v", err)
	}
}
