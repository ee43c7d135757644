// Package profile is `medplum profile`: named connection settings kept in
// the settings file (list, set, describe, remove, use).
package profile

import (
	"fmt"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/iostreams"
)

// NewCmdProfile is the `profile` command group.
func NewCmdProfile(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile <command>",
		Short: "Manage named connection profiles",
		Long: heredoc.Doc(`
			A profile is a named set of connection settings (base URL, FHIR path,
			token and authorize URLs, client id, auth type, scope) kept in the
			settings file. Choose one per command with -p/--profile or
			MEDPLUM_PROFILE, or once with "medplum profile use".

			Each setting comes from, in order: a flag, an environment variable
			(medplum help environment), the profile, the default.
			Secrets are never stored in a profile.
		`),
		Args: cobra.ArbitraryArgs,
		RunE: cmdutil.GroupRunE,
	}
	cmd.AddCommand(NewCmdList(f, nil))
	cmd.AddCommand(NewCmdSet(f, nil))
	cmd.AddCommand(NewCmdDescribe(f, nil))
	cmd.AddCommand(NewCmdRemove(f, nil))
	cmd.AddCommand(NewCmdUse(f, nil))
	return cmd
}

// NameOptions are the inputs of the commands that change one profile in the
// settings file (remove, use).
type NameOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.File, error)
	Name   string
	// Change changes the loaded settings file and returns the message for
	// stderr; the file is saved after it.
	Change func(file *config.File, name string) (string, error)
}

// newNameCmd completes cmd as a command on one profile name that applies
// change to the settings file.
func newNameCmd(f *cmdutil.Factory, cmd *cobra.Command, change func(*config.File, string) (string, error), runF func(*NameOptions) error) *cobra.Command {
	opts := &NameOptions{IO: f.IOStreams, Config: f.Config, Change: change}
	cmd.Args = cmdutil.ExactArgs(1, "a profile name")
	cmd.ValidArgsFunction = completion.FirstArg(completion.Profiles(f))
	cmd.RunE = func(_ *cobra.Command, args []string) error {
		opts.Name = args[0]
		if runF != nil {
			return runF(opts)
		}
		return nameRun(opts)
	}
	return cmd
}

func nameRun(opts *NameOptions) error {
	file, err := opts.Config()
	if err != nil {
		return err
	}
	msg, err := opts.Change(file, opts.Name)
	if err != nil {
		return err
	}
	if err := file.Save(); err != nil {
		return fmt.Errorf("saving the settings: %w", err)
	}
	fmt.Fprintln(opts.IO.ErrOut, msg)
	return nil
}
