package medplumtest_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
)

// lifecycleSteps replay the captures of a member's life (140-168) and of a
// client's secrets (172-173b): users and their visibility to project admins
// and super admins, invites and their UserSecurityRequests, setpassword,
// MFA status, enrollment and verification, Login visibility, logout and
// resetpassword. They run in the project of 13 as its test client (14) and
// as the super-admin client (06), and make what they need themselves.
func lifecycleSteps() []step {
	var (
		member, scoped, mfaUser string // User ids of 140, 144, 149
		usrID, usrSecret        string // the UserSecurityRequest of 145
		mfaSecret               string // from the enrollUri of 151
		tok150, login157        string
		tok158                  string
		verifier157             string
		clientID, clientSecret  string // 172
		retiring                string // 173
	)
	const verifier = "realfix-contract-verifier-0123456789-0123456789"
	challenge := func(v string) string {
		sum := sha256.Sum256([]byte(v))
		return base64.RawURLEncoding.EncodeToString(sum[:])
	}
	userOf := func(b map[string]any) string {
		return strings.TrimPrefix(b["user"].(map[string]any)["reference"].(string), "User/")
	}
	usr := func(tok, user string) func(e *contractEnv) *http.Response {
		return func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/UserSecurityRequest?user=User/" + user, bearer(tok), ""})
		}
	}
	jsonPost := func(path, body string) req {
		return req{"POST", path, map[string]string{"Content-Type": "application/json"}, body}
	}
	exchange := func(e *contractEnv, code, v string) string {
		tok := jsonBody(e.t, e.do(req{"POST", "oauth2/token", formCT, form("grant_type", "authorization_code", "code", code, "code_verifier", v)}))
		at, _ := tok["access_token"].(string)
		if at == "" {
			e.t.Fatalf("token exchange: %v", tok)
		}
		return at
	}
	return []step{
		{name: "140-invite-member", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "admin/projects/" + e.pid + "/invite", bearerJSON(e.tcTok),
				`{"resourceType":"Practitioner","firstName":"Cap","lastName":"Member223154","email":"cap-member-223154@example.com","sendEmail":false}`})
		}, after: func(e *contractEnv, b map[string]any) { member = userOf(b) }},
		{name: "141-usr-search-as-project-admin", run: func(e *contractEnv) *http.Response { return usr(e.tcTok, member)(e) }},
		{name: "142-usr-search-as-superadmin", run: func(e *contractEnv) *http.Response { return usr(e.saTok, member)(e) }},
		{name: "143-user-read-as-project-admin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/User/" + member, bearer(e.tcTok), ""})
		}},
		{name: "143b-user-read-as-superadmin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/User/" + member, bearer(e.saTok), ""})
		}},
		{name: "144-invite-project-scoped", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "admin/projects/" + e.pid + "/invite", bearerJSON(e.tcTok),
				`{"resourceType":"Practitioner","firstName":"Cap","lastName":"Scoped223204","email":"cap-scoped-223204@example.com","sendEmail":false,"scope":"project"}`})
		}, after: func(e *contractEnv, b map[string]any) { scoped = userOf(b) }},
		{name: "145-usr-search-project-scoped", run: func(e *contractEnv) *http.Response { return usr(e.tcTok, scoped)(e) },
			after: func(e *contractEnv, b map[string]any) {
				r := b["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
				usrID, usrSecret = r["id"].(string), r["secret"].(string)
			}},
		{name: "146-user-read-project-scoped", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/User/" + scoped, bearer(e.tcTok), ""})
		}},
		{name: "147b-setpassword-wrong-secret", run: func(e *contractEnv) *http.Response {
			return e.do(jsonPost("auth/setpassword", `{"id":"`+usrID+`","secret":"`+usrSecret+`x","password":"a-new-password-0123456789"}`))
		}},
		{name: "148-usr-after-failed-setpassword", run: func(e *contractEnv) *http.Response { return usr(e.tcTok, scoped)(e) }},
		// A password set by the project admin leaves no visible trace but a
		// new User version: the invite stays unused (232-232d).
		{name: "232-admin-setpassword-invited", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "admin/projects/setpassword", bearerJSON(e.tcTok), `{"email":"cap-scoped-223204@example.com","password":"an-admin-set-password-0123"}`})
		}},
		{name: "232b-user-after-admin-setpassword", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/User/" + scoped, bearer(e.tcTok), ""})
		}},
		{name: "232c-usr-after-admin-setpassword", run: func(e *contractEnv) *http.Response { return usr(e.tcTok, scoped)(e) }},
		{name: "232d-user-history-after-admin-setpassword", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/User/" + scoped + "/_history", bearer(e.tcTok), ""})
		}},
		{name: "149-invite-with-password", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "admin/projects/" + e.pid + "/invite", bearerJSON(e.tcTok),
				`{"resourceType":"Practitioner","firstName":"Cap","lastName":"Mfa223216","email":"cap-mfa-223216@example.com","password":"cap-mfa-password","sendEmail":false,"scope":"project"}`})
		}, after: func(e *contractEnv, b map[string]any) { mfaUser = userOf(b) }},
		{name: "149b-usr-after-invite-with-password", run: func(e *contractEnv) *http.Response { return usr(e.tcTok, mfaUser)(e) }},
		{name: "150-login-invited-user", run: func(e *contractEnv) *http.Response {
			return e.login(`{"email":"cap-mfa-223216@example.com","password":"cap-mfa-password","projectId":"` + e.pid +
				`","scope":"openid","codeChallenge":"` + challenge(verifier) + `","codeChallengeMethod":"S256"}`)
		}, after: func(e *contractEnv, b map[string]any) { tok150 = exchange(e, b["code"].(string), verifier) }},
		{name: "151-mfa-status", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "auth/mfa/status", bearer(tok150), ""})
		}, after: func(e *contractEnv, b map[string]any) {
			u, err := url.Parse(b["enrollUri"].(string))
			if err != nil || u.Query().Get("secret") == "" {
				e.t.Fatalf("151: enrollUri %v", b["enrollUri"])
			}
			mfaSecret = u.Query().Get("secret")
		}},
		{name: "152-mfa-enroll-wrong-code", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "auth/mfa/enroll", bearerJSON(tok150), `{"token":"000000"}`})
		}},
		{name: "153-mfa-enroll", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "auth/mfa/enroll", bearerJSON(tok150), `{"token":"` + medplumtest.TOTP(mfaSecret, time.Now()) + `"}`})
		}},
		{name: "154-mfa-status-enrolled", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "auth/mfa/status", bearer(tok150), ""})
		}},
		{name: "155-mfa-enroll-again", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "auth/mfa/enroll", bearerJSON(tok150), `{"token":"` + medplumtest.TOTP(mfaSecret, time.Now()) + `"}`})
		}},
		{name: "156-user-read-after-mfa-enroll", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/User/" + mfaUser, bearer(e.tcTok), ""})
		}},
		{name: "156b-user-read-after-mfa-enroll-superadmin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/User/" + mfaUser, bearer(e.saTok), ""})
		}},
		{name: "157-login-mfa-required", run: func(e *contractEnv) *http.Response {
			verifier157 = verifier + "-157"
			return e.login(`{"email":"cap-mfa-223216@example.com","password":"cap-mfa-password","projectId":"` + e.pid +
				`","scope":"openid","codeChallenge":"` + challenge(verifier157) + `","codeChallengeMethod":"S256"}`)
		}, after: func(e *contractEnv, b map[string]any) { login157 = b["login"].(string) }},
		{name: "158-mfa-verify", run: func(e *contractEnv) *http.Response {
			return e.do(jsonPost("auth/mfa/verify", `{"login":"`+login157+`","token":"`+medplumtest.TOTP(mfaSecret, time.Now())+`"}`))
		}, after: func(e *contractEnv, b map[string]any) { tok158 = exchange(e, b["code"].(string), verifier157) }},
		{name: "159-login-search-as-project-admin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Login?user=User/" + mfaUser, bearer(e.tcTok), ""})
		}},
		{name: "159b-login-search-all-as-project-admin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Login?_count=5", bearer(e.tcTok), ""})
		}},
		{name: "161-login-search-as-superadmin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Login?user=User/" + mfaUser + "&_count=5", bearer(e.saTok), ""})
		}},
		{name: "172-client-create", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "admin/projects/" + e.pid + "/client", bearerJSON(e.tcTok),
				`{"name":"cap-client-223331","description":"captured: rotation history"}`})
		}, after: func(e *contractEnv, b map[string]any) {
			clientID, clientSecret = b["id"].(string), b["secret"].(string)
		}},
		{name: "161b-login-search-client-credentials-superadmin", run: func(e *contractEnv) *http.Response {
			e.token(clientID, clientSecret)
			return e.do(req{"GET", "fhir/R4/Login?user=ClientApplication/" + clientID, bearer(e.saTok), ""})
		}},
		{name: "162-oauth2-logout", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "oauth2/logout", bearer(tok158), ""})
		}},
		{name: "163-login-read-revoked-superadmin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Login/" + login157, bearer(e.saTok), ""})
		}},
		{name: "163b-token-after-logout", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "auth/me", bearer(tok158), ""})
		}},
		{name: "164-resetpassword-project-scoped", run: func(e *contractEnv) *http.Response {
			return e.do(jsonPost("auth/resetpassword", `{"email":"cap-mfa-223216@example.com","projectId":"`+e.pid+`"}`))
		}},
		{name: "165-resetpassword-server-scoped", run: func(e *contractEnv) *http.Response {
			return e.do(jsonPost("auth/resetpassword", `{"email":"cap-member-223154@example.com"}`))
		}},
		{name: "166-resetpassword-unknown-email", run: func(e *contractEnv) *http.Response {
			return e.do(jsonPost("auth/resetpassword", `{"email":"cap-nobody-223302@example.com"}`))
		}},
		{name: "167-resetpassword-invalid-email", run: func(e *contractEnv) *http.Response {
			return e.do(jsonPost("auth/resetpassword", `{"email":"not-an-email"}`))
		}},
		{name: "168-usr-after-resetpassword", run: func(e *contractEnv) *http.Response { return usr(e.tcTok, mfaUser)(e) }},
		{name: "173-client-rotate-secret", run: func(e *contractEnv) *http.Response {
			return e.rotate(clientID, "secret", clientSecret)
		}, after: func(e *contractEnv, b map[string]any) { retiring = b["retiringSecret"].(string) }},
		{name: "173b-client-retire-secret", run: func(e *contractEnv) *http.Response {
			return e.rotate(clientID, "retiringSecret", retiring)
		}},
	}
}

// rotate runs ClientApplication/$rotate-secret as the test client.
func (e *contractEnv) rotate(id, name, value string) *http.Response {
	p, _ := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": []any{map[string]any{"name": name, "valueString": value}}})
	return e.do(req{"POST", "fhir/R4/ClientApplication/" + id + "/$rotate-secret", map[string]string{
		"Authorization": "Bearer " + e.tcTok, "Content-Type": "application/fhir+json"}, string(p)})
}
