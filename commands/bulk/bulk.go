// Package bulk is `medplum bulk`: the official CLI's bulk export (FHIR Bulk
// Data $export, downloaded to NDJSON files) and bulk import (NDJSON files
// sent as Bundles), made resumable, parallel and safe with the secrets an
// export holds; an import rewrites the references of what it moves.
package bulk

import (
	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
)

// NewCmdBulk is the `bulk` command group.
func NewCmdBulk(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bulk <command>",
		Short: "Export a project's data to NDJSON files and import them (FHIR Bulk Data)",
		Long: heredoc.Doc(`
			Move a project's data in bulk. bulk export runs the server's FHIR
			Bulk Data $export and downloads its NDJSON files, with the official
			CLI's flags and file names; bulk import creates the resources of
			NDJSON files in the project, with their references rewritten to the
			new ids.
		`),
		Args: cobra.ArbitraryArgs,
		RunE: cmdutil.GroupRunE,
	}
	cmd.AddCommand(NewCmdExport(f, nil))
	cmd.AddCommand(NewCmdImport(f, nil))
	return cmd
}
