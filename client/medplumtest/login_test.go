package medplumtest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/medplumcli/medplum/client/medplumtest"
)

type answer struct {
	status int
	ctype  string
	body   map[string]any
	raw    string
	header http.Header
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), raw: string(b), header: resp.Header}
	_ = json.Unmarshal(b, &a.body)
	return a
}

func postJSON(t *testing.T, srv *medplumtest.Server, path string, body any) answer {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func postForm(t *testing.T, srv *medplumtest.Server, form url.Values) answer {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+"oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

func getWithToken(t *testing.T, srv *medplumtest.Server, path, token string) answer {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return do(t, req)
}

func (a answer) expect(t *testing.T, status int, ctype string) {
	t.Helper()
	if a.status != status || a.ctype != ctype {
		t.Fatalf("answer %d %s, want %d %s: %s", a.status, a.ctype, status, ctype, a.raw)
	}
}

func (a answer) str(key string) string { s, _ := a.body[key].(string); return s }

// issueText is the first OperationOutcome issue's details.text.
func (a answer) issueText() string {
	issues, _ := a.body["issue"].([]any)
	if len(issues) == 0 {
		return ""
	}
	d, _ := issues[0].(map[string]any)["details"].(map[string]any)
	s, _ := d["text"].(string)
	return s
}

const (
	ctJSON = "application/json; charset=utf-8"
	ctFHIR = "application/fhir+json; charset=utf-8"
)

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

func TestPasswordLoginPKCEAndRefreshRotation(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.AddUser(medplumtest.UserSpec{Email: "ann@example.com", Password: "correct horse"})

	a := postJSON(t, srv, "auth/login", map[string]any{"email": "ann@example.com", "password": "correct horse",
		"scope": "openid offline_access", "codeChallenge": s256(verifier), "codeChallengeMethod": "S256"})
	a.expect(t, 200, ctJSON)
	if a.str("login") == "" || a.str("code") == "" || len(a.body) != 2 {
		t.Fatalf("login answer = %s", a.raw)
	}
	code := a.str("code")

	postForm(t, srv, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {"wrong-verifier"}}).
		expect(t, 400, ctJSON)
	tok := postForm(t, srv, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}})
	tok.expect(t, 200, ctJSON)
	rt1 := tok.str("refresh_token")
	if tok.str("access_token") == "" || rt1 == "" || tok.str("scope") != "openid offline_access" {
		t.Fatalf("token answer = %s", tok.raw)
	}
	if !srv.RefreshTokenCurrent(rt1) {
		t.Fatal("fresh refresh token not current")
	}
	getWithToken(t, srv, "auth/me", tok.str("access_token")).expect(t, 200, ctJSON)

	// Reusing the code revokes the login (capture 62).
	reuse := postForm(t, srv, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}})
	reuse.expect(t, 400, ctJSON)
	if reuse.raw != `{"error":"invalid_grant","error_description":"Token already granted"}` {
		t.Fatalf("code reuse = %s", reuse.raw)
	}
	r := postForm(t, srv, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}})
	if r.raw != `{"error":"invalid_grant","error_description":"Token revoked"}` {
		t.Fatalf("refresh after code reuse = %s (capture 63)", r.raw)
	}
}

