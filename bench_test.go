//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/invite/bulk"
)

// Benchmarks of the medplum binary as users run it (Linux: peak RSS comes
// from GNU time), and of its client
// against the practical limit: a minimal net/http loop sending the same
// requests to the same server. The server is the sandbox binary
// (cmd/medplum-sandbox) in its own process, so that the CPU time measured
// here is the client's alone. `make bench` runs them with the bulk invite
// benchmarks and prints one table (docs/benchmarks.md).
//
// Reported metrics (one op is one process, or one whole --all, or one
// batch of invites):
//
//	ms/run        wall time of one process, median
//	cpu-ms/run    user+system CPU of one process, median
//	MB-peak-RSS   the process's peak resident set (GNU time's %M), median
//	req/s         requests answered per second of wall time
//	cpu-us/req    client CPU (user+system) per request

// A release-like build (-trimpath -s -w, CGO off) of both binaries.
var (
	benchBuildOnce sync.Once
	benchBinDir    string
	benchBuildErr  error
)

func init() {
	cleanups = append(cleanups, func() {
		if benchBinDir != "" {
			os.RemoveAll(benchBinDir)
		}
	})
}

// releaseLDFlags are the linker flags of `make build` and a release: no
// symbol table or DWARF, and the version stamped, so that the binary does
// not read its build info to name itself (`-X`).
const releaseLDFlags = "-s -w -X github.com/medplumcli/medplum/commands/version.Version=v0.0.0-bench" +
	" -X github.com/medplumcli/medplum/commands/version.Commit=bench" +
	" -X github.com/medplumcli/medplum/commands/version.Date=2026-01-01T00:00:00Z"

