package bulkengine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/medplumcli/medplum/client"
)

// DefaultOutage is how long a run waits for a server that stopped
// answering before it stops (Config.Outage 0).
const DefaultOutage = time.Minute

// UnreachableError stops a run whose server stayed unreachable: for the
// whole of Config.Outage, every request failed without an answer
// (connection refused, dropped or timed out) or with a gateway's 502, 503
// or 504. Work that finished is in the journal; work that was on its way
// stays "started" there, to be settled by the next run; work not sent yet
// stays unsent. None of it is called failed: the same command, run again,
// carries on.
type UnreachableError struct {
	Since time.Time // when the first request that got no answer was sent
	Err   error     // the last failure
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("server unreachable since %s (%s); run the same command again to continue", clock(e.Since), Cause(e.Err))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// clock is a time of day, with the date when it is not today.
func clock(t time.Time) string {
	if y, m, d := t.Date(); y == time.Now().Year() && m == time.Now().Month() && d == time.Now().Day() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04:05")
}

// Cause is a failure without url.Error's method and URL.
func Cause(err error) string {
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

// Health watches whether the server answers at all, from the outcome of
// every request of a run.
type Health struct {
	mu     sync.Mutex
	lastOK time.Time // when the server last answered
	since  time.Time // the outage: when its first unanswered request was sent (zero: none)
	seen   time.Time // when that outage's first failure came back
}

// Observe records the outcome of a request sent at start. While every
// request fails unanswered, it returns how long that has been going on
// (from the first such failure) and since when the server has not
// answered; otherwise 0.
func (h *Health) Observe(start time.Time, err error) (down time.Duration, since time.Time) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case Unanswered(err):
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

// AnsweredAfter reports whether the server answered a request after t.
func (h *Health) AnsweredAfter(t time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastOK.After(t)
}

// Unanswered reports a request the server did not answer: the connection
// failed (refused, dropped, timed out), or a gateway in front of it said
// it is not there (502, 503, 504).
func Unanswered(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if e := client.AsError(err); e != nil {
		return e.Status == http.StatusBadGateway || e.Status == http.StatusServiceUnavailable || e.Status == http.StatusGatewayTimeout
	}
	return true
}

// IsDialError reports a request that never left: the connection could not
// be opened.
func IsDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
