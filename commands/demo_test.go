package commands_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/commands/clitest"
)

// TestDemo runs `make demo`'s script with the test binaries, so the README's
// first command cannot rot: every step must succeed, print what it printed
// when the tour was written, show no secret, and leave nothing behind (the
// sandbox stopped, HOME and TMPDIR as empty as they were).
func TestDemo(t *testing.T) {
	d := newDemo(t, "")
	b, err := d.cmd.CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("the demo failed: %v\n%s", err, out)
	}

	// Ids are random: (ID) stands for one in the patterns below.
	const id = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
	policy := regexp.MustCompile(`(?m)^(` + id + `)\n\n# Invite Ned`).FindStringSubmatch(out)
	homer := regexp.MustCompile(`\tHomer Simpson\ttrue\t\n`).FindStringIndex(out)
	if policy == nil || homer == nil {
		t.Fatalf("the demo output lacks the access policy's id or Homer's promotion:\n%s", out)
	}
	homerID := regexp.MustCompile(`ProjectMembership\t(` + id + `)\t[^\n]*\tHomer Simpson\ttrue\t\n`).FindStringSubmatch(out)
	for _, want := range []string{
		// A person signs in, then a client in CI.
		"$ medplum version\n" + clitest.VersionLine + "\n",
		`\$ printf '%s\\n' "\$MEDPLUM_SANDBOX_ADMIN_PASSWORD" \| medplum login --auth-type password --email admin@example\.com --password-stdin --project (ID) --insecure-storage\n` +
			`Signed in to http://127\.0\.0\.1:\d+/ as admin@example\.com in project Acme Clinic\.\n`,
		"/\nUser:        admin@example.com\nProfile:     Medplum Admin (Practitioner/",
		"client_secret\t(hidden)\tenv MEDPLUM_CLIENT_SECRET\n",
		`\$ medplum whoami\nServer:      http://127\.0\.0\.1:\d+/\nClient:      Acme Clinic Admin Client \(ClientApplication/(ID)\)\n` +
			`Profile:     Acme Clinic Admin Client \(ClientApplication/(ID)\)\nProject:     Acme Clinic \(Project/(ID)\)\n` +
			`Membership:  ProjectMembership/(ID) \(project admin\)\nCredentials: client (ID) with a secret from MEDPLUM_CLIENT_SECRET \(never stored\)\n`,
		// The REST commands with the seed guide's examples.
		"$ medplum get 'ProjectMembership?profile-type:not=ClientApplication,Bot' -o table\n",
		"\tAlice Smith\ttrue\t\n",
		"medplum: User is already a member of this project\n(exit 1)\n",
		"\"name\": \"ProjectName\",\n",
		"display,admin\nMedplum Admin,true\nAcme Clinic Admin Client,true\nSandbox Bot,\nAlice Smith,true\nHomer Simpson,true\n",
		"Authorization: [REDACTED]\n",
		// Inviting and managing members.
		"\tPractitioner\tned@example.com\tfalse\tAccessPolicy/" + policy[1] + "?provider_organization=Organization/west, AccessPolicy/" + policy[1] + "?provider_organization=Organization/east\n",
		"$ medplum members list --humans --columns name,profileType,user,admin,active\nNAME\tPROFILE TYPE\tUSER\tADMIN\tACTIVE\n",
		"\nMedplum Admin\tPractitioner\tadmin@example.com\ttrue\ttrue\n",
		"\nAlice Smith\tPractitioner\talicesmith@example.com\ttrue\ttrue\n",
		"\nHomer Simpson\tPatient\thomer@example.com\ttrue\ttrue\n",
		"\nNed Flanders\tPractitioner\tned@example.com\tfalse\ttrue\n",
		"NAME\tADMIN\tACTIVE\nNed Flanders\ttrue\ttrue\nNed Flanders (Practitioner, ned@example.com) is now a project admin\n",
		"NAME\tADMIN\tACTIVE\nNed Flanders\ttrue\tfalse\nNed Flanders (Practitioner, ned@example.com) is deactivated; the membership and profile are kept\n",
		"#   Practitioner,Julius,Hibbert,hibbert@example.com,AccessPolicy/" + policy[1] + ",Organization/west\n",
		"$ medplum invite --csv staff.csv -o csv -q\nline,email,external_id,status,membership_id,error,change,earlier_run\n",
		`\n2,hibbert@example\.com,,created,(ID),,,false\n`,
		`\n3,riviera@example\.com,,created,(ID),,,false\n`,
		"\n4,homer@example.com,,exists," + homerID[1] + ",,,false\n",
		"\n3 rows: 2 created, 1 exists, 0 updated, 0 failed, 0 skipped\n",
		"$ medplum members remove ned@example.com --yes\nRemoved Ned Flanders (Practitioner, ned@example.com) from project ",
		// A project file.
		"$ medplum apply -f testdata/apply/project.yaml --dry-run\nPlan for project \"Acme Clinic\" (",
		"\n  unchanged     access policy \"Front desk\"\n",
		"\n  create        member carol@example.com (Practitioner, access \"Front desk\"?provider_organization=Organization/west-clinic, \"Front desk\"?provider_organization=Organization/east-clinic)\n",
		"\n  create        bot \"appointment-reminders\" (access policy \"Front desk\")\n  would-remove  bot \"Sandbox Bot\" (not in the file; --prune removes it)\n" +
			"Plan: 10 to create, 0 to update, 0 to remove, 1 unchanged. 5 objects not in the file are kept (--prune removes them). 2 objects not in the file must stay.\n" +
			"medplum: dry run: changes are pending; nothing was changed\n(exit 6)\n",
		`\ncreated bot "appointment-reminders" \(Bot/(ID)\)\nApplied 10 changes to project "Acme Clinic"\.\n`,
		`\$ medplum apply export --no-members\n# Project "Acme Clinic" \(Project/(ID)\)\n`,
		"\nclients:\n  # made by the server with the project (Project/$init); delete these lines to leave it to the server\n  - name: Acme Clinic Admin Client\n",
		"$ medplum apply -f exported.yaml --dry-run\nPlan for project \"Acme Clinic\" (",
		"\n  unchanged     bot \"appointment-reminders\"\nNo changes: project \"Acme Clinic\" matches the file.\n",
		// Bots.
		`\$ medplum bot create hello --source src/hello\.ts --dist dist/hello\.js\nCreated bot "hello" \(Bot/(ID)\) in project "Acme Clinic" \((ID)\)\.\nAdded it to medplum\.config\.json\.\nSaved src/hello\.ts and deployed dist/hello\.js\.\n(ID)\n`,
		`\$ medplum bot deploy '\*'\ndeployed     hello \(Bot/(ID)\): code changed\n1 bot: 1 deployed\.\n`,
		`\$ medplum bot deploy '\*'\nunchanged    hello \(Bot/(ID)\)\n1 bot: 1 unchanged\.\n`,
		`\$ medplum bot run hello '\{"name":"Homer"\}'\n\{"bot":"Bot/(ID)","executableCode":\{"sha256":"[0-9a-f]{64}","size":97,"title":"hello\.js"\},"input":\{"name":"Homer"\},"medplumtest":"this sandbox does not run bot code; a real Medplum server answers with what the bot's handler returns"\}\n`,
		"$ medplum bot list --columns name,runtime,config\nNAME\tRUNTIME\tCONFIG\nSandbox Bot\tvmcontext\t\nappointment-reminders\tvmcontext\t\nhello\tvmcontext\thello\n",
		"$ medplum logout\nSigned out of profile \"default\": 1 session revoked on http://127.0.0.1:",
		"\n# Done. The sandbox stops now; see README.md for more.\n",
	} {
		if strings.Contains(want, "(ID)") {
			if !regexp.MustCompile(strings.ReplaceAll(want, "(ID)", id)).MatchString(out) {
				t.Errorf("the demo output does not match %q:\n%s", want, out)
			}
		} else if !strings.Contains(out, want) {
			t.Errorf("the demo output lacks %q:\n%s", want, out)
		}
	}
	// No secret: the sandbox's client secrets are 64 hex digits, those of the
	// clients apply makes 32; access tokens are JWTs.
	// The sandbox's bot answer names the deployed code's SHA-256: a
	// checksum, not a secret.
	noSums := regexp.MustCompile(`"sha256":"[0-9a-f]{64}"`).ReplaceAllString(out, "")
	if s := regexp.MustCompile(`[0-9a-f]{32,}|eyJ[A-Za-z0-9_-]{10,}`).FindString(noSums); s != "" {
		t.Errorf("the demo printed a secret or token %q", s)
	}
	d.expectNothingLeft(t)
}

