package medplumtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
)

// exportEnv is what the bulk export captures (125-139, 411-416) use: the
// seeded project's admin client, the last status URL and manifest.
type exportEnv struct {
	tok      string
	status   string // the Content-Location of the last kickoff
	fileURL  string // an output url of the last manifest
	group    string
	emptyGrp string
}

func (e *contractEnv) exportTok() string {
	if e.export == nil {
		e.export = &exportEnv{tok: e.token(e.srv.Seed.Client.ID, e.srv.Seed.Client.Secret)}
	}
	return e.export.tok
}

// kickoff starts an export; the step compares its answer.
func (e *contractEnv) kickoff(method, path string, header map[string]string, body string) *http.Response {
	h := map[string]string{"Authorization": "Bearer " + e.exportTok()}
	for k, v := range header {
		h[k] = v
	}
	resp := e.do(req{method, path, h, body})
	e.export.status = resp.Header.Get("Content-Location")
	return resp
}

var respondAsync = map[string]string{"Prefer": "respond-async"}

// relative turns a URL the server gave into a path e.do accepts.
func (e *contractEnv) relative(u string) string {
	if !strings.HasPrefix(u, e.srv.URL) {
		e.t.Fatalf("%s is not on the server %s", u, e.srv.URL)
	}
	return strings.TrimPrefix(u, e.srv.URL)
}

// poll polls the last export's status URL once.
func (e *contractEnv) poll() *http.Response {
	return e.do(req{"GET", e.relative(e.export.status), bearer(e.exportTok()), ""})
}

// manifest polls the last export until it answers something else than 202.
func (e *contractEnv) manifest() *http.Response {
	for range 10 {
		resp := e.poll()
		if resp.StatusCode != http.StatusAccepted {
			return resp
		}
		resp.Body.Close()
	}
	e.t.Fatal("the export never finished")
	return nil
}

func keepFile(e *contractEnv, b map[string]any) {
	out, _ := b["output"].([]any)
	if len(out) == 0 {
		e.t.Fatalf("no output in %v", b)
	}
	e.export.fileURL = out[0].(map[string]any)["url"].(string)
}

// createIn creates a resource in the seeded project outside the steps.
func (e *contractEnv) createIn(typ, body string) string {
	m := jsonBody(e.t, e.do(req{"POST", "fhir/R4/" + typ, e.fhirJSON(e.exportTok()), body}))
	id, _ := m["id"].(string)
	if id == "" {
		e.t.Fatalf("creating a %s: %v", typ, m)
	}
	return id
}

