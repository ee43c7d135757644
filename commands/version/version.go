// Package version holds the build's version, commit and date (stamped with
// -ldflags -X by the Makefile and release builds) and the `version` command.
package version

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/output"
)

// Stamped at build time: -X github.com/medplumcli/medplum/commands/version.Version=v1.2.3
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

// Info returns version, commit and date. Without ldflags (go install), it
// falls back to the module version and VCS data Go records in the binary.
func Info() (version, commit, date string) {
	version, commit, date = Version, Commit, Date
	if version == "" || commit == "" || date == "" { // a release build sets all three: no build info to parse
		version, commit, date = fromBuildInfo(version, commit, date)
	}
	if version == "" {
		version = "dev"
	}
	if commit == "" {
		commit = "unknown"
	}
	if date == "" {
		date = "unknown"
	}
	return version, commit, date
}

// fromBuildInfo fills what the linker flags left empty from the module's
// build info (go install, a build from a git checkout).
func fromBuildInfo(version, commit, date string) (string, string, string) {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && commit == "":
				commit = s.Value[:min(len(s.Value), 12)]
			case s.Key == "vcs.time" && date == "":
				date = s.Value
			}
		}
	}
	return version, commit, date
}

// String is the one-line version shown by `medplum version` and --version.
func String() string {
	v, c, d := Info()
	return fmt.Sprintf("medplum %s (commit %s, built %s)", v, c, d)
}

// Options are the inputs of `medplum version`.
type Options struct {
	Output output.Options
}

// NewCmdVersion is `medplum version`.
func NewCmdVersion(f *cmdutil.Factory) *cobra.Command {
	opts := &Options{}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the version, commit and build date",
		Long: `Show the version, commit and build date as one line; -o json (or yaml,
--jq, --template) prints them as {"version", "commit", "date"}.`,
		Example: `  $ medplum version
  $ medplum version --jq .version`,
		Args: cmdutil.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := opts.Output.Check(); err != nil {
				return err
			}
			if opts.Output.Document() {
				v, c, d := Info()
				return opts.Output.WriteData(f.IOStreams, struct {
					Version string `json:"version"`
					Commit  string `json:"commit"`
					Date    string `json:"date"`
				}{v, c, d})
			}
			_, err := fmt.Fprintln(f.IOStreams.Out, String())
			return err
		},
	}
	output.AddFlags(cmd, &opts.Output, output.Text, output.Text, output.JSON, output.YAML)
	output.SetExamples(cmd, "", ".version")
	return cmd
}
