package bulk_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// twoTypes is a source project with Patients and Observations pointing at
// them, and a second sandbox to import into.
func twoTypes(t *testing.T, n int) (from, to *medplumtest.Server, ex, im *clitest.Env) {
	t.Helper()
	from, to = medplumtest.NewServer(t), medplumtest.NewServer(t)
	for i := range n {
		p := from.Create(from.Seed.ProjectID, client.Resource{"resourceType": "Patient"})
		from.Create(from.Seed.ProjectID, client.Resource{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "x"},
			"subject": map[string]any{"reference": "Patient/" + p.ID()}, "valueInteger": i})
	}
	return from, to, clitest.SignedIn(t, from), clitest.SignedIn(t, to)
}

// An export killed while it downloaded (its manifest.json lists files that
// are not there) is refused, naming the missing files and the command that
// finishes it, nothing sent; --allow-incomplete imports what is there; once
// the export is finished, the import takes it all.
func TestImportRefusesAnUnfinishedExport(t *testing.T) {
	from, to, ex, im := twoTypes(t, 3)
	hold := make(chan struct{})
	defer close(hold)
	from.Inject(medplumtest.Fault{Method: "GET", Path: "/storage/*/*", Skip: 1, Times: 1, Drop: medplumtest.StallMidResponse, Hold: hold})
	p := ex.Start("bulk", "export", "-t", "Patient,Observation", "-d", "part", "--concurrency", "1", "-q")
	deadline := time.Now().Add(20 * time.Second)
	for len(from.RequestsTo("GET", "/storage/*/*")) < 2 || strings.Count(p.Stdout(), " is created\n") < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the second download never started: %s", p.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Kill()
	x := readExport(t, ex, "part")
	var have, missing []string
	for _, path := range x.paths {
		if _, err := os.Stat(path); err == nil {
			have = append(have, path)
		} else {
			missing = append(missing, filepath.Base(path))
		}
	}
	if len(have) != 1 || len(missing) != 1 {
		t.Fatalf("after kill -9: %v there, %v missing", have, missing)
	}
	dir := filepath.Join(ex.Home, "part")
	refusal := "medplum: " + dir + " is an unfinished export: its manifest.json lists 2 files, 1 not there (" + missing[0] + "); nothing was sent. " +
		"Finish the export first: run `medplum bulk export -d " + dir + " -t Patient,Observation` again, with the profile it was made with: it resumes the same job and downloads only the missing files. " +
		"--allow-incomplete imports the files that are there\n"
	to.ResetRequests()
	im.Run("bulk", "import", dir).Expect(t, 2, "", refusal)
	clitest.ExpectNothingSent(t, to)
	// Its files named one by one are the same export.
	im.Run("bulk", "import", have[0]).Expect(t, 2, "", refusal)
	clitest.ExpectNothingSent(t, to)

	// The Observations come first (their references to the Patients not
	// there are kept as they are), the Patients later.
	if !strings.HasPrefix(filepath.Base(have[0]), "Observation_") {
		t.Fatalf("the first file downloaded is %s", have[0])
	}
	patients := from.Count("Patient", from.Seed.ProjectID)
	pBefore := to.Count("Patient", to.Seed.ProjectID)
	r := im.Run("bulk", "import", dir, "--allow-incomplete", "-q")
	r.ExpectCode(t, 0, "imported 3 resources: 3 created, 0 already there, 0 failed; 3 references point at resources not in the input, kept as they were\n")

	// Finished, it is imported whole: what came before is found and left
	// as it is, pointing at the source's ids (which is why an unfinished
	// export is refused).
	ex.Run("bulk", "export", "-t", "Patient,Observation", "-d", "part", "-q").ExpectCode(t, 0, "")
	r = im.Run("bulk", "import", dir, "-q")
	r.ExpectCode(t, 0, fmt.Sprintf("imported %d resources: %d created, 3 already there, 0 failed; 3 already there point at old ids of the input (left as the server has them)\n", patients+3, patients))
	if n, m := to.Count("Patient", to.Seed.ProjectID)-pBefore, to.Count("Observation", to.Seed.ProjectID); m != 3 || n != patients {
		t.Errorf("%d Patients, %d Observations imported", n, m)
	}
}

