package medplumtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/medplumcli/medplum/client"
)

// Binary resources and their storage (fhir/binary.ts, storage/routes.ts,
// fhir/rewrite.ts; captures 112-115b):
//
//   - POST fhir/R4/Binary?_filename=NAME stores the raw body with its
//     Content-Type and answers 201 with the Binary resource and a presigned
//     "url". PUT fhir/R4/Binary/:id replaces the content.
//   - GET fhir/R4/Binary/:id answers the resource as JSON when Accept starts
//     with application/fhir+json, else the content itself.
//   - GET storage/:id/:versionId?Expires=..&Signature=.. answers the content
//     without credentials while the signature is valid.
//   - A write of any other resource turns attachment URLs that name a
//     Binary (Binary/<id>, <base>fhir/R4/Binary/<id>, a storage URL) into
//     "Binary/<id>"; FHIR answers turn them back into presigned storage URLs
//     when the caller may read the Binary.
//
// The Binary routes are not FHIR interactions: they answer without the
// fhirInteractions RateLimit header.

// blob is the content of one Binary.
type blob struct {
	data []byte
}

// presignLifetime is how long a storage URL stays valid (Medplum: one hour).
const presignLifetime = time.Hour

func (s *Server) binaryRoutes() {
	s.handle("POST", "/fhir/R4/Binary", s.binaryWrite)
	s.handle("PUT", "/fhir/R4/Binary/:id", s.binaryWrite)
	s.handle("GET", "/fhir/R4/Binary/:id", s.binaryRead)
}

func (s *Server) storageRoutes() {
	s.handle("GET", "/storage/:id", s.storageRead)
	s.handle("GET", "/storage/:id/:versionId", s.storageRead)
}

// binaryWrite is POST Binary and PUT Binary/:id: the body is the content,
// except for an application/fhir+json body that is itself a Binary resource.
func (s *Server) binaryWrite(c *reqCtx) {
	a := c.auth
	if !a.canAccessType("Binary") {
		c.sendOutcome(forbidden())
		return
	}
	if !c.consume(pointsWrite, false) {
		return
	}
	id := c.params["id"]
	ct := c.r.Header.Get("Content-Type")
	res := client.Resource{"resourceType": "Binary", "contentType": ct}
	if ct == "" {
		res["contentType"] = "application/octet-stream"
	}
	data := c.raw
	if mt, _, _ := mime.ParseMediaType(ct); mt == client.ContentTypeFHIR {
		if m := c.bodyObject(); m != nil && m["resourceType"] == "Binary" && (id == "" || m["id"] == id) {
			res = client.Resource(deepCopy(m))
			data = nil
			if d, ok := res["data"].(string); ok {
				data, _ = base64.StdEncoding.DecodeString(d)
				delete(res, "data")
			}
		}
	}
	if sc := c.r.Header.Get("X-Security-Context"); sc != "" {
		res["securityContext"] = map[string]any{"reference": sc}
	}
	s.mu.Lock()
	status := http.StatusCreated
	if id != "" {
		prev := s.st.get("Binary", id)
		if prev != nil && !a.visible(prev) {
			c.unlockOutcome(notFound())
			return
		}
		res["id"] = id
		status = http.StatusOK
	} else {
		delete(res, "id")
	}
	project := a.projectID()
	rec := s.st.write(res, project, a.author(), s.now())
	if data != nil || s.blobs[rec.id] == nil {
		s.blobs[rec.id] = &blob{data: append([]byte(nil), data...)}
	}
	out := c.present(rec)
	out["url"] = s.presign(rec, c.r)
	s.mu.Unlock()
	if status == http.StatusCreated {
		c.w.Header().Set("Location", s.baseURL(c.r)+"fhir/R4/Binary/"+rec.id)
	}
	c.fhirResource(status, out)
}

// binaryRead is GET Binary/:id.
func (s *Server) binaryRead(c *reqCtx) {
	if !c.auth.canAccessType("Binary") {
		c.sendOutcome(forbidden())
		return
	}
	rec := c.readVisible("Binary", c.params["id"])
	if rec == nil {
		return
	}
	out := c.present(rec)
	var data []byte
	if b := s.blobs[rec.id]; b != nil {
		data = b.data
	}
	s.mu.Unlock()
	if strings.HasPrefix(c.r.Header.Get("Accept"), client.ContentTypeFHIR) {
		c.fhirResource(200, out)
		return
	}
	setVersionHeaders(c.w.Header(), out)
	c.write(200, expressContentType(out.String("contentType")), data)
}

// storageRead is GET storage/:id[/:versionId] with a presigned query.
func (s *Server) storageRead(c *reqCtx) {
	q := c.r.URL.Query()
	sig := q.Get("Signature")
	if sig == "" {
		c.write(http.StatusUnauthorized, "text/plain; charset=utf-8", []byte("Unauthorized"))
		return
	}
	exp, err := strconv.ParseInt(q.Get("Expires"), 10, 64)
	if err != nil || s.now().Unix() > exp {
		c.text(http.StatusGone, "URL has expired")
		return
	}
	if !hmac.Equal([]byte(sig), []byte(s.signature(c.params["id"], c.params["versionId"], q.Get("Expires")))) {
		c.text(http.StatusUnauthorized, "Invalid signature")
		return
	}
	s.mu.Lock()
	rec := s.st.live("Binary", c.params["id"])
	var b *blob
	if rec != nil {
		b = s.blobs[rec.id]
	}
	if rec == nil || b == nil {
		s.mu.Unlock()
		c.write(http.StatusNotFound, "text/plain; charset=utf-8", []byte("Not Found"))
		return
	}
	ct := rec.res.String("contentType")
	data := b.data
	s.mu.Unlock()
	c.write(200, expressContentType(ct), data)
}

