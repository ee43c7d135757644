package clients

import (
	"fmt"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
)

// RotateOptions are the inputs of `clients rotate-secret`.
type RotateOptions struct {
	common
	Arg    string
	Finish bool
	Secret secretOutput
}

// NewCmdRotateSecret is `medplum clients rotate-secret <client>`.
func NewCmdRotateSecret(f *cmdutil.Factory, runF func(*RotateOptions) error) *cobra.Command {
	opts := &RotateOptions{common: newCommon(f)}
	opts.Secret.factory = f
	cmd := &cobra.Command{
		Use:   "rotate-secret <client>",
		Short: "Give a client a new secret, keeping the old one until --finish",
		Long: heredoc.Doc(`
			Rotate a client's secret without downtime, in two steps:

			1. "rotate-secret <client>" has the server generate a new secret. The old
			   one becomes the retiring secret and keeps signing in, so running jobs
			   are not cut off while the new secret is rolled out.
			2. "rotate-secret <client> --finish" retires the old secret: from then on
			   only the new one signs in.

			A client with a retiring secret cannot be rotated again until --finish.
			The new secret is printed only with --show-secret, or -o json or yaml (or
			--jq, --template).
		`),
		Example: `  $ medplum clients rotate-secret "CI deployer" -o json | jq -r .secret
  $ medplum clients rotate-secret "CI deployer" --finish`,
		Args:              cmdutil.ExactArgs(1, "a client (id, ClientApplication/<id> or name)"),
		ValidArgsFunction: completion.FirstArg(completion.Named(f, "ClientApplication")),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Ctx = c.Context()
			opts.Arg = args[0]
			if err := opts.Secret.check(); err != nil {
				return err
			}
			if opts.Finish && (opts.Secret.ShowSecret || c.Flags().Changed("output") || c.Flags().Changed("jq") || c.Flags().Changed("template") || opts.Secret.SaveProfile != "") {
				return cmdutil.FlagErrorf("--finish makes no secret: leave out --show-secret, -o, --jq, --template and --save-profile")
			}
			if runF != nil {
				return runF(opts)
			}
			return rotateRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Finish, "finish", false, "retire the old secret of a rotation")
	opts.addProjectFlag(cmd)
	opts.Secret.addFlags(cmd, "print the new secret on a second line")
	return cmd
}

func rotateRun(o *RotateOptions) error {
	if !o.Finish {
		if err := o.Secret.precheck(); err != nil {
			return err
		}
	}
	c, t, err := o.connect()
	if err != nil {
		return err
	}
	app, err := findClient(o.Ctx, c, t, o.Arg)
	if err != nil {
		return err
	}
	retiring := app.String("retiringSecret")
	if o.Finish {
		if retiring == "" {
			fmt.Fprintf(o.IO.ErrOut, "Client %s has no retiring secret; nothing to do.\n", label(app))
			return nil
		}
		if _, err := c.RetireClientSecret(o.Ctx, app.ID(), retiring); err != nil {
			return err
		}
		fmt.Fprintf(o.IO.ErrOut, "Retired the old secret of client %s: only the current secret signs in now.\n", label(app))
		return nil
	}
	if retiring != "" {
		return cmdutil.WithHint(fmt.Errorf("client %s is in the middle of a rotation: its old secret still signs in", label(app)),
			fmt.Sprintf("finish it first: medplum clients rotate-secret %s --finish", app.ID()))
	}
	rotated, err := c.RotateClientSecret(o.Ctx, app.ID(), app.String("secret"))
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "Rotated the secret of client %s. The old secret keeps signing in until: medplum clients rotate-secret %s --finish\n", label(app), app.ID())
	return o.Secret.deliver(o.Ctx, o.IO, rotated, t)
}
