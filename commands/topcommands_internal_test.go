package commands

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/iostreams"
)

// The stubs help and completion list are the commands Build makes: same
// name, aliases and one-line help; and every top-level command is one of
// TopCommands (a command added to the root some other way would be missing
// from the stubs' listing).
func TestTopCommandsMatch(t *testing.T) {
	f := NewFactory()
	f.IOStreams, _, _, _ = iostreams.Test()
	builtins := []string{"help", "completion"}
	full := NewCmdRoot(f)
	all := append(slices.Clone(TopCommands), HelpTopics...)
	for _, c := range full.Commands() {
		if slices.Contains(builtins, c.Name()) {
			continue
		}
		i := slices.IndexFunc(all, func(tc TopCommand) bool { return tc.Name == c.Name() })
		if i < 0 {
			t.Errorf("command %q is not in TopCommands or HelpTopics", c.Name())
			continue
		}
		if topic := slices.ContainsFunc(HelpTopics, func(tc TopCommand) bool { return tc.Name == c.Name() }); topic != c.IsAdditionalHelpTopicCommand() {
			t.Errorf("%q: in HelpTopics %v, a help topic %v", c.Name(), topic, c.IsAdditionalHelpTopicCommand())
		}
		tc := all[i]
		if c.Short != tc.Short || !slices.Equal(c.Aliases, tc.Aliases) || c.Hidden != tc.Hidden {
			t.Errorf("TopCommands says %q %q %q (hidden %v); the command is %q %q %q (hidden %v)",
				tc.Name, tc.Aliases, tc.Short, tc.Hidden, c.Name(), c.Aliases, c.Short, c.Hidden)
		}
	}
	for _, tc := range all {
		if c, _, err := full.Find([]string{tc.Name}); err != nil || c.Name() != tc.Name {
			t.Errorf("TopCommands has %q, the tree does not", tc.Name)
		}
	}
}

// NewCmdRootFor builds the command the arguments name, after global flags,
// after help and in a completion request, and nothing else: the others are
// stubs.
func TestNewCmdRootForBuildsOnlyTheNamedCommand(t *testing.T) {
	f := NewFactory()
	f.IOStreams, _, _, _ = iostreams.Test()
	for args, want := range map[string][]string{
		"--version":                           nil,
		"help":                                nil,
		"completion bash":                     nil,
		"-p staging --base-url x get Patient": {"get"},
		"help members list":                   {"members"},
		"__complete members l":                {"members"},
		"__complete mem":                      nil,
		"member ls":                           {"members"},
		"nosuch":                              nil,
		"help environment":                    {"environment"},
	} {
		var built []string
		for _, c := range NewCmdRootFor(f, strings.Fields(args)).Commands() {
			if slices.ContainsFunc(TopCommands, func(tc TopCommand) bool { return tc.Name == c.Name() }) && !c.DisableFlagParsing ||
				c.Long != "" && slices.ContainsFunc(HelpTopics, func(tc TopCommand) bool { return tc.Name == c.Name() }) {
				built = append(built, c.Name())
			}
		}
		if !slices.Equal(built, want) {
			t.Errorf("%s: built %q, want %q", args, built, want)
		}
	}
}

// cobra's completion command is built only when the arguments name it; the
// stub that stands for it otherwise lists the same name and one-line help.
func TestCompletionStubMatches(t *testing.T) {
	f := NewFactory()
	f.IOStreams, _, _, _ = iostreams.Test()
	completionOf := func(root interface {
		Find([]string) (*cobra.Command, []string, error)
	}) *cobra.Command {
		c, _, err := root.Find([]string{"completion"})
		if err != nil || c.Name() != "completion" {
			t.Fatalf("no completion command: %v", err)
		}
		return c
	}
	real := completionOf(NewCmdRoot(f))
	if real.Short != completionShort || len(real.Commands()) != 4 {
		t.Errorf("cobra's completion command: %q, %d subcommands; the stub says %q", real.Short, len(real.Commands()), completionShort)
	}
	for args, built := range map[string]bool{
		"--version": false, "--help": false, "get Patient": false, "__complete ": false, "help": false,
		"completion bash": true, "completion": true, "help completion": true, "__complete completion b": true,
	} {
		c := completionOf(NewCmdRootFor(f, strings.Fields(args)))
		if got := len(c.Commands()) == 4 && c.Short == real.Short; got != built {
			t.Errorf("%q: completion built %v, want %v", args, got, built)
		}
		if c.Short != completionShort || c.Hidden {
			t.Errorf("%q: completion listed as %q (hidden %v)", args, c.Short, c.Hidden)
		}
	}
}

// Every command's argument check answers a wrong number of arguments with a
// usage error: exit 2 and the "Run '... --help' for usage." hint (cobra's
// own MinimumNArgs and the like answer exit 1 with no hint).
func TestEveryCommandsArgumentCountIsAUsageError(t *testing.T) {
	f := NewFactory()
	f.IOStreams, _, _, _ = iostreams.Test()
	var walk func(c *cobra.Command)
	checked := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Args == nil || !c.Runnable() {
			return
		}
		checked++
		for _, n := range []int{0, 1, 2, 3, 50} {
			args := make([]string, n)
			for i := range args {
				args[i] = fmt.Sprintf("arg%d", i)
			}
			err := c.Args(c, args)
			if err == nil {
				continue
			}
			if code, h := exitCode(err), hint(c, err, nil); code != cmdutil.ExitUsage || h != "Run '"+c.CommandPath()+" --help' for usage." {
				t.Errorf("%s with %d arguments: %q, exit %d, hint %q", c.CommandPath(), n, err, code, h)
			}
		}
	}
	walk(NewCmdRoot(f))
	if checked < 40 {
		t.Errorf("only %d commands checked", checked)
	}
}
