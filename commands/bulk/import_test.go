package bulk_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// writeFile writes name under the test's home (the working directory of
// the commands it runs).
func writeFile(t *testing.T, e *clitest.Env, name, body string) string {
	t.Helper()
	p := filepath.Join(e.Home, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every line is checked before anything is sent; every problem names its
// file and line; exit 2.
func TestImportBadLinesSendNothing(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "good.ndjson", `{"resourceType":"Patient","id":"p1"}`+"\n")
	writeFile(t, e, "bad.ndjson", strings.Join([]string{
		`{"resourceType":"Patient","id":"p2"}`,
		``,
		`{"resourceType":"Patient","id":"p3"`,
		`["not an object"]`,
		`{"id":"x"}`,
		`{"resourceType":"patient"}`,
		`{"resourceType":"Patient","id":7}`,
		`{"resourceType":"Patient","id":"p1"}`,
	}, "\n")+"\n")
	srv.ResetRequests()
	before := srv.Count("Patient", srv.Seed.ProjectID)
	r := e.Run("bulk", "import", "good.ndjson", "bad.ndjson")
	r.Expect(t, 2, "", `medplum: 6 bad lines; nothing was sent:
bad.ndjson:3: not valid JSON (it ends too early)
bad.ndjson:4: not a JSON object
bad.ndjson:5: no resourceType
bad.ndjson:6: resourceType "patient" is not a resource type
bad.ndjson:7: resourceType and id must be strings
bad.ndjson:8: Patient/p1 appears again (first at good.ndjson:1)
`)
	clitest.ExpectNothingSent(t, srv)
	if n := srv.Count("Patient", srv.Seed.ProjectID); n != before {
		t.Errorf("%d Patients on the server", n)
	}
}
