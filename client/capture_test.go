package client

import (
	"net/http"
	"testing"

	"github.com/medplumcli/medplum/client/internal/realcapture"
)

// loadCapture reads one response recorded from a real Medplum 5.0.10 server
// (testdata/real-server at the repository's root).
func loadCapture(t testing.TB, name string) capture {
	t.Helper()
	c, err := realcapture.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return capture{c}
}

type capture struct{ realcapture.Capture }

// replay answers every request with the capture.
func (c capture) replay() http.HandlerFunc { return c.Replay() }
