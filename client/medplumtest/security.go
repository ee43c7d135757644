package medplumtest

import (
	"encoding/base32"
	"net/url"
	"strings"
	"time"

	"github.com/medplumcli/medplum/client"
)

// A user's own security routes (auth/setpassword.ts, auth/mfa.ts,
// auth/resetpassword.ts), as 5.0.10 answers them (captures 140-168).
//
// UserSecurityRequests (auth/resetpassword.ts resetPassword): the invite
// of a new user and every password reset write one, with a secret, in the
// project of the user (meta.project: a project-scoped user's project,
// none for a server-scoped user). So a project admin reads those of the
// project's own users (capture 145) and none of a server-scoped member's
// (141, where a super admin sees it: 142). A pending invite is one
// without used.

func (s *Server) securityRoutes() {
	s.handle("POST", "/auth/setpassword", s.authSetPassword)
	s.handle("POST", "/auth/resetpassword", s.resetPassword)
	s.use("/auth/mfa/status", s.authenticate)
	s.handle("GET", "/auth/mfa/status", s.mfaStatus)
	s.use("/auth/mfa/enroll", s.authenticate)
	s.handle("POST", "/auth/mfa/enroll", s.mfaEnroll)
}

// newSecurityRequest writes a UserSecurityRequest of type typ ("invite",
// "reset") for user, as the system repository does: in the user's project,
// with a secret of 16 random bytes in hex. Holds s.mu.
func (s *Server) newSecurityRequest(user *record, typ string, now time.Time) *record {
	project := ""
	if _, id, ok := client.SplitReference(user.res.Ref("project")); ok {
		project = id
	}
	return s.st.write(client.Resource{
		"resourceType": "UserSecurityRequest",
		"type":         typ,
		"user":         createReference(user),
		"secret":       newSecret(32),
	}, project, systemAuthor, now)
}

// authSetPassword is POST auth/setpassword {id, secret, password}: the link
// of an invite's or a reset's UserSecurityRequest. (The real server also
// asks a breached-password service, which a server without network access
// answers with a 500: capture 147; this one does not ask.)
func (s *Server) authSetPassword(c *reqCtx) {
	id, secret, password := c.str("id"), c.str("secret"), c.str("password")
	var errs []fieldError
	if !validID.MatchString(id) {
		errs = append(errs, fieldError{"id", "Invalid request ID"})
	}
	if secret == "" {
		errs = append(errs, fieldError{"secret", "Missing secret"})
	}
	if len(password) < 8 {
		errs = append(errs, fieldError{"password", "Invalid password, must be at least 8 characters"})
	}
	if len(errs) > 0 {
		c.sendOutcome(invalidRequest(errs))
		return
	}
	s.mu.Lock()
	usr := s.st.live("UserSecurityRequest", id)
	switch {
	case usr == nil:
		c.unlockOutcome(notFound())
		return
	case usr.res["used"] == true:
		c.unlockOutcome(badRequest("Already used")) // capture 517
		return
	case usr.res.String("type") == "verify-email":
		c.unlockOutcome(badRequest("Invalid request type")) // capture 516
		return
	case !equalString(usr.res.String("secret"), secret):
		c.unlockOutcome(badRequest("Incorrect secret")) // capture 147b
		return
	}
	user := s.st.liveRef(usr.res.Ref("user"))
	if user == nil {
		c.unlockOutcome(notFound())
		return
	}
	u := deepCopy(user.res)
	u["passwordHash"], u["emailVerified"] = hashPassword(password), true
	s.st.write(u, user.project, systemAuthor, s.now())
	r := deepCopy(usr.res)
	r["used"] = true
	s.st.write(r, usr.project, systemAuthor, s.now())
	c.unlockOutcome(allOk())
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

// mfaUser is the User the caller signed in as, or nil (a client or bot).
// Holds s.mu.
func (s *Server) mfaUser(c *reqCtx) *record {
	u := s.st.liveRef(c.auth.membership.res.Ref("user"))
	if u == nil || u.typ != "User" {
		return nil
	}
	return u
}

// mfaStatus is GET auth/mfa/status: {enrolled: true}, or the TOTP secret to
// enroll with, made on first ask and kept until enrollment (captures 151,
// 154). enrollQrCode is an empty PNG data URL here (Medplum's is the QR
// code of enrollUri).
func (s *Server) mfaStatus(c *reqCtx) {
	s.mu.Lock()
	user := s.mfaUser(c)
	if user == nil {
		c.unlockOutcome(notFound())
		return
	}
	if enrolled, _ := user.res.Bool("mfaEnrolled"); enrolled {
		s.mu.Unlock()
		c.json(200, map[string]any{"enrolled": true})
		return
	}
	secret := user.res.String("mfaSecret")
	if secret == "" {
		secret = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(randomBytes(20))
		u := deepCopy(user.res)
		u["mfaSecret"] = secret
		s.st.write(u, user.project, systemAuthor, s.now())
	}
	email := user.res.String("email")
	s.mu.Unlock()
	c.json(200, map[string]any{"enrolled": false, "enrollUri": enrollURI(email, secret), "enrollQrCode": "data:image/png;base64,"})
}

// enrollURI is the otpauth URI of a TOTP secret, as Medplum writes it for an
// authenticator app (capture 151).
func enrollURI(email, secret string) string {
	return "otpauth://totp/medplum.com:" + url.PathEscape("Medplum - "+email) + "?secret=" + secret +
		"&period=30&digits=6&algorithm=SHA1&issuer=medplum.com"
}

// mfaEnroll is POST auth/mfa/enroll {token}: a current code of the secret
// mfaStatus gave enrolls the user (captures 152, 153, 155).
func (s *Server) mfaEnroll(c *reqCtx) {
	token := c.str("token")
	if token == "" {
		c.sendOutcome(invalidRequest([]fieldError{{"token", "Missing token"}}))
		return
	}
	s.mu.Lock()
	user := s.mfaUser(c)
	switch {
	case user == nil:
		c.unlockOutcome(notFound())
		return
	case user.res["mfaEnrolled"] == true:
		c.unlockOutcome(badRequest("Already enrolled"))
		return
	case user.res.String("mfaSecret") == "":
		c.unlockOutcome(badRequest("Secret not found"))
		return
	case !CheckTOTP(user.res.String("mfaSecret"), token, s.now()):
		c.unlockOutcome(badRequest("Invalid token"))
		return
	}
	u := deepCopy(user.res)
	u["mfaEnrolled"] = true
	s.st.write(u, user.project, systemAuthor, s.now())
	c.unlockOutcome(allOk())
}

// appBaseURL is the web app the server's links point to (Medplum's
// appBaseUrl; a local server's default).
const appBaseURL = "http://localhost:3000/"
