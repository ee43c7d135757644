package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Error is a request the server answered with an error: any non-2xx status,
// or a 2xx whose body is an OperationOutcome with an error or fatal issue
// (see IsPartialSuccess). Exactly one of Outcome, OAuth or Message describes
// what the server said; Body keeps the raw bytes.
type Error struct {
	Status      int    // HTTP status code, e.g. 404 (200 for a partial success)
	Method      string // request method
	URL         string // request URL
	ContentType string // media type of the answer without parameters, e.g. "text/html"; "" if none

	Outcome *OperationOutcome // a FHIR OperationOutcome body
	OAuth   *OAuthError       // an RFC 6749 {error, error_description} body
	Message string            // any other body, reduced to one line ({"msg":...}, an HTML <pre>, plain text)
	Body    []byte            // the raw body as received

	// RateLimitWait is how long the server asked to wait (a RateLimit header
	// with r=0, else a 429's diagnostics), or 0.
	RateLimitWait time.Duration
	// RetryAfter is the wait a Retry-After header asks for (seconds or an
	// HTTP date; a proxy's or load balancer's 503 or 429), or 0.
	RetryAfter time.Duration
	// Attempts is how many times Do sent the request before giving up on
	// this answer (0 or 1: once).
	Attempts int
	// Location is the Location header of a 3xx answer (redirects are not followed).
	Location string
	// Cause is set when a 401 led to a credential refresh that itself failed.
	Cause error
}

// OAuthError is the RFC 6749 error body of the OAuth endpoints.
type OAuthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// Error formats the answer in the official CLI's style (normalizeErrorString):
// OperationOutcome issues joined by "; ", each "details.text (diagnostics)
// (expr1, expr2)". Other bodies say what came back, e.g. "the server answered
// 404 text/html: Cannot PATCH /admin/projects/p/members/m".
func (e *Error) Error() string {
	msg := e.describe()
	if e.Cause != nil {
		msg += "; refreshing the credentials failed: " + e.Cause.Error()
	}
	return msg
}

func (e *Error) describe() string {
	switch {
	case e.Outcome != nil:
		return OutcomeString(e.Outcome)
	case e.OAuth != nil:
		if e.OAuth.Description == "" {
			return e.OAuth.Code
		}
		return e.OAuth.Description + " (" + e.OAuth.Code + ")"
	}
	head := fmt.Sprintf("the server answered %d", e.Status)
	if e.Location != "" {
		return head + " redirecting to " + e.Location + " (redirects are not followed; check the base URL)"
	}
	if e.Message == "" {
		if e.ContentType == "" {
			return head + " with an empty body"
		}
		return head + " " + e.ContentType + " with an empty body"
	}
	if e.ContentType == "" || isJSONType(e.ContentType) {
		return head + ": " + e.Message
	}
	return head + " " + e.ContentType + ": " + e.Message
}

// Unwrap returns the refresh failure behind a 401, if any.
func (e *Error) Unwrap() error { return e.Cause }

// OutcomeString formats an OperationOutcome as the official CLI does.
func OutcomeString(o *OperationOutcome) string {
	if len(o.Issue) == 0 {
		return "Unknown error"
	}
	parts := make([]string, len(o.Issue))
	for i, is := range o.Issue {
		s := is.Text()
		switch {
		case s != "" && is.Diagnostics != "":
			s += " (" + is.Diagnostics + ")"
		case s == "" && is.Diagnostics != "":
			s = is.Diagnostics
		case s == "":
			s = "Unknown error"
		}
		if len(is.Expression) > 0 {
			s += " (" + strings.Join(is.Expression, ", ") + ")"
		}
		parts[i] = s
	}
	return strings.Join(parts, "; ")
}

// Issues returns the OperationOutcome issues, or nil.
func (e *Error) Issues() []OutcomeIssue {
	if e.Outcome == nil {
		return nil
	}
	return e.Outcome.Issue
}

