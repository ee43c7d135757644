package client

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// maxTraceBody bounds a body shown in the trace.
const maxTraceBody = 64 << 10

func (c *Client) tracef(format string, args ...any) {
	if c.trace != nil {
		c.trace(fmt.Sprintf(format, args...))
	}
}

// traceRequest writes "> METHOD URL [Header: value] ..." and, with
// TraceBodies, "> body: ...". Everything is redacted first; a SecretBody is
// shown as its size only.
func (c *Client) traceRequest(hr *http.Request, req *Request) {
	if c.trace == nil {
		return
	}
	c.trace("> " + hr.Method + " " + RedactURL(hr.URL.String()) + formatHeaders(hr.Header))
	switch {
	case !c.traceBody || len(req.Body) == 0:
	case req.SecretBody:
		c.trace(fmt.Sprintf("> body: %s (%d bytes, secret)", Redacted, len(req.Body)))
	default:
		c.trace("> body: " + traceBody(hr.Header.Get("Content-Type"), req.Body))
	}
}

// traceResponse writes "< STATUS (N bytes, DURATION) URL [Header: value] ..."
// and, with TraceBodies, "< body: ...".
func (c *Client) traceResponse(r *Response) {
	if c.trace == nil {
		return
	}
	c.trace(fmt.Sprintf("< %d %s (%d bytes, %s) %s%s", r.Status, http.StatusText(r.Status),
		len(r.Body), roundDur(r.Duration), RedactURL(r.URL), formatHeaders(r.Header)))
	if c.traceBody && len(r.Body) > 0 {
		c.trace("< body: " + traceBody(r.ContentType(), r.Body))
	}
}

// formatHeaders renders redacted headers sorted by name as " [Name: value]".
func formatHeaders(h http.Header) string {
	red := RedactHeaders(h)
	keys := make([]string, 0, len(red))
	for k := range red {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range red[k] {
			b.WriteString(" [")
			b.WriteString(k)
			b.WriteString(": ")
			b.WriteString(v)
			b.WriteString("]")
		}
	}
	return b.String()
}

// signatureRE finds the signature of a presigned URL inside a body (a bulk
// export's manifest lists one per file), and the session token an S3 link
// made with temporary credentials carries beside it (X-Amz-Security-Token).
var signatureRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)((?:^|[?&])(?:x-amz-)?(?:signature|security-token)=)[^&"\s]*`)
})

func redactSignatures(b []byte) []byte {
	return signatureRE().ReplaceAll(b, []byte("${1}"+Redacted))
}

func traceBody(contentType string, body []byte) string {
	red := redactSignatures(RedactBody(contentType, body))
	s := strings.ReplaceAll(strings.ReplaceAll(string(red), "\r", `\r`), "\n", `\n`)
	if len(s) > maxTraceBody {
		cut := maxTraceBody
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = fmt.Sprintf("%s… (%d more bytes)", s[:cut], len(s)-cut)
	}
	return s
}