func TestRefreshRotationInvalidatesOldToken(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.AddUser(medplumtest.UserSpec{Email: "ann@example.com", Password: "correct horse"})
	a := postJSON(t, srv, "auth/login", map[string]any{"email": "ann@example.com", "password": "correct horse",
		"scope": "openid offline_access", "clientId": medplumtest.CLIClientID})
	tok := postForm(t, srv, url.Values{"grant_type": {"authorization_code"}, "code": {a.str("code")}, "client_id": {"medplum-cli"}})
	tok.expect(t, 200, ctJSON) // medplum-cli is pkceOptional
	rt1 := tok.str("refresh_token")

	r2 := postForm(t, srv, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}})
	r2.expect(t, 200, ctJSON)
	rt2 := r2.str("refresh_token")
	if rt2 == "" || rt2 == rt1 || srv.RefreshTokenCurrent(rt1) || !srv.RefreshTokenCurrent(rt2) {
		t.Fatalf("rotation: rt1 current %v, rt2 current %v", srv.RefreshTokenCurrent(rt1), srv.RefreshTokenCurrent(rt2))
	}
	old := postForm(t, srv, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}})
	if old.status != 400 || old.raw != `{"error":"invalid_request","error_description":"Invalid token"}` {
		t.Fatalf("old refresh token = %d %s", old.status, old.raw)
	}
	garbage := postForm(t, srv, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}})
	if garbage.raw != `{"error":"invalid_request","error_description":"Invalid refresh token"}` {
		t.Fatalf("garbage refresh token = %s", garbage.raw)
	}

	// Logout revokes the login: its access token stops working, and so does
	// its refresh token.
	access := r2.str("access_token")
	getWithToken(t, srv, "oauth2/logout", access).expect(t, 200, ctFHIR)
	if !srv.AccessTokenRevoked(access) {
		t.Fatal("logout did not revoke the login")
	}
	getWithToken(t, srv, "auth/me", access).expect(t, 401, ctFHIR)
	r3 := postForm(t, srv, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}})
	if r3.raw != `{"error":"invalid_grant","error_description":"Token revoked"}` {
		t.Fatalf("refresh after logout = %s", r3.raw)
	}
	getWithToken(t, srv, "oauth2/logout", "bogus").expect(t, 401, ctFHIR)
}

func TestLoginErrorsMatchCaptures(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.AddUser(medplumtest.UserSpec{Email: "ann@example.com", Password: "correct horse"})
	srv.SetLoginRateLimit(100, time.Minute)

	wrong := postJSON(t, srv, "auth/login", map[string]any{"email": "ann@example.com", "password": "wrong horse"})
	wrong.expect(t, 400, ctFHIR)
	if wrong.issueText() != "Email or password is invalid" {
		t.Errorf("wrong password: %s (capture 64)", wrong.raw)
	}
	unknown := postJSON(t, srv, "auth/login", map[string]any{"email": "nobody@example.com", "password": "whatever1"})
	if unknown.status != 400 || unknown.issueText() != "User not found" {
		t.Errorf("unknown user: %s (capture 65)", unknown.raw)
	}
	invalid := postJSON(t, srv, "auth/login", map[string]any{"email": "x", "password": "abc"})
	invalid.expect(t, 400, ctFHIR)
	var oo struct {
		ID    string `json:"id"`
		Issue []struct {
			Expression []string          `json:"expression"`
			Details    map[string]string `json:"details"`
		} `json:"issue"`
	}
	_ = json.Unmarshal([]byte(invalid.raw), &oo)
	if oo.ID == "" || len(oo.Issue) != 2 || oo.Issue[0].Expression[0] != "email" || oo.Issue[0].Details["text"] != "Valid email address is required" ||
		oo.Issue[1].Expression[0] != "password" || oo.Issue[1].Details["text"] != "Invalid password, must be at least 5 characters" {
		t.Errorf("invalid: %s (capture 66)", invalid.raw)
	}
	// No PKCE and no client: the login works but the code cannot be
	// exchanged (captures 67/68).
	noPKCE := postJSON(t, srv, "auth/login", map[string]any{"email": "ann@example.com", "password": "correct horse"})
	noPKCE.expect(t, 200, ctJSON)
	tok := postForm(t, srv, url.Values{"grant_type": {"authorization_code"}, "code": {noPKCE.str("code")}})
	if tok.raw != `{"error":"invalid_request","error_description":"Missing verification context"}` {
		t.Errorf("token without PKCE = %s", tok.raw)
	}
	badMethod := postJSON(t, srv, "auth/login", map[string]any{"email": "ann@example.com", "password": "correct horse", "codeChallenge": "x", "codeChallengeMethod": "S512"})
	if badMethod.status != 400 || badMethod.issueText() != "Invalid code challenge method" {
		t.Errorf("bad challenge method: %s", badMethod.raw)
	}
	// plain PKCE works.
	plain := postJSON(t, srv, "auth/login", map[string]any{"email": "ann@example.com", "password": "correct horse", "codeChallenge": "plain-verifier-123", "codeChallengeMethod": "plain"})
	postForm(t, srv, url.Values{"grant_type": {"authorization_code"}, "code": {plain.str("code")}, "code_verifier": {"plain-verifier-123"}}).expect(t, 200, ctJSON)
}

