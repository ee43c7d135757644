package medplumtest

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/medplumcli/medplum/client"
)

// The FHIR REST API under /fhir/R4 (fhir/routes.ts, fhir/repo.ts).

func (s *Server) fhirRoutes() {
	s.handle("GET", "/fhir/R4/metadata", s.capabilityStatement)
	s.use("/fhir/R4", s.authenticate)
	s.binaryRoutes()
	s.exportRoutes()
	s.asyncJobRoutes()
	s.handle("POST", "/fhir/R4", s.fhirBatch)
	s.handle("GET", "/fhir/R4/:type", s.fhirSearch)
	s.handle("POST", "/fhir/R4/:type/_search", s.fhirSearch)
	s.handle("POST", "/fhir/R4/Project/$init", s.projectInit)
	s.handle("POST", "/fhir/R4/:type", s.fhirCreate)
	s.handle("GET", "/fhir/R4/:type/:id", s.fhirRead)
	s.handle("GET", "/fhir/R4/:type/:id/_history", s.fhirHistory)
	s.handle("PUT", "/fhir/R4/:type/:id", s.fhirUpdate)
	s.handle("PATCH", "/fhir/R4/:type/:id", s.fhirPatch)
	s.handle("DELETE", "/fhir/R4/:type/:id", s.fhirDelete)
}

// FHIR interaction quota points (fhir/fhirquota.ts). A conditional create
// (If-None-Exist) is 120 (a search and a write), 20 when it finds one
// match or two (fhirCreate); in a batch 140 (two searches and a write), 40
// when it finds its match (runBatch).
const (
	pointsRead   = 1
	pointsSearch = 20
	pointsWrite  = 100
)

// fhirType checks the :type parameter; false means the request was answered.
func (c *reqCtx) fhirType() (string, bool) {
	typ := c.params["type"]
	if !resourceTypes[typ] {
		c.sendOutcome(structureError("Unknown resource type"))
		return "", false
	}
	return typ, true
}

// canAccessType reports whether the caller may use a resource type at all.
func (a *authState) canAccessType(typ string) bool {
	switch {
	case a.superAdmin():
		return true
	case superAdminTypes[typ]:
		return false
	case projectAdminTypes[typ]:
		return a.admin()
	}
	return true
}

// visible reports whether the caller's repository sees a record: its own
// project only, except for super admins. Every repository also holds the
// base "FHIR R4" project (repo.ts pushes syntheticR4Project into its
// projects, and a Project search includes all of them): a project admin
// reads, finds and exports that Project too (captures 545-545c). Its
// definitions (StructureDefinition, SearchParameter, ...) are not modelled.
func (a *authState) visible(rec *record) bool {
	return a.superAdmin() || rec.project == a.projectID() || (rec.typ == "Project" && rec.id == R4ProjectID)
}

// extended reports whether the request asked for Medplum's extended meta.
func (c *reqCtx) extended() bool {
	return strings.EqualFold(strings.TrimSpace(c.r.Header.Get("X-Medplum")), "extended")
}

// present returns what the caller's repository returns for a record: hidden
// fields removed, and without X-Medplum: extended the meta fields
// author/project/account/compartment removed (repo.ts removeHiddenFields).
func (c *reqCtx) present(rec *record) client.Resource {
	out := presentResource(rec.res, c.extended())
	if rec.typ == "Project" && c.auth != nil && !c.auth.superAdmin() {
		for _, k := range projectHiddenFields {
			delete(out, k)
		}
	}
	// A super admin's repository hides nothing of a User (captures 143b,
	// 156b); everyone else's hides its password hash and MFA secret.
	if rec.typ == "User" && c.auth != nil && c.auth.superAdmin() {
		for _, k := range []string{"passwordHash", "mfaSecret"} {
			if v, ok := rec.res[k]; ok {
				out[k] = v
			}
		}
	}
	if rec.attach {
		c.presignAttachments(out)
	}
	return out
}

func presentResource(r client.Resource, extended bool) client.Resource {
	out := deepCopy(r)
	if out.ResourceType() == "User" {
		delete(out, "passwordHash")
		delete(out, "mfaSecret")
	}
	if !extended {
		if meta, ok := out["meta"].(map[string]any); ok {
			for _, k := range []string{"author", "project", "account", "accounts", "compartment"} {
				delete(meta, k)
			}
		}
	}
	return out
}

