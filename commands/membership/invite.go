// Package membership holds what the invite and members commands share about
// project memberships: the one validation of an invite (single or from a
// CSV row), access-policy entries, the member selector, looking members up
// on the server, and how a membership is shown as a table row.
package membership

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/medplumcli/medplum/client"
)

// Roles are the profile types an invite can create.
var Roles = []string{"Patient", "Practitioner", "RelatedPerson"}

// ProfileTypes are every profile type a membership can have: people
// (Roles) and programs.
var ProfileTypes = []string{"Patient", "Practitioner", "RelatedPerson", "Bot", "ClientApplication"}

// CanonicalRole returns the role as the server spells it (Patient,
// Practitioner, RelatedPerson) for any spelling of it.
func CanonicalRole(s string) (string, bool) { return canonical(s, Roles) }

// CanonicalProfileType is CanonicalRole for every profile type.
func CanonicalProfileType(s string) (string, bool) { return canonical(s, ProfileTypes) }

func canonical(s string, list []string) (string, bool) {
	for _, r := range list {
		if strings.EqualFold(s, r) {
			return r, true
		}
	}
	return "", false
}

// ParseBool accepts true/false, yes/no, y/n, 1/0 in any case.
func ParseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "y", "1":
		return true, true
	case "false", "no", "n", "0":
		return false, true
	}
	return false, false
}

// idRE is FHIR's id syntax.
var idRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`) })

// ValidID reports whether s is a FHIR id.
func ValidID(s string) bool { return idRE().MatchString(s) }

// TypedRef accepts "Type/<id>" or a bare id and returns "Type/<id>".
func TypedRef(s, typ string) (string, bool) {
	id := s
	if t, rest, ok := strings.Cut(s, "/"); ok {
		if t != typ {
			return "", false
		}
		id = rest
	}
	if !ValidID(id) {
		return "", false
	}
	return typ + "/" + id, true
}

var referenceRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$`) })

// LooksLikeReference reports whether an access parameter value is a FHIR
// reference (Organization/abc) rather than a plain string.
func LooksLikeReference(s string) bool { return referenceRE().MatchString(s) }

// Problem is one reason an invite cannot be sent. Field is the invite
// body's JSON path (firstName, membership.accessPolicy, patient, ...).
type Problem struct {
	Field  string
	Reason string
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Reason
	}
	return p.Field + ": " + p.Reason
}

// Password bounds of the invite endpoint (bytes).
const (
	minPassword = 8
	maxPassword = 72
)

// CheckInvite is the one validation of an invite, before anything is sent:
// every problem the server would refuse (and a few it would accept to the
// user's surprise). req is expected to be normalised: the role canonical,
// the e-mail lowercase, references as Type/<id>; a value that could not be
// normalised is left as given and reported here.
func CheckInvite(req *client.InviteRequest) []Problem {
	var probs []Problem
	bad := func(field, format string, a ...any) {
		probs = append(probs, Problem{Field: field, Reason: fmt.Sprintf(format, a...)})
	}
	switch r, ok := CanonicalRole(req.ResourceType); {
	case req.ResourceType == "":
		bad("resourceType", "is required (Patient, Practitioner or RelatedPerson)")
	case !ok || r != req.ResourceType:
		bad("resourceType", "unknown role %q (want Patient, Practitioner or RelatedPerson)", req.ResourceType)
	}
	if strings.TrimSpace(req.FirstName) == "" {
		bad("firstName", "is required")
	}
	if strings.TrimSpace(req.LastName) == "" {
		bad("lastName", "is required")
	}
	switch {
	case req.Email != "" && !ValidEmail(req.Email):
		bad("email", "not a valid e-mail address: %q", req.Email)
	case req.Email == "" && req.ExternalID == "":
		bad("email", "is required (or an externalId)")
	}
	switch req.Scope {
	case "", "project":
	case "server":
		if req.ExternalID != "" {
			bad("scope", "users with an externalId are always project-scoped; leave scope empty or say project")
		}
	default:
		bad("scope", "unknown scope %q (want project or server)", req.Scope)
	}
	if n := len(req.Password); n > 0 && n < minPassword {
		bad("password", "must be at least %d characters", minPassword)
	} else if n > maxPassword {
		bad("password", "must be at most %d bytes", maxPassword)
	}

	var profile *client.Reference
	if req.Membership != nil {
		profile = req.Membership.Profile
	}
	if req.Patient != nil {
		if ref, ok := TypedRef(req.Patient.Reference, "Patient"); !ok || ref != req.Patient.Reference {
			bad("patient", "not a Patient reference: %q (want Patient/<id>)", req.Patient.Reference)
		}
		if req.ResourceType != "" && req.ResourceType != "RelatedPerson" {
			bad("patient", "only applies to a RelatedPerson; this invite is for a %s", req.ResourceType)
		}
	} else if req.ResourceType == "RelatedPerson" && profile == nil {
		bad("patient", "is required for a RelatedPerson (the Patient/<id> they are related to)")
	}
	if profile != nil {
		if t, id, ok := client.SplitReference(profile.Reference); !ok || t != req.ResourceType || !ValidID(id) {
			bad("membership.profile", "not a %s reference: %q (an existing profile of the invite's resourceType)", req.ResourceType, profile.Reference)
		}
	}

	checkPolicy := func(field string, ref *client.Reference) {
		if ref == nil {
			return
		}
		if r, ok := TypedRef(ref.Reference, "AccessPolicy"); !ok || r != ref.Reference {
			bad(field, "not an access policy: %q (want AccessPolicy/<id> or an id)", ref.Reference)
		}
	}
	checkAccess := func(field string, list []client.MembershipAccess) {
		for i, a := range list {
			f := fmt.Sprintf("%s[%d]", field, i)
			if a.Policy == nil {
				bad(f+".policy", "is required")
			}
			checkPolicy(f+".policy", a.Policy)
			for j, p := range a.Parameter {
				for _, r := range CheckParameter(p) {
					bad(fmt.Sprintf("%s.parameter[%d]", f, j), "%s", r)
				}
			}
		}
	}
	checkPolicy("accessPolicy", req.AccessPolicy)
	checkAccess("access", req.Access)
	if m := req.Membership; m != nil {
		checkPolicy("membership.accessPolicy", m.AccessPolicy)
		checkAccess("membership.access", m.Access)
	}
	return probs
}

var paramNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-]*$`) })

// ValidParameterName reports whether s can name an access-policy parameter
// (letters, digits, _ . -).
func ValidParameterName(s string) bool { return paramNameRE().MatchString(s) }

// CheckParameter lists what is wrong with one access parameter.
func CheckParameter(p client.AccessParameter) []string {
	var out []string
	if !ValidParameterName(p.Name) {
		out = append(out, fmt.Sprintf("parameter name %q: use letters, digits, _ . -", p.Name))
	}
	hasRef := p.ValueReference != nil && p.ValueReference.Reference != ""
	switch {
	case hasRef && p.ValueString != "":
		out = append(out, fmt.Sprintf("parameter %s has both a valueString and a valueReference", p.Name))
	case !hasRef && p.ValueString == "":
		out = append(out, fmt.Sprintf("parameter %s has no value", p.Name))
	case hasRef && !LooksLikeReference(p.ValueReference.Reference):
		out = append(out, fmt.Sprintf("parameter %s: not a reference: %q (want Type/<id>)", p.Name, p.ValueReference.Reference))
	}
	return out
}
