package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/medplumcli/medplum/client"
)

// DefaultScope is what a person's sign-in asks for: offline_access brings a
// refresh token, so the sign-in outlives the one-hour access token.
const DefaultScope = "openid offline_access"

// CLIClientID is the server's built-in client for command-line sign-in. It
// registers the redirect URI http://localhost:9615.
const CLIClientID = "medplum-cli"

// DefaultLoginTimeout bounds a browser sign-in.
const DefaultLoginTimeout = 5 * time.Minute

// Prompter asks the user for input. The commands package implements it on the
// terminal; auth never prints.
type Prompter interface {
	// Input reads one line (echoed), e.g. an MFA code or a pasted URL.
	Input(ctx context.Context, prompt string) (string, error)
	// Password reads one line without echo.
	Password(ctx context.Context, prompt string) (string, error)
	// Select lets the user choose one of options and returns its index.
	Select(ctx context.Context, prompt string, options []string) (int, error)
}

// ErrNoPrompt is what a Prompter returns when it cannot ask (no terminal);
// the flows turn it into an *InputNeededError naming the flag that supplies
// the answer.
var ErrNoPrompt = errors.New("cannot prompt: not a terminal")

// InputNeededError means a flow needs an answer it could not ask for; the
// message names the flag that gives it. Nothing was stored.
type InputNeededError struct{ Msg string }

func (e *InputNeededError) Error() string { return e.Msg }

func needInput(format string, args ...any) error {
	return &InputNeededError{Msg: fmt.Sprintf(format, args...)}
}

// rejected marks a refusal by the server (wrong password, unknown client,
// bad code) as ErrCredentialsRejected (exit 4), saying what was refused.
func rejected(reason string, err error) error {
	if rejectedCredentials(err) {
		return &rejectedError{fmt.Errorf("%s: %w", reason, err)}
	}
	return limited(err)
}

// RateLimitedError is a sign-in step the server's rate limit refused (429;
// Medplum allows a few sign-ins per address and minute). Its message says
// when to try again instead of repeating the limiter's JSON.
type RateLimitedError struct {
	Wait time.Duration // 0 when the server did not say
	Err  error         // the *client.Error
}

func (e *RateLimitedError) Error() string {
	if e.Wait <= 0 {
		return "too many sign-in attempts: the server refuses more for now; try again in a minute"
	}
	// (auth cannot use cmdutil.Count: the plural by hand.)
	n, unit := int((e.Wait+time.Second-1)/time.Second), "seconds"
	if n == 1 {
		unit = "second"
	}
	return fmt.Sprintf("too many sign-in attempts: the server takes the next one in %d %s", n, unit)
}

func (e *RateLimitedError) Unwrap() error { return e.Err }

// limited turns a 429 answer into a *RateLimitedError.
func limited(err error) error {
	if e := client.AsError(err); e != nil && e.Status == http.StatusTooManyRequests {
		return &RateLimitedError{Wait: e.RateLimitWait, Err: err}
	}
	return err
}

// ClientCredentialsLogin gets a token with a client id and secret.
func ClientCredentialsLogin(ctx context.Context, tc *client.Client, clientID, secret, scope string) (*client.TokenResponse, error) {
	tr, err := tc.Token(ctx, ClientCredentialsForm(clientID, secret, scope), nil)
	return tr, rejected("the server refused the client credentials", err)
}

// JWTAssertionLogin gets a token with a private_key_jwt client assertion
// signed by key, audience the token URL.
func JWTAssertionLogin(ctx context.Context, tc *client.Client, key *AssertionKey, clientID, scope string, now time.Time) (*client.TokenResponse, error) {
	form, err := AssertionForm(key, clientID, tc.TokenURL(), scope, now)
	if err != nil {
		return nil, err
	}
	tr, err := tc.Token(ctx, form, nil)
	return tr, rejected("the server refused the client assertion", err)
}

// BrowserOptions configure BrowserLogin.
type BrowserOptions struct {
	AuthorizeURL string // absolute
	ClientID     string // default CLIClientID
	Scope        string // default DefaultScope
	Port         int    // loopback port; default DefaultCallbackPort
	// NoBrowser: the caller only shows the URL; the user may paste the URL
	// the browser was redirected to (or the code) through Prompter.Input.
	NoBrowser bool
	Timeout   time.Duration // default DefaultLoginTimeout
	LoginHint string        // e-mail, when known (external identity provider)
}

