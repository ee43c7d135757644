//go:build unix

package rest_test

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// A shell loop of medplum commands stops at a Ctrl-C: bash (which gets the
// same SIGINT, as the foreground process group does on a terminal) runs
// no further command once a child died of it. get dies of the signal at
// once; whoami says it was interrupted, then ends by the signal itself.
func TestInterruptStopsTheShellLoop(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed for this test")
	}
	srv := medplumtest.NewServer(t)
	srv.SetLatency(time.Hour)
	defer srv.ClearFaults()
	for _, c := range []struct{ command, want string }{
		{"get Patient", ""},
		{"whoami", "medplum: interrupted\n"},
	} {
		e := clitest.SignedIn(t, srv)
		e.Set("MEDPLUM_CLIENT_ACCESS_TOKEN", srv.IssueToken(srv.Seed.Client.MembershipID))
		// The loop's bash and medplum share a process group, which the test
		// signals as a terminal's Ctrl-C does.
		script := `for i in 1 2 3; do "$MEDPLUM" ` + c.command + `; echo "after $i: $?"; done; echo "loop ended"`
		cmd := exec.Command(bash, "-c", script)
		cmd.Env = append(e.Environ(), "MEDPLUM="+clitest.Binary(t))
		cmd.Dir = e.Home
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		before := len(srv.Requests())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitForRequests(t, srv, before+1)
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if got := out.String(); got != c.want {
			t.Errorf("the loop of %s printed %q; want %q (bash stops the loop)", c.command, got, c.want)
		}
	}
}
