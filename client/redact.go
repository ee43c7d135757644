package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// Redacted replaces a secret value in traces and dry runs.
const Redacted = "[REDACTED]"

// RedactHeaders returns a copy of h that is safe to show: Authorization and
// Proxy-Authorization keep only their scheme ("Bearer [REDACTED]"), Cookie
// and Set-Cookie are hidden, and so is any header whose name mentions a
// token, secret, password or API key.
func RedactHeaders(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		ck := http.CanonicalHeaderKey(k)
		cp := make([]string, len(vs))
		for i, v := range vs {
			switch {
			case ck == "Authorization" || ck == "Proxy-Authorization":
				scheme, _, found := strings.Cut(strings.TrimSpace(v), " ")
				if found && scheme != "" {
					cp[i] = scheme + " " + Redacted
				} else {
					cp[i] = Redacted
				}
			case ck == "Cookie" || ck == "Set-Cookie" || IsSecretName(ck):
				cp[i] = Redacted
			default:
				cp[i] = v
			}
		}
		out[ck] = cp
	}
	return out
}

// IsSecretName reports a field, parameter or header name whose value is a
// credential: anything naming a token (but not token_type), secret,
// password, assertion, code verifier, API or private key, or authorization.
// The bare name "code" is handled by the callers, because FHIR uses it for
// ordinary data.
func IsSecretName(name string) bool {
	buf := make([]byte, 0, 32)
	for i := 0; i < len(name); i++ {
		ch := name[i]
		switch {
		case ch == '_' || ch == '-' || ch == '.':
			continue
		case ch >= 'A' && ch <= 'Z':
			ch += 'a' - 'A'
		}
		buf = append(buf, ch)
	}
	n := string(buf)
	if n == "tokentype" {
		return false
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

var secretWords = []string{"token", "secret", "password", "passwd", "assertion", "codeverifier", "apikey", "privatekey", "authorization", "cookie"}

func isCodeName(name string) bool { return strings.EqualFold(name, "code") }

// isSignatureName reports the signature of a presigned URL (Medplum's
// storage links: ?Expires=..&Signature=..; S3's X-Amz-Signature), which
// grants whoever holds it the file it names. (Only in URLs: FHIR has
// signature elements that are data.)
func isSignatureName(name string) bool { return strings.Contains(strings.ToLower(name), "signature") }

// RedactURL hides the password of a URL's user info
// (https://user:[REDACTED]@host/, which net/http sends as Basic
// credentials) and the values of query parameters named like credentials
// (access_token=..., client_secret=...). Search parameters such as code= are
// left alone.
func RedactURL(raw string) string {
	raw = redactPassword(raw)
	i := strings.IndexByte(raw, '?')
	if i < 0 || !strings.Contains(raw[i:], "=") {
		return raw
	}
	return raw[:i+1] + redactPairs(raw[i+1:], false)
}

// redactPassword hides what follows the first ':' of the user info in
// scheme://user:password@host, keeping every other byte.
func redactPassword(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw
	}
	authority := raw[i+3:]
	if end := strings.IndexAny(authority, "/?#"); end >= 0 {
		authority = authority[:end]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return raw
	}
	colon := strings.IndexByte(authority[:at], ':')
	if colon < 0 {
		return raw
	}
	return raw[:i+3+colon+1] + Redacted + raw[i+3+at:]
}

// redactPairs rewrites k=v&k=v, keeping order and encoding, hiding the
// values of secret names (and of "code" when withCode).
func redactPairs(s string, withCode bool) string {
	pairs := strings.Split(s, "&")
	for j, p := range pairs {
		k, _, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if IsSecretName(name) || (withCode && isCodeName(name)) || isSignatureName(name) {
			pairs[j] = k + "=" + Redacted
		}
	}
	return strings.Join(pairs, "&")
}

// RedactBody returns body with credential values hidden, by content type:
// a form hides the values of secret names and of "code"; JSON hides the
// value under every secret name at any depth (the whole value when it is an
// object or array; a boolean, number or null is shown) and a string "code" at the top level (an OAuth code, not
// a FHIR CodeableConcept). JSON that cannot be parsed is not shown at all.
// Other bodies are returned unchanged.
func RedactBody(contentType string, body []byte) []byte {
	if len(body) == 0 {
		return body
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	trimmed := bytes.TrimSpace(body)
	switch {
	case mt == "application/x-www-form-urlencoded":
		return []byte(redactPairs(string(body), true))
	case isJSONType(mt) || (mt == "" && len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[')):
		out, err := redactJSON(trimmed)
		if err != nil {
			return []byte(fmt.Sprintf("[%d bytes of unparsable JSON not shown]", len(body)))
		}
		return out
	}
	return body
}

// redactJSON rewrites one JSON document compactly, in its original key
// order, with secret values replaced.
func redactJSON(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out bytes.Buffer
	out.Grow(len(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if err := writeJSONValue(dec, &out, tok, 0); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return out.Bytes(), nil
}

// isPlainScalar is a JSON true, false, number or null: no secret
// ("requiresAccessToken": false is not one).
func isPlainScalar(tok json.Token) bool {
	switch tok.(type) {
	case bool, json.Number, nil:
		return true
	}
	return false
}

var redactedJSON = []byte(`"` + Redacted + `"`)

func writeJSONValue(dec *json.Decoder, out *bytes.Buffer, tok json.Token, depth int) error {
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			out.WriteByte('{')
			for first := true; dec.More(); first = false {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := kt.(string)
				if !first {
					out.WriteByte(',')
				}
				writeJSONString(out, key)
				out.WriteByte(':')
				vt, err := dec.Token()
				if err != nil {
					return err
				}
				_, isStr := vt.(string)
				switch {
				case IsSecretName(key) && !isPlainScalar(vt):
					if err := skipJSONValue(dec, vt); err != nil {
						return err
					}
					out.Write(redactedJSON)
				case depth == 0 && isStr && isCodeName(key):
					out.Write(redactedJSON)
				default:
					if err := writeJSONValue(dec, out, vt, depth+1); err != nil {
						return err
					}
				}
			}
			if _, err := dec.Token(); err != nil {
				return err
			}
			out.WriteByte('}')
		case '[':
			out.WriteByte('[')
			for first := true; dec.More(); first = false {
				if !first {
					out.WriteByte(',')
				}
				vt, err := dec.Token()
				if err != nil {
					return err
				}
				if err := writeJSONValue(dec, out, vt, depth+1); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return err
			}
			out.WriteByte(']')
		default:
			return fmt.Errorf("unexpected %v", t)
		}
	case string:
		writeJSONString(out, t)
	case json.Number:
		out.WriteString(t.String())
	case bool:
		if t {
			out.WriteString("true")
		} else {
			out.WriteString("false")
		}
	case nil:
		out.WriteString("null")
	default:
		return fmt.Errorf("unexpected token %T", tok)
	}
	return nil
}

// skipJSONValue consumes the rest of a value whose first token is tok.
func skipJSONValue(dec *json.Decoder, tok json.Token) error {
	d, ok := tok.(json.Delim)
	if !ok || d == '}' || d == ']' {
		return nil
	}
	for depth := 1; depth > 0; {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

func writeJSONString(out *bytes.Buffer, s string) {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	out.Truncate(out.Len() - 1) // Encode adds a newline
}
