package medplumtest

import (
	"crypto/subtle"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/medplumcli/medplum/client"
)

// The interactive sign-in flows (auth/routes.ts, oauth/utils.ts tryLogin,
// auth/utils.ts sendLoginResult): the four stages of a Medplum login —
// Domain (auth/method), Credentials (auth/login, auth/mfa/verify), Profile
// (auth/profile) and Scope (auth/scope) — ending in a code that
// oauth2/token exchanges (login_oauth.go).

// CLIClientID is the server's built-in client for the command line: it
// registers http://localhost:9615 and does not require PKCE.
const CLIClientID = "medplum-cli"

// CLIRedirectURI is medplum-cli's only redirect URI.
const CLIRedirectURI = "http://localhost:9615"

// RateLimitLogin is /auth/login, /auth/newuser and /auth/newproject: 5
// requests per IP per minute by default (defaultLoginRateLimit).
const RateLimitLogin RateLimitCategory = "login"

// loginFlows is the state of the interactive flows that is not a resource.
type loginFlows struct {
	mu           sync.Mutex
	flow         map[string]*flowState // by login id
	window       *window               // the login rate limit
	browser      browserApproval
	confirmScope bool
	jwks         map[string][]byte // JWK sets served for SetClientKeys, by client id
}

// flowState is what a login in progress needs beyond the login record.
type flowState struct {
	projectID      string // auth/login projectId: only that project's memberships
	scopeConfirmed bool
}

// browserApproval is how the simulated web app (webAppSignIn) answers the
// sign-ins /oauth2/authorize hands over to it.
type browserApproval struct {
	email        string // sign in this user without a form
	membershipID string // and choose this membership ("" = the only or first)
	deny         string // redirect back with error=access_denied and this text
}

func (s *Server) loginState() *loginFlows {
	f := &s.flows
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.flow == nil {
		f.flow = map[string]*flowState{}
		f.window = &window{limit: 5, period: time.Minute}
	}
	return f
}

func (s *Server) flowOf(loginID string) *flowState {
	f := s.loginState()
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.flow[loginID]
	if st == nil {
		st = &flowState{}
		f.flow[loginID] = st
	}
	return st
}

// SetLoginRateLimit sets the budget of the login category (/auth/login,
// /auth/newuser, /auth/newproject; 5 per minute by default). The window
// restarts.
func (s *Server) SetLoginRateLimit(limit int, period time.Duration) {
	f := s.loginState()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.window = &window{limit: limit, period: period}
}

// RequireScopeConfirmation makes the server stop after the profile stage with
// a bare {login} until the client confirms the scope with auth/scope, as the
// web app's scope stage does for SMART scopes.
func (s *Server) RequireScopeConfirmation(on bool) {
	f := s.loginState()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.confirmScope = on
}

// loginRoutes registers the sign-in endpoints.
func (s *Server) loginRoutes() {
	s.handle("POST", "/auth/method", s.authMethod)
	s.handle("POST", "/auth/login", s.authLogin)
	s.handle("POST", "/auth/profile", s.authProfile)
	s.handle("POST", "/auth/scope", s.authScope)
	s.handle("POST", "/auth/mfa/verify", s.authMFAVerify)
	s.oauthRoutes()
}

// chargeLogin applies the login rate limit; false means it answered 429.
func (s *Server) chargeLogin(c *reqCtx) bool {
	f := s.loginState()
	f.mu.Lock()
	ok, remaining, reset := f.window.take(s.now(), 1)
	f.mu.Unlock()
	rawSet(c.w.Header(), "RateLimit", rateLimitHeader(remaining, reset))
	if !ok {
		c.sendOutcome(tooManyRequests(0, reset))
	}
	return ok
}

func rateLimitHeader(remaining int, reset time.Duration) string {
	return fmt.Sprintf(`"requests";r=%d;t=%d`, remaining, seconds(reset))
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && strings.Contains(s, "@")
}

func (c *reqCtx) str(key string) string {
	v, _ := c.bodyObject()[key].(string)
	return v
}

// authMethod is POST /auth/method: {} for a password login, or the identity
// provider of the e-mail's domain (a DomainConfiguration).
func (s *Server) authMethod(c *reqCtx) {
	email := c.str("email")
	if !validEmail(email) {
		c.sendOutcome(invalidRequest([]fieldError{{"email", "Valid email address is required"}}))
		return
	}
	_, domain, _ := strings.Cut(strings.ToLower(email), "@")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.st.all("DomainConfiguration") {
		if strings.EqualFold(d.res.String("domain"), domain) {
			idp, _ := d.res["identityProvider"].(map[string]any)
			u, _ := idp["authorizeUrl"].(string)
			c.json(200, map[string]any{"domain": domain, "authorizeUrl": u})
			return
		}
	}
	c.json(200, map[string]any{})
}

