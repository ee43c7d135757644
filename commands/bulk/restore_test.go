package bulk_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// hasSourceID reports whether r carries {system: urn:medplum-cli:source-id,
// value: id} among its identifiers.
func hasSourceID(r client.Resource, id string) bool {
	list, _ := r["identifier"].([]any)
	for _, x := range list {
		if m, _ := x.(map[string]any); m["system"] == "urn:medplum-cli:source-id" && m["value"] == id {
			return true
		}
	}
	return false
}

// On the sandbox and, in make test-real, on a real Medplum: a project of
// its own exported, then a Patient that an Observation and a Provenance
// point at, a Patient with an identifier of its own and an Observation
// deleted; the export restored into the same project re-creates those
// three (new ids, the old one as a source-id identifier), finds the rest
// untouched, and points the Observation and Provenance it found at the
// re-created Patient. Run again (the journal), then with another journal,
// it changes nothing.
func TestImportRestore(t *testing.T) {
	p, e, c := clitest.OwnProject(t, "bulk-restore")
	ctx := t.Context()
	create := func(r client.Resource) string {
		t.Helper()
		d, err := c.CreateResource(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return d.Resource.ID()
	}
	name := func(family string) []any { return []any{map[string]any{"family": family}} }
	var pats []string
	for i := range 4 {
		pats = append(pats, create(client.Resource{"resourceType": "Patient", "name": name(fmt.Sprint("Restore", i))}))
	}
	mrn := create(client.Resource{"resourceType": "Patient", "name": name("RestoreMRN"), "identifier": []any{map[string]any{"system": "urn:test:mrn", "value": "r-1"}}})
	obs0 := create(client.Resource{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "o0"}, "subject": map[string]any{"reference": "Patient/" + pats[1]}})
	obs1 := create(client.Resource{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "o1"}, "subject": map[string]any{"reference": "Patient/" + pats[2]}})
	prov := create(client.Resource{"resourceType": "Provenance", "recorded": "2026-12-07T00:00:00Z", "target": []any{map[string]any{"reference": "Patient/" + pats[1]}},
		"agent": []any{map[string]any{"who": map[string]any{"display": "restore"}}}})
	e.Run("bulk", "export", "-t", "Patient,Observation,Provenance", "-d", "backup", "-q").ExpectCode(t, 0, "")
	// A change since the export: kept, as found.
	changed, err := c.ReadResource(ctx, "Patient/"+pats[3])
	if err != nil {
		t.Fatal(err)
	}
	changed["gender"] = "other"
	if _, err := c.UpdateResource(ctx, changed); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"Patient/" + pats[1], "Patient/" + mrn, "Observation/" + obs1} {
		typ, id, _ := strings.Cut(ref, "/")
		if err := c.DeleteResource(ctx, typ, id); err != nil {
			t.Fatal(err)
		}
	}

	if p.Sandbox != nil {
		p.Sandbox.ResetRequests()
	}
	e.Run("bulk", "import", "backup", "-q").Expect(t, 2, "", "medplum: "+filepath.Join("backup", ".medplum-export.json")+
		" says this input is an export of project "+p.ProjectID+" on "+c.BaseURL()+", the project you are importing into; nothing was sent: "+
		"its resources are here already, and those without an identifier would be created again (a plain import finds a resource again by its identifiers only, never by its id). "+
		"To restore what was deleted since, run it again with --restore; to copy it, import it into another project (-p PROFILE, or sign in to it)\n")
	if p.Sandbox != nil {
		clitest.ExpectPaths(t, p.Sandbox, "GET /auth/me")
	}

	e.Run("bulk", "import", "backup", "--restore", "-q").Expect(t, 0, "",
		"imported 8 resources: 3 created, 5 already there, 0 failed; 2 found updated to point at re-created resources\n")
	all := func(typ string) []client.Resource {
		t.Helper()
		list, err := c.SearchAll(ctx, typ+"?_count=100")
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	check := func() {
		t.Helper()
		byOld := map[string]client.Resource{}
		for _, typ := range []string{"Patient", "Observation", "Provenance"} {
			for _, r := range all(typ) {
				old := r.ID()
				ids, _ := r["identifier"].([]any)
				for _, x := range ids {
					if m, _ := x.(map[string]any); m["system"] == "urn:medplum-cli:source-id" {
						old = m["value"].(string)
					}
				}
				if byOld[typ+"/"+old] != nil {
					t.Errorf("%s/%s is on the server twice", typ, old)
				}
				byOld[typ+"/"+old] = r
			}
		}
		if len(byOld) != 8 {
			t.Errorf("%d resources on the server, want 8: %v", len(byOld), byOld)
		}
		for _, old := range []string{"Patient/" + pats[1], "Patient/" + mrn, "Observation/" + obs1} {
			r := byOld[old]
			if r == nil || r.ResourceType()+"/"+r.ID() == old || !hasSourceID(r, strings.SplitN(old, "/", 2)[1]) {
				t.Errorf("%s: not re-created with a new id and its old one as source-id: %v", old, r)
			}
		}
		if got := byOld["Patient/"+mrn]; got != nil && got["identifier"].([]any)[0].(map[string]any)["value"] != "r-1" {
			t.Errorf("the re-created Patient lost its own identifier: %v", got)
		}
		for _, old := range []string{"Patient/" + pats[0], "Patient/" + pats[2], "Patient/" + pats[3], "Observation/" + obs0, "Provenance/" + prov} {
			if r := byOld[old]; r == nil || r.ResourceType()+"/"+r.ID() != old {
				t.Errorf("%s: not found where it was: %v", old, r)
			}
		}
		if g := byOld["Patient/"+pats[3]]["gender"]; g != "other" {
			t.Errorf("the Patient changed since the export was overwritten: gender %v", g)
		}
		restored := "Patient/" + byOld["Patient/"+pats[1]].ID()
		if got := refOf(byOld["Observation/"+obs0], "subject"); got != restored {
			t.Errorf("the found Observation points at %s, want the re-created %s", got, restored)
		}
		if got := refOf(byOld["Provenance/"+prov], "target"); got != restored {
			t.Errorf("the found Provenance points at %s, want the re-created %s", got, restored)
		}
		if got := refOf(byOld["Observation/"+obs1], "subject"); got != "Patient/"+pats[2] {
			t.Errorf("the re-created Observation points at %s, want Patient/%s", got, pats[2])
		}
	}
	check()
	e.Run("bulk", "import", "backup", "--restore", "-q").Expect(t, 0, "",
		"imported 0 resources: 0 created, 0 already there, 0 failed; 8 done by an earlier run (0 failed)\n")
	e.Run("bulk", "import", "backup", "--restore", "-q", "--state", filepath.Join(e.Home, "again.journal")).Expect(t, 0, "",
		"imported 8 resources: 0 created, 8 already there, 0 failed\n")
	check()
}

