// Package clitest runs the real medplum binary the way a user does, for
// black-box tests: the binary is built once per test process (with a test
// version stamped in, and with -race when the tests run with -race), and
// each run gets an isolated environment — its own HOME and
// MEDPLUM_CONFIG_DIR, no inherited MEDPLUM_* variables, no D-Bus session (so
// the OS keyring is unreachable) unless the test asks — plus the stdin it is
// given. A run returns stdout, stderr and the exit code, and
// tests assert all three exactly.
//
//	func TestMain(m *testing.M) { clitest.Main(m) }
//
//	func TestVersion(t *testing.T) {
//		e := clitest.New(t)
//		e.Run("version").Expect(t, 0, clitest.VersionLine+"\n", "")
//	}
package clitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The version stamped into the test binary.
const (
	Version = "v0.0.0-test"
	Commit  = "abc1234"
	Date    = "2026-01-02T03:04:05Z"
	// VersionLine is what `medplum version` prints for the test binary.
	VersionLine = "medplum " + Version + " (commit " + Commit + ", built " + Date + ")"
)

// RunTimeout bounds one run, so a hung binary fails the test instead of
// hanging the suite. It is a safety net, not a measurement.
var RunTimeout = 2 * time.Minute

var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
)

// Main runs the tests and then removes the built binary, after running
// the package's own cleanups. Call it from TestMain in every package that
// uses clitest.
func Main(m *testing.M, cleanups ...func()) {
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// Binary returns the path of the medplum binary, building it on first use.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(build)
	if buildErr != nil {
		t.Fatalf("building medplum: %v", buildErr)
	}
	return binPath
}

func build() {
	root, err := moduleRoot()
	if err != nil {
		buildErr = err
		return
	}
	if buildDir, buildErr = os.MkdirTemp("", "medplum-clitest-"); buildErr != nil {
		return
	}
	name := "medplum"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	binPath = filepath.Join(buildDir, name)
	pkg := "github.com/medplumcli/medplum/commands/version"
	ldflags := fmt.Sprintf("-X %[1]s.Version=%[2]s -X %[1]s.Commit=%[3]s -X %[1]s.Date=%[4]s", pkg, Version, Commit, Date)
	args := []string{"build", "-ldflags", ldflags, "-o", binPath}
	cgo := "CGO_ENABLED=0" // as released
	if raceBuild {
		args, cgo = append(args, "-race"), "CGO_ENABLED=1" // -race needs cgo
	}
	noteSources(root)
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), cgo)
	if out, err := cmd.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("%v\n%s", err, out)
	}
}

// noteSources stats every file of the module (but tests, .git and
// node_modules) from the test process. The binary is built by a child `go
// build`, whose reads go's test cache does not see: it keys a package's
// result on the test binary and on the files the test itself touches. Without this, a change to
// product code the test binary does not link (a command only reached
// through the built binary) left `go test` answering "ok (cached)" from
// before the change.
func noteSources(root string) {
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		switch {
		case err != nil:
			return nil
		case d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules"):
			return filepath.SkipDir
		case d.Type().IsRegular() && !strings.HasSuffix(path, "_test.go"):
			_, _ = os.Stat(path)
		}
		return nil
	})
}

// moduleRoot finds the directory of go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Env is an isolated environment for runs of the binary.
type Env struct {
	t testing.TB
	// Home is the HOME of every run; ConfigDir is its MEDPLUM_CONFIG_DIR.
	Home      string
	ConfigDir string
	vars      map[string]string
}

// inherited are the only variables passed through from the test process.
var inherited = []string{"PATH", "TMPDIR", "SYSTEMROOT", "GOCOVERDIR"}

// Environ is what the binary's environment needs besides a test's own
// variables: with -race, GORACE=atexit_sleep_ms=0 (plus the test process's
// GORACE), because a race-built binary otherwise sleeps a second before every
// exit, to let late race reports finish, and the tests run it thousands of
// times. Env adds it; tests that build an environment of their own for the
// binary append it. Without -race it is empty.
func Environ() []string {
	if !raceBuild {
		return nil
	}
	return []string{strings.TrimSpace("GORACE=atexit_sleep_ms=0 " + os.Getenv("GORACE"))}
}

// New returns an Env with a fresh HOME and config directory. In make
// test-real it skips a test that does not run against a Target.
func New(t testing.TB) *Env {
	t.Helper()
	skipOutsideTarget(t)
	Binary(t)
	home := t.TempDir()
	e := &Env{t: t, Home: home, ConfigDir: filepath.Join(home, "config"), vars: map[string]string{}}
	for _, k := range inherited {
		if v, ok := os.LookupEnv(k); ok {
			e.vars[k] = v
		}
	}
	for _, kv := range Environ() {
		k, v, _ := strings.Cut(kv, "=")
		e.vars[k] = v
	}
	e.vars["HOME"] = home
	e.vars["MEDPLUM_CONFIG_DIR"] = e.ConfigDir
	return e
}

// Environ is the environment the binary runs with, as KEY=value (for a
// test that runs it from a shell script).
func (e *Env) Environ() []string {
	var out []string
	for k, v := range e.vars {
		out = append(out, k+"="+v)
	}
	return out
}

// Set sets an environment variable for later runs ("" keeps it set, empty).
func (e *Env) Set(key, value string) *Env {
	e.vars[key] = value
	return e
}

// Unset removes an environment variable for later runs.
func (e *Env) Unset(key string) *Env {
	delete(e.vars, key)
	return e
}

