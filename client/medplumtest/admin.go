package medplumtest

import (
	"net/http"
	"strings"

	"github.com/medplumcli/medplum/client"
)

// Project admin routes (admin/project.ts, admin/client.ts, admin/bot.ts).
// For non-super-admins the :projectId in the path is ignored: every handler
// acts on the project of the caller's token (capture 40).

func (s *Server) adminRoutes() {
	s.use("/admin/projects", s.authenticate)
	s.use("/admin/projects", s.verifyProjectAdmin)
	s.handle("POST", "/admin/projects/setpassword", s.adminSetPassword)
	s.handle("POST", "/admin/projects/:projectId/bot", s.adminCreateBot)
	s.handle("POST", "/admin/projects/:projectId/client", s.adminCreateClient)
	s.handle("POST", "/admin/projects/:projectId/invite", s.invite)
	s.handle("GET", "/admin/projects/:projectId", s.adminGetProject)
	s.handle("POST", "/admin/projects/:projectId/secrets", s.adminReplaceProjectArray("secret"))
	s.handle("POST", "/admin/projects/:projectId/sites", s.adminReplaceProjectArray("site"))
	s.handle("GET", "/admin/projects/:projectId/members/:membershipId", s.adminGetMember)
	s.handle("POST", "/admin/projects/:projectId/members/:membershipId", s.adminUpdateMember)
	s.handle("DELETE", "/admin/projects/:projectId/members/:membershipId", s.adminDeleteMember)
}

// verifyProjectAdmin lets super admins and project admins through, else 403.
func (s *Server) verifyProjectAdmin(c *reqCtx) bool {
	if c.auth.admin() {
		return true
	}
	c.sendOutcome(forbidden())
	return false
}

// targetProject is the project an admin route acts on: the path's for super
// admins (404 if unknown), the token's for everyone else. Holds s.mu.
func (s *Server) targetProject(c *reqCtx) *record {
	if c.auth.superAdmin() {
		return s.st.live("Project", c.params["projectId"])
	}
	return s.st.live("Project", c.auth.projectID())
}

func (s *Server) adminGetProject(c *reqCtx) {
	s.mu.Lock()
	p := s.st.live("Project", c.auth.projectID())
	out := map[string]any{"id": p.id}
	// 5.0.10 leaves setting out (capture 185) and has no settings route
	// (180): settings are read and written through FHIR.
	for _, k := range []string{"name", "secret", "site"} {
		if v, ok := p.res[k]; ok {
			out[k] = deepCopy(v)
		}
	}
	s.mu.Unlock()
	c.json(200, map[string]any{"project": out})
}

// adminReplaceProjectArray replaces Project.secret or .site with
// the body, through the caller's repository.
func (s *Server) adminReplaceProjectArray(field string) handlerFunc {
	return func(c *reqCtx) {
		s.mu.Lock()
		p := s.st.live("Project", c.auth.projectID())
		next := deepCopy(p.res)
		if c.body == nil {
			delete(next, field)
		} else {
			next[field] = c.body
		}
		c.storeUpdate(p, next, c.jsonResource)
	}
}

// adminSetPassword is POST admin/projects/setpassword {email, password}:
// a project admin sets the password of a project-scoped user of the
// caller's project (captures 207-210). A server-scoped user, even a member
// of the project, is "User not found" (208); no breached-password check.
func (s *Server) adminSetPassword(c *reqCtx) {
	email, password := validatorString(c.bodyObject()["email"]), validatorString(c.bodyObject()["password"])
	var errs []fieldError
	if !isEmail(email) {
		errs = append(errs, fieldError{"email", "Valid email address is required"})
	}
	if len([]rune(password)) < 8 {
		errs = append(errs, fieldError{"password", "Invalid password, must be at least 8 characters"})
	}
	if len(errs) > 0 {
		c.sendOutcome(invalidRequest(errs))
		return
	}
	s.mu.Lock()
	var user *record
	for _, u := range s.st.lookup("User|email|" + strings.ToLower(email)) {
		if u.res.Ref("project") == "Project/"+c.auth.projectID() {
			user = u
		}
	}
	if user == nil {
		c.unlockOutcome(badRequest("User not found"))
		return
	}
	next := deepCopy(user.res)
	next["passwordHash"] = hashPassword(password)
	s.st.write(next, user.project, systemAuthor, s.now())
	s.mu.Unlock()
	c.sendOutcome(allOk())
}

// memberForAdmin reads a membership for the members routes: 404 unknown or
// invisible, 410 deleted, 403 another project's. Holds s.mu on success.
func (s *Server) memberForAdmin(c *reqCtx) *record {
	rec := c.readVisible("ProjectMembership", c.params["membershipId"])
	if rec == nil {
		return nil
	}
	if rec.res.Ref("project") != "Project/"+c.auth.projectID() {
		c.unlockOutcome(forbidden())
		return nil
	}
	return rec
}

func (s *Server) adminGetMember(c *reqCtx) {
	rec := s.memberForAdmin(c)
	if rec == nil {
		return
	}
	out := c.present(rec)
	s.mu.Unlock()
	c.json(200, out)
}