// --restore of an export of another project finds nothing by its ids: refused,
// nothing sent.
func TestImportRestoreRefusesAnotherProject(t *testing.T) {
	srv, e, _ := patientExported(t)
	other := medplumtest.NewServer(t)
	eo := clitest.SignedIn(t, other)
	eo.Home = e.Home
	other.ResetRequests()
	eo.Run("bulk", "import", "backup", "--restore", "-q").Expect(t, 2, "", "medplum: "+filepath.Join("backup", ".medplum-export.json")+
		" says this input is an export of project "+srv.Seed.ProjectID+" on "+srv.URL+", not of the project you are importing into ("+
		other.Seed.ProjectID+" on "+other.URL+"); nothing was sent: --restore finds resources by the ids they have in the project they came from. "+
		"Import it without --restore to copy it here\n")
	clitest.ExpectPaths(t, other, "GET /auth/me")
}

// A restore killed with -9 in the middle, then run again: every deleted
// resource is back exactly once, nothing else is created, and every
// Observation points at a Patient that exists. On the sandbox (slowed
// down) and, in make test-real, on a real Medplum.
func TestImportRestoreKilledAndRunAgain(t *testing.T) {
	p, e, c := clitest.OwnProject(t, "bulk-restore-kill")
	ctx := t.Context()
	const n = 150
	var pats []string
	for i := range n {
		d, err := c.CreateResource(ctx, client.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": fmt.Sprint("Kill", i)}}})
		if err != nil {
			t.Fatal(err)
		}
		pats = append(pats, d.Resource.ID())
	}
	for i := range n {
		if _, err := c.CreateResource(ctx, client.Resource{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "x"},
			"subject": map[string]any{"reference": "Patient/" + pats[(i*7)%n]}}); err != nil {
			t.Fatal(err)
		}
	}
	e.Run("bulk", "export", "-t", "Patient,Observation", "-d", "backup", "-q").ExpectCode(t, 0, "")
	deleted := 0
	for i, id := range pats {
		if i%3 == 0 {
			if err := c.DeleteResource(ctx, "Patient", id); err != nil {
				t.Fatal(err)
			}
			deleted++
		}
	}
	if p.Sandbox != nil {
		p.Sandbox.SetLatency(20 * time.Millisecond)
	}
	proc := e.Start("bulk", "import", "backup", "--restore", "--num-resources-per-request", "10", "--concurrency", "3")
	deadline := time.Now().Add(60 * time.Second)
	for strings.Count(proc.Stdout(), "\n") < 8 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	killed := proc.Kill()
	if lines := strings.Count(killed.Stdout, "\n"); lines < 8 || lines >= 30 {
		t.Fatalf("killed after %d Bundles of 30", lines)
	}
	if p.Sandbox != nil {
		p.Sandbox.SetLatency(0)
	}
	r := e.Run("bulk", "import", "backup", "--restore", "--num-resources-per-request", "10", "-q")
	if r.Code != 0 {
		t.Fatalf("re-run: exit %d\n%s", r.Code, r.Stderr)
	}
	var created, matched, earlier, relinked int
	if _, err := fmt.Sscanf(r.Stderr, "imported %d resources: %d created, %d already there, 0 failed; %d done by an earlier run (0 failed); %d found updated", new(int), &created, &matched, &earlier, &relinked); err != nil {
		t.Fatalf("summary %q: %v", r.Stderr, err)
	}
	if created+matched+earlier != 2*n || earlier < 80 || relinked == 0 {
		t.Errorf("%d created, %d found, %d earlier, %d relinked: want %d in all", created, matched, earlier, relinked, 2*n)
	}
	check := func() {
		t.Helper()
		list, err := c.SearchAll(ctx, "Patient?_count=1000")
		if err != nil {
			t.Fatal(err)
		}
		live := map[string]bool{}
		recreated := map[string]int{}
		for _, p := range list {
			live["Patient/"+p.ID()] = true
			ids, _ := p["identifier"].([]any)
			for _, x := range ids {
				recreated[x.(map[string]any)["value"].(string)]++
			}
		}
		if len(list) != n || len(recreated) != deleted {
			t.Errorf("%d Patients, %d of them re-created; want %d and %d", len(list), len(recreated), n, deleted)
		}
		for old, k := range recreated {
			if k != 1 {
				t.Errorf("Patient/%s re-created %d times", old, k)
			}
		}
		obs, err := c.SearchAll(ctx, "Observation?_count=1000")
		if err != nil {
			t.Fatal(err)
		}
		if len(obs) != n {
			t.Errorf("%d Observations, want %d", len(obs), n)
		}
		for _, o := range obs {
			if ref := refOf(o, "subject"); !live[ref] {
				t.Errorf("Observation %s points at %q", o.ID(), ref)
			}
		}
	}
	check()
	// Once more, with another journal: nothing changes.
	e.Run("bulk", "import", "backup", "--restore", "-q", "--state", filepath.Join(e.Home, "again.journal")).Expect(t, 0, "",
		fmt.Sprintf("imported %d resources: 0 created, %d already there, 0 failed\n", 2*n, 2*n))
	check()
}

