// Package commands is the Cobra command tree of the medplum CLI: what the user
// types, how results are shown, and how errors become exit codes.
package commands

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/config"
)

// Main runs the CLI with os.Args and returns the process exit code. Ctrl-C
// (or SIGTERM) cancels the context every request runs under; the run then
// ends with exit code 130. A second Ctrl-C kills the process at once.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore default signal handling for a second Ctrl-C
	}()

	f := NewFactory()
	// As the official CLI, read ./.env first (config.LoadDotenv).
	if _, err := config.LoadDotenv(); err != nil {
		fmt.Fprintf(f.IOStreams.ErrOut, "medplum: warning: %v\n", err)
	}
	root := NewCmdRoot(f)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return cmdutil.ExitOK
	}
	if ctx.Err() != nil {
		fmt.Fprintln(f.IOStreams.ErrOut, "medplum: interrupted")
		return cmdutil.ExitInterrupted
	}
	return reportError(f.IOStreams.ErrOut, cmd, err)
}
