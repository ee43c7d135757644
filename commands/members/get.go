package members

import (
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/membership"
)

// GetOptions are the inputs of `members get`.
type GetOptions struct {
	memberOptions
}

// NewCmdGet is `medplum members get <member>`.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	opts := &GetOptions{memberOptions{common: newCommon(f)}}
	return opts.bind(f, &cobra.Command{
		Use:   "get <member>",
		Short: "Show one member",
		Long: "Show one member, read through admin/projects/<project>/members/<id>\n" +
			"(-o json prints the server's answer).\n\n" + membership.SelectorHelp,
		Example: `  $ medplum members get homer@example.com
  $ medplum members get Patient/123 -o json`,
	}, func() error {
		if runF != nil {
			return runF(opts)
		}
		return getRun(opts)
	})
}

func getRun(o *GetOptions) error {
	_, _, d, err := o.resolve(o.Member)
	if err != nil {
		return err
	}
	return membership.Print(o.IO, &o.Output, []client.Doc{d}, true, membership.ListTable)
}
