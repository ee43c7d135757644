package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands"
	"github.com/medplumcli/medplum/commands/clitest"
)

// TestHelpExamples runs the examples of every --help text, so that none
// can rot (issue 13: the example of `members --help` failed on a real
// server). The rules, for whoever writes an Example:
//
//   - Every line of an Example, or of a help text (help topics such as
//     `medplum help formatting` have no Example), that starts with "$ " is
//     a command, with the lines after it while it ends with a backslash.
//     Other lines (output shown after a command) are not run.
//   - Each help page runs in a sandbox of its own (medplumtest, as a real
//     5.0.10 answers), its examples in order, each with `bash -o pipefail`,
//     signed in as the project-admin client (or, for the pages of
//     helpAsSuperAdmin, the super-admin client), in a directory holding the
//     files they read. Each must exit 0, or the code helpExitCodes gives it
//     (a --dry-run with changes pending exits 6).
//   - The sandbox holds what the examples name (newHelpFixtures): Homer,
//     Alice, Bob, Carol, Lisa and Bart as members, Patient/123 and the
//     membership 82399b9d-4910-43c8-a667-64e4d3ee3dad, the access policies
//     AccessPolicy/123 ("Clinic staff"), AccessPolicy/1 and "Intake bots",
//     the clients "CI deployer" and "old exporter", a profile "staging".
//     Placeholders <project>, <membership> and <id> (a membership) are
//     filled in; base URLs such as https://api.medplum.com/ point at the
//     sandbox; 0a1b... is an id the sandbox has. Any other <placeholder>
//     fails the test.
//   - An example that cannot run against the sandbox is listed in
//     helpNotRun with the reason; a listed example that no help text has
//     any more fails the test.
func TestHelpExamples(t *testing.T) { runHelpExamples(t, false) }

// runHelpExamples runs the examples of every help page: those that need
// the system keyring only when keyring is set (TestRealKeyringHelpExamples,
// build tag keyring, under make test-keyring's D-Bus session), the others
// only when it is not.
func runHelpExamples(t *testing.T, keyring bool) {
	pages := helpPages(t)
	listed := map[string]bool{}
	ran := 0
	for _, p := range pages {
		t.Run(strings.ReplaceAll(p.path, " ", "_"), func(t *testing.T) {
			var todo []string
			for _, ex := range p.examples {
				listed[ex] = true
				switch {
				case helpNotRun[ex] != "":
					t.Logf("not run (%s): %s", helpNotRun[ex], ex)
				case helpNeedsKeyring[ex] != keyring:
				default:
					todo = append(todo, ex)
				}
			}
			if len(todo) == 0 {
				return
			}
			cfg := helpSetups[p.path]
			opts := []medplumtest.Option{medplumtest.WithMailer(), medplumtest.WithMembers(1)}
			if cfg.projectName != "" {
				opts = append(opts, medplumtest.WithProjectName(cfg.projectName))
			}
			srv := medplumtest.NewServer(t, opts...)
			fx := newHelpFixtures(t, srv, cfg)
			if keyring {
				if bus, ok := os.LookupEnv("DBUS_SESSION_BUS_ADDRESS"); ok {
					fx.env = append(fx.env, "DBUS_SESSION_BUS_ADDRESS="+bus)
				}
			}
			for _, ex := range todo {
				ran++
				fx.run(t, p.path, ex)
			}
		})
	}
	for _, m := range []map[string]string{helpNotRun} {
		for ex := range m {
			if !listed[ex] {
				t.Errorf("helpNotRun lists %q, which no help text has any more: take it out", ex)
			}
		}
	}
	for ex := range helpNeedsKeyring {
		if !listed[ex] {
			t.Errorf("helpNeedsKeyring lists %q, which no help text has any more: take it out", ex)
		}
	}
	t.Logf("%d help examples ran against the sandbox", ran)
}

