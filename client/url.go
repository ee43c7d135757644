package client

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// baseRelativePrefixes are the first path segments that ResolveURL puts under
// the base URL rather than the FHIR base, as the official CLI does. The FHIR
// path itself (fhir/R4 by default) is matched separately.
var baseRelativePrefixes = []string{"admin/", "auth/", "oauth2/"}

// ResolveURL turns what a user or a caller wrote into an absolute URL:
//
//   - "http://..." or "https://..." is used as it is. On the base URL's own
//     scheme and host (a pasted Bundle next link) it is an ordinary request;
//     on any other host it is sent too, but never with credentials (Do only
//     calls Authenticator.Apply for the base URL's scheme and host).
//   - A path that starts with admin/, auth/, oauth2/ or the FHIR path
//     (fhir/R4 by default) is relative to the base URL.
//   - Anything else is relative to the FHIR base (base URL + FHIR path).
//   - Leading slashes do not change the meaning: "/admin/x" is "admin/x" and
//     "/Patient" is "Patient" (the official CLI wrongly puts "/admin/..."
//     under the FHIR base).
//
// Characters that may not appear raw in a query (spaces, quotes, non-ASCII)
// are percent-encoded; existing escapes are kept.
func (c *Client) ResolveURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("empty URL")
	}
	lower := strings.ToLower(s)
	var raw string
	switch {
	case strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://"):
		raw = s
	case hasOtherScheme(s):
		return "", fmt.Errorf("URL %q: only http and https URLs are supported", RedactURL(s))
	default:
		p := strings.TrimLeft(s, "/")
		if c.isBaseRelative(p) {
			raw = c.baseStr + p
		} else {
			raw = c.fhirStr + p
		}
	}
	u, err := url.Parse(escapeQuery(raw))
	if err != nil {
		return "", fmt.Errorf("URL %q: %w", RedactURL(s), parseCause(err))
	}
	if u.Host == "" {
		return "", fmt.Errorf("URL %q has no host", RedactURL(s))
	}
	return u.String(), nil
}

// hasOtherScheme reports whether s starts with "scheme://" for a scheme
// other than http(s) (those are handled before).
func hasOtherScheme(s string) bool {
	i := strings.Index(s, "://")
	if i <= 0 {
		return false
	}
	for j := 0; j < i; j++ {
		ch := s[j]
		letter := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z'
		if !letter && (j == 0 || !(ch >= '0' && ch <= '9' || ch == '+' || ch == '-' || ch == '.')) {
			return false
		}
	}
	return true
}

func (c *Client) isBaseRelative(p string) bool {
	for _, pre := range baseRelativePrefixes {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	fp := c.fhirPath
	if !strings.HasPrefix(p, fp) {
		return false
	}
	rest := p[len(fp):]
	return rest == "" || strings.ContainsRune("/?#", rune(rest[0]))
}

// SameOrigin reports whether an absolute URL has the base URL's scheme and
// host (port included; default ports are normalised). Only such URLs receive
// credentials.
func (c *Client) SameOrigin(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	return sameOrigin(c.base, u)
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && hostPort(a) == hostPort(b)
}

func hostPort(u *url.URL) string {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return host + ":" + port
}

// escapeQuery percent-encodes the bytes of the query (and fragment) that may
// not appear raw in a request line, leaving everything else untouched, so
// "Patient?name=John Smith" works as typed.
func escapeQuery(raw string) string {
	i := strings.IndexByte(raw, '?')
	if i < 0 {
		return raw
	}
	q := raw[i:]
	needs := false
	for j := 0; j < len(q); j++ {
		if mustEscape(q[j]) {
			needs = true
			break
		}
	}
	if !needs {
		return raw
	}
	var b strings.Builder
	b.Grow(len(raw) + 16)
	b.WriteString(raw[:i])
	const hex = "0123456789ABCDEF"
	for j := 0; j < len(q); j++ {
		ch := q[j]
		if mustEscape(ch) {
			b.WriteByte('%')
			b.WriteByte(hex[ch>>4])
			b.WriteByte(hex[ch&15])
			continue
		}
		b.WriteByte(ch)
	}
	return b.String()
}

func mustEscape(ch byte) bool {
	return ch <= ' ' || ch >= 0x7f || strings.IndexByte("\"<>\\^`{|}", ch) >= 0
}

// normaliseBase checks an absolute http(s) base URL and returns it with
// exactly one trailing slash, without query or fragment.
func normaliseBase(s string) (*url.URL, string, error) {
	if s == "" {
		return nil, "", fmt.Errorf("base URL is empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, "", fmt.Errorf("base URL %q: %w", RedactURL(s), parseCause(err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, "", fmt.Errorf("base URL %q must be an absolute http or https URL", RedactURL(s))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, "", fmt.Errorf("base URL %q must not have a query or fragment", RedactURL(s))
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/"
	u.RawPath = ""
	return u, u.String(), nil
}

// parseCause is url.Parse's error without the URL it repeats (unredacted).
func parseCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
