package bulk_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/bulk"
	"github.com/medplumcli/medplum/commands/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m) }

const warning = "medplum: warning: the exported files hold whatever the project holds, client secrets and password-reset requests included: they are created readable by you only (0600); keep them private\n"

// exported is what an export left in dir: the manifest's files, by name.
type exported struct {
	manifest struct {
		Output []struct{ Type, URL string }
	}
	paths []string // absolute, in manifest order
}

func readExport(t *testing.T, e *clitest.Env, dir string) *exported {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.Home, dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	x := &exported{}
	if err := json.Unmarshal(b, &x.manifest); err != nil {
		t.Fatal(err)
	}
	for _, o := range x.manifest.Output {
		x.paths = append(x.paths, filepath.Join(e.Home, dir, bulk.FileName(o.Type, o.URL)))
	}
	return x
}

// created is the stdout of the files, in any order (they download in
// parallel), sorted.
func created(paths []string) string {
	var lines []string
	for _, p := range paths {
		lines = append(lines, p+" is created\n")
	}
	slices.Sort(lines)
	return strings.Join(lines, "")
}

// expectFiles asserts exit 0, stderr, and a stdout line for every file in
// any order.
func expectFiles(t *testing.T, r clitest.Result, x *exported, stderr string) {
	t.Helper()
	r.ExpectCode(t, 0, stderr)
	if sortLines(r.Stdout) != created(x.paths) {
		t.Errorf("stdout:\n%s\nwant (in any order):\n%s", r.Stdout, created(x.paths))
	}
}

func sortLines(s string) string {
	lines := strings.SplitAfter(s, "\n")
	slices.Sort(lines)
	return strings.Join(lines, "")
}

func (x *exported) summary(t *testing.T, dir string, now, earlier int) string {
	t.Helper()
	var size int64
	for _, p := range x.paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
		}
		size += fi.Size()
	}
	n := len(x.paths)
	noun := "files"
	if n == 1 {
		noun = "file"
	}
	return fmt.Sprintf("exported %d %s (%s) into %s; %d downloaded now, %d earlier\n", n, noun, bulk.HumanBytes(size), dir, now, earlier)
}

// resourcesIn reads the NDJSON files of an export: resource type -> ids.
func resourcesIn(t *testing.T, x *exported) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for i, p := range x.paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			var r struct{ ResourceType, ID string }
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if r.ResourceType != x.manifest.Output[i].Type {
				t.Errorf("%s holds a %s", p, r.ResourceType)
			}
			out[r.ResourceType] = append(out[r.ResourceType], r.ID)
		}
	}
	return out
}

func TestExportWholeProject(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": "Export"}}})
	// Types 5.0.10 never exports (fhir/operations/export.ts canBeExported).
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "ValueSet", "status": "draft"})
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "AuditEvent", "recorded": "2026-12-01T00:00:00Z"})
	e := clitest.SignedIn(t, srv)
	r := e.Run("bulk", "export", "-d", "backup")
	x := readExport(t, e, "backup")
	if len(x.paths) < 4 {
		t.Fatalf("only %d files: %v", len(x.paths), x.manifest.Output)
	}
	if sortLines(r.Stdout) != created(x.paths) {
		t.Errorf("stdout:\n%s\nwant (in any order):\n%s", r.Stdout, created(x.paths))
	}
	r.ExpectCode(t, 0, warning+x.summary(t, "backup", len(x.paths), 0))
	got := resourcesIn(t, x)
	if len(got["ValueSet"])+len(got["AuditEvent"]) != 0 {
		t.Errorf("exported %d ValueSets and %d AuditEvents: 5.0.10 exports neither", len(got["ValueSet"]), len(got["AuditEvent"]))
	}
	if len(got["Patient"]) != srv.Count("Patient", srv.Seed.ProjectID) || len(got["ClientApplication"]) == 0 {
		t.Errorf("exported %d Patients of %d, %d ClientApplications", len(got["Patient"]), srv.Count("Patient", srv.Seed.ProjectID), len(got["ClientApplication"]))
	}
	// The files hold the client's secret (as 5.0.10's do, capture 127):
	// that is why they are 0600 and the warning is printed.
	if b, _ := os.ReadFile(x.paths[slices.IndexFunc(x.manifest.Output, func(o struct{ Type, URL string }) bool { return o.Type == "ClientApplication" })]); !strings.Contains(string(b), srv.Seed.Client.Secret) {
		t.Errorf("the ClientApplication file has no secret: %s", b)
	}
	r.NotContains(t, srv.Seed.Client.Secret, "Signature=")
	// Kick-off with GET and Prefer: respond-async; downloads without a token.
	kick := srv.RequestsTo("GET", "/fhir/R4/$export")
	if len(kick) != 1 || kick[0].Header.Get("Prefer") != "respond-async" {
		t.Errorf("kick-offs: %+v", kick)
	}
	downloads := srv.RequestsTo("GET", "/storage/*/*")
	if len(downloads) != len(x.paths) {
		t.Errorf("%d downloads for %d files", len(downloads), len(x.paths))
	}
	for _, d := range downloads {
		if d.Header.Get("Authorization") != "" {
			t.Errorf("a download sent credentials (requiresAccessToken is false)")
		}
	}
	// Run again: the same job, nothing downloaded again.
	srv.ResetRequests()
	r = e.Run("bulk", "export", "-d", "backup")
	r.Expect(t, 0, "", warning+x.summary(t, "backup", 0, len(x.paths))+finishedNote(t, e, "backup"))
	if n := len(srv.RequestsTo("GET", "/fhir/R4/$export")) + len(srv.RequestsTo("GET", "/storage/*/*")); n != 0 {
		t.Errorf("a finished export sent %d kick-offs or downloads again", n)
	}
}