// presign returns the storage URL of a Binary's current version, valid for
// an hour. Holds s.mu.
func (s *Server) presign(rec *record, r *http.Request) string {
	meta, _ := rec.res["meta"].(map[string]any)
	ver, _ := meta["versionId"].(string)
	exp := strconv.FormatInt(s.now().Add(presignLifetime).Unix(), 10)
	v := url.Values{"Expires": {exp}, "Signature": {s.signature(rec.id, ver, exp)}}
	return s.baseURL(r) + "storage/" + rec.id + "/" + ver + "?" + v.Encode()
}

// signature signs a storage URL's id, version and expiry with the server's
// key (the real server signs the whole URL with its RSA key).
func (s *Server) signature(id, version, expires string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("storage/" + id + "/" + version + "?Expires=" + expires))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// expressContentType is the Content-Type header Express sets for a type:
// text/*, application/javascript, application/json and application/fhir+json
// (capture 406) get "; charset=utf-8", as mime-db gives them a charset.
func expressContentType(ct string) string {
	if ct == "" {
		return "application/octet-stream"
	}
	if strings.Contains(ct, "charset=") {
		return ct
	}
	base, _, _ := strings.Cut(ct, ";")
	base = strings.ToLower(strings.TrimSpace(base))
	if strings.HasPrefix(base, "text/") || strings.HasPrefix(base, "application/javascript") || strings.HasPrefix(base, "application/json") || base == "application/fhir+json" {
		return ct + "; charset=utf-8"
	}
	return ct
}

// ---- attachment URLs

// binaryRefOf returns "Binary/<id>" when u names a Binary: a reference, the
// FHIR URL of one on this server, or one of its storage URLs.
func binaryRefOf(u, base string) (string, bool) {
	var rest string
	switch {
	case strings.HasPrefix(u, "Binary/"):
		rest = u[len("Binary/"):]
	case base != "" && strings.HasPrefix(u, base+"fhir/R4/Binary/"):
		rest = u[len(base+"fhir/R4/Binary/"):]
	case base != "" && strings.HasPrefix(u, base+"storage/"):
		rest = u[len(base+"storage/"):]
	default:
		return "", false
	}
	rest, _, _ = strings.Cut(rest, "?")
	id, _, _ := strings.Cut(rest, "/")
	if id == "" {
		return "", false
	}
	return "Binary/" + id, true
}

// normalizeAttachments rewrites, in place, every "url" or "path" that names
// a Binary to "Binary/<id>", as the real server stores them
// (RewriteMode.REFERENCE). A Binary itself is left alone.
func normalizeAttachments(v any, base string) {
	if r, ok := v.(client.Resource); ok {
		v = map[string]any(r)
	}
	switch t := v.(type) {
	case map[string]any:
		if t["resourceType"] == "Binary" {
			return
		}
		for k, x := range t {
			if s, ok := x.(string); ok && (k == "url" || k == "path") {
				if ref, ok := binaryRefOf(s, base); ok {
					t[k] = ref
				}
				continue
			}
			normalizeAttachments(x, base)
		}
	case []any:
		for _, x := range t {
			normalizeAttachments(x, base)
		}
	}
}

// hasBinaryRef reports whether a stored resource names a Binary in a url or
// path, so that answers need presigning.
func hasBinaryRef(v any) bool {
	if r, ok := v.(client.Resource); ok {
		v = map[string]any(r)
	}
	switch t := v.(type) {
	case map[string]any:
		if t["resourceType"] == "Binary" {
			return false
		}
		for k, x := range t {
			if s, ok := x.(string); ok {
				if (k == "url" || k == "path") && strings.HasPrefix(s, "Binary/") {
					return true
				}
				continue
			}
			if hasBinaryRef(x) {
				return true
			}
		}
	case []any:
		for _, x := range t {
			if hasBinaryRef(x) {
				return true
			}
		}
	}
	return false
}

// presignAttachments rewrites, in place, every "Binary/<id>" url or path
// of an answer to a presigned storage URL when the caller may read that
// Binary (RewriteMode.PRESIGNED_URL); others stay references. Holds s.mu.
func (c *reqCtx) presignAttachments(v any) {
	if r, ok := v.(client.Resource); ok {
		v = map[string]any(r)
	}
	switch t := v.(type) {
	case map[string]any:
		if t["resourceType"] == "Binary" {
			return
		}
		for k, x := range t {
			if s, ok := x.(string); ok {
				if (k == "url" || k == "path") && strings.HasPrefix(s, "Binary/") {
					if b := c.s.st.live("Binary", strings.TrimPrefix(s, "Binary/")); b != nil && c.auth != nil && c.auth.visible(b) {
						t[k] = c.s.presign(b, c.r)
					}
				}
				continue
			}
			c.presignAttachments(x)
		}
	case []any:
		for _, x := range t {
			c.presignAttachments(x)
		}
	}
}

// BinaryContent returns the stored content of a Binary and its content type.
func (s *Server) BinaryContent(id string) (data []byte, contentType string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.st.live("Binary", id)
	b := s.blobs[id]
	if rec == nil || b == nil {
		return nil, "", false
	}
	return append([]byte(nil), b.data...), rec.res.String("contentType"), true
}

// storeBinary creates a Binary with content in a project as author. Holds s.mu.
func (s *Server) storeBinary(project string, author *client.Reference, contentType string, data []byte) *record {
	rec := s.st.write(client.Resource{"resourceType": "Binary", "contentType": contentType}, project, author, s.now())
	s.blobs[rec.id] = &blob{data: append([]byte(nil), data...)}
	return rec
}
