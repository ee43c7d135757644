package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
)

// A server that takes a request and never answers (a fault held forever)
// fails each attempt after the timeout with a *TimeoutError naming the
// host. Requests that are safe to repeat are retried like a dropped
// connection; a POST is sent once, and was not handled.
func TestTimeoutWhenTheServerNeverAnswers(t *testing.T) {
	never := make(chan struct{}) // closed at the end: the server's handlers return
	t.Cleanup(func() { close(never) })
	const patient = `{"resourceType":"Patient","name":[{"family":"Timeout"}]}`
	cases := []struct {
		name       string
		req        client.Request
		path       string
		drop       medplumtest.DropMode
		wantSent   int
		wantErr    string // after `METHOD "URL": `
		wantTries  int
		wantStored int // Patients the server stored
	}{
		{"GET retried", client.Request{URL: "Patient"}, "/fhir/R4/Patient", medplumtest.NoDrop, 3,
			"no answer from HOST within 200ms (3 attempts)", 2, 0},
		{"POST sent once", client.Request{Method: "POST", URL: "Patient", Body: []byte(patient)}, "/fhir/R4/Patient", medplumtest.NoDrop, 1,
			"no answer from HOST within 200ms", 0, 0},
		{"POST handled, answer never sent, not repeated", client.Request{Method: "POST", URL: "Patient", Body: []byte(patient)}, "/fhir/R4/Patient", medplumtest.DropAfterHandling, 1,
			"no answer from HOST within 200ms", 0, 1},
		{"idempotent POST retried", client.Request{Method: "POST", URL: "Patient/_search", Body: []byte("name=x"), ContentType: client.ContentTypeForm, Idempotent: true},
			"/fhir/R4/Patient/_search", medplumtest.NoDrop, 3, "no answer from HOST within 200ms (3 attempts)", 2, 0},
		{"GET whose answer stalls half-way", client.Request{URL: "Patient"}, "/fhir/R4/Patient", medplumtest.StallMidResponse, 3,
			"the answer from HOST stopped for 200ms before it was complete (3 attempts)", 2, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			retry := fast
			retry.MaxAttempts = 3
			e.c = e.client(t, client.Options{Auth: e.auth, Retry: retry, Trace: e.trace.add, Timeout: 200 * time.Millisecond})
			method := tc.req.Method
			if method == "" {
				method = "GET"
			}
			e.srv.Inject(medplumtest.Fault{Method: method, Path: tc.path, Times: 100, Drop: tc.drop, Hold: never})
			before := e.srv.Count("Patient", e.srv.Seed.ProjectID)

			resp, err := e.c.Do(context.Background(), &tc.req)
			u, _ := e.c.ResolveURL(tc.req.URL)
			host := strings.TrimSuffix(strings.TrimPrefix(e.srv.URL, "http://"), "/")
			want := method + " \"" + u + "\": " + strings.ReplaceAll(tc.wantErr, "HOST", host)
			var ue *url.Error
			if resp != nil || err == nil || err.Error() != want || !errors.As(err, &ue) {
				t.Fatalf("Do = %v, %v; want the error\n%s", resp, err, want)
			}
			var te *client.TimeoutError
			var ne net.Error
			if !errors.As(err, &te) || te.Host != host || te.After != 200*time.Millisecond || !client.IsTimeout(err) ||
				!errors.As(err, &ne) || !ne.Timeout() || client.AsError(err) != nil {
				t.Errorf("the error is not a timeout: %#v", err)
			}
			if sent := len(e.srv.RequestsTo(method, tc.path)); sent != tc.wantSent {
				t.Errorf("the server saw %d requests, want %d", sent, tc.wantSent)
			}
			if got := e.trace.count("retry "); got != tc.wantTries {
				t.Errorf("the trace shows %d retries, want %d:\n%s", got, tc.wantTries, e.trace)
			}
			why, _, _ := strings.Cut(strings.ReplaceAll(tc.wantErr, "HOST", host), " (")
			if tc.wantTries > 0 && !strings.Contains(e.trace.String(), "\nretry 2/2 of "+method+" "+u+" in ") ||
				e.trace.count("! "+method+" "+u+": "+why) != tc.wantSent {
				t.Errorf("the trace does not show each timeout (%q) and the retries:\n%s", why, e.trace)
			}
			if n := e.srv.Count("Patient", e.srv.Seed.ProjectID) - before; n != tc.wantStored {
				t.Errorf("the server stored %d Patients, want %d", n, tc.wantStored)
			}
		})
	}
}

