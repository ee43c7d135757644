package medplumtest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// OAuth2 endpoints of the interactive flows (oauth/authorize.ts, token.ts):
// the authorize endpoint together with a stand-in for the Medplum web app
// that a real server redirects to, the authorization_code and refresh_token
// grants, private_key_jwt client assertions, and logout.

func (s *Server) oauthRoutes() {
	s.handle("GET", "/oauth2/authorize", s.authorize)
	s.handle("POST", "/oauth2/authorize", s.authorize)
	s.handle("GET", "/oauth", s.webAppSignIn)
	s.handle("POST", "/oauth", s.webAppSignIn)
	s.grants["authorization_code"] = s.authorizationCodeGrant
	s.grants["refresh_token"] = s.refreshTokenGrant
	s.grants["client_credentials"] = s.clientCredentialsOrAssertion
	s.use("/oauth2/logout", s.authenticate)
	s.handle("GET", "/oauth2/logout", s.logout)
	s.handle("POST", "/oauth2/logout", s.logout)
	s.handle("GET", "/.well-known/medplumtest-jwks/:id", s.serveJWKS)
}

// oauthApp is what the OAuth endpoints need to know about a client.
type oauthApp struct {
	id           string
	projectID    string
	redirectURIs []string
	pkceOptional bool
	jwksURI      string
	defaultScope []string
}

// oauthClient returns the client with that id: the built-in medplum-cli or
// a ClientApplication. Holds s.mu.
func (s *Server) oauthClient(id string) *oauthApp {
	if id == CLIClientID {
		return &oauthApp{id: id, redirectURIs: []string{CLIRedirectURI}, pkceOptional: true}
	}
	rec := s.st.live("ClientApplication", id)
	if rec == nil {
		return nil
	}
	a := &oauthApp{id: id, projectID: rec.project, jwksURI: rec.res.String("jwksUri")}
	a.pkceOptional, _ = rec.res.Bool("pkceOptional")
	if sc, ok := rec.res["defaultScope"].([]any); ok {
		for _, v := range sc {
			if v, ok := v.(string); ok {
				a.defaultScope = append(a.defaultScope, v)
			}
		}
	}
	if u := rec.res.String("redirectUri"); u != "" {
		a.redirectURIs = append(a.redirectURIs, u)
	}
	if us, ok := rec.res["redirectUris"].([]any); ok {
		for _, u := range us {
			if s, ok := u.(string); ok {
				a.redirectURIs = append(a.redirectURIs, s)
			}
		}
	}
	return a
}

// SetClientRedirectURI registers a redirect URI on a ClientApplication.
func (s *Server) SetClientRedirectURI(clientID, uri string) {
	s.setClientField(clientID, "redirectUri", uri)
}

// setClientField sets one field of a stored ClientApplication, as seeding
// does: SetClientRedirectURI and SetClientJWKSURI.
func (s *Server) setClientField(clientID, field, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.st.live("ClientApplication", clientID)
	if rec == nil {
		panic("medplumtest: setting " + field + ": no ClientApplication " + clientID)
	}
	r := deepCopy(rec.res)
	r[field] = value
	s.seedWrite(r, rec.project)
}

// ApproveBrowserLogins makes the simulated web app (webAppSignIn, where
// /oauth2/authorize sends the browser) sign in the user with that e-mail at
// once, choosing the membership with membershipID ("" = the user's only or
// first one), and redirect back with a code — what a person would do in the
// browser. A deactivated membership is refused there as the real web app
// refuses it: the page says "Profile not active" and the browser stays.
func (s *Server) ApproveBrowserLogins(email, membershipID string) {
	f := s.loginState()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.browser = browserApproval{email: email, membershipID: membershipID}
}

// DenyBrowserLogins makes the simulated web app redirect back with
// error=access_denied and reason as the description.
func (s *Server) DenyBrowserLogins(reason string) {
	f := s.loginState()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.browser = browserApproval{deny: reason}
}

