package authcmd_test

import (
	"testing"

	"github.com/medplumcli/medplum/commands/clitest"
)

// --callback-port 0 would pick a free port, which no ClientApplication can
// have registered (Medplum compares redirect URIs exactly): it is refused
// before anything is sent, by login and by project switch; so is a number
// that is not a port.
func TestCallbackPortZeroRefused(t *testing.T) {
	srv := newServer(t)
	e := env(t, srv)
	const zero = "medplum: --callback-port 0 (any free port) cannot work: Medplum accepts only a redirect URI registered on the client, exactly; " +
		"choose a port, register http://localhost:<port> on your ClientApplication and pass its --client-id (the built-in medplum-cli client accepts 9615 only)\n"
	e.Run("login", "--auth-type", "authorization-code", "--callback-port", "0", "--no-browser").Expect(t, 2, "", zero+"Run 'medplum login --help' for usage.\n")
	e.Run("login", "--callback-port", "65536").Expect(t, 2, "", "medplum: --callback-port 65536 is not a port number\nRun 'medplum login --help' for usage.\n")
	e.Run("project", "switch", srv.Seed.ProjectID, "--callback-port", "0").Expect(t, 2, "", zero+"Run 'medplum project switch --help' for usage.\n")
	e.Run("project", "switch", srv.Seed.ProjectID, "--callback-port", "-1").Expect(t, 2, "", "medplum: --callback-port -1 is not a port number\nRun 'medplum project switch --help' for usage.\n")
	clitest.ExpectNothingSent(t, srv)
}
