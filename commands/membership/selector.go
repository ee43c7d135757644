package membership

import (
	"context"
	"errors"
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
e-mail, their name as members list shows it ("Homer Simpson": the whole
name, any case), or their profile (Patient/<id>, Practitioner/<id>,
RelatedPerson/<id>, Bot/<id>, ClientApplication/<id>) or user (User/<id>).
When it matches more than one membership, the candidates are listed
(exit 2): name one by id.`

// SelectorKind says how a selector names a member.
type SelectorKind int

// The kinds of selector.
const (
	ByMembership SelectorKind = iota // a membership id (or, failing that, a one-word name)
	ByEmail                          // the e-mail of the member's user and profile
	ByProfile                        // the profile reference
	ByUser                           // the User reference
	ByName                           // the member's name (the profile's display)
)

// Selector names a member of a project.
type Selector struct {
	Kind SelectorKind
	// Value is the membership id, the e-mail (lowercase), the reference
	// (Type/<id>), or the name (spaces collapsed).
	Value string
}

// String is the selector in its canonical form, which ParseSelector reads
// back as the same selector.
func (s Selector) String() string { return s.Value }

// maxName is the longest name a selector takes.
const maxName = 200

// ParseSelector reads a <member> argument (see SelectorHelp).
func ParseSelector(arg string) (Selector, error) {
	s := strings.TrimSpace(arg)
	switch {
	case s == "":
		return Selector{}, fmt.Errorf("empty member: want a membership id, an e-mail, a name, or Patient/<id> and the like")
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && !unicode.IsSpace(r) }):
		return Selector{}, fmt.Errorf("member %q: contains control characters", arg)
	case strings.ContainsFunc(s, unicode.IsSpace):
		name := strings.Join(strings.Fields(s), " ")
		if len(name) > maxName {
			return Selector{}, fmt.Errorf("member %q: a name longer than %d bytes", arg, maxName)
		}
		return Selector{Kind: ByName, Value: name}, nil
	case strings.Contains(s, "@"):
		if !ValidEmail(s) {
			return Selector{}, fmt.Errorf("member %q: not a valid e-mail address", arg)
		}
		return Selector{Kind: ByEmail, Value: strings.ToLower(s)}, nil
	}
	typ, id, isRef := strings.Cut(s, "/")
	if !isRef {
		switch {
		case ValidID(s):
			return Selector{Kind: ByMembership, Value: s}, nil
		case oneWordName(s):
			return Selector{Kind: ByName, Value: s}, nil
		}
		return Selector{}, fmt.Errorf("member %q: not a membership id, an e-mail, a name or a reference like Patient/<id>", arg)
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

// oneWordName reports whether s can be a name of one word that is not a
// membership id: letters (any script), marks, digits, and the ' - . of
// names such as O'Brien or Jean-Luc, at most maxName bytes.
func oneWordName(s string) bool {
	return len(s) <= maxName && !strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsDigit(r) && !strings.ContainsRune("'-.’", r)
	})
}

// Resolve finds the one membership of project a selector names and reads
// it through the admin route (GET admin/projects/<p>/members/<id>), as it
// must be written back. No match is an error naming the selector; several
// matches an *AmbiguousError (exit 2) listing them. A membership id that
// no membership has is looked up as a one-word name, unless it is a UUID.
func Resolve(ctx context.Context, c *client.Client, project string, sel Selector) (client.Doc, error) {
	return ResolveWith(ctx, c, project, sel, Read)
}

// A Reader reads one membership of a project by id: Read (the admin
// route, for what is written back) or ReadFHIR.
type Reader func(ctx context.Context, c *client.Client, project, id string) (client.Doc, error)

// ResolveWith is Resolve reading the membership found with read.
func ResolveWith(ctx context.Context, c *client.Client, project string, sel Selector, read Reader) (client.Doc, error) {
	if sel.Kind == ByMembership {
		d, err := read(ctx, c, project, sel.Value)
		var nf *notFoundError
		if !errors.As(err, &nf) || looksLikeUUID(sel.Value) || !oneWordName(sel.Value) {
			return d, err
		}
		sel.Kind = ByName
	}
	var found, near []client.Doc
	var err error
	switch sel.Kind {
	case ByEmail:
		found, err = FindByEmail(ctx, c, project, sel.Value, nil)
	case ByProfile:
		found, err = memberships(ctx, c, project, url.Values{"profile": {sel.Value}})
	case ByUser:
		found, err = memberships(ctx, c, project, url.Values{"user": {sel.Value}})
	case ByName:
		found, near, err = FindByName(ctx, c, project, sel.Value)
	}
	if err != nil {
		return client.Doc{}, err
	}
	switch len(found) {
	case 0:
		return client.Doc{}, &NoMemberError{Selector: sel, Project: project, Near: near}
	case 1:
		return read(ctx, c, project, found[0].Resource.ID())
	}
	return client.Doc{}, &AmbiguousError{Selector: sel, Project: project, Candidates: found}
}

// NoMemberError is a selector that matches no member of the project. Near
// are members whose name begins like the name asked for.
type NoMemberError struct {
	Selector Selector
	Project  string
	Near     []client.Doc
}

func (e *NoMemberError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no member of project %s is %s", e.Project, e.Selector)
	if len(e.Near) > 0 {
		b.WriteString("; members with a name like it:")
		listMembers(&b, e.Near)
	}
	return b.String()
}

// ExitCode implements cmdutil.ExitCoder: a <member> that names nobody is
// bad input, as an ambiguous one is (exit 2).
func (e *NoMemberError) ExitCode() int { return cmdutil.ExitUsage }

// listMembers writes a line per membership: its id and who it is.
func listMembers(b *strings.Builder, ds []client.Doc) {
	for _, d := range ds {
		fmt.Fprintf(b, "\n  %s  %s", d.Resource.ID(), Describe(d.Resource))
	}
}

// looksLikeUUID reports whether s has the shape of the ids Medplum makes.
func looksLikeUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case !strings.ContainsRune("0123456789abcdefABCDEF", r):
			return false
		}
	}
	return true
}

// Read reads a membership through the admin route, as the server sent it.
func Read(ctx context.Context, c *client.Client, project, id string) (client.Doc, error) {
	return readAt(ctx, c, project, id, client.MembershipURL(project, id))
}

// ReadFHIR reads a membership as a FHIR resource (fhir/R4/ProjectMembership/<id>),
// for commands that only read it: a super admin can read any project's
// this way, where the admin route of another project is 403 to them
// (captures 19, 20). A membership of another project is not found.
func ReadFHIR(ctx context.Context, c *client.Client, project, id string) (client.Doc, error) {
	d, err := readAt(ctx, c, project, id, client.ResourceURL("ProjectMembership", id))
	if err == nil && d.Ref("project") != "Project/"+project {
		return client.Doc{}, &notFoundError{ID: id, Project: project}
	}
	return d, err
}

// readAt reads membership id of project at u: 404 is a *notFoundError,
// 410 a *GoneError.
func readAt(ctx context.Context, c *client.Client, project, id, u string) (client.Doc, error) {
	resp, err := c.Do(ctx, &client.Request{Method: http.MethodGet, URL: u})
	if err != nil {
		switch e := client.AsError(err); {
		case e != nil && e.IsNotFound():
			return client.Doc{}, &notFoundError{ID: id, Project: project}
		case e != nil && e.IsGone():
			return client.Doc{}, &GoneError{ID: id, Project: project}
		}
		return client.Doc{}, err
	}
	d, err := client.NewDoc(resp.Body)
	if err != nil || d.Resource.ResourceType() != "ProjectMembership" {
		return client.Doc{}, fmt.Errorf("GET %s: the answer is not a ProjectMembership", u)
	}
	return d, nil
}

// notFoundError is a membership id the project does not have.
type notFoundError struct{ ID, Project string }

func (e *notFoundError) Error() string {
	return fmt.Sprintf("no membership %s in project %s", e.ID, e.Project)
}

// ExitCode implements cmdutil.ExitCoder: exit 2, as NoMemberError.
func (e *notFoundError) ExitCode() int { return cmdutil.ExitUsage }

// IsNotFound reports whether err is a <member> that names no membership of
// the project (a *NoMemberError, or a membership id it does not have).
func IsNotFound(err error) bool {
	var nm *NoMemberError
	var nf *notFoundError
	return errors.As(err, &nm) || errors.As(err, &nf)
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
	listMembers(&b, e.Candidates)
	return b.String()
}

// ExitCode implements cmdutil.ExitCoder: the input was not precise enough.
func (e *AmbiguousError) ExitCode() int { return cmdutil.ExitUsage }