// A finished export whose job was forgotten (--cancel) is not exported
// into again (a second export next to it would double every resource in
// the directory) unless --restart replaces it; an unfinished one whose job
// was forgotten says to export again with --restart; an import of a
// directory holding two exports says so.
func TestExportAndImportOfAForgottenJob(t *testing.T) {
	from, to, ex, im := twoTypes(t, 2)
	ex.Run("bulk", "export", "-t", "Patient,Observation", "-d", "b", "-q").ExpectCode(t, 0, "")
	first := readExport(t, ex, "b")
	if r := ex.Run("bulk", "export", "-d", "b", "--cancel", "-t", "Patient,Observation"); r.Code != 0 {
		t.Fatalf("--cancel: exit %d %s", r.Code, r.Stderr)
	}
	from.ResetRequests()
	ex.Run("bulk", "export", "-t", "Patient,Observation", "-d", "b", "-q").Expect(t, 2, "",
		"medplum: b holds an export already (its manifest.json lists 2 files there) and no .medplum-export.json: another export would put a second copy of its resources next to it; "+
			"export into another directory, or use --restart to replace it\n")
	clitest.ExpectNothingSent(t, from)

	// A second export written next to it (as main did): the check's
	// "appears again" lines come with what they mean.
	if err := os.Rename(filepath.Join(ex.Home, "b"), filepath.Join(ex.Home, "old")); err != nil {
		t.Fatal(err)
	}
	ex.Run("bulk", "export", "-t", "Patient,Observation", "-d", "b", "-q").ExpectCode(t, 0, "")
	for _, p := range first.paths {
		b, err := os.ReadFile(filepath.Join(ex.Home, "old", filepath.Base(p)))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, ex, filepath.Join("b", filepath.Base(p)), string(b))
	}
	dir := filepath.Join(ex.Home, "b")
	to.ResetRequests()
	r := im.Run("bulk", "import", dir, "-q")
	var extra []string
	for _, p := range first.paths {
		extra = append(extra, filepath.Base(p))
	}
	slices.Sort(extra)
	if r.Code != 2 || !strings.HasSuffix(r.Stderr, "\nmedplum: "+dir+" may hold two exports in one directory: its manifest.json lists 2 files, and 2 .ndjson files there are not one of them ("+
		strings.Join(extra, ", ")+"); import the files of one export (name them), or export again into an empty directory\n") ||
		!strings.Contains(r.Stderr, " appears again (first at ") {
		t.Errorf("exit %d\n%s", r.Code, r.Stderr)
	}
	clitest.ExpectNothingSent(t, to)

	// --restart replaces the forgotten export's files.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(ex.Home, "old"), dir); err != nil {
		t.Fatal(err)
	}
	r = ex.Run("bulk", "export", "-t", "Patient,Observation", "-d", "b", "--restart")
	x := readExport(t, ex, "b")
	expectFiles(t, r, x, "medplum: removed the 2 files of the previous export: "+filepath.Base(first.paths[0])+", "+filepath.Base(first.paths[1])+"\n"+x.summary(t, "b", 2, 0))
	left, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	if len(left) != 2 {
		t.Errorf("files after --restart: %v", left)
	}

	// Unfinished, with its job forgotten: export again with --restart.
	if err := os.Remove(x.paths[1]); err != nil {
		t.Fatal(err)
	}
	if r := ex.Run("bulk", "export", "-d", "b", "--cancel", "-t", "Patient,Observation"); r.Code != 0 {
		t.Fatalf("--cancel: exit %d %s", r.Code, r.Stderr)
	}
	im.Run("bulk", "import", dir).Expect(t, 2, "", "medplum: "+dir+" is an unfinished export: its manifest.json lists 2 files, 1 not there ("+filepath.Base(x.paths[1])+"); nothing was sent. "+
		"Its export job is forgotten (no .medplum-export.json: cancelled?): export again with `medplum bulk export -d "+dir+" --restart`, with the flags it was made with. "+
		"--allow-incomplete imports the files that are there\n")
}

// -t naming Binary next to exportable types warns up front, even with -q,
// that the export will not hold it; no "no such resources" note for it.
func TestExportOfBinarySaysItIsNeverExported(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "Binary", "contentType": "text/plain"})
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "DocumentReference", "status": "current"})
	e := clitest.SignedIn(t, srv)
	warn := `medplum: warning: Medplum's $export never holds Binary: this export will not either (attachments: the DocumentReferences, Media and the like of a backup point at them as "Binary/<id>", their content is not in it; fetch each with: medplum get Binary/<id> -o ndjson)` + "\n"
	r := e.Run("bulk", "export", "-t", "Binary,DocumentReference,Flag", "-d", "bin")
	x := readExport(t, e, "bin")
	if len(x.paths) != 1 {
		t.Fatalf("files: %v", x.paths)
	}
	expectFiles(t, r, x, warn+x.summary(t, "bin", 1, 0)+"medplum: note: nothing exported for Flag (no such resources)\n")
	r = e.Run("bulk", "export", "-t", "Binary,DocumentReference", "-d", "bin2", "-q")
	expectFiles(t, r, readExport(t, e, "bin2"), warn)
}

