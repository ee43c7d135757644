package rest_test

import (
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// A server that takes the request and never answers: each attempt ends
// after --timeout (or MEDPLUM_TIMEOUT), the message names the host and the
// wait, and the exit code is 1. A GET is tried again, as after a dropped
// connection; a POST is sent once (the server may have acted on it, which
// the hint says). The bearer token from the environment keeps the token
// endpoint out of it, so every request the command makes is held.
func TestTimeoutWhenTheServerNeverAnswers(t *testing.T) {
	srv := medplumtest.NewServer(t)
	never := make(chan struct{})
	t.Cleanup(func() { close(never) })
	srv.Inject(medplumtest.Fault{Path: "/fhir/R4/Patient", Times: 100, Hold: never})
	host := strings.TrimSuffix(strings.TrimPrefix(srv.URL, "http://"), "/")
	e := clitest.New(t)
	e.Set("MEDPLUM_BASE_URL", srv.URL)
	e.Set("MEDPLUM_CLIENT_ACCESS_TOKEN", srv.IssueToken(srv.Seed.Client.MembershipID))
	const wait = "the server is slow or unreachable; --timeout (or MEDPLUM_TIMEOUT) sets a longer wait\n"

	e.Run("get", "Patient", "--timeout", "300ms").Expect(t, 1, "",
		"medplum: GET "+srv.URL+"fhir/R4/Patient: no answer from "+host+" within 300ms (4 attempts)\n"+wait)
	clitest.ExpectPaths(t, srv, "GET /fhir/R4/Patient", "GET /fhir/R4/Patient", "GET /fhir/R4/Patient", "GET /fhir/R4/Patient")

	srv.ResetRequests()
	before := srv.Count("Patient", srv.Seed.ProjectID)
	e.Set("MEDPLUM_TIMEOUT", "0.3")
	e.Run("post", "Patient", `{"resourceType":"Patient"}`).Expect(t, 1, "",
		"medplum: POST "+srv.URL+"fhir/R4/Patient: no answer from "+host+" within 300ms\n"+
			"the server may have done it anyway: check before sending it again; "+wait)
	clitest.ExpectPaths(t, srv, "POST /fhir/R4/Patient")
	if n := srv.Count("Patient", srv.Seed.ProjectID) - before; n != 0 {
		t.Errorf("the held POST was handled: %d Patients made", n)
	}
}

// A timeout that is not a duration is a usage error, found before anything
// is sent; the flag wins over the environment.
func TestTimeoutRefusesBadValues(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	e.Run("get", "Patient", "--timeout", "soon").Expect(t, 2, "",
		`medplum: --timeout "soon": want a duration such as 90s or 2m, or a number of seconds; 0 waits forever`+"\n")
	e.Set("MEDPLUM_TIMEOUT", "-5s")
	e.Run("get", "Patient").Expect(t, 2, "",
		`medplum: MEDPLUM_TIMEOUT "-5s": want a duration such as 90s or 2m, or a number of seconds; 0 waits forever`+"\n")
	clitest.ExpectNothingSent(t, srv)
	out := e.Run("get", "Patient", "--timeout", "0", "-o", "json").ExpectCode(t, 0, "")
	if !strings.Contains(out, `"resourceType": "Bundle"`) {
		t.Errorf("--timeout 0 (no limit): %s", out)
	}
}
