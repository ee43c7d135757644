package medplumtest

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/medplumcli/medplum/client"
)

// login is a sign-in session, like Medplum's Login resource: every access
// token names one (login_id), and revoking it invalidates its tokens.
// The fields after AuthMethod are for the interactive flows (code, PKCE,
// MFA, refresh rotation).
type login struct {
	ID           string
	UserRef      string // "User/<id>", "ClientApplication/<id>" or "Bot/<id>"
	ClientID     string // the OAuth client that asked, if any
	MembershipID string // the chosen ProjectMembership ("" until the profile stage)
	ProjectID    string
	Scope        string
	AuthMethod   string // "client", "password", ...
	Created      time.Time
	Revoked      bool

	Code                string // authorization code, single use
	Granted             bool   // the code was exchanged
	CodeChallenge       string
	CodeChallengeMethod string
	RefreshSecret       string // current refresh secret; rotated on every refresh
	MFAVerified         bool
	Nonce               string
	RemoteAddress       string
	UserAgent           string
}

// authState is who is calling, resolved by the authenticate middleware.
// The records are the live ones (read their res under s.mu only); the
// flags and the profile reference are snapshots taken at authentication,
// safe to read without the lock.
type authState struct {
	login      *login  // nil for Basic auth
	membership *record // the caller's ProjectMembership
	project    *record // the caller's Project
	basic      bool

	isSuperAdmin bool
	isAdmin      bool
	profile      client.Reference
}

func (a *authState) superAdmin() bool { return a.isSuperAdmin }

func (a *authState) admin() bool { return a.isAdmin || a.isSuperAdmin }

func (a *authState) projectID() string { return a.project.id }

func (a *authState) profileRef() client.Reference { return a.profile }

// author is what meta.author says for writes through the caller's repository.
func (a *authState) author() *client.Reference {
	r := a.profile
	return &r
}

var systemAuthor = &client.Reference{Reference: "system"}

// authenticate is middleware for every protected route: a Bearer access
// token or Basic client credentials, else 401.
func (s *Server) authenticate(c *reqCtx) bool {
	h := c.r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	var st *authState
	switch strings.ToLower(scheme) {
	case "bearer":
		st = s.bearerAuth(strings.TrimSpace(cred))
	case "basic":
		st = s.basicAuth(strings.TrimSpace(cred))
	}
	if st == nil {
		c.unauthorized(strings.EqualFold(scheme, "basic"))
		return false
	}
	c.auth = st
	return true
}

// unauthorized answers 401 with the WWW-Authenticate challenge of the scheme
// the request used.
func (c *reqCtx) unauthorized(basic bool) {
	realm := `realm="` + c.s.baseURL(c.r) + `"`
	if basic || c.r.URL.Query().Has("_medplum-prompt-basic-auth") {
		rawSet(c.w.Header(), "WWW-Authenticate", "Basic "+realm)
	} else {
		rawSet(c.w.Header(), "WWW-Authenticate", "Bearer "+realm)
	}
	c.sendOutcome(unauthorized())
}

type tokenClaims struct {
	ClientID string `json:"client_id,omitempty"`
	LoginID  string `json:"login_id"`
	Username string `json:"username,omitempty"`
	Scope    string `json:"scope,omitempty"`
	Profile  string `json:"profile,omitempty"`
	jwt.RegisteredClaims
}

func (s *Server) bearerAuth(token string) *authState {
	var claims tokenClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return s.key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired())
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.logins[claims.LoginID]
	if l == nil || l.Revoked || l.MembershipID == "" {
		return nil
	}
	return s.stateForMembership(l.MembershipID, l)
}

// stateForMembership resolves a membership into an authState; nil when the
// membership or its project are gone. A deactivated membership (active:
// false) still acts: 5.0.10 checks it only when a password sign-in chooses
// it, not for the tokens it already has, their refresh, or a client's
// client_credentials (captures 194-197). Holds s.mu.
func (s *Server) stateForMembership(membershipID string, l *login) *authState {
	m := s.st.live("ProjectMembership", membershipID)
	if m == nil {
		return nil
	}
	_, pid, _ := client.SplitReference(m.res.Ref("project"))
	p := s.st.live("Project", pid)
	if p == nil {
		return nil
	}
	super, _ := p.res.Bool("superAdmin")
	admin, _ := m.res.Bool("admin")
	return &authState{
		login: l, membership: m, project: p, isSuperAdmin: super, isAdmin: admin,
		profile: client.Reference{Reference: m.res.Ref("profile"), Display: m.res.Display("profile")},
	}
}

