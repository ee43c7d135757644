// Package client is the typed HTTP client for a Medplum-compatible server.
//
// It talks HTTP only: no terminal, no flags, no environment, no files. Every
// request goes through Do, which resolves the URL, sets the standard headers,
// adds credentials (only for the base URL's own scheme and host), retries
// transient failures, traces for --verbose with secrets redacted, and turns
// error answers into *Error.
package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Media types the client sends.
const (
	ContentTypeFHIR      = "application/fhir+json"
	ContentTypeJSON      = "application/json"
	ContentTypeJSONPatch = "application/json-patch+json"
	ContentTypeForm      = "application/x-www-form-urlencoded"
)

// DefaultFHIRPath is the FHIR base path under the base URL.
const DefaultFHIRPath = "fhir/R4"

// DefaultTokenPath is the token endpoint under the base URL.
const DefaultTokenPath = "oauth2/token"

// Authenticator adds credentials to requests. It is implemented by package
// auth.
type Authenticator interface {
	// Apply adds credentials to req. Do calls it only for requests to the
	// base URL's own scheme and host, and never for Request.NoAuth.
	Apply(ctx context.Context, req *http.Request) error
	// Refresh is called once after the server answered 401 to a request
	// that carried credentials. With retry true the request is sent once
	// more (Apply is called again). Its error is the Cause of the 401's
	// *Error, or, when it has a method ReplacesUnauthorized() returning
	// true, what Do returns instead of the 401 (the 401 only said that a
	// first try with other credentials did not do).
	Refresh(ctx context.Context) (retry bool, err error)
}

// MaxConnsPerHost is how many idle connections to the server a Client's
// default transport keeps: at least the most requests any command has in
// flight at once (bulk invite: 16).
const MaxConnsPerHost = 32

// Options configures a Client.
type Options struct {
	BaseURL   string            // absolute http(s) URL of the server, e.g. https://api.medplum.com/
	FHIRPath  string            // FHIR base path under BaseURL (default "fhir/R4")
	TokenURL  string            // token endpoint, absolute or relative to BaseURL (default "oauth2/token")
	Transport http.RoundTripper // default: a clone of http.DefaultTransport
	Auth      Authenticator     // nil: no credentials
	UserAgent string            // default "medplum-go"
	Retry     RetryPolicy       // zero fields take DefaultRetryPolicy's values
	// Timeout bounds each attempt: the wait for the answer's headers, and
	// then the longest pause while its body arrives (a *TimeoutError). 0
	// means DefaultTimeout; negative means no limit.
	Timeout time.Duration

	// Trace receives already-redacted lines for --verbose: one per request,
	// per response and per retry. nil turns tracing off.
	Trace func(line string)
	// TraceBodies adds the (redacted, truncated) request and response bodies
	// to the trace.
	TraceBodies bool
}

// Client talks to one Medplum server. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	baseStr   string // with trailing slash
	fhirPath  string // without slashes at either end
	fhirStr   string // FHIR base with trailing slash
	tokenURL  string
	hc        *http.Client
	auth      Authenticator
	userAgent string
	retry     RetryPolicy
	timeout   time.Duration // per attempt; 0: none
	trace     func(string)
	traceBody bool
}

// NewTransport is the transport a Client uses unless Options.Transport
// names another: a clone of http.DefaultTransport (proxy from the
// environment, HTTP/2, timeouts) that keeps a connection per request in
// flight. With net/http's default of 2 idle connections per host, bulk
// invite's 8 or 16 concurrent requests closed and re-dialed (and
// re-handshook, over TLS) connections all the time (BenchmarkDoConcurrent).
// Clients that share one (the CLI's token client and its API client) share
// its connections: a token request and the request after it use one.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = MaxConnsPerHost
	return t
}