func (s *Server) adminUpdateMember(c *reqCtx) {
	rec := s.memberForAdmin(c)
	if rec == nil {
		return
	}
	body := client.Resource(c.bodyObject())
	if body == nil || body.ResourceType() != "ProjectMembership" || body.ID() != rec.id {
		c.unlockOutcome(forbidden())
		return
	}
	reconcileDefaultAccessPolicy(c.auth.project.res, body)
	c.storeUpdate(rec, body, c.jsonResource)
}

// reconcileDefaultAccessPolicy keeps the default policy in step with the
// admin flag: a member on the project's default Practitioner policy who
// becomes admin moves to the default Admin policy, and back.
func reconcileDefaultAccessPolicy(project, m client.Resource) {
	pract, adm := defaultPolicy(project, "Practitioner"), defaultPolicy(project, "Admin")
	cur := m.Ref("accessPolicy")
	admin, _ := m.Bool("admin")
	switch {
	case admin && pract != "" && adm != "" && cur == pract:
		m["accessPolicy"] = map[string]any{"reference": adm}
	case !admin && pract != "" && adm != "" && cur == adm:
		m["accessPolicy"] = map[string]any{"reference": pract}
	}
}

// defaultPolicy returns Project.defaultAccessPolicies[profileType].accessPolicy.
func defaultPolicy(project client.Resource, profileType string) string {
	list, _ := project["defaultAccessPolicies"].([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		if m["profileType"] == profileType {
			ref, _ := m["accessPolicy"].(map[string]any)
			s, _ := ref["reference"].(string)
			return s
		}
	}
	return ""
}

func (s *Server) adminDeleteMember(c *reqCtx) {
	rec := s.memberForAdmin(c)
	if rec == nil {
		return
	}
	defer s.mu.Unlock()
	project := s.st.live("Project", c.auth.projectID())
	userRef := rec.res.Ref("user")
	if owner := project.res.Ref("owner"); owner != "" && owner == userRef {
		c.sendOutcome(badRequest("Cannot delete the owner of the project"))
		return
	}
	// Only the membership goes: 5.0.10's admin/project.ts deletes the
	// ProjectMembership and nothing else, so the user stays, with its
	// profile, server-scoped or scoped to the project whose last
	// membership it was (captures 514-514d: GET User/<id> answers 200).
	s.st.remove(rec, s.now())
	c.sendOutcome(allOk())
}

// adminCreateClient is POST /admin/projects/:id/client: a ClientApplication
// with a generated secret and its membership. Of the body only the fields
// of CreateClientRequest are kept (admin/client.ts); jwksUri, pkceOptional,
// a secret and the rest are dropped (capture 177).
func (s *Server) adminCreateClient(c *reqCtx) {
	body := c.bodyObject()
	if str, _ := body["name"].(string); strings.TrimSpace(str) == "" {
		c.sendOutcome(invalidRequest([]fieldError{{"name", "Client name is required"}}))
		return
	}
	for k := range body {
		if !createClientFields[k] {
			delete(body, k)
		}
	}
	app := client.Resource{"resourceType": "ClientApplication", "secret": newSecret(32)}
	s.createProfiledApp(c, app, body)
}

// createClientFields are what POST admin/projects/:id/client reads.
var createClientFields = setOf("name", "description", "redirectUri", "redirectUris", "identityProvider",
	"accessTokenLifetime", "refreshTokenLifetime", "accessPolicy")

// createProfiledApp creates a ClientApplication from body in the
// target project, plus the membership that makes it a project member, and
// answers 201 with the new resource.
func (s *Server) createProfiledApp(c *reqCtx, res client.Resource, body map[string]any) {
	var accessPolicy any
	for k, v := range body {
		switch k {
		case "accessPolicy":
			accessPolicy = v
		case "resourceType", "id", "meta", "project":
		default:
			res[k] = deepCopy(v)
		}
	}
	if oo := validateResource(res); oo != nil {
		c.sendOutcome(oo)
		return
	}
	s.mu.Lock()
	project := s.targetProject(c)
	if project == nil {
		c.unlockOutcome(notFound())
		return
	}
	if accessPolicy != nil {
		ref, _ := accessPolicy.(map[string]any)
		r, _ := ref["reference"].(string)
		if p := s.st.liveRef(r); p == nil || !strings.HasPrefix(r, "AccessPolicy/") {
			c.unlockOutcome(badRequest("Access policy " + r + " does not exist"))
			return
		}
	}
	rec := s.st.write(res, project.id, c.auth.author(), s.now())
	name := rec.res.String("name")
	self := map[string]any{"reference": rec.typ + "/" + rec.id, "display": name}
	// A super admin names the project by id only, so its reference has no
	// display (capture 15).
	projectRef := createReference(project)
	if c.auth.superAdmin() {
		projectRef = map[string]any{"reference": "Project/" + project.id}
	}
	m := client.Resource{
		"resourceType": "ProjectMembership",
		"project":      projectRef,
		"user":         self,
		"profile":      deepCopy(self),
	}
	if accessPolicy != nil {
		m["accessPolicy"] = deepCopy(accessPolicy)
	}
	s.st.write(m, project.id, systemAuthor, s.now())
	out := presentResource(rec.res, true)
	s.mu.Unlock()
	c.json(http.StatusCreated, out)
}
