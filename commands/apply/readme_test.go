package apply_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

func projectsNamed(srv *medplumtest.Server, name string) []client.Resource {
	var out []client.Resource
	for _, p := range srv.Resources("Project", "") {
		if p["name"] == name {
			out = append(out, p)
		}
	}
	return out
}

// readmePipeline returns the shell script of the README's "Provisioning
// from CI" section (the sh block after its <!-- tested by: ... --> marker).
func readmePipeline(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- tested by: TestREADMEPipeline -->\n```sh\n")
	script, _, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 {
		t.Fatal("README: no pipeline block after <!-- tested by: TestREADMEPipeline -->")
	}
	return script
}

// TestREADMEPipeline runs the README's CI pipeline, as written, with sh
// against medplumtest, twice: the second run changes nothing. No secret
// appears in its output.
func TestREADMEPipeline(t *testing.T) {
	srv := medplumtest.NewServer(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "project.yaml"), []byte(example(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	const smtp = "smtp-password-from-the-ci-store"
	run := func() (string, string) {
		t.Helper()
		cmd := exec.Command("sh", "-c", readmePipeline(t))
		cmd.Dir = dir
		cmd.Env = append([]string{
			"PATH=" + filepath.Dir(clitest.Binary(t)) + string(os.PathListSeparator) + os.Getenv("PATH"),
			"HOME=" + dir, "MEDPLUM_CONFIG_DIR=" + filepath.Join(dir, "config"), "MEDPLUM_CACHE_DIR=" + filepath.Join(dir, "cache"),
			"MEDPLUM_BASE_URL=" + srv.URL,
			"SUPERADMIN_CLIENT_ID=" + srv.Seed.SuperAdminClient.ID,
			"SUPERADMIN_CLIENT_SECRET=" + srv.Seed.SuperAdminClient.Secret,
			"SMTP_PASSWORD=" + smtp,
		}, clitest.Environ()...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("pipeline: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
		}
		return out.String(), errOut.String()
	}

	out, errOut := run()
	projects := projectsNamed(srv, "Acme Clinic")
	if len(projects) != 1 {
		t.Fatalf("%d projects named Acme Clinic", len(projects))
	}
	pid := projects[0].ID()
	var provisioner string
	for _, a := range srv.Resources("ClientApplication", pid) {
		if a["name"] == "Acme provisioner" {
			provisioner = a.String("secret")
		}
	}
	if provisioner == "" {
		t.Fatal("no client Acme provisioner")
	}
	for _, s := range []string{srv.Seed.SuperAdminClient.Secret, provisioner, smtp} {
		if strings.Contains(out+errOut, s) {
			t.Errorf("the pipeline's output shows a secret:\n%s\n%s", out, errOut)
		}
	}
	if !strings.Contains(out, "Applied 10 changes to project \"Acme Clinic\".\n") {
		t.Errorf("first run:\n%s\n%s", out, errOut)
	}
	if got := compact(t, srv.Resource("Project", pid)["secret"]); got != `[{"name":"SMTP_PASSWORD","valueString":"`+smtp+`"}]` {
		t.Errorf("secrets %s", got)
	}
	alice := srv.MembershipByEmail(pid, "alice@example.com")
	if alice == nil || alice["admin"] != true {
		t.Errorf("alice %v", alice)
	}

	out, errOut = run()
	if !strings.Contains(out, "No changes: project \"Acme Clinic\" matches the file.") || strings.Contains(out, "Applied") {
		t.Errorf("second run changed something:\n%s\n%s", out, errOut)
	}
	if n := len(projectsNamed(srv, "Acme Clinic")); n != 1 {
		t.Errorf("%d projects after the second run", n)
	}
}
