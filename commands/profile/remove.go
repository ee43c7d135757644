package profile

import (
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/config"
)

// NewCmdRemove is `medplum profile remove <name>`.
func NewCmdRemove(f *cmdutil.Factory, runF func(*NameOptions) error) *cobra.Command {
	return newNameCmd(f, &cobra.Command{
		Use:     "remove <name>",
		Aliases: []string{"rm"},
		Short:   "Remove a profile from the settings file",
		Long:    "Remove a profile from the settings file. If it was the current profile, \"default\" becomes current.",
	}, func(file *config.File, name string) (string, error) {
		if !file.Remove(name) {
			return "", config.NoSuchProfile(name)
		}
		return "Removed profile " + name, nil
	}, runF)
}
