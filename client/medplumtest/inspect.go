package medplumtest

import (
	"strings"

	"github.com/medplumcli/medplum/client"
)

// State inspection and direct seeding for tests. Returned resources are
// copies, with full meta and hidden fields (User.passwordHash) removed.

// Resource returns the current version of a resource, or nil if it does not
// exist or was deleted.
func (s *Server) Resource(typ, id string) client.Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := s.st.live(typ, id); rec != nil {
		return presentResource(rec.res, true)
	}
	return nil
}

// Deleted reports whether a resource existed and was deleted.
func (s *Server) Deleted(typ, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.st.get(typ, id)
	return rec != nil && rec.deleted
}

// Resources returns the live resources of a type in a project ("" for every
// project), oldest first.
func (s *Server) Resources(typ, projectID string) []client.Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []client.Resource
	for _, rec := range s.st.all(typ) {
		if projectID == "" || rec.project == projectID {
			out = append(out, presentResource(rec.res, true))
		}
	}
	return out
}

// Count returns the number of live resources of a type in a project ("" for
// every project).
func (s *Server) Count(typ, projectID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, rec := range s.st.all(typ) {
		if projectID == "" || rec.project == projectID {
			n++
		}
	}
	return n
}

// Memberships returns the live ProjectMemberships of a project.
func (s *Server) Memberships(projectID string) []client.Resource {
	return s.Resources("ProjectMembership", projectID)
}

// MembershipByEmail returns the membership in a project of the user with
// that e-mail (case-insensitive), or nil.
func (s *Server) MembershipByEmail(projectID, email string) client.Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.st.lookup("User|email|" + strings.ToLower(email)) {
		if m := s.membershipOf(u, projectID); m != nil {
			return presentResource(m.res, true)
		}
	}
	return nil
}

// Create stores a resource in a project as the system would (any id in r is
// kept) and returns it with its meta. Use it to seed AccessPolicies,
// Organizations and the like.
func (s *Server) Create(projectID string, r client.Resource) client.Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.st.write(r, projectID, systemAuthor, s.now())
	return presentResource(rec.res, true)
}

// Update replaces a stored resource as the system would.
func (s *Server) Update(r client.Resource) client.Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.st.live(r.ResourceType(), r.ID())
	if prev == nil {
		panic("medplumtest: Update: no " + r.ResourceType() + "/" + r.ID())
	}
	next := deepCopy(r)
	for _, k := range []string{"passwordHash", "mfaSecret"} {
		if v, ok := prev.res[k]; ok {
			if _, set := next[k]; !set {
				next[k] = v
			}
		}
	}
	rec := s.st.write(next, prev.project, systemAuthor, s.now())
	return presentResource(rec.res, true)
}

// SentEmails returns the e-mails the fake mailer (WithMailer) recorded.
func (s *Server) SentEmails() []SentEmail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentEmail(nil), s.mail...)
}

// LoginCount returns the number of logins (token grants) so far, revoked
// ones included.
func (s *Server) LoginCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.logins)
}
