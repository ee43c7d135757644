package membership

import (
	"context"
	"iter"
	"net/url"
	"strconv"
	"strings"

	"github.com/medplumcli/medplum/client"
)

// Search yields the resources of type typ that a search finds, page after
// page (following next links), as the server sent them. limit > 0 stops
// after that many; entries of another type (included resources, outcomes)
// are skipped.
func Search(ctx context.Context, c *client.Client, typ string, q url.Values, limit int) iter.Seq2[client.Doc, error] {
	return func(yield func(client.Doc, error) bool) {
		n := 0
		for d, err := range c.SearchDocs(ctx, typ+"?"+q.Encode()) {
			if err != nil {
				yield(client.Doc{}, err)
				return
			}
			if d.ResourceType() != typ {
				continue
			}
			if !yield(d, nil) {
				return
			}
			if n++; limit > 0 && n >= limit {
				return
			}
		}
	}
}

// searchAll collects a search of at most limit resources.
func searchAll(ctx context.Context, c *client.Client, typ string, q url.Values, limit int) ([]client.Doc, error) {
	var out []client.Doc
	for d, err := range Search(ctx, c, typ, q, limit) {
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// maxCandidates bounds how many profiles or memberships one lookup follows
// (normally there is one).
const maxCandidates = 20

// FindByEmail returns the memberships in project of the person with this
// e-mail, among profiles of the given types (default: Roles).
//
// A project admin cannot read the User of a server-scoped member, so the
// e-mail is found on the profiles the invite made (Patient, Practitioner,
// RelatedPerson carry it as a telecom): <Type>?email=<email>, then
// ProjectMembership?profile=<refs>. A membership whose user shows another
// e-mail is left out.
func FindByEmail(ctx context.Context, c *client.Client, project, email string, types []string) ([]client.Doc, error) {
	if len(types) == 0 {
		types = Roles
	}
	var refs []string
	for _, t := range types {
		q := url.Values{"email": {email}, "_count": {strconv.Itoa(maxCandidates)}}
		profiles, err := searchAll(ctx, c, t, q, maxCandidates)
		if err != nil {
			return nil, err
		}
		for _, p := range profiles {
			refs = append(refs, t+"/"+p.Resource.ID())
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	ms, err := memberships(ctx, c, project, url.Values{"profile": {strings.Join(refs, ",")}})
	if err != nil {
		return nil, err
	}
	return keep(ms, func(m client.Resource) bool {
		d := m.Display("user")
		return d == "" || strings.EqualFold(d, email)
	}), nil
}

// memberships searches the memberships of project with extra parameters.
func memberships(ctx context.Context, c *client.Client, project string, q url.Values) ([]client.Doc, error) {
	q.Set("project", "Project/"+project)
	q.Set("_count", strconv.Itoa(maxCandidates))
	return searchAll(ctx, c, "ProjectMembership", q, maxCandidates)
}

// FindInvited finds the membership an invite of req made (or found) in
// project, or nil when the server has none. It never guesses:
//   - with an externalId: ProjectMembership?external-id:exact=<id> (the
//     invite copies externalId onto the membership);
//   - with an e-mail: FindByEmail among profiles of the invite's type.
func FindInvited(ctx context.Context, c *client.Client, project string, req *client.InviteRequest) (*client.Doc, error) {
	var found []client.Doc
	var err error
	if req.ExternalID != "" {
		found, err = memberships(ctx, c, project, url.Values{"external-id:exact": {req.ExternalID}})
		found = keep(found, func(m client.Resource) bool { return m.String("externalId") == req.ExternalID })
	} else {
		found, err = FindByEmail(ctx, c, project, strings.ToLower(req.Email), []string{req.ResourceType})
	}
	if err != nil || len(found) == 0 {
		return nil, err
	}
	return &found[0], nil
}

func keep(ds []client.Doc, f func(client.Resource) bool) []client.Doc {
	out := ds[:0]
	for _, d := range ds {
		if f(d.Resource) {
			out = append(out, d)
		}
	}
	return out
}

// FindByName returns the memberships of project whose member has this
// name (the profile's display, as members list shows it; any case, spaces
// collapsed), and near: the others the search found (names that begin the
// same way), for a helpful error.
//
// Profiles of every type are searched by name (<Type>?name=<name>: Medplum
// finds people whose names hold every word, and bots and clients whose
// name begins with it), then their memberships (ProjectMembership?profile=).
func FindByName(ctx context.Context, c *client.Client, project, name string) (found, near []client.Doc, err error) {
	var refs []string
	for _, t := range ProfileTypes {
		q := url.Values{"name": {name}, "_count": {strconv.Itoa(maxCandidates)}}
		profiles, err := searchAll(ctx, c, t, q, maxCandidates)
		if err != nil {
			return nil, nil, err
		}
		for _, p := range profiles {
			refs = append(refs, t+"/"+p.Resource.ID())
		}
	}
	if len(refs) == 0 {
		return nil, nil, nil
	}
	ms, err := memberships(ctx, c, project, url.Values{"profile": {strings.Join(refs, ",")}})
	if err != nil {
		return nil, nil, err
	}
	want := strings.Join(strings.Fields(name), " ")
	for _, m := range ms {
		if strings.EqualFold(strings.Join(strings.Fields(Name(m.Resource)), " "), want) {
			found = append(found, m)
		} else {
			near = append(near, m)
		}
	}
	return found, near, nil
}

// MemberKeys are the keys a membership is matched with people of a file
// by (apply's members, invite --csv --dry-run --upsert): "email:<e-mail>"
// (the user's display, lowercase) and "externalId:<id>".
func MemberKeys(m client.Resource) []string {
	var keys []string
	if u := strings.ToLower(m.Display("user")); strings.Contains(u, "@") {
		keys = append(keys, "email:"+u)
	}
	if x := m.String("externalId"); x != "" {
		keys = append(keys, "externalId:"+x)
	}
	return keys
}

// InviteKey is the MemberKeys key of the membership an invite finds, as
// FindInvited looks it up: by external id when it has one, else by e-mail.
func InviteKey(req *client.InviteRequest) string {
	if req.ExternalID != "" {
		return "externalId:" + req.ExternalID
	}
	return "email:" + strings.ToLower(req.Email)
}
