package cmdutil

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// ExactArgs requires n arguments; otherwise a FlagError saying what is
// expected, e.g. ExactArgs(1, "a URL").
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return argError(cmd, args, what)
	}
}

// RangeArgs requires between lo and hi arguments.
func RangeArgs(lo, hi int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= lo && len(args) <= hi {
			return nil
		}
		return argError(cmd, args, what)
	}
}

func argError(cmd *cobra.Command, args []string, what string) error {
	if len(args) == 0 {
		return FlagErrorf("%s needs %s", cmd.CommandPath(), what)
	}
	return FlagErrorf("%s takes %s, got %s", cmd.CommandPath(), what, Count(len(args), "argument"))
}

// NoArgs rejects arguments.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return FlagErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// GroupRunE is the RunE of a command that only groups subcommands: bare, it
// shows its help; with an argument, it reports an unknown subcommand (cobra
// would print help and exit 0).
func GroupRunE(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &FlagError{Err: fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
	}
	return cmd.Help()
}

// ShellQuote quotes s for a POSIX shell when it needs it, for commands a
// message tells the user to run.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,/@%+=:") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