// readVisible looks a resource up for the caller: 404 when it does not exist
// or is not visible, 410 when it was deleted. It holds s.mu on success.
func (c *reqCtx) readVisible(typ, id string) *record {
	rec := c.readVisibleOrDeleted(typ, id)
	if rec != nil && rec.deleted {
		c.unlockOutcome(gone())
		return nil
	}
	return rec
}

// readVisibleOrDeleted is readVisible that also returns a deleted record
// (rec.deleted) instead of answering 410.
func (c *reqCtx) readVisibleOrDeleted(typ, id string) *record {
	c.s.mu.Lock()
	rec := c.s.st.get(typ, id)
	if v, ok := c.s.virtualRecord(typ, id); ok {
		rec = v
	}
	if rec == nil || !c.auth.visible(rec) {
		c.unlockOutcome(notFound())
		return nil
	}
	return rec
}

// fhirTarget starts a route on one resource (fhir/R4/:type/:id): it charges
// the FHIR quota, checks :type, runs check on the request (nil: nothing to
// check), refuses with 403 a caller who may not use the type (or for whom
// deny says so), and looks the resource up (404, 410). nil means the request
// was answered; otherwise the caller holds s.mu.
func (c *reqCtx) fhirTarget(points int, check func(typ string) *client.OperationOutcome, deny func(typ string) bool) *record {
	typ, ok := c.fhirTargetType(points, check, deny)
	if !ok {
		return nil
	}
	return c.readVisible(typ, c.params["id"])
}

// fhirTargetType is fhirTarget up to the look-up.
func (c *reqCtx) fhirTargetType(points int, check func(typ string) *client.OperationOutcome, deny func(typ string) bool) (string, bool) {
	if !c.charge(points) {
		return "", false
	}
	typ, ok := c.fhirType()
	if !ok {
		return "", false
	}
	if check != nil {
		if oo := check(typ); oo != nil {
			c.sendOutcome(oo)
			return "", false
		}
	}
	if !c.auth.canAccessType(typ) || (deny != nil && deny(typ)) {
		c.sendOutcome(forbidden())
		return "", false
	}
	return typ, true
}

// unlockOutcome releases s.mu and answers with an outcome.
func (c *reqCtx) unlockOutcome(oo *client.OperationOutcome) {
	c.s.mu.Unlock()
	c.sendOutcome(oo)
}

func (s *Server) fhirRead(c *reqCtx) {
	rec := c.fhirTarget(pointsRead, nil, nil)
	if rec == nil {
		return
	}
	out := c.present(rec)
	s.mu.Unlock()
	c.fhirResource(200, out)
}

// fhirCreate is a create, or with If-None-Exist a conditional create: as
// fhir-router's conditionalCreate, it searches first (20 quota points) and
// is charged the write (100) only when nothing matched, before the
// resource is checked; a match (200) or two (412) cost the search only
// (captures 512, 512c, 524-524e).
func (s *Server) fhirCreate(c *reqCtx) {
	ifNoneExist := c.r.Header.Get("If-None-Exist")
	if ifNoneExist == "" && !c.charge(pointsWrite) {
		return
	}
	typ, ok := c.fhirType()
	if !ok {
		return
	}
	var res client.Resource
	if c.isJSON && c.body != nil {
		m := c.bodyObject()
		if m == nil {
			c.sendOutcome(badRequest("Incorrect resource type"))
			return
		}
		res = client.Resource(m)
	} else {
		// Non-JSON bodies are not parsed: the real server creates an empty resource.
		res = client.Resource{"resourceType": typ}
	}
	if res.ResourceType() != typ {
		c.sendOutcome(badRequest("Incorrect resource type"))
		return
	}
	if ifNoneExist != "" {
		if status, found, done := s.matchFirst(c, typ, ifNoneExist); done {
			switch status {
			case http.StatusOK:
				c.fhirResource(status, found) // 512c
			case http.StatusPreconditionFailed:
				c.sendOutcome(multipleMatches()) // 512
			default:
				c.fhir(status, found)
			}
			return
		}
		if !c.charge(pointsWrite) {
			return
		}
	}
	a := c.auth
	if !a.canAccessType(typ) || (typ == "Project" && !a.superAdmin()) {
		c.sendOutcome(forbidden())
		return
	}
	delete(res, "id")
	if c.presetID != "" {
		res["id"] = c.presetID
	}
	normalizeAttachments(res, s.baseURL(c.r))
	// A project admin's create loses the readonly fields it sets: a
	// ProjectMembership its project and user, so that it is refused as
	// missing them (capture 419).
	restoreReadonly(a, res, nil)
	if oo := validateResource(res); oo != nil {
		c.sendOutcome(oo)
		return
	}
	project := a.projectID()
	if typ == "Project" {
		project = newID()
		res["id"] = project
	}
	s.mu.Lock()
	rec := s.st.write(res, project, a.author(), s.now())
	out := c.present(rec)
	s.mu.Unlock()
	c.w.Header().Set("Location", s.baseURL(c.r)+"fhir/R4/"+typ+"/"+rec.id)
	c.fhirResource(http.StatusCreated, out)
}

