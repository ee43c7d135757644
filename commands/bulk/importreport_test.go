package bulk_test

import (
	"os"
	"path/filepath"
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
	if r.Code != 3 {
		t.Fatalf("exit %d, want 3\n%s", r.Code, r.Stderr)
	}
	want := "file,line,resource,result,status,id,error\n" +
		"'=1+2.ndjson,1,Patient/@c,failed,412,,Multiple resources found matching condition\n"
	if got, err := os.ReadFile(filepath.Join(e.Home, "report.csv")); err != nil || string(got) != want {
		t.Errorf("report.csv (%v):\n%s\nwant:\n%s", err, got, want)
	}
}
