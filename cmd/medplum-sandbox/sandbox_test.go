package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/medplumcli/medplum/commands/clitest"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// sandboxBinary builds cmd/medplum-sandbox once per test run.
func sandboxBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "medplum-sandbox-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "medplum-sandbox")
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		out, err := exec.Command(goBin, "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = &buildError{err, out}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return e.err.Error() + ": " + string(e.out) }

func TestMain(m *testing.M) {
	// clitest builds the medplum binary for the tests that run both CLIs.
	clitest.Main(m, func() {
		if builtBin != "" {
			os.RemoveAll(filepath.Dir(builtBin))
		}
	})
}

// sandbox is a running medplum-sandbox process.
type sandbox struct {
	cmd    *exec.Cmd
	url    string
	stdout *strings.Builder // complete once exited is closed
	exited chan struct{}
	err    error // the exit status, once exited is closed
}

// startSandbox runs the binary with --ready-file and waits until it listens.
func startSandbox(t *testing.T, args ...string) *sandbox {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command(sandboxBinary(t), append([]string{"--ready-file", ready}, args...)...)
	out := &strings.Builder{}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sb := &sandbox{cmd: cmd, stdout: out, exited: make(chan struct{})}
	var copied sync.WaitGroup
	copied.Add(1)
	go func() {
		defer copied.Done()
		_, _ = io.Copy(out, pr)
	}()
	go func() {
		sb.err = cmd.Wait()
		pw.Close()
		copied.Wait()
		close(sb.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-sb.exited
	})
	sb.url = waitReady(t, ready)
	return sb
}

// stop sends SIGTERM and waits for a clean exit.
func (sb *sandbox) stop(t *testing.T) string {
	t.Helper()
	if err := sb.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-sb.exited
	if sb.err != nil {
		t.Fatalf("sandbox exit: %v", sb.err)
	}
	return sb.stdout.String()
}

func TestSandboxPrintEnvAndGracefulStop(t *testing.T) {
	sb := startSandbox(t, "--print-env", "--client-id", "ci-client", "--client-secret", "ci-secret", "--members", "3")
	resp, err := http.Get(sb.url + "healthcheck")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthcheck: %d", resp.StatusCode)
	}
	tok := clientToken(t, sb.url, "ci-client", "ci-secret")
	b := getJSON(t, sb.url, tok, "fhir/R4/ProjectMembership?_count=0&_total=accurate")
	if b["total"] != float64(7) {
		t.Errorf("total %v, want 7 (4 seeded + 3 generated)", b["total"])
	}
	out := sb.stop(t)
	env := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "export ")
		if !ok {
			t.Fatalf("unexpected output line %q in\n%s", sc.Text(), out)
		}
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	if env["MEDPLUM_BASE_URL"] != sb.url || env["MEDPLUM_CLIENT_ID"] != "ci-client" || env["MEDPLUM_CLIENT_SECRET"] != "ci-secret" ||
		env["MEDPLUM_PROJECT_ID"] == "" || env["MEDPLUM_SANDBOX_SUPER_CLIENT_SECRET"] == "" {
		t.Errorf("env %v", env)
	}
}

func TestSandboxBanner(t *testing.T) {
	sb := startSandbox(t, "--client-id", "id1", "--client-secret", "s1", "--invite-cost", "0", "--project-name", "Acme Clinic")
	tok := clientToken(t, sb.url, "id1", "s1")
	me := getJSON(t, sb.url, tok, "auth/me")
	if p, _ := me["project"].(map[string]any); p["name"] != "Acme Clinic" {
		t.Errorf("auth/me project: %v", me["project"])
	}
	if m, _ := me["membership"].(map[string]any); m["profile"].(map[string]any)["display"] != "Acme Clinic Admin Client" {
		t.Errorf("auth/me membership: %v", me["membership"])
	}
	out := sb.stop(t)
	for _, want := range []string{"base URL:             " + sb.url + "\n", "  project:              Acme Clinic (", "client id:            id1\n", "client secret:        s1\n", "medplum-sandbox: stopped\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
}

func TestSandboxBadFlags(t *testing.T) {
	usage := "Usage: medplum-sandbox [flags]\n\nRuns an in-memory Medplum server for demos and tests.\n" +
		"It does not run bot code: a bot's $execute answers with what would run (the\n" +
		"bot, its code's SHA-256 and size) and the input, never with a result.\n\n"
	for _, tc := range []struct {
		args                 []string
		code                 int
		stderrPrefix, suffix string // stderr is prefix + (usage) + suffix
	}{
		{[]string{"--invite-cost", "fast"}, 2, "", "medplum-sandbox: --invite-cost \"fast\": want realistic, 0, or PARALLEL,SERIAL (e.g. 60ms,40ms)\n"},
		{[]string{"extra"}, 2, "", "medplum-sandbox: unexpected argument \"extra\"\n"},
		{[]string{"--bot-deploy-cost", "-1s"}, 2, "", "medplum-sandbox: --bot-deploy-cost -1s, --latency 0s: must not be negative\n"},
		{[]string{"--no-such-flag"}, 2, "flag provided but not defined: -no-such-flag\n" + usage, "medplum-sandbox: flag provided but not defined: -no-such-flag\n"},
		{[]string{"--help"}, 0, usage, ""},
	} {
		cmd := exec.Command(sandboxBinary(t), tc.args...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode()
		case err != nil:
			t.Fatal(err)
		}
		got := stderr.String()
		// The usage text, when printed, lists every flag between prefix and suffix.
		bad := code != tc.code || stdout.Len() != 0 || !strings.HasPrefix(got, tc.stderrPrefix) || !strings.HasSuffix(got, tc.suffix)
		if tc.stderrPrefix == "" {
			bad = bad || got != tc.suffix
		} else {
			bad = bad || !strings.Contains(got, "\n  -print-env\n")
		}
		if bad {
			t.Errorf("%v: exit %d, want %d\nstdout: %q\nstderr:\n%s", tc.args, code, tc.code, stdout.String(), got)
		}
	}
}

func clientToken(t *testing.T, base, id, secret string) string {
	t.Helper()
	resp, err := http.PostForm(base+"oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	tok, _ := m["access_token"].(string)
	if tok == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, m)
	}
	return tok
}