// projectHiddenFields of a Project are hidden from everyone but super
// admins (fhir/accesspolicy.ts applyProjectAdminAccessPolicy; capture 107b).
var projectHiddenFields = []string{"superAdmin", "systemSecret", "strictMode"}

// readonlyFields are restored from the stored version on writes by
// non-super-admins (fhir/repo.ts restoreReadonlyFields); hiddenFields too,
// since the caller never saw them.
var readonlyFields = map[string][]string{
	"ProjectMembership": {"project", "user"},
	"User":              {"email", "emailVerified", "mfaEnrolled", "project", "passwordHash", "mfaSecret"},
	"Project":           {"superAdmin", "strictMode", "features", "link", "systemSetting", "systemSecret", "owner"},
}

func restoreReadonly(a *authState, next, prev client.Resource) {
	if a.superAdmin() {
		for _, k := range []string{"passwordHash", "mfaSecret"} {
			if v, ok := prev[k]; ok && next.ResourceType() == "User" {
				if _, set := next[k]; !set {
					next[k] = deepCopy(v)
				}
			}
		}
		return
	}
	for _, k := range readonlyFields[next.ResourceType()] {
		if v, ok := prev[k]; ok {
			next[k] = deepCopy(v)
		} else {
			delete(next, k)
		}
	}
}

// sameContent reports whether two versions differ only in meta.
func sameContent(a, b client.Resource) bool {
	x, y := deepCopy(a), deepCopy(b)
	delete(x, "meta")
	delete(y, "meta")
	return jsonEqual(x, y)
}

// updateRecord writes next over rec as the caller (readonly fields restored,
// validated; an unchanged resource keeps its version). Holds s.mu.
func (c *reqCtx) updateRecord(rec *record, next client.Resource) (*record, *client.OperationOutcome) {
	if next.ID() != rec.id {
		return nil, badRequest("Incorrect ID")
	}
	if next.ResourceType() != rec.typ {
		return nil, badRequest("Incorrect resource type")
	}
	restoreReadonly(c.auth, next, rec.res)
	normalizeAttachments(next, c.s.baseURL(c.r))
	if oo := validateResource(next); oo != nil {
		return nil, oo
	}
	if !rec.deleted && sameContent(next, rec.res) {
		return rec, nil
	}
	if meta, ok := rec.res["meta"].(map[string]any); ok {
		keep := deepCopy(meta)
		if nm, ok := next["meta"].(map[string]any); ok {
			for _, k := range []string{"tag", "security", "profile", "source"} {
				if v, ok := nm[k]; ok {
					keep[k] = v
				} else {
					delete(keep, k)
				}
			}
		}
		next["meta"] = keep
	}
	return c.s.st.write(next, rec.project, c.auth.author(), c.s.now()), nil
}

func (s *Server) fhirUpdate(c *reqCtx) {
	m := client.Resource(c.bodyObject())
	if s.createByUpdate(c, m) {
		return
	}
	typ, ok := c.fhirTargetType(pointsWrite, func(typ string) *client.OperationOutcome {
		switch {
		case m == nil || m.ResourceType() != typ:
			return badRequest("Incorrect resource type")
		case m.ID() != c.params["id"]:
			return badRequest("Incorrect ID")
		}
		return nil
	}, nil)
	if !ok {
		return
	}
	rec := c.readVisibleOrDeleted(typ, c.params["id"])
	if rec == nil {
		return // 404: an id that never existed (547c)
	}
	if p := s.st.get("Project", rec.project); rec.deleted && (typ == "Project" || p != nil && p.deleted) {
		c.unlockOutcome(gone()) // (not captured: kept as a read answers)
		return
	}
	// A deleted resource is put back with its id, as a new version (547,
	// 547b; in a batch entry too, 547d).
	c.replaceRecord(rec, true, func() (client.Resource, *client.OperationOutcome) { return m, nil })
}

