package bulk_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// --report goes through -o csv's writer: a cell a spreadsheet would run as
// a formula (here the input file's name) is written with a leading ', as
// every other CSV medplum writes.
func TestImportReportNeutralisesFormulas(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "=1+2.ndjson", `{"resourceType":"Patient","id":"@c","identifier":[{"system":"urn:test:mrn","value":"twice"}]}`+"\n")
	// Two Patients have the identifier already: the import's create of the
	// line fails (412), so the row carries the server's message too.
	for range 2 {
		srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "Patient", "identifier": []any{map[string]any{"system": "urn:test:mrn", "value": "twice"}}})
	}
	r := e.Run("bulk", "import", "=1+2.ndjson", "--report", "report.csv", "-q")
	// (and the one resource is "1 of 1 resource", not "resources")
	if r.Code != 3 || !strings.HasSuffix(r.Stderr, "medplum: 1 of 1 resource failed (listed above); correct them and run the import again: what was imported is found, not created again\n") {
		t.Fatalf("exit %d, want 3\n%s", r.Code, r.Stderr)
	}
	want := "file,line,resource,result,status,id,error\n" +
		"'=1+2.ndjson,1,Patient/@c,failed,412,,Multiple resources found matching condition\n"
	if got, err := os.ReadFile(filepath.Join(e.Home, "report.csv")); err != nil || string(got) != want {
		t.Errorf("report.csv (%v):\n%s\nwant:\n%s", err, got, want)
	}
}

// A --report in a directory that is not there is said before anything is
// read or sent, naming the directory, as --state's is (exit 2, no hint
// about the network: it was "open nodir/.x.csv.123: no such file or
// directory" and "check that the server is up" after the check and
// /auth/me).
func TestImportReportDirectoryMissing(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "one.ndjson", `{"resourceType":"Patient","id":"r1"}`+"\n")
	e.Run("bulk", "import", "one.ndjson", "--report", "nodir/x.csv").
		Expect(t, 2, "", "medplum: --report nodir/x.csv: no directory nodir\n")
	clitest.ExpectNothingSent(t, srv)
	// A file where the directory should be is no directory either.
	writeFile(t, e, "afile", "")
	e.Run("bulk", "import", "one.ndjson", "--report", "afile/x.csv").
		Expect(t, 2, "", "medplum: --report afile/x.csv: no directory afile\n")
	clitest.ExpectNothingSent(t, srv)
}

// A run refused before anything is sent replaces an earlier run's report
// with one holding only the header: the CSV a CI job archives is this
// run's (nothing answered), never a stale one beside a failed exit code.
func TestImportRefusedReplacesAnOldReport(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "bad.ndjson", `{"resourceType":"Pateint","id":"p1"}`+"\n")
	writeFile(t, e, "report.csv", "file,line,resource,result,status,id,error\nold.ndjson,1,Patient/p0,created,201,Patient/x,\n")
	e.Run("bulk", "import", "bad.ndjson", "--report", "report.csv").
		Expect(t, 2, "", "medplum: 1 bad line; nothing was sent:\n"+
			"bad.ndjson:1: resourceType \"Pateint\" is not a resource type; did you mean Patient?\n")
	clitest.ExpectNothingSent(t, srv)
	want := "file,line,resource,result,status,id,error\n"
	if got, err := os.ReadFile(filepath.Join(e.Home, "report.csv")); err != nil || string(got) != want {
		t.Errorf("report.csv (%v):\n%s\nwant:\n%s", err, got, want)
	}
}