// userByEmail finds the user a login is for: with a project, a user scoped to
// that project first, then a server-scoped one (getUserByEmail). Holds s.mu.
func (s *Server) userByEmail(email, projectID string) *record {
	var server *record
	for _, u := range s.st.lookup("User|email|" + strings.ToLower(email)) {
		scoped := u.res.Ref("project")
		if scoped == "" {
			server = u
		} else if projectID != "" && scoped == "Project/"+projectID {
			return u
		}
	}
	return server
}

// authLogin is POST /auth/login (auth/login.ts + tryLogin).
func (s *Server) authLogin(c *reqCtx) {
	if !s.chargeLogin(c) {
		return
	}
	email, password := c.str("email"), c.str("password")
	var errs []fieldError
	if !validEmail(email) {
		errs = append(errs, fieldError{"email", "Valid email address is required"})
	}
	if len(password) < 5 {
		errs = append(errs, fieldError{"password", "Invalid password, must be at least 5 characters"})
	}
	if len(errs) > 0 {
		c.sendOutcome(invalidRequest(errs))
		return
	}
	projectID, clientID := c.str("projectId"), c.str("clientId")
	challenge, method := c.str("codeChallenge"), c.str("codeChallengeMethod")
	scope := c.str("scope")
	if scope == "" {
		scope = "openid"
	}

	s.mu.Lock()
	if clientID != "" {
		app := s.oauthClient(clientID)
		if app == nil {
			c.unlockOutcome(notFound())
			return
		}
		if projectID != "" && projectID != app.projectID {
			c.unlockOutcome(badRequest("Invalid projectId"))
			return
		}
		projectID = app.projectID
		if !app.pkceOptional {
			if o := checkChallenge(challenge, method); o != nil {
				c.unlockOutcome(o)
				return
			}
		}
	} else if o := checkChallenge(challenge, method); o != nil {
		c.unlockOutcome(o)
		return
	}
	user := s.userByEmail(email, projectID)
	if user == nil {
		c.unlockOutcome(badRequest("User not found"))
		return
	}
	if !checkPassword(user.res.String("passwordHash"), password) {
		c.unlockOutcome(badRequest("Email or password is invalid"))
		return
	}
	l, oo := s.startLogin(c, user, clientID, projectID, scope, challenge, method)
	if oo != nil {
		c.unlockOutcome(oo)
		return
	}
	s.mu.Unlock()
	s.sendLoginResult(c, l)
}

// checkChallenge is validatePkce.
func checkChallenge(challenge, method string) *client.OperationOutcome {
	switch {
	case challenge == "" && method != "":
		return badRequest("Invalid code challenge", "code_challenge")
	case challenge != "" && method == "":
		return badRequest("Invalid code challenge method", "code_challenge_method")
	case method != "" && method != "plain" && method != "S256":
		return badRequest("Invalid code challenge method", "code_challenge_method")
	}
	return nil
}

// includesOffline: a refresh token is issued for offline_access (or the
// deprecated offline).
func includesOffline(scope string) bool {
	f := strings.Fields(scope)
	return slices.Contains(f, "offline_access") || slices.Contains(f, "offline")
}

// startLogin creates the Login of a password sign-in and, when the user has
// exactly one membership to choose from, chooses it (tryLogin), which a
// deactivated one refuses: 400 "Profile not active" (capture 187). Holds
// s.mu.
func (s *Server) startLogin(c *reqCtx, user *record, clientID, projectID, scope, challenge, method string) (*login, *client.OperationOutcome) {
	l := &login{
		UserRef: "User/" + user.id, ClientID: clientID, ProjectID: projectID, Scope: scope,
		AuthMethod: "password", Code: newSecret(32), CodeChallenge: challenge, CodeChallengeMethod: method,
		Nonce: newID(), RemoteAddress: c.r.RemoteAddr, UserAgent: c.r.UserAgent(),
	}
	if includesOffline(scope) {
		l.RefreshSecret = newSecret(64)
	}
	s.newLogin(l)
	s.flowOf(l.ID).projectID = projectID
	if ms := s.eligibleMemberships(l); len(ms) == 1 {
		if !isActive(ms[0]) {
			return nil, badRequest("Profile not active")
		}
		l.MembershipID = ms[0].id
	}
	return l, nil
}

// isActive reports whether a membership is not deactivated (active:false).
func isActive(m *record) bool {
	active, ok := m.res.Bool("active")
	return !ok || active
}

