package bot_test

import (
	"strings"
	"testing"

	"github.com/medplumcli/medplum/commands/clitest"
)

// The output flags a command offers all work: save, deploy and create
// print text, json, yaml or ndjson, so they have no --columns or
// --no-header (table and csv only).
func TestOutputFlagsOfferedWork(t *testing.T) {
	e := clitest.New(t)
	for _, args := range [][]string{{"bot", "deploy"}, {"bot", "save"}, {"bot", "create"}} {
		help := e.Run(append(args, "--help")...).ExpectCode(t, 0, "")
		for _, flag := range []string{"--columns", "--no-header"} {
			if strings.Contains(help, flag) {
				t.Errorf("%s --help offers %s", strings.Join(args, " "), flag)
			}
		}
		e.Run(append(args, "x", "--columns", "name")...).Expect(t, 2, "",
			"medplum: unknown flag: --columns\nRun 'medplum "+strings.Join(args, " ")+" --help' for usage.\n")
	}
	// list and get have tables: the flags are there and work.
	if help := e.Run("bot", "list", "--help").Stdout; !strings.Contains(help, "--columns") || !strings.Contains(help, "--no-header") {
		t.Errorf("bot list --help lacks --columns or --no-header:\n%s", help)
	}
}
