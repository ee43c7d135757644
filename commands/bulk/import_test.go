package bulk_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// writeFile writes name under the test's home (the working directory of
// the commands it runs).
func writeFile(t *testing.T, e *clitest.Env, name, body string) string {
	t.Helper()
	p := filepath.Join(e.Home, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// patients is an NDJSON file of n Patients with the ids <prefix>0...
func patients(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"resourceType":"Patient","id":"%s%d"}`+"\n", prefix, i)
	}
	return b.String()
}

// Every line is checked before anything is sent; every problem names its
// file and line; exit 2.
func TestImportBadLinesSendNothing(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "good.ndjson", `{"resourceType":"Patient","id":"p1"}`+"\n")
	writeFile(t, e, "bad.ndjson", strings.Join([]string{
		`{"resourceType":"Patient","id":"p2"}`,
		``,
		`{"resourceType":"Patient","id":"p3"`,
		`["not an object"]`,
		`{"id":"x"}`,
		`{"resourceType":"patient"}`,
		`{"resourceType":"Patient","id":7}`,
		`{"resourceType":"Patient","id":"p1"}`,
		`{"resourceType":"Pateint","id":"p4"}`,
		`{"resourceType":"Xyzzy"}`,
	}, "\n")+"\n")
	srv.ResetRequests()
	before := srv.Count("Patient", srv.Seed.ProjectID)
	r := e.Run("bulk", "import", "good.ndjson", "bad.ndjson", "--report", "report.csv")
	r.Expect(t, 2, "", `medplum: 8 bad lines; nothing was sent:
bad.ndjson:3: not valid JSON (it ends too early)
bad.ndjson:4: not a JSON object
bad.ndjson:5: no resourceType
bad.ndjson:6: resourceType "patient" is not a resource type
bad.ndjson:7: resourceType and id must be strings
bad.ndjson:8: Patient/p1 appears again (first at good.ndjson:1)
bad.ndjson:9: resourceType "Pateint" is not a resource type; did you mean Patient?
bad.ndjson:10: resourceType "Xyzzy" is not a resource type of FHIR R4 or Medplum
`)
	clitest.ExpectNothingSent(t, srv)
	if n := srv.Count("Patient", srv.Seed.ProjectID); n != before {
		t.Errorf("%d Patients on the server", n)
	}
	// The report is this run's: only the header (nothing was answered).
	if got, err := os.ReadFile(filepath.Join(e.Home, "report.csv")); err != nil || string(got) != "file,line,resource,result,status,id,error\n" {
		t.Errorf("a refused input's --report (%v):\n%s", err, got)
	}
}

// patientsAndObservations is an exported project's files: Patients (one
// with an identifier of its own) and Observations pointing at them, one at
// a Patient of the same Bundle, one at a Patient of an earlier Bundle and
// one at a Patient of a later Bundle (with Bundles of 2).
func patientsAndObservations(t *testing.T, e *clitest.Env) {
	writeFile(t, e, "in/Observation.ndjson", strings.Join([]string{
		`{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"a"},"subject":{"reference":"Patient/p1"},"meta":{"versionId":"9","lastUpdated":"2026-01-01T00:00:00Z","project":"old"}}`,
		`{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"b"},"subject":{"reference":"Patient/p3/_history/2"},"hasMember":[{"reference":"Observation/o1"}]}`,
		`{"resourceType":"Observation","id":"o3","status":"final","code":{"text":"c"},"subject":{"reference":"Patient/p2"},"hasMember":[{"reference":"Observation/o1"}]}`,
	}, "\n")+"\n")
	writeFile(t, e, "in/Patient.ndjson", strings.Join([]string{
		`{"resourceType":"Patient","id":"p1","name":[{"family":"One"}],"identifier":[{"system":"urn:test:mrn","value":"m1"}]}`,
		`{"resourceType":"Patient","id":"p2","name":[{"family":"Two"}],"link":[{"type":"seealso","other":{"reference":"Patient/p3"}}]}`,
		`{"resourceType":"Patient","id":"p3","name":[{"family":"Three"}],"generalPractitioner":[{"reference":"Practitioner/elsewhere"}]}`,
	}, "\n")+"\n")
}

// byOld finds the resource of the server that an input resource became:
// by its source-id identifier, or its own.
func byOld(t *testing.T, srv *medplumtest.Server, typ, system, value string) client.Resource {
	t.Helper()
	var found []client.Resource
	for _, r := range srv.Resources(typ, srv.Seed.ProjectID) {
		ids, _ := r["identifier"].([]any)
		for _, x := range ids {
			m, _ := x.(map[string]any)
			if m["system"] == system && m["value"] == value {
				found = append(found, r)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s with %s|%s on the server", len(found), typ, system, value)
	}
	return found[0]
}

func refOf(r client.Resource, path ...string) string {
	var v any = map[string]any(r)
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			v = x[0].(map[string]any)[p]
		}
	}
	if l, ok := v.([]any); ok {
		v = l[0]
	}
	m, _ := v.(map[string]any)
	s, _ := m["reference"].(string)
	return s
}

func TestImportRewritesReferencesAndConverges(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	patientsAndObservations(t, e)
	pats, obs := srv.Count("Patient", srv.Seed.ProjectID), srv.Count("Observation", srv.Seed.ProjectID)
	r := e.Run("bulk", "import", "in", "--num-resources-per-request", "2", "--concurrency", "1")
	// Patients first (the Observations point at them), although named
	// after; Patient/p2 points at Patient/p3 of the next Bundle, and is
	// updated once that one exists.
	r.Expect(t, 0, `Bundle 1 (in/Patient.ndjson:1-2): 2 created, 0 already there, 0 failed
Bundle 2 (in/Patient.ndjson:3): 1 created, 0 already there, 0 failed
Bundle 3 (in/Observation.ndjson:1-2): 2 created, 0 already there, 0 failed
Bundle 4 (in/Observation.ndjson:3): 1 created, 0 already there, 0 failed
`, "imported 6 resources: 6 created, 0 already there, 0 failed; 1 reference points at a resource not in the input, kept as it was; 1 updated to point at resources created after it\n")
	if n, m := srv.Count("Patient", srv.Seed.ProjectID)-pats, srv.Count("Observation", srv.Seed.ProjectID)-obs; n != 3 || m != 3 {
		t.Fatalf("%d Patients and %d Observations created, want 3 and 3", n, m)
	}
	const src = "urn:medplum-cli:source-id"
	p1 := byOld(t, srv, "Patient", "urn:test:mrn", "m1")
	p2, p3 := byOld(t, srv, "Patient", src, "p2"), byOld(t, srv, "Patient", src, "p3")
	o1, o2, o3 := byOld(t, srv, "Observation", src, "o1"), byOld(t, srv, "Observation", src, "o2"), byOld(t, srv, "Observation", src, "o3")
	for _, c := range []struct{ got, want string }{
		{refOf(o1, "subject"), "Patient/" + p1.ID()},
		{refOf(o2, "subject"), "Patient/" + p3.ID()},
		{refOf(o2, "hasMember"), "Observation/" + o1.ID()}, // the same Bundle: its urn:uuid
		{refOf(o3, "subject"), "Patient/" + p2.ID()},
		{refOf(o3, "hasMember"), "Observation/" + o1.ID()},
		{refOf(p2, "link", "other"), "Patient/" + p3.ID()},
		{refOf(p3, "generalPractitioner"), "Practitioner/elsewhere"},
	} {
		if c.got != c.want {
			t.Errorf("reference %q, want %q", c.got, c.want)
		}
	}
	if len(p1["identifier"].([]any)) != 1 {
		t.Errorf("a Patient with an identifier of its own got another: %v", p1["identifier"])
	}
	if m, _ := o1["meta"].(map[string]any); m["project"] != srv.Seed.ProjectID {
		t.Errorf("the old meta was sent: %v", m)
	}

	// The same command again: the journal holds every Bundle; nothing sent.
	srv.ResetRequests()
	r = e.Run("bulk", "import", "in", "--num-resources-per-request", "2", "--concurrency", "1")
	r.Expect(t, 0, "", "imported 0 resources: 0 created, 0 already there, 0 failed; 6 done by an earlier run (0 failed)\n")
	if n := len(srv.RequestsTo("POST", "/fhir/R4")); n != 0 {
		t.Errorf("%d Bundles sent again", n)
	}

	// Without the journal (or into a project that has them): every
	// resource is found, none is doubled.
	r = e.Run("bulk", "import", "in", "--state", "other.journal", "--concurrency", "1")
	r.Expect(t, 0, `Bundle 1 (in/Patient.ndjson:1-3): 0 created, 3 already there, 0 failed
Bundle 2 (in/Observation.ndjson:1-3): 0 created, 3 already there, 0 failed
`, "imported 6 resources: 0 created, 6 already there, 0 failed\n")
	if n, m := srv.Count("Patient", srv.Seed.ProjectID)-pats, srv.Count("Observation", srv.Seed.ProjectID)-obs; n != 3 || m != 3 {
		t.Fatalf("after a re-import: %d Patients and %d Observations, want 3 and 3", n, m)
	}
}

// The server's per-entry refusals are reported with file and line; the
// rest is imported; exit 3.
func TestImportEntryFailures(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "mixed.ndjson", strings.Join([]string{
		`{"resourceType":"Patient","id":"a","name":[{"family":"Fine"}]}`,
		`{"resourceType":"Patient","id":"b","birthDate":"not-a-date"}`,
		`{"resourceType":"Patient","id":"c","identifier":[{"system":"urn:test:mrn","value":"twice"}]}`,
	}, "\n")+"\n")
	// Two Patients have the identifier already: the conditional create is
	// ambiguous (412, capture 402's rule).
	for range 2 {
		srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "Patient", "identifier": []any{map[string]any{"system": "urn:test:mrn", "value": "twice"}}})
	}
	before := srv.Count("Patient", srv.Seed.ProjectID)
	r := e.Run("bulk", "import", "mixed.ndjson", "--report", "report.csv")
	r.Expect(t, 3, "Bundle 1 (mixed.ndjson:1-3): 1 created, 0 already there, 2 failed\n", `mixed.ndjson:2: Patient/b: 400 Invalid date format (Patient.birthDate)
mixed.ndjson:3: Patient/c: 412 Multiple resources found matching condition
imported 3 resources: 1 created, 0 already there, 2 failed
medplum: 2 of 3 resources failed (listed above); correct them and run the import again: what was imported is found, not created again
`)
	if n := srv.Count("Patient", srv.Seed.ProjectID) - before; n != 1 {
		t.Errorf("%d Patients created, want 1", n)
	}
	// Again: nothing is sent, and the summary says the failures are the
	// earlier run's, not "listed above".
	srv.ResetRequests()
	r = e.Run("bulk", "import", "mixed.ndjson")
	r.Expect(t, 3, "", `imported 0 resources: 0 created, 0 already there, 0 failed; 3 done by an earlier run (2 failed)
medplum: 2 of 3 resources failed in an earlier run of this import (it listed them; this run does not send them again); correct them and run the import again: what was imported is found, not created again
`)
	clitest.ExpectPaths(t, srv, "GET /auth/me")
	// --report: a row per resource, the created one with its new id.
	var created string
	for _, p := range srv.Resources("Patient", srv.Seed.ProjectID) {
		if strings.Contains(fmt.Sprint(p["name"]), "Fine") {
			created = "Patient/" + p.ID()
		}
	}
	want := "file,line,resource,result,status,id,error\n" +
		"mixed.ndjson,1,Patient/a,created,201," + created + ",\n" +
		"mixed.ndjson,2,Patient/b,failed,400,,Invalid date format (Patient.birthDate)\n" +
		"mixed.ndjson,3,Patient/c,failed,412,,Multiple resources found matching condition\n"
	report := filepath.Join(e.Home, "report.csv")
	if got, err := os.ReadFile(report); err != nil || string(got) != want || created == "" {
		t.Errorf("report.csv (%v):\n%s\nwant:\n%s", err, got, want)
	}
	if fi, err := os.Stat(report); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("report.csv: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	// The same command again finds the created one and names it found.
	r = e.Run("bulk", "import", "mixed.ndjson", "--report", "again.csv", "--state", "other.journal", "-q")
	r.Expect(t, 3, "", `mixed.ndjson:2: Patient/b: 400 Invalid date format (Patient.birthDate)
mixed.ndjson:3: Patient/c: 412 Multiple resources found matching condition
imported 3 resources: 0 created, 1 already there, 2 failed
medplum: 2 of 3 resources failed (listed above); correct them and run the import again: what was imported is found, not created again
`)
	want = "file,line,resource,result,status,id,error\n" +
		"mixed.ndjson,1,Patient/a,found,200," + created + ",\n" +
		"mixed.ndjson,2,Patient/b,failed,400,,Invalid date format (Patient.birthDate)\n" +
		"mixed.ndjson,3,Patient/c,failed,412,,Multiple resources found matching condition\n"
	if got, err := os.ReadFile(filepath.Join(e.Home, "again.csv")); err != nil || string(got) != want {
		t.Errorf("again.csv (%v):\n%s\nwant:\n%s", err, got, want)
	}
	if n := srv.Count("Patient", srv.Seed.ProjectID) - before; n != 1 {
		t.Errorf("%d Patients after the run with another journal, want 1", n)
	}
}

// Killed with -9 in the middle, then run again: every resource is on the
// server exactly once, and every reference points at one of them.
func TestImportKilledAndRunAgain(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	cache := filepath.Join(e.Home, "cache")
	e.Set("MEDPLUM_CACHE_DIR", cache)
	const n = 200
	var pats, obs []string
	for i := range n {
		pats = append(pats, fmt.Sprintf(`{"resourceType":"Patient","id":"p%d","name":[{"family":"Kill%d"}]}`, i, i))
		obs = append(obs, fmt.Sprintf(`{"resourceType":"Observation","id":"o%d","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p%d"}}`, i, (i*7)%n))
	}
	writeFile(t, e, "kill/1-Patient.ndjson", strings.Join(pats, "\n")+"\n")
	writeFile(t, e, "kill/2-Observation.ndjson", strings.Join(obs, "\n")+"\n")
	before := srv.Count("Patient", srv.Seed.ProjectID) + srv.Count("Observation", srv.Seed.ProjectID)
	srv.SetLatency(20 * time.Millisecond)
	p := e.Start("bulk", "import", "kill", "--num-resources-per-request", "10", "--concurrency", "3")
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(p.Stdout(), "\n") < 12 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	killed := p.Kill()
	if lines := strings.Count(killed.Stdout, "\n"); lines < 12 || lines >= 40 {
		t.Fatalf("killed after %d Bundles of 40", lines)
	}
	srv.SetLatency(0)
	// The journal is all it leaves: its index of the input's ids was a
	// file without a name.
	if left, _ := filepath.Glob(filepath.Join(cache, "imports", "*")); len(left) != 1 || !strings.HasSuffix(left[0], ".journal") {
		t.Errorf("after kill -9, the cache holds %v; want the journal alone", left)
	}
	r := e.Run("bulk", "import", "kill", "--num-resources-per-request", "10", "--concurrency", "3")
	if r.Code != 0 {
		t.Fatalf("re-run: exit %d\n%s", r.Code, r.Stderr)
	}
	var created, matched, earlier int
	summary := strings.TrimSuffix(r.Stderr[strings.LastIndex(strings.TrimSuffix(r.Stderr, "\n"), "\n")+1:], "\n")
	if _, err := fmt.Sscanf(summary, "imported %d resources: %d created, %d already there, 0 failed; %d done by an earlier run", new(int), &created, &matched, &earlier); err != nil {
		t.Fatalf("summary %q: %v", summary, err)
	}
	if created+matched+earlier != 2*n || earlier < 120 {
		t.Errorf("%d created, %d found, %d earlier: want %d in all", created, matched, earlier, 2*n)
	}
	if got := srv.Count("Patient", srv.Seed.ProjectID) + srv.Count("Observation", srv.Seed.ProjectID) - before; got != 2*n {
		t.Fatalf("%d resources on the server, want exactly %d", got, 2*n)
	}
	if left, _ := filepath.Glob(filepath.Join(cache, "imports", "*")); len(left) != 1 {
		t.Errorf("after the re-run, the cache holds %v; want the journal alone", left)
	}
	ids := map[string]bool{}
	for _, p := range srv.Resources("Patient", srv.Seed.ProjectID) {
		ids["Patient/"+p.ID()] = true
	}
	for _, o := range srv.Resources("Observation", srv.Seed.ProjectID) {
		if ref := refOf(o, "subject"); !ids[ref] {
			t.Errorf("Observation %s points at %q", o.ID(), ref)
		}
	}
}

// An answer lost after the server did the work: the Bundle is sent again;
// the keyed resources are found, not doubled; the one without a key (no
// id) may have been, and its line is named.
func TestImportLostAnswer(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "lost.ndjson", strings.Join([]string{
		`{"resourceType":"Patient","id":"k1","name":[{"family":"Lost"}]}`,
		`{"resourceType":"Patient","id":"k2","name":[{"family":"Lost"}]}`,
		`{"resourceType":"Patient","identifier":[{"system":"urn:test:mrn","value":"lost3"}],"name":[{"family":"Lost"}]}`,
		`{"resourceType":"Patient","name":[{"family":"Lost"}]}`,
	}, "\n")+"\n")
	before := srv.Count("Patient", srv.Seed.ProjectID)
	srv.DropNext(1, medplumtest.DropAfterHandling, "POST", "/fhir/R4")
	r := e.Run("bulk", "import", "lost.ndjson")
	r.Expect(t, 0, "Bundle 1 (lost.ndjson:1-4): 1 created, 3 already there, 0 failed\n", `imported 4 resources: 1 created, 3 already there, 0 failed
