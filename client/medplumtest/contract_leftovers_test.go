package medplumtest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/medplumcli/medplum/client"
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
		// Exports that never finish: the real server still answered 202
		// 34 minutes later (510b, 511b); medplumtest's never end either.
		{name: "510-export-group-no-members", run: func(e *contractEnv) *http.Response {
			g := e.createIn("Group", `{"resourceType":"Group","type":"person","actual":true,"name":"leftovers empty"}`)
			return e.kickoff("GET", "fhir/R4/Group/"+g+"/$export", respondAsync, "")
		}},
		{name: "510b-export-group-no-members-poll-later", run: func(e *contractEnv) *http.Response { return e.poll() }},
		{name: "511-export-since-invalid", run: func(e *contractEnv) *http.Response {
			return e.kickoff("GET", "fhir/R4/$export?_since=not-a-date", respondAsync, "")
		}},
		{name: "511b-export-since-invalid-poll-later", run: func(e *contractEnv) *http.Response { return e.poll() }},
		// A conditional create that matches two resources: 412, alone or
		// in a batch.
		{name: "512-conditional-create-two-matches", run: func(e *contractEnv) *http.Response {
			dup := `{"resourceType":"Patient","identifier":[{"system":"urn:leftovers","value":"dup-512"}],"name":[{"family":"leftovers-dup"}]}`
			e.createIn("Patient", dup)
			e.createIn("Patient", dup)
			h := e.fhirJSON(e.exportTok())
			h["If-None-Exist"] = "identifier=urn:leftovers|dup-512"
			return e.do(req{"POST", "fhir/R4/Patient", h, dup})
		}},
		{name: "512c-conditional-create-one-match", run: func(e *contractEnv) *http.Response {
			one := `{"resourceType":"Patient","identifier":[{"system":"urn:leftovers","value":"one-512"}],"name":[{"family":"leftovers-one"}]}`
			e.createIn("Patient", one)
			h := e.fhirJSON(e.exportTok())
			h["If-None-Exist"] = "identifier=urn:leftovers|one-512"
			return e.do(req{"POST", "fhir/R4/Patient", h, one})
		}},
		{name: "512b-batch-conditional-create-two-matches", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "fhir/R4", e.fhirJSON(e.exportTok()), `{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient",` +
				`"identifier":[{"system":"urn:leftovers","value":"dup-512"}]},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:leftovers|dup-512"}}]}`})
		}},
		// A transaction in a project with the transaction-bundles feature:
		// all or nothing (the seeded project has it for these three steps,
		// as the captured one had it PUT by a super admin).
		{name: "513-transaction-feature-with-invalid-entry", run: func(e *contractEnv) *http.Response {
			e.setFeatures(e.srv.Seed.ProjectID, "transaction-bundles")
			return e.do(req{"POST", "fhir/R4", e.fhirJSON(e.exportTok()), `{"resourceType":"Bundle","type":"transaction","entry":[` +
				`{"fullUrl":"urn:uuid:6f1f5a48-0d52-4d1f-9a57-1a4c8b3f0001","resource":{"resourceType":"Patient","name":[{"family":"leftovers-tx"}]},"request":{"method":"POST","url":"Patient"}},` +
				`{"resource":{"resourceType":"Patient","birthDate":"not-a-date","name":[{"family":"leftovers-tx"}]},"request":{"method":"POST","url":"Patient"}}]}`})
		}},
		{name: "513b-search-after-refused-transaction", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Patient?name=leftovers-tx", bearer(e.exportTok()), ""})
		}},
		{name: "513c-transaction-feature-ok", run: func(e *contractEnv) *http.Response {
			defer e.setFeatures(e.srv.Seed.ProjectID)
			return e.do(req{"POST", "fhir/R4", e.fhirJSON(e.exportTok()), `{"resourceType":"Bundle","type":"transaction","entry":[` +
				`{"fullUrl":"urn:uuid:6f1f5a48-0d52-4d1f-9a57-1a4c8b3f0002","resource":{"resourceType":"Patient","name":[{"family":"leftovers-tx-ok"}]},"request":{"method":"POST","url":"Patient"}}]}`})
		}},
		// Removing a member deletes the membership; the User stays.
		{name: "514-admin-delete-member", run: func(e *contractEnv) *http.Response {
			m := jsonBody(e.t, e.do(req{"POST", "admin/projects/" + e.srv.Seed.ProjectID + "/invite", bearerJSON(e.exportTok()),
				`{"resourceType":"Practitioner","firstName":"Re","lastName":"Moved","email":"leftovers-removed@example.com","password":"leftovers-pw-514","sendEmail":false}`}))
			e.vars["user514"] = m["user"].(map[string]any)["reference"].(string)
			return e.do(req{"DELETE", "admin/projects/" + e.srv.Seed.ProjectID + "/members/" + m["id"].(string), bearer(e.exportTok()), ""})
		}},
		{name: "514b-user-read-after-member-delete", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/" + e.vars["user514"], bearer(e.saTok), ""})
		}},
		{name: "514c-admin-delete-member-project-scoped", run: func(e *contractEnv) *http.Response {
			m := jsonBody(e.t, e.do(req{"POST", "admin/projects/" + e.srv.Seed.ProjectID + "/invite", bearerJSON(e.exportTok()),
				`{"resourceType":"Practitioner","firstName":"Sco","lastName":"Ped","email":"leftovers-scoped@example.com","password":"leftovers-pw-514","sendEmail":false,"scope":"project"}`}))
			e.vars["user514c"] = m["user"].(map[string]any)["reference"].(string)
			return e.do(req{"DELETE", "admin/projects/" + e.srv.Seed.ProjectID + "/members/" + m["id"].(string), bearer(e.exportTok()), ""})
		}},
		{name: "514d-user-read-after-member-delete-project-scoped", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/" + e.vars["user514c"], bearer(e.saTok), ""})
		}},
		// A User deleted by a super admin (523-523e): to a project admin a
		// server-scoped one is 404 as a live one is (212), a project-scoped
		// one 410; to the super admin 410. The missing-user rule reads these.
		{name: "523-user-delete-server-scoped-super-admin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"DELETE", "fhir/R4/" + e.vars["user514"], bearer(e.saTok), ""})
		}},
		{name: "523b-deleted-server-scoped-user-read-project-admin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/" + e.vars["user514"], bearer(e.exportTok()), ""})
		}},
		{name: "523c-deleted-server-scoped-user-read-super-admin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/" + e.vars["user514"], bearer(e.saTok), ""})
		}},
		{name: "523d-user-delete-project-scoped-super-admin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"DELETE", "fhir/R4/" + e.vars["user514c"], bearer(e.saTok), ""})
		}},
		{name: "523e-deleted-project-scoped-user-read-project-admin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/" + e.vars["user514c"], bearer(e.exportTok()), ""})
		}},
		// A user who must enrol in MFA first.
		{name: "515-login-mfa-enroll-required", run: func(e *contractEnv) *http.Response {
			e.do(req{"POST", "admin/projects/" + e.srv.Seed.ProjectID + "/invite", bearerJSON(e.exportTok()),
				`{"resourceType":"Practitioner","firstName":"Mfa","lastName":"Req","email":"leftovers-mfa@example.com","password":"leftovers-pw-515","sendEmail":false,"mfaRequired":true}`}).Body.Close()
			return e.login(`{"email":"leftovers-mfa@example.com","password":"leftovers-pw-515","scope":"openid offline_access","codeChallenge":"` + pkceS256 + `","codeChallengeMethod":"S256"}`)
		}},
		// setpassword with a verify-email request, then with a used one.
		// (The real server made the request with User/$update-email and
		// used it with auth/verifyemail, which medplumtest does not have:
		// the request is seeded as those left it.)
		{name: "516-setpassword-verify-email-request", run: func(e *contractEnv) *http.Response {
			user := e.srv.MembershipByEmail(e.srv.Seed.ProjectID, "leftovers-mfa@example.com").Ref("user")
			r := e.srv.Create(e.srv.Seed.ProjectID, client.Resource{"resourceType": "UserSecurityRequest", "type": "verify-email",
				"user": map[string]any{"reference": user}, "secret": "leftovers-secret-516"})
			e.vars["usr516"] = r.ID()
			return e.do(req{"POST", "auth/setpassword", map[string]string{"Content-Type": "application/json"},
				`{"id":"` + r.ID() + `","secret":"leftovers-secret-516","password":"leftovers-new-pw"}`})
		}},
		{name: "517-setpassword-used-request", run: func(e *contractEnv) *http.Response {
			r := e.srv.Resource("UserSecurityRequest", e.vars["usr516"])
			r["used"] = true
			e.srv.Update(r)
			return e.do(req{"POST", "auth/setpassword", map[string]string{"Content-Type": "application/json"},
				`{"id":"` + e.vars["usr516"] + `","secret":"leftovers-secret-516","password":"leftovers-new-pw"}`})
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
		// The default client of a project deleted in 520: read as usual,
		// deleted with a 410, deleted again with 200.
		{name: "522-client-read-project-deleted", run: func(e *contractEnv) *http.Response {
			apps := e.srv.Resources("ClientApplication", e.vars["project520"])
			if len(apps) != 1 {
				e.t.Fatalf("the clients of the project of 520: %v", apps)
			}
			e.vars["client522"] = apps[0].ID()
			return e.do(req{"GET", "fhir/R4/ClientApplication/" + e.vars["client522"], bearer(e.saTok), ""})
		}},
		{name: "522b-client-delete-project-deleted", run: func(e *contractEnv) *http.Response {
			return e.do(req{"DELETE", "fhir/R4/ClientApplication/" + e.vars["client522"], bearer(e.saTok), ""})
		}},
		{name: "522c-client-delete-again-project-deleted", run: func(e *contractEnv) *http.Response {
			return e.do(req{"DELETE", "fhir/R4/ClientApplication/" + e.vars["client522"], bearer(e.saTok), ""})
		}},
		{name: "521-delete-patient-again", run: func(e *contractEnv) *http.Response {
			p := jsonBody(e.t, e.do(req{"POST", "fhir/R4/Patient", map[string]string{"Authorization": "Bearer " + e.tcTok, "Content-Type": "application/fhir+json"},
				`{"resourceType":"Patient","name":[{"family":"leftovers-del"}]}`}))
			e.do(req{"DELETE", "fhir/R4/Patient/" + p["id"].(string), bearer(e.tcTok), ""}).Body.Close()
			return e.do(req{"DELETE", "fhir/R4/Patient/" + p["id"].(string), bearer(e.tcTok), ""})
		}},
	}
}

// setFeatures sets a project's features, as a super admin's PUT of the
// Project does (outside the compared steps).
func (e *contractEnv) setFeatures(projectID string, features ...string) {
	p := jsonBody(e.t, e.do(req{"GET", "fhir/R4/Project/" + projectID, bearer(e.saTok), ""}))
	list := make([]any, 0, len(features))
	for _, f := range features {
		list = append(list, f)
	}
	p["features"] = list
	b, _ := json.Marshal(p)
	resp := e.do(req{"PUT", "fhir/R4/Project/" + projectID, e.fhirJSON(e.saTok), string(b)})
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("setting the features of Project/%s: %s", projectID, resp.Status)
	}
}
