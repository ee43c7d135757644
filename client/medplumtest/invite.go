package medplumtest

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/medplumcli/medplum/client"
)

// POST /admin/projects/:projectId/invite (admin/invite.ts), reference §2.5.

var patientRefPattern = regexp.MustCompile(`^Patient/[^/]+$`)

// validateInvite runs the express-validator checks of inviteValidator.
func validateInvite(b map[string]any) []fieldError {
	var errs []fieldError
	switch b["resourceType"] {
	case "Patient", "Practitioner", "RelatedPerson":
	default:
		errs = append(errs, fieldError{"resourceType", "Resource type is required"})
	}
	if validatorString(b["firstName"]) == "" {
		errs = append(errs, fieldError{"firstName", "First name is required"})
	}
	if validatorString(b["lastName"]) == "" {
		errs = append(errs, fieldError{"lastName", "Last name is required"})
	}
	if !isEmail(validatorString(b["email"])) && validatorString(b["externalId"]) == "" {
		errs = append(errs, fieldError{"", "Either email or externalId is required"})
	}
	if p, ok := b["patient"].(map[string]any); ok {
		if ref, present := p["reference"]; present && !patientRefPattern.MatchString(validatorString(ref)) {
			errs = append(errs, fieldError{"patient.reference", "Patient must be a reference to a Patient resource"})
		}
	}
	if pw, present := b["password"]; present && pw != nil {
		s := validatorString(pw)
		switch {
		case len([]rune(s)) < 8:
			errs = append(errs, fieldError{"password", "Password must be at least 8 characters"})
		case len(s) > 72:
			errs = append(errs, fieldError{"password", "Password must be no more than 72 characters"})
		}
	}
	return errs
}

// validatorString converts a value as express-validator does before checking it.
func validatorString(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case map[string]any, []any:
		return "[object Object]"
	}
	return jsString(v)
}

var emailPattern = regexp.MustCompile(`^[A-Za-z0-9.!#$%&'*+/=?^_` + "`" + `{|}~-]+@([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,}$`)

// isEmail approximates validator.js isEmail (a TLD is required).
func isEmail(s string) bool {
	return len(s) <= 254 && emailPattern.MatchString(s) && !strings.Contains(s, "..")
}

// inviteRequest is the decoded invite body.
type inviteRequest struct {
	raw          map[string]any
	resourceType string
	firstName    string
	lastName     string
	email        string
	externalID   string
	scope        string
	password     string
	patientRef   string
	sendEmail    bool
	upsert       bool
	forceNew     bool
	mfaRequired  bool
	membership   map[string]any
	// resetURL is the set-password link of the invite's
	// UserSecurityRequest, when it made a new user.
	resetURL string
}

func decodeInvite(b map[string]any) *inviteRequest {
	r := &inviteRequest{raw: b}
	r.resourceType, _ = b["resourceType"].(string)
	r.firstName = validatorString(b["firstName"])
	r.lastName = validatorString(b["lastName"])
	r.email = strings.ToLower(validatorString(b["email"]))
	r.externalID = validatorString(b["externalId"])
	r.scope, _ = b["scope"].(string)
	r.password, _ = b["password"].(string)
	if p, ok := b["patient"].(map[string]any); ok {
		r.patientRef, _ = p["reference"].(string)
	}
	r.sendEmail = b["sendEmail"] != false // the server e-mails unless it gets false
	r.upsert = b["upsert"] == true
	r.forceNew = b["forceNewMembership"] == true
	r.mfaRequired = b["mfaRequired"] == true
	r.membership, _ = b["membership"].(map[string]any)
	return r
}

// projectScoped applies the default scoping: Patients project-scoped,
// Practitioners and RelatedPersons server-scoped, externalId always project.
func (r *inviteRequest) projectScoped() bool {
	return (r.resourceType == "Patient" && r.scope != "server") || r.externalID != "" || r.scope == "project"
}

// inviteError is a failed invite: an outcome to send.
type inviteError struct{ oo *client.OperationOutcome }

