package commands

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
)

// reportError prints err once on w as "medplum: <message>", then a hint if
// one helps, and returns the exit code (see `medplum help exit-codes`).
func reportError(w io.Writer, cmd *cobra.Command, err error) int {
	code := exitCode(err)
	if cmdutil.IsSilent(err) {
		return code
	}
	fmt.Fprintf(w, "medplum: %s\n", strings.TrimRight(err.Error(), "\n"))
	if h := hint(cmd, err); h != "" {
		fmt.Fprintln(w, h)
	}
	return code
}

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	var coder cmdutil.ExitCoder
	switch {
	case errors.As(err, &coder):
		return coder.ExitCode()
	case isUnknownCommand(err):
		return cmdutil.ExitUsage
	}
	return cmdutil.ExitFailure
}

func hint(cmd *cobra.Command, err error) string {
	var h cmdutil.Hinter
	if errors.As(err, &h) && h.Hint() != "" {
		return h.Hint()
	}
	var fe *cmdutil.FlagError
	if errors.As(err, &fe) || isUnknownCommand(err) {
		path := "medplum"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		return fmt.Sprintf("Run '%s --help' for usage.", path)
	}
	return ""
}

// isUnknownCommand recognises cobra's error for `medplum nosuchcommand`.
func isUnknownCommand(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ")
}
