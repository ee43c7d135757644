package clients

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
)

// DeleteOptions are the inputs of `clients delete`.
type DeleteOptions struct {
	common
	Arg string
	Yes bool
}

// NewCmdDelete is `medplum clients delete <client>`.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{common: newCommon(f)}
	cmd := &cobra.Command{
		Use:   "delete <client>",
		Short: "Delete a client application and its membership",
		Long: `Delete a client: first its project membership (from then on it can no longer
sign in), then the ClientApplication. Asks for confirmation on a terminal;
scripts pass --yes. Deleting a client that is already deleted succeeds.`,
		Example:           `  $ medplum clients delete "old exporter" --yes`,
		Args:              cmdutil.ExactArgs(1, "a client (id, ClientApplication/<id> or name)"),
		ValidArgsFunction: completion.FirstArg(completion.Named(f, "ClientApplication")),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Ctx = c.Context()
			opts.Arg = args[0]
			if runF != nil {
				return runF(opts)
			}
			return deleteRun(opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "delete without asking")
	opts.addProjectFlag(cmd)
	return cmd
}

func deleteRun(o *DeleteOptions) error {
	c, t, err := o.connect()
	if err != nil {
		return err
	}
	app, err := findClient(o.Ctx, c, t, o.Arg)
	var gone *goneError
	if errors.As(err, &gone) {
		fmt.Fprintf(o.IO.ErrOut, "Client %s is already deleted.\n", o.Arg)
		return nil
	}
	if err != nil {
		return err
	}
	if t.who.Profile == "ClientApplication/"+app.ID() {
		return cmdutil.InputErrorf("you are signed in as client %s: sign in as another admin to delete it", label(app))
	}
	if !o.Yes {
		if !o.IO.CanPrompt() {
			return cmdutil.InputErrorf("refusing to delete client %s without confirmation: pass --yes", label(app))
		}
		ok, err := cmdutil.Confirm(o.Ctx, o.IO, fmt.Sprintf("Delete client %s of project %s? It will no longer be able to sign in.", label(app), t.describe()))
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(o.IO.ErrOut, "Nothing was deleted.")
			return nil
		}
	}
	ms, err := memberships(o.Ctx, c, app.ID())
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := deleteIgnoringGone(o.Ctx, c, "ProjectMembership", m.ID()); err != nil {
			return err
		}
	}
	if err := deleteIgnoringGone(o.Ctx, c, "ClientApplication", app.ID()); err != nil {
		return fmt.Errorf("the membership of client %s was deleted (it can no longer sign in), but deleting the client failed: %w", label(app), err)
	}
	fmt.Fprintf(o.IO.ErrOut, "Deleted client %s from project %s.\n", label(app), t.describe())
	return nil
}

func deleteIgnoringGone(ctx context.Context, c *client.Client, typ, id string) error {
	err := c.DeleteResource(ctx, typ, id)
	if client.StatusOf(err) == 410 {
		return nil
	}
	return err
}