// --verbose traces every request, the manifest's body included: the signed
// links in it (each grants a file) and the client's secret stay hidden.
func TestExportVerboseHidesSignatures(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	r := e.Run("bulk", "export", "-d", "backup", "-q", "--verbose")
	if r.Code != 0 || !strings.Contains(r.Stderr, "Signature=[REDACTED]") {
		t.Fatalf("exit %d, stderr:\n%s", r.Code, r.Stderr)
	}
	if n := strings.Count(r.Stderr, "Signature="); n != strings.Count(r.Stderr, "Signature=[REDACTED]") {
		t.Errorf("%d signatures in the trace, not all redacted:\n%s", n, r.Stderr)
	}
	r.NotContains(t, srv.Seed.Client.Secret)
	// A boolean under a secret-ish name is not a secret.
	if !strings.Contains(r.Stderr, `"requiresAccessToken":false`) {
		t.Errorf("the manifest's requiresAccessToken is not shown:\n%s", r.Stderr)
	}
}

func TestExportLevelsTypesSince(t *testing.T) {
	srv := medplumtest.NewServer(t)
	p := srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": "Grouped"}}})
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "x"}, "subject": map[string]any{"reference": "Patient/" + p.ID()}})
	g := srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "Group", "type": "person", "actual": true, "member": []any{map[string]any{"entity": map[string]any{"reference": "Patient/" + p.ID()}}}})
	e := clitest.SignedIn(t, srv)

	r := e.Run("bulk", "export", "-e", "Group/"+g.ID(), "-d", "group", "-q")
	x := readExport(t, e, "group")
	expectFiles(t, r, x, "")
	got := resourcesIn(t, x)
	if fmt.Sprint(got["Patient"], got["Group"], len(got["Observation"])) != fmt.Sprint([]string{p.ID()}, []string{g.ID()}, 1) || len(got) != 3 {
		t.Errorf("Group export: %v", got)
	}
	if kick := srv.RequestsTo("GET", "/fhir/R4/Group/*/$export"); len(kick) != 1 {
		t.Errorf("the Group export was not a GET (5.0.10 answers a POST 404, capture 412)")
	}

	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	r = e.Run("bulk", "export", "-t", "Patient,Medication", "-s", since, "-d", "typed")
	x = readExport(t, e, "typed")
	r.ExpectCode(t, 0, x.summary(t, "typed", 1, 0)+"medplum: note: nothing exported for Medication (no such resources)\n")
	if q := srv.RequestsTo("GET", "/fhir/R4/$export")[0].RawQuery; q != "_since="+strings.ReplaceAll(since, ":", "%3A")+"&_type=Patient%2CMedication" {
		t.Errorf("kick-off query %s", q)
	}
	if got := resourcesIn(t, x); len(got) != 1 || len(got["Patient"]) != srv.Count("Patient", srv.Seed.ProjectID) {
		t.Errorf("typed export: %v", got)
	}
}