// eligibleMemberships are the memberships a login offers
// (getMembershipsForLogin): the user's, of the login's project when it has
// one (auth/login's projectId, or its client's project), deactivated ones
// included (capture 188; choosing one is "Profile not active", 189). Holds
// s.mu.
func (s *Server) eligibleMemberships(l *login) []*record {
	pid := s.flowOf(l.ID).projectID
	var out []*record
	for _, m := range s.st.lookup("ProjectMembership|user|" + l.UserRef) {
		if pid != "" && m.res.Ref("project") != "Project/"+pid {
			continue
		}
		out = append(out, m)
	}
	return out
}

// sendLoginResult answers a login stage with the next one (sendLoginResult).
func (s *Server) sendLoginResult(c *reqCtx, l *login) {
	s.mu.Lock()
	defer s.mu.Unlock()
	user := s.st.liveRef(l.UserRef)
	if user == nil {
		c.sendOutcome(badRequest("User not found"))
		return
	}
	enrolled, _ := user.res.Bool("mfaEnrolled")
	required, _ := user.res.Bool("mfaRequired")
	if required && !enrolled && l.AuthMethod == "password" && !l.MFAVerified {
		secret := user.res.String("mfaSecret")
		if secret == "" {
			secret = TOTPSecret
		}
		uri := enrollURI(user.res.String("email"), secret)
		// As 5.0.10 answers (capture 515): no allowedMfaMethods.
		c.json(200, map[string]any{"login": l.ID, "mfaEnrollRequired": true, "enrollUri": uri, "enrollQrCode": "data:image/png;base64,"})
		return
	}
	if enrolled && l.AuthMethod == "password" && !l.MFAVerified {
		c.json(200, map[string]any{"login": l.ID, "mfaRequired": true}) // capture 157
		return
	}
	if l.MembershipID != "" {
		f := s.loginState()
		f.mu.Lock()
		confirm := f.confirmScope
		f.mu.Unlock()
		if confirm && !s.flowOf(l.ID).scopeConfirmed {
			c.json(200, map[string]any{"login": l.ID})
			return
		}
		c.json(200, map[string]any{"login": l.ID, "code": l.Code})
		return
	}
	ms := s.eligibleMemberships(l)
	if len(ms) == 0 {
		c.sendOutcome(badRequest("User not found"))
		return
	}
	list := make([]any, 0, len(ms))
	for _, m := range ms {
		e := map[string]any{"id": m.id, "project": s.freshProjectRef(m.res.Ref("project")), "profile": deepCopy(m.res["profile"])}
		if id, ok := m.res["identifier"]; ok {
			e["identifier"] = deepCopy(id)
		}
		list = append(list, e)
	}
	c.json(200, map[string]any{"login": l.ID, "memberships": list})
}

// freshProjectRef is a Project reference with the project's current name.
// Holds s.mu.
func (s *Server) freshProjectRef(ref string) map[string]any {
	out := map[string]any{"reference": ref}
	if p := s.st.liveRef(ref); p != nil {
		if n := p.res.String("name"); n != "" {
			out["display"] = n
		}
	}
	return out
}

// pendingLogin finds the login named in a stage's body and checks that it can
// still move on; on failure it has answered. Holds s.mu.
func (s *Server) pendingLogin(c *reqCtx) *login {
	id := c.str("login")
	l := s.logins[id]
	switch {
	case id == "" || l == nil:
		c.sendOutcome(badRequest("Login not found"))
	case l.Revoked:
		c.sendOutcome(badRequest("Login revoked"))
	case l.Granted:
		c.sendOutcome(badRequest("Login granted"))
	default:
		return l
	}
	return nil
}

// authProfile is POST /auth/profile {login, profile}: choose the membership.
func (s *Server) authProfile(c *reqCtx) {
	s.mu.Lock()
	l := s.pendingLogin(c)
	if l == nil {
		s.mu.Unlock()
		return
	}
	if l.MembershipID != "" {
		c.unlockOutcome(badRequest("Login profile already set"))
		return
	}
	m := s.st.live("ProjectMembership", c.str("profile"))
	if m == nil {
		c.unlockOutcome(badRequest("Profile not found"))
		return
	}
	if m.res.Ref("user") != l.UserRef {
		c.unlockOutcome(badRequest("Invalid profile"))
		return
	}
	if !isActive(m) {
		c.unlockOutcome(badRequest("Profile not active"))
		return
	}
	l.MembershipID = m.id
	_, l.ProjectID, _ = client.SplitReference(m.res.Ref("project"))
	s.mu.Unlock()
	s.sendLoginResult(c, l)
}

