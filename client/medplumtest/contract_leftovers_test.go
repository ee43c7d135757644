package medplumtest_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
)

// leftoverSteps replay the captures 500-521, taken from the same kind of
// server for what medplumtest had from the server's source only, or had
// wrong: the browser sign-in's hand-over to the web app and a deactivated
// membership there; a Project's delete (410 although it deleted) and a
// delete of what is already deleted (All OK).
func leftoverSteps() []step {
	// The parameters `medplum login` sends, in its order, with the state and
	// challenge of the capture (500), so that the hand-over's text compares.
	authorize := func(e *contractEnv, change map[string]string, drop string) *http.Response {
		params := [][2]string{{"response_type", "code"}, {"client_id", "medplum-cli"}, {"redirect_uri", "http://localhost:9615"},
			{"scope", "openid offline_access"}, {"state", "st4te-5"}, {"code_challenge", "FOgNHR-Fi3eUFMO_zPTBxdyl1e_GrJx7RWiPrrOHKpE"},
			{"code_challenge_method", "S256"}, {"prompt", "login"}}
		var q []string
		for _, kv := range params {
			if kv[0] == drop {
				continue
			}
			if v, ok := change[kv[0]]; ok {
				kv[1] = v
			}
			q = append(q, kv[0]+"="+strings.NewReplacer(":", "%3A", "/", "%2F", " ", "+").Replace(kv[1]))
		}
		// Not followed: the answer is the redirect.
		hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := hc.Get(e.srv.URL + "oauth2/authorize?" + strings.Join(q, "&"))
		if err != nil {
			e.t.Fatal(err)
		}
		return resp
	}
	return []step{
		{name: "500-authorize-cli-prompt-login", run: func(e *contractEnv) *http.Response {
			resp := authorize(e, map[string]string{"state": "st4te-20261207055505"}, "")
			// The captured server's web app is at http://127.0.0.1:3000/;
			// medplumtest's is itself.
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(bytes.ReplaceAll(body, []byte(e.srv.URL), []byte("http://127.0.0.1:3000/"))))
			return resp
		}},
		{name: "501-login-cli-client-deactivated-member", run: func(e *contractEnv) *http.Response {
			// realfix-inactive's only membership was deactivated in 187.
			return e.login(`{"email":"realfix-inactive@example.com","password":"realfix-inactive-pw","clientId":"medplum-cli","scope":"openid offline_access","codeChallenge":"` + pkceS256 + `","codeChallengeMethod":"S256"}`)
		}},
		{name: "502-authorize-unknown-client", run: func(e *contractEnv) *http.Response {
			return authorize(e, map[string]string{"client_id": "00000000-0000-4000-8000-000000000000"}, "")
		}},
		{name: "503-authorize-redirect-not-registered", run: func(e *contractEnv) *http.Response {
			return authorize(e, map[string]string{"redirect_uri": "http://localhost:9616"}, "")
		}},
		{name: "504-authorize-response-type-token", run: func(e *contractEnv) *http.Response {
			return authorize(e, map[string]string{"response_type": "token"}, "")
		}},
		{name: "505-authorize-no-scope", run: func(e *contractEnv) *http.Response {
			return authorize(e, nil, "scope")
		}},
		{name: "520-project-delete-superadmin", run: func(e *contractEnv) *http.Response {
			p := jsonBody(e.t, e.do(req{"POST", "fhir/R4/Project/$init", map[string]string{"Authorization": "Bearer " + e.saTok, "Content-Type": "application/fhir+json"},
				`{"resourceType":"Parameters","parameter":[{"name":"name","valueString":"leftovers delete"}]}`}))
			e.vars["project520"] = p["id"].(string)
			return e.do(req{"DELETE", "fhir/R4/Project/" + e.vars["project520"], bearer(e.saTok), ""})
		}},
		{name: "520b-project-read-after-delete", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Project/" + e.vars["project520"], bearer(e.saTok), ""})
		}},
		{name: "520c-project-delete-again", run: func(e *contractEnv) *http.Response {
			return e.do(req{"DELETE", "fhir/R4/Project/" + e.vars["project520"], bearer(e.saTok), ""})
		}},
		{name: "521-delete-patient-again", run: func(e *contractEnv) *http.Response {
			p := jsonBody(e.t, e.do(req{"POST", "fhir/R4/Patient", map[string]string{"Authorization": "Bearer " + e.tcTok, "Content-Type": "application/fhir+json"},
				`{"resourceType":"Patient","name":[{"family":"leftovers-del"}]}`}))
			e.do(req{"DELETE", "fhir/R4/Patient/" + p["id"].(string), bearer(e.tcTok), ""}).Body.Close()
			return e.do(req{"DELETE", "fhir/R4/Patient/" + p["id"].(string), bearer(e.tcTok), ""})
		}},
	}
}