// An import of a backup whose DocumentReferences point at Binaries (which
// an export never holds) warns, before anything is sent, how many; with
// the Binaries added to the input (medplum get Binary/<id> -o ndjson), it
// creates them and points the attachments at them.
func TestImportOfAttachmentsWithoutTheirBinaries(t *testing.T) {
	from := medplumtest.NewServer(t)
	bin := from.Create(from.Seed.ProjectID, client.Resource{"resourceType": "Binary", "contentType": "text/plain", "data": "aGVsbG8K"})
	for range 2 {
		from.Create(from.Seed.ProjectID, client.Resource{"resourceType": "DocumentReference", "status": "current",
			"content": []any{map[string]any{"attachment": map[string]any{"contentType": "text/plain", "url": "Binary/" + bin.ID()}}}})
	}
	ex := clitest.SignedIn(t, from)
	ex.Run("bulk", "export", "-t", "DocumentReference", "-d", "docs", "-q").ExpectCode(t, 0, "")
	dir := filepath.Join(ex.Home, "docs")

	to := medplumtest.NewServer(t)
	im := clitest.SignedIn(t, to)
	r := im.Run("bulk", "import", dir, "-q")
	r.ExpectCode(t, 0, `medplum: warning: 2 "Binary/<id>" references of the input name 1 Binary resource it does not hold (attachments: Medplum's $export never holds Binary): `+
		"they will point at nothing here. To bring them, add each to the input from the project it came from (medplum get Binary/<id> -o ndjson >> DIR/Binary.ndjson): the import creates them and points the references at them\n"+
		"imported 2 resources: 2 created, 0 already there, 0 failed; 2 references point at resources not in the input, kept as they were\n")

	got := ex.Run("get", "Binary/"+bin.ID(), "-o", "ndjson")
	got.ExpectCode(t, 0, "")
	writeFile(t, ex, "docs/Binary.ndjson", got.Stdout)
	to2 := medplumtest.NewServer(t)
	im2 := clitest.SignedIn(t, to2)
	r = im2.Run("bulk", "import", dir, "-q")
	r.ExpectCode(t, 0, "imported 3 resources: 3 created, 0 already there, 0 failed\n")
	bins := to2.Resources("Binary", to2.Seed.ProjectID)
	docs := to2.Resources("DocumentReference", to2.Seed.ProjectID)
	if len(bins) != 1 || len(docs) != 2 {
		t.Fatalf("%d Binaries, %d DocumentReferences", len(bins), len(docs))
	}
	for _, d := range docs {
		u, _ := d["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)["url"].(string)
		if u != "Binary/"+bins[0].ID() {
			t.Errorf("DocumentReference %s: attachment url %q, want Binary/%s", d.ID(), u, bins[0].ID())
		}
	}
}

// The lines of an export carry meta.project: the guard against importing
// an export into the project it came from holds without its
// .medplum-export.json (cancelled, copied without dotfiles) and for stdin;
// --restore takes it into that project, and refuses it into another.
func TestImportRefusesLinesOfTheProjectTheyCameFrom(t *testing.T) {
	p, e, c := clitest.OwnProject(t, "bulk-import-lines")
	ctx := t.Context()
	for _, n := range []string{"One", "Two"} {
		if _, err := c.CreateResource(ctx, client.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": "Lines" + n}}}); err != nil {
			t.Fatal(err)
		}
	}
	e.Run("bulk", "export", "-t", "Patient", "-d", "b", "-q").ExpectCode(t, 0, "")
	x := readExport(t, e, "b")
	if err := os.Remove(filepath.Join(e.Home, "b", ".medplum-export.json")); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(x.paths[0])
	if err != nil {
		t.Fatal(err)
	}
	n := strings.Count(strings.TrimSpace(string(body)), "\n") + 1
	refusal := func(at string) string {
		return fmt.Sprintf("medplum: %d lines of the input (the first at %s:1) carry meta.project %s: exported from the project you are importing into; nothing was sent: "+
			"its resources are here already, and those without an identifier would be created again (a plain import finds a resource again by its identifiers only, never by its id). "+
			"To restore what was deleted since, run it again with --restore; to copy it, import it into another project (-p PROFILE, or sign in to it)\n", n, at, p.ProjectID)
	}
	sent := func() {
		t.Helper()
		if p.Sandbox != nil {
			clitest.ExpectPaths(t, p.Sandbox, "GET /auth/me")
			p.Sandbox.ResetRequests()
		}
	}
	if p.Sandbox != nil {
		p.Sandbox.ResetRequests()
	}
	e.Run("bulk", "import", "b").Expect(t, 2, "", refusal(filepath.Join("b", filepath.Base(x.paths[0]))))
	sent()
	e.RunStdin(string(body), "bulk", "import", "-").Expect(t, 2, "", refusal("stdin"))
	sent()
	if pats, err := c.SearchAll(ctx, "Patient?_count=100"); err != nil || len(pats) != n {
		t.Errorf("%d Patients in the project (%v), want %d", len(pats), err, n)
	}
	e.Run("bulk", "import", "b", "--restore", "-q").ExpectCode(t, 0, fmt.Sprintf("imported %d resources: 0 created, 0 restored with their ids, %d already there, 0 failed\n", n, n))

	q := p.NewProject(t, "", p.Unique("bulk-import-lines-other"))
	q.SignedIn(t).Run("bulk", "import", filepath.Join(e.Home, "b"), "--restore").Expect(t, 2, "",
		fmt.Sprintf("medplum: %d lines of the input (the first at %s:1) carry meta.project %s, and none the project you are importing into (%s); nothing was sent: "+
			"--restore finds resources by the ids they have in the project they came from. Import it without --restore to copy it here\n", n, x.paths[0], p.ProjectID, q.ProjectID))
}

// A refused import says only why: not the resources it would have left
// out (nothing was sent).
func TestRefusedImportDoesNotListWhatItLeavesOut(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	e.Run("bulk", "export", "-d", "w", "-q").ExpectCode(t, 0, "")
	srv.ResetRequests()
	e.Run("bulk", "import", "w", "-q").Expect(t, 2, "", "medplum: "+filepath.Join("w", ".medplum-export.json")+" says this input is an export of project "+srv.Seed.ProjectID+" on "+srv.URL+
		", the project you are importing into; nothing was sent: its resources are here already, and those without an identifier would be created again (a plain import finds a resource again by its identifiers only, never by its id). "+
		"To restore what was deleted since, run it again with --restore; to copy it, import it into another project (-p PROFILE, or sign in to it)\n")
	clitest.ExpectPaths(t, srv, "GET /auth/me")
}

// A local disk error is not followed by the hint for network errors.
func TestExportDiskErrorHasNoNetworkHint(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "afile", "x")
	e.Run("bulk", "export", "-q", "-d", "afile/sub").Expect(t, 1, "", "medplum: open "+filepath.Join("afile", "sub", ".medplum-export.json")+": not a directory\n")
}

