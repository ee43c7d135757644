package client

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RetryPolicy bounds how transient failures are retried. Zero fields take
// the defaults; MaxAttempts 1 turns retries off.
//
// What is retried:
//   - 429, 502, 503, 504 and dropped connections (reset, EOF) — only for
//     requests that are safe to repeat: GET, HEAD, PUT, DELETE, or any request
//     with Request.Idempotent set. A POST is never repeated after a 503 or a
//     dropped connection: the server may have acted on it.
//   - 409 with details.coding[0].code "40001" (serialization conflict) for
//     any method: the server rolled the transaction back.
//
// The wait is exponential backoff with full jitter (a random time between 0
// and min(MaxDelay, BaseDelay·2^n)). After a 429 whose RateLimit header has
// r=0 the wait is that header's t seconds instead. A retry whose wait would
// go past MaxElapsed (counted from the first attempt) is not made: the last
// answer is returned.
type RetryPolicy struct {
	MaxAttempts int           // attempts in all, first included (default 4)
	MaxElapsed  time.Duration // total time budget for one Do (default 2m)
	BaseDelay   time.Duration // first backoff step (default 500ms)
	MaxDelay    time.Duration // cap of a backoff step (default 15s; RateLimit waits are not capped)
}

// DefaultRetryPolicy is used for zero fields of Options.Retry.
var DefaultRetryPolicy = RetryPolicy{
	MaxAttempts: 4,
	MaxElapsed:  2 * time.Minute,
	BaseDelay:   500 * time.Millisecond,
	MaxDelay:    15 * time.Second,
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy
	if p.MaxAttempts > 0 {
		d.MaxAttempts = p.MaxAttempts
	}
	if p.MaxElapsed > 0 {
		d.MaxElapsed = p.MaxElapsed
	}
	if p.BaseDelay > 0 {
		d.BaseDelay = p.BaseDelay
	}
	if p.MaxDelay > 0 {
		d.MaxDelay = p.MaxDelay
	}
	return d
}

// Backoff returns the full-jitter wait before retry number n (n = 1 for the
// first retry): uniformly random in [0, min(MaxDelay, BaseDelay·2^(n-1))].
func (p RetryPolicy) Backoff(n int) time.Duration {
	p = p.withDefaults()
	ceiling := p.MaxDelay
	if n < 1 {
		n = 1
	}
	if n-1 < 62 {
		if d := p.BaseDelay << (n - 1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// RateLimit is one value of Medplum's RateLimit response header, e.g.
// "requests";r=59985;t=35 or "fhirInteractions";r=0;t=60.
type RateLimit struct {
	Name      string        // policy name: "requests", "fhirInteractions"
	Remaining int           // r: requests or points left in the window
	Reset     time.Duration // t: time until the window resets
}

// ParseRateLimit reads every RateLimit value of h: several header lines, or
// several comma-separated values on one line. Malformed values are skipped.
func ParseRateLimit(h http.Header) []RateLimit {
	var out []RateLimit
	for _, line := range h.Values("RateLimit") {
		for _, item := range strings.Split(line, ",") {
			if rl, ok := parseRateLimitItem(item); ok {
				out = append(out, rl)
			}
		}
	}
	return out
}

func parseRateLimitItem(item string) (RateLimit, bool) {
	parts := strings.Split(item, ";")
	name := strings.Trim(strings.TrimSpace(parts[0]), `"`)
	if name == "" {
		return RateLimit{}, false
	}
	rl := RateLimit{Name: name, Remaining: -1}
	seenT := false
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || n < 0 {
			return RateLimit{}, false
		}
		switch strings.TrimSpace(k) {
		case "r":
			rl.Remaining = int(n)
		case "t":
			rl.Reset = time.Duration(n * float64(time.Second))
			seenT = true
		}
	}
	if rl.Remaining < 0 || !seenT {
		return RateLimit{}, false
	}
	return rl, true
}

// RateLimitWait is the longest t among RateLimit values with r=0: how long
// the server asks a client to wait. 0 when no limit is exhausted.
func RateLimitWait(h http.Header) time.Duration {
	var wait time.Duration
	for _, rl := range ParseRateLimit(h) {
		if rl.Remaining == 0 && rl.Reset > wait {
			wait = rl.Reset
		}
	}
	return wait
}

// safeToRepeat reports whether a request may be sent again after the server
// might have acted on it.
func safeToRepeat(req *Request) bool {
	if req.Idempotent {
		return true
	}
	switch req.method() {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// isDroppedConnection reports a connection that broke before a full answer
// arrived: reset, broken pipe, EOF.
func isDroppedConnection(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNABORTED)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