// New checks the options and returns a Client.
func New(opts Options) (*Client, error) {
	base, baseStr, err := normaliseBase(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	fp := strings.Trim(opts.FHIRPath, "/")
	if fp == "" {
		fp = DefaultFHIRPath
	}
	if strings.Contains(fp, "://") || strings.ContainsAny(fp, "?#") {
		return nil, fmt.Errorf("FHIR path %q must be a path relative to the base URL, such as %s", opts.FHIRPath, DefaultFHIRPath)
	}
	c := &Client{
		base:      base,
		baseStr:   baseStr,
		fhirPath:  fp,
		fhirStr:   baseStr + fp + "/",
		auth:      opts.Auth,
		userAgent: opts.UserAgent,
		retry:     opts.Retry.withDefaults(),
		timeout:   opts.Timeout,
		trace:     opts.Trace,
		traceBody: opts.TraceBodies,
	}
	if c.userAgent == "" {
		c.userAgent = "medplum-go"
	}
	switch {
	case c.timeout == 0:
		c.timeout = DefaultTimeout
	case c.timeout < 0:
		c.timeout = 0
	}
	rt := opts.Transport
	if rt == nil {
		rt = NewTransport()
	}
	c.hc = &http.Client{
		Transport: rt,
		// Redirects are not followed: a request body or credentials must not
		// be replayed somewhere else. A 3xx comes back as an *Error that
		// names the Location.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	tok := opts.TokenURL
	if tok == "" {
		tok = DefaultTokenPath
	}
	if l := strings.ToLower(tok); strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
		c.tokenURL = tok
	} else {
		c.tokenURL = baseStr + strings.TrimLeft(tok, "/")
	}
	if _, err := url.Parse(c.tokenURL); err != nil {
		return nil, fmt.Errorf("token URL %q: %w", RedactURL(opts.TokenURL), parseCause(err))
	}
	return c, nil
}

// BaseURL returns the base URL with its trailing slash.
func (c *Client) BaseURL() string { return c.baseStr }

// FHIRBaseURL returns the FHIR base URL with its trailing slash.
func (c *Client) FHIRBaseURL() string { return c.fhirStr }

// TokenURL returns the absolute token endpoint URL.
func (c *Client) TokenURL() string { return c.tokenURL }

// Request is one HTTP request for Do.
type Request struct {
	Method      string      // default GET
	URL         string      // resolved with ResolveURL
	Body        []byte      // nil: no body
	ContentType string      // with a body; default application/fhir+json
	Accept      string      // default application/fhir+json (a Binary's content: */*)
	Header      http.Header // extra headers (e.g. Prefer); the standard ones win
	// NoAuth sends the request without credentials (token endpoint, auth/*).
	NoAuth bool
	// Idempotent vouches that repeating the request is harmless, so it is
	// retried like a GET (e.g. a POST _search).
	Idempotent bool
	// NoRetry makes exactly one attempt (plus the resend after a credential
	// refresh): the caller retries itself and must see every answer, e.g.
	// the bulk invite runner, whose concurrency follows the conflicts.
	NoRetry bool
	// SecretBody says the body is a secret as a whole, where no field name
	// gives it away (the array of Project.secret, the Parameters of
	// $rotate-secret): traces show only its size.
	SecretBody bool
}

func (r *Request) method() string {
	if r.Method == "" {
		return http.MethodGet
	}
	return strings.ToUpper(r.Method)
}

// Response is a complete answer: the body has been read.
type Response struct {
	Status   int
	Header   http.Header
	Body     []byte
	Method   string
	URL      string        // the resolved request URL
	Duration time.Duration // of the last attempt
	Attempts int           // attempts made, retries included
}

// ContentType returns the answer's Content-Type header.
func (r *Response) ContentType() string { return r.Header.Get("Content-Type") }

// Prepare returns the request Do would send first, headers included, but
// without credentials: Do adds them when it sends (Authenticator.Apply may
// itself need the network, e.g. to fetch a token). Use WillAuthenticate to
// tell whether it would. The body is readable; it is meant for --dry-run.
func (c *Client) Prepare(ctx context.Context, req *Request) (*http.Request, error) {
	u, err := c.ResolveURL(req.URL)
	if err != nil {
		return nil, err
	}
	return c.newHTTPRequest(ctx, req, u)
}

// WillAuthenticate reports whether Do would add credentials to req: an
// Authenticator is set, the request does not opt out, and its URL is on the
// base URL's scheme and host.
func (c *Client) WillAuthenticate(req *Request) bool {
	if c.auth == nil || req.NoAuth {
		return false
	}
	u, err := c.ResolveURL(req.URL)
	return err == nil && c.SameOrigin(u)
}

func (c *Client) newHTTPRequest(ctx context.Context, req *Request, u string) (*http.Request, error) {
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method(), u, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	accept := req.Accept
	if accept == "" {
		accept = ContentTypeFHIR
	}
	hr.Header.Set("Accept", accept)
	hr.Header.Set("X-Medplum", "extended")
	hr.Header.Set("User-Agent", c.userAgent)
	if req.Body != nil {
		ct := req.ContentType
		if ct == "" {
			ct = ContentTypeFHIR
		}
		hr.Header.Set("Content-Type", ct)
	}
	return hr, nil
}

// Do sends req and reads the whole answer. A 2xx answer returns the
// Response. An error answer (non-2xx, or a 2xx error OperationOutcome)
// returns the Response too, with an *Error. A transport failure returns a
// nil Response and the error (context errors are kept, so errors.Is works).
//
// Credentials are added only for the base URL's own scheme and host. After a
// 401 on a request that carried them, Auth.Refresh is called once and, if it
// says so, the request is sent once more. Transient failures are retried as
// RetryPolicy says.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	u, err := c.ResolveURL(req.URL)
	if err != nil {
		return nil, err
	}
	authed := c.auth != nil && !req.NoAuth && c.SameOrigin(u)
	start := time.Now()
	refreshed := false
	// creds is the Authorization header of the attempt before, which a
	// retry after a transient failure (429, 5xx, a dropped connection)
	// sends again: the failure said nothing about the credentials, and an
	// authenticator asked again could choose others (Basic-first client
	// credentials would ask the token endpoint of a server that is down).
	var creds string
	for attempt := 1; ; attempt++ {
		resp, sent, err := c.send(ctx, req, u, authed, creds)
		var ae *applyError
		if errors.As(err, &ae) {
			// The credentials could not be had (a token request that
			// failed after its own retries): nothing was sent, and
			// sending again would only ask again.
			return nil, ae.err
		}
		if resp != nil {
			resp.Attempts = attempt
		}
		if authed && !refreshed && resp != nil && resp.Status == http.StatusUnauthorized {
			refreshed = true
			retry, rerr := c.auth.Refresh(ctx)
			if rerr != nil {
				if r, ok := rerr.(interface{ ReplacesUnauthorized() bool }); ok && r.ReplacesUnauthorized() {
					return resp, rerr
				}
				if e := AsError(err); e != nil {
					e.Cause = rerr
				}
				return resp, err
			}
			if retry {
				c.tracef("retrying %s %s once with refreshed credentials", req.method(), RedactURL(u))
				attempt-- // the resend after a refresh is not a retry
				creds = ""
				continue
			}
			return resp, err
		}
		wait, why, ok := c.retryDecision(req, resp, err)
		if !ok {
			if attempt > 1 {
				return resp, countAttempts(err, attempt)
			}
			return resp, err
		}
		if attempt >= c.retry.MaxAttempts {
			c.tracef("giving up on %s %s at attempt %d of %d: %s", req.method(), RedactURL(u), attempt, c.retry.MaxAttempts, why)
			return resp, countAttempts(err, attempt)
		}
		if time.Since(start)+wait > c.retry.MaxElapsed {
			c.tracef("giving up on %s %s: waiting %s more would exceed the %s retry budget: %s",
				req.method(), RedactURL(u), roundDur(wait), c.retry.MaxElapsed, why)
			return resp, countAttempts(err, attempt)
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
			// The caller stops waiting first: its answer is this one, not
			// a deadline error after a sleep.
			c.tracef("giving up on %s %s: waiting %s more would outlast the caller's deadline: %s",
				req.method(), RedactURL(u), roundDur(wait), why)
			return resp, countAttempts(err, attempt)
		}
		creds = sent
		c.tracef("retry %d/%d of %s %s in %s: %s", attempt, c.retry.MaxAttempts-1, req.method(), RedactURL(u), roundDur(wait), why)
		if serr := sleep(ctx, wait); serr != nil {
			return nil, serr
		}
	}
}

