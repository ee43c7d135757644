package medplumtest_test

import "net/http"

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