func exportSteps() []step {
	return []step{
		{name: "125-export-system-get", run: func(e *contractEnv) *http.Response {
			return e.kickoff("GET", "fhir/R4/$export", respondAsync, "")
		}},
		{name: "126-export-poll-in-progress", run: func(e *contractEnv) *http.Response { return e.poll() }},
		{name: "127-export-poll-complete", run: func(e *contractEnv) *http.Response { return e.poll() }},
		{name: "128-export-system-post", run: func(e *contractEnv) *http.Response {
			return e.kickoff("POST", "fhir/R4/$export", map[string]string{"Prefer": "respond-async", "Content-Type": "application/fhir+json"},
				`{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Patient"}]}`)
		}},
		{name: "128b-export-system-post-manifest", run: func(e *contractEnv) *http.Response { return e.manifest() },
			after: func(e *contractEnv, b map[string]any) {
				if out, _ := b["output"].([]any); len(out) < 2 {
					e.t.Errorf("a POST body's _type counted: %v", out)
				}
			}},
		{name: "129-export-patient", run: func(e *contractEnv) *http.Response {
			e.createIn("Patient", `{"resourceType":"Patient","name":[{"family":"CapExport","given":["Gp"]}],"generalPractitioner":[{"reference":"`+e.srv.Seed.Admin.Profile+`"}]}`)
			return e.kickoff("GET", "fhir/R4/Patient/$export", respondAsync, "")
		}},
		{name: "129b-export-patient-manifest", run: func(e *contractEnv) *http.Response { return e.manifest() }},
		{name: "130-export-type-since", run: func(e *contractEnv) *http.Response {
			since := url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
			return e.kickoff("GET", "fhir/R4/$export?_type=Patient,Practitioner&_since="+since, respondAsync, "")
		}},
		{name: "130b-export-type-since-manifest", run: func(e *contractEnv) *http.Response { return e.manifest() }},
		{name: "131-export-no-prefer", run: func(e *contractEnv) *http.Response {
			return e.kickoff("GET", "fhir/R4/$export", nil, "")
		}},
		{name: "135-export-output-file-with-auth", ndjson: true, run: func(e *contractEnv) *http.Response {
			since := url.QueryEscape(time.Now().UTC().Add(-time.Millisecond).Format(time.RFC3339Nano))
			for _, n := range []string{"One", "Two", "Three"} {
				e.createIn("Patient", `{"resourceType":"Patient","name":[{"family":"CapBatch","given":["`+n+`"]}]}`)
			}
			resp := e.kickoff("GET", "fhir/R4/$export?_type=Patient&_since="+since, respondAsync, "")
			resp.Body.Close()
			keepFile(e, jsonBody(e.t, e.manifest()))
			return e.do(req{"GET", e.relative(e.export.fileURL), bearer(e.exportTok()), ""})
		}},
		{name: "136-export-output-file-no-auth", ndjson: true, run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", e.relative(e.export.fileURL), nil, ""})
		}},
		{name: "136b-storage-url-no-signature", run: func(e *contractEnv) *http.Response {
			u, _, _ := strings.Cut(e.export.fileURL, "?")
			return e.do(req{"GET", e.relative(u), bearer(e.exportTok()), ""})
		}},
		{name: "136c-export-output-binary-fhir-read", ndjson: true, run: func(e *contractEnv) *http.Response {
			u, _ := url.Parse(e.export.fileURL)
			id := strings.Split(strings.TrimPrefix(u.Path, "/storage/"), "/")[0]
			return e.do(req{"GET", "fhir/R4/Binary/" + id, bearer(e.exportTok()), ""})
		}},
		{name: "137-export-cancel", run: func(e *contractEnv) *http.Response {
			resp := e.kickoff("GET", "fhir/R4/$export", respondAsync, "")
			resp.Body.Close()
			return e.do(req{"DELETE", e.relative(e.export.status), bearer(e.exportTok()), ""})
		}},
		{name: "138-export-poll-after-cancel", run: func(e *contractEnv) *http.Response { return e.poll() }},
		{name: "138b-export-poll-after-cancel-later", run: func(e *contractEnv) *http.Response { return e.poll() }},
		{name: "138c-export-cancel-again", run: func(e *contractEnv) *http.Response {
			return e.do(req{"DELETE", e.relative(e.export.status), bearer(e.exportTok()), ""})
		}},
		{name: "139-export-poll-unknown-id", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/bulkdata/export/6e1f7f0a-2c1e-4b43-9a51-0f7ad0c0ffee", bearer(e.exportTok()), ""})
		}},
		{name: "411-export-group-get", run: func(e *contractEnv) *http.Response {
			p1 := e.createIn("Patient", `{"resourceType":"Patient","name":[{"family":"CapGroup","given":["A"]}]}`)
			p2 := e.createIn("Patient", `{"resourceType":"Patient","name":[{"family":"CapGroup","given":["B"]}]}`)
			e.createIn("Observation", `{"resourceType":"Observation","status":"final","code":{"text":"cap"},"subject":{"reference":"Patient/`+p1+`"}}`)
			e.export.group = e.createIn("Group", `{"resourceType":"Group","type":"person","actual":true,"member":[{"entity":{"reference":"Patient/`+p1+`"}},{"entity":{"reference":"Patient/`+p2+`"}}]}`)
			return e.kickoff("GET", "fhir/R4/Group/"+e.export.group+"/$export", respondAsync, "")
		}},
		{name: "411b-export-group-manifest", run: func(e *contractEnv) *http.Response { return e.manifest() },
			after: func(e *contractEnv, b map[string]any) {
				var types []string
				for _, o := range b["output"].([]any) {
					types = append(types, o.(map[string]any)["type"].(string))
				}
				if strings.Join(types, ",") != "Patient,Observation,Group" {
					e.t.Errorf("a Group export gave %v, want Patient, Observation, Group (411b)", types)
				}
			}},
		{name: "412-export-group-post", run: func(e *contractEnv) *http.Response {
			return e.kickoff("POST", "fhir/R4/Group/"+e.export.group+"/$export", map[string]string{"Prefer": "respond-async", "Content-Type": "application/fhir+json"}, "")
		}},
		{name: "413-export-group-missing", run: func(e *contractEnv) *http.Response {
			return e.kickoff("GET", "fhir/R4/Group/0b6a3f4e-9d0f-4c51-8f0e-3c8f6a1d2b7c/$export", respondAsync, "")
		}},
		{name: "414-export-group-no-members", run: func(e *contractEnv) *http.Response {
			e.export.emptyGrp = e.createIn("Group", `{"resourceType":"Group","type":"person","actual":true}`)
			return e.kickoff("GET", "fhir/R4/Group/"+e.export.emptyGrp+"/$export", respondAsync, "")
		}},
		{name: "414b-export-group-no-members-poll", run: func(e *contractEnv) *http.Response {
			e.poll().Body.Close()
			return e.poll()
		}},
		{name: "415-export-unknown-type", run: func(e *contractEnv) *http.Response {
			return e.kickoff("GET", "fhir/R4/$export?_type=Patinet", respondAsync, "")
		}},
		{name: "415b-export-unknown-type-manifest", run: func(e *contractEnv) *http.Response { return e.manifest() }},
		{name: "416-export-since-invalid", run: func(e *contractEnv) *http.Response {
			return e.kickoff("GET", "fhir/R4/$export?_since=yesterday", respondAsync, "")
		}},
		{name: "416b-export-since-invalid-poll", run: func(e *contractEnv) *http.Response {
			e.poll().Body.Close()
			return e.poll()
		}},
		// The seeded project's `features: [bots]` is data the captured
		// fixture project did not have: the first entry (line) is compared,
		// the ids of all checked.
		{name: "545-project-search-project-admin", firstEntry: true, run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Project?_count=5", bearer(e.exportTok()), ""})
		}, after: func(e *contractEnv, b map[string]any) {
			if got, want := entryIDs(b), medplumtest.R4ProjectID+","+e.srv.Seed.ProjectID; got != want {
				e.t.Errorf("a project admin's Project search found %s, want the base FHIR R4 project, then its own (545)", got)
			}
		}},
		{name: "545b-r4-project-read-project-admin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Project/" + medplumtest.R4ProjectID, bearer(e.exportTok()), ""})
		}},
		{name: "545c-export-project-file", ndjson: true, firstEntry: true, run: func(e *contractEnv) *http.Response {
			resp := e.kickoff("GET", "fhir/R4/$export?_type=Project", respondAsync, "")
			resp.Body.Close()
			keepFile(e, jsonBody(e.t, e.manifest()))
			first := e.do(req{"GET", e.relative(e.export.fileURL), nil, ""})
			b, err := io.ReadAll(first.Body)
			first.Body.Close()
			if err != nil {
				e.t.Fatal(err)
			}
			var ids []string
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var r struct{ ID string }
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					e.t.Fatalf("545c: %v: %s", err, line)
				}
				ids = append(ids, r.ID)
			}
			if got, want := strings.Join(ids, ","), medplumtest.R4ProjectID+","+e.srv.Seed.ProjectID; got != want {
				e.t.Errorf("a project admin's Project export holds %s, want the base FHIR R4 project, then its own (545c)", got)
			}
			return e.do(req{"GET", e.relative(e.export.fileURL), nil, ""})
		}},
		{name: "555-export-attachment-file", ndjson: true, firstEntry: true, run: func(e *contractEnv) *http.Response {
			since := url.QueryEscape(time.Now().UTC().Add(-time.Millisecond).Format(time.RFC3339Nano))
			bin := e.createIn("Binary", `{"resourceType":"Binary","contentType":"text/plain","data":"aGVsbG8gYXR0YWNobWVudAo="}`)
			e.createIn("DocumentReference", `{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"contentType":"text/plain","url":"Binary/`+bin+`","title":"att.txt"}}]}`)
			resp := e.kickoff("GET", "fhir/R4/$export?_type=Binary,DocumentReference&_since="+since, map[string]string{"Prefer": "respond-async", "X-Medplum": "extended"}, "")
			resp.Body.Close()
			m := jsonBody(e.t, e.manifest())
			if out, _ := m["output"].([]any); len(out) != 1 || out[0].(map[string]any)["type"] != "DocumentReference" {
				e.t.Errorf("555: the export's output is %v, want one DocumentReference file", out)
			}
			keepFile(e, m)
			first := e.do(req{"GET", e.relative(e.export.fileURL), nil, ""})
			b, err := io.ReadAll(first.Body)
			first.Body.Close()
			if err != nil {
				e.t.Fatal(err)
			}
			if want := `"url":"Binary/` + bin + `"`; !strings.Contains(string(b), want) {
				e.t.Errorf("555: the exported DocumentReference does not hold %s: %s", want, b)
			}
			return e.do(req{"GET", e.relative(e.export.fileURL), nil, ""})
		}},
	}
}

// entryIDs is a searchset's resource ids, in order, joined by commas.
func entryIDs(b map[string]any) string {
	var ids []string
	for _, en := range b["entry"].([]any) {
		ids = append(ids, en.(map[string]any)["resource"].(map[string]any)["id"].(string))
	}
	return strings.Join(ids, ",")
}