// authorize is GET|POST /oauth2/authorize (oauth/authorize.ts): it checks
// the request and hands over to the web app, nothing more. An unknown client
// and a missing or unregistered redirect_uri are plain 400 pages (captures
// 502, 503); a missing scope (the client's defaultScope stands in for it), a
// response_type other than code, a request object, a foreign aud or a
// code_challenge without its method redirect back with an error (504, 505);
// anything else is redirected to the web app's /oauth page with the same
// parameters in the same order (500). No Login is made and no membership is
// looked at here: a deactivated one is refused by the web app's sign-in
// (webAppSignIn).
func (s *Server) authorize(c *reqCtx) {
	p := authorizeParams(c)
	redirect := p.get("redirect_uri")
	app := s.authorizeClient(c, p.get("client_id"), redirect)
	if app == nil {
		return
	}
	fail := func(code, desc string) {
		u, _ := url.Parse(redirect)
		if u.Path == "" {
			u.Path = "/" // as a WHATWG URL writes it (504)
		}
		q := orderedParams{{"error", code}, {"error_description", desc}, {"state", p.get("state")}}
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += q.encode()
		c.redirect(u.String())
	}
	if p.get("scope") == "" && len(app.defaultScope) > 0 {
		p.set("scope", strings.Join(app.defaultScope, " "))
	}
	aud := p.get("aud")
	switch {
	case p.get("scope") == "":
		fail("invalid_request", "Missing scope")
	case p.get("response_type") != "code":
		fail("unsupported_response_type", "Invalid response type")
	case p.get("request") != "":
		fail("request_not_supported", "Unsupported request parameter")
	case aud != "" && !sameOrigin(aud, s.baseURL(c.r)):
		fail("invalid_request", "Invalid audience")
	case p.get("code_challenge") != "" && p.get("code_challenge_method") == "":
		fail("invalid_request", "Missing code challenge method")
	default:
		c.redirect(s.baseURL(c.r) + "oauth?" + p.encode())
	}
}

// authorizeClient is the client of a sign-in and the check of its redirect
// URI; when either is wrong it answers the plain 400 page (captures 502,
// 503) and returns nil.
func (s *Server) authorizeClient(c *reqCtx, clientID, redirect string) *oauthApp {
	s.mu.Lock()
	app := s.oauthClient(clientID)
	s.mu.Unlock()
	switch u, err := url.Parse(redirect); {
	case app == nil:
		c.text(400, "Client not found")
	case redirect == "":
		c.text(400, "Missing redirect URI")
	case err != nil || !u.IsAbs() || !slices.Contains(app.redirectURIs, redirect):
		c.text(400, "Invalid redirect URI")
	default:
		return app
	}
	return nil
}

// sameOrigin reports whether two absolute URLs have the same scheme and host
// (isValidAudience).
func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Scheme == ub.Scheme && ua.Host == ub.Host
}

// redirect answers 302 as Express's res.redirect does for a client that
// accepts anything: a plain-text body naming the address (500).
func (c *reqCtx) redirect(to string) {
	c.w.Header().Set("Location", to)
	c.w.Header().Set("Vary", "Accept, Accept-Encoding")
	c.write(http.StatusFound, "text/plain; charset=utf-8", []byte("Found. Redirecting to "+to))
}

// orderedParams are query or form parameters in the order they came, which
// a redirect keeps (URLSearchParams).
type orderedParams [][2]string

func authorizeParams(c *reqCtx) *orderedParams {
	var p orderedParams
	add := func(raw string) {
		for _, kv := range strings.Split(raw, "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			k, err1 := url.QueryUnescape(k)
			v, err2 := url.QueryUnescape(v)
			if err1 == nil && err2 == nil {
				p.set(k, v)
			}
		}
	}
	add(c.r.URL.RawQuery)
	if c.r.Method == http.MethodPost {
		add(string(c.raw)) // the form body's values win, as Express's req.body
	}
	return &p
}

func (p orderedParams) get(k string) string {
	for _, kv := range p {
		if kv[0] == k {
			return kv[1]
		}
	}
	return ""
}

// set replaces the value of k in place, or adds k at the end.
func (p *orderedParams) set(k, v string) {
	for i := range *p {
		if (*p)[i][0] == k {
			(*p)[i][1] = v
			return
		}
	}
	*p = append(*p, [2]string{k, v})
}

