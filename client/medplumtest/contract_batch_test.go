package medplumtest_test

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// batchSteps replay the batch and transaction captures (132-134): entry by
// entry answers, an invalid entry a 400 of its own, and on 5.0.10 (a
// project without the "transaction-bundles" feature) a transaction that
// keeps its valid entries. They run in the project of 13 as its test client.
func batchSteps() []step {
	post := func(bundle string) func(e *contractEnv) *http.Response {
		return func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "fhir/R4", map[string]string{
				"Authorization": "Bearer " + e.tcTok, "Content-Type": "application/fhir+json"}, bundle})
		}
	}
	patient := func(family, given string) string {
		return `{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","name":[{"family":"` + family + `","given":["` + given + `"]}]}}`
	}
	invalid := `{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","birthDate":"not-a-date"}}`
	return []step{
		{name: "132-batch-with-invalid-entry", run: post(`{"resourceType":"Bundle","type":"batch","entry":[` +
			patient("CapBatch223133", "One") + `,` + patient("CapBatch223133", "Two") + `,` + patient("CapBatch223133", "Three") + `,` + invalid + `]}`)},
		{name: "133-transaction-ok", run: post(`{"resourceType":"Bundle","type":"transaction","entry":[` +
			`{"fullUrl":"urn:uuid:9a1c2e0b-0000-4000-8000-000000000001","request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","name":[{"family":"CapTx223133","given":["Pat"]}]}},` +
			`{"request":{"method":"POST","url":"Observation"},"resource":{"resourceType":"Observation","status":"final","code":{"text":"cap weight"},` +
			`"subject":{"reference":"urn:uuid:9a1c2e0b-0000-4000-8000-000000000001"},"valueQuantity":{"value":70,"unit":"kg"}}}]}`)},
		{name: "134-transaction-with-invalid-entry", run: post(`{"resourceType":"Bundle","type":"transaction","entry":[` +
			patient("CapTxBad223133", "Pat") + `,` + invalid + `]}`)},
	}
}

// importBatchSteps replay the captures taken for bulk import (400-402,
// 407): a project admin cannot create by PUT; a conditional create in a
// batch (request.ifNoneExist on an identifier, or on a tag for a type
// without identifier) creates the first time and answers the match the
// second; past the FHIR quota a batch's entries answer 429 one by one.
// They run in the seeded project as its admin client.
func importBatchSteps() []step {
	stamp := fmt.Sprintf("%012d", time.Now().UnixNano()%1e12)
	bundle := func(e *contractEnv, entries ...string) *http.Response {
		return e.do(req{"POST", "fhir/R4", e.fhirJSON(e.exportTok()),
			`{"resourceType":"Bundle","type":"batch","entry":[` + strings.Join(entries, ",") + `]}`})
	}
	pat := "urn:uuid:7d0c8a52-4f1e-4c8e-9b7a-" + stamp
	conditional := []string{
		`{"fullUrl":"` + pat + `","request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:medplumcli:source-id|cap-` + stamp + `-1"},` +
			`"resource":{"resourceType":"Patient","identifier":[{"system":"urn:medplumcli:source-id","value":"cap-` + stamp + `-1"}],"name":[{"family":"BulkCap"}]}}`,
		`{"request":{"method":"POST","url":"Observation","ifNoneExist":"identifier=urn:medplumcli:source-id|cap-` + stamp + `-2"},` +
			`"resource":{"resourceType":"Observation","status":"final","code":{"text":"bulk cap"},"identifier":[{"system":"urn:medplumcli:source-id","value":"cap-` + stamp + `-2"}],"subject":{"reference":"` + pat + `"}}}`,
		`{"request":{"method":"POST","url":"Provenance","ifNoneExist":"_tag=urn:medplumcli:source-id|cap-` + stamp + `-3"},` +
			`"resource":{"resourceType":"Provenance","meta":{"tag":[{"system":"urn:medplumcli:source-id","code":"cap-` + stamp + `-3"}]},"recorded":"2026-12-07T00:00:00Z","target":[{"reference":"` + pat + `"}],"agent":[{"who":{"display":"bulk cap"}}]}}`,
	}
	statuses := func(want string) func(e *contractEnv, b map[string]any) {
		return func(e *contractEnv, b map[string]any) {
			var got []string
			for _, x := range b["entry"].([]any) {
				got = append(got, x.(map[string]any)["response"].(map[string]any)["status"].(string))
			}
			if g := strings.Join(got, " "); g != want {
				e.t.Errorf("entry statuses %s, want %s", g, want)
			}
		}
	}
	return []step{
		{name: "400-put-unknown-id-project-admin", run: func(e *contractEnv) *http.Response {
			const id = "5b8f0c1e-2d3a-4b5c-9d6e-7f8091a2b3c4"
			return e.do(req{"PUT", "fhir/R4/Patient/" + id, e.fhirJSON(e.exportTok()), `{"resourceType":"Patient","id":"` + id + `","name":[{"family":"BulkPut"}]}`})
		}},
		{name: "401-batch-conditional-create-first", run: func(e *contractEnv) *http.Response { return bundle(e, conditional...) },
			after: func(e *contractEnv, b map[string]any) {
				statuses("201 201 201")(e, b)
				obs := b["entry"].([]any)[1].(map[string]any)["resource"].(map[string]any)
				if ref := obs["subject"].(map[string]any)["reference"].(string); !strings.HasPrefix(ref, "Patient/") {
					e.t.Errorf("401: the batch did not resolve the urn:uuid: %s", ref)
				}
			}},
		{name: "402-batch-conditional-create-again", run: func(e *contractEnv) *http.Response { return bundle(e, conditional...) },
			after: statuses("200 200 200")},
		{name: "407-batch-over-quota", run: func(e *contractEnv) *http.Response {
			e.exportTok()
			e.srv.SetFHIRQuota(300) // what the client had left of the minute's points
			defer e.srv.SetFHIRQuota(50000)
			var entries []string
			for i := range 5 {
				entries = append(entries, fmt.Sprintf(`{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","name":[{"family":"BulkOver","given":["%d"]}]}}`, i))
			}
			return bundle(e, entries...)
		}, after: statuses("201 201 201 429 429")},
		{name: "417-batch-concurrent-conflict", run: func(e *contractEnv) *http.Response {
			// On 5.0.10 two entries of one of 4 concurrent batches failed to
			// serialize; the sandbox is told which.
			e.srv.ConflictBatchEntries(7, 22)
			var entries []string
			for i := range 25 {
				v := fmt.Sprintf("cap417-%s-%d", stamp, i)
				entries = append(entries, `{"fullUrl":"urn:uuid:00000000-0000-4000-8000-`+fmt.Sprintf("%012d", i)+`","request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:medplum-cli:source-id|`+v+`"},`+
					`"resource":{"resourceType":"Patient","identifier":[{"system":"urn:medplum-cli:source-id","value":"`+v+`"}],"name":[{"family":"cap417"}]}}`)
			}
			return bundle(e, entries...)
		}, after: statuses("201 201 201 201 201 201 201 409 201 201 201 201 201 201 201 201 201 201 201 201 201 201 409 201 201")},
	}
}