// helpNotRun are the examples that cannot run against the sandbox, and why.
var helpNotRun = map[string]string{
	"medplum project switch 977e8dfa-0352-4ecf-8c73-3fd9ad501e57": "needs a user signed in with memberships in several projects; TestProjectListAndSwitch signs one in",
	"medplum members remove homer@example.com":                    "asks on a terminal; TestRemoveAsksOnATerminal answers it on one",
	"medplum login": "opens a browser; TestLoginBrowser answers it",
	"medplum login --auth-type password --email admin@example.com":                           "asks for the password on a terminal; TestInteractivePasswordLoginOnATerminal types it",
	"medplum login --auth-type jwt-assertion --client-id 0a1b... --private-key-path key.pem": "needs a client registered with the key's public half; TestLoginJWTAssertion makes one",
	"medplum profile import":                         "reads the official CLI's ~/.medplum; TestProfileImport writes one",
	"medplum profile import staging --delete-source": "reads the official CLI's ~/.medplum; TestProfileImport writes one",
	"medplum -p other bulk import backup":            "imports into another project than the export's (the fixture has one); TestImportRoundTrip and TestImportOwnProjects do",
	"medplum -p other bulk import backup --num-resources-per-request 100 --mode transaction --state again.journal": "imports into another project than the export's (the fixture has one); TestImportTransactionMode runs these flags",
}

// helpNeedsKeyring are the examples that store credentials in the system
// keyring: TestRealKeyringHelpExamples runs them (make test-keyring).
var helpNeedsKeyring = map[string]bool{
	`printf '%s' "$SECRET" | medplum login --auth-type client-credentials --client-id 0a1b... --client-secret-stdin`: true,
	"medplum token | medplum -p other login --with-token":                                                            true,
	`medplum clients create "CI deployer" --admin --save-profile ci`:                                                 true,
}

// helpSetup is how a help page's sandbox differs from the others'.
type helpSetup struct {
	superAdmin   bool              // run as the super-admin client (they create projects)
	bare         bool              // no members beyond the README's (the examples invite them)
	projectName  string            // the sandbox project's name
	script       string            // bash run before the examples
	placeholders map[string]string // over the common ones
}

// botSetup makes the bots the bot examples name, with the README's bot
// source (a greeting), in medplum.config.json.
const botSetup = `for b in hello-world patient-intake lab-results hl7-router echo; do
  medplum bot create "$b" --source src/hello-world.ts --dist dist/hello-world.js >/dev/null
done
medplum bot deploy '*' >/dev/null 2>&1
`

var helpSetups = map[string]helpSetup{
	"medplum":                     {superAdmin: true},
	"medplum post":                {superAdmin: true},
	"medplum project create":      {superAdmin: true},
	"medplum invite":              {bare: true},
	"medplum project invite":      {bare: true},
	"medplum apply":               {projectName: "Acme Clinic"},
	"medplum bot create":          {script: "cp src/hello-world.ts src/intake.ts && cp dist/hello-world.js dist/intake.js\n"},
	"medplum bot deploy":          {script: botSetup},
	"medplum bot save":            {script: botSetup},
	"medplum bot get":             {script: botSetup},
	"medplum bot run":             {script: botSetup},
	"medplum bot list":            {script: botSetup},
	"medplum login":               {placeholders: map[string]string{"0a1b...": "<client id>"}},
	"medplum members invite-link": {script: "medplum invite Dana Scully dana@example.com --scope project >/dev/null\n"},
	// The example's earlier review and accepted risks (the sandbox's admin
	// client, the one high finding).
	"medplum members review": {script: "medplum members review -o json > review-2026-11.json\n" +
		"printf -- '- rule: client-admin\\n  member: \"*\"\\n  reason: the sandbox admin client\\n' > accepted-risks.yaml\n"},
}

// helpExitCodes are the examples that succeed with another exit code.
var helpExitCodes = map[string]int{
	"medplum apply -f project.yaml --dry-run": 6, // changes are pending
	// Nothing high found, but the project admin cannot check the
	// server-scoped Medplum Admin's MFA: the gate does not pass.
	"medplum members review --baseline review-2026-11.json --fail-on high --ignore accepted-risks.yaml": 7,
}

// helpPage is one command's help text and its examples.
type helpPage struct {
	path     string
	examples []string
}

