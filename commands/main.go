// Package commands is the Cobra command tree of the medplum CLI: what the user
// types, how results are shown, and how errors become exit codes.
package commands

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/internal/onecpu"
)

// Main runs the CLI with os.Args and returns the process exit code. Ctrl-C
// (or SIGTERM) cancels the context every request runs under; once the run
// has cleaned up and said so, the process ends by that signal (on Unix:
// endBy), so that the shell that ran it stops its loop or script too; a
// shell's $? is 130 (143 for SIGTERM), and 130 is returned where a process
// cannot end by a signal. A second Ctrl-C kills the process at once.
// Signals are watched from when a command starts running (the root's
// PersistentPreRunE): --version and --help end before, and start no
// goroutine or thread for it. The process starts on one CPU (package
// onecpu) and gets every CPU back there too, unless the command is marked
// one at a time (cmdutil.MarkOneAtATime: the REST commands), which keeps
// one CPU and no handler: Ctrl-C ends it at once, by the signal.
func Main() int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	f := NewFactory()
	// As the official CLI, read ./.env first (config.LoadDotenv).
	if _, err := config.LoadDotenv(); err != nil {
		fmt.Fprintf(f.IOStreams.ErrOut, "medplum: warning: %v\n", err)
	}
	root := NewCmdRootFor(f, os.Args[1:])
	var got atomic.Value // the signal that interrupted the run
	watch := watchInterrupts(func(sig os.Signal, endBySignal bool) {
		if endBySignal {
			got.Store(sig)
		}
		cancel()
	})
	pre := root.PersistentPreRunE
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		beforeRun(cmd, onecpu.AllCPUs, watch)
		return pre(cmd, args)
	}
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return cmdutil.ExitOK
	}
	if ctx.Err() != nil {
		fmt.Fprintln(f.IOStreams.ErrOut, "medplum: interrupted")
		// How to go on (bulk export: run it again to resume).
		var h interface{ Hint() string }
		if errors.As(err, &h) && h.Hint() != "" {
			fmt.Fprintln(f.IOStreams.ErrOut, h.Hint())
		}
		if sig, ok := got.Load().(os.Signal); ok {
			endBy(sig)
		}
		return cmdutil.ExitInterrupted
	}
	return reportError(f.IOStreams.ErrOut, cmd, err, f.Resolved)
}

// beforeRun gives the command that is about to run every CPU and the
// Ctrl-C handler, unless it is marked one at a time (and the process can
// end by a signal: endsBySignal).
func beforeRun(cmd *cobra.Command, allCPUs, watch func()) {
	if cmdutil.OneAtATime(cmd) && endsBySignal {
		return
	}
	allCPUs()
	watch()
}

// watchInterrupts returns a function that, called once or more, starts
// relaying the first Ctrl-C or SIGTERM to interrupted; after it, the
// signals' default action is back (a second Ctrl-C kills at once).
// endBySignal is false for a signal the process started with ignored (a
// background job of a script): its default action is then to be ignored
// again, so the run cannot end by it and exits 130.
func watchInterrupts(interrupted func(sig os.Signal, endBySignal bool)) func() {
	return sync.OnceFunc(func() {
		ignored := map[os.Signal]bool{os.Interrupt: signal.Ignored(os.Interrupt), syscall.SIGTERM: signal.Ignored(syscall.SIGTERM)}
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		go func() {
			sig := <-ch
			signal.Stop(ch)
			interrupted(sig, !ignored[sig])
		}()
	})
}