func TestLoginRateLimit(t *testing.T) {
	srv := medplumtest.NewServer(t)
	for i := range 5 {
		a := postJSON(t, srv, "auth/login", map[string]any{"email": "nobody@example.com", "password": "whatever1"})
		if a.status != 400 || a.header.Get("RateLimit") != `"requests";r=`+string(rune('4'-i))+`;t=60` {
			t.Fatalf("attempt %d: %d %s RateLimit %q", i+1, a.status, a.raw, a.header.Get("RateLimit"))
		}
	}
	a := postJSON(t, srv, "auth/login", map[string]any{"email": "nobody@example.com", "password": "whatever1"})
	a.expect(t, 429, ctFHIR)
	if a.issueText() != "Too Many Requests" {
		t.Fatalf("6th login = %s", a.raw)
	}
}

func TestMultipleMembershipsAndScopeStage(t *testing.T) {
	srv := medplumtest.NewServer(t)
	// The seeded admin belongs to the super-admin project and the sandbox.
	a := postJSON(t, srv, "auth/login", map[string]any{"email": srv.Seed.AdminEmail, "password": srv.Seed.AdminPassword,
		"codeChallenge": s256(verifier), "codeChallengeMethod": "S256"})
	a.expect(t, 200, ctJSON)
	ms, _ := a.body["memberships"].([]any)
	if len(ms) != 2 || a.str("code") != "" {
		t.Fatalf("login = %s, want two memberships (capture 84)", a.raw)
	}
	var sandbox string
	for _, m := range ms {
		m := m.(map[string]any)
		p := m["project"].(map[string]any)
		if p["reference"] == "Project/"+srv.Seed.ProjectID {
			sandbox = m["id"].(string)
			if p["display"] != srv.Seed.ProjectName {
				t.Errorf("project display = %v", p["display"])
			}
		}
	}
	if sandbox != srv.Seed.Admin.MembershipID {
		t.Fatalf("sandbox membership %q, want %q", sandbox, srv.Seed.Admin.MembershipID)
	}
	if b := postJSON(t, srv, "auth/profile", map[string]any{"login": a.str("login"), "profile": srv.Seed.Homer.MembershipID}); b.issueText() != "Invalid profile" {
		t.Fatalf("someone else's membership: %s", b.raw)
	}
	srv.RequireScopeConfirmation(true)
	p := postJSON(t, srv, "auth/profile", map[string]any{"login": a.str("login"), "profile": sandbox})
	p.expect(t, 200, ctJSON)
	if p.str("code") != "" || p.str("login") != a.str("login") {
		t.Fatalf("profile with scope stage = %s", p.raw)
	}
	if b := postJSON(t, srv, "auth/scope", map[string]any{"login": a.str("login"), "scope": "openid patient/*.*"}); b.issueText() != "Invalid scope" {
		t.Fatalf("wider scope: %s", b.raw)
	}
	sc := postJSON(t, srv, "auth/scope", map[string]any{"login": a.str("login"), "scope": "openid"})
	if sc.str("code") == "" {
		t.Fatalf("scope = %s", sc.raw)
	}
	if b := postJSON(t, srv, "auth/profile", map[string]any{"login": a.str("login"), "profile": sandbox}); b.issueText() != "Login profile already set" {
		t.Fatalf("second profile: %s", b.raw)
	}
	tok := postForm(t, srv, url.Values{"grant_type": {"authorization_code"}, "code": {sc.str("code")}, "code_verifier": {verifier}})
	tok.expect(t, 200, ctJSON)
	if proj, _ := tok.body["project"].(map[string]any); tok.str("refresh_token") != "" || proj["reference"] != "Project/"+srv.Seed.ProjectID {
		t.Fatalf("token = %s", tok.raw)
	}
	// With projectId the login goes straight to that project (capture 89).
	direct := postJSON(t, srv, "auth/login", map[string]any{"email": srv.Seed.AdminEmail, "password": srv.Seed.AdminPassword,
		"projectId": srv.Seed.ProjectID, "codeChallenge": s256(verifier), "codeChallengeMethod": "S256"})
	if direct.str("login") == "" || len(direct.body) != 1 {
		t.Fatalf("projectId login with scope stage = %s", direct.raw)
	}
}

