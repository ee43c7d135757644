package medplumtest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/medplumcli/medplum/client"
)

// Async batches (async-batch.ts, workers/batch.ts, fhir/job.ts), as 5.0.10
// answers them:
//
//   - POST fhir/R4 with Prefer: respond-async and a batch (or, outside the
//     transaction-bundles feature, a transaction) answers 202 with
//     Content-Location fhir/R4/job/<id>/status and an "accepted"
//     OperationOutcome whose diagnostics is that URL; no fhirInteractions
//     RateLimit header (capture 403). The AsyncJob it creates is a write
//     through the caller's repository, 100 quota points: with the quota
//     spent, the POST answers 429 at once (408).
//   - The job runs the Bundle as the caller, every entry charged as in a
//     synchronous batch (140 points a conditional create that creates); when
//     the quota is spent it does not answer 429 but waits until the minute is
//     over and goes on (409). Its result is a Binary (application/fhir+json,
//     100 points more) holding the batch-response Bundle, its resources with
//     their whole meta (406).
//   - GET of the status URL reads the AsyncJob (1 point, so it answers 429
//     while the job has spent the quota: 410): 202 with the AsyncJob,
//     status "accepted", while it runs (404); then 200, status "completed",
//     with transactionTime and output Parameters "results" -> Binary/<id>
//     (405).
//
// SetAsyncBatchPolls says how many polls answer 202 before the job may
// complete (default 1: 404 is a poll at once, answered 202).

// asyncJob is one async batch job.
type asyncJob struct {
	s        *Server
	polls    int           // polls still to answer 202 (guarded by s.mu)
	released chan struct{} // closed once they are answered
	once     sync.Once
	waiting  bool // waiting for the quota (guarded by s.mu)
}

// SetAsyncBatchPolls makes every async batch started from now on answer its
// first n status polls with 202 (0: the job completes as soon as it ran).
func (s *Server) SetAsyncBatchPolls(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asyncPolls = max(n, 0)
}

// AsyncBatchesWaiting is how many async batch jobs are waiting for the FHIR
// quota's minute to be over.
func (s *Server) AsyncBatchesWaiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, j := range s.asyncJobs {
		if j.waiting {
			n++
		}
	}
	return n
}

func (s *Server) asyncJobRoutes() {
	s.handle("GET", "/fhir/R4/job/:id/status", s.asyncJobStatus)
}

// asyncBatch starts an async batch job.
func (s *Server) asyncBatch(c *reqCtx) {
	b := c.bodyObject()
	if b == nil || b["resourceType"] != "Bundle" {
		c.sendOutcome(badRequest("Expected request body to be a Bundle"))
		return
	}
	typ, _ := b["type"].(string)
	s.mu.Lock()
	feature := s.hasFeature(c.auth.projectID(), "transaction-bundles")
	s.mu.Unlock()
	if typ == "transaction" && feature {
		// (From async-batch.ts: no capture shows it.)
		o := badRequest("Transaction batches cannot be executed asynchronously")
		o.Issue[0].Expression = []string{"Bundle.type"}
		c.sendOutcome(o)
		return
	}
	if !c.consume(pointsWrite, false) { // the AsyncJob, through the caller's repository (408)
		return
	}
	base := s.baseURL(c.r)
	s.mu.Lock()
	rec := s.st.write(client.Resource{
		"resourceType": "AsyncJob", "status": "accepted", "request": base + "fhir/R4",
		"requestTime": formatInstant(s.now()),
	}, c.auth.projectID(), c.auth.author(), s.now())
	job := &asyncJob{s: s, polls: s.asyncPolls, released: make(chan struct{})}
	if job.polls == 0 {
		close(job.released)
	}
	s.asyncJobs[rec.id] = job
	s.mu.Unlock()

	// The job runs as the caller, apart from this request, and reads its
	// resources with their whole meta (406).
	ctx, cancel := context.WithCancel(context.Background())
	r, _ := http.NewRequestWithContext(ctx, "POST", "/fhir/R4", bytes.NewReader(c.raw))
	r.Host = c.r.Host
	r.Header.Set("Authorization", c.r.Header.Get("Authorization"))
	r.Header.Set("X-Medplum", "extended")
	jc := &reqCtx{s: s, w: httptest.NewRecorder(), r: r, raw: c.raw, auth: c.auth, reqID: c.reqID, path: "/fhir/R4", job: job}
	go func() {
		defer cancel()
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		out, oo := s.runBatch(jc, b, typ, false)
		var result any = out
		if oo != nil {
			result = oo
		}
		// The Binary of the results, through the caller's repository.
		s.txMu.RLock()
		ok := jc.consume(pointsWrite, false)
		s.txMu.RUnlock()
		if !ok {
			return
		}
		select {
		case <-job.released:
		case <-s.stop:
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		bin := s.storeBinary(c.auth.projectID(), c.auth.author(), "application/fhir+json", marshal(result))
		done := deepCopy(rec.res)
		done["status"] = "completed"
		done["transactionTime"] = formatInstant(s.now())
		done["output"] = map[string]any{"resourceType": "Parameters", "parameter": []any{
			map[string]any{"name": "results", "valueReference": map[string]any{"reference": "Binary/" + bin.id}},
		}}
		s.st.write(done, rec.project, systemAuthor, s.now())
	}()

	loc := base + "fhir/R4/job/" + rec.id + "/status"
	c.w.Header().Set("Content-Location", loc)
	o := outcome("accepted", "information", "informational", "Accepted")
	o.Issue[0].Diagnostics = loc
	c.fhir(http.StatusAccepted, c.withTracing(o))
}

// waitQuota waits, with the shared transaction lock released, until a
// member's spent quota minute is over; false means the server stopped.
func (j *asyncJob) waitQuota(member string) bool {
	s := j.s
	s.mu.Lock()
	j.waiting = true
	s.mu.Unlock()
	s.txMu.RUnlock()
	defer func() {
		s.txMu.RLock()
		s.mu.Lock()
		j.waiting = false
		s.mu.Unlock()
	}()
	for !s.limits.quotaOver(member) {
		select {
		case <-s.stop:
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
	return true
}

// asyncJobStatus is GET fhir/R4/job/:id/status.
func (s *Server) asyncJobStatus(c *reqCtx) {
	if !c.charge(pointsRead) {
		return
	}
	rec := c.readVisible("AsyncJob", c.params["id"])
	if rec == nil {
		return
	}
	if j := s.asyncJobs[rec.id]; j != nil && j.polls > 0 {
		j.polls--
		if j.polls == 0 {
			j.once.Do(func() { close(j.released) })
		}
	}
	out := c.present(rec)
	s.mu.Unlock()
	status := http.StatusOK
	if st := out.String("status"); st != "completed" && st != "error" {
		status = http.StatusAccepted
	}
	c.fhirResource(status, out)
}

// respondAsync reports a Prefer: respond-async header (compared as
// async-batch.ts does: exactly).
func respondAsync(r *http.Request) bool { return r.Header.Get("Prefer") == "respond-async" }
