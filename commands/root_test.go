package commands_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/commands/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m) }

func TestVersion(t *testing.T) {
	e := clitest.New(t)
	e.Run("version").Expect(t, 0, clitest.VersionLine+"\n", "")
	e.Run("--version").Expect(t, 0, clitest.VersionLine+"\n", "")
	// -o json|yaml, --jq and --template: the same three values.
	e.Run("version", "-o", "json").Expect(t, 0, "{\n  \"version\": \""+clitest.Version+"\",\n  \"commit\": \""+clitest.Commit+"\",\n  \"date\": \""+clitest.Date+"\"\n}\n", "")
	e.Run("version", "--jq", ".version").Expect(t, 0, clitest.Version+"\n", "")
	e.Run("version", "--template", "{{.commit}}").Expect(t, 0, clitest.Commit, "")
	e.Run("version", "-o", "yaml").Expect(t, 0, "version: "+clitest.Version+"\ncommit: "+clitest.Commit+"\ndate: \""+clitest.Date+"\"\n", "")
	e.Run("version", "--jq", ".version |").Expect(t, 2, "", "medplum: invalid --jq expression \".version |\": unexpected EOF at column 11 (the end)\n")
}

// A settings file that cannot be parsed proves that help, version and
// completion never read it: they would fail if they did.
func TestHelpVersionCompletionNeverReadConfig(t *testing.T) {
	e := clitest.New(t)
	if err := os.MkdirAll(e.ConfigDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.ConfigDir, "config.yaml"), []byte("profiles: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.Set("MEDPLUM_BASE_URL", "not a url")
	for _, args := range [][]string{
		{"version"}, {"--help"}, {"help"}, {"help", "exit-codes"}, {"profile", "--help"},
		{"completion", "bash"}, {"completion", "zsh"}, {"completion", "fish"}, {"completion", "powershell"},
	} {
		r := e.Run(args...)
		if r.Code != 0 || r.Stderr != "" || r.Stdout == "" {
			t.Errorf("medplum %s: code %d, stderr %q, %d bytes of stdout", strings.Join(args, " "), r.Code, r.Stderr, len(r.Stdout))
		}
	}
	r := e.Run("profile", "list")
	if r.Code != 2 || !strings.HasPrefix(r.Stderr, "medplum: "+filepath.Join(e.ConfigDir, "config.yaml")+": yaml: line") {
		t.Errorf("profile list with a broken file: code %d, stderr %q", r.Code, r.Stderr)
	}
}

func TestCompletionScripts(t *testing.T) {
	e := clitest.New(t)
	for shell, marker := range map[string]string{
		"bash":       "# bash completion V2 for medplum",
		"zsh":        "#compdef medplum",
		"fish":       "# fish completion for medplum",
		"powershell": "# powershell completion for medplum",
	} {
		r := e.Run("completion", shell)
		if r.Code != 0 || r.Stderr != "" || !strings.HasPrefix(r.Stdout, marker) {
			t.Errorf("completion %s: code %d stderr %q stdout starts %q", shell, r.Code, r.Stderr, r.Stdout[:min(len(r.Stdout), 40)])
		}
	}
}

func TestHelpTopics(t *testing.T) {
	e := clitest.New(t)
	e.Run("help", "exit-codes").Expect(t, 0, `medplum exits with one of these codes:

  0    success
  1    the request failed (server error, network, unexpected answer)
  2    invalid usage or input; nothing was sent
  3    a bulk run finished with some rows failed (invite --csv, bot deploy, bulk import)
  4    not signed in, or the server rejected the credentials (401)
  5    permission denied (403)
  6    apply --dry-run, bot deploy --dry-run: changes are pending; members review --fail-on: findings
  7    members review --fail-on: no finding, but a rule at or above the gate could not be checked for some member (--allow-unchecked accepts it)
  130  interrupted (Ctrl-C): medplum ends by the signal itself, so a shell shows 130 and stops its loop (SIGTERM: 143)

Errors are printed once on stderr as "medplum: <message>", sometimes
followed by a hint such as "run: medplum login". Data goes to stdout.

On Ctrl-C a REST command (get, post, put, patch, delete) ends at once
without a word, as curl does; every other command first prints
"medplum: interrupted" and, where there is one, how to resume.
`, "")
	out := e.Run("help", "environment").ExpectCode(t, 0, "")
	for _, v := range []string{"MEDPLUM_BASE_URL", "MEDPLUM_FHIR_URL_PATH", "MEDPLUM_TOKEN_URL", "MEDPLUM_AUTHORIZE_URL",
		"MEDPLUM_CLIENT_ID", "MEDPLUM_CLIENT_SECRET", "MEDPLUM_CLIENT_ACCESS_TOKEN", "MEDPLUM_PROFILE", "MEDPLUM_CONFIG_DIR",
		"MEDPLUM_FORCE_TTY", "NO_COLOR"} {
		if !strings.Contains(out, "\n  "+v) {
			t.Errorf("help environment does not document %s", v)
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	e := clitest.New(t)
	e.Run("nope").Expect(t, 2, "", "medplum: unknown command \"nope\" for \"medplum\"\nRun 'medplum --help' for usage.\n")
	e.Run("version", "--bogus").Expect(t, 2, "", "medplum: unknown flag: --bogus\nRun 'medplum version --help' for usage.\n")
	e.Run("version", "extra").Expect(t, 2, "", "medplum: medplum version takes no arguments, got \"extra\"\nRun 'medplum version --help' for usage.\n")
	e.Run("profile", "nope").Expect(t, 2, "", "medplum: unknown command \"nope\" for \"medplum profile\"\nRun 'medplum profile --help' for usage.\n")
	e.Run("profile", "use").Expect(t, 2, "", "medplum: medplum profile use needs a profile name\nRun 'medplum profile use --help' for usage.\n")
	e.Run("bulk", "import").Expect(t, 2, "", "medplum: medplum bulk import needs one or more NDJSON files or directories (- reads stdin)\nRun 'medplum bulk import --help' for usage.\n")
	e.Run("completion", "tcsh").Expect(t, 2, "", "medplum: unknown command \"tcsh\" for \"medplum completion\"\nRun 'medplum completion --help' for usage.\n")
	e.Run("help", "nope").Expect(t, 2, "", "medplum: unknown help topic \"nope\"\nhelp topics: apply-file, environment, exit-codes, formatting, invite-csv, review-rules; or a command: medplum help <command>\n")
	e.Run("profile", "list", "-o", "xml").Expect(t, 2, "", "medplum: invalid argument \"xml\" for \"-o, --output\" flag: unknown format \"xml\" (use json, yaml, ndjson, table, csv)\nRun 'medplum profile list --help' for usage.\n")
}

func TestClientSecretFlagWarns(t *testing.T) {
	e := clitest.New(t)
	r := e.Run("profile", "list", "--client-secret", "hunter2-secret")
	r.Expect(t, 0, "CURRENT\tNAME\tBASE URL\tCLIENT ID\tAUTH TYPE\n",
		"medplum: warning: --client-secret is visible to other users in the process list; prefer MEDPLUM_CLIENT_SECRET\n")
	r.NotContains(t, "hunter2-secret")
}