// authScope is POST /auth/scope {login, scope}: the scope may only shrink.
func (s *Server) authScope(c *reqCtx) {
	s.mu.Lock()
	l := s.pendingLogin(c)
	if l == nil {
		s.mu.Unlock()
		return
	}
	asked := strings.Fields(c.str("scope"))
	have := strings.Fields(l.Scope)
	if len(asked) == 0 {
		c.unlockOutcome(badRequest("Invalid scope"))
		return
	}
	for _, sc := range asked {
		if !slices.Contains(have, sc) {
			c.unlockOutcome(badRequest("Invalid scope"))
			return
		}
	}
	l.Scope = strings.Join(asked, " ")
	if !includesOffline(l.Scope) {
		l.RefreshSecret = ""
	}
	s.flowOf(l.ID).scopeConfirmed = true
	s.mu.Unlock()
	s.sendLoginResult(c, l)
}

// authMFAVerify is POST /auth/mfa/verify {login, token} (verifyMfaToken).
func (s *Server) authMFAVerify(c *reqCtx) {
	s.mu.Lock()
	l := s.pendingLogin(c)
	if l == nil {
		s.mu.Unlock()
		return
	}
	if l.MFAVerified {
		c.unlockOutcome(badRequest("Login already verified"))
		return
	}
	user := s.st.liveRef(l.UserRef)
	enrolled := false
	if user != nil {
		enrolled, _ = user.res.Bool("mfaEnrolled")
	}
	if !enrolled {
		c.unlockOutcome(badRequest("User not enrolled in MFA"))
		return
	}
	if !CheckTOTP(user.res.String("mfaSecret"), c.str("token"), s.now()) {
		c.unlockOutcome(badRequest("Invalid MFA token"))
		return
	}
	l.MFAVerified = true
	s.mu.Unlock()
	s.sendLoginResult(c, l)
}

// UserSpec describes a user AddUser creates.
type UserSpec struct {
	Email     string
	Password  string // "" = a random one (the user cannot sign in with a password)
	FirstName string // default "Test"
	LastName  string // default "User"
	// ProjectID is the project the user joins (default Seed.ProjectID).
	ProjectID string
	Admin     bool
	// MFASecret enrolls the user in TOTP multi-factor authentication with
	// this base32 secret (TOTPSecret is a fixed one for tests).
	MFASecret string
}

// AddUser creates a server-scoped user (or reuses the one with that e-mail,
// setting its password if given) and makes it a Practitioner member of the
// project. Call it once per project to give a user several memberships.
func (s *Server) AddUser(u UserSpec) Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ProjectID == "" {
		u.ProjectID = s.Seed.ProjectID
	}
	if u.FirstName == "" {
		u.FirstName = "Test"
	}
	if u.LastName == "" {
		u.LastName = "User"
	}
	p := s.st.live("Project", u.ProjectID)
	if p == nil {
		panic("medplumtest: AddUser: no project " + u.ProjectID)
	}
	user := s.userByEmail(u.Email, "")
	if user == nil {
		user = s.seedWrite(client.Resource{
			"resourceType": "User", "firstName": u.FirstName, "lastName": u.LastName,
			"email": u.Email, "emailVerified": true, "passwordHash": hashPassword(u.Password),
		}, "")
	} else if u.Password != "" {
		r := deepCopy(user.res)
		r["passwordHash"] = hashPassword(u.Password)
		user = s.seedWrite(r, user.project)
	}
	if u.MFASecret != "" {
		s.setMFA(user, u.MFASecret)
	}
	return s.seedHuman(p, user, "Practitioner", u.FirstName, u.LastName, u.Admin)
}

// AddProject creates a project owned by the admin user and returns its id.
func (s *Server) AddProject(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner := map[string]any{"reference": "User/" + s.Seed.AdminUserID, "display": s.Seed.AdminEmail}
	return s.seedProject(name, false, owner).id
}

// EnableMFA enrolls the user with that e-mail in TOTP with a base32 secret.
func (s *Server) EnableMFA(email, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	user := s.userByEmail(email, "")
	if user == nil {
		panic("medplumtest: EnableMFA: no user " + email)
	}
	s.setMFA(user, secret)
}

// setMFA enrolls user. Holds s.mu.
func (s *Server) setMFA(user *record, secret string) {
	r := deepCopy(user.res)
	r["mfaEnrolled"] = true
	r["mfaSecret"] = secret
	s.seedWrite(r, user.project)
}

// AddExternalIdP makes e-mail addresses of domain sign in through an
// external identity provider (a DomainConfiguration): auth/method answers
// with authorizeURL.
func (s *Server) AddExternalIdP(domain, authorizeURL string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seedWrite(client.Resource{
		"resourceType": "DomainConfiguration", "domain": strings.ToLower(domain),
		"identityProvider": map[string]any{"authorizeUrl": authorizeURL, "clientId": "external"},
	}, "")
}

// equalString compares secrets in constant time.
func equalString(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
