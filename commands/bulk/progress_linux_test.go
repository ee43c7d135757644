package bulk_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// The status line while the export job runs counts the polls; the elapsed
// time is the one the status line adds, not said twice ("waiting for the
// export: 1s, 4 polls (1s)").
func TestExportPollingLineSaysTheTimeOnce(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.SetExportPolls(3)
	e := clitest.SignedIn(t, srv)
	r := e.RunStderrOnPTY("bulk", "export", "-t", "Patient", "-d", "b")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if !regexp.MustCompile(`waiting for the export: [0-9]+ polls? \([0-9]+s\)`).MatchString(r.Stderr) ||
		regexp.MustCompile(`waiting for the export: [0-9]+s`).MatchString(r.Stderr) {
		t.Errorf("the terminal showed:\n%q", r.Stderr)
	}
}

// A 429 is said on the status line for the time it is waited out, which
// looked like a hang ("imported 117 of 951 resources (2s)" for 26 s).
func TestImportStatusLineSaysItWaitsForTheRateLimit(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "p.ndjson", patients("rl", 3))
	srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4", Status: 429, RetryAfter: 2 * time.Second})
	r := e.RunStderrOnPTY("bulk", "import", "p.ndjson", "--concurrency", "1")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "imported 0 of 3 resources; waiting 2s for the server's rate limit (") {
		t.Errorf("the terminal showed:\n%q", r.Stderr)
	}
}

// The status line's count agrees with its number: "imported 0 of 1
// resource", not "of 1 resources".
func TestImportStatusLineCountsOneResource(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "p.ndjson", patients("one", 1))
	srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4", Status: 429, RetryAfter: time.Second})
	r := e.RunStderrOnPTY("bulk", "import", "p.ndjson", "--concurrency", "1")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "imported 0 of 1 resource; waiting 1s for the server's rate limit (") || strings.Contains(r.Stderr, "1 resources") {
		t.Errorf("the terminal showed:\n%q", r.Stderr)
	}
}
