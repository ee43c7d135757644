package commands_test

import (
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// gojq (--jq) and yaml (-o yaml, config.yaml) come from third_party/,
// patched to build what their package init built on every start, before
// main ran (issue 12), on first use instead: gojq's builtin tables (about
// 2,300 allocations, 0.15-0.3 ms) and yaml's two float regexps (about 230
// allocations, 0.07 ms). The runtime's init trace of `medplum --version`
// shows what each package's init allocates. If this fails after an
// upgrade, the replace in go.mod no longer points at the patched copy, or
// the copy's init does the work again: see third_party/*/PATCH.md.
func TestStartupSkipsWhatLibrariesBuildOnFirstUse(t *testing.T) {
	e := clitest.New(t)
	e.Set("GODEBUG", "inittrace=1")
	r := e.Run("--version")
	if r.Code != 0 || r.Stdout != clitest.VersionLine+"\n" {
		t.Fatalf("--version: code %d, stdout %q", r.Code, r.Stdout)
	}
	for _, c := range []struct {
		pkg        string
		max, later int // allocations at init: at most; what the copy makes
	}{
		{"github.com/itchyny/gojq", 50, 12},
		{"go.yaml.in/yaml/v3", 80, 45},
	} {
		m := regexp.MustCompile(`(?m)^init ` + regexp.QuoteMeta(c.pkg) + ` @.*, (\d+) bytes, (\d+) allocs$`).FindStringSubmatch(r.Stderr)
		if m == nil {
			t.Errorf("no init line of %s in the init trace:\n%s", c.pkg, r.Stderr)
			continue
		}
		if allocs, _ := strconv.Atoi(m[2]); allocs > c.max {
			t.Errorf("%s's init made %s allocations (%s bytes) at start-up; the patched copy makes %d", c.pkg, m[2], m[1], c.later)
		}
	}
}

// The REST commands run on one CPU, every other command on all of them
// (package onecpu, cmdutil.MarkOneAtATime), and a GOMAXPROCS the
// environment sets is left alone. The runtime's scheduler trace
// (GODEBUG=schedtrace) prints the process's GOMAXPROCS every 20 ms; a line
// printed after the command's request reached the server shows what the
// command runs with.
func TestOneAtATimeCommandsRunOnOneCPU(t *testing.T) {
	// The runtime's default, as the binary sees it: the environment's
	// GOMAXPROCS (go test -cpu, a CI setting) is not passed to it.
	was := runtime.GOMAXPROCS(0)
	runtime.SetDefaultGOMAXPROCS()
	all := runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(was)
	srv := medplumtest.NewServer(t)
	srv.SetLatency(time.Hour)
	defer srv.ClearFaults()
	for _, c := range []struct {
		args       []string
		gomaxprocs string // the environment's
		want       int
	}{
		{[]string{"get", "Patient"}, "", 1},
		{[]string{"post", "Patient", `{"resourceType":"Patient"}`}, "", 1},
		{[]string{"whoami"}, "", all},
		{[]string{"get", "Patient"}, "3", 3},
	} {
		t.Run(strings.Join(c.args[:1], " ")+"/GOMAXPROCS="+c.gomaxprocs, func(t *testing.T) {
			if c.want == all && all == 1 {
				t.Skip("one CPU here: every CPU and one CPU look the same")
			}
			e := clitest.SignedIn(t, srv)
			e.Set("MEDPLUM_CLIENT_ACCESS_TOKEN", srv.IssueToken(srv.Seed.Client.MembershipID))
			e.Set("GODEBUG", "schedtrace=20")
			if c.gomaxprocs != "" {
				e.Set("GOMAXPROCS", c.gomaxprocs)
			}
			before := len(srv.Requests())
			p := e.Start(c.args...)
			defer p.Kill()
			deadline := time.Now().Add(30 * time.Second)
			for len(srv.Requests()) == before {
				if time.Now().After(deadline) {
					t.Fatalf("no request reached the server; stderr:\n%s", p.Stderr())
				}
				time.Sleep(5 * time.Millisecond)
			}
			seen := len(p.Stderr())
			for {
				if m := schedLine.FindStringSubmatch(p.Stderr()[seen:]); m != nil {
					if got, _ := strconv.Atoi(m[1]); got != c.want {
						t.Errorf("medplum %s runs with GOMAXPROCS %d, want %d", strings.Join(c.args, " "), got, c.want)
					}
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("no scheduler trace line after the request; stderr:\n%s", p.Stderr())
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

// schedLine is a line of the runtime's scheduler trace, "SCHED 40ms:
// gomaxprocs=1 idleprocs=1 threads=5 ...".
var schedLine = regexp.MustCompile(`(?m)^SCHED \d+ms: gomaxprocs=(\d+) `)
