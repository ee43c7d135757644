package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands"
	"github.com/medplumcli/medplum/commands/clitest"
)

// The examples output.AddFlags puts in the help of --jq and --columns fit
// the REST commands, whose output is a FHIR resource or Bundle; copied
// into any other command they fail (members list's array answered
// "expected an object but got: array" on a real server). So every other
// command that offers --jq or --columns gives its own (output.SetExamples);
// the packages' tests run them. A new command that forgets fails here.
func TestFlagExamplesFitTheirCommand(t *testing.T) {
	rest := map[string]bool{}
	for _, v := range []string{"get", "post", "put", "patch", "delete"} {
		rest["medplum "+v] = true
	}
	generic := map[string]string{"jq": "'.entry[].resource.id'", "columns": "id,display,meta.versionId"}
	checked := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for name, ex := range generic {
			f := c.Flags().Lookup(name)
			if f == nil {
				continue
			}
			checked++
			if !strings.Contains(f.Usage, "(e.g. ") {
				t.Errorf("%s --%s has no example: %q", c.CommandPath(), name, f.Usage)
			}
			if !rest[c.CommandPath()] && strings.Contains(f.Usage, ex) {
				t.Errorf("%s --%s shows the REST commands' example %s, which does not fit its output", c.CommandPath(), name, ex)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(commands.NewCmdRoot(commands.NewFactory()))
	if checked < 20 {
		t.Fatalf("only %d --jq/--columns flags found: the walk missed the tree", checked)
	}
}

// The --jq and --columns examples of the commands that need no arguments,
// copied from their --help and run against the sandbox as given: each
// --jq prints exactly what the seeded project has, and -o csv --columns
// prints those columns.
func TestFlagExamplesRun(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	// One secret and one setting, so that their examples have something to print.
	pid := srv.Seed.ProjectID
	e.RunStdin("s3cret-value\n", "project", "secrets", "set", "EXAMPLE_KEY").
		Expect(t, 0, "", "Set secret EXAMPLE_KEY in project \"Sandbox Project\" ("+pid+").\n")
	e.Run("project", "settings", "set", "exampleSetting", "on").
		Expect(t, 0, "", "Set exampleSetting = on (string) in project \"Sandbox Project\" ("+pid+").\n")
	example := func(args []string, flag string) string {
		t.Helper()
		help := e.Run(append(args, "--help")...).ExpectCode(t, 0, "")
		m := regexp.MustCompile(`(?m)--` + flag + ` .*\(e\.g\. (.*)\)$`).FindStringSubmatch(help)
		if m == nil {
			t.Fatalf("%s --help has no --%s example", strings.Join(args, " "), flag)
		}
		return strings.Trim(m[1], "'")
	}
	norm := func(s string) string {
		return strings.NewReplacer(" ", "", "_", "", "\n", "").Replace(strings.ToLower(s))
	}
	// members review prints its findings on stderr whatever the format
	// (the seeded project's: an admin client, no mfaRequired, the seeded
	// admin's server-scoped User out of a project admin's sight).
	csvStderr := map[string]string{"review": "Findings: 1 high, 1 medium, 0 low\n" +
		"  high    client-admin              Sandbox Project Admin Client  client application with admin rights\n" +
		"  medium  project-mfa-not-required  (project)                     the project's setting mfaRequired is not true: each user decides whether to enrol\n" +
		"Not checked (the data is not visible to these credentials):\n" +
		"  admin-without-mfa  1 member  server-scoped user (only a super admin can read it) or a deleted User: Medplum Admin\n" +
		"  stale-invite       1 member  server-scoped user (only a super admin can read it) or a deleted User: Medplum Admin\n" +
		"  missing-user       1 member  server-scoped user (only a super admin can read it) or a deleted User: Medplum Admin\n" +
		"4 members (2 people, 1 client, 1 bot): 2 admins, 0 deactivated, 0 invites pending, 1 unknown; 1 with values these credentials cannot read\n"}
	// What each --jq example prints, exactly: the seeded project's.
	members := ""
	for _, m := range srv.Memberships(pid) {
		members += m.ID() + "\n"
	}
	jqStdout := map[string]string{
		"members review":       "client-admin\nproject-mfa-not-required\n",
		"members list":         members,
		"clients list":         "Sandbox Project Admin Client\n",
		"bot list":             "Sandbox Bot\n",
		"profile describe":     "base_url\nfhir_url_path\ntoken_url\nauthorize_url\nclient_id\nclient_secret\naccess_token\nauth_type\nscope\napp_url\n",
		"project secrets list": "EXAMPLE_KEY\n",
		"project settings get": "exampleSetting\n",
	}
	// The commands whose text is their default: the --jq example of each.
	version := clitest.Version + "\n"
	for args, want := range map[string]string{
		"project current": pid + "\n",
		"version":         version,
	} {
		e.Run(append(strings.Fields(args), "--jq", example(strings.Fields(args), "jq"))...).Expect(t, 0, want, "")
	}
	for _, args := range [][]string{
		{"members", "review"}, {"members", "list"}, {"clients", "list"}, {"bot", "list"},
		{"profile", "describe"}, {"project", "secrets", "list"}, {"project", "settings", "get"},
	} {
		jq := example(args, "jq")
		r := e.Run(append(args, "--jq", jq)...)
		r.Expect(t, 0, jqStdout[strings.Join(args, " ")], "")
		r.NotContains(t, "s3cret-value")
		cols := example(args, "columns")
		r = e.Run(append(args, "-o", "csv", "--columns", cols)...)
		header, _, _ := strings.Cut(r.Stdout, "\n")
		if r.Code != 0 || r.Stderr != csvStderr[args[1]] || norm(header) != norm(cols) {
			t.Errorf("%s -o csv --columns %s: %+v\nwant stderr:\n%s", strings.Join(args, " "), cols, r, csvStderr[args[1]])
		}
	}
}