medplum: warning: 1 resource without a key was sent again after an answer was lost and may have been created twice: lost.ndjson:4
`)
	if n := srv.Count("Patient", srv.Seed.ProjectID) - before; n != 5 {
		t.Errorf("%d Patients created, want 5 (the 4th twice)", n)
	}
	if n := len(srv.RequestsTo("POST", "/fhir/R4")); n != 2 {
		t.Errorf("%d Bundles sent, want 2", n)
	}
}

// A type Medplum cannot search by identifier (Provenance) is keyed on a
// meta.tag recording its old id (ifNoneExist _tag=..., captures 401 and
// 402: 201, then 200): an answer lost after the server did the work finds
// it again instead of doubling it; a tag of that system it already has (an
// import of an import) is its key. --source-id=false leaves it unkeyed.
func TestImportTagKeys(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "prov.ndjson", strings.Join([]string{
		`{"resourceType":"Patient","id":"tp1","name":[{"family":"Tag"}]}`,
		`{"resourceType":"Provenance","id":"pv1","recorded":"2026-12-07T00:00:00Z","target":[{"reference":"Patient/tp1"}],"agent":[{"who":{"display":"x"}}]}`,
		`{"resourceType":"Provenance","id":"pv2","meta":{"tag":[{"system":"urn:medplum-cli:source-id","code":"first-pv2"}]},"recorded":"2026-12-07T00:00:00Z","target":[{"reference":"Patient/tp1"}],"agent":[{"who":{"display":"y"}}]}`,
	}, "\n")+"\n")
	srv.DropNext(1, medplumtest.DropAfterHandling, "POST", "/fhir/R4")
	r := e.Run("bulk", "import", "prov.ndjson")
	r.Expect(t, 0, "Bundle 1 (prov.ndjson:1-3): 0 created, 3 already there, 0 failed\n", "imported 3 resources: 0 created, 3 already there, 0 failed\n")
	provs := srv.Resources("Provenance", srv.Seed.ProjectID)
	if len(provs) != 2 {
		t.Fatalf("%d Provenances on the server, want 2", len(provs))
	}
	tags := map[string]bool{}
	for _, p := range provs {
		for _, x := range p["meta"].(map[string]any)["tag"].([]any) {
			m := x.(map[string]any)
			tags[m["system"].(string)+"|"+m["code"].(string)] = true
		}
		if ref := p["target"].([]any)[0].(map[string]any)["reference"]; ref != "Patient/"+byOld(t, srv, "Patient", "urn:medplum-cli:source-id", "tp1").ID() {
			t.Errorf("target %v", ref)
		}
	}
	if len(tags) != 2 || !tags["urn:medplum-cli:source-id|pv1"] || !tags["urn:medplum-cli:source-id|first-pv2"] {
		t.Errorf("tags %v", tags)
	}
	// The Provenances were looked up by their tags, in one search, before
	// the Bundle (and again after its answer was lost).
	if got := clitest.Paths(srv); !slices.Contains(got, "GET /fhir/R4/Provenance?_count=1000&_tag=urn%3Amedplum-cli%3Asource-id%7Cpv1%2Curn%3Amedplum-cli%3Asource-id%7Cfirst-pv2") {
		t.Errorf("requests %v: no lookup of both tags", got)
	}

	// Without source ids, a Provenance is a plain create, named when its
	// answer was lost.
	writeFile(t, e, "plain.ndjson", `{"resourceType":"Provenance","id":"pv3","recorded":"2026-12-07T00:00:00Z","target":[{"reference":"Patient/elsewhere"}],"agent":[{"who":{"display":"z"}}]}`+"\n")
	srv.DropNext(1, medplumtest.DropAfterHandling, "POST", "/fhir/R4")
	r = e.Run("bulk", "import", "plain.ndjson", "--source-id=false")
	r.Expect(t, 0, "Bundle 1 (plain.ndjson:1): 1 created, 0 already there, 0 failed\n", `imported 1 resource: 1 created, 0 already there, 0 failed; 1 reference points at a resource not in the input, kept as it was