func (s *Server) invite(c *reqCtx) {
	body := c.bodyObject()
	if body == nil {
		body = map[string]any{}
	}
	if errs := validateInvite(body); len(errs) > 0 {
		c.sendOutcome(invalidRequest(errs))
		return
	}
	req := decodeInvite(body)

	s.mu.Lock()
	project := s.targetProject(c)
	s.mu.Unlock()
	if project == nil {
		c.sendOutcome(notFound())
		return
	}

	// The server-side cost and the serialization-conflict model (see
	// inviteModel): the request counts as in flight until it commits.
	done := s.invites.begin(project.id)
	defer done()
	s.invites.parallelCost()
	unlock := s.invites.serial(project.id)
	defer unlock()

	s.mu.Lock()
	membership, user, isNewUser, ierr := s.inviteUser(c, req, project)
	if ierr != nil {
		c.unlockOutcome(ierr.oo)
		return
	}
	out := presentResource(membership.res, true)
	emailed := false
	if req.email != "" && req.sendEmail && s.cfg.mailer {
		s.mail = append(s.mail, inviteEmail(project.res, user.res, isNewUser, req.resetURL))
		emailed = true
	}
	s.mu.Unlock()

	if req.email != "" && req.sendEmail && !emailed {
		// No mailer, like a self-hosted server without SES: the membership
		// exists, yet the answer is 200 with an error OperationOutcome.
		o := outcome("ok", "error", "exception", "Could not send email. Make sure you have AWS SES set up.")
		o.Issue[0].Diagnostics = "Error sending email: Could not load credentials from any providers"
		c.sendOutcome(o)
		return
	}
	c.fhirResource(200, out)
}

// inviteUser runs the invite algorithm of reference §2.5. Holds s.mu.
func (s *Server) inviteUser(c *reqCtx, req *inviteRequest, project *record) (membership, user *record, isNewUser bool, ierr *inviteError) {
	scoped := req.projectScoped()
	now := s.now()

	// Steps 2-3: the opposite-scope check, then the User (conditional create).
	if req.email != "" {
		if !req.forceNew {
			for _, u := range s.st.lookup("User|email|" + req.email) {
				if (u.res.Ref("project") != "") == scoped {
					continue // same scope: handled below
				}
				if u.res.Ref("project") != "" && u.res.Ref("project") != "Project/"+project.id {
					continue
				}
				if s.membershipOf(u, project.id) != nil {
					return nil, nil, false, &inviteError{conflict("User is already a member of this project", "")}
				}
			}
		}
		user = s.findUser(req.email, scoped, project.id)
	}
	if user == nil {
		user = s.st.write(s.newUser(req, project), userProject(scoped, project.id), systemAuthor, now)
		isNewUser = true
		usr := s.newSecurityRequest(user, "invite", now)
		req.resetURL = appBaseURL + "setpassword/" + usr.id + "/" + usr.res.String("secret")
	}

	// Step 4: the profile.
	profile, ierr := s.upsertProfile(req, project)
	if ierr != nil {
		return nil, nil, false, ierr
	}

	// Step 5: access policies must exist in this project.
	if ierr := s.validateAccessPolicies(req, project.id); ierr != nil {
		return nil, nil, false, ierr
	}

	// Step 6: the membership template and default policies. (Medplum 5.0.10
	// does not set invitedBy; capture 25 has none.) The server builds it as
	// {externalId, accessPolicy, access, admin, ...membership}: those four
	// keys are always there, undefined when the request leaves them out,
	// and an upsert spreads them over the existing membership, so that it
	// loses what the request does not name (captures 201-203). unset holds
	// them.
	partial := map[string]any{}
	unset := map[string]bool{}
	for _, k := range upsertKeys {
		if v, ok := req.raw[k]; ok && v != nil && !(k == "externalId" && v == "") {
			partial[k] = deepCopy(v)
		} else {
			unset[k] = true
		}
	}
	for k, v := range req.membership {
		partial[k] = deepCopy(v)
		delete(unset, k)
	}
	applyDefaultPolicies(req.resourceType, project.res, profile.res, partial)

	// Step 7: create or update the membership, in a serializable transaction
	// that may fail under concurrency (nothing is left of it then).
	if !req.forceNew {
		existing := s.membershipOf(user, project.id)
		if existing != nil {
			if !req.upsert {
				return nil, nil, false, &inviteError{conflict("User is already a member of this project", "")}
			}
			if existing.res.Ref("profile") != profile.typ+"/"+profile.id {
				return nil, nil, false, &inviteError{conflict("User is already a member of this project with a different profile", "")}
			}
			if s.invites.conflicts(project.id) {
				return nil, nil, false, &inviteError{serializationConflict()}
			}
			next := deepCopy(existing.res)
			for k := range unset {
				delete(next, k)
			}
			for k, v := range partial {
				next[k] = v
			}
			setMembershipRefs(next, project, user, profile)
			return s.st.write(next, project.id, systemAuthor, now), user, isNewUser, nil
		}
	}
	if s.invites.conflicts(project.id) {
		return nil, nil, false, &inviteError{serializationConflict()}
	}
	m := client.Resource(partial)
	m["resourceType"] = "ProjectMembership"
	setMembershipRefs(m, project, user, profile)
	return s.st.write(m, project.id, systemAuthor, now), user, isNewUser, nil
}

