package bulkengine

import (
	"context"
	"net/http"
	"time"

	"github.com/medplumcli/medplum/client"
)

// RetryPolicy bounds the retries of one unit of work (a row, a chunk).
type RetryPolicy struct {
	MaxFailures  int           // sends and lookups failed by 5xx or dropped connections (default 8)
	MaxConflicts int           // 409/40001 answers tolerated for one unit (default 30)
	MaxThrottled int           // 429 answers tolerated for one unit (default 30)
	BaseDelay    time.Duration // first backoff step (default 250ms)
	MaxDelay     time.Duration // backoff cap (default 10s)
}

// WithDefaults fills what is not set.
func (p RetryPolicy) WithDefaults() RetryPolicy {
	if p.MaxFailures <= 0 {
		p.MaxFailures = 8
	}
	if p.MaxConflicts <= 0 {
		p.MaxConflicts = 30
	}
	if p.MaxThrottled <= 0 {
		p.MaxThrottled = 30
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 250 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 10 * time.Second
	}
	return p
}

// Backoff is the full-jitter wait before the n-th retry.
func (p RetryPolicy) Backoff(n int) time.Duration {
	return client.RetryPolicy{BaseDelay: p.BaseDelay, MaxDelay: p.MaxDelay}.Backoff(n)
}

// Kind is what a failed request says about the work it carried.
type Kind int

const (
	KindThrottled Kind = iota + 1 // 429: not done; everyone waits Answer.Pause
	KindConflict                  // 409 with coding 40001: rolled back, try again
	KindUncertain                 // 502/503/504 or a dropped connection: may have been done
	KindNotSent                   // the connection could not be made: not done
	KindFatal                     // 401, 403, 404: no other unit will do better
	KindRefused                   // any other refusal: this unit is wrong
)

// Answer classifies a request's error.
type Answer struct {
	Kind    Kind
	Outcome Outcome       // what the limiter learns from it
	Pause   time.Duration // after a 429: how long the server asked everyone to wait
}

// Classify says what a failed request (err != nil) means for the work it
// carried. Callers look at the answers that mean something for their own
// requests (a plain 409 for an invite) before they call it.
func Classify(err error) Answer {
	e := client.AsError(err)
	if e == nil {
		if IsDialError(err) {
			return Answer{Kind: KindNotSent, Outcome: OutcomeError}
		}
		return Answer{Kind: KindUncertain, Outcome: OutcomeError}
	}
	switch {
	case e.IsSerializationConflict():
		return Answer{Kind: KindConflict, Outcome: OutcomeConflict}
	case e.Status == http.StatusTooManyRequests:
		return Answer{Kind: KindThrottled, Outcome: OutcomeThrottled, Pause: e.RateLimitWait}
	case e.Status == http.StatusBadGateway || e.Status == http.StatusServiceUnavailable || e.Status == http.StatusGatewayTimeout:
		return Answer{Kind: KindUncertain, Outcome: OutcomeError}
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == http.StatusNotFound:
		return Answer{Kind: KindFatal, Outcome: OutcomeError}
	}
	return Answer{Kind: KindRefused, Outcome: OutcomeError}
}

// Sleep waits d, or until ctx is done (with its error).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	return waitFor(ctx, nil, d)
}
