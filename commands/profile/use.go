package profile

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/iostreams"
)

// UseOptions are the inputs of `profile use`.
type UseOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.File, error)
	Name   string
}

// NewCmdUse is `medplum profile use <name>`.
func NewCmdUse(f *cmdutil.Factory, runF func(*UseOptions) error) *cobra.Command {
	opts := &UseOptions{IO: f.IOStreams, Config: f.Config}
	cmd := &cobra.Command{
		Use:               "use <name>",
		Short:             "Make a profile the current one",
		Long:              "Make a profile the one used when neither -p/--profile nor MEDPLUM_PROFILE is given.",
		Args:              cmdutil.ExactArgs(1, "a profile name"),
		ValidArgsFunction: completion.FirstArg(completion.Profiles(f)),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return useRun(opts)
		},
	}
	return cmd
}

func useRun(opts *UseOptions) error {
	file, err := opts.Config()
	if err != nil {
		return err
	}
	if err := file.MustExist(opts.Name); err != nil {
		return err
	}
	file.Current = opts.Name
	if opts.Name == config.DefaultProfile {
		file.Current = ""
	}
	if err := file.Save(); err != nil {
		return fmt.Errorf("saving the settings: %w", err)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Now using profile %s\n", opts.Name)
	return nil
}