func TestExportRefusesBadFlagsBeforeSending(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"-s", "yesterday"}, `medplum: --since "yesterday": not a date or an instant (e.g. 2026-12-01 or 2026-12-01T10:00:00Z); Medplum never finishes an export with a _since it cannot read`},
		{[]string{"-e", "Practitioner"}, `medplum: --export-level "Practitioner": use "Patient" or "Group/<id>" (or nothing: the whole project)`},
		{[]string{"-e", "Group/"}, `medplum: --export-level "Group/": use "Patient" or "Group/<id>" (or nothing: the whole project)`},
		{[]string{"-t", "Patient,observation"}, `medplum: --types: "observation" is not a resource type; did you mean Observation?`},
		{[]string{"-t", "Patinet"}, `medplum: --types: "Patinet" is not a resource type; did you mean Patient?`},
		{[]string{"-t", "Observation, MedicationRequests"}, `medplum: --types: "MedicationRequests" is not a resource type; did you mean MedicationRequest?`},
		{[]string{"-t", "Xyzzy"}, `medplum: --types: "Xyzzy" is not a resource type of FHIR R4 or Medplum (e.g. Patient,Observation)`},
		{[]string{"-t", "Binary"}, `medplum: --types: Medplum's $export never holds Binary (attachments: the DocumentReferences, Media and the like of a backup point at them as "Binary/<id>", their content is not in it; fetch each with: medplum get Binary/<id> -o ndjson)`},
		{[]string{"-t", "ValueSet, AuditEvent"}, `medplum: --types: Medplum's $export never holds ValueSet, AuditEvent (read them with: medplum get 'ValueSet?_count=1000')`},
		{[]string{"--restart", "--cancel"}, `medplum: --restart and --cancel cannot be used together`},
	} {
		r := e.Run(append([]string{"bulk", "export"}, c.args...)...)
		r.Expect(t, 2, "", c.err+"\nRun 'medplum bulk export --help' for usage.\n")
	}
	r := e.Run("bulk", "export", "--cancel", "-d", "nothing")
	r.Expect(t, 2, "", "medplum: no export job to cancel in nothing (it has no .medplum-export.json)\n")
	clitest.ExpectNothingSent(t, srv)
}

// A download killed half-way (kill -9) leaves a part file and a job: the
// same command downloads only the files that are missing, from the same
// job.
func TestExportResumesAfterAKilledDownload(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	hold := make(chan struct{})
	defer close(hold)
	// The third download stalls half-way; two finish first (one at a time).
	srv.Inject(medplumtest.Fault{Method: "GET", Path: "/storage/*/*", Skip: 2, Times: 1, Drop: medplumtest.StallMidResponse, Hold: hold})
	p := e.Start("bulk", "export", "-d", "backup", "--concurrency", "1")
	deadline := time.Now().Add(20 * time.Second)
	for len(srv.RequestsTo("GET", "/storage/*/*")) < 3 || strings.Count(p.Stdout(), " is created\n") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the third download never started: %s", p.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	killed := p.Kill()
	parts, _ := filepath.Glob(filepath.Join(e.Home, "backup", ".*.ndjson.*"))
	if len(parts) != 1 {
		t.Errorf("part files after kill -9: %v", parts)
	}
	srv.ResetRequests()
	r := e.Run("bulk", "export", "-d", "backup")
	x := readExport(t, e, "backup")
	first := strings.Count(killed.Stdout, "\n")
	r.ExpectCode(t, 0, warning+x.summary(t, "backup", len(x.paths)-first, first))
	if sortLines(killed.Stdout+r.Stdout) != created(x.paths) {
		t.Errorf("stdout of both runs:\n%s%s\nwant every file once", killed.Stdout, r.Stdout)
	}
	if n := len(srv.RequestsTo("GET", "/fhir/R4/$export")); n != 0 {
		t.Errorf("the second run started %d new jobs", n)
	}
	if n := len(srv.RequestsTo("GET", "/storage/*/*")); n != len(x.paths)-first {
		t.Errorf("the second run downloaded %d files, want %d", n, len(x.paths)-first)
	}
	if parts, _ := filepath.Glob(filepath.Join(e.Home, "backup", ".*.ndjson.*")); len(parts) != 0 {
		t.Errorf("part files left: %v", parts)
	}
	resourcesIn(t, x) // every file whole
}

