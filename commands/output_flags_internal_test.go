package commands

import (
	"reflect"
	"slices"
	"testing"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/iostreams"
)

// printsNoJSON are the runnable commands without the output flags (-o,
// --jq, --template: output.AddFlags), each with the reason it has nothing
// a script would filter as JSON on stdout. Any other runnable command has
// them (issue 12: --jq and --template "on every command that prints JSON").
var printsNoJSON = map[string]string{
	// A YAML project file for apply -f, streamed member by member; its
	// format is apply's, not a document of the server's.
	"medplum apply export": "writes apply's YAML file",
	// The resources go to NDJSON files (one per type); stdout names the
	// files as they are written, stderr shows progress.
	"medplum bulk export": "writes NDJSON files",
	// One line per Bundle sent (counts) on stdout; what became of each
	// line goes to --report FILE (JSON lines or CSV) and the id map.
	"medplum bulk import": "prints per-Bundle counts; --report has the rows",
	// An action: it says what it did on stderr and prints nothing on stdout.
	"medplum clients delete": "an action, says what it did on stderr",
	// Sign-in: messages on stderr (the browser URL, the project chosen).
	"medplum login":  "signs in, messages on stderr",
	"medplum logout": "signs out, messages on stderr",
	// One line on stdout: the set-password link, a secret, printed alone so
	// that $(medplum members invite-link x) is the link; a document would
	// only wrap it.
	"medplum members invite-link": "prints the link alone (a secret)",
	// Bulk actions: one line per member and a summary, on stderr.
	"medplum members remove": "an action, reports on stderr",
	// An action: the server answers the same whatever happened (auth/resetpassword).
	"medplum members reset-password": "an action, says what it did on stderr",
	// Profiles: actions on the settings file, messages on stderr
	// (profile list and describe have the flags).
	"medplum profile import": "an action on the settings file",
	"medplum profile remove": "an action on the settings file",
	"medplum profile set":    "an action on the settings file",
	"medplum profile use":    "an action on the settings file",
	// Secrets: values are read from stdin and never printed (secrets list,
	// which prints names, has the flags).
	"medplum project secrets set":   "an action; the value is never printed",
	"medplum project secrets unset": "an action",
	// Settings: actions (settings get has the flags).
	"medplum project settings set":   "an action, says what it did on stderr",
	"medplum project settings unset": "an action, says what it did on stderr",
	// Sign-in to another project: messages on stderr.
	"medplum project switch": "signs in, messages on stderr",
	// The access token alone, for $(medplum token); a secret.
	"medplum token": "prints the token alone (a secret)",
}

// Every runnable command either has the output flags or is in printsNoJSON
// with its reason: a new command that prints JSON cannot forget --jq.
func TestEveryCommandHasOutputFlagsOrSaysWhyNot(t *testing.T) {
	f := NewFactory()
	f.IOStreams, _, _, _ = iostreams.Test()
	root := NewCmdRoot(f)
	group := reflect.ValueOf(cmdutil.GroupRunE).Pointer()
	seen := map[string]bool{}
	var with int
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, s := range c.Commands() {
			walk(s)
		}
		path := c.CommandPath()
		// Groups (their help), and cobra's own: help and the completion
		// scripts (shell code).
		if !c.Runnable() || reflect.ValueOf(c.RunE).Pointer() == group || c.IsAdditionalHelpTopicCommand() || c.Name() == "help" || slices.Contains([]string{"completion", "__complete", "__completeNoDesc"}, c.Name()) ||
			c.Parent() != nil && c.Parent().Name() == "completion" {
			return
		}
		seen[path] = true
		flags := c.LocalFlags()
		has := flags.Lookup("output") != nil && flags.Lookup("jq") != nil && flags.Lookup("template") != nil
		reason, listed := printsNoJSON[path]
		switch {
		case has && listed:
			t.Errorf("%s has the output flags and is listed as printing no JSON (%s): take it off the list", path, reason)
		case !has && !listed:
			t.Errorf("%s has no --jq, --template and -o (output.AddFlags): give it them if it prints JSON, or list it in printsNoJSON with the reason", path)
		case has:
			with++
		}
	}
	walk(root)
	for path := range printsNoJSON {
		if !seen[path] {
			t.Errorf("printsNoJSON lists %s, which is not a runnable command", path)
		}
	}
	// The walk saw the tree.
	if with < 30 {
		t.Errorf("only %d commands with the output flags: is the tree built?", with)
	}
}
