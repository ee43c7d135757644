package commands_test

import (
	"testing"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// A 429 that outlasts the client's retries is said in words, with the
// RateLimit header's wait, not as Medplum's "Too Many Requests (<the
// limiter's JSON>)"; so is one on the token request of a command.
func TestRateLimitedSaysWhenToTryAgain(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	// A wait past the client's 2-minute retry budget is not made.
	srv.Inject(medplumtest.Fault{Path: "/fhir/R4/Patient", Status: 429, RetryAfter: 3 * time.Minute})
	e.Run("get", "Patient").Expect(t, 1, "", "medplum: the server is rate limiting requests: try again in 180 seconds\n")
	if n := len(srv.RequestsTo("GET", "/fhir/R4/Patient")); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}

	// The token endpoint, once the server refuses Basic credentials.
	srv.SetBasicAuth(false)
	srv.Inject(medplumtest.Fault{Path: "/oauth2/token", Status: 429, RetryAfter: 150 * time.Second})
	e.Run("get", "Patient").Expect(t, 1, "",
		"medplum: client credentials sign-in for client "+srv.Seed.Client.ID+" failed: the server is rate limiting requests: try again in 150 seconds\n")
	if p := srv.PendingFaults(); len(p) != 0 {
		t.Errorf("faults not used: %v", p)
	}
}
