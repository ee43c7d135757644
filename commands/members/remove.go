package members

import (
	"errors"
	"fmt"
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/membership"
)

// RemoveOptions are the inputs of `members remove`.
type RemoveOptions struct {
	common
	Members []string // the <member> arguments ("-": more on stdin)
	Yes     bool
}

// NewCmdRemove is `medplum members remove <member>...`.
func NewCmdRemove(f *cmdutil.Factory, runF func(*RemoveOptions) error) *cobra.Command {
	opts := &RemoveOptions{common: newCommon(f)}
	cmd := &cobra.Command{
		Use:     "remove <member>...",
		Aliases: []string{"rm"},
		Short:   "Remove members from the project",
		Long: heredoc.Doc(`
			Remove a member from the project: DELETE admin/projects/<project>/members/<id>.
			Only the membership is deleted: Medplum 5.0.10 keeps the user account
			and the profile (Patient, Practitioner, ...), even of a project-scoped
			user whose last membership it was (delete those with
			"medplum delete User/<id>" where you may). The project's owner cannot
			be removed.

			To stop someone from signing in while keeping the membership for the
			record, prefer "medplum members deactivate".

			On a terminal the removal is confirmed first, naming the project and
			every member found; --yes skips the question (and is required when
			there is no terminal to ask on). Removing a membership that is already
			gone succeeds.
		`) + "\n" + manyHelp + "\n\n" + membership.SelectorHelp,
		Example: `  $ medplum members remove homer@example.com
  $ medplum members remove 82399b9d-4910-43c8-a667-64e4d3ee3dad --yes
  $ medplum members remove carol@example.com 'Bob Jones' --yes
  $ cut -d, -f3 leavers.csv | medplum members remove - --yes`,
		Args:              manyMembers,
		ValidArgsFunction: completion.EachMember(f),
		RunE: func(c *cobra.Command, args []string) error {
			if err := opts.prepare(c); err != nil {
				return err
			}
			opts.Members = args
			if runF != nil {
				return runF(opts)
			}
			return removeRun(opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	opts.addProjectFlag(cmd)
	return cmd
}

func removeRun(o *RemoveOptions) error {
	if !o.Yes && !o.IO.CanPrompt() {
		return cmdutil.FlagErrorf("removing a member needs confirmation: pass --yes (there is no terminal to ask on)")
	}
	ts, many, c, project, err := o.start(o.Members)
	if err != nil {
		return err
	}
	if !many {
		return o.removeOne(c, project, ts[0])
	}
	return o.removeMany(c, project, ts)
}

// removeOne removes one member, as members remove always did: a question
// on a terminal, the error's own exit code.
func (o *RemoveOptions) removeOne(c *client.Client, project string, t target) error {
	ctx := o.context()
	d, err := membership.Resolve(ctx, c, project, t.sel)
	var gone *membership.GoneError
	if errors.As(err, &gone) {
		fmt.Fprintf(o.IO.ErrOut, "membership %s was already removed from project %s\n", gone.ID, o.projectName(c))
		return nil
	}
	if err != nil {
		return err
	}
	who := membership.Describe(d.Resource)
	if !o.Yes {
		ok, err := cmdutil.Confirm(ctx, o.IO, fmt.Sprintf("Remove %s from project %s?", who, o.projectName(c)))
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(o.IO.ErrOut, "nothing was removed")
			return nil
		}
	}
	removed, err := o.delete(c, project, d)
	if err != nil {
		return err
	}
	if !removed {
		fmt.Fprintf(o.IO.ErrOut, "%s was already removed from project %s\n", who, o.projectName(c))
		return nil
	}
	fmt.Fprintf(o.IO.ErrOut, "Removed %s from project %s\n", who, o.projectName(c))
	return nil
}

// removeMany finds every member first, asks once (on a terminal) naming
// them all, then removes them one by one, a line each and a summary.
func (o *RemoveOptions) removeMany(c *client.Client, project string, ts []target) error {
	ctx := o.context()
	r := &report{common: &o.common, total: len(ts)}
	var found []client.Doc
	seen := map[string]bool{}
	for _, t := range ts {
		d, err := membership.Resolve(ctx, c, project, t.sel)
		var gone *membership.GoneError
		switch {
		case errors.As(err, &gone):
			fmt.Fprintf(o.IO.ErrOut, "membership %s was already removed\n", gone.ID)
			r.same++
		case err != nil && stopsTheRun(err):
			return r.finish("removed", "already removed", err)
		case err != nil:
			r.fail(t, err)
		case seen[d.Resource.ID()]:
			r.total-- // named twice: removed once
		default:
			seen[d.Resource.ID()] = true
			found = append(found, d)
		}
	}
	if len(found) > 0 && !o.Yes {
		for _, d := range found {
			fmt.Fprintf(o.IO.ErrOut, "  %s\n", membership.Describe(d.Resource))
		}
		ok, err := cmdutil.Confirm(ctx, o.IO, fmt.Sprintf("Remove %s from project %s?", cmdutil.Count(len(found), "member"), o.projectName(c)))
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(o.IO.ErrOut, "nothing was removed")
			found = nil
		}
	}
	for _, d := range found {
		who := membership.Describe(d.Resource)
		removed, err := o.delete(c, project, d)
		switch {
		case err != nil && stopsTheRun(err):
			return r.finish("removed", "already removed", err)
		case err != nil:
			r.fail(target{arg: who}, err)
		case !removed:
			fmt.Fprintf(o.IO.ErrOut, "%s was already removed\n", who)
			r.same++
		default:
			fmt.Fprintf(o.IO.ErrOut, "Removed %s\n", who)
			r.done++
		}
	}
	return r.finish("removed", "already removed", nil)
}

// delete removes a membership; false when it was gone already.
func (o *RemoveOptions) delete(c *client.Client, project string, d client.Doc) (bool, error) {
	err := c.DeleteMembership(o.context(), project, d.Resource.ID())
	if e := client.AsError(err); e != nil {
		switch {
		case e.IsGone():
			return false, nil
		case e.Status == 400 && strings.Contains(e.Error(), "owner"):
			return false, cmdutil.WithHint(fmt.Errorf("cannot remove %s: they own project %s, and the server refuses to remove a project's owner (%v)",
				membership.Describe(d.Resource), o.projectName(c), e), "a super admin can give the project another owner (Project.owner) first")
		}
	}
	return err == nil, err
}