// demo is a run of .ci/demo with the test binaries, in an empty HOME and
// TMPDIR.
type demo struct {
	cmd                *exec.Cmd
	sandbox, home, tmp string
}

// newDemo prepares a run of the demo script. sandboxArgs, if not empty, are
// added to the sandbox's command line (after the demo's own).
func newDemo(t *testing.T, sandboxArgs string) *demo {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed: the demo script cannot run")
	}
	dir := t.TempDir()
	d := &demo{sandbox: filepath.Join(dir, "medplum-sandbox"), home: t.TempDir(), tmp: t.TempDir()}
	// Each test builds its own copy, so that expectNothingLeft can tell its
	// sandbox from another test's.
	build := exec.Command("go", "build", "-o", d.sandbox, "./cmd/medplum-sandbox")
	build.Dir = filepath.Join("..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the sandbox: %v\n%s", err, out)
	}
	sandbox := d.sandbox
	if sandboxArgs != "" {
		sandbox = filepath.Join(dir, "sandbox.sh")
		script := "#!/bin/sh\nexec '" + d.sandbox + "' \"$@\" " + sandboxArgs + "\n"
		if err := os.WriteFile(sandbox, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d.cmd = exec.Command(bash, filepath.Join("..", ".ci", "demo"))
	d.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + d.home, "TMPDIR=" + d.tmp, "MEDPLUM=" + clitest.Binary(t), "SANDBOX=" + sandbox}, clitest.Environ()...)
	return d
}

