// Package projectcmd is `medplum project ...`, the official CLI's project
// commands.
package projectcmd

import (
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/authcmd"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/invite"
	"github.com/medplumcli/medplum/commands/projectadmin"
)

// NewCmdProject is the `medplum project` group.
func NewCmdProject(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "project <command>",
		Short: "Work with projects",
		Args:  cobra.ArbitraryArgs,
		RunE:  cmdutil.GroupRunE,
	}
	// `project invite` is the official CLI's spelling of `medplum invite`.
	cmd.AddCommand(invite.NewCmdInvite(f, nil))
	cmd.AddCommand(projectadmin.NewCmds(f)...) // create, settings, secrets
	// list, current, switch: the projects of a person's sign-in.
	cmd.AddCommand(authcmd.NewCmdProjectList(f, nil), authcmd.NewCmdProjectCurrent(f, nil), authcmd.NewCmdProjectSwitch(f, nil))
	return cmd
}