// upsertKeys are the membership fields an invite always sets (to undefined
// when the request does not name them).
var upsertKeys = []string{"externalId", "accessPolicy", "access", "admin"}

func userProject(scoped bool, projectID string) string {
	if scoped {
		return projectID
	}
	return ""
}

// findUser is the conditional create's search: same e-mail, same scope.
func (s *Server) findUser(email string, scoped bool, projectID string) *record {
	for _, u := range s.st.lookup("User|email|" + email) {
		p := u.res.Ref("project")
		if (scoped && p == "Project/"+projectID) || (!scoped && p == "") {
			return u
		}
	}
	return nil
}

// membershipOf returns the user's membership in a project, if any.
func (s *Server) membershipOf(user *record, projectID string) *record {
	for _, m := range s.st.lookup("ProjectMembership|user|User/" + user.id) {
		if m.res.Ref("project") == "Project/"+projectID {
			return m
		}
	}
	return nil
}

func (s *Server) newUser(req *inviteRequest, project *record) client.Resource {
	u := client.Resource{
		"resourceType": "User",
		"firstName":    req.firstName,
		"lastName":     req.lastName,
		"passwordHash": hashPassword(req.password),
	}
	if req.email != "" {
		u["email"] = req.email
	}
	if req.externalID != "" {
		u["externalId"] = req.externalID
	}
	if req.projectScoped() {
		u["project"] = createReference(project) // with the project's name (capture 211)
	}
	if req.mfaRequired {
		u["mfaRequired"] = true
		u["mfaSecret"] = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(randomBytes(20))
	}
	return u
}

// hashPassword stores a salted SHA-256 (this is a test server, not bcrypt).
// An empty password gets a random one, as the real server generates.
func hashPassword(pw string) string {
	if pw == "" {
		pw = newSecret(16)
	}
	salt := newSecret(16)
	sum := sha256.Sum256([]byte(salt + pw))
	return "sha256$" + salt + "$" + hex.EncodeToString(sum[:])
}

// checkPassword verifies a password against hashPassword's output.
func checkPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 3 || parts[0] != "sha256" {
		return false
	}
	sum := sha256.Sum256([]byte(parts[1] + pw))
	return hex.EncodeToString(sum[:]) == parts[2]
}

// upsertProfile finds or creates the member's profile resource.
func (s *Server) upsertProfile(req *inviteRequest, project *record) (*record, *inviteError) {
	if ref := refString(req.membership["profile"]); ref != "" {
		p := s.st.liveRef(ref)
		if p == nil {
			return nil, &inviteError{notFound()}
		}
		if p.project != project.id {
			return nil, &inviteError{badRequest("Profile does not belong to project")}
		}
		if p.typ != req.resourceType {
			return nil, &inviteError{badRequest("Profile resourceType does not match request")}
		}
		return p, nil
	}
	res := client.Resource{
		"resourceType": req.resourceType,
		"name":         []any{map[string]any{"given": []any{req.firstName}, "family": req.lastName}},
	}
	if req.email != "" {
		res["telecom"] = []any{map[string]any{"system": "email", "use": "work", "value": req.email}}
	}
	if req.resourceType == "RelatedPerson" && req.patientRef != "" {
		pat := s.st.liveRef(req.patientRef)
		if pat == nil {
			return nil, &inviteError{badRequest("Patient " + req.patientRef + " does not exist")}
		}
		if pat.project != project.id {
			return nil, &inviteError{badRequest("Patient does not belong to project")}
		}
		res["patient"] = createReference(pat)
	}
	if req.email != "" {
		matches := s.profilesByEmail(req.resourceType, project.id, req.email)
		if req.resourceType == "RelatedPerson" && req.patientRef == "" {
			switch len(matches) {
			case 0:
				return nil, &inviteError{badRequest("Patient is required to create a RelatedPerson")}
			case 1:
				return matches[0], nil
			default:
				return nil, &inviteError{multipleMatches()}
			}
		}
		if len(matches) > 1 {
			return nil, &inviteError{multipleMatches()}
		}
		if len(matches) == 1 {
			return matches[0], nil
		}
	} else if req.resourceType == "RelatedPerson" && req.patientRef == "" {
		return nil, &inviteError{badRequest("Patient is required to create a RelatedPerson")}
	}
	return s.st.write(res, project.id, systemAuthor, s.now()), nil
}

func (s *Server) profilesByEmail(typ, projectID, email string) []*record {
	return s.st.lookup(typ + "|email|" + projectID + "|" + strings.ToLower(email))
}

func refString(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["reference"].(string)
	return s
}

