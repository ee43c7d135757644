package apply_test

import (
	"testing"

	"github.com/medplumcli/medplum/commands/clitest"
	"github.com/medplumcli/medplum/commands/internal/provtest"
)

// The built binary at a real terminal: without --yes it shows the plan,
// asks, and applies only on "y".
func TestApplyAsksOnARealTerminal(t *testing.T) {
	srv, e := newAcme(t)
	pid := srv.Seed.ProjectID
	writeFile(t, e, "p.yaml", "project:\n  name: Acme Clinic\nsettings:\n  mfaRequired: true\n")
	plan := "Plan for project \"Acme Clinic\" (" + pid + "):\n" +
		"  create        setting mfaRequired = true\n" +
		"Plan: 1 to create, 0 to update, 0 to remove, 0 unchanged.\n"
	question := "Apply these changes to project \"Acme Clinic\"? [y/N] "
	srv.ResetRequests()
	screen, code := e.RunOnPTY([]clitest.PTYStep{{Prompt: question, Answer: "n"}}, "apply", "-f", "p.yaml")
	if want := plan + question + "n\nApply cancelled: nothing was changed.\n"; code != 0 || screen != want {
		t.Errorf("answer n: exit %d, screen\n%s\nwant\n%s", code, screen, want)
	}
	provtest.ExpectWrites(t, srv)
	screen, code = e.RunOnPTY([]clitest.PTYStep{{Prompt: question, Answer: "y"}}, "apply", "-f", "p.yaml")
	if want := plan + question + "y\nwrote the project's settings (1 change)\nApplied 1 change to project \"Acme Clinic\".\n"; code != 0 || screen != want {
		t.Errorf("answer y: exit %d, screen\n%s\nwant\n%s", code, screen, want)
	}
	provtest.ExpectWrites(t, srv, "PATCH /fhir/R4/Project/"+pid)
}
