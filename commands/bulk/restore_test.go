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
// deleted; the export restored into the same project puts those three
// back with their own ids (PUT of a deleted resource revives it, captures
// 547-547d), finds the rest untouched, and the Observation and Provenance
// it found still point at the Patient. Run again (the journal), it checks
// the server again: what was deleted again since is put back again
// (newcomer14b item 1); with another journal, the same ids again and no
// reference left dangling (item 2); a Patient deleted and entered again by
// hand with the same MRN is found by it, not doubled (item 5).
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
	del := func(refs ...string) {
		t.Helper()
		for _, ref := range refs {
			typ, id, _ := strings.Cut(ref, "/")
			if err := c.DeleteResource(ctx, typ, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	name := func(family string) []any { return []any{map[string]any{"family": family}} }
	var pats []string
	for i := range 4 {
		pats = append(pats, create(client.Resource{"resourceType": "Patient", "name": name(fmt.Sprint("Restore", i))}))
	}
	mrnID := []any{map[string]any{"system": "urn:test:mrn", "value": "r-1"}}
	mrn := create(client.Resource{"resourceType": "Patient", "name": name("RestoreMRN"), "identifier": mrnID})
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
	del("Patient/"+pats[1], "Patient/"+mrn, "Observation/"+obs1)

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

	e.Run("bulk", "import", "backup", "--restore", "-q", "--report", "r.csv").Expect(t, 0, "",
		"imported 8 resources: 0 created, 3 restored with their ids, 5 already there, 0 failed\n")
	rows, err := os.ReadFile(filepath.Join(e.Home, "r.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(rows), ",restored,200,"); n != 3 {
		t.Errorf("%d rows restored, want 3:\n%s", n, rows)
	}
	all := func(typ string) []client.Resource {
		t.Helper()
		list, err := c.SearchAll(ctx, typ+"?_count=100")
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	// check: every resource of the export on the server once, at its own
	// id (mrnAt: where the MRN Patient is), none with a source-id, and
	// every reference to a resource that exists.
	check := func(mrnAt string) {
		t.Helper()
		byRef := map[string]client.Resource{}
		for _, typ := range []string{"Patient", "Observation", "Provenance"} {
			for _, r := range all(typ) {
				byRef[typ+"/"+r.ID()] = r
				if ids, _ := r["identifier"].([]any); strings.Contains(fmt.Sprint(ids), "urn:medplum-cli:source-id") {
					t.Errorf("%s/%s has a source-id identifier: %v", typ, r.ID(), ids)
				}
			}
		}
		want := []string{"Patient/" + pats[0], "Patient/" + pats[1], "Patient/" + pats[2], "Patient/" + pats[3], "Patient/" + mrnAt, "Observation/" + obs0, "Observation/" + obs1, "Provenance/" + prov}
		if len(byRef) != len(want) {
			t.Errorf("%d resources on the server, want %d: %v", len(byRef), len(want), byRef)
		}
		for _, ref := range want {
			if byRef[ref] == nil {
				t.Errorf("%s: not on the server", ref)
			}
		}
		if got := fmt.Sprint(byRef["Patient/"+mrnAt]["identifier"]); got != fmt.Sprint(mrnID) {
			t.Errorf("the MRN Patient's identifiers: %s", got)
		}
		if g := byRef["Patient/"+pats[3]]["gender"]; g != "other" {
			t.Errorf("the Patient changed since the export was overwritten: gender %v", g)
		}
		for ref, want := range map[string]string{"Observation/" + obs0: "Patient/" + pats[1], "Observation/" + obs1: "Patient/" + pats[2]} {
			if got := refOf(byRef[ref], "subject"); got != want {
				t.Errorf("%s points at %s, want %s", ref, got, want)
			}
		}
		if got := refOf(byRef["Provenance/"+prov], "target"); got != "Patient/"+pats[1] {
			t.Errorf("the Provenance points at %s, want Patient/%s", got, pats[1])
		}
	}
	check(mrn)
	e.Run("bulk", "import", "backup", "--restore", "-q").Expect(t, 0, "",
		"imported 8 resources: 0 created, 0 restored with their ids, 8 already there, 0 failed\n")
	check(mrn)

	// Deleted again, the same command (its journal) puts them back again.
	del("Patient/"+pats[1], "Observation/"+obs1)
	e.Run("bulk", "import", "backup", "--restore", "-q").Expect(t, 0, "",
		"imported 8 resources: 0 created, 2 restored with their ids, 6 already there, 0 failed\n")
	check(mrn)
	// Deleted again, another journal: the same ids again.
	del("Patient/"+pats[1], "Observation/"+obs1)
	e.Run("bulk", "import", "backup", "--restore", "-q", "--state", filepath.Join(e.Home, "again.journal")).Expect(t, 0, "",
		"imported 8 resources: 0 created, 2 restored with their ids, 6 already there, 0 failed\n")
	check(mrn)
	// The MRN Patient deleted and entered again by hand: found by its MRN.
	del("Patient/" + mrn)
	byHand := create(client.Resource{"resourceType": "Patient", "name": name("RestoreMRN"), "identifier": mrnID})
	e.Run("bulk", "import", "backup", "--restore", "-q", "--state", filepath.Join(e.Home, "third.journal")).Expect(t, 0, "",
		"imported 8 resources: 0 created, 0 restored with their ids, 8 already there, 0 failed\n")
	check(byHand)
}

// On the sandbox and, in make test-real, on a real Medplum: --restore of
// resources whose ids the project never had (or had expunged): the PUT of
// their id answers 404 (capture 547c), and they are created with a new id
// (their old one as a source-id identifier); a resource put back that
// pointed at one of them is updated to point at its new id. A second run
// finds them by that identifier.
func TestImportRestoreCreatesWhatCannotBePutBack(t *testing.T) {
	_, e, c := clitest.OwnProject(t, "bulk-restore-404")
	ctx := t.Context()
	d, err := c.CreateResource(ctx, client.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": "Deleted"}}})
	if err != nil {
		t.Fatal(err)
	}
	deleted := d.Resource.ID()
	if err := c.DeleteResource(ctx, "Patient", deleted); err != nil {
		t.Fatal(err)
	}
	const never = "0f6c2b4e-2a61-4d7c-9c53-5e8a1b7d3f10"
	writeFile(t, e, "in.ndjson", strings.Join([]string{
		`{"resourceType":"Patient","id":"` + deleted + `","name":[{"family":"Deleted"}]}`,
		`{"resourceType":"Patient","id":"` + never + `","name":[{"family":"Never"}]}`,
	}, "\n")+"\n")
	writeFile(t, e, "obs.ndjson", `{"resourceType":"Observation","id":"`+deleted+`","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/`+never+`"}}`+"\n")
	e.Run("bulk", "import", "in.ndjson", "obs.ndjson", "--restore", "-q", "--report", "r.csv").Expect(t, 0, "",
		"imported 3 resources: 2 created, 1 restored with their ids, 0 already there, 0 failed\n")
	rows, err := os.ReadFile(filepath.Join(e.Home, "r.csv"))
	if err != nil {
		t.Fatal(err)
	}
	list := strings.Split(strings.TrimSpace(string(rows)), "\n")
	if len(list) != 4 || list[1] != "in.ndjson,1,Patient/"+deleted+",restored,200,Patient/"+deleted+"," ||
		!strings.HasPrefix(list[2], "in.ndjson,2,Patient/"+never+",created,201,Patient/") || !strings.HasPrefix(list[3], "obs.ndjson,1,Observation/"+deleted+",created,201,Observation/") {
		t.Fatalf("report:\n%s", rows)
	}
	created := strings.Split(list[2], ",")[5]
	p, err := c.ReadResource(ctx, created)
	if err != nil || !hasSourceID(p, never) {
		t.Fatalf("%s: %v %v", created, p, err)
	}
	obs, err := c.ReadResource(ctx, strings.Split(list[3], ",")[5])
	if err != nil || refOf(obs, "subject") != created {
		t.Fatalf("the Observation points at %s, want %s (%v)", refOf(obs, "subject"), created, err)
	}
	e.Run("bulk", "import", "in.ndjson", "obs.ndjson", "--restore", "-q", "--state", filepath.Join(e.Home, "again.journal")).Expect(t, 0, "",
		"imported 3 resources: 0 created, 0 restored with their ids, 3 already there, 0 failed\n")
	if pats, err := c.SearchAll(ctx, "Patient?_count=100"); err != nil || len(pats) != 2 {
		t.Errorf("%d Patients (%v), want 2", len(pats), err)
	}
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
// resource is back exactly once, with its id, nothing is created, and
// every Observation points at a Patient that exists. On the sandbox (slowed
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
	// (every resource is looked up again: --restore trusts the server, not the journal)
	var all, restored, matched int
	if _, err := fmt.Sscanf(r.Stderr, "imported %d resources: 0 created, %d restored with their ids, %d already there, 0 failed\n", &all, &restored, &matched); err != nil {
		t.Fatalf("summary %q: %v", r.Stderr, err)
	}
	if all != 2*n || restored+matched != 2*n || restored >= deleted {
		t.Errorf("%d resources, %d restored, %d found: want %d in all, fewer than %d restored (the killed run put some back)", all, restored, matched, 2*n, deleted)
	}
	check := func() {
		t.Helper()
		list, err := c.SearchAll(ctx, "Patient?_count=1000")
		if err != nil {
			t.Fatal(err)
		}
		live := map[string]bool{}
		for _, p := range list {
			live["Patient/"+p.ID()] = true
			if p["identifier"] != nil {
				t.Errorf("Patient/%s has identifiers: %v", p.ID(), p["identifier"])
			}
		}
		if len(list) != n {
			t.Errorf("%d Patients, want %d", len(list), n)
		}
		for _, id := range pats {
			if !live["Patient/"+id] {
				t.Errorf("Patient/%s is not back with its id", id)
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
		fmt.Sprintf("imported %d resources: 0 created, 0 restored with their ids, %d already there, 0 failed\n", 2*n, 2*n))
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
	e.Run("bulk", "import", "in.ndjson").Expect(t, 3, "Bundle 1 (in.ndjson:1-4): 2 created, 1 already there, 1 failed\n",
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
// a run with the same journal finds both (the copy where the journal says).
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
	e.Run("bulk", "import", "bin", "--restore", "-q", "--report", "r.csv").Expect(t, 0, "", "imported 2 resources: 1 created, 0 restored with their ids, 1 already there, 0 failed\n")
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
	// Run again, both are read again: the deleted one's copy at the id the
	// journal recorded.
	e.Run("bulk", "import", "bin", "--restore", "-q").Expect(t, 0, "", "imported 2 resources: 0 created, 0 restored with their ids, 2 already there, 0 failed\n")
}