// InheritSessionBus passes the test process's D-Bus session through, for
// tests of the real OS keyring.
func (e *Env) InheritSessionBus() *Env {
	for _, k := range []string{"DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"} {
		if v, ok := os.LookupEnv(k); ok {
			e.vars[k] = v
		}
	}
	return e
}

// Result is the outcome of one run.
type Result struct {
	Args   []string
	Stdout string
	Stderr string
	Code   int
	// Signaled: the process ended by a signal; Code is then 128 + its
	// number, as a shell's $? shows it.
	Signaled bool
}

// Run runs the binary with args and empty stdin.
func (e *Env) Run(args ...string) Result {
	e.t.Helper()
	return e.RunStdin("", args...)
}

// RunStdin runs the binary with args, feeding stdin.
func (e *Env) RunStdin(stdin string, args ...string) Result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), RunTimeout)
	defer cancel()
	p := e.start(ctx, stdin, args)
	return p.wait()
}

// Proc is a run in progress (see Start).
type Proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	args   []string
	stdout LockedBuffer
	stderr LockedBuffer
	cancel context.CancelFunc
}

// Stderr is what the running binary has written to stderr so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// Stdout is what the running binary has written to stdout so far.
func (p *Proc) Stdout() string { return p.stdout.String() }

// LockedBuffer is a bytes.Buffer that a running process writes to while
// the test reads it.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start starts the binary and returns at once; Wait collects the result.
func (e *Env) Start(args ...string) *Proc {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), RunTimeout)
	p := e.start(ctx, "", args)
	p.cancel = cancel
	return p
}

func (e *Env) start(ctx context.Context, stdin string, args []string) *Proc {
	e.t.Helper()
	p := &Proc{t: e.t, args: args}
	p.cmd = exec.CommandContext(ctx, Binary(e.t), args...)
	p.cmd.Dir = e.Home
	p.cmd.Stdin = strings.NewReader(stdin)
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	for k, v := range e.vars {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	if err := p.cmd.Start(); err != nil {
		e.t.Fatalf("starting medplum: %v", err)
	}
	return p
}

// Signal sends a signal to the running binary.
func (p *Proc) Signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal: %v", err)
	}
}

// Kill kills the binary at once (SIGKILL: no chance to clean up, as after
// kill -9 or a power cut) and returns what it wrote until then, with Code -1.
func (p *Proc) Kill() Result {
	p.t.Helper()
	if p.cancel != nil {
		defer p.cancel()
	}
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatalf("kill: %v", err)
	}
	_ = p.cmd.Wait()
	return Result{Args: p.args, Stdout: p.stdout.String(), Stderr: p.stderr.String(), Code: -1}
}

// Wait waits for the run to end.
func (p *Proc) Wait() Result {
	p.t.Helper()
	if p.cancel != nil {
		defer p.cancel()
	}
	return p.wait()
}

func (p *Proc) wait() Result {
	p.t.Helper()
	err := p.cmd.Wait()
	r := Result{Args: p.args, Stdout: p.stdout.String(), Stderr: p.stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.Code = ee.ExitCode()
	case errors.As(err, &ee) && signalCode(ee) != 0:
		// Ended by a signal (an interrupted run ends by its Ctrl-C): the
		// code a shell's $? shows, 128 + the signal.
		r.Code, r.Signaled = signalCode(ee), true
	default:
		p.t.Fatalf("medplum %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(p.args, " "), err, r.Stdout, r.Stderr)
	}
	return r
}

// Expect asserts the exit code, stdout and stderr exactly.
func (r Result) Expect(t testing.TB, code int, stdout, stderr string) {
	t.Helper()
	if r.Code != code || r.Stdout != stdout || r.Stderr != stderr {
		t.Errorf("medplum %s\n%s", quoteArgs(r.Args), diff(r, code, stdout, stderr))
	}
}

// ExpectCode asserts the exit code and stderr exactly, and returns stdout
// for a closer look (e.g. JSON with server-generated ids).
func (r Result) ExpectCode(t testing.TB, code int, stderr string) string {
	t.Helper()
	if r.Code != code || r.Stderr != stderr {
		t.Errorf("medplum %s\n%s", quoteArgs(r.Args), diff(r, code, r.Stdout, stderr))
	}
	return r.Stdout
}

// NotContains fails if stdout or stderr contains any of the secrets.
func (r Result) NotContains(t testing.TB, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s == "" {
			t.Fatal("NotContains: empty secret (the test would prove nothing)")
		}
		if strings.Contains(r.Stdout, s) {
			t.Errorf("medplum %s: stdout contains the secret %q", quoteArgs(r.Args), s)
		}
		if strings.Contains(r.Stderr, s) {
			t.Errorf("medplum %s: stderr contains the secret %q", quoteArgs(r.Args), s)
		}
	}
}

func diff(r Result, code int, stdout, stderr string) string {
	var b strings.Builder
	if r.Code != code {
		fmt.Fprintf(&b, "exit code: got %d, want %d\n", r.Code, code)
	}
	if r.Stdout != stdout {
		fmt.Fprintf(&b, "stdout: got\n%s\nwant\n%s\n", show(r.Stdout), show(stdout))
	}
	if r.Stderr != stderr {
		fmt.Fprintf(&b, "stderr: got\n%s\nwant\n%s\n", show(r.Stderr), show(stderr))
	}
	return b.String()
}

func show(s string) string {
	if s == "" {
		return "  (empty)"
	}
	var b strings.Builder
	for l := range strings.Lines(s) {
		fmt.Fprintf(&b, "  |%s", l)
		if !strings.HasSuffix(l, "\n") {
			b.WriteString("⏎ (no final newline)\n")
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " '\"?*&|;<>$") || a == "" {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}