// Keyed resources are looked up before their Bundle, in one search per
// type: the found ones are not sent, the others are plain creates. A key
// two resources of the project share fails its entry (412, as a
// conditional create does); a key a search would split (a comma) is sent
// as a conditional create.
func TestImportLookups(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	mrn := func(v string) any { return []any{map[string]any{"system": "urn:test:mrn", "value": v}} }
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "Patient", "identifier": mrn("there")})
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "Patient", "identifier": mrn("twice")})
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "Patient", "identifier": mrn("twice")})
	writeFile(t, e, "in.ndjson", strings.Join([]string{
		`{"resourceType":"Patient","id":"l1","identifier":[{"system":"urn:test:mrn","value":"there"}]}`,
		`{"resourceType":"Patient","id":"l2","identifier":[{"system":"urn:test:mrn","value":"twice"}]}`,
		`{"resourceType":"Patient","id":"l3","identifier":[{"system":"urn:test:mrn","value":"new"}]}`,
		`{"resourceType":"Patient","id":"l4","identifier":[{"system":"urn:test:mrn","value":"a,b"}]}`,
	}, "\n")+"\n")
	before := srv.Count("Patient", srv.Seed.ProjectID)
	srv.ResetRequests()
	e.Run("bulk", "import", "in.ndjson").Expect(t, 3, "in.ndjson:1-4: 2 created, 1 already there, 1 failed\n",
		"in.ndjson:2: Patient/l2: 412 Multiple resources found matching condition\n"+
			"imported 4 resources: 2 created, 1 already there, 1 failed\n"+
			"medplum: 1 of 4 resources failed (listed above); correct them and run the import again: what was imported is found, not created again\n")
	clitest.ExpectPaths(t, srv, "GET /auth/me",
		"GET /fhir/R4/Patient?_count=1000&identifier=urn%3Atest%3Amrn%7Cthere%2Curn%3Atest%3Amrn%7Ctwice%2Curn%3Atest%3Amrn%7Cnew",
		"POST /fhir/R4")
	sent := srv.RequestsTo("POST", "/fhir/R4")
	var b struct {
		Entry []struct {
			Resource client.Resource
			Request  struct{ IfNoneExist string }
		}
	}
	if err := json.Unmarshal(sent[0].Body, &b); err != nil || len(b.Entry) != 2 {
		t.Fatalf("the Bundle: %v %s", err, sent[0].Body)
	}
	if b.Entry[0].Request.IfNoneExist != "" || b.Entry[1].Request.IfNoneExist != "identifier=urn%3Atest%3Amrn%7Ca%2Cb" {
		t.Errorf("the Bundle's keys: %q and %q; want none (looked up) and the conditional create of a,b", b.Entry[0].Request.IfNoneExist, b.Entry[1].Request.IfNoneExist)
	}
	if n := srv.Count("Patient", srv.Seed.ProjectID) - before; n != 2 {
		t.Errorf("%d Patients created, want 2", n)
	}
}

