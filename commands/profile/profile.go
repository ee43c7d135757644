// Package profile is `medplum profile`: named connection settings kept in
// the settings file (list, set, describe, remove, use).
package profile

import (
	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
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
