package medplumtest

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Bulk data export (fhir/operations/export.ts, groupexport.ts,
// patientexport.ts, bulkdata routes), as 5.0.10 answers it:
//
//   - GET or POST fhir/R4/$export, fhir/R4/Patient/$export and GET
//     fhir/R4/Group/:id/$export answer 202 with Content-Location
//     fhir/R4/bulkdata/export/<id> and an "accepted" OperationOutcome whose
//     diagnostics is that URL, with or without Prefer: respond-async
//     (captures 125, 128, 129, 131, 411). Only _type and _since in the query
//     count: a POST body is ignored (128, 128b). POST Group/:id/$export is
//     not a route: 404 (412); an unknown Group is 404 (413).
//   - GET of the status URL answers a bare 202 (no body, no Content-Type,
//     no X-Progress, no Retry-After, no fhirInteractions RateLimit) while
//     the job runs (126), then 200 application/json with the manifest:
//     transactionTime, request, requiresAccessToken false, output [{type,
//     url}] (one signed storage URL of an application/fhir+ndjson Binary
//     per resource type that has resources), error [] and deleted [] (127,
//     129b, 130b, 411b). A _type that names no resources gives no output
//     (415b). A Group without members, or a _since that is not a date, never
//     finishes: 202 for ever (414b, 416b; still 202 34 minutes later:
//     510b, 511b).
//   - DELETE of the status URL answers 202 text/plain "Accepted", again
//     too (137, 138c); the job's polls then answer 404 application/json
//     without tracing (138, 138b). An id that is no job is the FHIR 404
//     (139).
//   - The output files are storage URLs: no token needed, 401 without the
//     signature (135, 136, 136b), and their Binary reads as the NDJSON
//     (136c).
//
// What a system export holds: every resource of the caller's project the
// caller may read, Binary and Login aside (127: Patient, Practitioner,
// Project, ClientApplication with its secret, User, ProjectMembership, Bot,
// UserSecurityRequest). A Patient export: the Patients, what refers to them,
// and what they refer to (129b). A Group export: its member Patients, what
// refers to them, and the Group (411b). medplumtest writes the files when the
// job starts; SetExportPolls says how many polls answer 202 before the
// manifest (the "slow job" knob; default 1, as 126 shows an immediate poll
// answered 202). How many quota points an export costs is not modelled
// (a kickoff, a finished poll and a cancel are charged as a search); which
// answers carry the fhirInteractions header is.

// exportJob is one bulk export.
type exportJob struct {
	project   string
	owner     string // the membership that started it
	polls     int    // polls still to answer 202
	never     bool   // a job that never finishes (414b, 416b, 510b, 511b)
	cancelled bool
	manifest  map[string]any
}

// exportSkip are types an export leaves out: 5.0.10's unexportedResourceTypes
// and protectedResourceTypes (fhir/operations/export.ts canBeExported,
// core access.ts). Capture 127 holds only types an export keeps, so it
// cannot show these; the list is the server's source.
var exportSkip = map[string]bool{
	"Binary": true, "CodeSystem": true, "SearchParameter": true, "StructureDefinition": true, "ValueSet": true,
	"BulkDataExport": true, "AsyncJob": true, "AuditEvent": true,
	"DomainConfiguration": true, "JsonWebKey": true, "Login": true,
}

func (s *Server) exportRoutes() {
	s.handle("GET", "/fhir/R4/$export", s.exportStart)
	s.handle("POST", "/fhir/R4/$export", s.exportStart)
	s.handle("GET", "/fhir/R4/Patient/$export", s.exportStart)
	s.handle("POST", "/fhir/R4/Patient/$export", s.exportStart)
	s.handle("GET", "/fhir/R4/Group/:id/$export", s.exportStart)
	s.handle("POST", "/fhir/R4/Group/:id/$export", func(c *reqCtx) { // 412
		if c.charge(pointsSearch) {
			c.sendOutcome(notFound())
		}
	})
	s.handle("GET", "/fhir/R4/bulkdata/export/:id", s.exportStatus)
	s.handle("DELETE", "/fhir/R4/bulkdata/export/:id", s.exportCancel)
}

// SetExportPolls makes every bulk export started from now on answer its
// first n polls with 202 before the manifest (0: the first poll gets it).
func (s *Server) SetExportPolls(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exportPolls = max(n, 0)
}

// ExportJobs is how many bulk exports were started and not cancelled.
func (s *Server) ExportJobs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, j := range s.exports {
		if !j.cancelled {
			n++
		}
	}
	return n
}