func (s *Server) basicAuth(cred string) *authState {
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return nil
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuseBasic {
		return nil
	}
	app := s.st.live("ClientApplication", id)
	// Basic credentials are checked against the client's secret only, not
	// its retiringSecret (oauth/utils.ts getLoginForBasicAuth; capture 230,
	// where the token endpoint takes the same retiring secret: 230b).
	if app == nil || subtle.ConstantTimeCompare([]byte(app.res.String("secret")), []byte(secret)) != 1 || secret == "" {
		return nil
	}
	m := s.clientMembership(app)
	if m == nil {
		return nil
	}
	st := s.stateForMembership(m.id, nil)
	if st != nil {
		st.basic = true
	}
	return st
}

// clientSecretOK checks a client secret against secret and retiringSecret.
func clientSecretOK(app client.Resource, secret string) bool {
	for _, k := range []string{"secret", "retiringSecret"} {
		if v := app.String(k); v != "" && subtle.ConstantTimeCompare([]byte(v), []byte(secret)) == 1 {
			return true
		}
	}
	return false
}

// clientMembership finds the membership whose user is the ClientApplication.
// Holds s.mu.
func (s *Server) clientMembership(app *record) *record {
	for _, m := range s.st.lookup("ProjectMembership|user|ClientApplication/" + app.id) {
		return m
	}
	return nil
}

// newLogin records a login. Holds s.mu.
func (s *Server) newLogin(l *login) *login {
	if l.ID == "" {
		l.ID = newID()
	}
	if l.Created.IsZero() {
		l.Created = s.now()
	}
	s.logins[l.ID] = l
	return l
}

// issuer is the iss claim of tokens.
func (s *Server) issuer(c *reqCtx) string { return s.baseURL(c.r) }

// signToken signs claims with the server key (HS256).
func (s *Server) signToken(claims jwt.Claims) string {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.key)
	if err != nil {
		panic(err)
	}
	return tok
}

// accessToken issues an access token for a login that has chosen its
// membership. Holds s.mu.
func (s *Server) accessToken(iss string, l *login) (token string, expiresIn int) {
	now := s.now()
	m := s.st.live("ProjectMembership", l.MembershipID)
	var profile string
	if m != nil {
		profile = m.res.Ref("profile")
	}
	_, sub, _ := client.SplitReference(l.UserRef)
	life := s.cfg.tokenLifetime
	claims := tokenClaims{
		ClientID: l.ClientID,
		LoginID:  l.ID,
		Username: sub,
		Scope:    l.Scope,
		Profile:  profile,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    iss,
			Subject:   sub,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(life)),
		},
	}
	return s.signToken(claims), int(life / time.Second)
}

// idToken issues the OpenID id_token that accompanies every token response.
func (s *Server) idToken(iss string, l *login, profile string) string {
	now := s.now()
	_, sub, _ := client.SplitReference(l.UserRef)
	aud := l.ClientID
	claims := jwt.MapClaims{
		"iss":      iss,
		"sub":      sub,
		"iat":      now.Unix(),
		"exp":      now.Add(s.cfg.tokenLifetime).Unix(),
		"login_id": l.ID,
		"fhirUser": profile,
	}
	if aud != "" {
		claims["aud"] = aud
	}
	if l.Nonce != "" {
		claims["nonce"] = l.Nonce
	}
	return s.signToken(claims)
}

// sendTokens writes the token endpoint's success body for a login whose
// membership is chosen. A refresh token is included when the login has a
// refresh secret (flows that grant offline_access set one).
func (s *Server) sendTokens(c *reqCtx, l *login) {
	iss := s.issuer(c)
	s.mu.Lock()
	m := s.st.live("ProjectMembership", l.MembershipID)
	if m == nil {
		s.mu.Unlock()
		c.oauthError(400, "invalid_request", "Invalid login")
		return
	}
	access, expiresIn := s.accessToken(iss, l)
	profile := m.res["profile"]
	body := map[string]any{
		"token_type":          "Bearer",
		"expires_in":          expiresIn,
		"scope":               l.Scope,
		"id_token":            s.idToken(iss, l, m.res.Ref("profile")),
		"access_token":        access,
		"project":             deepCopy(m.res["project"]),
		"profile":             deepCopy(profile),
		"smart_style_url":     s.baseURL(c.r) + "fhir/R4/.well-known/smart-styles.json",
		"need_patient_banner": false,
	}
	if l.RefreshSecret != "" {
		body["refresh_token"] = s.signToken(jwt.MapClaims{
			"client_id":      l.ClientID,
			"login_id":       l.ID,
			"refresh_secret": l.RefreshSecret,
			"iss":            iss,
			"iat":            s.now().Unix(),
			"exp":            s.now().Add(14 * 24 * time.Hour).Unix(),
		})
	}
	s.mu.Unlock()
	c.json(200, body)
}

