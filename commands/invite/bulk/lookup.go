package bulk

import (
	"context"
	"net/url"
	"strings"

	"github.com/medplumcli/medplum/client"
)

// maxProfiles bounds how many profiles with the row's e-mail are followed to
// their memberships (normally there is one).
const maxProfiles = 5

// lookup finds the membership an invite of req made or found in the
// project, or nil when there is none. It never guesses: nil means the
// server answered that there is no such membership.
//
//   - A row with an externalId: ProjectMembership?external-id:exact=<id>
//     (the invite copies externalId onto the membership).
//   - A row with an e-mail: the invite made (or reused) a profile of the
//     row's type carrying that e-mail in the project, so
//     <Type>?email=<email>, then ProjectMembership?profile=<Type>/<id>.
//     Profiles are project resources a project admin can always search;
//     the User of a server-scoped member is not visible to one.
func (r *runner) lookup(ctx context.Context, req client.InviteRequest) (client.Resource, error) {
	project := "Project/" + r.cfg.Project
	if req.ExternalID != "" {
		q := url.Values{"project": {project}, "external-id:exact": {req.ExternalID}}
		return r.firstMembership(ctx, q, func(m client.Resource) bool { return m.String("externalId") == req.ExternalID })
	}
	profiles, err := r.search(ctx, req.ResourceType, url.Values{"email": {req.Email}, "_count": {"20"}})
	if err != nil {
		return nil, err
	}
	for i, p := range profiles {
		if i == maxProfiles {
			break
		}
		q := url.Values{"project": {project}, "profile": {req.ResourceType + "/" + p.ID()}}
		m, err := r.firstMembership(ctx, q, func(m client.Resource) bool {
			d := m.Display("user")
			return d == "" || strings.EqualFold(d, req.Email)
		})
		if m != nil || err != nil {
			return m, err
		}
	}
	return nil, nil
}

// firstMembership returns the first membership of a search that passes keep.
func (r *runner) firstMembership(ctx context.Context, q url.Values, keep func(client.Resource) bool) (client.Resource, error) {
	q.Set("_count", "20")
	ms, err := r.search(ctx, "ProjectMembership", q)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if keep(m) {
			return m, nil
		}
	}
	return nil, nil
}

// search reads the first page of a search.
func (r *runner) search(ctx context.Context, typ string, q url.Values) ([]client.Resource, error) {
	var out []client.Resource
	for page, err := range r.cfg.Client.Pages(ctx, typ+"?"+q.Encode()) {
		if err != nil {
			return nil, err
		}
		for _, e := range page.Bundle.Entry {
			if len(e.Resource) == 0 {
				continue
			}
			res, err := client.DecodeResource(e.Resource)
			if err != nil {
				return nil, err
			}
			if res.ResourceType() == typ {
				out = append(out, res)
			}
		}
		break
	}
	return out, nil
}
