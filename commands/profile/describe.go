package profile

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/output"
)

// DescribeOptions are the inputs of `profile describe`.
type DescribeOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.File, error)
	Flags  *pflag.FlagSet
	Name   string // "" = the profile this run would use
	Output output.Options
}

// NewCmdDescribe is `medplum profile describe [name]`.
func NewCmdDescribe(f *cmdutil.Factory, runF func(*DescribeOptions) error) *cobra.Command {
	opts := &DescribeOptions{IO: f.IOStreams, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "describe [name]",
		Short: "Show a profile's settings and where each value comes from",
		Long: `Show the settings a command would use with this profile (by default the
selected one), after flags and environment variables are applied, and where
each value comes from: flag, env (or .env), profile or default. Secrets are
never shown.`,
		Args:              cmdutil.RangeArgs(0, 1, "at most one profile name"),
		ValidArgsFunction: completion.FirstArg(completion.Profiles(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Name = args[0]
			}
			opts.Flags = cmd.Flags()
			if err := opts.Output.Check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return describeRun(opts)
		},
	}
	output.AddFlags(cmd, &opts.Output, output.Table)
	output.SetExamples(cmd, "setting,value", ".settings[].name")
	return cmd
}

// described is `profile describe -o json`.
type described struct {
	Name     string             `json:"name"`
	Current  bool               `json:"current"`
	Stored   bool               `json:"stored"`
	Settings []describedSetting `json:"settings"`
}

type describedSetting struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

// hidden stands in for a secret's value.
const hidden = "(hidden)"

func describeRun(opts *DescribeOptions) error {
	file, err := opts.Config()
	if err != nil {
		return err
	}
	name := opts.Name
	if name == "" {
		if name, err = file.SelectProfile(opts.Flags); err != nil {
			return err
		}
	} else if err := file.MustExist(name); err != nil {
		return err
	}
	r, err := file.Resolve(name, opts.Flags)
	if err != nil {
		return err
	}
	_, stored := file.Profile(name)
	d := described{Name: name, Current: name == file.Current || (file.Current == "" && name == config.DefaultProfile), Stored: stored}
	rows := output.Rows{Default: []string{"setting", "value", "source"}, Known: []string{"setting", "value", "source"}}
	for _, v := range r.Values {
		val := v.Value
		if v.Key.Secret && val != "" {
			val = hidden
		}
		d.Settings = append(d.Settings, describedSetting{Name: v.Key.Name, Value: val, Source: v.Source})
		rows.Records = append(rows.Records, output.MapRecord{"setting": v.Key.Name, "value": val, "source": v.Origin()})
	}
	switch opts.Output.Format {
	case output.JSON, output.YAML:
		return opts.Output.WriteData(opts.IO, d)
	case output.NDJSON:
		return output.WriteCompact(opts.IO.Out, d)
	}
	return opts.Output.WriteRows(opts.IO, rows)
}