// IsPartialSuccess reports a 2xx answer whose body is an error
// OperationOutcome: the server did the work but reports a failure in a side
// effect. The known case is an invite whose e-mail could not be sent: the
// membership WAS created.
func (e *Error) IsPartialSuccess() bool { return e.Status >= 200 && e.Status < 300 }

// IsSerializationConflict reports a 409 whose first issue carries
// details.coding[0].code "40001": the server rolled the transaction back and
// the request can be sent again.
func (e *Error) IsSerializationConflict() bool {
	if e.Status != http.StatusConflict || e.Outcome == nil {
		return false
	}
	for _, is := range e.Outcome.Issue {
		if is.CodingCode() == "40001" {
			return true
		}
	}
	return false
}

// Retryable reports whether the condition is transient: 429, 502, 503, 504 or
// a serialization conflict. Whether a request is actually repeated also
// depends on its method (see RetryPolicy).
func (e *Error) Retryable() bool {
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return e.IsSerializationConflict()
}

// IsUnauthorized reports a 401 (missing, expired or rejected credentials).
func (e *Error) IsUnauthorized() bool { return e.Status == http.StatusUnauthorized }

// IsForbidden reports a 403.
func (e *Error) IsForbidden() bool { return e.Status == http.StatusForbidden }

// IsNotFound reports a 404.
func (e *Error) IsNotFound() bool { return e.Status == http.StatusNotFound }

// IsGone reports a 410 (e.g. a membership deleted before).
func (e *Error) IsGone() bool { return e.Status == http.StatusGone }

// IsConflict reports a 409 that is not a serialization conflict (e.g. "User is
// already a member of this project").
func (e *Error) IsConflict() bool {
	return e.Status == http.StatusConflict && !e.IsSerializationConflict()
}

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// StatusOf returns the HTTP status of the *Error in err's chain, or 0.
func StatusOf(err error) int {
	if e := AsError(err); e != nil {
		return e.Status
	}
	return 0
}

// IsPartialSuccess reports whether err is a 2xx answer carrying an error
// OperationOutcome (see (*Error).IsPartialSuccess).
func IsPartialSuccess(err error) bool {
	e := AsError(err)
	return e != nil && e.IsPartialSuccess()
}

// errorBody is the union of the JSON error shapes Medplum sends.
type errorBody struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id"`
	Meta         json.RawMessage   `json:"meta"`
	Issue        []OutcomeIssue    `json:"issue"`
	Extension    []json.RawMessage `json:"extension"`
	OAuthCode    any               `json:"error"`
	OAuthDesc    string            `json:"error_description"`
	Msg          string            `json:"msg"`
}

// maxMessage bounds the one-line message taken from a non-JSON body.
const maxMessage = 300

// newError decodes an error answer. header may be nil.
func newError(status int, method, url string, header http.Header, body []byte) *Error {
	e := &Error{Status: status, Method: method, URL: url, Body: body}
	ct := header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		e.ContentType = mt
	} else {
		e.ContentType = strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
	}
	e.RateLimitWait = RateLimitWait(header)
	e.RetryAfter = retryAfter(header.Get("Retry-After"), time.Now())
	if status >= 300 && status < 400 {
		e.Location = header.Get("Location")
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return e
	}
	if len(trimmed) > 0 && trimmed[0] == '{' && (e.ContentType == "" || isJSONType(e.ContentType) || strings.HasPrefix(e.ContentType, "text/")) {
		var b errorBody
		if json.Unmarshal(trimmed, &b) == nil {
			switch {
			case b.ResourceType == "OperationOutcome":
				e.Outcome = &OperationOutcome{ResourceType: b.ResourceType, ID: b.ID, Issue: b.Issue, Extension: b.Extension}
				if status == http.StatusTooManyRequests && e.RateLimitWait == 0 {
					e.RateLimitWait = LimiterWait(b.Issue)
				}
				return e
			case b.OAuthCode != nil:
				if code, ok := b.OAuthCode.(string); ok && code != "" {
					e.OAuth = &OAuthError{Code: code, Description: b.OAuthDesc}
					return e
				}
			case b.Msg != "":
				e.Message = oneLine(b.Msg)
				return e
			}
		}
	}
	if e.ContentType == "text/html" || looksLikeHTML(trimmed) {
		e.Message = htmlText(trimmed)
	} else {
		e.Message = oneLine(string(trimmed))
	}
	return e
}

