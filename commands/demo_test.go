package commands_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/commands/clitest"
)

// TestDemo runs `make demo`'s script with the test binaries, so the README's
// first command cannot rot: every step must succeed and the sandbox must be
// gone afterwards.
func TestDemo(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed: the demo script cannot run")
	}
	dir := t.TempDir()
	sandbox := filepath.Join(dir, "medplum-sandbox")
	build := exec.Command("go", "build", "-o", sandbox, "./cmd/medplum-sandbox")
	build.Dir = filepath.Join("..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the sandbox: %v\n%s", err, out)
	}
	cmd := exec.Command(bash, filepath.Join("..", ".ci", "demo"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "MEDPLUM=" + clitest.Binary(t), "SANDBOX=" + sandbox}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the demo failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"$ medplum version\n" + clitest.VersionLine + "\n",
		"client_secret\t(hidden)\tenv MEDPLUM_CLIENT_SECRET\n",
		"$ medplum get 'ProjectMembership?profile-type:not=ClientApplication,Bot' -o table\n",
		"\tAlice Smith\ttrue\t\n",
		"medplum: User is already a member of this project\n",
		"\tHomer Simpson\ttrue\t\n",
		"\"name\": \"ProjectName\",\n",
		"DISPLAY,ADMIN\nMedplum Admin,true\nSandbox Project Admin Client,true\nHomer Simpson,true\nSandbox Bot,\nAlice Smith,true\n",
		"Authorization: [REDACTED]\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the demo output lacks %q:\n%s", want, out)
		}
	}
	if runtime.GOOS == "linux" {
		procs, _ := filepath.Glob("/proc/[0-9]*/exe")
		for _, p := range procs {
			if exe, err := os.Readlink(p); err == nil && exe == sandbox {
				t.Errorf("the sandbox is still running (%s)", p)
			}
		}
	}
}
