package bot_test

import (
	"regexp"
	"slices"
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

// The --jq and --columns examples in each bot command's --help fit what the
// command prints: run as given, they print what they say.
func TestOutputFlagExamplesWork(t *testing.T) {
	p := newProject(t, "alpha")
	write(t, p.e, map[string]string{"dist/alpha.js": "exports.handler = async () => 'alpha v2';\n"})
	example := func(args []string, flag string) string {
		t.Helper()
		help := p.e.Run(append(slices.Clone(args), "--help")...).ExpectCode(t, 0, "")
		m := regexp.MustCompile(`(?m)--` + flag + ` .*\(e\.g\. (.*)\)$`).FindStringSubmatch(help)
		if m == nil {
			t.Fatalf("%s --help has no --%s example:\n%s", strings.Join(args, " "), flag, help)
		}
		return strings.Trim(m[1], "'")
	}
	// The time a bot was deployed is the server's: shown as <time>.
	stamp := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z`)
	for _, c := range []struct {
		args           []string
		flag           string
		stdout, stderr string
	}{
		{[]string{"bot", "list"}, "jq", "Sandbox Bot\nalpha\n", ""},
		{[]string{"bot", "list", "-o", "csv", "--columns"}, "columns", "name,deployed,config\nSandbox Bot,never,\nalpha,<time>,alpha\n", ""},
		{[]string{"bot", "get", "alpha"}, "jq", p.ids["alpha"] + "\n", ""},
		{[]string{"bot", "deploy", "alpha", "--force"}, "jq", "", "1 bot: 1 deployed.\n"}, // nothing failed
		{[]string{"bot", "create", "beta", "--no-write-config"}, "jq", "-",
			"Created bot \"beta\" (Bot/<beta>) in project \"" + p.srv.Seed.ProjectName + "\" (" + p.srv.Seed.ProjectID + ").\n"},
	} {
		ex := example(slices.Clone(c.args[:2]), c.flag)
		args := slices.Clone(c.args)
		if c.flag == "jq" {
			args = append(args, "--jq")
		}
		args = append(args, ex)
		r := p.e.Run(args...)
		if c.stdout == "-" { // the new bot's id
			beta := strings.TrimSpace(p.e.Run("bot", "get", "beta", "-o", "json", "--jq", ".id").Stdout)
			c.stdout, c.stderr = beta+"\n", strings.ReplaceAll(c.stderr, "<beta>", beta)
		}
		r.Stdout = stamp.ReplaceAllString(r.Stdout, "<time>")
		r.Expect(t, 0, c.stdout, c.stderr)
	}
}
