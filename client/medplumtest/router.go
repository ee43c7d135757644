package medplumtest

import (
	"bytes"
	"encoding/json"
	"html"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/medplumcli/medplum/client"
)

// The route table works like Express, which the real server runs on: layers
// are tried in registration order; a "use" layer runs for every request under
// its prefix and may stop the chain (authentication, admin checks); the first
// route whose method and pattern match handles the request; nothing matching
// gives Express's HTML 404 "Cannot METHOD /path".
//
// To add an endpoint: s.handle("POST", "/auth/login", s.authLogin) in routes().

type handlerFunc func(c *reqCtx)

// useFunc is middleware: it returns false when it has answered the request.
type useFunc func(c *reqCtx) bool

type layer struct {
	method  string   // "" for use layers
	pattern []string // path segments; ":name" captures one segment
	prefix  bool     // use layers match any path under the pattern
	handle  handlerFunc
	use     useFunc
}

// reqCtx is one request in flight.
type reqCtx struct {
	s          *Server
	w          http.ResponseWriter
	r          *http.Request
	path       string // path with any /api prefix removed
	params     map[string]string
	raw        []byte     // request body as received
	body       any        // parsed JSON body (nil when not JSON)
	isJSON     bool       // Content-Type was application/json or application/*+json
	bodyErr    bool       // JSON content type with an unparsable body
	auth       *authState // set by the authenticate middleware
	reqID      string
	fhirHeader string    // the fhirInteractions RateLimit value, once charged
	job        *asyncJob // set for the entries an async batch job runs
	presetID   string    // a batch's create: the id given out before the entries ran (546)
}

func (s *Server) handle(method, pattern string, h handlerFunc) {
	s.layers = append(s.layers, layer{method: method, pattern: splitPath(pattern), handle: h})
}

