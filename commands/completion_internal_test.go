package commands

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/medplumcli/medplum/commands/iostreams"
)

// namedFlags are the flags whose value names a thing the shell can offer:
// an access policy, a project, a bot, a client, a profile, a resource or
// profile type. Each, wherever the tree grows it, has a completion.
var namedFlags = []string{"access-policy", "access", "project", "bot", "client", "profile", "save-profile",
	"types", "type", "exclude-type", "role"}

// namedArgs are the arguments (as Use writes them) that name such a thing:
// a command taking one completes it, not with nothing.
var namedArgs = []string{"<bot>", "<client>", "<member>", "<url>", "<name>...", "<project-id>"}

// A flag or argument above without a completion would complete file
// names (cobra's default), or nothing: the tree keeps them all completed.
func TestNamedFlagsAndArgsComplete(t *testing.T) {
	f := NewFactory()
	f.IOStreams, _, _, _ = iostreams.Test()
	root := NewCmdRoot(f)
	noFiles := reflect.ValueOf(cobra.NoFileCompletions).Pointer()
	var flags, args int
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			if !slices.Contains(namedFlags, fl.Name) {
				return
			}
			flags++
			if _, ok := c.GetFlagCompletionFunc(fl.Name); !ok {
				t.Errorf("%s --%s has no completion", c.CommandPath(), fl.Name)
			}
		})
		for _, a := range namedArgs {
			if strings.Contains(c.Use, a) {
				args++
				if c.ValidArgsFunction == nil || reflect.ValueOf(c.ValidArgsFunction).Pointer() == noFiles {
					t.Errorf("%s: %s has no completion", c.CommandPath(), a)
				}
			}
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	// The walk saw the tree: the flags and arguments above are many.
	if flags < 30 || args < 15 {
		t.Errorf("walked %d named flags and %d named arguments: is the tree built?", flags, args)
	}
}
