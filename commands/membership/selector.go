package membership

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
)

// SelectorHelp describes <member> for help texts.
const SelectorHelp = `<member> is a membership id (or ProjectMembership/<id>), the member's
e-mail, or their profile (Patient/<id>, Practitioner/<id>, RelatedPerson/<id>,
Bot/<id>, ClientApplication/<id>) or user (User/<id>). When it matches more
than one membership, the candidates are listed (exit 2): name one by id.`

// SelectorKind says how a selector names a member.
type SelectorKind int

// The kinds of selector.
const (
	ByMembership SelectorKind = iota // a membership id
	ByEmail                          // the e-mail of the member's user and profile
	ByProfile                        // the profile reference
	ByUser                           // the User reference
)

// Selector names a member of a project.
type Selector struct {
	Kind SelectorKind
	// Value is the membership id, the e-mail (lowercase), or the reference
	// (Type/<id>).
	Value string
}

// String is the selector in its canonical form, which ParseSelector reads
// back as the same selector.
func (s Selector) String() string { return s.Value }

// ParseSelector reads a <member> argument (see SelectorHelp).
func ParseSelector(arg string) (Selector, error) {
	s := strings.TrimSpace(arg)
	switch {
	case s == "":
		return Selector{}, fmt.Errorf("empty member: want a membership id, an e-mail, or Patient/<id> and the like")
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return Selector{}, fmt.Errorf("member %q: contains spaces or control characters", arg)
	case strings.Contains(s, "@"):
		if !ValidEmail(s) {
			return Selector{}, fmt.Errorf("member %q: not a valid e-mail address", arg)
		}
		return Selector{Kind: ByEmail, Value: strings.ToLower(s)}, nil
	}
	typ, id, isRef := strings.Cut(s, "/")
	if !isRef {
		if !ValidID(s) {
			return Selector{}, fmt.Errorf("member %q: not a membership id, an e-mail or a reference like Patient/<id>", arg)
		}
		return Selector{Kind: ByMembership, Value: s}, nil
	}
	if !ValidID(id) {
		return Selector{}, fmt.Errorf("member %q: %q is not a FHIR id", arg, id)
	}
	switch {
	case typ == "ProjectMembership":
		return Selector{Kind: ByMembership, Value: id}, nil
	case typ == "User":
		return Selector{Kind: ByUser, Value: s}, nil
	case slices.Contains(ProfileTypes, typ):
		return Selector{Kind: ByProfile, Value: s}, nil
	}
	return Selector{}, fmt.Errorf("member %q: a reference must be to ProjectMembership, User or a profile (%s)", arg, strings.Join(ProfileTypes, ", "))
}

// Resolve finds the one membership of project a selector names and reads
// it through the admin route (GET admin/projects/<p>/members/<id>), as it
// must be written back. No match is an error naming the selector; several
// matches an *AmbiguousError (exit 2) listing them.
func Resolve(ctx context.Context, c *client.Client, project string, sel Selector) (client.Doc, error) {
	id := sel.Value
	if sel.Kind != ByMembership {
		var found []client.Doc
		var err error
		switch sel.Kind {
		case ByEmail:
			found, err = FindByEmail(ctx, c, project, sel.Value, nil)
		case ByProfile:
			found, err = memberships(ctx, c, project, url.Values{"profile": {sel.Value}})
		case ByUser:
			found, err = memberships(ctx, c, project, url.Values{"user": {sel.Value}})
		}
		if err != nil {
			return client.Doc{}, err
		}
		switch len(found) {
		case 0:
			return client.Doc{}, fmt.Errorf("no member of project %s is %s", project, sel)
		case 1:
			id = found[0].Resource.ID()
		default:
			return client.Doc{}, &AmbiguousError{Selector: sel, Project: project, Candidates: found}
		}
	}
	return Read(ctx, c, project, id)
}

// Read reads a membership through the admin route, as the server sent it.
func Read(ctx context.Context, c *client.Client, project, id string) (client.Doc, error) {
	resp, err := c.Do(ctx, &client.Request{Method: http.MethodGet, URL: client.MembershipURL(project, id)})
	if err != nil {
		switch e := client.AsError(err); {
		case e != nil && e.IsNotFound():
			return client.Doc{}, fmt.Errorf("no membership %s in project %s", id, project)
		case e != nil && e.IsGone():
			return client.Doc{}, &GoneError{ID: id, Project: project}
		}
		return client.Doc{}, err
	}
	d, err := client.NewDoc(resp.Body)
	if err != nil || d.Resource.ResourceType() != "ProjectMembership" {
		return client.Doc{}, fmt.Errorf("GET %s: the answer is not a ProjectMembership", client.MembershipURL(project, id))
	}
	return d, nil
}

// GoneError is a membership that was deleted.
type GoneError struct{ ID, Project string }

func (e *GoneError) Error() string {
	return fmt.Sprintf("membership %s of project %s was removed", e.ID, e.Project)
}

// AmbiguousError is a selector that matches several memberships.
type AmbiguousError struct {
	Selector   Selector
	Project    string
	Candidates []client.Doc
}

func (e *AmbiguousError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s matches %d members of project %s; name one by its membership id:", e.Selector, len(e.Candidates), e.Project)
	for _, d := range e.Candidates {
		fmt.Fprintf(&b, "\n  %s  %s", d.Resource.ID(), Describe(d.Resource))
	}
	return b.String()
}

// ExitCode implements cmdutil.ExitCoder: the input was not precise enough.
func (e *AmbiguousError) ExitCode() int { return cmdutil.ExitUsage }