func TestMFA(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.AddUser(medplumtest.UserSpec{Email: "mfa@example.com", Password: "correct horse", MFASecret: medplumtest.TOTPSecret})
	a := postJSON(t, srv, "auth/login", map[string]any{"email": "mfa@example.com", "password": "correct horse", "codeChallenge": s256(verifier), "codeChallengeMethod": "S256"})
	a.expect(t, 200, ctJSON)
	// (5.0.10 says only that: no email, no mfaMethods; capture 157.)
	if a.body["mfaRequired"] != true || a.str("code") != "" || len(a.body) != 2 {
		t.Fatalf("login = %s", a.raw)
	}
	bad := postJSON(t, srv, "auth/mfa/verify", map[string]any{"login": a.str("login"), "token": "000000"})
	if bad.status != 400 || bad.issueText() != "Invalid MFA token" {
		t.Fatalf("wrong code: %s", bad.raw)
	}
	ok := postJSON(t, srv, "auth/mfa/verify", map[string]any{"login": a.str("login"), "token": medplumtest.TOTP(medplumtest.TOTPSecret, time.Now())})
	if ok.str("code") == "" {
		t.Fatalf("right code: %s", ok.raw)
	}
	// A user who must use MFA and has not enrolled is asked to, in the
	// shape of 5.0.10's auth/utils.ts: login, mfaEnrollRequired, enrollUri
	// and enrollQrCode, nothing else.
	m := srv.AddUser(medplumtest.UserSpec{Email: "enrol@example.com", Password: "correct horse"})
	u := srv.Resource("User", strings.TrimPrefix(m.User, "User/"))
	u["mfaRequired"] = true
	srv.Update(u)
	en := postJSON(t, srv, "auth/login", map[string]any{"email": "enrol@example.com", "password": "correct horse", "codeChallenge": s256(verifier), "codeChallengeMethod": "S256"})
	if en.body["mfaEnrollRequired"] != true || !strings.HasPrefix(en.str("enrollUri"), "otpauth://totp/medplum.com:Medplum%20-%20enrol@example.com?secret=") ||
		!strings.HasPrefix(en.str("enrollQrCode"), "data:image/png;base64,") || en.str("login") == "" || len(en.body) != 4 {
		t.Fatalf("login of a user who must enroll = %s", en.raw)
	}
	// RFC 6238 appendix B, SHA-1, T = 59 s.
	if got := medplumtest.TOTP(medplumtest.TOTPSecret, time.Unix(59, 0)); got != "287082" {
		t.Fatalf("TOTP(59) = %s, want 287082", got)
	}
	// A code of the step before or after is accepted (clock drift), one
	// two steps away is not.
	now := time.Unix(1_800_000_015, 0) // mid-step
	for drift, want := range map[time.Duration]bool{0: true, -30 * time.Second: true, 30 * time.Second: true,
		-60 * time.Second: false, 60 * time.Second: false} {
		if got := medplumtest.CheckTOTP(medplumtest.TOTPSecret, medplumtest.TOTP(medplumtest.TOTPSecret, now.Add(drift)), now); got != want {
			t.Errorf("CheckTOTP of the code %v away = %v, want %v", drift, got, want)
		}
	}
	if medplumtest.CheckTOTP("", "123456", now) || medplumtest.CheckTOTP(medplumtest.TOTPSecret, "12345", now) {
		t.Error("CheckTOTP accepted an empty secret or a short code")
	}
}

func TestAuthMethodExternalIdP(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.AddExternalIdP("corp.example", "https://idp.corp.example/authorize")
	a := postJSON(t, srv, "auth/method", map[string]any{"email": "alice@Corp.Example"})
	if a.raw != `{"authorizeUrl":"https://idp.corp.example/authorize","domain":"corp.example"}` {
		t.Fatalf("external: %s", a.raw)
	}
	if b := postJSON(t, srv, "auth/method", map[string]any{"email": "ann@example.com"}); b.raw != `{}` {
		t.Fatalf("password: %s", b.raw)
	}
}