// helpPages collects the examples of every command of the tree.
func helpPages(t *testing.T) []helpPage {
	t.Helper()
	root := commands.NewCmdRoot(commands.NewFactory())
	var pages []helpPage
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		// A help topic (medplum help formatting) has its examples in its text.
		if exs := append(exampleCommands(c.Example), exampleCommands(c.Long)...); len(exs) > 0 {
			pages = append(pages, helpPage{path: c.CommandPath(), examples: exs})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if len(pages) == 0 {
		t.Fatal("no help text has an example")
	}
	return pages
}

// exampleCommands returns the commands of an Example: each "$ " line and
// the lines it continues onto with a trailing backslash.
func exampleCommands(example string) []string {
	var out []string
	lines := strings.Split(example, "\n")
	for i := 0; i < len(lines); i++ {
		cmd, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "$ ")
		if !ok {
			continue
		}
		for strings.HasSuffix(cmd, `\`) && i+1 < len(lines) {
			i++
			cmd += "\n" + lines[i]
		}
		out = append(out, cmd)
	}
	return out
}

func TestExampleCommands(t *testing.T) {
	got := exampleCommands("  $ medplum a\n  output\n  $ medplum b \\\n      --x 1 \\\n      --y 2\n  $ echo hi | medplum c -\n")
	want := []string{"medplum a", "medplum b \\\n      --x 1 \\\n      --y 2", "echo hi | medplum c -"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// helpFixtures is a sandbox and a directory the examples run in.
type helpFixtures struct {
	*readmeFixtures
}

// newHelpFixtures seeds a sandbox with what the examples name (see
// TestHelpExamples) on top of the README's fixtures.
func newHelpFixtures(t *testing.T, srv *medplumtest.Server, cfg helpSetup) *helpFixtures {
	t.Helper()
	fx := &helpFixtures{newReadmeFixtures(t, srv)}
	sd := srv.Seed
	ctx := context.Background()
	c, err := client.New(client.Options{BaseURL: srv.URL, Auth: &auth.BearerToken{Token: srv.IssueToken(sd.Client.MembershipID)}})
	if err != nil {
		t.Fatal(err)
	}
	no := false
	people := []struct{ typ, first, last, email string }{
		{"Patient", "Homer", "Simpson", "homer@example.com"},
		{"Practitioner", "Alice", "Smith", "alice@example.com"},
		{"Practitioner", "Bob", "Jones", "bob@example.com"},
		{"Practitioner", "Carol", "White", "carol@example.com"},
		{"Patient", "Lisa", "Simpson", "lisa@example.com"},
		{"Patient", "Bart", "Simpson", "bart@example.com"},
	}
	if cfg.bare {
		people = nil
	}
	for _, p := range people {
		if _, err := c.Invite(ctx, sd.ProjectID, &client.InviteRequest{ResourceType: p.typ, FirstName: p.first, LastName: p.last, Email: p.email, SendEmail: &no}); err != nil {
			t.Fatalf("fixture %s: %v", p.email, err)
		}
	}
	project := map[string]any{"reference": "Project/" + sd.ProjectID}
	member := func(id string, profile client.Resource, name, email string) {
		user := srv.Create(sd.ProjectID, client.Resource{"resourceType": "User", "firstName": name, "email": email, "project": project})
		m := client.Resource{"resourceType": "ProjectMembership", "project": project,
			"user":    map[string]any{"reference": "User/" + user.ID(), "display": email},
			"profile": map[string]any{"reference": profile.ResourceType() + "/" + profile.ID(), "display": name}}
		if id != "" {
			m["id"] = id
		}
		srv.Create(sd.ProjectID, m)
	}
	member("", srv.Resource("Patient", "123"), "Bart Simpson", "patient123@example.com")
	ned := srv.Create(sd.ProjectID, client.Resource{"resourceType": "Practitioner", "name": []any{map[string]any{"given": []any{"Ned"}, "family": "Flanders"}}})
	member("82399b9d-4910-43c8-a667-64e4d3ee3dad", ned, "Ned Flanders", "ned@example.com")
	for _, r := range []client.Resource{
		{"resourceType": "AccessPolicy", "id": "1", "name": "Providers"},
		{"resourceType": "AccessPolicy", "name": "Intake bots"},
		{"resourceType": "Bot", "id": "123", "name": "Bot 123"},
		{"resourceType": "Patient", "id": "homer-patient-id", "name": []any{map[string]any{"given": []any{"Homer"}, "family": "Simpson"}}},
	} {
		srv.Create(sd.ProjectID, r)
	}
	for _, name := range []string{"CI deployer", "old exporter"} {
		if _, err := c.CreateClientApplication(ctx, sd.ProjectID, map[string]any{"name": name}); err != nil {
			t.Fatalf("fixture client %s: %v", name, err)
		}
	}
	for name, content := range map[string]string{
		"leavers.csv":  "Lisa,Simpson,lisa@example.com\nBart,Simpson,bart@example.com\n",
		"patient.json": `{"resourceType":"Patient","id":"123","name":[{"given":["Bart"],"family":"Simpson"}]}` + "\n",
		"invite.json":  `{"resourceType":"Practitioner","firstName":"Dana","lastName":"Scully","email":"dana@example.com","sendEmail":false}` + "\n",
		"api-key.txt":  "the-api-key\n",
		"message.hl7":  "MSH|^~\\&|LAB|HOSP|EHR|HOSP|202601011200||ORU^R01|1|P|2.5\r",
		// The HR export of invite --help: its own column names.
		"staff-export.csv": "First Name,Last Name,Work Email,Job Title\nRalph,Wiggum,ralph@example.com,Nurse\nEdna,Krabappel,edna@example.com,Teacher\n",
	} {
		if err := os.WriteFile(filepath.Join(fx.dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The placeholders of help texts.
	fx.placeholders["<id>"] = sd.Generated[0].MembershipID
	fx.placeholders["0a1b..."] = "123"
	// A setting for project settings get to show.
	p := srv.Resource("Project", sd.ProjectID)
	p["setting"] = []any{map[string]any{"name": "mfaRequired", "valueBoolean": false}}
	srv.Update(p)
	fx.env = append(fx.env, "SMTP_PASSWORD=smtp-password-of-the-example", "SECRET="+sd.Client.Secret)
	for k, v := range cfg.placeholders {
		if filled, ok := fx.placeholders[v]; ok {
			v = filled
		}
		fx.placeholders[k] = v
	}
	if cfg.superAdmin {
		sa := sd.SuperAdminClient
		fx.env = append(fx.env, "MEDPLUM_CLIENT_ID="+sa.ID, "MEDPLUM_CLIENT_SECRET="+sa.Secret)
	}
	// A profile named staging, on the sandbox.
	prof := exec.Command(clitest.Binary(t), "profile", "set", "staging", "--base-url", srv.URL)
	prof.Dir, prof.Env = fx.dir, fx.env
	if out, err := prof.CombinedOutput(); err != nil {
		t.Fatalf("profile staging: %v\n%s", err, out)
	}
	if cfg.script != "" {
		setup := exec.Command("bash", "-e", "-o", "pipefail", "-c", cfg.script)
		setup.Dir, setup.Env = fx.dir, fx.env
		if out, err := setup.CombinedOutput(); err != nil {
			t.Fatalf("setup of the page: %v\n%s", err, out)
		}
	}
	return fx
}

// run runs one example and fails the test when it does not exit as it
// should.
func (fx *helpFixtures) run(t *testing.T, page, example string) {
	t.Helper()
	script, unknown := fx.script(readmeBlock{line: 0, lines: strings.Split(example, "\n")})
	if len(unknown) > 0 {
		t.Errorf("%s --help: the example %q uses placeholders the test cannot fill in (use one of %s, or list it in helpNotRun)", page, example, strings.Join(fx.placeholderNames(), ", "))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), readmeBlockTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", script)
	cmd.Dir, cmd.Env = fx.dir, fx.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	if want := helpExitCodes[example]; code != want {
		t.Errorf("%s --help: the example\n    %s\nexited %d, want %d\n  stdout:\n%s\n  stderr:\n%s\n"+
			"Fix the example, or list it in helpNotRun with the reason (rules: TestHelpExamples in help_examples_test.go).",
			page, strings.ReplaceAll(example, "\n", "\n    "), code, want, indent(lastLines(stdout.String(), 15)), indent(lastLines(stderr.String(), 30)))
	}
}
