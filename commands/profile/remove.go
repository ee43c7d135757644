package profile

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/iostreams"
)

// RemoveOptions are the inputs of `profile remove`.
type RemoveOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.File, error)
	Name   string
}

// NewCmdRemove is `medplum profile remove <name>`.
func NewCmdRemove(f *cmdutil.Factory, runF func(*RemoveOptions) error) *cobra.Command {
	opts := &RemoveOptions{IO: f.IOStreams, Config: f.Config}
	cmd := &cobra.Command{
		Use:               "remove <name>",
		Aliases:           []string{"rm"},
		Short:             "Remove a profile from the settings file",
		Long:              "Remove a profile from the settings file. If it was the current profile, \"default\" becomes current.",
		Args:              cmdutil.ExactArgs(1, "a profile name"),
		ValidArgsFunction: completion.FirstArg(completion.Profiles(f)),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return removeRun(opts)
		},
	}
	return cmd
}

func removeRun(opts *RemoveOptions) error {
	file, err := opts.Config()
	if err != nil {
		return err
	}
	if !file.Remove(opts.Name) {
		return config.NoSuchProfile(opts.Name)
	}
	if err := file.Save(); err != nil {
		return fmt.Errorf("saving the settings: %w", err)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Removed profile %s\n", opts.Name)
	return nil
}