// validateAccessPolicies checks accessPolicy, access[].policy and
// membership.access[].policy, as Medplum 5.0.10 does: membership.accessPolicy
// is not checked, so a membership may point at a policy that does not exist
// (capture 204; 205 is the top-level field, checked).
func (s *Server) validateAccessPolicies(req *inviteRequest, projectID string) *inviteError {
	var refs []string
	if r := refString(req.raw["accessPolicy"]); r != "" {
		refs = append(refs, r)
	}
	for _, list := range []any{req.raw["access"], req.membership["access"]} {
		arr, _ := list.([]any)
		for _, a := range arr {
			m, _ := a.(map[string]any)
			if r := refString(m["policy"]); r != "" {
				refs = append(refs, r)
			}
		}
	}
	for _, r := range refs {
		p := s.st.liveRef(r)
		if p == nil || p.typ != "AccessPolicy" {
			return &inviteError{badRequest("Access policy " + r + " does not exist")}
		}
		if p.project != "" && p.project != projectID {
			return &inviteError{badRequest("Access policy " + r + " does not belong to this project")}
		}
	}
	return nil
}

// applyDefaultPolicies fills the project's default access policy when the
// invite names none.
func applyDefaultPolicies(resourceType string, project, profile client.Resource, partial map[string]any) {
	if partial["accessPolicy"] != nil {
		return
	}
	if acc, _ := partial["access"].([]any); len(acc) > 0 {
		return
	}
	switch resourceType {
	case "Patient":
		if p := defaultPolicy(project, "Patient"); p != "" {
			partial["accessPolicy"] = map[string]any{"reference": p}
		} else if p := project.Ref("defaultPatientAccessPolicy"); p != "" {
			partial["accessPolicy"] = map[string]any{"reference": p}
		}
	case "RelatedPerson":
		if p := defaultPolicy(project, "RelatedPerson"); p != "" && profile["patient"] != nil {
			partial["access"] = []any{map[string]any{
				"policy":    map[string]any{"reference": p},
				"parameter": []any{map[string]any{"name": "patient", "valueReference": deepCopy(profile["patient"])}},
			}}
		}
	case "Practitioner":
		kind := "Practitioner"
		if admin, _ := partial["admin"].(bool); admin {
			kind = "Admin"
		}
		if p := defaultPolicy(project, kind); p != "" {
			partial["accessPolicy"] = map[string]any{"reference": p}
		}
	}
}

func setMembershipRefs(m client.Resource, project, user, profile *record) {
	m["project"] = createReference(project)
	m["user"] = createReference(user)
	m["profile"] = createReference(profile)
}

// createReference is @medplum/core createReference: the reference plus a
// display string when the resource has one.
func createReference(rec *record) map[string]any {
	ref := map[string]any{"reference": rec.typ + "/" + rec.id}
	if d := displayString(rec.res); d != "" {
		ref["display"] = d
	}
	return ref
}

// displayString is a small getDisplayString: names, then e-mail.
func displayString(r client.Resource) string {
	switch r.ResourceType() {
	case "User":
		if e := r.String("email"); e != "" {
			return e
		}
		return strings.TrimSpace(r.String("firstName") + " " + r.String("lastName"))
	case "Patient", "Practitioner", "RelatedPerson", "Person":
		names, _ := r["name"].([]any)
		if len(names) > 0 {
			m, _ := names[0].(map[string]any)
			if t, ok := m["text"].(string); ok && t != "" {
				return t
			}
			var parts []string
			given, _ := m["given"].([]any)
			for _, g := range given {
				if s, ok := g.(string); ok {
					parts = append(parts, s)
				}
			}
			if f, ok := m["family"].(string); ok {
				parts = append(parts, f)
			}
			return strings.Join(parts, " ")
		}
	}
	return r.String("name")
}

// SentEmail is an e-mail the fake mailer (WithMailer) recorded.
type SentEmail struct {
	To      string
	Subject string
	Text    string
}

func inviteEmail(project, user client.Resource, isNew bool, resetURL string) SentEmail {
	name := project.String("name")
	e := SentEmail{To: user.String("email")}
	if isNew {
		e.Subject = "Welcome to Medplum"
		e.Text = "You were invited to " + name + "\n\nPlease click on the following link to create your account:\n\n" +
			resetURL + "\n\nThank you,\nMedplum\n"
	} else {
		e.Subject = "Medplum: Welcome to " + name
		e.Text = "You were invited to " + name + "\n\nThe next time you sign in, you will see " + name +
			" as an option.\n\nYou can sign in here: " + appBaseURL + "signin\n\nThank you,\nMedplum\n"
	}
	return e
}
