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

// importBatchSteps replay the captures taken for bulk import (400-410,
// 417): a project admin cannot create by PUT; a conditional create in a
// batch (request.ifNoneExist on an identifier, or on a tag for a type
// without identifier) creates the first time and answers the match the
// second; an async batch (Prefer: respond-async) answers 202 and a job
// whose status turns completed with a Binary of the batch-response; past
// the FHIR quota a batch's entries answer 429 one by one, an async batch
// 429 at once, and an async job that runs out waits for the next minute
// while its status answers 429.
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
		{name: "403-batch-respond-async", run: func(e *contractEnv) *http.Response {
			var entries []string
			for i := range 20 {
				v := fmt.Sprintf("async-%s-%d", stamp, i)
				entries = append(entries, `{"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:medplumcli:source-id|`+v+`"},`+
					`"resource":{"resourceType":"Patient","identifier":[{"system":"urn:medplumcli:source-id","value":"`+v+`"}],"name":[{"family":"BulkAsync","given":["`+fmt.Sprint(i)+`"]}]}}`)
			}
			entries = append(entries, `{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","birthDate":"not-a-date"}}`)
			return e.asyncBundle(entries...)
		}, after: func(e *contractEnv, b map[string]any) {
			e.vars["job"] = b["issue"].([]any)[0].(map[string]any)["diagnostics"].(string)
		}},
		{name: "404-async-job-status-in-progress", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", strings.TrimPrefix(e.vars["job"], e.srv.URL), bearer(e.exportTok()), ""})
		}, after: func(e *contractEnv, b map[string]any) {
			if b["status"] != "accepted" {
				e.t.Errorf("404: status %v, want accepted", b["status"])
			}
		}},
		{name: "405-async-job-status-completed", run: func(e *contractEnv) *http.Response {
			return e.pollJob(e.vars["job"], http.StatusOK)
		}, after: func(e *contractEnv, b map[string]any) {
			out := b["output"].(map[string]any)["parameter"].([]any)[0].(map[string]any)
			e.vars["results"] = out["valueReference"].(map[string]any)["reference"].(string)
		}},
		{name: "406-async-results-binary", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/" + e.vars["results"], map[string]string{"Authorization": "Bearer " + e.exportTok(), "Accept": "*/*"}, ""})
		}, after: statuses(strings.TrimSpace(strings.Repeat("201 ", 20)) + " 400")},
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
		{name: "408-batch-respond-async-over-quota", run: func(e *contractEnv) *http.Response {
			// The quota spent, as 407 left it.
			e.srv.SetFHIRQuota(300)
			defer e.srv.SetFHIRQuota(50000)
			bundle(e, e.plainPatients("BulkOver", 3)...).Body.Close()
			return e.asyncBundle(e.plainPatients("BulkOverAsync", 5)...)
		}},
		{name: "409-batch-respond-async-quota-low", run: func(e *contractEnv) *http.Response {
			// About 1,100 points left in the minute: the AsyncJob and ten
			// of the thirty creates fit, the job then waits.
			e.srv.SetFHIRQuota(1100)
			return e.asyncBundle(e.plainPatients("BulkLow", 30)...)
		}, after: func(e *contractEnv, b map[string]any) {
			e.vars["job"] = b["issue"].([]any)[0].(map[string]any)["diagnostics"].(string)
		}},
		{name: "410-async-job-status-waiting-for-quota", run: func(e *contractEnv) *http.Response {
			deadline := time.Now().Add(10 * time.Second)
			for e.srv.AsyncBatchesWaiting() == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			return e.do(req{"GET", strings.TrimPrefix(e.vars["job"], e.srv.URL), bearer(e.exportTok()), ""})
		}, after: func(e *contractEnv, _ map[string]any) {
			// A new minute: the job finishes its thirty Patients.
			e.srv.SetFHIRQuota(50000)
			job := jsonBody(e.t, e.pollJob(e.vars["job"], http.StatusOK))
			ref := job["output"].(map[string]any)["parameter"].([]any)[0].(map[string]any)["valueReference"].(map[string]any)["reference"].(string)
			results := jsonBody(e.t, e.do(req{"GET", "fhir/R4/" + ref, map[string]string{"Authorization": "Bearer " + e.exportTok(), "Accept": "*/*"}, ""}))
			statuses(strings.TrimSpace(strings.Repeat("201 ", 30)))(e, results)
		}},
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
		// What a whole-project export holds, posted by a project admin: a
		// ClientApplication is created with the secret it had; a
		// ProjectMembership loses the project and user it names (400); a
		// Project is forbidden.
		{name: "418-batch-create-clientapplication-with-secret", run: func(e *contractEnv) *http.Response {
			return bundle(e, `{"request":{"method":"POST","url":"ClientApplication"},"resource":{"resourceType":"ClientApplication","name":"bulk import client","secret":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}`)
		}, after: func(e *contractEnv, b map[string]any) {
			statuses("201")(e, b)
			if s := b["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)["secret"]; s != "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" {
				e.t.Errorf("418: secret %v, want the one sent", s)
			}
		}},
		{name: "419-batch-create-projectmembership-project-admin", run: func(e *contractEnv) *http.Response {
			m := e.srv.Resource("ProjectMembership", e.srv.Seed.Client.MembershipID)
			return bundle(e, `{"request":{"method":"POST","url":"ProjectMembership"},"resource":{"resourceType":"ProjectMembership","project":{"reference":"Project/`+e.srv.Seed.ProjectID+`"},`+
				`"user":{"reference":"`+m["user"].(map[string]any)["reference"].(string)+`"},"profile":{"reference":"`+m["profile"].(map[string]any)["reference"].(string)+`"}}}`)
		}, after: statuses("400")},
		{name: "420-batch-create-project-project-admin", run: func(e *contractEnv) *http.Response {
			return bundle(e, `{"request":{"method":"POST","url":"Project"},"resource":{"resourceType":"Project","name":"bulk import project"}}`)
		}, after: statuses("403")},
	}
}

// asyncBundle posts a batch of entries with Prefer: respond-async as the
// seeded project's admin client.
func (e *contractEnv) asyncBundle(entries ...string) *http.Response {
	h := e.fhirJSON(e.exportTok())
	h["Prefer"] = "respond-async"
	return e.do(req{"POST", "fhir/R4", h, `{"resourceType":"Bundle","type":"batch","entry":[` + strings.Join(entries, ",") + `]}`})
}

// plainPatients are n POST Patient entries without a condition.
func (e *contractEnv) plainPatients(family string, n int) []string {
	var entries []string
	for i := range n {
		entries = append(entries, fmt.Sprintf(`{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","name":[{"family":%q,"given":["%d"]}]}}`, family, i))
	}
	return entries
}

// pollJob polls an async job's status URL until it answers want (or 10 s
// pass) and returns that answer.
func (e *contractEnv) pollJob(loc string, want int) *http.Response {
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := e.do(req{"GET", strings.TrimPrefix(loc, e.srv.URL), bearer(e.exportTok()), ""})
		if resp.StatusCode == want || time.Now().After(deadline) {
			return resp
		}
		resp.Body.Close()
		time.Sleep(5 * time.Millisecond)
	}
}
