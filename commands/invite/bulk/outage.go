package bulk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/medplumcli/medplum/client"
)

// DefaultOutage is how long a run waits for a server that stopped
// answering before it stops (RunConfig.Outage 0).
const DefaultOutage = time.Minute

// UnreachableError stops a run whose server stayed unreachable: for the
// whole of RunConfig.Outage, every request failed without an answer
// (connection refused, dropped or timed out) or with a gateway's 502, 503
// or 504. Rows that finished are in the journal; rows that were on their
// way stay "started" there, to be looked up by the next run; rows not sent
// yet stay unsent. None of them is called failed: the same command, run
// again, carries on.
type UnreachableError struct {
	Since time.Time // when the first request that got no answer was sent
	Err   error     // the last failure
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("server unreachable since %s (%s); run the same command again to continue", clock(e.Since), cause(e.Err))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// clock is a time of day, with the date when it is not today.
func clock(t time.Time) string {
	if y, m, d := t.Date(); y == time.Now().Year() && m == time.Now().Month() && d == time.Now().Day() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04:05")
}

// cause is a failure without url.Error's method and URL.
func cause(err error) string {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection closed in the middle of an answer"
	case errors.Is(err, io.EOF):
		return "the connection closed without an answer"
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil && client.AsError(err) == nil {
		return ue.Err.Error()
	}
	return err.Error()
}

// health watches whether the server answers at all, from the outcome of
// every request of the run (invites, lookups, marks).
type health struct {
	mu     sync.Mutex
	lastOK time.Time // when the server last answered
	since  time.Time // the outage: when its first unanswered request was sent (zero: none)
	seen   time.Time // when that outage's first failure came back
}

// observe records the outcome of a request sent at start. While every
// request fails unanswered, it returns how long that has been going on
// (from the first such failure) and since when the server has not
// answered; otherwise 0.
func (h *health) observe(start time.Time, err error) (down time.Duration, since time.Time) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case unanswered(err):
		if h.seen.IsZero() {
			h.since, h.seen = start, now
			if h.lastOK.After(start) {
				h.since = h.lastOK
			}
		}
		return now.Sub(h.seen), h.since
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		// The run is stopping: says nothing about the server.
	default:
		h.lastOK, h.since, h.seen = now, time.Time{}, time.Time{}
	}
	return 0, time.Time{}
}

// answeredAfter reports whether the server answered a request after t.
func (h *health) answeredAfter(t time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastOK.After(t)
}

// unanswered reports a request the server did not answer: the connection
// failed (refused, dropped, timed out), or a gateway in front of it said
// it is not there (502, 503, 504).
func unanswered(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if e := client.AsError(err); e != nil {
		return e.Status == http.StatusBadGateway || e.Status == http.StatusServiceUnavailable || e.Status == http.StatusGatewayTimeout
	}
	return true
}

// observe feeds a request's outcome to the health watch, and stops the run
// when the server has not answered for the whole of the outage bound.
func (r *runner) observe(start time.Time, err error) {
	down, since := r.health.observe(start, err)
	if r.outage <= 0 || down < r.outage {
		return
	}
	r.mu.Lock()
	if r.fatal == nil {
		r.fatal = &UnreachableError{Since: since, Err: err}
	}
	r.mu.Unlock()
	r.stopAll()
}

// unreachable reports whether the run stopped because the server was
// unreachable.
func (r *runner) unreachable() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ue *UnreachableError
	return errors.As(r.fatal, &ue)
}
