package apply

import (
	"context"
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
	return st, nil
}