// A timed-out attempt that is retried can succeed: the timeout is per
// attempt, not for the whole Do.
func TestTimeoutThenAnswer(t *testing.T) {
	never := make(chan struct{})
	t.Cleanup(func() { close(never) })
	e := newEnv(t)
	// A generous timeout: only the held attempt may run out of it.
	e.c = e.client(t, client.Options{Auth: e.auth, Retry: fast, Trace: e.trace.add, Timeout: 2 * time.Second})
	e.srv.Inject(medplumtest.Fault{Method: "GET", Path: "/fhir/R4/ProjectMembership/*", Hold: never})
	resp, err := e.c.Do(context.Background(), &client.Request{URL: e.homerURL()})
	if err != nil || resp.Status != 200 || resp.Attempts != 2 {
		t.Fatalf("Do = %+v, %v; want the second attempt's answer", resp, err)
	}
	if !strings.Contains(e.trace.String(), ": no answer from ") || e.trace.count("retry 1/3 of GET ") != 1 {
		t.Errorf("trace:\n%s", e.trace)
	}
}

// The timeout bounds the pauses in an answer, not its length: a body that
// keeps arriving for longer than the timeout is read to its end.
func TestTimeoutIsPerPauseWhileTheBodyArrives(t *testing.T) {
	const chunks, pause, timeout = 12, 50 * time.Millisecond, 300 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"resourceType":"Bundle","entry":[`))
		for i := range chunks {
			w.(http.Flusher).Flush()
			time.Sleep(pause)
			if i > 0 {
				w.Write([]byte(","))
			}
			w.Write([]byte(`{}`))
		}
		w.Write([]byte(`]}`))
	}))
	defer srv.Close()
	c, err := client.New(client.Options{BaseURL: srv.URL, Timeout: timeout, Retry: client.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(context.Background(), &client.Request{URL: "Patient"})
	if err != nil || resp.Attempts != 1 || !strings.HasSuffix(string(resp.Body), `{},{}]}`) || resp.Duration < chunks*pause {
		t.Fatalf("Do = %+v, %v; want the whole body, read over %v with pauses of %v", resp, err, chunks*pause, pause)
	}
}

// A silent server that is not the base's (a next link or a pasted URL to
// another host) is the one the timeout names.
func TestTimeoutNamesTheHostThatWasSilent(t *testing.T) {
	never := make(chan struct{})
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-never:
		case <-r.Context().Done():
		}
	}))
	defer other.Close()
	defer close(never)
	c, err := client.New(client.Options{BaseURL: "http://127.0.0.1:1/", Timeout: 100 * time.Millisecond, Retry: client.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(context.Background(), &client.Request{URL: other.URL + "/fhir/R4/Patient"})
	var te *client.TimeoutError
	host := strings.TrimPrefix(other.URL, "http://")
	if !errors.As(err, &te) || te.Host != host || te.Error() != "no answer from "+host+" within 100ms" {
		t.Errorf("err = %v; want a timeout naming %s", err, host)
	}
}

// Ctrl-C while the server is silent is an interruption, not a timeout.
func TestTimeoutYieldsToCancel(t *testing.T) {
	never := make(chan struct{})
	t.Cleanup(func() { close(never) })
	e := newEnv(t)
	e.c = e.client(t, client.Options{Auth: e.auth, Retry: fast, Timeout: time.Hour})
	e.srv.Inject(medplumtest.Fault{Method: "GET", Hold: never})
	_, err := e.c.Do(e.cancelOnFirstRequest(), &client.Request{URL: e.homerURL()})
	if !errors.Is(err, context.Canceled) || client.IsTimeout(err) || len(e.srv.Requests()) != 1 {
		t.Errorf("err = %v after %d requests", err, len(e.srv.Requests()))
	}
}

func TestTimeoutOption(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{0: client.DefaultTimeout, -1: 0, time.Second: time.Second} {
		c, err := client.New(client.Options{BaseURL: "https://example.com/", Timeout: in})
		if err != nil || c.Timeout() != want {
			t.Errorf("Timeout %v: Timeout() = %v, %v; want %v", in, c.Timeout(), err, want)
		}
	}
	if client.DefaultTimeout != time.Minute {
		t.Errorf("DefaultTimeout = %v", client.DefaultTimeout)
	}
}