// replaceRecord finishes an update of rec, held under s.mu: If-Match (412)
// when ifMatchHeader, then the new content from next (computed only after
// that check), stored through the caller's repository and sent back (200).
// It releases s.mu.
func (c *reqCtx) replaceRecord(rec *record, ifMatchHeader bool, next func() (client.Resource, *client.OperationOutcome)) {
	if ifMatchHeader && !ifMatch(c, rec) {
		c.unlockOutcome(preconditionFailed())
		return
	}
	res, oo := next()
	if oo != nil {
		c.unlockOutcome(oo)
		return
	}
	c.storeUpdate(rec, res, c.fhirResource)
}

// storeUpdate stores res as the new content of rec, held under s.mu,
// through the caller's repository (updateRecord), releases s.mu, and answers
// 200 with send and the stored version as the caller sees it, or with the
// outcome.
func (c *reqCtx) storeUpdate(rec *record, res client.Resource, send func(int, client.Resource)) {
	rec, oo := c.updateRecord(rec, res)
	if oo != nil {
		c.unlockOutcome(oo)
		return
	}
	out := c.present(rec)
	c.s.mu.Unlock()
	send(200, out)
}

// ifMatch checks an If-Match header against the current version. As
// 5.0.10 reads it (fhirrouter.ts parseIfMatchHeader), the version is the
// first double-quoted string in it (W/"<v>" or "<v>": 556, 556b, 556c);
// a value without one is no condition at all (a bare versionId, stale,
// replaces the newer version: 556d).
func ifMatch(c *reqCtx, rec *record) bool {
	_, want, quoted := strings.Cut(c.r.Header.Get("If-Match"), `"`)
	want, _, closed := strings.Cut(want, `"`)
	if !quoted || !closed || want == "" {
		return true
	}
	meta, _ := rec.res["meta"].(map[string]any)
	v, _ := meta["versionId"].(string)
	return want == v
}

func (s *Server) fhirPatch(c *reqCtx) {
	ops, isArray := c.body.([]any)
	if !isArray {
		c.sendOutcome(badRequest("Patch body must be an array"))
		return
	}
	rec := c.fhirTarget(pointsWrite, nil, nil)
	if rec == nil {
		return
	}
	// 5.0.10 reads no If-Match on a PATCH (capture 184): a patch that must
	// not overwrite a newer version tests /meta/versionId instead (182,
	// 183).
	c.replaceRecord(rec, false, func() (client.Resource, *client.OperationOutcome) {
		doc, err := applyPatch(any(map[string]any(deepCopy(rec.res))), ops)
		if err != nil {
			return nil, badRequest(err.Error())
		}
		next, ok := doc.(map[string]any)
		if !ok {
			return nil, badRequest("Incorrect resource type")
		}
		return client.Resource(next), nil
	})
}

// fhirDelete is DELETE fhir/R4/:type/:id. Deleting what is already deleted
// is 200 "All OK" (captures 520c, 521, 522c: the repository returns quietly
// on gone). A super admin's delete of a Project deletes it and then answers
// 410 Gone (520), and so does the delete of anything in a deleted project
// (522b), which reads as 200 until then (522); a read afterwards is 410
// (520b).
func (s *Server) fhirDelete(c *reqCtx) {
	typ, ok := c.fhirTargetType(pointsWrite, nil, func(typ string) bool { return typ == "Project" && !c.auth.superAdmin() })
	if !ok {
		return
	}
	rec := c.readVisibleOrDeleted(typ, c.params["id"])
	if rec == nil {
		return
	}
	if rec.deleted {
		c.unlockOutcome(allOk())
		return
	}
	s.st.remove(rec, s.now())
	if p := s.st.get("Project", rec.project); rec.typ == "Project" || (p != nil && p.deleted) {
		c.unlockOutcome(gone())
		return
	}
	c.unlockOutcome(allOk())
}