// grantFunc handles one grant_type at oauth2/token.
type grantFunc func(c *reqCtx, form formValues)

type formValues map[string]string

// token is POST /oauth2/token: form-encoded only, grant types from s.grants.
func (s *Server) token(c *reqCtx) {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(c.r.Header.Get("Content-Type"), ";")[0]))
	if ct != "application/x-www-form-urlencoded" {
		c.text(400, "Unsupported content type")
		return
	}
	vals, err := parseForm(c.raw)
	if err != nil {
		c.oauthError(400, "invalid_request", "Invalid request body")
		return
	}
	gt := vals["grant_type"]
	if gt == "" {
		c.oauthError(400, "invalid_request", "Missing grant_type")
		return
	}
	g := s.grants[gt]
	if g == nil {
		c.oauthError(400, "invalid_request", "Unsupported grant_type")
		return
	}
	g(c, vals)
}

// clientCredentials returns the client id and secret from a Basic header or
// the form (the header wins, as in oauth/token.ts).
func clientCredentials(c *reqCtx, form formValues) (id, secret string, err error) {
	if h := c.r.Header.Get("Authorization"); h != "" {
		scheme, cred, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "basic") {
			raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
			if derr != nil {
				return "", "", errors.New("Invalid authorization header")
			}
			id, secret, _ = strings.Cut(string(raw), ":")
			return id, secret, nil
		}
	}
	return form["client_id"], form["client_secret"], nil
}

func (s *Server) clientCredentialsGrant(c *reqCtx, form formValues) {
	id, secret, err := clientCredentials(c, form)
	if err != nil {
		c.oauthError(400, "invalid_request", err.Error())
		return
	}
	if id == "" {
		c.oauthError(400, "invalid_request", "Missing client_id")
		return
	}
	if secret == "" {
		c.oauthError(400, "invalid_request", "Missing client_secret")
		return
	}
	s.mu.Lock()
	app := s.st.live("ClientApplication", id)
	if app == nil {
		s.mu.Unlock()
		c.oauthError(400, "invalid_request", "Invalid client")
		return
	}
	if !clientSecretOK(app.res, secret) {
		s.mu.Unlock()
		c.oauthError(400, "invalid_request", "Invalid secret")
		return
	}
	m := s.clientMembership(app)
	if m == nil {
		s.mu.Unlock()
		c.oauthError(400, "invalid_request", "Invalid client")
		return
	}
	scope := form["scope"]
	if scope == "" {
		scope = "openid"
	}
	_, pid, _ := client.SplitReference(m.res.Ref("project"))
	l := s.newLogin(&login{
		UserRef:       "ClientApplication/" + app.id,
		ClientID:      app.id,
		MembershipID:  m.id,
		ProjectID:     pid,
		Scope:         scope,
		AuthMethod:    "client",
		Granted:       true,
		RemoteAddress: c.r.RemoteAddr,
		UserAgent:     c.r.UserAgent(),
	})
	s.mu.Unlock()
	s.sendTokens(c, l)
}

// IssueToken signs in as the member with the given ProjectMembership id
// without any HTTP exchange and returns an access token, for tests that need
// a bearer token (MEDPLUM_CLIENT_ACCESS_TOKEN). It panics for an unknown
// membership.
func (s *Server) IssueToken(membershipID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.st.live("ProjectMembership", membershipID)
	if m == nil {
		panic("medplumtest: IssueToken: no membership " + membershipID)
	}
	_, pid, _ := client.SplitReference(m.res.Ref("project"))
	l := s.newLogin(&login{
		UserRef: m.res.Ref("user"), MembershipID: m.id, ProjectID: pid,
		Scope: "openid", AuthMethod: "password", Granted: true,
		UserAgent: "medplumtest", // as if signed in by some program (capture 01)
	})
	tok, _ := s.accessToken(s.URL, l)
	return tok
}

// RevokeLogins revokes every login (and so every access token) of the member
// with the given ProjectMembership id; "" revokes all logins.
func (s *Server) RevokeLogins(membershipID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.logins {
		if membershipID == "" || l.MembershipID == membershipID {
			l.Revoked = true
		}
	}
}

func parseForm(raw []byte) (formValues, error) {
	v, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, err
	}
	out := formValues{}
	for k, vs := range v {
		if len(vs) > 0 {
			out[k] = vs[0]
		}
	}
	return out, nil
}
