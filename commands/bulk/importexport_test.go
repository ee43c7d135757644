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
	r.ExpectCode(t, 0, "imported 3 resources: 3 created, 0 already there, 0 failed\n")

	// Finished, it is imported whole: what came before is found, and
	// pointed at the Patients.
	ex.Run("bulk", "export", "-t", "Patient,Observation", "-d", "part", "-q").ExpectCode(t, 0, "")
	r = im.Run("bulk", "import", dir, "-q")
	r.ExpectCode(t, 0, fmt.Sprintf("imported %d resources: %d created, 3 already there, 0 failed; 3 updated to point at resources sent after them\n", patients+3, patients))
	if n, m := to.Count("Patient", to.Seed.ProjectID)-pBefore, to.Count("Observation", to.Seed.ProjectID); m != 3 || n != patients {
		t.Errorf("%d Patients, %d Observations imported", n, m)
	}
	for _, o := range to.Resources("Observation", to.Seed.ProjectID) {
		if to.Resource("Patient", strings.TrimPrefix(refOf(o, "subject"), "Patient/")) == nil {
			t.Errorf("Observation %s points at %q", o.ID(), refOf(o, "subject"))
		}
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
