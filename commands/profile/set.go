package profile

import (
	"fmt"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/iostreams"
)

// SetOptions are the inputs of `profile set`.
type SetOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.File, error)
	Name   string
	// Changes maps setting names (base_url, ...) to new values; "" removes.
	Changes map[string]string
}

// NewCmdSet is `medplum profile set <name>`.
func NewCmdSet(f *cmdutil.Factory, runF func(*SetOptions) error) *cobra.Command {
	opts := &SetOptions{IO: f.IOStreams, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "set <name>",
		Short: "Create or update a profile",
		Long: heredoc.Doc(`
			Create the profile <name>, or update it: each setting flag given is
			stored (an empty value removes the setting); the others are kept.
			Secrets are refused: pass them at run time in MEDPLUM_CLIENT_SECRET,
			or sign in with "medplum login".
		`),
		Example: `  $ medplum profile set staging --base-url https://api.staging.example.com/ --client-id 0a1b...
  $ medplum profile set local --base-url http://localhost:8103/ --fhir-url-path fhir/R4`,
		Args:              cmdutil.ExactArgs(1, "a profile name"),
		ValidArgsFunction: completion.FirstArg(completion.Profiles(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if err := config.CheckProfileName(opts.Name); err != nil {
				return err
			}
			changes, err := changedSettings(cmd.Flags())
			if err != nil {
				return err
			}
			opts.Changes = changes
			if runF != nil {
				return runF(opts)
			}
			return setRun(opts)
		},
	}
	config.AddProfileFlags(cmd.Flags())
	return cmd
}

// changedSettings collects the setting flags given on the command line.
func changedSettings(fs *pflag.FlagSet) (map[string]string, error) {
	changes := map[string]string{}
	for _, k := range config.Keys {
		if k.Flag == "" || !fs.Changed(k.Flag) {
			continue
		}
		v, _ := fs.GetString(k.Flag)
		if err := config.CheckValue(k, v); err != nil {
			return nil, err
		}
		changes[k.Name] = v
	}
	return changes, nil
}

func setRun(opts *SetOptions) error {
	file, err := opts.Config()
	if err != nil {
		return err
	}
	p, ok := file.Profile(opts.Name)
	if !ok {
		p = &config.Profile{}
	}
	for _, k := range config.Keys {
		if v, ok := opts.Changes[k.Name]; ok {
			if err := p.Set(k.Name, v); err != nil {
				return err
			}
		}
	}
	file.Set(opts.Name, p)
	if err := file.Save(); err != nil {
		return fmt.Errorf("saving the settings: %w", err)
	}
	verb := "Updated"
	if !ok {
		verb = "Created"
	}
	fmt.Fprintf(opts.IO.ErrOut, "%s profile %s in %s\n", verb, opts.Name, file.Path())
	return nil
}
