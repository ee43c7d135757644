package medplumtest_test

import (
	"encoding/json"
	"net/http"
	"strconv"
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
		// 557: a batch of GETs (how bulk import reads what it updates):
		// 200 with the resource and its meta.versionId, 410 for a deleted
		// one, 404 for an id that never existed, side by side in a 200.
		{name: "557-batch-get-existing-deleted-never", run: func(e *contractEnv) *http.Response {
			a := e.createIn("Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:lead-review:557","value":"dup"}],"name":[{"family":"BatchGetCap"}]}`)
			d := e.createIn("Patient", `{"resourceType":"Patient","name":[{"family":"BatchGetCap"}]}`)
			resp := e.do(req{"DELETE", "fhir/R4/Patient/" + d, bearer(e.exportTok()), ""})
			resp.Body.Close()
			get := func(id string) string { return `{"request":{"method":"GET","url":"Patient/` + id + `"}}` }
			return e.do(req{"POST", "fhir/R4", e.fhirJSON(e.exportTok()), `{"resourceType":"Bundle","type":"batch","entry":[` +
				get(a) + "," + get(d) + "," + get("00000000-0000-4000-8000-0000000005a7") + `]}`})
		}, after: func(e *contractEnv, b map[string]any) {
			list, _ := b["entry"].([]any)
			if len(list) != 3 {
				e.t.Fatalf("557: %d entries", len(list))
			}
			res, _ := list[0].(map[string]any)["resource"].(map[string]any)
			meta, _ := res["meta"].(map[string]any)
			if v, _ := meta["versionId"].(string); v == "" {
				e.t.Fatalf("557: the read entry's resource has no meta.versionId: %v", res)
			}
		}},
		// 557b: a conditional create that two resources match fails 412
		// (multiple-matches), yet it was given an id before the entries
		// ran: the Observation that refers to its urn:uuid is created
		// pointing at that id, which reads 404 (as 546's failed create).
		{name: "557b-batch-conditional-create-two-matches-urn-reference", run: func(e *contractEnv) *http.Response {
			p := `{"resourceType":"Patient","identifier":[{"system":"urn:lead-review:557b","value":"dup"}]}`
			e.createIn("Patient", p)
			e.createIn("Patient", p)
			return e.do(req{"POST", "fhir/R4", e.fhirJSON(e.exportTok()), `{"resourceType":"Bundle","type":"batch","entry":[` +
				`{"fullUrl":"urn:uuid:00000000-0000-4000-8000-0000000557b1","resource":` + p + `,"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:lead-review:557b|dup"}},` +
				`{"resource":{"resourceType":"Observation","status":"final","code":{"text":"review 557b"},"subject":{"reference":"urn:uuid:00000000-0000-4000-8000-0000000557b1"}},"request":{"method":"POST","url":"Observation"}}]}`})
		}, after: func(e *contractEnv, b map[string]any) {
			id := batchSubjectID(e, b, 1, "557b")
			resp := e.do(req{"GET", "fhir/R4/Patient/" + id, bearer(e.exportTok()), ""})
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				e.t.Fatalf("557b: the id given to the failed conditional create reads %s, want 404", resp.Status)
			}
		}},
		// 557c: an entry may refer to a later entry's urn:uuid: it points
		// at the id the later create gets.
		{name: "557c-batch-forward-urn-reference", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "fhir/R4", e.fhirJSON(e.exportTok()), `{"resourceType":"Bundle","type":"batch","entry":[` +
				`{"resource":{"resourceType":"Observation","status":"final","code":{"text":"review 557c"},"subject":{"reference":"urn:uuid:00000000-0000-4000-8000-0000000557c1"}},"request":{"method":"POST","url":"Observation"}},` +
				`{"fullUrl":"urn:uuid:00000000-0000-4000-8000-0000000557c1","resource":{"resourceType":"Patient","name":[{"family":"Review557c"}]},"request":{"method":"POST","url":"Patient"}}]}`})
		}, after: func(e *contractEnv, b map[string]any) {
			id := batchSubjectID(e, b, 0, "557c")
			list, _ := b["entry"].([]any)
			patient, _ := list[1].(map[string]any)["resource"].(map[string]any)
			if patient["id"] != id {
				e.t.Fatalf("557c: the Observation points at Patient/%s, the Patient created is %v", id, patient["id"])
			}
		}},
	}
}

// batchSubjectID is the Patient id entry i's resource (an Observation)
// has as its subject.
func batchSubjectID(e *contractEnv, b map[string]any, i int, capture string) string {
	list, _ := b["entry"].([]any)
	if len(list) <= i {
		e.t.Fatalf("%s: %d entries", capture, len(list))
	}
	obs, _ := list[i].(map[string]any)["resource"].(map[string]any)
	subject, _ := obs["subject"].(map[string]any)
	ref, _ := subject["reference"].(string)
	id, ok := strings.CutPrefix(ref, "Patient/")
	if !ok {
		e.t.Fatalf("%s: the Observation's subject is %q, not a Patient's id", capture, ref)
	}
	return id
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

// ifMatchSteps replay the captures 556-556d: If-Match on an update. A PUT
// whose If-Match names the current version is 200 (556), one naming a
// version replaced since is 412 precondition-failed and changes nothing
// (556b); in a batch, request.ifMatch is each entry's If-Match: 200 and
// 412 side by side in a 200 Bundle (556c). The value is read as the
// header is, the first quoted string in it: a bare versionId is no
// condition, and a stale one replaces the newer version (556d).
func ifMatchSteps() []step {
	patient := func(id, given string) string {
		return `{"resourceType":"Patient","id":"` + id + `","name":[{"family":"IfMatchCap","given":["` + given + `"]}]}`
	}
	version := func(e *contractEnv, id string) string {
		m := jsonBody(e.t, e.do(req{"GET", "fhir/R4/Patient/" + id, bearer(e.exportTok()), ""}))
		v, _ := m["meta"].(map[string]any)["versionId"].(string)
		if v == "" {
			e.t.Fatalf("Patient/%s has no versionId: %v", id, m)
		}
		return v
	}
	given := func(e *contractEnv, id string) string {
		m := jsonBody(e.t, e.do(req{"GET", "fhir/R4/Patient/" + id, bearer(e.exportTok()), ""}))
		b, _ := json.Marshal(m["name"])
		return string(b)
	}
	put := func(e *contractEnv, id, ifMatch, body string) *http.Response {
		h := e.fhirJSON(e.exportTok())
		h["If-Match"] = ifMatch
		return e.do(req{"PUT", "fhir/R4/Patient/" + id, h, body})
	}
	entry := func(id, given, ifMatch string) string {
		return `{"resource":` + patient(id, given) + `,"request":{"method":"PUT","url":"Patient/` + id + `","ifMatch":` + strconv.Quote(ifMatch) + `}}`
	}
	batch := func(e *contractEnv, entries ...string) *http.Response {
		return e.do(req{"POST", "fhir/R4", e.fhirJSON(e.exportTok()), `{"resourceType":"Bundle","type":"batch","entry":[` + strings.Join(entries, ",") + `]}`})
	}
	return []step{
		{name: "556-put-if-match-current", run: func(e *contractEnv) *http.Response {
			id := e.createIn("Patient", `{"resourceType":"Patient","name":[{"family":"IfMatchCap"}]}`)
			e.vars["id556"], e.vars["v556"] = id, version(e, id)
			return put(e, id, `W/"`+e.vars["v556"]+`"`, patient(id, "Matching"))
		}},
		{name: "556b-put-if-match-stale", run: func(e *contractEnv) *http.Response {
			id := e.vars["id556"]
			return put(e, id, `W/"`+e.vars["v556"]+`"`, patient(id, "Stale"))
		}, after: func(e *contractEnv, _ map[string]any) {
			if got := given(e, e.vars["id556"]); got != `[{"family":"IfMatchCap","given":["Matching"]}]` {
				e.t.Fatalf("556b: after the stale PUT the Patient's name is %s, not 556's", got)
			}
		}},
		{name: "556c-batch-put-if-match-current-and-stale", run: func(e *contractEnv) *http.Response {
			a := e.createIn("Patient", `{"resourceType":"Patient","name":[{"family":"IfMatchCap"}]}`)
			b := e.createIn("Patient", `{"resourceType":"Patient","name":[{"family":"IfMatchCap"}]}`)
			av, bv := version(e, a), version(e, b)
			resp := e.do(req{"PUT", "fhir/R4/Patient/" + b, e.fhirJSON(e.exportTok()), patient(b, "EditedMeanwhile")})
			resp.Body.Close()
			e.vars["b556c"], e.vars["bv556c"] = b, bv
			return batch(e, entry(a, "BatchMatching", `W/"`+av+`"`), entry(b, "BatchStale", `W/"`+bv+`"`))
		}, after: func(e *contractEnv, _ map[string]any) {
			if got := given(e, e.vars["b556c"]); got != `[{"family":"IfMatchCap","given":["EditedMeanwhile"]}]` {
				e.t.Fatalf("556c: the stale entry changed the Patient: %s", got)
			}
		}},
		{name: "556d-batch-put-if-match-unquoted-stale", run: func(e *contractEnv) *http.Response {
			return batch(e, entry(e.vars["b556c"], "BareStale", e.vars["bv556c"]))
		}, after: func(e *contractEnv, _ map[string]any) {
			if got := given(e, e.vars["b556c"]); got != `[{"family":"IfMatchCap","given":["BareStale"]}]` {
				e.t.Fatalf("556d: a bare versionId is no condition on 5.0.10, yet the Patient is %s", got)
			}
		}},
	}
}
