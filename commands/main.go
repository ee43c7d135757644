// Package commands is the Cobra command tree of the medplum CLI: what the user
// types, how results are shown, and how errors become exit codes.
package commands

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// Main runs the CLI with os.Args and returns the process exit code.
func Main() int {
	root := &cobra.Command{
		Use:           "medplum",
		Short:         "Administer Medplum projects and users from a terminal",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	if err := root.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "medplum: %v\n", err)
		return 1
	}
	return 0
}
