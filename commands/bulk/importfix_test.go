package bulk_test

import (
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

// On the sandbox and, in make test-real, on a real Medplum: a resource an
// import finds is left as the server has it, even when its references
// name resources of the input by their old ids (issue 14, newcomer item
// 1). An Observation pointing at an Encounter not in its file is
// imported, then changed on the server; a second input holding the
// Encounter and the same Observation creates the Encounter, finds the
// Observation, and neither rewrites it with the file's copy nor re-points
// it: it counts it instead.
func TestImportLeavesFoundResourcesAlone(t *testing.T) {
	_, e, c := clitest.OwnProject(t, "bulk-import-found")
	ctx := t.Context()
	obs := `{"resourceType":"Observation","id":"ov1","status":"final","code":{"text":"ov"},"valueQuantity":{"value":1},"encounter":{"reference":"Encounter/enc1"}}`
	writeFile(t, e, "ovA.ndjson", obs+"\n")
	writeFile(t, e, "ovB.ndjson", `{"resourceType":"Encounter","id":"enc1","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}}`+"\n"+obs+"\n")
	e.Run("bulk", "import", "ovA.ndjson").Expect(t, 0, "Bundle 1 (ovA.ndjson:1): 1 created, 0 already there, 0 failed\n",
		"imported 1 resource: 1 created, 0 already there, 0 failed; 1 reference points at a resource not in the input, kept as it was\n")
	list, err := c.SearchAll(ctx, "Observation?identifier=urn:medplum-cli:source-id|ov1")
	if err != nil || len(list) != 1 {
		t.Fatalf("the imported Observation: %v (%d found)", err, len(list))
	}
	edited := list[0]
	edited["valueQuantity"] = map[string]any{"value": 999}
	edited["note"] = []any{map[string]any{"text": "changed on the server"}}
	d, err := c.UpdateResource(ctx, edited)
	if err != nil {
		t.Fatal(err)
	}
	version := client.VersionID(d)

	e.Run("bulk", "import", "ovB.ndjson").Expect(t, 0, "Bundle 1 (ovB.ndjson:1-2): 1 created, 1 already there, 0 failed\n",
		"imported 2 resources: 1 created, 1 already there, 0 failed; 1 already there points at old ids of the input (left as the server has it)\n")
	got, err := c.ReadResource(ctx, "Observation/"+edited.ID())
	if err != nil {
		t.Fatal(err)
	}
	if v := client.VersionID(got); v != version {
		t.Errorf("the Observation found was changed: version %s, was %s: %v", v, version, got)
	}
	if q, _ := got["valueQuantity"].(map[string]any); fmt.Sprint(q["value"]) != "999" || refOf(got, "encounter") != "Encounter/enc1" {
		t.Errorf("the Observation found is %v", got)
	}
	if encs, err := c.SearchAll(ctx, "Encounter"); err != nil || len(encs) != 1 {
		t.Errorf("%d Encounters (%v), want 1", len(encs), err)
	}
}

// On the sandbox and, in make test-real, on a real Medplum: an entry of a
// Bundle fails, and another of the same Bundle referred to it through its
// urn:uuid. Medplum gave the failed one its id up front (captures 546,
// 546b), so the referrer was created pointing at an id that never exists:
// it is reported as pending (exit 3, a "pending" row), run after run,
// until the failed line is corrected and imported; that run finds the
// referrer and points it at the resource just created, keeping what was
// edited in it on the server meanwhile.
func TestImportReferrerOfAFailedEntry(t *testing.T) {
	p, e, c := clitest.OwnProject(t, "bulk-import-phantom")
	ctx := t.Context()
	// A project as the web app makes them (Project/$init): strictMode,
	// whose validation the sandbox models.
	sc := p.Super(t)
	proj, err := sc.ReadResource(ctx, "Project/"+p.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	proj["strictMode"] = true
	if _, err := sc.UpdateResource(ctx, proj); err != nil {
		t.Fatal(err)
	}
	lines := func(extra string) string {
		return `{"resourceType":"Patient","id":"u1","name":[{"family":"U1"}]}` + "\n" +
			`{"resourceType":"Patient","id":"u2",` + extra + `"name":[{"family":"U2"}]}` + "\n" +
			`{"resourceType":"Observation","id":"u3","status":"final","code":{"text":"u3"},"subject":{"reference":"Patient/u2"}}` + "\n"
	}
	writeFile(t, e, "u.ndjson", lines(`"colour":"red",`))
	const pending = "u.ndjson:3: Observation/u3: points at Patient/u2, which failed: it is updated once that one is imported\n"
	e.Run("bulk", "import", "u.ndjson", "--report", "first.csv").Expect(t, 3, "Bundle 1 (u.ndjson:1-3): 2 created, 0 already there, 1 failed\n",
		"u.ndjson:2: Patient/u2: 400 Invalid additional property \"colour\" (Patient.colour)\n"+pending+
			"imported 3 resources: 2 created, 0 already there, 1 failed; 1 to update once the resources it points at are imported\n"+
			"medplum: 1 of 3 resources failed (listed above); correct them and run the import again: what was imported is found, not created again\n")
	read := func(query string) client.Resource {
		t.Helper()
		list, err := c.SearchAll(ctx, query)
		if err != nil || len(list) != 1 {
			t.Fatalf("%s: %v (%d found)", query, err, len(list))
		}
		return list[0]
	}
	obs := read("Observation?identifier=urn:medplum-cli:source-id|u3")
	u1 := read("Patient?identifier=urn:medplum-cli:source-id|u1")
	phantom := refOf(obs, "subject")
	if _, err := c.ReadResource(ctx, phantom); client.StatusOf(err) != 404 {
		t.Errorf("the Observation points at %s, which reads %v; want 404 (capture 546b)", phantom, err)
	}
	want := "file,line,resource,result,status,id,error\n" +
		"u.ndjson,1,Patient/u1,created,201,Patient/" + u1.ID() + ",\n" +
		"u.ndjson,2,Patient/u2,failed,400,,\"Invalid additional property \"\"colour\"\" (Patient.colour)\"\n" +
		"u.ndjson,3,Observation/u3,created,201,Observation/" + obs.ID() + ",\n" +
		"u.ndjson,3,Observation/u3,pending,,Observation/" + obs.ID() + ",\"points at Patient/u2, which failed: it is updated once that one is imported\"\n"
	if got, err := os.ReadFile(filepath.Join(e.Home, "first.csv")); err != nil || string(got) != want {
		t.Errorf("first.csv (%v):\n%s\nwant:\n%s", err, got, want)
	}

	// Again, the line not corrected: still pending, still exit 3.
	e.Run("bulk", "import", "u.ndjson").Expect(t, 3, "", pending+
		"imported 0 resources: 0 created, 0 already there, 0 failed; 3 done by an earlier run (1 failed); 1 to update once the resources it points at are imported\n"+
		"medplum: 1 of 3 resources failed in an earlier run of this import (it listed them; this run does not send them again); correct them and run the import again: what was imported is found, not created again\n")

	// Meanwhile the Observation is edited on the server: its update
	// changes its subject only, the note stays (it wrote the file's copy
	// over it).
	obs["note"] = []any{map[string]any{"text": "edited on the server"}}
	if _, err := c.UpdateResource(ctx, obs); err != nil {
		t.Fatal(err)
	}
	// Corrected (another input, so another journal): the Patient is
	// created, the Observation found and pointed at it.
	writeFile(t, e, "u.ndjson", lines(""))
	e.Run("bulk", "import", "u.ndjson").Expect(t, 0, "Bundle 1 (u.ndjson:1-3): 1 created, 2 already there, 0 failed\n",
		"imported 3 resources: 1 created, 2 already there, 0 failed; 1 updated to point at resources created after it\n")
	u2 := read("Patient?identifier=urn:medplum-cli:source-id|u2")
	obs = read("Observation?identifier=urn:medplum-cli:source-id|u3")
	if got := refOf(obs, "subject"); got != "Patient/"+u2.ID() {
		t.Errorf("the Observation points at %s, want Patient/%s", got, u2.ID())
	}
	if got := fmt.Sprint(obs["note"]); got != "[map[text:edited on the server]]" {
		t.Errorf("the Observation's note, edited on the server since its create, is %s after its update", got)
	}
	// And once more: nothing left to update.
	e.Run("bulk", "import", "u.ndjson").Expect(t, 0, "", "imported 0 resources: 0 created, 0 already there, 0 failed; 3 done by an earlier run (0 failed)\n")
}

// linked is an input of two Patients, the first pointing at the second:
// sent one a Bundle, the first is created before the second has an id,
// and updated after.
func linked(t *testing.T, e *clitest.Env) {
	writeFile(t, e, "linked.ndjson", `{"resourceType":"Patient","id":"la","name":[{"family":"A"}],"link":[{"type":"seealso","other":{"reference":"Patient/lb"}}]}`+"\n"+
		`{"resourceType":"Patient","id":"lb","name":[{"family":"B"}]}`+"\n")
}

// linkedArgs import linked.ndjson a resource a Bundle, one at a time.
func linkedArgs() []string {
	return []string{"bulk", "import", "linked.ndjson", "--num-resources-per-request", "1", "--concurrency", "1"}
}

// linkedCreated is the stdout of linkedArgs creating both Patients.
const linkedCreated = "Bundle 1 (linked.ndjson:1): 1 created, 0 already there, 0 failed\nBundle 2 (linked.ndjson:2): 1 created, 0 already there, 0 failed\n"

// laUpdateFailed is the stderr of linkedArgs whose update of Patient la
// failed with msg (exit 3).
func laUpdateFailed(msg string) string {
	return "linked.ndjson:1: Patient/la: updating its references: " + msg + "\n" +
		"imported 2 resources: 2 created, 0 already there, 0 failed; 0 updated to point at resources created after them (1 failed)\n" +
		"medplum: 1 resource this import created still points at ids that do not exist (listed above: an update failed, or waits for a resource that failed); run the import again (after correcting what failed): the updates are tried again\n"
}

// linkedOK checks that the first Patient points at the second.
func linkedOK(t *testing.T, srv *medplumtest.Server) {
	t.Helper()
	const src = "urn:medplum-cli:source-id"
	a, b := byOld(t, srv, "Patient", src, "la"), byOld(t, srv, "Patient", src, "lb")
	if got := refOf(a, "link", "other"); got != "Patient/"+b.ID() {
		t.Errorf("Patient la points at %q, want Patient/%s", got, b.ID())
	}
}

// The update of references is charged to the FHIR quota as the creates
// are: answered 429 inside the Bundle's 200 (capture 407), it is sent
// again once the quota's minute is over, not counted failed.
func TestImportReferenceUpdateWaitsOutTheQuota(t *testing.T) {
	// In the quota's last half second, of 400 points, 120 spent: the two
	// Bundles (a lookup, 20, and a create, 100, each) fit, the update
	// (100) does not.
	srv, e, advance := lastHalfSecondOfQuota(t, 400)
	linked(t, e)
	srv.ResetRequests()
	// The second update Bundle is held until the minute is over.
	hold := make(chan struct{})
	srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4", Body: `"method":"PUT"`, Skip: 1, Hold: hold})
	go func() {
		for updates(srv) < 2 {
			time.Sleep(5 * time.Millisecond)
		}
		advance(2 * time.Second)
		close(hold)
	}()
	e.Run(linkedArgs()...).Expect(t, 0, linkedCreated,
		"imported 2 resources: 2 created, 0 already there, 0 failed; 1 updated to point at resources created after it\n")
	if n := updates(srv); n != 2 {
		t.Errorf("%d update Bundles sent, want 2 (the first answered 429)", n)
	}
	linkedOK(t, srv)
}

// updates counts the Bundles of updates sent.
func updates(srv *medplumtest.Server) int {
	n := 0
	for _, r := range srv.RequestsTo("POST", "/fhir/R4") {
		if strings.Contains(string(r.Body), `"method":"PUT"`) {
			n++
		}
	}
	return n
}

// An update the server refuses is a failed row of --report, exit 3, and
// is journaled as still to do: the same command again sends only it, and
// then exits 0. Never "done by an earlier run (0 failed)" with references
// left broken.
func TestImportFailedReferenceUpdateIsRetried(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	linked(t, e)
	srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4", Body: `"method":"PUT"`, Status: 412})
	args := linkedArgs()
	e.Run(append(args, "--report", "first.csv")...).Expect(t, 3, linkedCreated, laUpdateFailed("412 Precondition Failed"))
	const src = "urn:medplum-cli:source-id"
	a, b := byOld(t, srv, "Patient", src, "la"), byOld(t, srv, "Patient", src, "lb")
	want := "file,line,resource,result,status,id,error\n" +
		"linked.ndjson,1,Patient/la,created,201,Patient/" + a.ID() + ",\n" +
		"linked.ndjson,2,Patient/lb,created,201,Patient/" + b.ID() + ",\n" +
		"linked.ndjson,1,Patient/la,failed,412,,updating its references: 412 Precondition Failed\n"
	if got, err := os.ReadFile(filepath.Join(e.Home, "first.csv")); err != nil || string(got) != want {
		t.Errorf("first.csv (%v):\n%s\nwant:\n%s", err, got, want)
	}
	if got := refOf(a, "link", "other"); got != "Patient/lb" {
		t.Errorf("Patient la points at %q before its update", got)
	}
	srv.ResetRequests()
	e.Run(append(args, "--report", "again.csv")...).Expect(t, 0, "",
		"imported 0 resources: 0 created, 0 already there, 0 failed; 2 done by an earlier run (0 failed); 1 updated to point at resources created after it\n")
	if n, all := updates(srv), len(srv.RequestsTo("POST", "/fhir/R4")); n != 1 || all != 2 {
		t.Errorf("%d Bundles sent, %d of updates; want the one update and the read before it", all, n)
	}
	linkedOK(t, srv)
	want = "file,line,resource,result,status,id,error\n" +
		"linked.ndjson,1,Patient/la,updated,200,Patient/" + a.ID() + ",\n"
	if got, err := os.ReadFile(filepath.Join(e.Home, "again.csv")); err != nil || string(got) != want {
		t.Errorf("again.csv (%v):\n%s\nwant:\n%s", err, got, want)
	}
	e.Run(args...).Expect(t, 0, "", "imported 0 resources: 0 created, 0 already there, 0 failed; 2 done by an earlier run (0 failed)\n")
}

// Killed with -9 while the update is in flight: the journal holds it as
// to do, and the same command again does it.
func TestImportKilledDuringReferenceUpdate(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	linked(t, e)
	never := make(chan struct{})
	defer close(never)
	srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4", Body: `"method":"PUT"`, Hold: never})
	args := linkedArgs()
	p := e.Start(args...)
	deadline := time.Now().Add(30 * time.Second)
	for updates(srv) < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if updates(srv) != 1 {
		t.Fatalf("no update sent: %s", p.Stderr())
	}
	p.Kill()
	e.Run(args...).Expect(t, 0, "",
		"imported 0 resources: 0 created, 0 already there, 0 failed; 2 done by an earlier run (0 failed); 1 updated to point at resources created after it\n")
	linkedOK(t, srv)
	if n := srv.Count("Patient", srv.Seed.ProjectID); n != len(srv.Resources("Patient", srv.Seed.ProjectID)) {
		t.Fatal(n)
	}
}

// References to resources that are not in the input (an export of some
// types only, a hand-written line) are sent as they are, and counted
// (issue 14, newcomer item 8): references of created resources, not of
// the ones found, nor references to what the import leaves out (the
// access types), nor urn:uuid, contained or absolute ones.
func TestImportCountsReferencesOutsideTheInput(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "part.ndjson", strings.Join([]string{
		`{"resourceType":"Patient","id":"op1","name":[{"family":"Out"}],"generalPractitioner":[{"reference":"Practitioner/gone"}],"managingOrganization":{"reference":"#contained"}}`,
		`{"resourceType":"Observation","id":"oo1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/op1"},"encounter":{"reference":"Encounter/gone/_history/2"},"performer":[{"reference":"Practitioner/gone"},{"reference":"ClientApplication/c1"},{"reference":"https://example.com/fhir/Patient/x"}]}`,
	}, "\n")+"\n")
	e.Run("bulk", "import", "part.ndjson", "-q").Expect(t, 0, "",
		"imported 2 resources: 2 created, 0 already there, 0 failed; 3 references point at resources not in the input, kept as they were\n")
	o := byOld(t, srv, "Observation", "urn:medplum-cli:source-id", "oo1")
	if got := refOf(o, "encounter"); got != "Encounter/gone/_history/2" {
		t.Errorf("encounter %q", got)
	}
	// Found again (another journal): their references are the server's.
	e.Run("bulk", "import", "part.ndjson", "-q", "--state", "again.journal").Expect(t, 0, "",
		"imported 2 resources: 0 created, 2 already there, 0 failed\n")
}
