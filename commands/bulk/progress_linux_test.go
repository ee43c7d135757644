package bulk_test

import (
	"regexp"
	"testing"

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
