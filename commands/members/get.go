package members

import (
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/output"
)

// GetOptions are the inputs of `members get`.
type GetOptions struct {
	common
	Member string
	Output output.Options
}

// NewCmdGet is `medplum members get <member>`.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	opts := &GetOptions{common: newCommon(f)}
	cmd := &cobra.Command{
		Use:   "get <member>",
		Short: "Show one member",
		Long: "Show one member, read through admin/projects/<project>/members/<id>\n" +
			"(-o json prints the server's answer).\n\n" + membership.SelectorHelp,
		Example: `  $ medplum members get homer@example.com
  $ medplum members get Patient/123 -o json`,
		Args:              memberArg,
		ValidArgsFunction: completion.Members(f),
		RunE: func(c *cobra.Command, args []string) error {
			if err := opts.prepare(c); err != nil {
				return err
			}
			opts.Member = args[0]
			if err := opts.Output.Check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return getRun(opts)
		},
	}
	opts.addProjectFlag(cmd)
	addOutputFlags(cmd, &opts.Output)
	return cmd
}

func getRun(o *GetOptions) error {
	_, _, d, err := o.resolve(o.Member)
	if err != nil {
		return err
	}
	return membership.Print(o.IO, &o.Output, []client.Doc{d}, true, membership.ListColumns)
}
