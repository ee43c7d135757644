package apply

import (
	"context"
	"net/url"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/bot"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/membership"
)

// State is what the server holds for the sections a file manages.
type State struct {
	Who         *cmdutil.SignedIn
	Project     client.Resource // the FHIR Project
	Policies    []client.Resource
	Clients     []client.Resource
	Memberships []client.Resource // every membership of the project
	Bots        []client.Resource
	BotDiffs    map[string]botDiff // by Bot id: what differs from the file's code
	// BotConfig is the working directory's medplum.config.json, when it
	// exists and can be read (nil otherwise); BotConfigErr why it cannot.
	BotConfig    *bot.Config
	BotConfigErr error
	// GoneBots are the deleted bots (410) that entries of medplum.config.json
	// name for bots the file creates: their entries get the new ids.
	GoneBots map[string]bool
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
		if st.Policies, err = c.SearchAll(ctx, "AccessPolicy?"+client.ProjectSearch(pid)+page); err != nil {
			return nil, err
		}
	}
	if spec.ManagesClients {
		if st.Clients, err = c.SearchAll(ctx, "ClientApplication?"+client.ProjectSearch(pid)+page); err != nil {
			return nil, err
		}
	}
	if spec.ManagesBots {
		if err := readBots(ctx, c, spec, st); err != nil {
			return nil, err
		}
		cfg, err := bot.LoadConfig(bot.ConfigFile)
		switch {
		case err != nil:
			st.BotConfigErr = err
		case cfg.Exists:
			st.BotConfig = cfg
			if st.GoneBots, err = goneBots(ctx, c, spec, st); err != nil {
				return nil, err
			}
		}
	}
	if spec.ManagesClients || spec.ManagesMembers || spec.ManagesPolicies || spec.ManagesBots {
		if st.Memberships, err = c.SearchAll(ctx, "ProjectMembership?project=Project/"+pid+page); err != nil {
			return nil, err
		}
	}
	if st.BadPolicies, err = badPolicies(ctx, c, spec, who.ProjectID, st.Policies); err != nil {
		return nil, err
	}
	return st, nil
}

// badPolicies looks up each policy the file names by id (the project's
// policies, when they were read, are known already) and returns those a
// write would be refused for, or would point at nothing (reference 2.5,
// step 5; Medplum 5.0.10 does not check membership.accessPolicy), so that
// apply stops before it writes anything rather than half-way through.
func badPolicies(ctx context.Context, c *client.Client, spec *Spec, projectID string, known []client.Resource) (map[string]string, error) {
	pols := membership.NewPolicies(c, projectID)
	for _, p := range known {
		pols.Add(p)
	}
	bad := map[string]string{}
	for _, u := range spec.PolicyUses() {
		_, problem, err := pols.Resolve(ctx, u.Ref)
		switch {
		case err != nil:
			return nil, err
		case problem != "" && pols.Missing(u.Ref):
			bad[u.Ref] = problem + " (the file's own policies are named by their name)"
		case problem != "":
			bad[u.Ref] = problem
		}
	}
	return bad, nil
}
