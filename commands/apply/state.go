package apply

import (
	"context"
	"fmt"
	"net/url"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
)

// State is what the server holds for the sections a file manages.
type State struct {
	Who         *cmdutil.SignedIn
	Project     client.Resource // the FHIR Project
	Policies    []client.Resource
	Clients     []client.Resource
	Memberships []client.Resource // every membership of the project
	// BadPolicies are the policies the file names by id that no write
	// could use, with the reason: the server does not have them (or does
	// not show them to the caller), or they belong to another project.
	BadPolicies map[string]string
}

// readState reads the signed-in project and what the file manages: a few
// searches, every page of each.
func readState(ctx context.Context, c *client.Client, spec *Spec) (*State, error) {
	who, err := cmdutil.WhoAmI(ctx, c)
	if err != nil {
		return nil, err
	}
	st := &State{Who: who}
	if st.Project, err = c.ReadResource(ctx, client.ResourceURL("Project", who.ProjectID)); err != nil {
		return nil, err
	}
	pid := url.QueryEscape(who.ProjectID)
	const page = "&_count=1000&_sort=_lastUpdated"
	if spec.ManagesPolicies {
		if st.Policies, err = c.SearchAll(ctx, "AccessPolicy?_project="+pid+page); err != nil {
			return nil, err
		}
	}
	if spec.ManagesClients {
		if st.Clients, err = c.SearchAll(ctx, "ClientApplication?_project="+pid+page); err != nil {
			return nil, err
		}
	}
	if spec.ManagesClients || spec.ManagesMembers || spec.ManagesPolicies {
		if st.Memberships, err = c.SearchAll(ctx, "ProjectMembership?project=Project/"+pid+page); err != nil {
			return nil, err
		}
	}
	if st.BadPolicies, err = badPolicies(ctx, c, spec, who.ProjectID, st.Policies); err != nil {
		return nil, err
	}
	return st, nil
}

// badPolicies reads each policy the file names by id, unless the
// project's policies were read and hold it, and returns those a write
// would be refused for (reference 2.5, step 5: the policy must exist and
// belong to the project), so that apply stops before it writes anything
// rather than half-way through.
func badPolicies(ctx context.Context, c *client.Client, spec *Spec, projectID string, known []client.Resource) (map[string]string, error) {
	seen := map[string]bool{}
	for _, p := range known {
		seen["AccessPolicy/"+p.ID()] = true
	}
	bad := map[string]string{}
	for _, u := range spec.PolicyUses() {
		if seen[u.Ref] {
			continue
		}
		seen[u.Ref] = true
		pol, err := c.ReadResource(ctx, u.Ref)
		switch s := client.StatusOf(err); {
		case s == 404 || s == 410:
			bad[u.Ref] = fmt.Sprintf("there is no %s on the server (policies of the file are named by their name)", u.Ref)
		case err != nil:
			return nil, err
		case metaProject(pol) != "" && metaProject(pol) != projectID:
			bad[u.Ref] = fmt.Sprintf("%s belongs to another project (%s)", u.Ref, metaProject(pol))
		}
	}
	return bad, nil
}

// metaProject is meta.project, the project a resource belongs to ("" when
// the server does not say).
func metaProject(r client.Resource) string {
	meta, _ := r["meta"].(map[string]any)
	s, _ := meta["project"].(string)
	return s
}