// encode is the application/x-www-form-urlencoded serialisation of
// URLSearchParams: alphanumerics and *-._ stay, a space is +, every other
// byte is %XX.
func (p orderedParams) encode() string {
	var b strings.Builder
	esc := func(s string) {
		for i := 0; i < len(s); i++ {
			ch := s[i]
			switch {
			case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', strings.IndexByte("*-._", ch) >= 0:
				b.WriteByte(ch)
			case ch == ' ':
				b.WriteByte('+')
			default:
				fmt.Fprintf(&b, "%%%02X", ch)
			}
		}
	}
	for i, kv := range p {
		if i > 0 {
			b.WriteByte('&')
		}
		esc(kv[0])
		b.WriteByte('=')
		esc(kv[1])
	}
	return b.String()
}

// webAppSignIn is GET|POST /oauth, a stand-in for the Medplum web app's
// OAuth page that /oauth2/authorize hands over to (the real one lives at the
// server's appBaseUrl; medplumtest serves it itself). It signs a person in
// as the web app does, with the stages of auth/login and auth/profile: at
// once (ApproveBrowserLogins), refusing (DenyBrowserLogins), or with a plain
// sign-in form a person can use in a browser. The membership is the one
// asked for, or else the only or first one offered, deactivated ones
// included (capture 188); a deactivated one is refused with "Profile not
// active" on the page (501, 187, 189) and the browser is not sent back, as
// on the real web app. Success redirects to the client with a code.
func (s *Server) webAppSignIn(c *reqCtx) {
	p := c.r.URL.Query()
	if c.r.Method == http.MethodPost {
		form, err := url.ParseQuery(string(c.raw))
		if err == nil {
			for k, v := range form {
				p[k] = v
			}
		}
	}
	redirect := p.Get("redirect_uri")
	app := s.authorizeClient(c, p.Get("client_id"), redirect)
	if app == nil {
		return
	}
	back := func(q url.Values) {
		if st := p.Get("state"); st != "" {
			q.Set("state", st)
		}
		u, _ := url.Parse(redirect)
		u.RawQuery = q.Encode()
		c.redirect(u.String())
	}
	scope := p.Get("scope")
	if scope == "" {
		scope = "openid"
	}

	f := s.loginState()
	f.mu.Lock()
	approval := f.browser
	f.mu.Unlock()
	email, membership := approval.email, approval.membershipID
	switch {
	case approval.deny != "":
		back(url.Values{"error": {"access_denied"}, "error_description": {approval.deny}})
		return
	case email == "":
		// A person at the sign-in form.
		email, membership = p.Get("email"), p.Get("membership")
		if c.r.Method != http.MethodPost || email == "" {
			s.signInForm(c, p, "")
			return
		}
	}

	s.mu.Lock()
	user := s.userByEmail(email, app.projectID)
	if user == nil || (approval.email == "" && !checkPassword(user.res.String("passwordHash"), p.Get("password"))) {
		s.mu.Unlock()
		s.signInForm(c, p, "Email or password is invalid")
		return
	}
	if approval.email == "" {
		if enrolled, _ := user.res.Bool("mfaEnrolled"); enrolled && !CheckTOTP(user.res.String("mfaSecret"), p.Get("mfa"), s.now()) {
			s.mu.Unlock()
			s.signInForm(c, p, "Invalid MFA token")
			return
		}
	}
	l := &login{
		UserRef: "User/" + user.id, ClientID: app.id, ProjectID: app.projectID, Scope: scope,
		AuthMethod: "password", Code: newSecret(32), CodeChallenge: p.Get("code_challenge"),
		CodeChallengeMethod: p.Get("code_challenge_method"), MFAVerified: true, Nonce: p.Get("nonce"),
		RemoteAddress: c.r.RemoteAddr, UserAgent: c.r.UserAgent(),
	}
	if includesOffline(scope) {
		l.RefreshSecret = newSecret(64)
	}
	s.newLogin(l)
	s.flowOf(l.ID).projectID = app.projectID
	var chosen *record
	for _, m := range s.eligibleMemberships(l) {
		if membership == "" || m.id == membership {
			chosen = m
			break
		}
	}
	refusal := ""
	switch {
	case chosen == nil && membership == "":
		refusal = "User not found"
	case chosen == nil:
		refusal = "Profile not found"
	case !isActive(chosen):
		refusal = "Profile not active"
	default:
		l.MembershipID = chosen.id
	}
	s.mu.Unlock()
	if refusal != "" {
		s.signInForm(c, p, refusal)
		return
	}
	back(url.Values{"code": {l.Code}})
}

var signInPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in - medplumtest</title></head>
<body><h1>Sign in</h1>{{if .Error}}<p><strong>{{.Error}}</strong></p>{{end}}
<form method="post" action="oauth">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">
{{end}}<p><label>Email <input name="email" type="email"></label></p>
<p><label>Password <input name="password" type="password"></label></p>
<p><label>Authenticator code (if enrolled) <input name="mfa" autocomplete="one-time-code"></label></p>
<p><label>Membership id (if several) <input name="membership"></label></p>
<p><button type="submit">Sign in</button></p></form></body></html>
`))

func (s *Server) signInForm(c *reqCtx, p url.Values, msg string) {
	params := url.Values{}
	for _, k := range []string{"client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge", "code_challenge_method", "nonce"} {
		if v := p.Get(k); v != "" {
			params.Set(k, v)
		}
	}
	var b strings.Builder
	_ = signInPage.Execute(&b, map[string]any{"Params": params, "Error": msg})
	// The page needs a form action; relax the API's CSP for it.
	c.w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'")
	status := http.StatusOK
	if msg != "" {
		status = http.StatusBadRequest
	}
	c.write(status, ctHTML, []byte(b.String()))
}

// authorizationCodeGrant is grant_type=authorization_code (handleAuthorizationCode).
func (s *Server) authorizationCodeGrant(c *reqCtx, form formValues) {
	clientID, secret, err := clientCredentials(c, form)
	if err != nil {
		c.oauthError(400, "invalid_request", err.Error())
		return
	}
	code := form["code"]
	if code == "" {
		c.oauthError(400, "invalid_request", "Missing code")
		return
	}
	s.mu.Lock()
	var l *login
	for _, cand := range s.logins {
		if cand.Code != "" && equalString(cand.Code, code) {
			l = cand
			break
		}
	}
	fail := func(code, desc string) {
		s.mu.Unlock()
		c.oauthError(400, code, desc)
	}
	switch {
	case l == nil:
		fail("invalid_request", "Invalid code")
		return
	case clientID != "" && l.ClientID != clientID:
		fail("invalid_request", "Invalid client")
		return
	case l.MembershipID == "":
		fail("invalid_request", "Invalid profile")
		return
	case l.Granted:
		l.Revoked = true
		fail("invalid_grant", "Token already granted")
		return
	case l.Revoked:
		fail("invalid_grant", "Token revoked")
		return
	}
	var app *oauthApp
	if id := clientID; id != "" || l.ClientID != "" {
		if id == "" {
			id = l.ClientID
		}
		if app = s.oauthClient(id); app == nil {
			fail("invalid_request", "Invalid client")
			return
		}
	}
	if app == nil || !app.pkceOptional {
		verifier := form["code_verifier"]
		switch {
		case l.CodeChallenge == "":
			fail("invalid_request", "Missing verification context")
			return
		case verifier == "":
			fail("invalid_request", "Missing code verifier")
			return
		case !verifyChallenge(l.CodeChallenge, l.CodeChallengeMethod, verifier):
			fail("invalid_request", "Invalid code verifier")
			return
		}
	} else if secret != "" && app.id != CLIClientID {
		rec := s.st.live("ClientApplication", app.id)
		if rec == nil || !clientSecretOK(rec.res, secret) {
			fail("invalid_request", "Invalid secret")
			return
		}
	}
	l.Granted = true
	s.mu.Unlock()
	s.sendTokens(c, l)
}

// verifyChallenge is verifyCode: plain or S256.
func verifyChallenge(challenge, method, verifier string) bool {
	switch method {
	case "plain":
		return equalString(challenge, verifier)
	case "S256":
		sum := sha256.Sum256([]byte(verifier))
		return equalString(challenge, base64.RawURLEncoding.EncodeToString(sum[:]))
	}
	return false
}

// refreshClaims are the claims of the refresh tokens sendTokens signs.
type refreshClaims struct {
	LoginID       string `json:"login_id"`
	RefreshSecret string `json:"refresh_secret"`
	jwt.RegisteredClaims
}

// parseRefreshToken verifies a refresh token; nil if it is not one of ours.
func (s *Server) parseRefreshToken(token string) *refreshClaims {
	var claims refreshClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return s.key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired())
	if err != nil || claims.LoginID == "" {
		return nil
	}
	return &claims
}

// refreshTokenGrant is grant_type=refresh_token (handleRefreshToken): every
// use rotates the refresh secret, so the previous refresh token stops working.
func (s *Server) refreshTokenGrant(c *reqCtx, form formValues) {
	claims := s.parseRefreshToken(form["refresh_token"])
	if claims == nil {
		c.oauthError(400, "invalid_request", "Invalid refresh token")
		return
	}
	s.mu.Lock()
	l := s.logins[claims.LoginID]
	if l == nil || l.RefreshSecret == "" || claims.RefreshSecret == "" {
		s.mu.Unlock()
		c.oauthError(400, "invalid_request", "Invalid refresh token")
		return
	}
	if l.Revoked {
		s.mu.Unlock()
		c.oauthError(400, "invalid_grant", "Token revoked")
		return
	}
	if !equalString(l.RefreshSecret, claims.RefreshSecret) {
		s.mu.Unlock()
		c.oauthError(400, "invalid_request", "Invalid token")
		return
	}
	// (A deactivated membership's refresh works on 5.0.10: capture 195.)
	if m := s.st.live("ProjectMembership", l.MembershipID); m == nil {
		s.mu.Unlock()
		c.oauthError(400, "access_denied", "Profile not active")
		return
	}
	l.RefreshSecret = newSecret(64)
	l.RemoteAddress, l.UserAgent = c.r.RemoteAddr, c.r.UserAgent()
	s.mu.Unlock()
	s.sendTokens(c, l)
}

// RefreshTokenCurrent reports whether a refresh token would be accepted now:
// it is ours, its login is not revoked, and it carries the login's current
// (latest rotated) secret.
func (s *Server) RefreshTokenCurrent(token string) bool {
	claims := s.parseRefreshToken(token)
	if claims == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.logins[claims.LoginID]
	return l != nil && !l.Revoked && l.RefreshSecret != "" && equalString(l.RefreshSecret, claims.RefreshSecret)
}

// AccessTokenRevoked reports whether the login an access token belongs to
// was revoked (oauth2/logout, RevokeLogins, code reuse).
func (s *Server) AccessTokenRevoked(token string) bool {
	var claims tokenClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.logins[claims.LoginID]
	return l != nil && l.Revoked
}

// ActiveLogins counts the user's logins that are not revoked.
func (s *Server) ActiveLogins(email string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	user := s.userByEmail(email, "")
	if user == nil {
		return 0
	}
	n := 0
	for _, l := range s.logins {
		if l.UserRef == "User/"+user.id && !l.Revoked && l.Granted {
			n++
		}
	}
	return n
}

// logout is GET|POST /oauth2/logout: revokes the caller's login.
func (s *Server) logout(c *reqCtx) {
	s.mu.Lock()
	if l := c.auth.login; l != nil {
		l.Revoked = true
	}
	c.unlockOutcome(allOk())
}

// tokenURL is the token endpoint's address, which a client assertion's aud
// must equal exactly.
func (s *Server) tokenURL(c *reqCtx) string { return s.baseURL(c.r) + "oauth2/token" }

// clientCredentialsOrAssertion is grant_type=client_credentials, with the
// client authenticated by a secret (clientCredentialsGrant) or by a
// private_key_jwt assertion (parseClientAssertion).
func (s *Server) clientCredentialsOrAssertion(c *reqCtx, form formValues) {
	if form["client_assertion_type"] == "" {
		s.clientCredentialsGrant(c, form)
		return
	}
	id, secret, msg := s.checkClientAssertion(c, form["client_assertion_type"], form["client_assertion"])
	if msg != "" {
		c.oauthError(400, "invalid_request", msg)
		return
	}
	s.clientCredentialsGrant(c, formValues{"client_id": id, "client_secret": secret, "scope": form["scope"]})
}