// expectNothingLeft checks that the demo left HOME and TMPDIR empty and
// stopped the sandbox.
func (d *demo) expectNothingLeft(t *testing.T) {
	t.Helper()
	for _, dir := range []string{d.home, d.tmp} {
		if left, _ := os.ReadDir(dir); len(left) > 0 {
			t.Errorf("the demo left %s in %s", left[0].Name(), dir)
		}
	}
	if runtime.GOOS == "linux" {
		procs, _ := filepath.Glob("/proc/[0-9]*/exe")
		for _, p := range procs {
			if exe, err := os.Readlink(p); err == nil && exe == d.sandbox {
				t.Errorf("the sandbox is still running (%s)", p)
			}
		}
	}
}

// A .env in the checkout (medplum reads ./.env, as the official CLI does)
// does not change the tour: its sign-in must not pick up a client id or a
// profile from the developer's file.
func TestDemoIgnoresDotenv(t *testing.T) {
	d := newDemo(t, "")
	root := t.TempDir()
	for _, f := range []string{".ci/demo", "testdata/apply/project.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dotenv := "MEDPLUM_CLIENT_ID=not-a-client\nMEDPLUM_CLIENT_SECRET=not-a-secret\nMEDPLUM_PROFILE=elsewhere\n"
	if err := os.WriteFile(filepath.Join(root, ".env"), []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd.Args[1] = filepath.Join(root, ".ci", "demo")
	if out, err := d.cmd.CombinedOutput(); err != nil {
		t.Fatalf("the demo failed with a .env in the checkout: %v\n%s", err, out)
	}
	d.expectNothingLeft(t)
}