// BrowserLogin runs an authorization-code sign-in with PKCE (S256) and a
// random state: it listens on the loopback port, hands the authorization URL
// to open (which shows it and, unless NoBrowser, opens a browser), waits for
// the redirect (or, with NoBrowser, a pasted URL or code), checks the state
// and exchanges the code. open returns before p is asked anything.
func BrowserLogin(ctx context.Context, tc *client.Client, o BrowserOptions, open func(authURL string), p Prompter) (*UserLogin, error) {
	if o.ClientID == "" {
		o.ClientID = CLIClientID
	}
	if o.Scope == "" {
		o.Scope = DefaultScope
	}
	if o.Port == 0 {
		o.Port = DefaultCallbackPort
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultLoginTimeout
	}
	cb, err := ListenCallback(o.Port)
	if err != nil && !(o.NoBrowser && errors.Is(err, ErrCallbackPortBusy)) {
		if errors.Is(err, ErrCallbackPortBusy) {
			return nil, fmt.Errorf("%w; close the other program, or use --no-browser and paste the redirected URL", err)
		}
		return nil, err
	}
	redirect := fmt.Sprintf("http://localhost:%d", o.Port)
	if cb != nil {
		defer cb.Close()
		redirect = cb.RedirectURI()
	}
	pk, state := NewPKCE(), NewState()
	authURL, err := authorizationURL(o, redirect, state, pk)
	if err != nil {
		return nil, err
	}
	if err := checkAuthorize(ctx, tc, authURL, o.ClientID, redirect); err != nil {
		return nil, err
	}

	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	type result struct {
		code   string
		err    error
		pasted bool
	}
	results := make(chan result, 2)
	waiting := 0
	if cb != nil {
		waiting++
		go func() {
			code, err := cb.Wait(wctx, state)
			results <- result{code: code, err: err}
		}()
	}
	// The URL is shown before the user is asked to paste what it led to:
	// open and p both write to the terminal, and p may need what open did.
	open(authURL)
	if o.NoBrowser {
		waiting++
		go func() {
			s, err := p.Input(wctx, "Paste the URL your browser was sent to (or the code): ")
			if err == nil {
				s, err = ParsePasted(s, state)
			}
			results <- result{code: s, err: err, pasted: true}
		}()
	}

	var code string
	for code == "" {
		var r result
		select {
		case r = <-results:
		case <-wctx.Done():
			r = result{err: wctx.Err()}
		}
		waiting--
		switch {
		case r.err == nil:
			code = r.code
		case errors.Is(r.err, context.DeadlineExceeded) && ctx.Err() == nil:
			// The web app shows its refusals on its own page and does not
			// send the browser back (capture 501): say what the usual one
			// means, since the wait cannot tell.
			return nil, fmt.Errorf("no sign-in arrived within %s; run medplum login again (--timeout sets a longer wait). "+
				"If the sign-in page said \"Profile not active\", a project admin deactivated your membership: ask one of them to activate it again", o.Timeout)
		case r.pasted && waiting > 0 && !errors.Is(r.err, ErrStateMismatch) && wctx.Err() == nil:
			// No terminal to paste into (or it closed): keep waiting for
			// the browser's redirect.
			continue
		case errors.Is(r.err, ErrStateMismatch):
			return nil, fmt.Errorf("%w; nothing was stored, run medplum login again", r.err)
		case r.pasted && cb == nil && errors.Is(r.err, ErrNoPrompt):
			return nil, needInput("--no-browser needs a terminal to paste the redirected address into, and port %d, where the browser would be sent back, is busy", o.Port)
		default:
			return nil, r.err
		}
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"client_id":     {o.ClientID},
		"redirect_uri":  {redirect},
		"code_verifier": {pk.Verifier},
	}
	tr, err := tc.Token(ctx, form, nil)
	if err != nil {
		return nil, rejected("the server refused the authorization code", err)
	}
	return &UserLogin{Token: tr, Email: o.LoginHint}, nil
}

