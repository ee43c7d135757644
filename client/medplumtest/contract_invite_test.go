package medplumtest_test

import (
	"encoding/json"
	"net/http"
)

// extendedJSON is a project admin's JSON request as medplum sends it.
func extendedJSON(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json", "X-Medplum": "extended"}
}

func extended(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok, "X-Medplum": "extended"}
}

// inviteSteps replay captures 200-215 (invite --upsert, access policies,
// admin/projects/setpassword), after the steps of 01-91 on the same server:
// e.pid is the project and e.tcTok its admin client's token.
func inviteSteps() []step {
	grace := func(e *contractEnv, extra string) string {
		return `{"resourceType":"Practitioner","firstName":"Grace","lastName":"Hopper","email":"grace@example.com","sendEmail":false` + extra + `}`
	}
	withPolicy := func(e *contractEnv) string {
		return `,"membership":{"admin":true,"accessPolicy":{"reference":"AccessPolicy/` + e.vars["policy"] + `"}}`
	}
	const missing = "AccessPolicy/00000000-0000-0000-0000-000000000000"
	return []step{
		{name: "200-accesspolicy-search-name", run: func(e *contractEnv) *http.Response {
			p := jsonBody(e.t, e.do(req{"POST", "fhir/R4/AccessPolicy", map[string]string{"Authorization": "Bearer " + e.tcTok,
				"Content-Type": "application/fhir+json"}, `{"resourceType":"AccessPolicy","name":"clinic-staff","resource":[{"resourceType":"Patient"}]}`}))
			e.vars["policy"] = p["id"].(string)
			return e.do(req{"GET", "fhir/R4/AccessPolicy?name:exact=clinic-staff", extended(e.tcTok), ""})
		}},
		{name: "201-invite-admin-with-policy", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "admin/projects/" + e.pid + "/invite", extendedJSON(e.tcTok), grace(e, withPolicy(e))})
		}, after: func(e *contractEnv, b map[string]any) {
			e.vars["graceMid"] = b["id"].(string)
			e.vars["graceUser"] = b["user"].(map[string]any)["reference"].(string)
		}},
		{name: "202-invite-upsert-names-nothing", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "admin/projects/" + e.pid + "/invite", extendedJSON(e.tcTok), grace(e, `,"upsert":true`)})
		}},
		{name: "203-invite-upsert-merged", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "admin/projects/" + e.pid + "/invite", extendedJSON(e.tcTok), grace(e, withPolicy(e)+`,"upsert":true`)})
		}},
		{name: "204-invite-membership-policy-missing", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "admin/projects/" + e.pid + "/invite", extendedJSON(e.tcTok),
				`{"resourceType":"Practitioner","firstName":"No","lastName":"Policy","email":"nopolicy@example.com","sendEmail":false,"membership":{"accessPolicy":{"reference":"` + missing + `"}}}`})
		}},
		{name: "205-invite-policy-missing", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "admin/projects/" + e.pid + "/invite", extendedJSON(e.tcTok),
				`{"resourceType":"Practitioner","firstName":"No","lastName":"Policy","email":"nopolicy2@example.com","sendEmail":false,"accessPolicy":{"reference":"` + missing + `"}}`})
		}},
		{name: "206-invite-project-scoped", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "admin/projects/" + e.pid + "/invite", extendedJSON(e.tcTok),
				`{"resourceType":"Practitioner","firstName":"Ada","lastName":"Lovelace","email":"ada@example.com","sendEmail":false,"scope":"project"}`})
		}, after: func(e *contractEnv, b map[string]any) {
			e.vars["adaUser"] = b["user"].(map[string]any)["reference"].(string)
		}},
		{name: "207-setpassword-project-scoped", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "admin/projects/setpassword", extendedJSON(e.tcTok), `{"email":"ada@example.com","password":"correct-horse-battery"}`})
		}},
		{name: "208-setpassword-server-scoped", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "admin/projects/setpassword", extendedJSON(e.tcTok), `{"email":"grace@example.com","password":"correct-horse-battery"}`})
		}},
		{name: "209-setpassword-short", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "admin/projects/setpassword", extendedJSON(e.tcTok), `{"email":"ada@example.com","password":"short"}`})
		}},
		{name: "210-login-after-setpassword", run: func(e *contractEnv) *http.Response {
			return e.login(`{"email":"ada@example.com","password":"correct-horse-battery","projectId":"` + e.pid +
				`","scope":"openid","codeChallenge":"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG","codeChallengeMethod":"S256"}`)
		}},
		{name: "211-user-read-project-scoped", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/" + e.vars["adaUser"], extended(e.tcTok), ""})
		}},
		{name: "212-user-read-server-scoped", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/" + e.vars["graceUser"], extended(e.tcTok), ""})
		}},
		{name: "213-member-post-policy-missing", run: func(e *contractEnv) *http.Response {
			mid := e.vars["graceMid"]
			m := jsonBody(e.t, e.do(req{"GET", "admin/projects/" + e.pid + "/members/" + mid, extended(e.tcTok), ""}))
			m["accessPolicy"] = map[string]any{"reference": missing}
			b, _ := json.Marshal(m)
			return e.do(req{"POST", "admin/projects/" + e.pid + "/members/" + mid, extendedJSON(e.tcTok), string(b)})
		}},
		{name: "214-accesspolicy-read-other-project", run: func(e *contractEnv) *http.Response {
			p := jsonBody(e.t, e.do(req{"POST", "fhir/R4/AccessPolicy", map[string]string{"Authorization": "Bearer " + e.saTok,
				"Content-Type": "application/fhir+json"}, `{"resourceType":"AccessPolicy","name":"another project's"}`}))
			return e.do(req{"GET", "fhir/R4/AccessPolicy/" + p["id"].(string), extended(e.tcTok), ""})
		}},
		{name: "215-accesspolicy-read-missing", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/" + missing, extended(e.tcTok), ""})
		}},
	}
}
