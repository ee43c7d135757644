package members_test

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// runOnTTY runs the binary with stdin and stdout on a terminal, types
// answer, and returns stderr and the exit code.
func runOnTTY(t *testing.T, e *clitest.Env, answer string, args ...string) (string, int) {
	t.Helper()
	master, slave := clitest.OpenPTY(t)
	cmd := e.Command(args...)
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := master.WriteString(answer); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, master); close(done) }() // the terminal's echo
	err := cmd.Wait()
	slave.Close()
	master.Close()
	<-done
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stderr.String(), code
}

func TestRemoveAsksOnATerminal(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	sd := srv.Seed
	question := "Remove Homer Simpson (Patient, homer@example.com) from project " + projectName(srv) + "? [y/N] "

	// "n" (or anything but y/yes): nothing removed, exit 0.
	stderr, code := runOnTTY(t, e, "n\n", "members", "remove", "homer@example.com")
	if code != 0 || stderr != question+"nothing was removed\n" {
		t.Errorf("answer n: exit %d, stderr %q", code, stderr)
	}
	if srv.Deleted("ProjectMembership", sd.Homer.MembershipID) || len(srv.RequestsTo("DELETE", "/admin/projects/*/members/*")) != 0 {
		t.Error("removed after answering n")
	}

	stderr, code = runOnTTY(t, e, "yes\n", "members", "remove", "homer@example.com")
	if code != 0 || stderr != question+"Removed Homer Simpson (Patient, homer@example.com) from project "+projectName(srv)+"\n" {
		t.Errorf("answer yes: exit %d, stderr %q", code, stderr)
	}
	if !srv.Deleted("ProjectMembership", sd.Homer.MembershipID) {
		t.Error("not removed after answering yes")
	}
}

// Removing several members asks once, naming the project and every member.
func TestRemoveSeveralAsksOnce(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	sd := srv.Seed
	list := "  Homer Simpson (Patient, homer@example.com)\n  Sandbox Bot (Bot)\n"
	question := "Remove 2 members from project " + projectName(srv) + "? [y/N] "

	stderr, code := runOnTTY(t, e, "n\n", "members", "remove", "homer@example.com", "Sandbox Bot", "nobody@example.com")
	if want := "nobody@example.com: no member of project " + sd.ProjectID + " is nobody@example.com\n" + list + question +
		"nothing was removed\n3 members: 1 failed, 2 not attempted.\nmedplum: 1 of 3 members failed: nobody@example.com\n"; code != 3 || stderr != want {
		t.Errorf("answer n: exit %d, stderr\n%s\nwant\n%s", code, stderr, want)
	}
	if srv.Deleted("ProjectMembership", sd.Homer.MembershipID) || srv.Deleted("ProjectMembership", sd.Bot.MembershipID) {
		t.Error("removed after answering n")
	}
	stderr, code = runOnTTY(t, e, "y\n", "members", "remove", "homer@example.com", "Sandbox Bot")
	if want := list + question + "Removed Homer Simpson (Patient, homer@example.com)\nRemoved Sandbox Bot (Bot)\n2 members: 2 removed.\n"; code != 0 || stderr != want {
		t.Errorf("answer y: exit %d, stderr\n%s\nwant\n%s", code, stderr, want)
	}
	if !srv.Deleted("ProjectMembership", sd.Homer.MembershipID) || !srv.Deleted("ProjectMembership", sd.Bot.MembershipID) {
		t.Error("not removed after answering y")
	}
}