// Dropped downloads, 429s and slow jobs are waited out.
func TestExportRetriesDropsThrottlingAndSlowJobs(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.SetExportPolls(3)
	srv.Inject(medplumtest.Fault{Method: "GET", Path: "/storage/*/*", Times: 2, Drop: medplumtest.DropMidResponse})
	srv.Inject(medplumtest.Fault{Method: "GET", Path: "/storage/*/*", Times: 1, Status: 429, RetryAfter: time.Second})
	srv.Inject(medplumtest.Fault{Method: "GET", Path: "/fhir/R4/bulkdata/export/*", Times: 1, Status: 503})
	e := clitest.SignedIn(t, srv)
	r := e.Run("bulk", "export", "-d", "backup")
	x := readExport(t, e, "backup")
	r.ExpectCode(t, 0, warning+x.summary(t, "backup", len(x.paths), 0))
	if sortLines(r.Stdout) != created(x.paths) {
		t.Errorf("stdout %s", r.Stdout)
	}
	if n := len(srv.RequestsTo("GET", "/storage/*/*")); n != len(x.paths)+3 {
		t.Errorf("%d downloads for %d files and 3 faults", n, len(x.paths))
	}
	if n := len(srv.RequestsTo("GET", "/fhir/R4/bulkdata/export/*")); n != 5 {
		t.Errorf("%d polls, want 1 refused + 3 in progress + the manifest", n)
	}
	if f := srv.PendingFaults(); len(f) != 0 {
		t.Errorf("faults not used: %v", f)
	}
	resourcesIn(t, x)
}

func TestExportInterruptedThenCancelled(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.SetExportPolls(1 << 30) // a job that does not finish
	e := clitest.SignedIn(t, srv)
	state := filepath.Join(e.Home, "backup", ".medplum-export.json")
	interruptAfterPolls(t, srv, e, 2, "bulk", "export", "-d", "backup").Expect(t, 130, "", warning+"medplum: interrupted\n"+
		"run the same command again to resume the export (its job is kept in "+filepath.Join("backup", ".medplum-export.json")+"); --cancel deletes it on the server\n")
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Status string }
	json.Unmarshal(b, &st)
	if fi, _ := os.Stat(state); fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v", fi.Mode().Perm())
	}

	// Other flags in the same directory are refused before anything is sent.
	srv.ResetRequests()
	r := e.Run("bulk", "export", "-d", "backup", "-e", "Patient")
	r.Expect(t, 2, "", fmt.Sprintf("medplum: %s holds an export job of %sfhir/R4/$export, not of %sfhir/R4/Patient/$export; use the same flags to resume it, --restart to start this one, or another directory\n",
		filepath.Join("backup", ".medplum-export.json"), srv.URL, srv.URL))
	clitest.ExpectPaths(t, srv, "GET /auth/me")

	srv.ResetRequests()
	r = e.Run("bulk", "export", "-d", "backup", "--cancel")
	r.Expect(t, 0, "", "cancelled the export job "+st.Status+"\n")
	clitest.ExpectPaths(t, srv, "GET /auth/me", "DELETE "+strings.TrimPrefix(st.Status, strings.TrimSuffix(srv.URL, "/")))
	if srv.ExportJobs() != 0 {
		t.Errorf("%d jobs left on the server", srv.ExportJobs())
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("the state file is still there: %v", err)
	}
}

func TestExportRestartStartsANewJob(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	e.Run("bulk", "export", "-d", "backup", "-q").ExpectCode(t, 0, "")
	srv.ResetRequests()
	r := e.Run("bulk", "export", "-d", "backup", "-q", "--restart")
	x := readExport(t, e, "backup")
	expectFiles(t, r, x, "")
	if n := len(srv.RequestsTo("GET", "/fhir/R4/$export")); n != 1 {
		t.Errorf("--restart sent %d kick-offs", n)
	}
	if n := len(srv.RequestsTo("DELETE", "/fhir/R4/bulkdata/export/*")); n != 1 {
		t.Errorf("--restart cancelled %d earlier jobs, want 1", n)
	}
}

