//go:build linux

package review_test

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// On a terminal, stderr shows how far the review is, on one line that is
// cleared before the summary.
func TestReviewProgressLine(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithMembers(2500))
	e := clitest.SignedIn(t, srv)
	master, slave := clitest.OpenPTY(t)
	cmd := e.Command("members", "review", "-o", "csv", "--no-header", "--columns", "id")
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var screen bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); io.Copy(&screen, master) }()
	err := cmd.Wait()
	wg.Wait()
	master.Close()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if n := strings.Count(stdout.String(), "\n"); cmd.ProcessState.ExitCode() != 0 || n != 2504 {
		t.Fatalf("exit %d, %d rows", cmd.ProcessState.ExitCode(), n)
	}
	// Every page of 1000 members is drawn, the last one too, then the
	// line is erased for the summary.
	s := strings.ReplaceAll(screen.String(), "\r\n", "\n")
	progress, _, ok := strings.Cut(s, "Findings: ")
	want := "\r\x1b[Kreviewing: 0 of 2504 members read (0%)" +
		"\r\x1b[Kreviewing: 1000 of 2504 members read (39%)" +
		"\r\x1b[Kreviewing: 2000 of 2504 members read (79%)" +
		"\r\x1b[Kreviewing: 2504 of 2504 members read (100%)" +
		"\r\x1b[K"
	if !ok || progress != want {
		t.Errorf("the terminal showed\n%q\nwant\n%q", s, want)
	}
	// Piped, no progress at all.
	r := e.Run("members", "review", "-o", "csv", "--no-header", "--columns", "id")
	if strings.Contains(r.Stderr, "reviewing") || strings.Count(r.Stdout, "\n") != 2504 {
		t.Errorf("piped: %d rows, stderr %q", strings.Count(r.Stdout, "\n"), r.Stderr)
	}
}