// retryDecision says whether an attempt's outcome is retried, after how
// long, and why (for the trace).
func (c *Client) retryDecision(req *Request, resp *Response, err error) (time.Duration, string, bool) {
	if req.NoRetry {
		return 0, "", false
	}
	n := 1
	if resp != nil {
		n = resp.Attempts
	}
	if resp == nil {
		switch {
		case err == nil || !safeToRepeat(req):
			return 0, "", false
		case IsTimeout(err):
			return c.retry.Backoff(n), causeText(err), true
		case isDroppedConnection(err):
			return c.retry.Backoff(n), "connection dropped: " + causeText(err), true
		}
		return 0, "", false
	}
	e := AsError(err)
	if e == nil || !e.Retryable() {
		return 0, "", false
	}
	why := fmt.Sprintf("the server answered %d", e.Status)
	if e.IsSerializationConflict() {
		return c.retry.Backoff(n), why + " (serialization conflict, rolled back)", true
	}
	if !safeToRepeat(req) {
		return 0, "", false
	}
	if e.Status == http.StatusTooManyRequests && e.RateLimitWait > 0 {
		return e.RateLimitWait, why + " (RateLimit asks to wait)", true
	}
	if e.RetryAfter > 0 {
		return e.RetryAfter, why + " (Retry-After asks to wait)", true
	}
	return c.retry.Backoff(n), why, true
}