medplum: warning: 1 resource without a key was sent again after an answer was lost and may have been created twice: plain.ndjson:1
`)
	if n := srv.Count("Provenance", srv.Seed.ProjectID); n != 4 {
		t.Errorf("%d Provenances, want 4 (pv3 twice)", n)
	}
}

// What bulk export writes, bulk import reads into another project: the
// same resources, their references pointing at each other's new ids.
func TestImportRoundTrip(t *testing.T) {
	from, to := medplumtest.NewServer(t), medplumtest.NewServer(t)
	var pids []string
	for i := range 30 {
		p := from.Create(from.Seed.ProjectID, client.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": fmt.Sprintf("Round%d", i)}}})
		pids = append(pids, p.ID())
		from.Create(from.Seed.ProjectID, client.Resource{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": fmt.Sprint(i)},
			"subject": map[string]any{"reference": "Patient/" + p.ID()}})
	}
	ex := clitest.SignedIn(t, from)
	if r := ex.Run("bulk", "export", "-t", "Patient,Observation", "-d", "backup", "-q"); r.Code != 0 {
		t.Fatalf("export: exit %d\n%s", r.Code, r.Stderr)
	}
	im := clitest.SignedIn(t, to)
	toBefore := to.Count("Patient", to.Seed.ProjectID)
	r := im.Run("bulk", "import", filepath.Join(ex.Home, "backup"), "-q")
	if r.Code != 0 || r.Stdout != "" {
		t.Fatalf("import: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// The same Patients and Observations, each Observation's subject the
	// Patient that was its subject.
	want := map[string]string{} // observation code -> patient family
	for _, o := range from.Resources("Observation", from.Seed.ProjectID) {
		p := from.Resource("Patient", strings.TrimPrefix(refOf(o, "subject"), "Patient/"))
		want[o["code"].(map[string]any)["text"].(string)] = p["name"].([]any)[0].(map[string]any)["family"].(string)
	}
	got := map[string]string{}
	for _, o := range to.Resources("Observation", to.Seed.ProjectID) {
		p := to.Resource("Patient", strings.TrimPrefix(refOf(o, "subject"), "Patient/"))
		if p == nil {
			t.Fatalf("Observation %s points at %q, not at an imported Patient", o.ID(), refOf(o, "subject"))
		}
		got[o["code"].(map[string]any)["text"].(string)] = p["name"].([]any)[0].(map[string]any)["family"].(string)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != 30 {
		t.Errorf("imported:\n%v\nwant:\n%v", got, want)
	}
	if n, m := to.Count("Patient", to.Seed.ProjectID)-toBefore-from.Count("Patient", from.Seed.ProjectID), to.Count("Observation", to.Seed.ProjectID); n != 0 || m != 30 {
		t.Errorf("%d Patients imported more than the source has, %d Observations", n, m)
	}
	for _, p := range pids {
		byOld(t, to, "Patient", "urn:medplum-cli:source-id", p)
	}
}

// lastHalfSecondOfQuota is a sandbox with a FHIR quota of points a
// minute and a clock of its own (advance moves it), signed in: a first
// import has started the quota's minute (120 points: its lookup search,
// 20, and a create, 100), and the clock is at its last half second.
func lastHalfSecondOfQuota(t *testing.T, points int) (*medplumtest.Server, *clitest.Env, func(time.Duration)) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := medplumtest.NewServer(t, medplumtest.WithClock(clock))
	e := clitest.SignedIn(t, srv)
	srv.SetFHIRQuota(points)
	writeFile(t, e, "first.ndjson", patients("first", 1))
	if r := e.Run("bulk", "import", "first.ndjson", "-q"); r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	advance := func(d time.Duration) {
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
	}
	advance(59500 * time.Millisecond)
	return srv, e, advance
}

// Past the FHIR quota, a batch answers 429 entry by entry inside a 200
// Bundle (capture 407): the import waits as the RateLimit header says and
// sends only the entries that were not done.
func TestImportWaitsOutTheQuota(t *testing.T) {
	srv, e, advance := lastHalfSecondOfQuota(t, 500)
	writeFile(t, e, "q.ndjson", patients("q", 5))
	before := srv.Count("Patient", srv.Seed.ProjectID)
	srv.ResetRequests()
	// The minute is over once the entries answered 429 are looked up again.
	go func() {
		for len(srv.RequestsTo("GET", "/fhir/R4/Patient")) < 2 {
			time.Sleep(5 * time.Millisecond)
		}
		advance(2 * time.Second)
	}()
	r := e.Run("bulk", "import", "q.ndjson")
	r.Expect(t, 0, "Bundle 1 (q.ndjson:1-5): 5 created, 0 already there, 0 failed\n", "imported 5 resources: 5 created, 0 already there, 0 failed\n")
	if n := srv.Count("Patient", srv.Seed.ProjectID) - before; n != 5 {
		t.Errorf("%d Patients created, want 5", n)
	}
	sent := srv.RequestsTo("POST", "/fhir/R4")
	// The quota had room for three of them: of the 380 points left, the
	// lookup took 20, q0, q1 and q2 100 each, q3 went past it. The Bundles
	// after it hold only the two answered 429 (one, unless the minute ended
	// only after the next lookup).
	if len(sent) < 2 || strings.Count(string(sent[0].Body), `"request"`) != 5 {
		t.Fatalf("%d Bundles; want the first of all five, then q3 and q4", len(sent))
	}
	for _, b := range sent[1:] {
		if strings.Count(string(b.Body), `"request"`) != 2 || !strings.Contains(string(b.Body), `"value":"q3"`) || !strings.Contains(string(b.Body), `"value":"q4"`) {
			t.Errorf("a Bundle after the 429s: %s; want q3 and q4", b.Body)
		}
	}
}

// On the sandbox and, in make test-real, on a real Medplum: an export of a
// project of its own imported into another project of its own, then again
// (every resource found, none doubled).
func TestImportOwnProjects(t *testing.T) {
	_, from, fc := clitest.OwnProject(t, "bulk-import-from")
	_, to, tc := clitest.OwnProject(t, "bulk-import-to")
	ctx := t.Context()
	want := map[string]string{} // observation code -> patient family
	for i := range 4 {
		p, err := fc.CreateResource(ctx, client.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": fmt.Sprintf("BulkImport%d", i)}}})
		if err != nil {
			t.Fatal(err)
		}
		code := fmt.Sprint("code", i)
		if _, err := fc.CreateResource(ctx, client.Resource{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": code},
			"subject": map[string]any{"reference": "Patient/" + p.ID()}}); err != nil {
			t.Fatal(err)
		}
		want[code] = fmt.Sprintf("BulkImport%d", i)
	}
	if r := from.Run("bulk", "export", "-t", "Patient,Observation", "-d", "backup", "-q"); r.Code != 0 {
		t.Fatalf("export: exit %d\n%s", r.Code, r.Stderr)
	}
	dir := filepath.Join(from.Home, "backup")
	r := to.Run("bulk", "import", dir, "-q")
	r.Expect(t, 0, "", "imported 8 resources: 8 created, 0 already there, 0 failed\n")
	check := func() {
		t.Helper()
		obs, err := tc.SearchAll(ctx, "Observation?_count=100")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, o := range obs {
			p, err := tc.ReadResource(ctx, refOf(o, "subject"))
			if err != nil {
				t.Fatalf("Observation %s points at %q: %v", o.ID(), refOf(o, "subject"), err)
			}
			got[o["code"].(map[string]any)["text"].(string)] = p["name"].([]any)[0].(map[string]any)["family"].(string)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("imported %v, want %v", got, want)
		}
		if pats, err := tc.SearchAll(ctx, "Patient?_count=100"); err != nil || len(pats) != 4 {
			t.Errorf("%d Patients in the project (%v), want 4", len(pats), err)
		}
	}
	check()
	r = to.Run("bulk", "import", dir, "-q", "--state", "again.journal")
	r.Expect(t, 0, "", "imported 8 resources: 0 created, 8 already there, 0 failed\n")
	check()
}

// --mode transaction: in a project with the transaction-bundles feature a
// Bundle is all or nothing (capture 134's rule), so one bad entry fails
// its whole Bundle; elsewhere it is answered entry by entry as a batch.
func TestImportTransactionMode(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "tx.ndjson", strings.Join([]string{
		`{"resourceType":"Patient","id":"t1"}`,
		`{"resourceType":"Patient","id":"t2","birthDate":"not-a-date"}`,
		`{"resourceType":"Patient","id":"t3"}`,
	}, "\n")+"\n")
	before := srv.Count("Patient", srv.Seed.ProjectID)
	srv.ResetRequests()
	r := e.Run("bulk", "import", "tx.ndjson", "--mode", "transaction", "--num-resources-per-request", "2", "--concurrency", "1")
	r.Expect(t, 3, "Bundle 1 (tx.ndjson:1-2): 1 created, 0 already there, 1 failed\nBundle 2 (tx.ndjson:3): 1 created, 0 already there, 0 failed\n",
		"tx.ndjson:2: Patient/t2: 400 Invalid date format (Patient.birthDate)\nimported 3 resources: 2 created, 0 already there, 1 failed\n"+
			"medplum: 1 of 3 resources failed (listed above); correct them and run the import again: what was imported is found, not created again\n")
	bundles := srv.RequestsTo("POST", "/fhir/R4")
	if len(bundles) != 2 {
		t.Errorf("%d Bundles sent, want 2 (lines 1-2, then 3)", len(bundles))
	}
	for _, req := range bundles {
		if !strings.Contains(string(req.Body), `"type":"transaction"`) {
			t.Errorf("not a transaction: %s", req.Body)
		}
	}

	project := srv.Resource("Project", srv.Seed.ProjectID)
	project["features"] = append(project["features"].([]any), "transaction-bundles")
	srv.Update(project)
	// (New resources: one found by the lookup before its Bundle would not
	// be in the transaction.)
	writeFile(t, e, "tx2.ndjson", strings.Join([]string{
		`{"resourceType":"Patient","id":"t4"}`,
		`{"resourceType":"Patient","id":"t5","birthDate":"not-a-date"}`,
		`{"resourceType":"Patient","id":"t6"}`,
	}, "\n")+"\n")
	r = e.Run("bulk", "import", "tx2.ndjson", "--mode", "transaction", "--num-resources-per-request", "2", "--concurrency", "1")
	r.Expect(t, 3, "Bundle 1 (tx2.ndjson:1-2): 0 created, 0 already there, 2 failed\nBundle 2 (tx2.ndjson:3): 1 created, 0 already there, 0 failed\n",
		"tx2.ndjson:1: Patient/t4: 400 the transaction was refused, nothing of its Bundle was kept: Invalid date format (Patient.birthDate)\n"+
			"tx2.ndjson:2: Patient/t5: 400 the transaction was refused, nothing of its Bundle was kept: Invalid date format (Patient.birthDate)\nimported 3 resources: 1 created, 0 already there, 2 failed\n"+
			"medplum: 2 of 3 resources failed (listed above); correct them and run the import again: what was imported is found, not created again\n")
	if n := srv.Count("Patient", srv.Seed.ProjectID) - before; n != 3 {
		t.Errorf("%d Patients created, want 3", n)
	}
}

// - reads stdin, checked like a file and named "stdin" in messages.
func TestImportStdin(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	srv.ResetRequests()
	e.RunStdin(`{"resourceType":"Patient","id":"s1"}`+"\n"+`{"resourceType":"Patient","id":"s1"}`+"\n", "bulk", "import", "-").
		Expect(t, 2, "", "medplum: 1 bad line; nothing was sent:\nstdin:2: Patient/s1 appears again (first at stdin:1)\n")
	clitest.ExpectNothingSent(t, srv)
	e.RunStdin(`{"resourceType":"Patient","id":"s1"}`+"\n", "bulk", "import", "-").
		Expect(t, 0, "Bundle 1 (stdin:1): 1 created, 0 already there, 0 failed\n", "imported 1 resource: 1 created, 0 already there, 0 failed\n")
	srv.ResetRequests()
	e.Run("bulk", "import", "-", "-").Expect(t, 2, "", "medplum: - (stdin) can be named once\nRun 'medplum bulk import --help' for usage.\n")
	e.Run("bulk", "import", "missing.ndjson").Expect(t, 2, "", "medplum: missing.ndjson: no such file or directory\n")
	clitest.ExpectNothingSent(t, srv)
	// The journal's directory holds the index of the check too: one that
	// is not there is said before anything is read or sent.
	writeFile(t, e, "one.ndjson", `{"resourceType":"Patient","id":"s2"}`+"\n")
	e.Run("bulk", "import", "one.ndjson", "--state", "nodir/j.journal").
		Expect(t, 2, "", "medplum: --state nodir/j.journal: no directory nodir\n")
	clitest.ExpectNothingSent(t, srv)
}

// Ctrl-C: the Bundles in flight finish (they are journaled), nothing more
// is sent, exit 130; the same command then finishes the import.
func TestImportInterrupted(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "int.ndjson", patients("i", 100))
	before := srv.Count("Patient", srv.Seed.ProjectID)
	srv.SetLatency(100 * time.Millisecond)
	p := e.Start("bulk", "import", "int.ndjson", "--num-resources-per-request", "5", "--concurrency", "2")
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(p.Stdout(), "\n") < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.Signal(os.Interrupt)
	r := p.Wait()
	done := strings.Count(r.Stdout, "\n")
	if r.Code != 130 || !strings.HasSuffix(r.Stderr, "medplum: interrupted\n") || done >= 20 {
		t.Fatalf("exit %d after %d Bundles, stderr:\n%s", r.Code, done, r.Stderr)
	}
	if got := srv.Count("Patient", srv.Seed.ProjectID) - before; got != 5*done {
		t.Errorf("%d Patients on the server after %d Bundles were reported", got, done)
	}
	srv.SetLatency(0)
	r = e.Run("bulk", "import", "int.ndjson", "--num-resources-per-request", "5", "--concurrency", "2", "-q")
	r.Expect(t, 0, "", fmt.Sprintf("imported %d resources: %d created, 0 already there, 0 failed; %d done by an earlier run (0 failed)\n", 100-5*done, 100-5*done, 5*done))
	if got := srv.Count("Patient", srv.Seed.ProjectID) - before; got != 100 {
		t.Errorf("%d Patients on the server, want 100", got)
	}
}

// One Bundle in flight when Ctrl-C comes is "the 1 Bundle in flight", not
// "the 1 Bundles".
func TestImportInterruptedOneBundleInFlight(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "one.ndjson", patients("o", 3))
	srv.SetLatency(time.Second)
	p := e.Start("bulk", "import", "one.ndjson", "--concurrency", "1", "-q")
	deadline := time.Now().Add(30 * time.Second)
	for len(srv.RequestsTo("POST", "/fhir/R4")) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.Signal(os.Interrupt)
	r := p.Wait()
	if r.Code != 130 || !regexp.MustCompile(`(?m)^interrupted: waiting up to \S+ for the 1 Bundle in flight; run the same command again to continue$`).MatchString(r.Stderr) {
		t.Fatalf("exit %d, stderr:\n%s", r.Code, r.Stderr)
	}
}

// Concurrent Bundles of conditional creates conflict on 5.0.10: some
// entries answer 409 (code 40001) inside the 200 Bundle (capture 417).
// Those entries alone are sent again.
func TestImportRetriesConflictingEntries(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "c.ndjson", patients("c", 5))
	before := srv.Count("Patient", srv.Seed.ProjectID)
	srv.ConflictBatchEntries(1, 3)
	srv.ResetRequests()
	e.Run("bulk", "import", "c.ndjson").Expect(t, 0, "Bundle 1 (c.ndjson:1-5): 5 created, 0 already there, 0 failed\n", "imported 5 resources: 5 created, 0 already there, 0 failed\n")
	if n := srv.Count("Patient", srv.Seed.ProjectID) - before; n != 5 {
		t.Errorf("%d Patients created, want 5", n)
	}
	sent := srv.RequestsTo("POST", "/fhir/R4")
	if len(sent) != 2 || strings.Count(string(sent[1].Body), `"request"`) != 2 || !strings.Contains(string(sent[1].Body), `"value":"c1"`) || !strings.Contains(string(sent[1].Body), `"value":"c3"`) {
		t.Errorf("%d Bundles; want 2, the second with c1 and c3: %s", len(sent), sent[len(sent)-1].Body)
	}
}

// A whole-project export imported into another project: what grants access
// or holds secrets (the Project, memberships, users, clients, password
// reset requests) is not imported, and the run says how many of which and
// how to move people and clients instead; the rest is. --include-clients
// imports the ClientApplications too, secrets included, and says so
// without printing them.
func TestImportWholeProject(t *testing.T) {
	from, to := medplumtest.NewServer(t), medplumtest.NewServer(t)
	p := from.Create(from.Seed.ProjectID, client.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": "Whole"}}})
	from.Create(from.Seed.ProjectID, client.Resource{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "w"},
		"subject": map[string]any{"reference": "Patient/" + p.ID()}})
	from.Create(from.Seed.ProjectID, client.Resource{"resourceType": "ClientApplication", "name": "whole app", "secret": "whole-app-secret-0123456789abcdef"})
	ex := clitest.SignedIn(t, from)
	if r := ex.Run("bulk", "export", "-d", "whole", "-q"); r.Code != 0 {
		t.Fatalf("export: exit %d\n%s", r.Code, r.Stderr)
	}
	dir := filepath.Join(ex.Home, "whole")
	exported, secrets := exportedTypes(t, dir)
	for _, typ := range []string{"Project", "ProjectMembership", "User", "ClientApplication", "Patient", "Observation"} {
		if exported[typ] == 0 {
			t.Fatalf("the export has no %s: %v", typ, exported)
		}
	}
	if len(secrets) == 0 {
		t.Fatal("the export holds no client secret")
	}
	skipped, nSkipped, nSent := skippedOf(exported)
	count := func(typ string) int { return len(to.Resources(typ, to.Seed.ProjectID)) }
	before := map[string]int{}
	for _, typ := range []string{"ClientApplication", "ProjectMembership", "User", "Project", "Patient"} {
		before[typ] = count(typ)
	}
	im := clitest.SignedIn(t, to)
	r := im.Run("bulk", "import", dir, "-q")
	r.Expect(t, 0, "", skippedLines(skipped, nSkipped)+fmt.Sprintf("imported %d resources: %d created, 0 already there, 0 failed\n", nSent, nSent))
	for typ, n := range before {
		want := n
		if typ == "Patient" {
			want += exported["Patient"]
		}
		if got := count(typ); got != want {
			t.Errorf("%d %s in the project, want %d", got, typ, want)
		}
	}
	for _, req := range to.RequestsTo("POST", "/fhir/R4") {
		for _, typ := range []string{"ClientApplication", "ProjectMembership", `"User"`, `"Project"`} {
			if strings.Contains(string(req.Body), `"resourceType":`+strings.Trim(typ, `"`)+`"`) || strings.Contains(string(req.Body), `"url":"`+strings.Trim(typ, `"`)+`"`) {
				t.Errorf("a Bundle sent a %s: %s", typ, req.Body)
			}
		}
	}

	// --include-clients: the ClientApplications too (a new journal: the
	// choice changes what is sent).
	r = im.Run("bulk", "import", dir, "-q", "--include-clients")
	skipped = skipped[1:]
	nc := exported["ClientApplication"]
	r.Expect(t, 0, "", fmt.Sprintf(`medplum: %d resources that grant access or hold secrets were not imported: %s
medplum: move people with "medplum invite" and clients with "medplum clients create" (or both: "medplum apply export" in the old project, "medplum apply -f" in this one)
medplum: warning: %d imported ClientApplications keep the secrets they had in the old project: give them new ones with "medplum clients rotate-secret"
imported %d resources: %d created, %d already there, 0 failed
`, nSkipped-nc, strings.Join(skipped, ", "), nc, nSent+nc, nc, nSent))
	r.NotContains(t, secrets...)
	if got := count("ClientApplication"); got != before["ClientApplication"]+nc {
		t.Errorf("%d ClientApplications, want %d", got, before["ClientApplication"]+nc)
	}
	kept := 0
	for _, c := range to.Resources("ClientApplication", to.Seed.ProjectID) {
		if slices.Contains(secrets, fmt.Sprint(c["secret"])) {
			kept++
		}
	}
	if kept != len(secrets) {
		t.Errorf("%d imported clients kept their secret, want %d", kept, len(secrets))
	}
}