// projectInit is POST /fhir/R4/Project/$init (super admins): a new Project
// owned by the given (or calling) User, its default ClientApplication, and
// the owner's admin membership.
func (s *Server) projectInit(c *reqCtx) {
	a := c.auth
	if !a.superAdmin() {
		c.sendOutcome(forbidden())
		return
	}
	params := parameters(c.bodyObject())
	name, _ := params["name"].(string)
	if name == "" {
		c.sendOutcome(badRequest("Expected 1 value(s) for input parameter name, but 0 provided"))
		return
	}
	s.mu.Lock()
	var owner *record
	switch {
	case refString(params["owner"]) != "":
		owner = s.st.liveRef(refString(params["owner"]))
	case params["ownerEmail"] != nil:
		email, _ := params["ownerEmail"].(string)
		owner = s.findUser(strings.ToLower(email), false, "")
		if owner == nil {
			owner = s.st.write(client.Resource{
				"resourceType": "User", "email": strings.ToLower(email), "firstName": name, "lastName": "Admin",
				"passwordHash": hashPassword(""),
			}, "", systemAuthor, s.now())
		}
	case strings.HasPrefix(a.membership.res.Ref("user"), "User/"):
		owner = s.st.liveRef(a.membership.res.Ref("user"))
	}
	if owner != nil && owner.typ != "User" {
		c.unlockOutcome(badRequest("Only Users are permitted to be the owner of a new Project"))
		return
	}
	if owner != nil && owner.res.Ref("project") != "" {
		c.unlockOutcome(badRequest("Project owner must not belong to another Project"))
		return
	}
	id := newID()
	p := client.Resource{"resourceType": "Project", "id": id, "name": name, "strictMode": true}
	if owner != nil {
		p["owner"] = createReference(owner)
	}
	project := s.st.write(p, id, systemAuthor, s.now())
	app := s.st.write(client.Resource{
		"resourceType": "ClientApplication", "name": name + " Default Client",
		"description": "Default client for " + name, "secret": newSecret(32),
	}, id, systemAuthor, s.now())
	appRef := createReference(app)
	s.st.write(client.Resource{
		"resourceType": "ProjectMembership", "project": createReference(project),
		"user": appRef, "profile": deepCopy(appRef),
	}, id, systemAuthor, s.now())
	if owner != nil {
		prof := client.Resource{
			"resourceType": "Practitioner",
			"name":         []any{map[string]any{"given": []any{owner.res.String("firstName")}, "family": owner.res.String("lastName")}},
		}
		if e := owner.res.String("email"); e != "" {
			prof["telecom"] = []any{map[string]any{"system": "email", "use": "work", "value": e}}
		}
		profile := s.st.write(prof, id, systemAuthor, s.now())
		m := client.Resource{"resourceType": "ProjectMembership", "admin": true}
		setMembershipRefs(m, project, owner, profile)
		s.st.write(m, id, systemAuthor, s.now())
	}
	out := presentResource(project.res, true)
	s.mu.Unlock()
	c.w.Header().Set("Location", s.baseURL(c.r)+"fhir/R4/Project/"+id)
	c.fhirResource(201, out)
}

// parameters flattens a FHIR Parameters resource into name -> value[x].
func parameters(body map[string]any) map[string]any {
	out := map[string]any{}
	list, _ := body["parameter"].([]any)
	for _, p := range list {
		m, _ := p.(map[string]any)
		name, _ := m["name"].(string)
		for k, v := range m {
			if strings.HasPrefix(k, "value") {
				out[name] = v
			}
		}
	}
	return out
}

// createByUpdate answers a super admin's PUT of a resource that does not
// exist by creating it with the id of the path (repo.ts: canSetId, capture
// 176: 200, as an update), and reports whether it did. Everyone else gets
// the update's 404.
func (s *Server) createByUpdate(c *reqCtx, m client.Resource) bool {
	typ, id := c.params["type"], c.params["id"]
	a := c.auth
	if a == nil || !a.superAdmin() || m == nil || m.ResourceType() != typ || m.ID() != id || !validID.MatchString(id) {
		return false
	}
	s.mu.Lock()
	exists := s.st.get(typ, id) != nil
	s.mu.Unlock()
	if exists || !c.charge(pointsWrite) {
		return !exists
	}
	if _, ok := c.fhirType(); !ok {
		return true
	}
	if oo := validateResource(m); oo != nil {
		c.sendOutcome(oo)
		return true
	}
	project := a.projectID()
	if typ == "Project" {
		project = id
	}
	s.mu.Lock()
	if s.st.get(typ, id) != nil { // created meanwhile: update it as usual
		s.mu.Unlock()
		return false
	}
	rec := s.st.write(m, project, a.author(), s.now())
	out := c.present(rec)
	s.mu.Unlock()
	c.fhirResource(http.StatusOK, out)
	return true
}

// validID is the form of a resource id the server accepts (isUUID).
var validID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