// The journal numbers Bundles by --num-resources-per-request: a run that
// stopped, run again with another value, would take other resources for
// the done ones and never send them. Refused, naming the value; with the
// same value it finishes.
func TestImportJournalKeepsItsBundleSize(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "six.ndjson", patients("six", 6))
	before := srv.Count("Patient", srv.Seed.ProjectID)
	// The second Bundle is refused 403: the run stops after the first.
	srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4", Skip: 1, Status: 403})
	r := e.Run("bulk", "import", "six.ndjson", "--num-resources-per-request", "2", "--concurrency", "1", "-q", "--state", "j")
	if r.Code == 0 {
		t.Fatalf("the stopped run: exit 0\n%s", r.Stderr)
	}
	srv.ResetRequests()
	e.Run("bulk", "import", "six.ndjson", "-q", "--state", "j").Expect(t, 2, "",
		"medplum: journal j was written by a run with --num-resources-per-request 2 (it numbers the Bundles): run the import with that value to continue it, or choose another journal with --state; nothing was sent\n")
	clitest.ExpectPaths(t, srv, "GET /auth/me")
	e.Run("bulk", "import", "six.ndjson", "--num-resources-per-request", "2", "-q", "--state", "j").Expect(t, 0, "",
		"imported 4 resources: 4 created, 0 already there, 0 failed; 2 done by an earlier run (0 failed)\n")
	if n := srv.Count("Patient", srv.Seed.ProjectID) - before; n != 6 {
		t.Errorf("%d Patients created, want 6", n)
	}
}

