package clients

import (
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/output"
)

// ListOptions are the inputs of `clients list`.
type ListOptions struct {
	common
	Output output.Options
}

// NewCmdList is `medplum clients list`.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{common: newCommon(f)}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the project's client applications (never their secrets)",
		Long: `List the project's ClientApplications with their membership: admin, access
policy, active, and whether a secret rotation is under way (ROTATING: the old
secret still signs in until "clients rotate-secret --finish"). Secrets are
never shown.`,
		Example: `  $ medplum clients list
  $ medplum clients list --columns id,name,rotating -o csv`,
		Args: cmdutil.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			opts.Ctx = c.Context()
			if err := opts.Output.Check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return listRun(opts)
		},
	}
	opts.addProjectFlag(cmd)
	output.AddFlags(cmd, &opts.Output, output.Table)
	opts.Output.CompleteColumns = output.ColumnList(listColumns...)
	output.SetExamples(cmd, "name,admin,access_policy", ".[].name")
	return cmd
}

// listItem is one client in the output: no secrets.
type listItem struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Description  string `json:"description,omitempty"`
	Admin        bool   `json:"admin"`
	AccessPolicy string `json:"accessPolicy,omitempty"`
	Active       bool   `json:"active"`
	Membership   string `json:"membership,omitempty"`
	Rotating     bool   `json:"rotating"`
}

var listColumns = []string{"id", "name", "admin", "access_policy", "active", "rotating", "membership", "description"}

func listRun(o *ListOptions) error {
	c, t, err := o.connect()
	if err != nil {
		return err
	}
	pid := url.QueryEscape(t.projectID)
	apps, err := c.SearchAll(o.Ctx, "ClientApplication?"+client.ProjectSearch(pid)+"&_count=1000&_sort=_lastUpdated")
	if err != nil {
		return err
	}
	ms, err := c.SearchAll(o.Ctx, "ProjectMembership?project=Project/"+pid+"&profile-type=ClientApplication&_count=1000&_sort=_lastUpdated")
	if err != nil {
		return err
	}
	byClient := map[string]client.Resource{}
	for _, m := range ms {
		byClient[m.Ref("profile")] = m
	}
	items := make([]listItem, 0, len(apps))
	for _, a := range apps {
		it := listItem{ID: a.ID(), Name: a.String("name"), Description: a.String("description"), Rotating: a.String("retiringSecret") != ""}
		if m := byClient["ClientApplication/"+a.ID()]; m != nil {
			it.Membership = m.ID()
			it.Admin, _ = m.Bool("admin")
			it.AccessPolicy = m.Ref("accessPolicy")
			active, set := m.Bool("active")
			it.Active = active || !set
		}
		items = append(items, it)
	}
	if done, err := output.WriteItems(o.IO, &o.Output, items); done {
		return err
	}
	rows := output.Rows{Default: []string{"id", "name", "admin", "access_policy", "rotating"}, Known: listColumns}
	for _, it := range items {
		rows.Records = append(rows.Records, output.MapRecord{
			"id": it.ID, "name": it.Name, "description": it.Description, "admin": strconv.FormatBool(it.Admin),
			"access_policy": it.AccessPolicy, "active": strconv.FormatBool(it.Active), "membership": it.Membership,
			"rotating": strconv.FormatBool(it.Rotating),
		})
	}
	return o.Output.WriteRows(o.IO, rows)
}
