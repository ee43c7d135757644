package medplumtest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"

	"github.com/medplumcli/medplum/client"
)

// POST /fhir/R4 with a batch or transaction Bundle (fhir/batch.ts). Each
// entry runs as its own request through the route table, with the caller's
// credentials, and urn:uuid references are replaced with the ids of the
// resources created before them. As on 5.0.10, a transaction is all or
// nothing only in a project with the "transaction-bundles" feature (the first
// failing entry rolls everything back and its OperationOutcome is the
// answer); elsewhere it answers entry by entry as a batch does, keeping the
// entries that worked (captures 133, 134; with the feature: 513-513c).
// request.ifNoneExist makes a POST a conditional create (401, 402, 512b).
// Every create gets its id (or, conditional, the match it finds) before
// any entry runs, and urn:uuid references are rewritten to those: an entry
// that fails leaves the ones that referred to it pointing at an id that
// never exists (capture 546, read 404 in 546b).

var urnUUID = regexp.MustCompile(`urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

func (s *Server) fhirBatch(c *reqCtx) {
	if respondAsync(c.r) {
		s.asyncBatch(c)
		return
	}
	b := c.bodyObject()
	if b == nil || b["resourceType"] != "Bundle" {
		c.sendOutcome(badRequest("Not a bundle"))
		return
	}
	typ, _ := b["type"].(string)
	if typ != "batch" && typ != "transaction" {
		c.sendOutcome(badRequest("Unrecognized bundle type"))
		return
	}
	s.mu.Lock()
	tx := typ == "transaction" && c.auth != nil && s.hasFeature(c.auth.projectID(), "transaction-bundles")
	s.mu.Unlock()
	out, oo := s.runBatch(c, b, typ, tx)
	if oo != nil {
		c.sendOutcome(oo)
		return
	}
	c.fhir(200, out)
}

// runBatch runs a Bundle's entries as the caller (c) and returns the
// response Bundle, or, for an all-or-nothing transaction that failed, the
// OperationOutcome that answers it. As fhir-router's batch.ts does, every
// conditional create is first looked up once while the Bundle is
// preprocessed (to resolve its identity), then again by the create itself:
// 140 quota points when it creates (20 + 20 + 100), 40 when it finds
// (captures 401, 402: 420 and 120 points for three entries). An async job
// (c.job) runs each entry under the shared transaction lock, so that the
// requests around it go on.
func (s *Server) runBatch(c *reqCtx, b map[string]any, typ string, tx bool) (map[string]any, *client.OperationOutcome) {
	if tx {
		s.mu.Lock()
		s.st.begin()
		s.mu.Unlock()
	}
	ids := map[string]string{} // urn:uuid:... -> Type/id
	conflicts := s.faults.takeBatchConflicts()
	list, _ := b["entry"].([]any)
	out := make([]any, 0, len(list))
	lock := func() func() {
		if c.job == nil {
			return func() {}
		}
		s.txMu.RLock()
		return s.txMu.RUnlock
	}
	// Preprocessing: a conditional create's lookup; a 429 there is the
	// entry's answer (batch.ts preprocessEntry; not captured: such an
	// entry gets no id here). Each create's identity: the one match of its
	// lookup, else a new id it is created with, given before any entry
	// runs: to a create that then fails (546), to a conditional create
	// that two resources match and that fails 412 (557b), and an entry may
	// refer to a later one (557c). A Project create is left out (it is the
	// admin route's; not captured).
	pre := map[int][2]any{}
	preset := map[int]string{}
	for i, e := range list {
		entry, _ := e.(map[string]any)
		req, _ := entry["request"].(map[string]any)
		method, _ := req["method"].(string)
		u, _ := req["url"].(string)
		if !strings.EqualFold(method, "POST") || u == "" || strings.Contains(u, "/") || strings.Contains(u, "$") {
			continue
		}
		full, _ := entry["fullUrl"].(string)
		if q, _ := req["ifNoneExist"].(string); q != "" {
			unlock := lock()
			status, body := s.subrequest(c, "GET", u+"?"+q, nil)
			unlock()
			if status == http.StatusTooManyRequests {
				pre[i] = [2]any{status, body}
				continue
			}
			if found, _ := body["entry"].([]any); status == http.StatusOK && len(found) == 1 {
				if r, _ := found[0].(map[string]any)["resource"].(map[string]any); r != nil && full != "" {
					ids[full] = client.Resource(r).ResourceType() + "/" + client.Resource(r).ID()
				}
				continue
			}
		}
		if _, ok := entry["resource"].(map[string]any); ok && u != "Project" {
			preset[i] = newID()
			if full != "" {
				ids[full] = u + "/" + preset[i]
			}
		}
	}
	for i, e := range list {
		entry, _ := e.(map[string]any)
		req, _ := entry["request"].(map[string]any)
		method, _ := req["method"].(string)
		u, _ := req["url"].(string)
		resource := entry["resource"]
		resource = rewriteURNs(resource, ids)
		u = rewriteURNs(u, ids).(string)
		ifNoneExist, _ := req["ifNoneExist"].(string)
		ifMatch, _ := req["ifMatch"].(string) // the entry's If-Match (556c, 556d)
		var status int
		var body client.Resource
		switch p, ok := pre[i]; {
		case ok:
			status, body = p[0].(int), p[1].(client.Resource)
		case conflicts[i]:
			// Concurrent batches on 5.0.10: an entry's own transaction
			// fails to serialize and answers 409 (code 40001) inside
			// the 200 Bundle, the others being kept (capture 417).
			status, body = http.StatusConflict, toResource(serializationConflict())
		default:
			unlock := lock()
			status, body = s.conditional(c, method, u, resource, ifNoneExist, ifMatch, preset[i])
			unlock()
		}
		resp := map[string]any{"status": strconv.Itoa(status)}
		res := map[string]any{"response": resp}
		if body.ResourceType() == "OperationOutcome" {
			delete(body, "extension") // an entry's outcome has no tracing (132, 134)
			resp["outcome"] = body
		} else if body != nil {
			res["resource"] = body
			o := allOk()
			if status == http.StatusCreated {
				o = outcome("created", "information", "informational", "Created")
			}
			resp["outcome"] = o
			if id := body.ID(); id != "" {
				resp["location"] = body.ResourceType() + "/" + id
			}
		}
		if tx && status >= 400 {
			s.mu.Lock()
			s.st.rollback()
			s.mu.Unlock()
			oo := &client.OperationOutcome{}
			if err := body.Decode(oo); err != nil || oo.ResourceType != "OperationOutcome" {
				oo = badRequest("Transaction failed at entry " + method + " " + u)
			}
			return nil, oo
		}
		if full, _ := entry["fullUrl"].(string); strings.HasPrefix(full, "urn:uuid:") && (status == http.StatusCreated || status == http.StatusOK) && body.ID() != "" {
			ids[full] = body.ResourceType() + "/" + body.ID()
		}
		out = append(out, res)
		if status == http.StatusTooManyRequests {
			// The quota is spent: the rest are not tried and answer the
			// same 429 (fhir-router batch.ts).
			for range list[i+1:] {
				out = append(out, res)
			}
			break
		}
	}
	if tx {
		s.mu.Lock()
		s.st.commit()
		s.mu.Unlock()
	}
	return map[string]any{"resourceType": "Bundle", "type": typ + "-response", "entry": out}, nil
}

// conditional runs an entry; a POST with request.ifNoneExist searches first
// (captures 401, 402, 512b): see matchFirst. request.ifMatch is the entry's
// If-Match header (fhir-router batch.ts; captures 556c, 556d).
func (s *Server) conditional(c *reqCtx, method, u string, resource any, ifNoneExist, ifMatch, presetID string) (int, client.Resource) {
	if ifNoneExist != "" && strings.EqualFold(method, "POST") && !strings.Contains(u, "/") {
		if status, found, done := s.matchFirst(c, u, ifNoneExist); done {
			return status, found
		}
	}
	return s.subrequestAs(c, method, u, resource, presetID, ifMatch)
}

// matchFirst is the search of a conditional create (request.ifNoneExist, or
// the If-None-Exist header): no match lets the create go on (done false);
// one match is answered as it is (200); more than one is 412
// multiple-matches (captures 402, 512, 512b, 512c). A search the server
// refuses is answered as it refused it.
func (s *Server) matchFirst(c *reqCtx, typ, query string) (int, client.Resource, bool) {
	status, found := s.subrequest(c, "GET", typ+"?"+query, nil)
	if status != http.StatusOK {
		return status, found, true
	}
	list, _ := found["entry"].([]any)
	switch len(list) {
	case 0:
		return 0, nil, false
	case 1:
		r, _ := list[0].(map[string]any)["resource"].(map[string]any)
		return http.StatusOK, client.Resource(r), true
	}
	return http.StatusPreconditionFailed, toResource(multipleMatches()), true
}

// subrequest runs one entry through the route table as the caller.
func (s *Server) subrequest(c *reqCtx, method, u string, resource any) (int, client.Resource) {
	return s.subrequestAs(c, method, u, resource, "", "")
}

// subrequestAs is subrequest of a create whose id was given out before
// (presetID, when not ""), or of an update with an If-Match (ifMatch, when
// not "").
func (s *Server) subrequestAs(c *reqCtx, method, u string, resource any, presetID, ifMatch string) (int, client.Resource) {
	if method == "" || u == "" {
		return http.StatusBadRequest, toResource(c.withTracing(badRequest("Missing entry.request")))
	}
	var raw []byte
	if resource != nil {
		raw = marshal(resource)
	}
	r, err := http.NewRequestWithContext(c.r.Context(), strings.ToUpper(method), "/fhir/R4/"+strings.TrimPrefix(u, "/"), bytes.NewReader(raw))
	if err != nil {
		return http.StatusBadRequest, toResource(c.withTracing(badRequest("Invalid entry.request.url")))
	}
	r.Host = c.r.Host
	for _, h := range []string{"Authorization", "X-Medplum"} {
		if v := c.r.Header.Get(h); v != "" {
			r.Header.Set(h, v)
		}
	}
	if raw != nil {
		r.Header.Set("Content-Type", "application/fhir+json")
	}
	if ifMatch != "" {
		r.Header.Set("If-Match", ifMatch)
	}
	rec := httptest.NewRecorder()
	sub := &reqCtx{s: s, w: rec, r: r, raw: raw, reqID: c.reqID, path: r.URL.EscapedPath(), job: c.job, presetID: presetID}
	s.dispatch(sub)
	if sub.fhirHeader != "" {
		c.fhirHeader = sub.fhirHeader // the batch's answer reports the quota its entries used
	}
	body, _ := client.DecodeResource(rec.Body.Bytes()) // nil for an HTML 404
	return rec.Code, body
}

// rewriteURNs replaces urn:uuid references with the created resources' ids.
func rewriteURNs(v any, ids map[string]string) any {
	switch t := v.(type) {
	case string:
		return urnUUID.ReplaceAllStringFunc(t, func(m string) string {
			if id, ok := ids[m]; ok {
				return id
			}
			return m
		})
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = rewriteURNs(x, ids)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = rewriteURNs(x, ids)
		}
		return out
	}
	return v
}