// exportedTypes counts the resources of an export directory by type and
// collects the client secrets it holds.
func exportedTypes(t *testing.T, dir string) (map[string]int, []string) {
	t.Helper()
	exported := map[string]int{}
	var secrets []string
	files, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var r client.Resource
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatal(err)
			}
			exported[r.ResourceType()]++
			if s, _ := r["secret"].(string); s != "" {
				secrets = append(secrets, s)
			}
		}
	}
	return exported, secrets
}

// skippedOf is what bulk import leaves out of an export ("<n> <Type>", by
// type name), how many, and how many it sends.
func skippedOf(exported map[string]int) (skipped []string, nSkipped, nSent int) {
	for _, typ := range []string{"ClientApplication", "Project", "ProjectMembership", "User", "UserSecurityRequest"} {
		if n := exported[typ]; n > 0 {
			skipped = append(skipped, fmt.Sprintf("%d %s", n, typ))
			nSkipped += n
		}
	}
	for _, n := range exported {
		nSent += n
	}
	return skipped, nSkipped, nSent - nSkipped
}

// skippedLines are the two lines bulk import writes about what it left out
// (ClientApplications among them).
func skippedLines(skipped []string, n int) string {
	return fmt.Sprintf(`medplum: %d resources that grant access or hold secrets were not imported: %s
medplum: move people with "medplum invite" and clients with "medplum clients create" (or both: "medplum apply export" in the old project, "medplum apply -f" in this one); --include-clients imports ClientApplications as they are, secrets included
`, n, strings.Join(skipped, ", "))
}

