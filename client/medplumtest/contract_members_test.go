package medplumtest_test

import (
	"encoding/json"
	"net/http"
)

// memberSteps replay the history captures 174 and 175 and those taken for
// the members side of issue 13 (300-306). They make what they need
// themselves, in the project of 13 as its test client (14).
func memberSteps() []step {
	var clientID, clientSecret, capMid, histMid string
	extended := func(tok string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + tok, "X-Medplum": "extended"}
	}
	return []step{
		{name: "174-client-history", run: func(e *contractEnv) *http.Response {
			// 172, 173 and 173b: a client, its secret rotated, the old one retired.
			app := jsonBody(e.t, e.do(req{"POST", "admin/projects/" + e.pid + "/client", bearerJSON(e.tcTok),
				`{"name":"cap-client","description":"captured: rotation history"}`}))
			clientID, clientSecret = app["id"].(string), app["secret"].(string)
			rotate := func(name, value string) {
				p, _ := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": []any{map[string]any{"name": name, "valueString": value}}})
				e.do(req{"POST", "fhir/R4/ClientApplication/" + clientID + "/$rotate-secret", map[string]string{
					"Authorization": "Bearer " + e.tcTok, "Content-Type": "application/fhir+json"}, string(p)}).Body.Close()
			}
			rotate("secret", clientSecret)
			rotated := jsonBody(e.t, e.do(req{"GET", "fhir/R4/ClientApplication/" + clientID, bearer(e.tcTok), ""}))
			rotate("retiringSecret", rotated["retiringSecret"].(string))
			return e.do(req{"GET", "fhir/R4/ClientApplication/" + clientID + "/_history", bearer(e.tcTok), ""})
		}},
		{name: "175-pm-history", run: func(e *contractEnv) *http.Response {
			// 140: a member invited; then made admin with a FHIR PATCH.
			m := e.invite(e.tcTok, `{"resourceType":"Practitioner","firstName":"Cap","lastName":"Member","email":"cap-member@example.com","sendEmail":false}`)
			capMid = m["id"].(string)
			e.do(req{"PATCH", "fhir/R4/ProjectMembership/" + capMid, map[string]string{"Authorization": "Bearer " + e.tcTok,
				"Content-Type": "application/json-patch+json"}, `[{"op":"add","path":"/admin","value":true}]`}).Body.Close()
			return e.do(req{"GET", "fhir/R4/ProjectMembership/" + capMid + "/_history", bearer(e.tcTok), ""})
		}},
		{name: "300-pm-history-extended", run: func(e *contractEnv) *http.Response {
			m := e.invite(e.tcTok, `{"resourceType":"Practitioner","firstName":"Hist","lastName":"Member","email":"members-hist@example.com","sendEmail":false}`)
			histMid = m["id"].(string)
			e.postMember(e.tcTok, histMid, func(m map[string]any) { m["admin"] = true }).Body.Close()
			e.postMember(e.tcTok, histMid, func(m map[string]any) { m["active"] = false }).Body.Close()
			return e.do(req{"GET", "fhir/R4/ProjectMembership/" + histMid + "/_history", extended(e.tcTok), ""})
		}},
		{name: "301-pm-history-count-offset", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/ProjectMembership/" + histMid + "/_history?_count=1&_offset=1", extended(e.tcTok), ""})
		}},
		{name: "302-pm-history-after-remove", run: func(e *contractEnv) *http.Response {
			e.do(req{"DELETE", "admin/projects/" + e.pid + "/members/" + histMid, bearer(e.tcTok), ""}).Body.Close()
			return e.do(req{"GET", "fhir/R4/ProjectMembership/" + histMid + "/_history", extended(e.tcTok), ""})
		}},
		{name: "303-pm-search-admin-param", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/ProjectMembership?admin=true", bearer(e.tcTok), ""})
		}},
		{name: "304-pm-search-active-not", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/ProjectMembership?active:not=false", bearer(e.tcTok), ""})
		}},
		{name: "305-binary-search", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Binary?_id=x", bearer(e.tcTok), ""})
		}},
		{name: "306-identityprovider-search", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/IdentityProvider", bearer(e.tcTok), ""})
		}},
	}
}