func TestAuthorizeHandsOverToTheWebApp(t *testing.T) {
	srv := medplumtest.NewServer(t)
	get := func(raw string) answer {
		req, _ := http.NewRequest("GET", raw, nil)
		return do(t, req)
	}
	authorize := func(q url.Values) answer { return get(srv.URL + "oauth2/authorize?" + q.Encode()) }
	// browse opens the authorize URL and follows it to the web app's page.
	browse := func(q url.Values) answer {
		t.Helper()
		a := authorize(q)
		app := a.header.Get("Location")
		if a.status != 302 || !strings.HasPrefix(app, srv.URL+"oauth?") || a.raw != "Found. Redirecting to "+app {
			t.Fatalf("authorize: %d %q %s", a.status, app, a.raw)
		}
		return get(app)
	}
	q := url.Values{"response_type": {"code"}, "client_id": {"medplum-cli"}, "redirect_uri": {"http://localhost:9615"},
		"scope": {"openid offline_access"}, "state": {"st-1"}, "code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}}
	with := func(k, v string) url.Values {
		out := url.Values{}
		for k, v := range q {
			out[k] = v
		}
		if v == "" {
			out.Del(k)
		} else {
			out.Set(k, v)
		}
		return out
	}

	if a := authorize(with("client_id", "nope")); a.status != 400 || a.raw != "Client not found" { // 502
		t.Fatalf("unknown client: %d %s", a.status, a.raw)
	}
	if a := authorize(with("redirect_uri", "http://localhost:9616")); a.status != 400 || a.raw != "Invalid redirect URI" { // 503
		t.Fatalf("wrong redirect: %d %s", a.status, a.raw)
	}
	for _, c := range []struct{ k, v, loc string }{
		{"response_type", "token", "http://localhost:9615/?error=unsupported_response_type&error_description=Invalid+response+type&state=st-1"}, // 504
		{"scope", "", "http://localhost:9615/?error=invalid_request&error_description=Missing+scope&state=st-1"},                                // 505
		{"code_challenge_method", "", "http://localhost:9615/?error=invalid_request&error_description=Missing+code+challenge+method&state=st-1"},
	} {
		if a := authorize(with(c.k, c.v)); a.status != 302 || a.header.Get("Location") != c.loc {
			t.Errorf("%s=%q: %d %s", c.k, c.v, a.status, a.header.Get("Location"))
		}
	}
	// The web app is handed the parameters in the order they came (500).
	raw := "response_type=code&client_id=medplum-cli&redirect_uri=http%3A%2F%2Flocalhost%3A9615&scope=openid%20offline_access&state=s%7E1&prompt=login"
	if a := get(srv.URL + "oauth2/authorize?" + raw); a.header.Get("Location") != srv.URL+"oauth?response_type=code&client_id=medplum-cli&redirect_uri=http%3A%2F%2Flocalhost%3A9615&scope=openid+offline_access&state=s%7E1&prompt=login" {
		t.Errorf("hand-over: %s", a.header.Get("Location"))
	}

	if a := browse(q); a.status != 200 || !strings.Contains(a.raw, `<form method="post" action="oauth">`) {
		t.Fatalf("sign-in form: %d %s", a.status, a.raw)
	}

	srv.DenyBrowserLogins("The user said no")
	a := browse(q)
	if a.status != 302 || a.header.Get("Location") != "http://localhost:9615?error=access_denied&error_description=The+user+said+no&state=st-1" {
		t.Fatalf("deny: %d %s", a.status, a.header.Get("Location"))
	}

	srv.ApproveBrowserLogins(srv.Seed.AdminEmail, srv.Seed.Admin.MembershipID)
	a = browse(q)
	loc, _ := url.Parse(a.header.Get("Location"))
	if a.status != 302 || loc.Host != "localhost:9615" || loc.Query().Get("state") != "st-1" || loc.Query().Get("code") == "" {
		t.Fatalf("approve: %d %s", a.status, a.header.Get("Location"))
	}
	tok := postForm(t, srv, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"client_id": {"medplum-cli"}, "redirect_uri": {"http://localhost:9615"}, "code_verifier": {verifier}})
	tok.expect(t, 200, ctJSON)
	if tok.str("refresh_token") == "" || !strings.Contains(tok.raw, srv.Seed.ProjectID) {
		t.Fatalf("token = %s", tok.raw)
	}

	// A registered client needs PKCE (or fails with Missing verification context).
	srv.ApproveBrowserLogins(srv.Seed.AdminEmail, srv.Seed.Admin.MembershipID)
	srv.SetClientRedirectURI(srv.Seed.Client.ID, "http://localhost:7777/cb")
	q.Set("client_id", srv.Seed.Client.ID)
	q.Set("redirect_uri", "http://localhost:7777/cb")
	q.Set("code_challenge", "plain-1")
	q.Set("code_challenge_method", "plain")
	loc, _ = url.Parse(browse(q).header.Get("Location"))
	wrong := postForm(t, srv, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "code_verifier": {"plain-2"}})
	if wrong.raw != `{"error":"invalid_request","error_description":"Invalid code verifier"}` {
		t.Fatalf("wrong plain verifier = %s (capture 70)", wrong.raw)
	}

	// A deactivated membership: authorize hands over as always (500), the
	// web app's sign-in refuses it (501) and nobody is sent back.
	m := srv.Resource("ProjectMembership", srv.Seed.Admin.MembershipID)
	m["active"] = false
	srv.Update(m)
	logins := srv.LoginCount()
	// (The registered client offers only the membership in its project, so
	// "" chooses it too.)
	for _, chosen := range []string{srv.Seed.Admin.MembershipID, ""} {
		srv.ApproveBrowserLogins(srv.Seed.AdminEmail, chosen)
		if a := browse(q); a.status != 400 || a.header.Get("Location") != "" || !strings.Contains(a.raw, "<strong>Profile not active</strong>") {
			t.Errorf("deactivated member (%q): %d %q %s", chosen, a.status, a.header.Get("Location"), a.raw)
		}
	}
	if n := srv.LoginCount(); n != logins+2 {
		t.Errorf("logins %d, want %d (each refused sign-in made one, as auth/login does)", n, logins+2)
	}
}