// Ctrl-C while a Bundle's last entries wait out a 429 counts what the
// server already created for its first ones ("imported 0 resources" while
// 54 were created).
func TestImportInterruptedHalfwayCountsWhatWasCreated(t *testing.T) {
	now := time.Now()
	srv := medplumtest.NewServer(t, medplumtest.WithClock(func() time.Time { return now }))
	e := clitest.SignedIn(t, srv)
	// The lookup (20 points) and three creates (100 each): the fourth and
	// fifth are answered 429, and the clock never reaches the next minute.
	srv.SetFHIRQuota(320)
	writeFile(t, e, "q.ndjson", patients("half", 5))
	before := srv.Count("Patient", srv.Seed.ProjectID)
	p := e.Start("bulk", "import", "q.ndjson", "--concurrency", "1")
	deadline := time.Now().Add(20 * time.Second)
	// The Bundle answered (three created, two 429s): the import waits
	// out the quota's minute, which this clock never ends.
	for srv.Count("Patient", srv.Seed.ProjectID)-before < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the Bundle was not answered: %s", p.Stderr())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	p.Signal(os.Interrupt)
	r := p.Wait()
	if n := srv.Count("Patient", srv.Seed.ProjectID) - before; n != 3 {
		t.Fatalf("%d Patients created, want 3", n)
	}
	r.Expect(t, 130, "", "imported 0 resources: 0 created, 0 already there, 0 failed; 3 more answered in Bundles stopped half-way (3 created, 0 already there), which the next run finds\n"+
		"medplum: interrupted\n")
}
