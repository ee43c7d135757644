package medplumtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// restoreSteps replay the captures 530-534 (bulk import --restore): a
// batch of conditional creates keyed on a resource's old id, into the
// project it came from. A plain _id key finds the resource while it
// exists and creates it again, with a new id, once it was deleted (530),
// every time (530b); a _filter of the id or the source-id identifier (or,
// for a type without an identifier search, the source-id tag) finds the
// re-created one too (531b, 532b). Binary cannot be searched (533); a
// deleted resource reads 410 (534b), a patch of it is 410 too (600),
// its history reads (600b).
func restoreSteps() []step {
	patient := `{"resourceType":"Patient","name":[{"family":"RestoreCap"}]}`
	entry := func(typ, resource, ifNoneExist string) string {
		return fmt.Sprintf(`{"fullUrl":"urn:uuid:%s","resource":%s,"request":{"method":"POST","url":%q,"ifNoneExist":%q}}`,
			"6f1f5a48-0d52-4d1f-9a57-1a4c8b3f0530", resource, typ, ifNoneExist)
	}
	batch := func(entries ...string) string {
		return `{"resourceType":"Bundle","type":"batch","entry":[` + strings.Join(entries, ",") + `]}`
	}
	// existing, deleted, never: a resource that exists, one deleted just
	// before, an id that never existed.
	three := func(e *contractEnv, typ, body string) (string, string, string) {
		c, d := e.createIn(typ, body), e.createIn(typ, body)
		resp := e.do(req{"DELETE", "fhir/R4/" + typ + "/" + d, bearer(e.exportTok()), ""})
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			e.t.Fatalf("deleting %s/%s: %s", typ, d, resp.Status)
		}
		return c, d, "0b9e5b8e-5c3a-4d61-9d2e-7f1c2a530000"
	}
	withSourceID := func(id string) string {
		return `{"resourceType":"Patient","identifier":[{"system":"urn:medplum-cli:source-id","value":"` + id + `"}],"name":[{"family":"RestoreCap"}]}`
	}
	filter := func(id, other string) string {
		return "_filter=" + url.PathEscape(`_id eq "`+id+`" or `+other)
	}
	prov := func(target, tag string) string {
		p := map[string]any{"resourceType": "Provenance", "recorded": "2026-12-07T00:00:00Z",
			"target": []any{map[string]any{"reference": "Patient/" + target}}, "agent": []any{map[string]any{"who": map[string]any{"display": "restore cap"}}}}
		if tag != "" {
			p["meta"] = map[string]any{"tag": []any{map[string]any{"system": "urn:medplum-cli:source-id", "code": tag}}}
		}
		b, _ := json.Marshal(p)
		return string(b)
	}
	send := func(e *contractEnv, key string) *http.Response {
		return e.do(req{"POST", "fhir/R4", e.fhirJSON(e.exportTok()), e.vars[key]})
	}
	return []step{
		{name: "530-batch-ifnoneexist-id", run: func(e *contractEnv) *http.Response {
			c, d, n := three(e, "Patient", patient)
			e.vars["530"] = batch(entry("Patient", patient, "_id="+c), entry("Patient", patient, "_id="+d), entry("Patient", patient, "_id="+n))
			return send(e, "530")
		}},
		{name: "530b-batch-ifnoneexist-id-again", run: func(e *contractEnv) *http.Response { return send(e, "530") }},
		{name: "531-batch-ifnoneexist-filter-id-or-identifier", run: func(e *contractEnv) *http.Response {
			c, d, n := three(e, "Patient", patient)
			e.vars["deleted531"] = d
			var list []string
			for _, id := range []string{c, d, n} {
				list = append(list, entry("Patient", withSourceID(id), filter(id, `identifier eq "urn:medplum-cli:source-id|`+id+`"`)))
			}
			e.vars["531"] = batch(list...)
			return send(e, "531")
		}},
		{name: "531b-batch-ifnoneexist-filter-again", run: func(e *contractEnv) *http.Response { return send(e, "531") }},
		{name: "532-batch-ifnoneexist-filter-id-or-tag", run: func(e *contractEnv) *http.Response {
			target := e.createIn("Patient", patient)
			c, d, _ := three(e, "Provenance", prov(target, ""))
			var list []string
			for _, id := range []string{c, d} {
				list = append(list, entry("Provenance", prov(target, id), filter(id, `_tag eq "urn:medplum-cli:source-id|`+id+`"`)))
			}
			e.vars["532"] = batch(list...)
			return send(e, "532")
		}},
		{name: "532b-batch-ifnoneexist-filter-tag-again", run: func(e *contractEnv) *http.Response { return send(e, "532") }},
		{name: "533-batch-ifnoneexist-binary", run: func(e *contractEnv) *http.Response {
			bin := `{"resourceType":"Binary","contentType":"text/plain","data":"aGVsbG8="}`
			id := e.createIn("Binary", bin)
			return e.do(req{"POST", "fhir/R4", e.fhirJSON(e.exportTok()), batch(entry("Binary", bin, "_id="+id))})
		}},
		{name: "534b-read-deleted", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Patient/" + e.vars["deleted531"], bearer(e.exportTok()), ""})
		}},
		// A patch of it is 410 "Gone" too; its history still reads, the
		// deletion an entry without a resource (nits4: what `medplum get`
		// and `patch` name).
		{name: "600-patch-deleted", run: func(e *contractEnv) *http.Response {
			return e.do(req{"PATCH", "fhir/R4/Patient/" + e.vars["deleted531"],
				map[string]string{"Authorization": "Bearer " + e.exportTok(), "Content-Type": "application/json-patch+json"},
				`[{"op":"add","path":"/active","value":true}]`})
		}},
		{name: "600b-history-deleted", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Patient/" + e.vars["deleted531"] + "/_history", bearer(e.exportTok()), ""})
		}},
		// bulk import's lookups before a Bundle: one search of every key.
		{name: "535-search-identifier-list", run: func(e *contractEnv) *http.Response {
			e.vars["look-a"] = e.createIn("Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:medplum-cli:source-id","value":"look-a"}],"name":[{"family":"Lookup"}]}`)
			e.createIn("Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:test:mrn","value":"m-9"},{"system":"urn:medplum-cli:source-id","value":"look-b"}],"name":[{"family":"Lookup"}]}`)
			return e.do(req{"GET", "fhir/R4/Patient?_count=1000&identifier=" + url.QueryEscape("urn:medplum-cli:source-id|look-a,urn:medplum-cli:source-id|look-b,urn:medplum-cli:source-id|look-none"), bearer(e.exportTok()), ""})
		}},
		{name: "535b-search-id-list", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Patient?_count=1000&_id=" + url.QueryEscape(e.vars["look-a"]+","+e.vars["deleted531"]+",0b9e5b8e-5c3a-4d61-9d2e-7f1c2a535000"), bearer(e.exportTok()), ""})
		}},
		{name: "535c-search-tag-list", run: func(e *contractEnv) *http.Response {
			e.createIn("Provenance", `{"resourceType":"Provenance","recorded":"2026-12-07T00:00:00Z","target":[{"reference":"Patient/`+e.vars["look-a"]+`"}],"agent":[{"who":{"display":"lookup"}}],"meta":{"tag":[{"system":"urn:medplum-cli:source-id","code":"look-p1"}]}}`)
			return e.do(req{"GET", "fhir/R4/Provenance?_count=1000&_tag=" + url.QueryEscape("urn:medplum-cli:source-id|look-p1,urn:medplum-cli:source-id|look-p2"), bearer(e.exportTok()), ""})
		}},
	}
}