func benchBinaries(b *testing.B) (medplum, sandbox string) {
	b.Helper()
	benchBuildOnce.Do(func() {
		if benchBinDir, benchBuildErr = os.MkdirTemp("", "medplum-bench-"); benchBuildErr != nil {
			return
		}
		for name, pkg := range map[string]string{"medplum": ".", "medplum-sandbox": "./cmd/medplum-sandbox"} {
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags", releaseLDFlags, "-o", filepath.Join(benchBinDir, name), pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				benchBuildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if benchBuildErr != nil {
		b.Fatal(benchBuildErr)
	}
	return filepath.Join(benchBinDir, "medplum"), filepath.Join(benchBinDir, "medplum-sandbox")
}

// benchSandbox is a medplum-sandbox process.
type benchSandbox struct {
	URL     string
	Env     map[string]string // what --print-env printed
	Token   string            // an access token of the project-admin client
	Project string
	Pid     int // the sandbox process
}

// startSandbox runs the sandbox binary on a loopback port with args, and
// stops it when the benchmark ends.
func startSandbox(b *testing.B, args ...string) *benchSandbox {
	b.Helper()
	sb, stop := launchSandbox(b, args...)
	b.Cleanup(stop)
	return sb
}

// launchSandbox runs the sandbox binary like startSandbox; stop stops it
// (a benchmark that wants a fresh server for each op).
func launchSandbox(b *testing.B, args ...string) (sb *benchSandbox, stop func()) {
	b.Helper()
	_, bin := benchBinaries(b)
	dir := b.TempDir()
	ready := filepath.Join(dir, "ready")
	var out bytes.Buffer
	cmd := exec.Command(bin, append([]string{"--addr", "127.0.0.1:0", "--print-env", "--ready-file", ready}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			_ = cmd.Wait()
		})
	}
	defer func() {
		if sb == nil {
			stop()
		}
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the sandbox did not start:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // --print-env is written before the ready file; let stdout settle
	s := &benchSandbox{Env: map[string]string{}, Pid: cmd.Process.Pid}
	for line := range strings.Lines(out.String()) {
		if kv, ok := strings.CutPrefix(strings.TrimSpace(line), "export "); ok {
			k, v, _ := strings.Cut(kv, "=")
			s.Env[k] = v
		}
	}
	s.URL, s.Project = s.Env["MEDPLUM_BASE_URL"], s.Env["MEDPLUM_PROJECT_ID"]
	resp, err := http.PostForm(s.URL+"oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {s.Env["MEDPLUM_CLIENT_ID"]}, "client_secret": {s.Env["MEDPLUM_CLIENT_SECRET"]}})
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		b.Fatalf("token: %v %q", err, tok.AccessToken)
	}
	s.Token = tok.AccessToken
	return s, stop
}

// env is the environment of a medplum process signed in with the token.
func (sb *benchSandbox) env(home string) []string {
	return []string{"HOME=" + home, "MEDPLUM_CONFIG_DIR=" + filepath.Join(home, "config"),
		"MEDPLUM_CACHE_DIR=" + filepath.Join(home, "cache"), "PATH=" + os.Getenv("PATH"),
		"MEDPLUM_BASE_URL=" + sb.URL, "MEDPLUM_CLIENT_ACCESS_TOKEN=" + sb.Token}
}

// procRun is one finished process.
type procRun struct {
	wall, cpu time.Duration
}

// runProc runs the binary to the end with stdout to /dev/null and fails the
// benchmark if it does not exit 0.
func runProc(b *testing.B, dir string, env []string, bin string, args ...string) procRun {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, errOut.String())
	}
	return procRun{wall: wall, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
}

// peakRSS runs the binary under GNU time n times and returns the median
// peak resident set in MB, or -1 without /usr/bin/time. (A child's own
// rusage is no use on Linux: a process started from Go inherits the
// parent's high-water mark, the benchmark's, through vfork.)
func peakRSS(b *testing.B, n int, dir string, env []string, bin string, args ...string) float64 {
	b.Helper()
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		return -1
	}
	out := filepath.Join(b.TempDir(), "rss")
	var kb []float64
	for range n {
		runProc(b, dir, env, "/usr/bin/time", append([]string{"-f", "%M", "-o", out, bin}, args...)...)
		raw, err := os.ReadFile(out)
		if err != nil {
			b.Fatal(err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(string(raw)), 64)
		if err != nil {
			b.Fatalf("GNU time wrote %q", raw)
		}
		kb = append(kb, v)
	}
	return median(kb) / 1024
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// selfCPU is the user+system CPU time this process has used.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStartup: one op runs one process of each kind below, in a
// random order, so that all of them see the same machine and none always
// follows the same one (a process started right after the raw request ran
// 0.1-0.2 ms slower while the sandbox closed raw's connection); each from
// one of startupCopies copies of its binary, in turn (two copies of one
// binary differ by up to 0.28 ms: the page-cache pages a binary lands on
// matter at this scale; docs/benchmarks.md, third pass). Run with
// -benchtime 200x or more:
//
//	hello    a hello-world Go binary built with the same flags: the floor
//	version  medplum --version
//	help     medplum --help
//	raw      a minimal Go binary that sends one GET with the client's id
//	         and secret as HTTP Basic credentials and copies the answer to
//	         stdout: the floor of a single request
//	get-env  medplum get of the same URL with MEDPLUM_CLIENT_ID and
//	         MEDPLUM_CLIENT_SECRET in the environment (the README's CI
//	         recipe)
//	get      medplum get Project/<id> with MEDPLUM_CLIENT_ACCESS_TOKEN
//
// Metrics per variant (ms/run:hello, ...): the medians of wall and CPU
// time, peak RSS for some, and x-floor, the median wall time over the
// floor's (version and help over hello; get-env and get over raw). Goals
// (issue 12): version within 2x hello, get-env within 1.2x raw.
func BenchmarkStartup(b *testing.B) {
	bin, _ := benchBinaries(b)
	hello, raw := floorBinaries(b)
	sb := startSandbox(b, "--invite-cost", "0")
	home := b.TempDir()
	search := sb.URL + "fhir/R4/ProjectMembership?profile-type=Patient"
	tokenEnv := sb.env(home)
	clientEnv := sb.clientEnv(home)
	type variant struct {
		name, floor string
		env         []string
		bin         string
		args        []string
		rss         bool
	}
	variants := []variant{
		{name: "hello", env: tokenEnv, bin: hello, rss: true},
		{name: "version", floor: "hello", env: tokenEnv, bin: bin, args: []string{"--version"}, rss: true},
		{name: "help", floor: "hello", env: tokenEnv, bin: bin, args: []string{"--help"}},
		{name: "raw", env: clientEnv, bin: raw, args: []string{search}},
		{name: "get-env", floor: "raw", env: clientEnv, bin: bin, args: []string{"get", "ProjectMembership?profile-type=Patient"}, rss: true},
		{name: "get", floor: "raw", env: tokenEnv, bin: bin, args: []string{"get", "Project/" + sb.Project}},
	}
	copies := map[string][]string{}
	for _, v := range variants {
		if copies[v.bin] == nil {
			copies[v.bin] = copyBinary(b, v.bin, startupCopies)
		}
	}
	wall := map[string][]float64{}
	cpu := map[string][]float64{}
	for _, v := range variants { // warm the page cache
		for _, bin := range copies[v.bin] {
			runProc(b, home, v.env, bin, v.args...)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2)) // the same orders every run
	b.ResetTimer()
	for i := range b.N {
		for _, j := range rng.Perm(len(variants)) {
			v := variants[j]
			r := runProc(b, home, v.env, copies[v.bin][i%startupCopies], v.args...)
			wall[v.name] = append(wall[v.name], ms(r.wall))
			cpu[v.name] = append(cpu[v.name], ms(r.cpu))
		}
	}
	b.StopTimer()
	for _, v := range variants {
		b.ReportMetric(median(wall[v.name]), "ms/run:"+v.name)
		b.ReportMetric(median(cpu[v.name]), "cpu-ms/run:"+v.name)
		if v.floor != "" {
			b.ReportMetric(median(wall[v.name])/median(wall[v.floor]), "x-floor:"+v.name)
		}
		if v.rss {
			if rss := peakRSS(b, 5, home, v.env, v.bin, v.args...); rss >= 0 {
				b.ReportMetric(rss, "MB-peak-RSS:"+v.name)
			}
		}
	}
}

// startupCopies is how many copies of each binary BenchmarkStartup runs.
const startupCopies = 3

// copyBinary makes n copies of the executable bin next to it and returns
// their paths.
func copyBinary(b *testing.B, bin string, n int) []string {
	b.Helper()
	data, err := os.ReadFile(bin)
	if err != nil {
		b.Fatal(err)
	}
	var paths []string
	for i := range n {
		p := fmt.Sprintf("%s-copy%d", bin, i+1)
		if err := os.WriteFile(p, data, 0o755); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// The floors of BenchmarkStartup, built like the medplum binary
// (-trimpath -s -w, CGO off), each as a module of its own.
const (
	helloSource = `package main

import "os"

func main() { os.Stdout.WriteString("hello\n") }
`
	// rawSource sends one GET with Basic client credentials and the
	// headers medplum sends, and copies the answer to stdout.
	rawSource = `package main

import (
	"io"
	"net/http"
	"os"
)

func main() {
	req, err := http.NewRequest("GET", os.Args[1], nil)
	if err != nil {
		os.Exit(2)
	}
	req.SetBasicAuth(os.Getenv("MEDPLUM_CLIENT_ID"), os.Getenv("MEDPLUM_CLIENT_SECRET"))
	req.Header.Set("Accept", "application/fhir+json")
	req.Header.Set("X-Medplum", "extended")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		os.Exit(1)
	}
	io.Copy(os.Stdout, resp.Body)
}
`
)

var (
	floorOnce     sync.Once
	floorHello    string
	floorRaw      string
	floorBuildErr error
)

func floorBinaries(b *testing.B) (hello, raw string) {
	b.Helper()
	benchBinaries(b) // the directory
	floorOnce.Do(func() {
		for _, p := range []struct {
			name, src string
			out       *string
		}{{"hello", helloSource, &floorHello}, {"rawget", rawSource, &floorRaw}} {
			dir := filepath.Join(benchBinDir, p.name+"-src")
			if floorBuildErr = os.MkdirAll(dir, 0o755); floorBuildErr != nil {
				return
			}
			if floorBuildErr = os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+p.name+"\n\ngo 1.26\n"), 0o644); floorBuildErr != nil {
				return
			}
			if floorBuildErr = os.WriteFile(filepath.Join(dir, "main.go"), []byte(p.src), 0o644); floorBuildErr != nil {
				return
			}
			*p.out = filepath.Join(benchBinDir, p.name)
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", *p.out, ".")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
			if out, err := cmd.CombinedOutput(); err != nil {
				floorBuildErr = fmt.Errorf("go build %s: %v\n%s", p.name, err, out)
				return
			}
		}
	})
	if floorBuildErr != nil {
		b.Fatal(floorBuildErr)
	}
	return floorHello, floorRaw
}

// clientEnv is the environment of a medplum process with the project-admin
// client's id and secret (the README's CI recipe).
func (sb *benchSandbox) clientEnv(home string) []string {
	return []string{"HOME=" + home, "MEDPLUM_CONFIG_DIR=" + filepath.Join(home, "config"),
		"MEDPLUM_CACHE_DIR=" + filepath.Join(home, "cache"), "PATH=" + os.Getenv("PATH"),
		"MEDPLUM_BASE_URL=" + sb.URL, "MEDPLUM_CLIENT_ID=" + sb.Env["MEDPLUM_CLIENT_ID"],
		"MEDPLUM_CLIENT_SECRET=" + sb.Env["MEDPLUM_CLIENT_SECRET"]}
}

// getAllMembers is the number of memberships BenchmarkGetAll reads, in
// pages of getAllPage: more than the 10,000 Medplum pages through with
// _offset.
const (
	getAllMembers = 12_000
	getAllPage    = 1000
)

// BenchmarkGetAll: one op reads every membership of a 12,000-member
// project, 1,000 per page (12 requests), once in each of these ways, in
// turn, so that all three see the same machine:
//
//	raw      a minimal net/http loop sending the requests get --all sends
//	         (the search sorted by _lastUpdated, whose next links carry a
//	         cursor; the same headers: X-Medplum: extended makes the
//	         answers 25% larger): GET, read, decode the Bundle's entries
//	         and links, follow next
//	client   client.Pages, what get --all uses, in this process
//	medplum  the binary: get 'ProjectMembership?_count=1000' --all -o ndjson
//	         > /dev/null, without _sort (a new process each op: start-up and
//	         output included)
//
// Before the ops, the binary's output is counted once: results:medplum is
// how many memberships it printed (all 12,000: the sandbox, like Medplum,
// refuses an _offset past 10,000). Metrics carry the variant after a colon
// (req/s:raw). Run with -benchtime 20x.
func BenchmarkGetAll(b *testing.B) {
	bin, _ := benchBinaries(b)
	sb := startSandbox(b, "--members", strconv.Itoa(getAllMembers-4), "--invite-cost", "0")
	first := fmt.Sprintf("%sfhir/R4/ProjectMembership?_count=%d&_sort=_lastUpdated", sb.URL, getAllPage)
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	c, err := client.New(client.Options{BaseURL: sb.URL, Auth: &auth.BearerToken{Token: sb.Token}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	home := b.TempDir()
	env := sb.env(home)
	args := []string{"get", fmt.Sprintf("ProjectMembership?_count=%d", getAllPage), "--all", "-o", "ndjson"}
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = home, env
	out, err := cmd.Output()
	if n := bytes.Count(out, []byte("\n")); err != nil || n != getAllMembers {
		b.Fatalf("get --all printed %d of %d memberships: %v", n, getAllMembers, err)
	}
	benchInterleaved(b, getAllMembers/getAllPage, []benchVariant{
		{name: "raw", op: inProcess(b, func() {
			if n, err := rawGetAll(ctx, hc, first, sb.Token); err != nil || n != getAllMembers {
				b.Fatalf("%d resources, %v", n, err)
			}
		})},
		{name: "client", op: inProcess(b, func() {
			n := 0
			for p, err := range c.Pages(ctx, first) {
				if err != nil {
					b.Fatal(err)
				}
				n += len(p.Bundle.Entry)
			}
			if n != getAllMembers {
				b.Fatalf("%d resources", n)
			}
		})},
		{name: "medplum", op: func() time.Duration { return runProc(b, home, env, bin, args...).cpu },
			rss: func() float64 { return peakRSS(b, 3, home, env, bin, args...) }},
	})
	b.ReportMetric(float64(getAllMembers), "results:medplum") // (after benchInterleaved, whose ResetTimer drops metrics)
}

// BenchmarkMembersListAll: one op is one process, `medplum members list
// --all` over a project of 10,000 or 100,000 memberships (the sandbox's
// generated members), printing -o ndjson or -o json to /dev/null, run
// under GNU time. The members are printed as they come, so the peak RSS
// must stay flat from 10k to 100k (issue 15: it held every membership,
// 106 MB for 12,013 on a real server). Reports the median wall and CPU
// time and peak RSS. Run with -benchtime 1x (100,000 members take the
// sandbox, which scans and sorts the project for each of the 100 pages,
// about half a minute).
func BenchmarkMembersListAll(b *testing.B) {
	timedAtScales(b,
		timedVariant{"ndjson", []string{"members", "list", "--all", "-o", "ndjson"}},
		timedVariant{"json", []string{"members", "list", "--all", "-o", "json"}})
}

// timedVariant is one way of running the binary: a sub-benchmark's name and
// the arguments.
type timedVariant struct {
	name string
	args []string
}

// timedAtScales runs each variant (timedRuns) against a sandbox project of
// 10,000 and one of 100,000 members (sub-benchmarks members=10k and
// members=100k), in a directory of its own.
func timedAtScales(b *testing.B, variants ...timedVariant) {
	bin, _ := benchBinaries(b)
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		b.Skip("needs GNU time (/usr/bin/time) for the peak RSS")
	}
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("members=%dk", n/1000), func(b *testing.B) {
			sb := startSandbox(b, "--members", strconv.Itoa(n-4), "--invite-cost", "0")
			home := b.TempDir()
			env := sb.env(home)
			for _, v := range variants {
				b.Run(v.name, func(b *testing.B) { timedRuns(b, home, env, bin, v.args...) })
			}
		})
	}
}

// timedRuns runs the binary b.N times under GNU time and reports the
// median wall time, CPU time and peak resident set.
func timedRuns(b *testing.B, home string, env []string, bin string, args ...string) {
	b.Helper()
	var wall, cpu, rss []float64
	for range b.N {
		t := timeProc(b, home, env, bin, args...)
		wall, cpu, rss = append(wall, ms(t.wall)), append(cpu, ms(t.cpu)), append(rss, t.rssMB)
	}
	b.ReportMetric(median(wall), "ms/run")
	b.ReportMetric(median(cpu), "cpu-ms/run")
	b.ReportMetric(median(rss), "MB-peak-RSS")
}

// BenchmarkApplyExport: apply export of a project of 10,000 and 100,000
// members, the members inline (the YAML on stdout) and in a CSV. Members
// are written a page at a time, so the peak memory should grow with the
// keys kept to list each person once, not with the members' documents.
func BenchmarkApplyExport(b *testing.B) {
	timedAtScales(b,
		timedVariant{"inline", []string{"apply", "export"}},
		timedVariant{"csv", []string{"apply", "export", "--members-csv", "members.csv"}})
}

// benchVariant is one way of doing a benchmark's op: op does it once and
// returns the CPU time it took; rss, if set, measures peak RSS afterwards.
type benchVariant struct {
	name string
	op   func() time.Duration
	rss  func() float64
	prep func() // before each op, untimed
}

// inProcess wraps an op run in this process: its CPU is this process's.
// A collection first keeps the previous variant's garbage out of it.
func inProcess(b *testing.B, f func()) func() time.Duration {
	return func() time.Duration {
		runtime.GC()
		cpu0 := selfCPU(b)
		f()
		return selfCPU(b) - cpu0
	}
}

// benchInterleaved runs every variant once per op, in turn, and reports
// for each req/s:<name> and cpu-us/req:<name> (reqs requests per op), and
// MB-peak-RSS:<name> where it can be measured.
func benchInterleaved(b *testing.B, reqs int, variants []benchVariant) {
	b.Helper()
	for _, v := range variants { // warm up: connections, caches
		if v.prep != nil {
			v.prep()
		}
		v.op()
	}
	wall := make([]time.Duration, len(variants))
	cpu := make([]time.Duration, len(variants))
	b.ResetTimer()
	for range b.N {
		for i, v := range variants {
			if v.prep != nil {
				v.prep()
			}
			t0 := time.Now()
			cpu[i] += v.op()
			wall[i] += time.Since(t0)
		}
	}
	b.StopTimer()
	total := float64(reqs * b.N)
	for i, v := range variants {
		b.ReportMetric(total/wall[i].Seconds(), "req/s:"+v.name)
		b.ReportMetric(float64(cpu[i].Microseconds())/total, "cpu-us/req:"+v.name)
		if v.rss != nil {
			if rss := v.rss(); rss >= 0 {
				b.ReportMetric(rss, "MB-peak-RSS:"+v.name)
			}
		}
	}
}

// rawGetAll is the practical limit of get --all: what any client must do.
func rawGetAll(ctx context.Context, hc *http.Client, next, token string) (int, error) {
	n := 0
	for next != "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return n, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/fhir+json")
		req.Header.Set("X-Medplum", "extended")
		resp, err := hc.Do(req)
		if err != nil {
			return n, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return n, fmt.Errorf("GET %s: %d %v", next, resp.StatusCode, err)
		}
		var page struct {
			Entry []json.RawMessage `json:"entry"`
			Link  []struct {
				Relation string `json:"relation"`
				URL      string `json:"url"`
			} `json:"link"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return n, err
		}
		n += len(page.Entry)
		next = ""
		for _, l := range page.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
	}
	return n, nil
}

// Bulk invite overhead: invites at inviteConcurrency in flight against a
// sandbox that never answers with a conflict, so that the raw loop needs no
// retries and every variant sends the same requests. Two servers:
// inviteRows invites that cost nothing (the client alone is measured),
// costRows invites that cost what Medplum's do, scaled down by
// inviteCostScale, and fullCostRows invites at the model's full cost (what
// an administrator waits for).
const (
	inviteRows        = 2000
	inviteConcurrency = 8
	costRows          = 1000
	inviteCostScale   = 50
	fullCostRows      = 200
)

// BenchmarkInviteOverhead: one op invites 2,000 new users, 8 at a time,
// against a sandbox whose invites cost nothing, in each of these ways, in
// turn:
//
//	raw         8 goroutines POSTing admin/projects/<p>/invite (the limit)
//	bulk        the bulk engine in this process: CSV check, journal (fsync'd
//	            in group commits) in the temporary directory, retries, limiter
//	bulk-tmpfs  the same with the journal in /dev/shm, where fsync costs
//	            nothing: the engine without the disk
//	medplum     the binary: invite --csv users.csv --concurrency 8 -q
//
// Metrics carry the variant after a colon. Run with -benchtime 5x.
func BenchmarkInviteOverhead(b *testing.B) {
	benchInvites(b, inviteRows, "--invite-cost", "0")
}

// BenchmarkInviteOverheadAtCost: the same comparison (raw, bulk,
// bulk-tmpfs, medplum; 1,000 invites, 8 at a time) against a sandbox whose
// invites cost what medplumtest's realistic model charges
// (RealisticInviteParallel outside, RealisticInviteSerial inside the
// project's serialized section), divided by inviteCostScale: 1.2 ms + 0.8
// ms, so that an op takes seconds, not minutes. Conflicts stay off. Run
// with -benchtime 5x.
func BenchmarkInviteOverheadAtCost(b *testing.B) {
	cost := fmt.Sprintf("%s,%s", medplumtest.RealisticInviteParallel/inviteCostScale, medplumtest.RealisticInviteSerial/inviteCostScale)
	benchInvites(b, costRows, "--invite-cost", cost)
}

// BenchmarkInviteOverheadFullCost: the same comparison against a sandbox
// whose invites cost medplumtest's realistic model in full
// (RealisticInviteParallel + RealisticInviteSerial, 60 ms + 40 ms, as
// measured on Medplum 5.0.10), conflicts off: fullCostRows invites, 8 at a
// time. Here the server's serialized section is the limit, as it is on a
// real Medplum. Run with -benchtime 3x (an op takes about half a minute).
func BenchmarkInviteOverheadFullCost(b *testing.B) {
	benchInvites(b, fullCostRows, "--invite-cost", "realistic")
}

// benchInvites runs the invite comparison: n invites per variant and op,
// against a sandbox started with args (plus no conflicts and a mailer).
func benchInvites(b *testing.B, n int, args ...string) {
	bin, _ := benchBinaries(b)
	sb := startSandbox(b, append(args, "--conflict-rate", "0", "--mailer")...)
	var run atomic.Int64 // makes every op's e-mails new
	rows := func(prefix string) string {
		var s strings.Builder
		s.WriteString("role,firstName,lastName,email\n")
		for i := range n {
			fmt.Fprintf(&s, "Practitioner,First%d,Last%d,%s-%d@example.com\n", i, i, prefix, i)
		}
		return s.String()
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: inviteConcurrency}}
	inviteURL := sb.URL + "admin/projects/" + sb.Project + "/invite"
	c, err := client.New(client.Options{BaseURL: sb.URL, Auth: &auth.BearerToken{Token: sb.Token}})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	env := sb.env(dir)
	csv := filepath.Join(dir, "users.csv")
	var bulkData string

	variants := []benchVariant{
		{name: "raw", op: inProcess(b, func() {
			if err := rawInvites(hc, inviteURL, sb.Token, fmt.Sprintf("raw%d", run.Add(1)), n); err != nil {
				b.Fatal(err)
			}
		})},
		{name: "bulk", prep: func() { bulkData = rows(fmt.Sprintf("bulk%d", run.Add(1))) },
			op: inProcess(b, func() { runBulk(b, c, sb, bulkData, dir, n) })},
		{name: "medplum", prep: func() {
			if err := os.WriteFile(csv, []byte(rows(fmt.Sprintf("cli%d", run.Add(1)))), 0o600); err != nil {
				b.Fatal(err)
			}
			os.Remove(csv + ".journal")
		}, op: func() time.Duration {
			return runProc(b, dir, env, bin, "invite", "--csv", "users.csv", "--concurrency", strconv.Itoa(inviteConcurrency), "-q").cpu
		}},
	}
	// The same engine with its journal in memory (tmpfs): what it costs
	// without waiting for the disk.
	if shm, err := os.MkdirTemp("/dev/shm", "medplum-bench-"); err == nil {
		b.Cleanup(func() { os.RemoveAll(shm) })
		variants = append(variants, benchVariant{name: "bulk-tmpfs", prep: func() { bulkData = rows(fmt.Sprintf("shm%d", run.Add(1))) },
			op: inProcess(b, func() { runBulk(b, c, sb, bulkData, shm, n) })})
	}
	benchInterleaved(b, n, variants)
}

// runBulk runs the bulk engine on data (n rows), its journal in dir.
func runBulk(b *testing.B, c *client.Client, sb *benchSandbox, data, dir string, n int) {
	check, err := bulk.Check(strings.NewReader(data), bulk.Options{})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "bulk.csv.journal")
	j, resume, err := bulk.OpenJournal(path, bulk.JournalKey{Input: check.DigestString(), Server: sb.URL, Project: sb.Project})
	if err != nil {
		b.Fatal(err)
	}
	st, err := bulk.Run(context.Background(), strings.NewReader(data), bulk.RunConfig{
		Client: c, Project: sb.Project, Check: check, Journal: j, Resume: resume, Concurrency: inviteConcurrency,
	})
	j.Close()
	os.Remove(path)
	if err != nil || st.Counts[bulk.Created] != n {
		b.Fatalf("%v %v", st.Counts, err)
	}
}

// rawInvites sends n invites from inviteConcurrency goroutines.
func rawInvites(hc *http.Client, u, token, prefix string, n int) error {
	var next atomic.Int64
	errs := make(chan error, inviteConcurrency)
	var wg sync.WaitGroup
	for range inviteConcurrency {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					errs <- nil
					return
				}
				body := fmt.Sprintf(`{"resourceType":"Practitioner","firstName":"First%d","lastName":"Last%d","email":"%s-%d@example.com","sendEmail":false}`, i, i, prefix, i)
				req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/fhir+json")
				req.Header.Set("X-Medplum", "extended")
				resp, err := hc.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("invite %d: %d %v", i, resp.StatusCode, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Bot deploys (BenchmarkBotDeploy): 20 bots of one medplum.config.json,
// each with a new build, deployed
//
//	loop        as a CI job does with a tool that takes one bot at a time: a
//	            sequential loop of 20 `medplum bot deploy <name>` processes
//	medplum-c1  one `medplum bot deploy 'bench-*' --concurrency 1`
//	medplum     one `medplum bot deploy 'bench-*'` (4 bots at a time)
//	unchanged   the same with nothing changed (a CI run after a commit that
//	            touched no bot): compared and skipped
//
// against a sandbox whose requests cost what a real Medplum 5.0.10's do on
// loopback (measured on the reference machine, medians of 21: reads 6 ms,
// a Binary upload 10 ms, a PATCH 22 ms, a vmcontext $deploy 18 ms; the
// model: 6 ms for every request, 12 ms more for a $deploy). Each process
// signs in with the client's id and secret from the environment, as in CI.
// One op deploys all 20 bots once in each way, in turn.
const (
	benchBots        = 20
	benchBotLatency  = "6ms"
	benchDeployExtra = "12ms"
)

// timeVariants runs every variant once per op, in turn, its prep untimed,
// and returns each one's wall and CPU times in ms, op by op.
func timeVariants(b *testing.B, variants []benchVariant) (walls, cpus [][]float64) {
	walls = make([][]float64, len(variants))
	cpus = make([][]float64, len(variants))
	b.ResetTimer()
	for range b.N {
		for i, v := range variants {
			b.StopTimer()
			if v.prep != nil {
				v.prep()
			}
			b.StartTimer()
			t0 := time.Now()
			cpu := v.op()
			walls[i] = append(walls[i], ms(time.Since(t0)))
			cpus[i] = append(cpus[i], ms(cpu))
		}
	}
	b.StopTimer()
	return walls, cpus
}

func BenchmarkBotDeploy(b *testing.B) {
	bin, _ := benchBinaries(b)
	sb := startSandbox(b, "--invite-cost", "0", "--latency", benchBotLatency, "--bot-deploy-cost", benchDeployExtra)
	home := b.TempDir()
	env := []string{"HOME=" + home, "MEDPLUM_CONFIG_DIR=" + filepath.Join(home, "config"),
		"MEDPLUM_CACHE_DIR=" + filepath.Join(home, "cache"), "PATH=" + os.Getenv("PATH"),
		"MEDPLUM_BASE_URL=" + sb.URL, "MEDPLUM_CLIENT_ID=" + sb.Env["MEDPLUM_CLIENT_ID"],
		"MEDPLUM_CLIENT_SECRET=" + sb.Env["MEDPLUM_CLIENT_SECRET"]}
	version := 0
	build := func() { // a new build of every bot
		version++
		for i := 1; i <= benchBots; i++ {
			code := fmt.Sprintf("exports.handler = async function (medplum, event) { return { bot: %d, build: %d, input: event.input }; };\n", i, version)
			if err := os.WriteFile(filepath.Join(home, fmt.Sprintf("dist/bench-%02d.js", i)), []byte(code), 0o600); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, d := range []string{"src", "dist"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			b.Fatal(err)
		}
	}
	build()
	for i := 1; i <= benchBots; i++ {
		name := fmt.Sprintf("bench-%02d", i)
		src := fmt.Sprintf("export async function handler(medplum, event) { return { bot: %d, input: event.input }; }\n", i)
		if err := os.WriteFile(filepath.Join(home, "src", name+".ts"), []byte(src), 0o600); err != nil {
			b.Fatal(err)
		}
		runProc(b, home, env, bin, "bot", "create", name, "--source", "src/"+name+".ts", "--dist", "dist/"+name+".js")
	}
	proc := func(args ...string) func() time.Duration {
		return func() time.Duration { return runProc(b, home, env, bin, args...).cpu }
	}
	variants := []benchVariant{
		{name: "loop", prep: build, op: func() time.Duration {
			var cpu time.Duration
			for i := 1; i <= benchBots; i++ {
				cpu += runProc(b, home, env, bin, "bot", "deploy", fmt.Sprintf("bench-%02d", i)).cpu
			}
			return cpu
		}},
		{name: "medplum-c1", prep: build, op: proc("bot", "deploy", "bench-*", "--concurrency", "1")},
		{name: "medplum", prep: build, op: proc("bot", "deploy", "bench-*")},
		{name: "unchanged", op: proc("bot", "deploy", "bench-*")},
	}
	walls, cpus := timeVariants(b, variants)
	loop := median(walls[0])
	for i, v := range variants {
		w := median(walls[i])
		b.ReportMetric(w, "ms/run:"+v.name)
		b.ReportMetric(median(cpus[i]), "cpu-ms/run:"+v.name)
		b.ReportMetric(benchBots/(w/1000), "bots/s:"+v.name)
		b.ReportMetric(loop/w, "vs-loop:"+v.name)
	}
}

// benchExportMembers is the size of the sandbox project whose export
// BenchmarkExportDownload downloads (memberships, users and profiles: about
// 8 files, some MB).
const benchExportMembers = 20000

// BenchmarkExportDownload: downloading an export's files. raw is a loop of
// plain HTTP GETs of the manifest's URLs, one at a time, each written to a
// file; medplum is `bulk export` resuming the same finished job in a
// directory whose files were deleted (one status poll, then the downloads,
// --concurrency 4, each streamed to a part file, synced and renamed).
// Every request waits benchExportLatency in the sandbox first (a model of
// a real server's work per request). MB-peak-RSS is medplum's.
func BenchmarkExportDownload(b *testing.B) {
	bin, _ := benchBinaries(b)
	sb := startSandbox(b, "--invite-cost", "0", "--members", strconv.Itoa(benchExportMembers), "--latency", "20ms")
	home := b.TempDir()
	env := sb.env(home)
	runProc(b, home, env, bin, "bulk", "export", "-d", "out", "-q")
	raw, err := os.ReadFile(filepath.Join(home, "out", "manifest.json"))
	if err != nil {
		b.Fatal(err)
	}
	var m struct{ Output []struct{ Type, URL string } }
	if err := json.Unmarshal(raw, &m); err != nil {
		b.Fatal(err)
	}
	clear := func() {
		names, _ := filepath.Glob(filepath.Join(home, "out", "*.ndjson"))
		for _, n := range names {
			os.Remove(n)
		}
	}
	var size int64
	rawLoop := func() time.Duration {
		size = 0
		for i, o := range m.Output {
			resp, err := http.Get(o.URL)
			if err != nil {
				b.Fatal(err)
			}
			f, err := os.Create(filepath.Join(home, "raw-"+strconv.Itoa(i)))
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(f, resp.Body)
			resp.Body.Close()
			f.Close()
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("GET %s: %d %v", o.Type, resp.StatusCode, err)
			}
			size += n
		}
		return 0
	}
	variants := []benchVariant{
		{name: "raw", op: rawLoop},
		{name: "medplum", prep: clear, op: func() time.Duration {
			cpu := runProc(b, home, env, bin, "bulk", "export", "-d", "out", "-q").cpu
			// It downloaded every file again, all of it: a resume that
			// skipped them would time a no-op.
			names, _ := filepath.Glob(filepath.Join(home, "out", "*.ndjson"))
			var got int64
			for _, n := range names {
				if fi, err := os.Stat(n); err == nil {
					got += fi.Size()
				}
			}
			if len(names) != len(m.Output) || (size > 0 && got != size) {
				b.Fatalf("medplum wrote %d files, %d bytes; the export has %d files, %d bytes", len(names), got, len(m.Output), size)
			}
			return cpu
		}},
	}
	walls, _ := timeVariants(b, variants)
	clear()
	rss := peakRSS(b, 1, home, env, bin, "bulk", "export", "-d", "out", "-q")
	for i, v := range variants {
		w := median(walls[i])
		b.ReportMetric(w, "ms/run:"+v.name)
		b.ReportMetric(float64(size)/(1<<20)/(w/1000), "MiB/s:"+v.name)
		b.ReportMetric(float64(len(m.Output)), "files:"+v.name)
	}
	b.ReportMetric(rss, "MB-peak-RSS:medplum")
}