// LimiterWait is how long a 429's diagnostics say to wait: Medplum puts
// its rate limiter's state there, msBeforeNext (the requests limiter) or
// _msBeforeNext (the FHIR quota, whose 429 from a route that does not
// report it has no RateLimit value at r=0: capture 124d). 0 when none does.
func LimiterWait(issues []OutcomeIssue) time.Duration {
	for _, is := range issues {
		var d struct {
			Plain float64 `json:"msBeforeNext"`
			Under float64 `json:"_msBeforeNext"`
		}
		if json.Unmarshal([]byte(is.Diagnostics), &d) != nil {
			continue
		}
		if ms := max(d.Plain, d.Under); ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	return 0
}

// successOutcomeError returns an *Error for a 2xx answer whose body is a
// server-generated OperationOutcome with an error or fatal issue, else nil.
// A stored OperationOutcome resource read with GET carries meta and is data,
// not an error.
func successOutcomeError(status int, method, url string, header http.Header, body []byte) *Error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' || !bytes.Contains(trimmed, []byte(`"OperationOutcome"`)) ||
		topResourceType(trimmed) != "OperationOutcome" {
		return nil
	}
	var b errorBody
	if json.Unmarshal(trimmed, &b) != nil || b.ResourceType != "OperationOutcome" || len(b.Meta) > 0 {
		return nil
	}
	o := &OperationOutcome{ResourceType: b.ResourceType, ID: b.ID, Issue: b.Issue, Extension: b.Extension}
	if !o.IsError() {
		return nil
	}
	e := newError(status, method, url, header, body)
	e.Outcome = o
	return e
}

// topResourceType is the resourceType of a JSON object, read up to that
// key only: a batch's answer (a Bundle whose entries hold
// OperationOutcomes) is not decoded whole to learn it is a Bundle. "" if
// the object has none, or is not valid up to it.
func topResourceType(b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return ""
		}
		if k == "resourceType" {
			var rt string
			if dec.Decode(&rt) != nil {
				return ""
			}
			return rt
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
}

func isJSONType(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func looksLikeHTML(b []byte) bool {
	head := bytes.ToLower(b[:min(len(b), 64)])
	return bytes.HasPrefix(head, []byte("<!doctype html")) || bytes.HasPrefix(head, []byte("<html"))
}

var (
	preRE   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?is)<pre[^>]*>(.*?)</pre>`) })
	titleRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`) })
	bodyRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?is)<body[^>]*>(.*?)</body>`) })
	tagRE   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?s)<[^>]*>`) })
)

// htmlText reduces an HTML error page to one line: Express's <pre> text,
// else the body's text, else the title.
func htmlText(b []byte) string {
	for _, re := range []*regexp.Regexp{preRE(), bodyRE(), titleRE()} {
		if m := re.FindSubmatch(b); m != nil {
			if s := oneLine(html.UnescapeString(tagRE().ReplaceAllString(string(m[1]), " "))); s != "" {
				return s
			}
		}
	}
	return oneLine(html.UnescapeString(tagRE().ReplaceAllString(string(b), " ")))
}

// oneLine collapses whitespace and bounds the length.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxMessage {
		cut := maxMessage
		for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// retryAfter reads a Retry-After value (RFC 9110 10.2.3): delay-seconds or
// an HTTP date, as a wait from now; 0 when absent, invalid or past.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
