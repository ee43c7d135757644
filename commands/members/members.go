// Package members is `medplum members ...`: list, inspect and change the
// memberships of a project (ProjectMembership), through the admin routes
// Medplum documents for them.
package members

import (
	"context"
	"slices"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/output"
	"github.com/medplumcli/medplum/commands/review"
)

// NewCmdMembers is the `medplum members` group.
func NewCmdMembers(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "members <command>",
		Aliases: []string{"member"},
		Short:   "List and manage the members of a project",
		Long: heredoc.Doc(`
			List and manage the members of a project: the ProjectMemberships that
			give users (and bots and client applications) access to it.

			Changes go through admin/projects/<project>/members/<id>: the membership
			is read, only the field in question is changed (everything else, unknown
			fields included, is kept), and the whole resource is posted back, as
			Medplum's user management guide recommends.
		`) + "\n" + membership.SelectorHelp,
		Example: `  $ medplum members list --humans
  $ medplum members list --type Practitioner --admin -o csv
  $ medplum members promote alice@example.com
  $ medplum members deactivate Patient/123 lisa@example.com
  $ medplum members set-access bob@example.com --access 'AccessPolicy/1?provider_organization=Organization/abc'
  $ medplum members history homer@example.com
  $ medplum members remove homer@example.com --yes`,
		Args: cobra.ArbitraryArgs,
		RunE: cmdutil.GroupRunE,
	}
	cmd.AddCommand(NewCmdList(f, nil))
	cmd.AddCommand(NewCmdGet(f, nil))
	cmd.AddCommand(NewCmdPromote(f, nil), NewCmdDemote(f, nil))
	cmd.AddCommand(NewCmdActivate(f, nil), NewCmdDeactivate(f, nil))
	cmd.AddCommand(NewCmdSetAccess(f, nil))
	cmd.AddCommand(NewCmdRemove(f, nil))
	cmd.AddCommand(NewCmdHistory(f, nil))
	cmd.AddCommand(review.NewCmdReview(f, nil), NewCmdInviteLink(f, nil), NewCmdResetPassword(f, nil))
	return cmd
}

// common are the inputs every members command has.
type common struct {
	factory *cmdutil.Factory
	IO      *iostreams.IOStreams
	Client  func() (*client.Client, error)
	Ctx     context.Context
	Project string // checked; "" is the signed-in project

	target membership.Target // what connect found
}

func newCommon(f *cmdutil.Factory) common {
	return common{IO: f.IOStreams, Client: f.Client, factory: f}
}

// addProjectFlag registers --project.
func (o *common) addProjectFlag(cmd *cobra.Command) {
	membership.AddProjectFlag(o.factory, cmd, &o.Project, "")
}

// prepare reads what every command needs from the command line.
func (o *common) prepare(cmd *cobra.Command) error {
	o.Ctx = cmd.Context()
	if cmd.Flags().Changed("project") {
		p, err := membership.ParseProject(o.Project)
		if err != nil {
			return err
		}
		o.Project = p
	}
	return nil
}

func (o *common) context() context.Context {
	if o.Ctx == nil {
		return context.Background()
	}
	return o.Ctx
}

// connect returns the client and the project to act on.
func (o *common) connect() (*client.Client, string, error) {
	c, err := o.Client()
	if err != nil {
		return nil, "", err
	}
	t, err := membership.ProjectOf(o.context(), c, o.Project)
	if err != nil {
		return nil, "", err
	}
	o.target = t
	return c, t.ID, nil
}

// projectName names the project connect found for questions and
// messages: "Name" (id). A super admin's --project is read for its name
// (once; the id alone if that fails).
func (o *common) projectName(c *client.Client) string {
	if o.target.Name == "" && o.target.ID != "" {
		if p, err := c.ReadResource(o.context(), "Project/"+o.target.ID); err == nil {
			o.target.Name = p.String("name")
		}
	}
	return o.target.Describe()
}

// resolve parses a <member> argument (exit 2 when it is malformed, before
// anything is sent), then finds the membership on the server.
func (o *common) resolve(arg string) (*client.Client, string, client.Doc, error) {
	sel, err := membership.ParseSelector(arg)
	if err != nil {
		return nil, "", client.Doc{}, cmdutil.FlagErrorf("%v", err)
	}
	c, project, err := o.connect()
	if err != nil {
		return nil, "", client.Doc{}, err
	}
	d, err := membership.Resolve(o.context(), c, project, sel)
	return c, project, d, o.target.NotFoundHint(err)
}

// memberOptions are the inputs of the commands that act on a <member> (or
// several) and print it (get, history, promote, demote, activate,
// deactivate, set-access).
type memberOptions struct {
	common
	Member  string   // the first <member>
	Members []string // every <member> of a command that takes several ("-": more on stdin)
	Output  output.Options
}

// bind completes cmd as such a command: <member> (completed from the
// server), --project and the output flags, checked before run is called.
func (o *memberOptions) bind(f *cmdutil.Factory, cmd *cobra.Command, run func() error) *cobra.Command {
	cmd.Args = memberArg
	cmd.ValidArgsFunction = completion.Members(f)
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if err := o.prepare(c); err != nil {
			return err
		}
		o.Member, o.Members = args[0], args
		if err := o.Output.Check(); err != nil {
			return err
		}
		return run()
	}
	o.addProjectFlag(cmd)
	addOutputFlags(cmd, &o.Output)
	return cmd
}

// addOutputFlags registers -o (table by default; wide: every column on a
// terminal too), --columns and --no-header.
func addOutputFlags(cmd *cobra.Command, o *output.Options) {
	output.AddFlags(cmd, o, output.Table, output.WithWide()...)
	output.SetExamples(cmd, "name,email,admin", "[.] | flatten | .[].id") // one member is an object, several an array
	o.CompleteColumns = output.ColumnList(append(slices.Clone(membership.ListColumns), "email", "type")...)
}

// memberArg is the Args of commands that take one <member>.
var memberArg = cmdutil.ExactArgs(1, "a member (a membership id, an e-mail, a name, or Patient/<id> and the like)")
