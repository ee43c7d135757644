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
	Member string
	Yes    bool
}

// NewCmdRemove is `medplum members remove <member>`.
func NewCmdRemove(f *cmdutil.Factory, runF func(*RemoveOptions) error) *cobra.Command {
	opts := &RemoveOptions{common: newCommon(f)}
	cmd := &cobra.Command{
		Use:     "remove <member>",
		Aliases: []string{"rm"},
		Short:   "Remove a member from the project",
		Long: heredoc.Doc(`
			Remove a member from the project: DELETE admin/projects/<project>/members/<id>.
			The profile (Patient, Practitioner, ...) is kept. When the member's user
			is project-scoped and this was its only membership, the server deletes
			the user as well. The project's owner cannot be removed.

			To stop someone from signing in while keeping the membership for the
			record, prefer "medplum members deactivate".

			On a terminal the removal is confirmed first; --yes skips the question
			(and is required when there is no terminal to ask on). Removing a
			membership that is already gone succeeds.
		`) + "\n" + membership.SelectorHelp,
		Example: `  $ medplum members remove homer@example.com
  $ medplum members remove 82399b9d-4910-43c8-a667-64e4d3ee3dad --yes`,
		Args:              memberArg,
		ValidArgsFunction: completion.Members(f),
		RunE: func(c *cobra.Command, args []string) error {
			if err := opts.prepare(c); err != nil {
				return err
			}
			opts.Member = args[0]
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
	c, project, d, err := o.resolve(o.Member)
	var gone *membership.GoneError
	if errors.As(err, &gone) {
		fmt.Fprintf(o.IO.ErrOut, "membership %s was already removed from project %s\n", gone.ID, gone.Project)
		return nil
	}
	if err != nil {
		return err
	}
	who := membership.Describe(d.Resource)
	if !o.Yes {
		ok, err := cmdutil.Confirm(o.context(), o.IO, fmt.Sprintf("Remove %s from project %s?", who, project))
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(o.IO.ErrOut, "nothing was removed")
			return nil
		}
	}
	err = c.DeleteMembership(o.context(), project, d.Resource.ID())
	if e := client.AsError(err); e != nil {
		switch {
		case e.IsGone():
			fmt.Fprintf(o.IO.ErrOut, "%s was already removed from project %s\n", who, project)
			return nil
		case e.Status == 400 && strings.Contains(e.Error(), "owner"):
			return cmdutil.WithHint(fmt.Errorf("cannot remove %s: they own project %s, and the server refuses to remove a project's owner (%v)", who, project, e),
				"a super admin can give the project another owner (Project.owner) first")
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "Removed %s from project %s\n", who, project)
	return nil
}
