package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"
)

// DefaultTimeout is how long one attempt waits for the server when
// Options.Timeout is 0: for the answer's headers, and then for each part of
// its body.
const DefaultTimeout = 60 * time.Second

// TimeoutError is an attempt the server did not answer in time: no
// response headers within the timeout, or (Stalled) an answer whose body
// stopped arriving for that long. The server may have acted on the request.
// Do returns it inside a *url.Error, as it does other transport failures;
// find it with errors.As. It is a net.Error whose Timeout() is true.
type TimeoutError struct {
	Host     string        // the server's host[:port]
	After    time.Duration // the timeout
	Stalled  bool          // the answer had begun, then stopped
	Attempts int           // attempts made by Do, each of which timed out or failed (0: one)
}

func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("no answer from %s within %s", e.Host, seconds(e.After))
	if e.Stalled {
		msg = fmt.Sprintf("the answer from %s stopped for %s before it was complete", e.Host, seconds(e.After))
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" (%d attempts)", e.Attempts)
	}
	return msg
}

// seconds writes whole seconds as "60s" rather than time.Duration's "1m0s".
func seconds(d time.Duration) string {
	if d >= time.Second && d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// Timeout reports true (net.Error).
func (e *TimeoutError) Timeout() bool { return true }

// Temporary reports true (net.Error; deprecated there, kept for callers
// that still ask).
func (e *TimeoutError) Temporary() bool { return true }

// IsTimeout reports whether err is (or wraps) a *TimeoutError.
func IsTimeout(err error) bool {
	var te *TimeoutError
	return errors.As(err, &te)
}

// Timeout returns the per-attempt timeout; 0 means none.
func (c *Client) Timeout() time.Duration { return c.timeout }

// The causes an attempt's context is cancelled with when it runs out of
// time.
var (
	errNoHeaders = errors.New("no response headers in time")
	errStalled   = errors.New("the response body stalled")
)

// deadline is the context of one attempt, with its timeouts: until the
// response headers arrive (start, stop), then between two reads of the body
// (body).
type deadline struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	d      time.Duration
	timer  *time.Timer
}

// newDeadline derives an attempt's context from ctx. With d <= 0 there is no
// timeout.
func newDeadline(ctx context.Context, d time.Duration) *deadline {
	a := &deadline{d: d}
	a.ctx, a.cancel = context.WithCancelCause(ctx)
	return a
}

// start arms the wait for the response headers.
func (a *deadline) start() {
	if a.d > 0 {
		a.timer = time.AfterFunc(a.d, func() { a.cancel(errNoHeaders) })
	}
}

// gotHeaders stops the wait for the headers.
func (a *deadline) gotHeaders() {
	if a.timer != nil {
		a.timer.Stop()
	}
}

// body wraps the response body: each read that brings data restarts the
// timer; a pause of the whole timeout cancels the attempt.
func (a *deadline) body(r io.Reader) io.Reader {
	if a.d <= 0 {
		return r
	}
	a.timer = time.AfterFunc(a.d, func() { a.cancel(errStalled) })
	return &stallReader{r: r, a: a}
}

// done releases the attempt's timer and context.
func (a *deadline) done() {
	if a.timer != nil {
		a.timer.Stop()
	}
	a.cancel(nil)
}

// timedOut returns the *TimeoutError (in a *url.Error) for an attempt that
// ran out of time, or nil when it did not.
func (a *deadline) timedOut(method, u string, base *url.URL) error {
	cause := context.Cause(a.ctx)
	if cause != errNoHeaders && cause != errStalled {
		return nil
	}
	host := base.Host
	if pu, err := url.Parse(u); err == nil && pu.Host != "" {
		host = pu.Host
	}
	return &url.Error{Op: method, URL: u, Err: &TimeoutError{Host: host, After: a.d, Stalled: cause == errStalled}}
}

type stallReader struct {
	r io.Reader
	a *deadline
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.a.timer.Reset(s.a.d)
	}
	return n, err
}
