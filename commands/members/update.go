package members

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/membership"
)

// UpdateOptions are the inputs of the commands that change members.
type UpdateOptions struct {
	memberOptions
	// Change is what the command does to a membership.
	Change Change
}

// Change is one change to a membership.
type Change struct {
	// Apply changes m (the membership as read, unknown fields and all) and
	// reports whether anything changed.
	Apply func(m client.Resource) bool
	// Done and Same are the messages on stderr after a change and when
	// there was nothing to change; %s is the member.
	Done, Same string
	// Prepare, if set, is called before any membership is changed, with
	// what it needs of the server (the access policies set-access names),
	// and returns the Change to apply.
	Prepare func(ctx context.Context, c *client.Client, project string) (Change, error)
}

// newUpdateCmd builds a command that applies a Change to its members.
func newUpdateCmd(f *cmdutil.Factory, cmd *cobra.Command, change Change, runF func(*UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{memberOptions: memberOptions{common: newCommon(f)}, Change: change}
	cmd.Long += "\n\n" + manyHelp
	cmd = opts.bind(f, cmd, func() error {
		if runF != nil {
			return runF(opts)
		}
		return updateRun(opts)
	})
	cmd.Args, cmd.ValidArgsFunction = manyMembers, completion.EachMember(f)
	return cmd
}

// updateRun changes each member (see updateOne). With one member it prints
// the membership on stdout and a message on stderr, and fails with the
// error's own code; with several (bulk.go) a line each and a summary on
// stderr, the memberships on stdout.
func updateRun(o *UpdateOptions) error {
	ts, many, c, project, err := o.start(o.Members)
	if err != nil {
		return err
	}
	ctx := o.context()
	if o.Change.Prepare != nil {
		if o.Change, err = o.Change.Prepare(ctx, c, project); err != nil {
			return err
		}
	}
	if !many {
		d, changed, err := o.updateOne(c, project, ts[0].sel)
		if err != nil {
			return err
		}
		if err := membership.Print(o.IO, &o.Output, []client.Doc{d}, true, membership.ListTable); err != nil {
			return err
		}
		o.say(d, changed)
		return nil
	}
	p, err := membership.NewPrinter(o.IO, &o.Output, membership.ListTable)
	if err != nil {
		return err
	}
	r := &report{common: &o.common, total: len(ts)}
	var stop error
	for _, t := range ts {
		d, changed, err := o.updateOne(c, project, t.sel)
		switch {
		case err != nil && stopsTheRun(err):
			stop = err
		case err != nil:
			r.fail(t, err)
			continue
		case changed:
			r.done++
		default:
			r.same++
		}
		if stop != nil {
			break
		}
		o.say(d, changed)
		if err := p.Add(d); err != nil {
			return err
		}
	}
	// The memberships now, those that were found; nothing when none was.
	if r.done+r.same > 0 {
		if err := p.Close(); err != nil {
			return err
		}
	}
	return r.finish("changed", "unchanged", stop)
}

// updateOne finds a member, applies the change to the membership as read
// through the admin route and posts the whole resource back (the route's
// only update; a PATCH does not exist there). Nothing is sent when there
// is nothing to change. It returns the membership as it is now.
func (o *UpdateOptions) updateOne(c *client.Client, project string, sel membership.Selector) (client.Doc, bool, error) {
	d, err := membership.Resolve(o.context(), c, project, sel)
	if err != nil {
		return client.Doc{}, false, err
	}
	if !o.Change.Apply(d.Resource) {
		return d, false, nil
	}
	updated, err := c.UpdateMembership(o.context(), project, d.Resource)
	return updated, true, err
}

// say prints the Done or Same message about a member.
func (o *UpdateOptions) say(d client.Doc, changed bool) {
	msg := o.Change.Same
	if changed {
		msg = o.Change.Done
	}
	fmt.Fprintf(o.IO.ErrOut, msg+"\n", membership.Describe(d.Resource))
}

// setBool is a Change.Apply that sets a boolean field; a missing field
// counts as absent (false for admin, true for active).
func setBool(field string, value, absent bool) func(client.Resource) bool {
	return func(m client.Resource) bool {
		cur, ok := m.Bool(field)
		if !ok {
			cur = absent
		}
		if cur == value {
			return false
		}
		m[field] = value
		return true
	}
}

// NewCmdPromote is `medplum members promote <member>...`.
func NewCmdPromote(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	return newUpdateCmd(f, &cobra.Command{
		Use:   "promote <member>...",
		Short: "Make a member a project admin",
		Long: "Make a member a project admin (admin: true), changing nothing else.\n" +
			"Promoting an admin changes nothing and succeeds.\n\n" + membership.SelectorHelp,
		Example: `  $ medplum members promote alice@example.com
  $ medplum members promote alice@example.com 'Bob Jones'`,
	}, Change{Apply: setBool("admin", true, false), Done: "%s is now a project admin", Same: "%s is already a project admin; nothing changed"}, runF)
}

// NewCmdDemote is `medplum members demote <member>...`.
func NewCmdDemote(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	return newUpdateCmd(f, &cobra.Command{
		Use:   "demote <member>...",
		Short: "Take project admin rights from a member",
		Long: "Take project admin rights from a member (admin: false), changing nothing\n" +
			"else. Demoting a member who is not an admin changes nothing and succeeds.\n\n" + membership.SelectorHelp,
		Example: `  $ medplum members demote alice@example.com`,
	}, Change{Apply: setBool("admin", false, false), Done: "%s is no longer a project admin", Same: "%s is not a project admin; nothing changed"}, runF)
}

// NewCmdDeactivate is `medplum members deactivate <member>...`.
func NewCmdDeactivate(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	return newUpdateCmd(f, &cobra.Command{
		Use:   "deactivate <member>...",
		Short: "Stop a member from signing in, keeping the membership and profile",
		Long: "Deactivate a member (active: false): they can no longer sign in to the\n" +
			"project or refresh a token, and the membership and profile stay for the\n" +
			"record, as Medplum recommends over removing. Undo with activate.\n\n" + membership.SelectorHelp,
		Example: `  $ medplum members deactivate homer@example.com
  $ medplum members deactivate lisa@example.com bart@example.com
  $ cut -d, -f3 leavers.csv | medplum members deactivate -`,
	}, Change{Apply: setBool("active", false, true), Done: "%s is deactivated; the membership and profile are kept", Same: "%s is already deactivated; nothing changed"}, runF)
}

// NewCmdActivate is `medplum members activate <member>...`.
func NewCmdActivate(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	return newUpdateCmd(f, &cobra.Command{
		Use:     "activate <member>...",
		Short:   "Let a deactivated member sign in again",
		Long:    "Activate a deactivated member (active: true).\n\n" + membership.SelectorHelp,
		Example: `  $ medplum members activate homer@example.com`,
	}, Change{Apply: setBool("active", true, true), Done: "%s is active again", Same: "%s is already active; nothing changed"}, runF)
}