// On the sandbox and, in make test-real, on a real Medplum: a whole-project
// export of a project of its own imported into another: its Project,
// membership and client are left out and said so, its Patient and
// Provenance imported; sent again (another journal), both are found, the
// Provenance by the meta.tag that keys it (it cannot be searched by
// identifier).
func TestImportWholeOwnProject(t *testing.T) {
	_, from, fc := clitest.OwnProject(t, "bulk-whole-from")
	_, to, tc := clitest.OwnProject(t, "bulk-whole-to")
	ctx := t.Context()
	p, err := fc.CreateResource(ctx, client.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": "BulkWhole"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fc.CreateResource(ctx, client.Resource{"resourceType": "Provenance", "recorded": "2026-12-07T00:00:00Z",
		"target": []any{map[string]any{"reference": "Patient/" + p.ID()}}, "agent": []any{map[string]any{"who": map[string]any{"display": "bulk whole"}}}}); err != nil {
		t.Fatal(err)
	}
	if r := from.Run("bulk", "export", "-d", "whole", "-q"); r.Code != 0 {
		t.Fatalf("export: exit %d\n%s", r.Code, r.Stderr)
	}
	dir := filepath.Join(from.Home, "whole")
	exported, secrets := exportedTypes(t, dir)
	if exported["Project"] == 0 || exported["ProjectMembership"] == 0 || exported["ClientApplication"] == 0 || exported["Provenance"] != 1 {
		t.Fatalf("the export holds %v", exported)
	}
	skipped, nSkipped, nSent := skippedOf(exported)
	count := func(typ string) int {
		t.Helper()
		list, err := tc.SearchAll(ctx, typ+"?_count=100")
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	clients, members := count("ClientApplication"), count("ProjectMembership")
	r := to.Run("bulk", "import", dir, "-q")
	t.Logf("export %v; bulk import -q:\n%s", exported, r.Stderr)
	r.Expect(t, 0, "", skippedLines(skipped, nSkipped)+fmt.Sprintf("imported %d resources: %d created, 0 already there, 0 failed\n", nSent, nSent))
	r.NotContains(t, secrets...)
	r = to.Run("bulk", "import", dir, "-q", "--state", "again.journal")
	r.Expect(t, 0, "", skippedLines(skipped, nSkipped)+fmt.Sprintf("imported %d resources: 0 created, %d already there, 0 failed\n", nSent, nSent))
	if c, m, pv := count("ClientApplication"), count("ProjectMembership"), count("Provenance"); c != clients || m != members || pv != 1 {
		t.Errorf("%d clients (had %d), %d memberships (had %d), %d Provenances (want 1)", c, clients, m, members, pv)
	}
	provs, err := tc.SearchAll(ctx, "Provenance?_tag=urn:medplum-cli:source-id|"+url.QueryEscape(provenanceID(t, dir)))
	if err != nil || len(provs) != 1 {
		t.Fatalf("Provenance by its tag: %d (%v)", len(provs), err)
	}
	if pat, err := tc.ReadResource(ctx, refOf(provs[0], "target")); err != nil || pat["name"].([]any)[0].(map[string]any)["family"] != "BulkWhole" {
		t.Errorf("the Provenance's target: %v %v", pat, err)
	}
}