// On the sandbox and, in make test-real, on a real Medplum: an export of a
// project of its own (Patient and Group levels), run again (nothing left
// to download), and a job cancelled half-way.
func TestExportOwnProject(t *testing.T) {
	_, e, c := clitest.OwnProject(t, "bulk-export")
	ctx := t.Context()
	var pats []string
	for i := range 3 {
		d, err := c.CreateResource(ctx, client.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": "BulkExport", "given": []any{fmt.Sprint(i)}}}})
		if err != nil {
			t.Fatal(err)
		}
		pats = append(pats, d.ID())
	}
	obs, err := c.CreateResource(ctx, client.Resource{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "x"}, "subject": map[string]any{"reference": "Patient/" + pats[0]}})
	if err != nil {
		t.Fatal(err)
	}
	grp, err := c.CreateResource(ctx, client.Resource{"resourceType": "Group", "type": "person", "actual": true,
		"member": []any{map[string]any{"entity": map[string]any{"reference": "Patient/" + pats[1]}}}})
	if err != nil {
		t.Fatal(err)
	}

	r := e.Run("bulk", "export", "-t", "Patient,Observation", "-d", "typed")
	x := readExport(t, e, "typed")
	expectFiles(t, r, x, x.summary(t, "typed", 2, 0))
	got := resourcesIn(t, x)
	slices.Sort(got["Patient"])
	if sorted := slices.Sorted(slices.Values(pats)); !slices.Equal(got["Patient"], sorted) || fmt.Sprint(got["Observation"]) != fmt.Sprint([]string{obs.ID()}) || len(got) != 2 {
		t.Errorf("exported %v, want Patients %v and Observation %s", got, pats, obs.ID())
	}
	r = e.Run("bulk", "export", "-t", "Patient,Observation", "-d", "typed", "-q")
	r.Expect(t, 0, "", finishedNote(t, e, "typed"))

	r = e.Run("bulk", "export", "-e", "Group/"+grp.ID(), "-d", "group", "-q")
	x = readExport(t, e, "group")
	expectFiles(t, r, x, "")
	if got := resourcesIn(t, x); fmt.Sprint(got["Patient"], got["Group"]) != fmt.Sprint([]string{pats[1]}, []string{grp.ID()}) {
		t.Errorf("Group export: %v", got)
	}

	// A Group without members never finishes on 5.0.10 (414b): Ctrl-C,
	// then --cancel.
	empty, err := c.CreateResource(ctx, client.Resource{"resourceType": "Group", "type": "person", "actual": true})
	if err != nil {
		t.Fatal(err)
	}
	p := e.Start("bulk", "export", "-e", "Group/"+empty.ID(), "-d", "empty", "-q")
	state := filepath.Join(e.Home, "empty", ".medplum-export.json")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(state); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no job started: %s", p.Stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // a few polls
	p.Signal(os.Interrupt)
	p.Wait().Expect(t, 130, "", "medplum: interrupted\n"+
		"run the same command again to resume the export (its job is kept in "+filepath.Join("empty", ".medplum-export.json")+"); --cancel deletes it on the server\n")
	b, _ := os.ReadFile(state)
	var st struct{ Status string }
	json.Unmarshal(b, &st)
	e.Run("bulk", "export", "-e", "Group/"+empty.ID(), "-d", "empty", "--cancel").Expect(t, 0, "", "cancelled the export job "+st.Status+"\n")
	e.Run("bulk", "export", "-d", "empty", "--cancel").Expect(t, 2, "", "medplum: no export job to cancel in empty (it has no .medplum-export.json)\n")
}

// A finished export run again downloads nothing: it says so even with -q
// (a nightly job must not back up nothing new in silence). --restart
// removes the previous export's files (the ones its manifest names, no
// others) once the new job's files are ready, so that the directory holds
// one export, which bulk import can read.
func TestExportAgainAndRestartReplaceThePreviousFiles(t *testing.T) {
	_, e, old := patientExported(t)
	mine := writeFile(t, e, "backup/mine.ndjson", `{"resourceType":"Patient"}`+"\n")
	e.Run("bulk", "export", "-d", "backup", "-q", "-t", "Patient").Expect(t, 0, "", finishedNote(t, e, "backup"))

	r := e.Run("bulk", "export", "-d", "backup", "-t", "Patient", "--restart")
	x := readExport(t, e, "backup")
	if slices.Equal(x.paths, old.paths) {
		t.Fatalf("the new export has the old one's files: %v", x.paths)
	}
	expectFiles(t, r, x, "medplum: removed the 1 file of the previous export: "+filepath.Base(old.paths[0])+"\n"+x.summary(t, "backup", 1, 0))
	for _, p := range old.paths {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s of the previous export is still there (%v)", p, err)
		}
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("a file the export did not write was removed: %v", err)
	}
}

