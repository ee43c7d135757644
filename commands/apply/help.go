package apply

import (
	_ "embed"
	"fmt"

	"github.com/spf13/cobra"
)

// Example is the commented example of the file format, printed by
// `medplum help apply-file`. testdata/apply/project.yaml is the same file (a
// test keeps the two equal and applies it).
//
//go:embed example.yaml
var Example string

// NewHelpTopic is `medplum help apply-file`.
func NewHelpTopic() *cobra.Command {
	c := &cobra.Command{
		Use:   "apply-file",
		Short: "The project file of medplum apply, as a commented example",
		Long:  Example,
	}
	c.SetHelpFunc(func(c *cobra.Command, _ []string) { fmt.Fprint(c.OutOrStdout(), c.Long) })
	return c
}
