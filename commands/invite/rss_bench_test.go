//go:build linux

package invite_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// BenchmarkInviteCSVPeakRSS runs the built binary on a CSV of 10,000 and
// 100,000 rows against medplumtest (no invite cost, no conflicts: the CLI is
// what is measured) and reports the binary's peak resident memory. The file
// is streamed twice (check, then send) and never held in memory, so the peak
// should barely move between the two sizes; what grows is the set of 16-byte
// e-mail hashes used to find duplicates. Run with -benchtime 1x.
func BenchmarkInviteCSVPeakRSS(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("rows=%dk", n/1000), func(b *testing.B) {
			srv := medplumtest.NewServer(b, medplumtest.WithConflictRate(0))
			home := b.TempDir()
			csvPath := filepath.Join(home, "users.csv")
			writeUsers(b, csvPath, n)
			var peakKB int64
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				os.Remove(csvPath + ".journal")
				b.StartTimer()
				cmd := exec.Command(clitest.Binary(b), "invite", "--csv", "users.csv", "-q")
				cmd.Dir = home
				cmd.Env = []string{"HOME=" + home, "MEDPLUM_CONFIG_DIR=" + filepath.Join(home, "config"), "PATH=" + os.Getenv("PATH"),
					"MEDPLUM_BASE_URL=" + srv.URL, "MEDPLUM_CLIENT_ID=" + srv.Seed.Client.ID, "MEDPLUM_CLIENT_SECRET=" + srv.Seed.Client.Secret}
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				peakKB = max(peakKB, watchHWM(cmd.Process.Pid, done, b))
				if cmd.ProcessState.ExitCode() != 0 {
					b.Fatalf("%v\n%s", cmd.ProcessState, out.String())
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(peakKB)/1024, "MB-peak-RSS")
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// watchHWM polls the process's VmHWM (peak resident set, kB) in
// /proc/<pid>/status until done, and returns the last value read. The
// rusage of a child (ru_maxrss) is no use here: on Linux it includes the
// memory of the parent it was forked from, a test process holding the
// whole in-memory server.
func watchHWM(pid int, done <-chan error, b *testing.B) int64 {
	var hwm int64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					var kb int64
					fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
					hwm = max(hwm, kb)
				}
			}
		}
		select {
		case <-done:
			return hwm
		case <-tick.C:
		}
	}
}

func writeUsers(b *testing.B, path string, n int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "role,firstName,lastName,email")
	for i := range n {
		fmt.Fprintf(w, "Practitioner,First%d,Last%d,user%06d@example.com\n", i, i, i)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
}