// provenanceID is the id of the one Provenance of an export directory.
func provenanceID(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "Provenance*.ndjson"))
	if len(files) != 1 {
		t.Fatalf("Provenance files: %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var r client.Resource
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r.ID()
}

// Two resources keyed alike (the same first identifier) would become one on
// the server: the second "already there", references to it pointing at the
// first. The check refuses them, naming both places; nothing is sent.
func TestImportRefusesResourcesWithOneKey(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "a.ndjson", `{"resourceType":"Patient","id":"b1","identifier":[{"system":"urn:test:mrn","value":"m1"}]}`+"\n")
	writeFile(t, e, "b.ndjson", strings.Join([]string{
		`{"resourceType":"Patient","id":"b2","identifier":[{"system":"urn:test:other"},{"system":"urn:test:mrn","value":"m1"}]}`,
		`{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"a"},"identifier":[{"system":"urn:test:mrn","value":"m1"}]}`,
		`{"resourceType":"Patient","id":"b3","identifier":[{"system":"urn:medplum-cli:source-id","value":"b4"}]}`,
		`{"resourceType":"Patient","id":"b4"}`,
	}, "\n")+"\n")
	srv.ResetRequests()
	r := e.Run("bulk", "import", "a.ndjson", "b.ndjson")
	r.Expect(t, 2, "", `medplum: 2 bad lines; nothing was sent:
b.ndjson:1: Patient/b2 has the key of the Patient at a.ndjson:1: identifier urn:test:mrn|m1
b.ndjson:4: Patient/b4 has the key of the Patient at b.ndjson:3: identifier urn:medplum-cli:source-id|b4
medplum: the import keys each resource on its first identifier with a system and a value (else on its id, as urn:medplum-cli:source-id): two resources with one key would become one, the second found "already there". Give each its own identifier, or remove the duplicate, and run the import again.
`)
	clitest.ExpectNothingSent(t, srv)
}