// send makes one attempt, within the client's timeout, with creds as its
// Authorization header, or, when creds is empty, what the authenticator
// applies. sent is the Authorization header the attempt carried.
func (c *Client) send(ctx context.Context, req *Request, u string, authed bool, creds string) (resp *Response, sent string, err error) {
	dl := newDeadline(ctx, c.timeout)
	defer dl.done()
	hr, err := c.newHTTPRequest(dl.ctx, req, u)
	if err != nil {
		return nil, "", err
	}
	if authed {
		if creds != "" {
			hr.Header.Set("Authorization", creds)
		} else if err := c.auth.Apply(ctx, hr); err != nil {
			// Credentials may need a request of their own (a token),
			// which has its own timeout: the clock starts after them.
			return nil, "", &applyError{err}
		}
		sent = hr.Header.Get("Authorization")
	}
	resp, err = c.attempt(ctx, dl, hr, req, u)
	return resp, sent, err
}

// attempt sends hr and reads the answer.
func (c *Client) attempt(ctx context.Context, dl *deadline, hr *http.Request, req *Request, u string) (*Response, error) {
	c.traceRequest(hr, req)
	t0 := time.Now()
	dl.start()
	hresp, err := c.hc.Do(hr)
	dl.gotHeaders()
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		if te := dl.timedOut(hr.Method, u, c.base); te != nil {
			err = te
		}
		c.tracef("! %s %s: %s", hr.Method, RedactURL(u), causeText(err))
		return nil, err
	}
	body, err := readBody(dl.body(hresp.Body), hresp.ContentLength)
	hresp.Body.Close()
	dur := time.Since(t0)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		if te := dl.timedOut(hr.Method, u, c.base); te != nil {
			c.tracef("! %s %s: %s", hr.Method, RedactURL(u), causeText(te))
			return nil, te
		}
		c.tracef("! %s %s: reading the answer: %v", hr.Method, RedactURL(u), err)
		return nil, &url.Error{Op: hr.Method, URL: u, Err: err}
	}
	resp := &Response{Status: hresp.StatusCode, Header: hresp.Header, Body: body, Method: hr.Method, URL: u, Duration: dur}
	c.traceResponse(resp)
	if resp.Status < 200 || resp.Status >= 300 {
		return resp, newError(resp.Status, hr.Method, u, resp.Header, body)
	}
	if e := successOutcomeError(resp.Status, hr.Method, u, resp.Header, body); e != nil {
		return resp, e
	}
	return resp, nil
}

// applyError is an Authenticator's failure to give credentials; Do
// returns err without retrying the request (the token request behind it
// has been retried already).
type applyError struct{ err error }

func (e *applyError) Error() string { return e.err.Error() }
func (e *applyError) Unwrap() error { return e.err }

// countAttempts records in a *TimeoutError or an *Error how many attempts
// Do made before it gave up.
func countAttempts(err error, n int) error {
	var te *TimeoutError
	if errors.As(err, &te) {
		te.Attempts = n
	}
	if e := AsError(err); e != nil {
		e.Attempts = n
	}
	return err
}

// readBody reads a response body to its end. When the server announced
// its length n (up to maxPrealloc), into one buffer of that size: io.ReadAll
// reads into growing chunks and copies them into a final slice, 2.5 times
// the bytes allocated and twice the time for a 780 KB search page
// (BenchmarkReadBody).
func readBody(r io.Reader, n int64) ([]byte, error) {
	if n <= 0 || n > maxPrealloc {
		return io.ReadAll(r)
	}
	var buf bytes.Buffer
	buf.Grow(int(n) + bytes.MinRead) // room to read the end without growing
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// maxPrealloc bounds what a Content-Length can make readBody allocate
// before the bytes arrive.
const maxPrealloc = 64 << 20

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}

// causeText is a transport error without url.Error's "Get "URL": " prefix
// (the URL is already on the trace line, and may carry secrets).
func causeText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err.Error()
	}
	return err.Error()
}
