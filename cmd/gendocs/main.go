// Command gendocs writes the command reference from the real command tree:
// Markdown pages (docs/commands, kept in the repository and checked by a
// test), man pages and shell completion scripts (for release archives).
//
//	go run ./cmd/gendocs                                  # docs/commands (make docs)
//	go run ./cmd/gendocs -markdown '' -man DIR -completions DIR
//
// Man pages carry the date of SOURCE_DATE_EPOCH when it is set (releases set
// it to the commit time), so a release can be rebuilt byte for byte.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands"
	"github.com/medplumcli/medplum/commands/iostreams"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
}

type options struct {
	markdown    string
	man         string
	completions string
}

func run(args []string, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("gendocs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.markdown, "markdown", "docs/commands", "directory for the Markdown reference (\"\" to skip)")
	fs.StringVar(&o.man, "man", "", "directory for man pages (section 1)")
	fs.StringVar(&o.completions, "completions", "", "directory for bash, zsh, fish and PowerShell completion scripts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.markdown == "" && o.man == "" && o.completions == "" {
		return errors.New("nothing to do: give -markdown, -man or -completions a directory")
	}
	if o.markdown != "" {
		if err := writeMarkdown(newRoot(), o.markdown); err != nil {
			return err
		}
	}
	if o.man != "" {
		if err := writeMan(newRoot(), o.man); err != nil {
			return err
		}
	}
	if o.completions != "" {
		if err := writeCompletions(newRoot(), o.completions); err != nil {
			return err
		}
	}
	return nil
}

// newRoot builds the command tree the binary runs, on streams that lead
// nowhere, with the --version flag cobra adds only when it executes
// (NewCmdRoot makes the completion command itself). Each generator gets a
// fresh tree because the generators themselves add cobra's help command and
// flag as they go.
func newRoot() *cobra.Command {
	f := commands.NewFactory()
	f.IOStreams, _, _, _ = iostreams.Test()
	root := commands.NewCmdRoot(f)
	root.DisableAutoGenTag = true
	root.InitDefaultVersionFlag()
	return root
}
