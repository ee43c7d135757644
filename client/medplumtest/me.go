package medplumtest

import (
	"net/url"
	"strings"
	"time"

	"github.com/medplumcli/medplum/client"
)

// me is GET /auth/me (auth/me.ts), shaped as capture 01-me.
func (s *Server) me(c *reqCtx) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := c.auth
	m := a.membership.res
	p := a.project.res
	// auth/me reads the membership's profile (auth/me.ts): a token of a
	// client deleted since answers 410 Gone (capture 591b), one expunged
	// since 404 Not found (591c; medplumtest has no $expunge: a profile it
	// never had).
	prof := s.st.liveRef(m.Ref("profile"))
	if ref := m.Ref("profile"); prof == nil && ref != "" {
		typ, id, _ := client.SplitReference(ref)
		if s.st.get(typ, id) != nil {
			c.sendOutcome(gone())
		} else {
			c.sendOutcome(notFound())
		}
		return
	}

	project := map[string]any{"resourceType": "Project", "id": a.project.id}
	for _, k := range []string{"name", "description", "strictMode", "superAdmin"} {
		if v, ok := p[k]; ok {
			project[k] = deepCopy(v)
		}
	}
	membership := map[string]any{"resourceType": "ProjectMembership", "id": a.membership.id}
	for _, k := range []string{"identifier", "user", "profile", "admin"} {
		if v, ok := m[k]; ok {
			membership[k] = deepCopy(v)
		}
	}
	result := map[string]any{
		"project":      project,
		"membership":   membership,
		"config":       userConfiguration(a),
		"accessPolicy": s.accessPolicyFor(a),
	}
	if prof != nil {
		result["profile"] = deepCopy(prof.res)
	}
	if userRef := m.Ref("user"); strings.HasPrefix(userRef, "User/") {
		if u := s.st.liveRef(userRef); u != nil {
			user := map[string]any{"resourceType": "User", "id": u.id}
			for _, k := range []string{"email", "identifier"} {
				if v, ok := u.res[k]; ok {
					user[k] = deepCopy(v)
				}
			}
			result["user"] = user
			enrolled, _ := u.res.Bool("mfaEnrolled")
			security := map[string]any{
				"mfaEnrolled": enrolled,
				"sessions":    s.sessions(userRef),
				"memberships": s.userMemberships(userRef, a.project.id),
			}
			if req, ok := u.res.Bool("mfaRequired"); ok {
				security["mfaRequired"] = req
			}
			result["security"] = security
		}
	}
	c.json(200, result)
}

// sessions lists the user's logins of the last hour (auth/me security.sessions).
func (s *Server) sessions(userRef string) []any {
	out := []any{}
	since := s.now().Add(-time.Hour)
	for _, l := range s.logins {
		if l.UserRef != userRef || l.Revoked || l.MembershipID == "" || l.Created.Before(since) {
			continue
		}
		sess := map[string]any{
			"id":            l.ID,
			"lastUpdated":   formatInstant(l.Created),
			"authMethod":    l.AuthMethod,
			"remoteAddress": remoteHost(l.RemoteAddress),
		}
		// The browser the User-Agent names ("" for a program's); none
		// without a User-Agent (captures 01, 194).
		if l.UserAgent != "" {
			sess["browser"] = ""
		}
		out = append(out, sess)
	}
	return out
}

func remoteHost(addr string) string {
	if h, _, ok := strings.Cut(addr, ":"); ok && !strings.Contains(h, "[") {
		return h
	}
	return addr
}

// userMemberships lists the user's active memberships in a project.
func (s *Server) userMemberships(userRef, projectID string) []any {
	out := []any{}
	for _, m := range s.st.lookup("ProjectMembership|user|" + userRef) {
		if m.project != projectID {
			continue
		}
		if active, ok := m.res.Bool("active"); ok && !active {
			continue
		}
		e := map[string]any{"resourceType": "ProjectMembership", "id": m.id}
		for _, k := range []string{"profile", "admin"} {
			if v, ok := m.res[k]; ok {
				e[k] = deepCopy(v)
			}
		}
		out = append(out, e)
	}
	return out
}