// The journal is the input's AND the target's, and lives in the cache
// directory, not the working directory: the same input imported into
// another project from the same place has a journal of its own, and a
// re-run from another directory finds the first run's journal (a resource
// without a key is not created again).
func TestImportJournalOfInputAndTarget(t *testing.T) {
	a, b := medplumtest.NewServer(t), medplumtest.NewServer(t)
	ea, eb := clitest.SignedIn(t, a), clitest.SignedIn(t, b)
	cache := filepath.Join(ea.Home, "cache")
	ea.Set("MEDPLUM_CACHE_DIR", cache)
	eb.Set("MEDPLUM_CACHE_DIR", cache)
	in := writeFile(t, ea, "in.ndjson", `{"resourceType":"Patient","name":[{"family":"Keyless"}]}`+"\n")
	before := a.Count("Patient", a.Seed.ProjectID)
	ea.Run("bulk", "import", in, "-q").Expect(t, 0, "", "imported 1 resource: 1 created, 0 already there, 0 failed\n")

	home := ea.Home
	ea.Home = filepath.Join(home, "elsewhere")
	if err := os.Mkdir(ea.Home, 0o700); err != nil {
		t.Fatal(err)
	}
	a.ResetRequests()
	ea.Run("bulk", "import", in, "-q").Expect(t, 0, "", "imported 0 resources: 0 created, 0 already there, 0 failed; 1 done by an earlier run (0 failed)\n")
	clitest.ExpectPaths(t, a, "GET /auth/me")
	if n := a.Count("Patient", a.Seed.ProjectID); n != before+1 {
		t.Errorf("%d Patients imported, want 1", n-before)
	}

	eb.Home = home
	eb.Run("bulk", "import", in, "-q").Expect(t, 0, "", "imported 1 resource: 1 created, 0 already there, 0 failed\n")
	if left, _ := filepath.Glob(filepath.Join(home, ".medplum-import-*")); len(left) != 0 {
		t.Errorf("journals in the working directory: %v", left)
	}
	if js, _ := filepath.Glob(filepath.Join(cache, "imports", "*.journal")); len(js) != 2 {
		t.Errorf("journals in the cache: %v, want 2", js)
	}
	if all, _ := filepath.Glob(filepath.Join(cache, "imports", "*")); len(all) != 2 {
		t.Errorf("the cache holds more than the journals (an index left behind?): %v", all)
	}
}

