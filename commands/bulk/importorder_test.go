package bulk_test

import (
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// Several Bundles are in flight, and each line says which Bundle it is
// as it is answered: a later Bundle answered first comes first (the
// engine reports in the order its journal records them, as invite reports
// its rows). A newcomer read "p.ndjson:3-3" before "p.ndjson:2-2" as
// the import going backwards; the line names its Bundle, numbered in the
// order they are sent, and its lines.
func TestImportBundleLinesSayWhichBundle(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "p.ndjson", `{"resourceType":"Patient","id":"a","name":[{"family":"Slow"}]}
{"resourceType":"Patient","id":"b","name":[{"family":"Quick"}]}
{"resourceType":"Patient","id":"c","name":[{"family":"Quick"}]}
`)
	hold := make(chan struct{})
	srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4", Body: `"Slow"`, Hold: hold})
	p := e.Start("bulk", "import", "p.ndjson", "--num-resources-per-request", "1", "--concurrency", "3")
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(p.Stdout(), "\n") < 2 {
		if time.Now().After(deadline) {
			close(hold)
			t.Fatalf("Bundles 2 and 3 were not answered while Bundle 1 was held: %q %q", p.Stdout(), p.Stderr())
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(hold)
	r := p.Wait()
	first, rest, _ := strings.Cut(r.Stdout, "\n")
	if first != "Bundle 2 (p.ndjson:2): 1 created, 0 already there, 0 failed" && first != "Bundle 3 (p.ndjson:3): 1 created, 0 already there, 0 failed" {
		t.Errorf("the first line: %q", first)
	}
	if !strings.HasSuffix(rest, "Bundle 1 (p.ndjson:1): 1 created, 0 already there, 0 failed\n") {
		t.Errorf("stdout:\n%s\nwant Bundle 1's line last", r.Stdout)
	}
	r.ExpectCode(t, 0, "imported 3 resources: 3 created, 0 already there, 0 failed\n")
}
