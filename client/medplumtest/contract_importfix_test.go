package medplumtest_test

import (
	"net/http"
	"strings"
)

// importFixSteps replay the captures 546 and 546b: Medplum 5.0.10 gives
// every create of a batch its id before the entries run (fhir-router
// batch.ts), so an entry that refers to another through its urn:uuid
// points at that id even when the other fails: the Observation is created
// with subject Patient/<id> (546), an id that reads 404 (546b).
func importFixSteps() []step {
	return []step{
		{name: "546-batch-failed-entry-urn-reference", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "fhir/R4", e.fhirJSON(e.exportTok()), `{"resourceType":"Bundle","type":"batch","entry":[` +
				`{"fullUrl":"urn:uuid:5a46e0c1-3b2f-4a9e-8c1d-2e7f9b0c5460","resource":{"resourceType":"Patient","birthDate":"not-a-date","name":[{"family":"PhantomCap"}]},"request":{"method":"POST","url":"Patient"}},` +
				`{"fullUrl":"urn:uuid:5a46e0c1-3b2f-4a9e-8c1d-2e7f9b0c5461","resource":{"resourceType":"Observation","status":"final","code":{"text":"phantom cap"},"subject":{"reference":"urn:uuid:5a46e0c1-3b2f-4a9e-8c1d-2e7f9b0c5460"}},"request":{"method":"POST","url":"Observation"}}]}`})
		}, after: func(e *contractEnv, b map[string]any) {
			list, _ := b["entry"].([]any)
			if len(list) != 2 {
				e.t.Fatalf("546: %d entries", len(list))
			}
			obs, _ := list[1].(map[string]any)["resource"].(map[string]any)
			subject, _ := obs["subject"].(map[string]any)
			ref, _ := subject["reference"].(string)
			id, ok := strings.CutPrefix(ref, "Patient/")
			if !ok {
				e.t.Fatalf("546: the Observation's subject is %q, not a Patient's id", ref)
			}
			e.vars["phantom546"] = id
		}},
		{name: "546b-read-failed-entry-id", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Patient/" + e.vars["phantom546"], bearer(e.exportTok()), ""})
		}},
	}
}

// reviveSteps replay the captures 547-547d: a project admin's PUT of a
// deleted (not expunged) resource's id puts it back with that id (200, a
// new version; it reads 200 again), in a batch entry too; the PUT of an
// id that never existed is 404.
func reviveSteps() []step {
	const never = "0b9e5b8e-5c3a-4d61-9d2e-7f1c2a547000"
	patient := func(id string) string {
		return `{"resourceType":"Patient","id":"` + id + `","name":[{"family":"ReviveCap"}]}`
	}
	deleted := func(e *contractEnv) string {
		id := e.createIn("Patient", `{"resourceType":"Patient","name":[{"family":"ReviveCap"}]}`)
		resp := e.do(req{"DELETE", "fhir/R4/Patient/" + id, bearer(e.exportTok()), ""})
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			e.t.Fatalf("deleting Patient/%s: %s", id, resp.Status)
		}
		return id
	}
	return []step{
		{name: "547-put-deleted-revives", run: func(e *contractEnv) *http.Response {
			id := deleted(e)
			e.vars["revived547"] = id
			return e.do(req{"PUT", "fhir/R4/Patient/" + id, e.fhirJSON(e.exportTok()), patient(id)})
		}},
		{name: "547b-read-revived", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Patient/" + e.vars["revived547"], bearer(e.exportTok()), ""})
		}},
		{name: "547c-put-never-existed", run: func(e *contractEnv) *http.Response {
			return e.do(req{"PUT", "fhir/R4/Patient/" + never, e.fhirJSON(e.exportTok()), patient(never)})
		}},
		{name: "547d-batch-put-deleted-and-never", run: func(e *contractEnv) *http.Response {
			id := deleted(e)
			return e.do(req{"POST", "fhir/R4", e.fhirJSON(e.exportTok()), `{"resourceType":"Bundle","type":"batch","entry":[` +
				`{"resource":` + patient(id) + `,"request":{"method":"PUT","url":"Patient/` + id + `"}},` +
				`{"resource":` + patient(never) + `,"request":{"method":"PUT","url":"Patient/` + never + `"}}]}`})
		}},
	}
}
