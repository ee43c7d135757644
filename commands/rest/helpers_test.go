package rest_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
)

// newRecorder is "another host": it records the headers of each request and
// answers body. It returns its base URL.
func newRecorder(t *testing.T, got *[]http.Header, body string) string {
	t.Helper()
	var mu sync.Mutex
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*got = append(*got, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/fhir+json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(hs.Close)
	return hs.URL + "/"
}

// waitForRequest waits until the server has received a request (it is then
// held by the server's latency), failing after a generous deadline.
func waitForRequest(t *testing.T, srv *medplumtest.Server) {
	t.Helper()
	waitForRequests(t, srv, 1)
}

// waitForRequests waits until the server has seen n requests in all.
func waitForRequests(t *testing.T, srv *medplumtest.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(srv.Requests()) < n {
		if time.Now().After(deadline) {
			t.Fatal("no request reached the server")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