func (s *Server) use(prefix string, u useFunc) {
	s.layers = append(s.layers, layer{pattern: splitPath(prefix), prefix: true, use: u})
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func (l *layer) match(method string, segs []string) (map[string]string, bool) {
	if l.method != "" && l.method != method {
		return nil, false
	}
	if l.prefix {
		if len(segs) < len(l.pattern) {
			return nil, false
		}
	} else if len(segs) != len(l.pattern) {
		return nil, false
	}
	var params map[string]string
	for i, p := range l.pattern {
		if strings.HasPrefix(p, ":") {
			if segs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[p[1:]] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// routes registers every endpoint. Other pieces (auth flows) add theirs here.
func (s *Server) routes() {
	s.handle("GET", "/healthcheck", s.healthcheck)
	s.handle("GET", "/.well-known/openid-configuration", s.openIDConfiguration)
	s.handle("POST", "/oauth2/token", s.token)
	s.grants["client_credentials"] = s.clientCredentialsGrant

	s.use("/auth/me", s.authenticate)
	s.handle("GET", "/auth/me", s.me)
	s.loginRoutes()
	s.securityRoutes()

	s.adminRoutes()
	s.fhirRoutes()
	s.provisionRoutes()
	s.botRoutes()
	s.storageRoutes()
}

// serveHTTP is the entry point: request log, faults, rate limit, dispatch.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	_ = r.Body.Close()
	s.reqlog.add(r, raw, s.now())

	c := &reqCtx{s: s, w: w, r: r, raw: raw, reqID: newID()}
	c.path = r.URL.EscapedPath()
	if c.path == "/api" || strings.HasPrefix(c.path, "/api/") {
		c.path = strings.TrimPrefix(c.path, "/api")
	}
	setSecurityHeaders(w.Header())

	if d := s.faults.latency(); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if f := s.faults.take(r, c.path, raw); f != nil {
		if !c.applyFault(f) {
			return
		}
		if cw, ok := c.w.(*capture); ok {
			defer cw.finish(r, f.Hold)
		}
	}
	if !s.limits.check(c) {
		return
	}
	// Batches and transactions run alone, so that a failed transaction can
	// be rolled back without undoing anybody else's writes.
	if r.Method == "POST" && c.path == "/fhir/R4" {
		s.txMu.Lock()
		defer s.txMu.Unlock()
	} else {
		s.txMu.RLock()
		defer s.txMu.RUnlock()
	}
	s.dispatch(c)
}

// dispatch parses the body and routes the request through the layers.
func (s *Server) dispatch(c *reqCtx) {
	if c.tooLarge() {
		c.sendOutcome(badRequest("File too large"))
		return
	}
	c.parseBody()
	if c.bodyErr {
		c.sendOutcome(badRequest("Content could not be parsed"))
		return
	}
	segs := splitPath(c.path)
	for i := range segs {
		segs[i], _ = unescapeSegment(segs[i])
	}
	for i := range s.layers {
		l := &s.layers[i]
		params, ok := l.match(c.r.Method, segs)
		if !ok {
			continue
		}
		c.params = params
		if l.use != nil {
			if !l.use(c) {
				return
			}
			continue
		}
		l.handle(c)
		return
	}
	c.expressNotFound()
}

func unescapeSegment(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	u, err := url.PathUnescape(s)
	if err != nil {
		return s, err
	}
	return u, nil
}

// parseBody parses JSON bodies like the real server's body parsers:
// application/json and any application/*+json, an object or an array.
// Other bodies stay raw.
func (c *reqCtx) parseBody() {
	mt, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	c.isJSON = mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
	if !c.isJSON || len(bytes.TrimSpace(c.raw)) == 0 {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(c.raw))
	dec.UseNumber()
	if err := dec.Decode(&c.body); err != nil || dec.More() {
		c.body, c.bodyErr = nil, true
	}
	// Strict, as body-parser's json() is by default: only an object or an
	// array (capture 124f: "Marge" is 400 "Content could not be parsed";
	// so are 42 and null).
	switch c.body.(type) {
	case map[string]any, []any:
	default:
		c.body, c.bodyErr = nil, true
	}
}

// Body size limits of the real server's parsers (app.ts): JSON
// (application/json, application/*+json) up to maxJsonSize, 1mb by
// default; text/plain and HL7 v2 up to body-parser's default, 100kb. A
// larger body is 400 "File too large" before any route or authentication
// (captures 124b, 124c). Binary content is not parsed, so not limited.
const (
	maxJSONBody = 1 << 20
	maxTextBody = 100 << 10
)

// tooLarge reports whether the body is over its parser's limit.
func (c *reqCtx) tooLarge() bool {
	if c.path == "/fhir/R4/Binary" || strings.HasPrefix(c.path, "/fhir/R4/Binary/") {
		return false
	}
	mt, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	switch {
	case mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")):
		return len(c.raw) > maxJSONBody
	case mt == "text/plain" || mt == "x-application/hl7-v2+er7":
		return len(c.raw) > maxTextBody
	}
	return false
}

// bodyObject returns the JSON body as an object, or nil.
func (c *reqCtx) bodyObject() map[string]any {
	m, _ := c.body.(map[string]any)
	return m
}

func setSecurityHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store, no-cache, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none';")
	h.Set("Permissions-Policy", "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=(), interest-cohort=()")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	rawSet(h, "X-XSS-Protection", "1; mode=block")
	h.Set("Vary", "Accept-Encoding")
}

const (
	ctFHIR = "application/fhir+json; charset=utf-8"
	ctJSON = "application/json; charset=utf-8"
	ctHTML = "text/html; charset=utf-8"
)

// marshal encodes v compactly without HTML escaping, as Express's res.json
// does. Objects list "resourceType" first and the other keys sorted (the
// real server keeps insertion order, which a map cannot remember; this keeps
// the output reading like FHIR).
func marshal(v any) []byte {
	var buf bytes.Buffer
	writeJSON(&buf, v)
	return buf.Bytes()
}

func writeJSON(buf *bytes.Buffer, v any) {
	switch t := v.(type) {
	case client.Resource:
		writeObject(buf, t)
	case map[string]any:
		writeObject(buf, t)
	case []any:
		buf.WriteByte('[')
		for i, x := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSON(buf, x)
		}
		buf.WriteByte(']')
	default:
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(t); err != nil {
			panic(err)
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
	}
}

func writeObject(buf *bytes.Buffer, m map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "resourceType" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if _, ok := m["resourceType"]; ok {
		keys = append([]string{"resourceType"}, keys...)
	}
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSON(buf, k)
		buf.WriteByte(':')
		writeJSON(buf, m[k])
	}
	buf.WriteByte('}')
}

func (c *reqCtx) write(status int, contentType string, body []byte) {
	h := c.w.Header()
	if c.fhirHeader != "" {
		h["RateLimit"] = append(h["RateLimit"], c.fhirHeader)
	}
	h.Set("Content-Type", contentType)
	if strings.HasPrefix(contentType, "application/fhir+ndjson") {
		// Express's compression leaves alone (and without Vary) what
		// mime-db does not call compressible (captures 135, 136c).
		h.Del("Vary")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(status)
	_, _ = c.w.Write(body)
}

// json writes v as application/json (Express res.json).
func (c *reqCtx) json(status int, v any) { c.write(status, ctJSON, marshal(v)) }

// jsonResource writes a resource as application/json (the admin routes).
func (c *reqCtx) jsonResource(status int, res client.Resource) { c.json(status, res) }

// fhir writes v as application/fhir+json.
func (c *reqCtx) fhir(status int, v any) { c.write(status, ctFHIR, marshal(v)) }

// fhirResource writes a resource with ETag and Last-Modified, as the FHIR
// routes and sendFhirResponse do.
func (c *reqCtx) fhirResource(status int, res client.Resource) {
	setVersionHeaders(c.w.Header(), res)
	c.fhir(status, res)
}

// setVersionHeaders sets ETag and Last-Modified from a resource's meta.
func setVersionHeaders(h http.Header, res client.Resource) {
	meta, _ := res["meta"].(map[string]any)
	if v, ok := meta["versionId"].(string); ok {
		rawSet(h, "ETag", `W/"`+v+`"`)
	}
	if lu, ok := meta["lastUpdated"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, lu); err == nil {
			h.Set("Last-Modified", t.UTC().Format(http.TimeFormat))
		}
	}
}

// expressNotFound answers like Express's final handler.
func (c *reqCtx) expressNotFound() {
	c.w.Header().Set("Content-Security-Policy", "default-src 'none'")
	body := "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot " +
		html.EscapeString(c.r.Method+" "+c.r.URL.EscapedPath()) + "</pre>\n</body>\n</html>\n"
	c.write(http.StatusNotFound, ctHTML, []byte(body))
}

// text writes a text/html body, as Express's res.send(string) does.
func (c *reqCtx) text(status int, s string) { c.write(status, ctHTML, []byte(s)) }

func (s *Server) healthcheck(c *reqCtx) {
	c.json(200, map[string]any{
		"ok":             true,
		"version":        "5.0.10-medplumtest",
		"platform":       "linux",
		"runtime":        "go",
		"postgres":       true,
		"redis":          true,
		"redisInstances": []any{},
	})
}

// rawSet sets a header with the real server's spelling (RateLimit, ETag,
// WWW-Authenticate, X-XSS-Protection) rather than Go's canonical form.
// Header lookups are case-insensitive on every client, Go's included.
func rawSet(h http.Header, key, value string) {
	delete(h, http.CanonicalHeaderKey(key))
	h[key] = []string{value}
}
