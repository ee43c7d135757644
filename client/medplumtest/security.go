package medplumtest

import (
	"strings"
	"time"

	"github.com/medplumcli/medplum/client"
)

// UserSecurityRequests (auth/resetpassword.ts resetPassword): the invite
// of a new user and every password reset write one, with a secret, in the
// project of the user (meta.project: a project-scoped user's project,
// none for a server-scoped user). So a project admin reads those of the
// project's own users (capture 145) and none of a server-scoped member's
// (141, where a super admin sees it: 142). A pending invite is one
// without used.

// newSecurityRequest writes a UserSecurityRequest of type typ ("invite",
// "reset") for user. Holds s.mu.
func (s *Server) newSecurityRequest(user *record, typ string, now time.Time) *record {
	project := ""
	if _, id, ok := client.SplitReference(user.res.Ref("project")); ok {
		project = id
	}
	return s.st.write(client.Resource{
		"resourceType": "UserSecurityRequest",
		"type":         typ,
		"user":         createReference(user),
		"secret":       newSecret(16),
	}, project, nil, now)
}

func (s *Server) securityRoutes() {
	s.handle("POST", "/auth/resetpassword", s.resetPassword)
}

// resetPassword is POST /auth/resetpassword {email, projectId?, sendEmail?}
// (auth/resetpassword.ts): the user with that e-mail in that project (a
// project-scoped user), or without a project (a server-scoped user), gets
// a UserSecurityRequest of type reset and, unless sendEmail is false, an
// e-mail with its link. The answer is All OK whether or not the user
// exists (captures 164-166: no account enumeration); only a malformed
// address is refused (167).
func (s *Server) resetPassword(c *reqCtx) {
	email := strings.ToLower(c.str("email"))
	if !validEmail(email) || len(email) < 3 || len(email) > 72 {
		c.sendOutcome(invalidRequest([]fieldError{{"email", "Valid email address between 3 and 72 characters is required"}}))
		return
	}
	project := c.str("projectId")
	s.mu.Lock()
	var user *record
	for _, u := range s.st.lookup("User|email|" + email) {
		p := u.res.Ref("project")
		if (project != "" && p == "Project/"+project) || (project == "" && p == "") {
			user = u
			break
		}
	}
	if user != nil {
		usr := s.newSecurityRequest(user, "reset", s.now())
		if send, ok := c.bodyObject()["sendEmail"].(bool); (!ok || send) && s.cfg.mailer {
			s.mail = append(s.mail, SentEmail{
				To:      user.res.String("email"),
				Subject: "Medplum Password Reset",
				Text: "Someone requested to reset your Medplum password.\n\nPlease click on the following link:\n\n" +
					appBaseURL + "setpassword/" + usr.id + "/" + usr.res.String("secret") +
					"\n\nIf you received this in error, you can safely ignore it.\n\nThank you,\nMedplum\n",
			})
		}
	}
	s.mu.Unlock()
	c.sendOutcome(allOk())
}

// appBaseURL is the web app the server's links point to (Medplum's
// appBaseUrl; a local server's default).
const appBaseURL = "http://localhost:3000/"
