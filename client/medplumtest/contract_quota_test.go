package medplumtest_test

import (
	"net/http"
	"strings"
)

// quotaSteps replay 524-524e: what a conditional create costs of the FHIR
// quota, read from the fhirInteractions RateLimit value (r=, compared
// exactly: quota), by a client of its own whose window starts with the
// first step. Setup (the Patients) is done by another client, as the
// capture did.
func quotaSteps() []step {
	patient := func(ident string) string {
		return `{"resourceType":"Patient","identifier":[{"system":"urn:leftovers2","value":"` + ident + `"}],"name":[{"family":"leftovers2-quota"}]}`
	}
	conditional := func(e *contractEnv, ident string) *http.Response {
		h := e.fhirJSON(e.vars["quotaTok"])
		h["If-None-Exist"] = "identifier=urn:leftovers2|" + ident
		return e.do(req{"POST", "fhir/R4/Patient", h, patient(ident)})
	}
	return []step{
		{name: "524-quota-read-first", quota: true, run: func(e *contractEnv) *http.Response {
			a := e.createIn("Patient", patient("dup-524"))
			e.createIn("Patient", patient("dup-524"))
			e.createIn("Patient", patient("one-524"))
			app := jsonBody(e.t, e.do(req{"POST", "admin/projects/" + e.srv.Seed.ProjectID + "/client", bearerJSON(e.exportTok()), `{"name":"leftovers2-quota"}`}))
			id, _ := app["id"].(string)
			secret, _ := app["secret"].(string)
			e.vars["quotaTok"] = e.token(id, secret)
			return e.do(req{"GET", "fhir/R4/Patient/" + a, bearer(e.vars["quotaTok"]), ""})
		}},
		{name: "524b-quota-conditional-create-two-matches", quota: true, run: func(e *contractEnv) *http.Response { return conditional(e, "dup-524") }},
		{name: "524c-quota-conditional-create-one-match", quota: true, run: func(e *contractEnv) *http.Response { return conditional(e, "one-524") }},
		{name: "524d-quota-conditional-create-no-match", quota: true, run: func(e *contractEnv) *http.Response { return conditional(e, "new-524") }},
		{name: "524e-quota-plain-create", quota: true, run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "fhir/R4/Patient", e.fhirJSON(e.vars["quotaTok"]), patient("new-524")})
		}},
	}
}

// quotaLeft is the r= of the fhirInteractions RateLimit value ("" without
// one).
func quotaLeft(h http.Header) string {
	for _, v := range h.Values("RateLimit") {
		if rest, ok := strings.CutPrefix(v, `"fhirInteractions";r=`); ok {
			r, _, _ := strings.Cut(rest, ";")
			return r
		}
	}
	return ""
}