func (s *Server) exportStart(c *reqCtx) {
	if !c.charge(pointsSearch) {
		return
	}
	a := c.auth
	q := c.r.URL.Query()
	var types map[string]bool
	if t := q.Get("_type"); t != "" {
		types = map[string]bool{}
		for _, x := range strings.Split(t, ",") {
			types[strings.TrimSpace(x)] = true
		}
	}
	var since time.Time
	never := false
	if v := q.Get("_since"); v != "" {
		t, err := parseInstant(v)
		if err != nil {
			never = true // 416b: the job fails inside and never completes
		}
		since = t
	}
	base := s.baseURL(c.r)
	request := base + "fhir/R4$export"
	s.mu.Lock()
	var recs []*record
	switch {
	case c.params["id"] != "":
		g := s.st.live("Group", c.params["id"])
		if g == nil || !a.visible(g) || !a.canAccessType("Group") {
			s.mu.Unlock()
			c.sendOutcome(notFound())
			return
		}
		request = base + "fhir/R4/Group/" + g.id + "/$export"
		var patients []*record
		members, _ := g.res["member"].([]any)
		for _, m := range members {
			mm, _ := m.(map[string]any)
			ref, _ := mm["entity"].(map[string]any)
			r, _ := ref["reference"].(string)
			if p := s.st.liveRef(r); p != nil && p.typ == "Patient" && a.visible(p) {
				patients = append(patients, p)
			}
		}
		if len(members) == 0 {
			never = true // 414b
		}
		recs = append(s.compartment(a, patients, false), g)
	case strings.HasPrefix(c.path, "/fhir/R4/Patient/"):
		request = base + "fhir/R4Patient/$export"
		recs = s.compartment(a, s.visibleOf(a, "Patient"), true)
	default:
		for _, typ := range s.st.types() {
			if !exportSkip[typ] && a.canAccessType(typ) {
				recs = append(recs, s.visibleOf(a, typ)...)
			}
		}
	}
	now := s.now()
	files := map[string]*bytes.Buffer{}
	var order []string
	for _, rec := range recs {
		if (types != nil && !types[rec.typ]) || (!since.IsZero() && rec.updated.Before(since)) {
			continue
		}
		b := files[rec.typ]
		if b == nil {
			b = &bytes.Buffer{}
			files[rec.typ] = b
			order = append(order, rec.typ)
		}
		// The attachment urls as stored ("Binary/<id>"), not presigned as
		// a read answers them (555).
		plain := *rec
		plain.attach = false
		b.Write(marshal(c.present(&plain)))
		b.WriteByte('\n')
	}
	output := []any{}
	for _, typ := range order {
		bin := s.storeBinary(a.projectID(), a.author(), "application/fhir+ndjson", files[typ].Bytes())
		output = append(output, map[string]any{"type": typ, "url": s.presign(bin, c.r)})
	}
	id := newID()
	s.exports[id] = &exportJob{
		project: a.projectID(), owner: a.membership.id, polls: s.exportPolls, never: never,
		manifest: map[string]any{
			"transactionTime": formatInstant(now), "request": request, "requiresAccessToken": false,
			"output": output, "error": []any{}, "deleted": []any{},
		},
	}
	s.mu.Unlock()
	loc := base + "fhir/R4/bulkdata/export/" + id
	c.w.Header().Set("Content-Location", loc)
	o := outcome("accepted", "information", "informational", "Accepted")
	o.Issue[0].Diagnostics = loc
	c.fhir(http.StatusAccepted, c.withTracing(o))
}