// userConfiguration is the default UserConfiguration with its menu.
func userConfiguration(a *authState) map[string]any {
	link := func(names ...string) []any {
		var out []any
		for i := 0; i < len(names); i += 2 {
			out = append(out, map[string]any{"name": names[i], "target": names[i+1]})
		}
		return out
	}
	menu := []any{map[string]any{"title": "Favorites", "link": link(
		"Patient", "/Patient", "Practitioner", "/Practitioner", "Organization", "/Organization",
		"ServiceRequest", "/ServiceRequest", "DiagnosticReport", "/DiagnosticReport", "Questionnaire", "/Questionnaire")}}
	if v, _ := a.membership.res.Bool("admin"); v {
		l := link("Project", "/admin/project", "AccessPolicy", "/AccessPolicy", "Subscriptions", "/Subscription", "Batch", "/batch")
		if !a.superAdmin() {
			l = append(l, link("Config", "/admin/config")...)
		}
		menu = append(menu, map[string]any{"title": "Admin", "link": l})
	}
	if a.superAdmin() {
		menu = append(menu, map[string]any{"title": "Super Admin", "link": link(
			"Projects", "/Project", "Super Config", "/admin/super", "Super AsyncJob", "/admin/super/asyncjob", "Super DB", "/admin/super/db")})
	}
	return map[string]any{"resourceType": "UserConfiguration", "menu": menu}
}

// accessPolicyFor is the effective AccessPolicy of a login (auth/me accessPolicy).
func (s *Server) accessPolicyFor(a *authState) map[string]any {
	resources := []any{}
	if ref := a.membership.res.Ref("accessPolicy"); ref != "" {
		if p := s.st.liveRef(ref); p != nil {
			if rs, ok := p.res["resource"].([]any); ok {
				resources = append(resources, deepCopy(rs)...)
			}
		}
	} else if acc, ok := a.membership.res["access"].([]any); ok && len(acc) > 0 {
		for _, e := range acc {
			em, _ := e.(map[string]any)
			pr, _ := em["policy"].(map[string]any)
			ref, _ := pr["reference"].(string)
			if p := s.st.liveRef(ref); p != nil {
				if rs, ok := p.res["resource"].([]any); ok {
					resources = append(resources, deepCopy(rs)...)
				}
			}
		}
	} else {
		resources = append(resources, map[string]any{"resourceType": "*"})
	}
	if a.superAdmin() {
		resources = append(resources,
			map[string]any{"resourceType": "SearchParameter", "readonly": true},
			map[string]any{"resourceType": "StructureDefinition", "readonly": true},
			map[string]any{"resourceType": "UserSecurityRequest"},
			map[string]any{"resourceType": "Project"},
			map[string]any{"resourceType": "ProjectMembership"},
			map[string]any{"resourceType": "User"})
	} else if a.admin() {
		pid := a.project.id
		resources = append(resources,
			map[string]any{"resourceType": "SearchParameter", "readonly": true},
			map[string]any{"resourceType": "StructureDefinition", "readonly": true},
			map[string]any{"resourceType": "Project", "criteria": "Project?_id=" + pid,
				"readonlyFields": []any{"superAdmin", "features", "link", "systemSetting"},
				"hiddenFields":   []any{"systemSecret"}},
			map[string]any{"resourceType": "ProjectMembership", "criteria": "ProjectMembership?_project=" + url.QueryEscape(pid),
				"readonlyFields": []any{"project", "user"}},
			map[string]any{"resourceType": "User", "criteria": "User?_project=" + pid,
				"hiddenFields":   []any{"passwordHash", "mfaSecret"},
				"readonlyFields": []any{"email", "emailVerified", "mfaEnrolled", "project"}})
	}
	return map[string]any{"resourceType": "AccessPolicy", "basedOn": []any{}, "resource": resources}
}