// checkAuthorize sends the sign-in request to the authorize endpoint before
// the browser does. An unknown client or an unregistered redirect is a
// plain-text 400 there that only the browser would show, while the CLI
// waited for a redirect that never comes. A valid request is only
// redirected to the web app's sign-in page (prompt=login: nothing happens
// on the server), so asking first costs one request. Only the base URL's own
// server is asked; a redirect or a 2xx page is fine.
func checkAuthorize(ctx context.Context, tc *client.Client, authURL, clientID, redirect string) error {
	if !tc.SameOrigin(authURL) {
		return nil
	}
	_, err := tc.Do(ctx, &client.Request{Method: http.MethodGet, URL: authURL, NoAuth: true, NoRetry: true})
	e := client.AsError(err)
	switch {
	case err == nil || (e != nil && e.Status < 400):
		return nil
	case e != nil && e.Status < 500:
		why := e.Message
		if why == "" {
			why = e.Error()
		}
		return &rejectedError{fmt.Errorf("the server refused to start a sign-in for client %s, redirect %s: %s", clientID, redirect, why)}
	}
	return err
}

func authorizationURL(o BrowserOptions, redirect, state string, pk PKCE) (string, error) {
	u, err := url.Parse(o.AuthorizeURL)
	if err != nil || !u.IsAbs() {
		return "", fmt.Errorf("authorize URL %q is not an absolute URL", o.AuthorizeURL)
	}
	q := u.Query()
	q.Set("response_type", "code")
	q.Set("client_id", o.ClientID)
	q.Set("redirect_uri", redirect)
	q.Set("scope", o.Scope)
	q.Set("state", state)
	q.Set("code_challenge", pk.Challenge)
	q.Set("code_challenge_method", pk.Method)
	q.Set("prompt", "login")
	if o.LoginHint != "" {
		q.Set("login_hint", o.LoginHint)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// ExternalIdPError means the e-mail's domain signs in through an external
// identity provider: the password flow cannot be used, the browser flow can.
type ExternalIdPError struct {
	Email, Domain, AuthorizeURL string
}

func (e *ExternalIdPError) Error() string {
	return fmt.Sprintf("%s signs in through the identity provider of %s, not with a Medplum password; use the browser sign-in", e.Email, e.Domain)
}

// PasswordOptions configure PasswordLogin.
type PasswordOptions struct {
	Email string
	// Password, when set (--password-stdin), is used instead of asking.
	Password string
	// MFACode, when set (--mfa-code), is used instead of asking.
	MFACode string
	// ProjectID or MembershipID choose the project when the user has several.
	ProjectID, MembershipID string
	Scope                   string // default DefaultScope
	ClientID                string // optional OAuth client; PKCE is always used
}

// maxMFAAttempts is how often a user on a terminal may retype a wrong code.
const maxMFAAttempts = 3

// PasswordLogin signs a person in without a browser, through the stages of a
// Medplum login: Domain (auth/method), Credentials (auth/login with PKCE, then
// auth/mfa/verify if the account has MFA), Profile (auth/profile when the
// user belongs to several projects), Scope (auth/scope when the server asks),
// and finally the code exchange at the token endpoint.
func PasswordLogin(ctx context.Context, tc *client.Client, o PasswordOptions, p Prompter) (*UserLogin, error) {
	if o.Scope == "" {
		o.Scope = DefaultScope
	}
	if !strings.Contains(o.Email, "@") {
		return nil, fmt.Errorf("%q is not an e-mail address", o.Email)
	}
	// Domain.
	var method client.MethodResponse
	if err := tc.AuthPost(ctx, "auth/method", map[string]string{"email": o.Email}, &method); err != nil {
		return nil, limited(err)
	}
	if method.AuthorizeURL != "" {
		return nil, &ExternalIdPError{Email: o.Email, Domain: method.Domain, AuthorizeURL: method.AuthorizeURL}
	}
	// Credentials.
	password := o.Password
	if password == "" {
		var err error
		password, err = p.Password(ctx, "Password for "+o.Email+": ")
		if errors.Is(err, ErrNoPrompt) {
			return nil, needInput("no password: pipe it to --password-stdin (it is never accepted as a flag)")
		}
		if err != nil {
			return nil, err
		}
	}
	ul, err := passwordSignIn(ctx, tc, o, p, password, false)
	if err != nil || o.ProjectID == "" || loginProject(ul) == o.ProjectID {
		return ul, err
	}
	// The user's only membership is in another project. With the
	// project's id, auth/login also finds a user scoped to that project
	// (getUserByEmail): try that before saying no. The sign-in made for
	// the other project is signed out again.
	other := loginProject(ul)
	revokeLogin(ctx, tc, ul.Token.AccessToken)
	if o.ClientID == "" {
		scoped, err := passwordSignIn(ctx, tc, o, p, password, true)
		if err == nil && loginProject(scoped) == o.ProjectID {
			return scoped, nil
		}
		if err == nil {
			revokeLogin(ctx, tc, scoped.Token.AccessToken)
		} else if !isUserNotFound(err) {
			return nil, err
		}
	}
	return nil, needInput("you are not a member of project %s; your project is Project/%s", o.ProjectID, other)
}

// passwordSignIn runs the stages of PasswordLogin from auth/login on.
// auth/login is sent a projectId only with withProject: it narrows the
// memberships the server offers to that project's (getMembershipsForLogin),
// so a later project list would miss the others, and the built-in
// medplum-cli client refuses it (capture 186). The project is chosen with
// auth/profile from everything offered instead; a user scoped to a project
// is the one case that needs the id (the server finds such a user only
// with it), and then only when auth/login found nobody without it.
func passwordSignIn(ctx context.Context, tc *client.Client, o PasswordOptions, p Prompter, password string, withProject bool) (*UserLogin, error) {
	pk := NewPKCE()
	req := map[string]any{
		"email": o.Email, "password": password, "scope": o.Scope,
		"codeChallenge": pk.Challenge, "codeChallengeMethod": pk.Method,
	}
	if o.ClientID != "" {
		req["clientId"] = o.ClientID
	}
	if withProject {
		req["projectId"] = o.ProjectID
	}
	var lr client.LoginResponse
	err := tc.AuthPost(ctx, "auth/login", req, &lr)
	if err != nil && !withProject && o.ProjectID != "" && o.ClientID == "" && isUserNotFound(err) {
		return passwordSignIn(ctx, tc, o, p, password, true)
	}
	if err != nil {
		if e := client.AsError(err); e != nil && e.IsNotFound() && o.ClientID != "" {
			// The server reads the client first and answers a plain 404.
			return nil, &rejectedError{fmt.Errorf("sign-in refused: the server has no client %s (%w)", o.ClientID, err)}
		}
		refused := "sign-in refused"
		if o.ProjectID != "" {
			refused = "sign-in to project " + o.ProjectID + " refused"
		}
		return nil, rejected(refused, notActive(err))
	}
	membership := ""
	var offered []client.LoginMembership
	for stage := 0; lr.Code == ""; stage++ {
		if stage > 6 || lr.Login == "" {
			return nil, errors.New("the server's sign-in did not finish (no code after the last stage)")
		}
		var next client.LoginResponse
		var err error
		switch {
		case lr.MfaEnrollRequired:
			return nil, errors.New("this account must set up multi-factor authentication before it can sign in; do that once in the Medplum app, then sign in here")
		case lr.MfaRequired:
			next, err = verifyMFA(ctx, tc, p, lr.Login, o.MFACode)
		case len(lr.Memberships) > 0:
			offered = lr.Memberships
			membership, err = chooseMembership(ctx, p, lr.Memberships, o)
			if err == nil {
				err = tc.AuthPost(ctx, "auth/profile", map[string]string{"login": lr.Login, "profile": membership}, &next)
				err = rejected("choosing the project was refused", notActive(err))
			}
		default:
			// Scope: the server wants the scope confirmed.
			err = tc.AuthPost(ctx, "auth/scope", map[string]string{"login": lr.Login, "scope": o.Scope}, &next)
			err = rejected("the scope was refused", err)
		}
		if err != nil {
			return nil, err
		}
		if next.Login == "" {
			next.Login = lr.Login
		}
		lr = next
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {lr.Code}, "code_verifier": {pk.Verifier}}
	if o.ClientID != "" {
		form.Set("client_id", o.ClientID)
	}
	tr, err := tc.Token(ctx, form, nil)
	if err != nil {
		return nil, rejected("the server refused the sign-in code", err)
	}
	return &UserLogin{Token: tr, Email: o.Email, MembershipID: membership, Memberships: offered}, nil
}

// loginProject is the id of the project a sign-in is in.
func loginProject(ul *UserLogin) string {
	if ul == nil || ul.Token == nil || ul.Token.Project == nil {
		return ""
	}
	return strings.TrimPrefix(ul.Token.Project.Reference, "Project/")
}

// isUserNotFound reports whether auth/login found no user for the e-mail
// (400 "User not found"; a wrong password is "Email or password is
// invalid").
func isUserNotFound(err error) bool {
	e := client.AsError(err)
	if e == nil || e.Status != http.StatusBadRequest || e.Outcome == nil {
		return false
	}
	for _, is := range e.Outcome.Issue {
		if is.Text() == "User not found" {
			return true
		}
	}
	return false
}

// ProfileNotActiveError is a sign-in to a membership the project's admins
// deactivated (active: false): Medplum answers 400 "Profile not active"
// (captures 187, 189).
type ProfileNotActiveError struct{ Err error }

func (e *ProfileNotActiveError) Error() string {
	return "your membership of this project is deactivated: a project admin turned it off; ask one of them to activate it again"
}

func (e *ProfileNotActiveError) Unwrap() error { return e.Err }

// notActive turns Medplum's "Profile not active" into a
// *ProfileNotActiveError.
func notActive(err error) error {
	e := client.AsError(err)
	if e == nil || e.Status != http.StatusBadRequest || e.Outcome == nil {
		return err
	}
	for _, is := range e.Outcome.Issue {
		if is.Text() == "Profile not active" {
			return &ProfileNotActiveError{Err: err}
		}
	}
	return err
}

// revokeLogin signs a sign-in the CLI will not keep out again
// (oauth2/logout with its access token), so that its refresh token does not
// outlive it on the server. Best effort: the sign-in was never stored.
func revokeLogin(ctx context.Context, tc *client.Client, accessToken string) {
	if accessToken == "" {
		return
	}
	_, _ = tc.Do(ctx, &client.Request{Method: http.MethodPost, URL: "oauth2/logout", NoAuth: true,
		Header: http.Header{"Authorization": {"Bearer " + accessToken}}, ContentType: client.ContentTypeJSON, Body: []byte("{}")})
}

func verifyMFA(ctx context.Context, tc *client.Client, p Prompter, login, given string) (client.LoginResponse, error) {
	attempts := maxMFAAttempts
	if given != "" {
		attempts = 1
	}
	var lr client.LoginResponse
	var err error
	for range attempts {
		code := given
		if code == "" {
			code, err = p.Input(ctx, "Authenticator code: ")
			if errors.Is(err, ErrNoPrompt) {
				return lr, needInput("this account needs a multi-factor code: pass it with --mfa-code")
			}
			if err != nil {
				return lr, err
			}
		}
		code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
		err = tc.AuthPost(ctx, "auth/mfa/verify", map[string]string{"login": login, "token": code}, &lr)
		if err == nil || !rejectedCredentials(err) {
			return lr, limited(err)
		}
	}
	return lr, rejected("multi-factor code refused", err)
}

// chooseMembership picks the project membership to sign in to: the one named
// by --membership or --project, else the user's choice on a terminal.
func chooseMembership(ctx context.Context, p Prompter, ms []client.LoginMembership, o PasswordOptions) (string, error) {
	for _, m := range ms {
		if o.MembershipID != "" && m.ID == o.MembershipID {
			return m.ID, nil
		}
		if o.ProjectID != "" && m.Project != nil && strings.TrimPrefix(m.Project.Reference, "Project/") == o.ProjectID {
			return m.ID, nil
		}
	}
	options := make([]string, len(ms))
	for i, m := range ms {
		options[i] = DescribeMembership(m)
	}
	if o.MembershipID != "" || o.ProjectID != "" {
		return "", needInput("you are not a member of that project; your projects are:\n  %s", strings.Join(options, "\n  "))
	}
	i, err := p.Select(ctx, "Choose a project:", options)
	if errors.Is(err, ErrNoPrompt) {
		return "", needInput("you belong to %d projects; choose one with --project ID (or --membership ID):\n  %s", len(ms), strings.Join(options, "\n  "))
	}
	if err != nil {
		return "", err
	}
	if i < 0 || i >= len(ms) {
		return "", errors.New("no project chosen")
	}
	return ms[i].ID, nil
}

// DescribeMembership is one line naming a membership's project and profile.
func DescribeMembership(m client.LoginMembership) string {
	proj, prof := "", ""
	if m.Project != nil {
		proj = describeRef(*m.Project)
	}
	if m.Profile != nil {
		prof = m.Profile.Display
		if prof == "" {
			prof = m.Profile.Reference
		}
	}
	s := proj
	if prof != "" {
		s += " as " + prof
	}
	return s + " [membership " + m.ID + "]"
}
