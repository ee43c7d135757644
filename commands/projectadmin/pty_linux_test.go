package projectadmin_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
	"github.com/medplumcli/medplum/commands/internal/provtest"
)

// On a terminal, secrets set asks for the value and reads it without echo.
func TestSecretsSetAsksOnATerminal(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.Admin(t, srv)
	const value = "pty-secret-value-7"
	screen, code := e.RunOnPTY([]clitest.PTYStep{{Prompt: "Value of secret API_KEY: ", Answer: value}}, "project", "secrets", "set", "API_KEY")
	proj := fmt.Sprintf("%q (%s)", srv.Seed.ProjectName, srv.Seed.ProjectID)
	if code != 0 || screen != "Value of secret API_KEY: \nSet secret API_KEY in project "+proj+".\n" {
		t.Errorf("exit %d, screen %q", code, screen)
	}
	if strings.Contains(screen, value) {
		t.Errorf("the secret was echoed: %q", screen)
	}
	if got, _ := json.Marshal(srv.Resource("Project", srv.Seed.ProjectID)["secret"]); string(got) != `[{"name":"API_KEY","valueString":"`+value+`"}]` {
		t.Errorf("Project.secret = %s", got)
	}
}