// An export imported into the project it came from would double every
// resource without an identifier: refused without --restore (exit 2),
// nothing sent, whether the directory or one of its files is named.
// On the sandbox and, in make test-real, on a real Medplum.
func TestImportRefusesTheProjectItCameFrom(t *testing.T) {
	p, e, c := clitest.OwnProject(t, "bulk-import-same")
	ctx := t.Context()
	if _, err := c.CreateResource(ctx, client.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": "Same"}}}); err != nil {
		t.Fatal(err)
	}
	e.Run("bulk", "export", "-t", "Patient", "-d", "backup", "-q").ExpectCode(t, 0, "")
	x := readExport(t, e, "backup")
	for _, arg := range []string{"backup", x.paths[0]} {
		if p.Sandbox != nil {
			p.Sandbox.ResetRequests()
		}
		e.Run("bulk", "import", arg, "-q").Expect(t, 2, "", "medplum: "+filepath.Join(strings.TrimSuffix(arg, filepath.Base(x.paths[0])), ".medplum-export.json")+
			" says this input is an export of project "+p.ProjectID+" on "+c.BaseURL()+", the project you are importing into; nothing was sent: "+
			"its resources are here already, and those without an identifier would be created again (a plain import finds a resource again by its identifiers only, never by its id). "+
			"To restore what was deleted since, run it again with --restore; to copy it, import it into another project (-p PROFILE, or sign in to it)\n")
		if p.Sandbox != nil {
			clitest.ExpectPaths(t, p.Sandbox, "GET /auth/me")
		}
	}
	if pats, err := c.SearchAll(ctx, "Patient?_count=100"); err != nil || len(pats) != 1 {
		t.Errorf("%d Patients in the project (%v), want 1", len(pats), err)
	}
}