// getJSON GETs a path with a token; status must be 200.
func getJSON(t *testing.T, base, tok, path string) map[string]any {
	t.Helper()
	status, m := fetchJSON(t, base, tok, path)
	if status != 200 {
		t.Fatalf("GET %s: %d %v", path, status, m)
	}
	return m
}

func fetchJSON(t *testing.T, base, tok, path string) (int, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// A sandbox started with SIGINT ignored, as a shell starts a background
// job (make demo's), keeps it ignored: Ctrl-C at the terminal is for the
// foreground medplum command, and stopping the sandbox under it made that
// command fail with a dropped connection instead of "interrupted" (the
// flake of TestDemoInterrupted). Started normally, SIGINT stops it.
func TestSandboxKeepsSIGINTIgnored(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads the signal masks in /proc")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	// sh ignores SIGINT, then execs the sandbox (same pid), which inherits it.
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command(sh, "-c", `trap "" INT; exec "$0" "$@"`, sandboxBinary(t), "--ready-file", ready, "--invite-cost", "0")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	url := waitReady(t, ready)
	if ignored, caught := sigint(t, cmd.Process.Pid); !ignored || caught {
		t.Fatalf("started with SIGINT ignored: the sandbox has SIGINT ignored=%v, caught=%v; want it left ignored", ignored, caught)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url + "healthcheck")
	if err != nil {
		t.Fatalf("after SIGINT: %v", err)
	}
	resp.Body.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Errorf("SIGTERM: %v", err)
	}

	sb := startSandbox(t)
	if ignored, caught := sigint(t, sb.cmd.Process.Pid); ignored || !caught {
		t.Fatalf("started normally: SIGINT ignored=%v, caught=%v; want it caught", ignored, caught)
	}
	if err := sb.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-sb.exited
	if sb.err != nil || !strings.HasSuffix(sb.stdout.String(), "medplum-sandbox: stopped\n") {
		t.Errorf("SIGINT: %v\n%s", sb.err, sb.stdout)
	}
}

// waitReady waits for the sandbox's ready file and returns its URL.
func waitReady(t *testing.T, ready string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a safety net, not a measurement
	for {
		if b, err := os.ReadFile(ready); err == nil {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox did not write %s", ready)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sigint reads whether process pid ignores SIGINT and whether it has a
// handler for it (SigIgn, SigCgt in /proc/<pid>/status).
func sigint(t *testing.T, pid int) (ignored, caught bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	bit := uint64(1) << (int(syscall.SIGINT) - 1)
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		mask, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		switch k {
		case "SigIgn":
			ignored = mask&bit != 0
		case "SigCgt":
			caught = mask&bit != 0
		}
	}
	return ignored, caught
}

// postJSON sends a JSON body with a token and decodes the JSON answer.
func postJSON(t *testing.T, base, tok, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestSandboxBotsKnob(t *testing.T) {
	deploy := `{"code":"exports.handler = async () => 1;","filename":"index.js"}`
	for _, tc := range []struct {
		args   []string
		status int
	}{
		{nil, 200},
		{[]string{"--bots=false"}, 400},
	} {
		sb := startSandbox(t, append([]string{"--client-id", "c1", "--client-secret", "s1"}, tc.args...)...)
		tok := clientToken(t, sb.url, "c1", "s1")
		pid := getJSON(t, sb.url, tok, "auth/me")["project"].(map[string]any)["id"].(string)
		_, bot := postJSON(t, sb.url, tok, "admin/projects/"+pid+"/bot", `{"name":"b"}`)
		status, out := postJSON(t, sb.url, tok, "fhir/R4/Bot/"+bot["id"].(string)+"/$deploy", deploy)
		if status != tc.status || (status == 400 && !strings.Contains(fmt.Sprint(out), "Bots not enabled")) {
			t.Errorf("%v: deploy answered %d %v", tc.args, status, out)
		}
		sb.stop(t)
	}
}