// finishedNote is what a run in a directory whose export is finished says
// on stderr, -q or not.
func finishedNote(t *testing.T, e *clitest.Env, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.Home, dir, ".medplum-export.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Started time.Time }
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return "medplum: note: this is the export started " + st.Started.Format(time.RFC3339) + ", finished earlier: nothing new was downloaded; --restart exports the project again (replacing these files), or export into a new directory\n"
}

// -d naming a file is a usage error (exit 2) that says so, before anything
// is sent; -e Group/<id> of a Group the server does not have names it.
func TestExportTargetIsAFileAndMissingGroup(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "afile", "x")
	srv.ResetRequests()
	e.Run("bulk", "export", "-d", "afile", "-q").Expect(t, 2, "", "medplum: -d afile: not a directory\n")
	clitest.ExpectNothingSent(t, srv)
	srv.ResetRequests()
	r := e.Run("bulk", "export", "-e", "Group/nosuchgroup", "-d", "g", "-q")
	r.Expect(t, 1, "", "medplum: Group/nosuchgroup: not found on the server (-e Group/<id> names a Group of the project)\n")
	// The kick-off is refused (404): one request, no job, and no job file
	// left for a later run to resume.
	clitest.ExpectPaths(t, srv, "GET /auth/me", "GET /fhir/R4/Group/nosuchgroup/$export")
	if _, err := os.Stat(filepath.Join(e.Home, "g", ".medplum-export.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("g/.medplum-export.json after a refused kick-off: %v", err)
	}
}

// The warning that the files may hold secrets is printed when the types
// exported can hold them: the whole project, or such types named.
func TestExportWarnsOfSecretsOnlyForTypesThatHoldThem(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "Patient"})
	e := clitest.SignedIn(t, srv)
	r := e.Run("bulk", "export", "-t", "Patient", "-d", "p")
	x := readExport(t, e, "p")
	expectFiles(t, r, x, x.summary(t, "p", 1, 0))
	r = e.Run("bulk", "export", "-t", "Patient,ClientApplication", "-d", "c")
	x = readExport(t, e, "c")
	expectFiles(t, r, x, warning+x.summary(t, "c", 2, 0))
}

// patientExported is a sandbox with a Patient, exported (-t Patient) into
// backup.
func patientExported(t *testing.T) (*medplumtest.Server, *clitest.Env, *exported) {
	t.Helper()
	srv := medplumtest.NewServer(t)
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "Patient"})
	e := clitest.SignedIn(t, srv)
	e.Run("bulk", "export", "-t", "Patient", "-d", "backup", "-q").ExpectCode(t, 0, "")
	return srv, e, readExport(t, e, "backup")
}

// .medplum-export.json is read by people (which job, of what, since when):
// its URLs are written as they are, not with & as \u0026 (a newcomer saw
// "$export?_type=Patient\u0026_since=...").
func TestExportStateKeepsURLsAsTheyAre(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.SetExportPolls(1 << 30) // a job that does not finish
	e := clitest.SignedIn(t, srv)
	interruptAfterPolls(t, srv, e, 1, "bulk", "export", "-d", "backup", "-t", "Patient,Observation", "-s", "2020-01-02").Expect(t, 130, "", "medplum: interrupted\n"+
		"run the same command again to resume the export (its job is kept in "+filepath.Join("backup", ".medplum-export.json")+"); --cancel deletes it on the server\n")
	b, err := os.ReadFile(filepath.Join(e.Home, "backup", ".medplum-export.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := `  "request": "` + srv.URL + `fhir/R4/$export?_since=2020-01-02&_type=Patient%2CObservation",` + "\n"
	if !strings.Contains(string(b), want) || strings.Contains(string(b), `\u00`) {
		t.Errorf(".medplum-export.json:\n%s\nwant the line\n%s", b, want)
	}
}

// interruptAfterPolls runs the export of args, interrupts it once the
// server has been polled polls times, and returns how it ended.
func interruptAfterPolls(t *testing.T, srv *medplumtest.Server, e *clitest.Env, polls int, args ...string) clitest.Result {
	t.Helper()
	p := e.Start(args...)
	deadline := time.Now().Add(20 * time.Second)
	for len(srv.RequestsTo("GET", "/fhir/R4/bulkdata/export/*")) < polls {
		if time.Now().After(deadline) {
			t.Fatalf("no polls: %s", p.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Signal(os.Interrupt)
	return p.Wait()
}