// On the sandbox and, in make test-real, on a real Medplum: 100 Patients
// imported four Bundles at a time are looked up in one search per Bundle
// and sent as plain creates, not conditional creates (each of which costs
// 5.0.10 a serializable transaction that concurrent Bundles make fail with
// 409/40001: docs/benchmarks.md); every one is created once.
func TestImportSendsLookupsAndPlainCreates(t *testing.T) {
	_, e, c := clitest.OwnProject(t, "bulk-import-plain")
	writeFile(t, e, "p.ndjson", patients("plain", 100))
	r := e.Run("bulk", "import", "p.ndjson", "-v", "--concurrency", "4")
	if r.Code != 0 || strings.Count(r.Stdout, "\n") != 4 || !strings.HasSuffix(r.Stderr, "imported 100 resources: 100 created, 0 already there, 0 failed\n") {
		t.Fatalf("exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	base := strings.TrimSuffix(c.BaseURL(), "/")
	lookups := strings.Count(r.Stderr, "> GET "+base+"/fhir/R4/Patient?_count=1000&identifier=")
	posts := strings.Count(r.Stderr, "> POST "+base+"/fhir/R4 ")
	if lookups != 4 || posts != 4 || strings.Contains(r.Stderr, "ifNoneExist") || strings.Contains(r.Stderr, `"status":"409"`) {
		t.Errorf("%d lookups and %d Bundles (want 4 and 4), conditional creates or 409s in the trace:\n%s", lookups, posts, r.Stderr)
	}
	if pats, err := c.SearchAll(t.Context(), "Patient?_count=1000"); err != nil || len(pats) != 100 {
		t.Errorf("%d Patients in the project (%v), want 100", len(pats), err)
	}
}

// On the sandbox and, in make test-real, on a real Medplum: a Binary
// cannot be searched (capture 533), so --restore reads each by its id: the
// one that exists is found, the deleted one created again (a new id), and
// a run with another journal finds the first and cannot find the second's
// copy (it says so in the help: only the journal knows it).
func TestImportRestoreBinaries(t *testing.T) {
	_, e, c := clitest.OwnProject(t, "bulk-restore-binary")
	ctx := t.Context()
	var lines []string
	var ids []string
	for _, text := range []string{"kept", "deleted"} {
		d, err := c.CreateBinary(ctx, []byte(text), "text/plain", "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID())
		lines = append(lines, fmt.Sprintf(`{"resourceType":"Binary","id":%q,"contentType":"text/plain","data":%q}`, d.ID(), base64.StdEncoding.EncodeToString([]byte(text))))
	}
	writeFile(t, e, "bin/Binary.ndjson", strings.Join(lines, "\n")+"\n")
	if err := c.DeleteResource(ctx, "Binary", ids[1]); err != nil {
		t.Fatal(err)
	}
	e.Run("bulk", "import", "bin", "--restore", "-q", "--report", "r.csv").Expect(t, 0, "", "imported 2 resources: 1 created, 1 already there, 0 failed\n")
	rows, err := os.ReadFile(filepath.Join(e.Home, "r.csv"))
	if err != nil {
		t.Fatal(err)
	}
	list := strings.Split(strings.TrimSpace(string(rows)), "\n")
	if len(list) != 3 || list[1] != "bin/Binary.ndjson,1,Binary/"+ids[0]+",found,200,Binary/"+ids[0]+"," ||
		!strings.HasPrefix(list[2], "bin/Binary.ndjson,2,Binary/"+ids[1]+",created,201,Binary/") {
		t.Fatalf("report:\n%s", rows)
	}
	restored := strings.Split(list[2], ",")[5]
	if restored == "Binary/"+ids[1] {
		t.Errorf("the deleted Binary came back with its old id")
	}
	if b, err := c.ReadResource(ctx, restored); err != nil || b["contentType"] != "text/plain" {
		t.Errorf("the re-created %s: %v %v", restored, b, err)
	}
	e.Run("bulk", "import", "bin", "--restore", "-q").Expect(t, 0, "", "imported 0 resources: 0 created, 0 already there, 0 failed; 2 done by an earlier run (0 failed)\n")
}
