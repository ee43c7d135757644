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
