package profile

import (
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/config"
)

// NewCmdUse is `medplum profile use <name>`.
func NewCmdUse(f *cmdutil.Factory, runF func(*NameOptions) error) *cobra.Command {
	return newNameCmd(f, &cobra.Command{
		Use:   "use <name>",
		Short: "Make a profile the current one",
		Long:  "Make a profile the one used when neither -p/--profile nor MEDPLUM_PROFILE is given.",
	}, func(file *config.File, name string) (string, error) {
		if err := file.MustExist(name); err != nil {
			return "", err
		}
		file.Current = name
		if name == config.DefaultProfile {
			file.Current = ""
		}
		return "Now using profile " + name, nil
	}, runF)
}