// visibleOf is the live records of typ the caller sees. Holds s.mu.
func (s *Server) visibleOf(a *authState, typ string) []*record {
	var out []*record
	for _, r := range s.st.all(typ) {
		if a.visible(r) {
			out = append(out, r)
		}
	}
	return out
}

// compartment is the patients, the records that refer to one of them, and
// (withRefs) the records they refer to. Holds s.mu.
func (s *Server) compartment(a *authState, patients []*record, withRefs bool) []*record {
	refs := map[string]bool{}
	for _, p := range patients {
		refs["Patient/"+p.id] = true
	}
	out := slices.Clone(patients)
	seen := map[*record]bool{}
	for _, p := range patients {
		seen[p] = true
	}
	add := func(r *record) {
		if r != nil && !seen[r] && a.visible(r) && !exportSkip[r.typ] && a.canAccessType(r.typ) {
			seen[r] = true
			out = append(out, r)
		}
	}
	if withRefs {
		for _, p := range patients {
			for _, ref := range referencesIn(p.res) {
				add(s.st.liveRef(ref))
			}
		}
	}
	for _, typ := range s.st.types() {
		if typ == "Patient" || typ == "Group" { // a Group is not in a Patient's compartment
			continue
		}
		for _, r := range s.st.all(typ) {
			for _, ref := range referencesIn(r.res) {
				if refs[ref] {
					add(r)
					break
				}
			}
		}
	}
	return out
}

// referencesIn lists the reference strings anywhere in a resource.
func referencesIn(res map[string]any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				if s, ok := x.(string); ok && k == "reference" {
					out = append(out, s)
				} else {
					walk(x)
				}
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(res)
	return out
}

// job looks up the caller's export job; nil means it was answered.
func (c *reqCtx) exportJob() *exportJob {
	c.s.mu.Lock()
	j := c.s.exports[c.params["id"]]
	if j == nil || (j.project != c.auth.projectID() && !c.auth.superAdmin()) {
		c.s.mu.Unlock()
		if c.charge(pointsSearch) {
			c.sendOutcome(notFound()) // 139
		}
		return nil
	}
	return j
}

func (s *Server) exportStatus(c *reqCtx) {
	j := c.exportJob()
	if j == nil {
		return
	}
	switch {
	case j.cancelled:
		s.mu.Unlock()
		if c.charge(pointsSearch) { // 138: Express's json, no tracing
			c.json(http.StatusNotFound, notFound())
		}
	case j.never || j.polls > 0:
		if j.polls > 0 {
			j.polls--
		}
		s.mu.Unlock()
		c.w.Header().Del("Vary")
		c.w.WriteHeader(http.StatusAccepted) // 126: nothing else, not even Vary
	default:
		m := j.manifest
		s.mu.Unlock()
		if c.charge(pointsSearch) {
			c.json(http.StatusOK, m)
		}
	}
}

func (s *Server) exportCancel(c *reqCtx) {
	j := c.exportJob()
	if j == nil {
		return
	}
	j.cancelled = true
	s.mu.Unlock()
	if c.charge(pointsSearch) {
		c.write(http.StatusAccepted, "text/plain; charset=utf-8", []byte("Accepted"))
	}
}

// parseInstant reads a FHIR instant or date.
func parseInstant(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	_, err := time.Parse(time.RFC3339, v)
	return time.Time{}, err
}

// ExportSkipped are the types an export leaves out (exportSkip), for the
// commands' own list to be checked against.
func ExportSkipped() []string {
	out := make([]string, 0, len(exportSkip))
	for t := range exportSkip {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}