func TestClientAssertion(t *testing.T) {
	srv := medplumtest.NewServer(t)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	id := srv.Seed.Client.ID
	tokenURL := srv.URL + "oauth2/token"
	sign := func(m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	claims := func(aud any) jwt.MapClaims {
		return jwt.MapClaims{"iss": id, "sub": id, "aud": aud, "jti": "j1", "iat": time.Now().Unix(), "exp": time.Now().Add(5 * time.Minute).Unix()}
	}
	try := func(assertion string) answer {
		return postForm(t, srv, url.Values{"grant_type": {"client_credentials"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}})
	}
	if a := try(sign(jwt.SigningMethodRS384, rk, claims(tokenURL))); a.raw != `{"error":"invalid_request","error_description":"Client must have a JWK Set URL"}` {
		t.Fatalf("no jwksUri: %s", a.raw)
	}
	srv.SetClientKeys(id, &rk.PublicKey, &ek.PublicKey)
	for _, tc := range []struct {
		name, assertion, want string
	}{
		{"RS384", sign(jwt.SigningMethodRS384, rk, claims(tokenURL)), ""},
		{"ES256", sign(jwt.SigningMethodES256, ek, claims(tokenURL)), ""},
		{"aud array", sign(jwt.SigningMethodRS384, rk, claims([]string{tokenURL})), "Invalid client assertion audience"},
		{"aud base URL", sign(jwt.SigningMethodRS384, rk, claims(srv.URL)), "Invalid client assertion audience"},
		{"other key", sign(jwt.SigningMethodRS384, other, claims(tokenURL)), "Invalid client assertion signature"},
		{"not a JWT", "abc", "Invalid client assertion"},
	} {
		a := try(tc.assertion)
		if tc.want == "" {
			if a.status != 200 || a.str("access_token") == "" {
				t.Errorf("%s: %d %s", tc.name, a.status, a.raw)
			}
			continue
		}
		if a.status != 400 || a.str("error_description") != tc.want {
			t.Errorf("%s: %d %s, want %q", tc.name, a.status, a.raw, tc.want)
		}
	}
}
