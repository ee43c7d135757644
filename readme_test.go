package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// cleanups run after the package's tests and benchmarks.
var cleanups []func()

func TestMain(m *testing.M) { clitest.Main(m, cleanups...) }

// TestREADMEExamples runs the shell examples of README.md, so that they
// cannot rot. The rules, for whoever writes a section:
//
//   - Every ```sh block runs, top to bottom in README order, each with
//     `bash -e -o pipefail`: every command in it must succeed. All blocks
//     share one working directory and one HOME and config directory, as a
//     reader following the README would (a profile set in one block is
//     there in the next), and one medplumtest sandbox server. The medplum
//     binary is on PATH, and the environment is signed in to the sandbox as
//     its project-admin client (MEDPLUM_BASE_URL, MEDPLUM_CLIENT_ID,
//     MEDPLUM_CLIENT_SECRET). Stdin is empty and not a terminal.
//   - Placeholders are filled in before a block runs (see placeholders):
//     <client id>, <client secret>, <project>, <membership> and the like,
//     and base URLs such as https://api.medplum.com/ or
//     https://api.staging.example.com/ point at the sandbox, which starts
//     without Homer (the examples invite him, as the Medplum guide does). $PASSWORD and
//     $CLIENT_SECRET are set. The sandbox also holds the ids the examples
//     use (AccessPolicy/123, named "Clinic staff", Patient/123,
//     Organization/abc and /def, DocumentReference/789 with an attachment,
//     Binary/456), and the working directory the files they
//     read (homer.json, users.csv, staff-export.csv, project.yaml,
//     members.csv). Any other <placeholder> fails the test.
//   - A block that cannot run against the sandbox says so with an HTML
//     comment on the line just above its fence (invisible on GitHub):
//     <!-- needs: WHAT --> (not run: it needs a real server, a browser, a
//     checkout of this repository, ... -- say what), <!-- synopsis -->
//     (usage lines, not commands), or <!-- tested by: TestName --> (another
//     test runs it; that test must exist). <!-- as: super admin --> runs
//     the block signed in as the sandbox's super-admin client instead.
//   - Other fences (```text, ```yaml, ```json) are not run; shell under
//     any other name (```bash, ```shell, ```zsh, ```console, ...), in any
//     case, and ```sh with anything after it or a longer fence are
//     refused: write exactly ```sh. So is a fence never closed.
func TestREADMEExamples(t *testing.T) {
	blocks := readmeBlocks(t, "README.md")
	if len(blocks) == 0 {
		t.Fatal("README.md: no ```sh blocks found")
	}
	srv := medplumtest.NewServer(t, medplumtest.WithMailer(), medplumtest.WithMembers(1))
	fx := newReadmeFixtures(t, srv)
	ran := 0
	for _, b := range blocks {
		switch b.mark.kind {
		case "needs", "synopsis":
			t.Logf("README.md:%d: not run (%s %s)", b.line, b.mark.kind, b.mark.arg)
			continue
		case "tested by":
			if !testExists(t, b.mark.arg) {
				t.Errorf("README.md:%d: <!-- tested by: %s -->, but no test function %s exists", b.line, b.mark.arg, b.mark.arg)
			}
			continue
		}
		ran++
		if !fx.run(t, b) {
			// Later blocks may build on this one: stop at the first failure.
			return
		}
	}
	t.Logf("README.md: %d of %d ```sh blocks ran against the sandbox", ran, len(blocks))
	if ran == 0 {
		t.Error("README.md: every ```sh block is marked; none ran against the sandbox")
	}
}

// A README block and the marker above it.
type readmeBlock struct {
	line  int // the line of the opening fence, 1-based
	lang  string
	lines []string
	mark  readmeMark
}

type readmeMark struct {
	kind string // "", "needs", "synopsis", "tested by" or "as"
	arg  string
}

var markRE = regexp.MustCompile(`^<!--\s*(needs|synopsis|tested by|as)\s*(?::\s*(.*?))?\s*-->$`)

// readmeBlocks parses the ```sh blocks of a Markdown file, and fails the
// test on a shell block under another name, a malformed marker or an
// unclosed fence.
func readmeBlocks(t *testing.T, name string) []readmeBlock {
	t.Helper()
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	blocks, problems := parseReadme(name, string(raw))
	for _, p := range problems {
		t.Error(p)
	}
	return blocks
}

// fenceRE is a code fence: three or more backticks or tildes, then the
// info string. Any indentation counts (a fence in a list item is indented).
var fenceRE = regexp.MustCompile("^[ \t]*(`{3,}|~{3,})(.*)$")

// shellLangs are the names GitHub highlights as shell, which must be
// written ```sh to run (anything else would be skipped without a word).
var shellLangs = []string{"bash", "shell", "zsh", "ksh", "fish", "console", "shell-session", "sh-session", "shellsession", "shell-script"}

// parseReadme returns the ```sh blocks of a Markdown text with their
// markers, and every problem that would let a shell example go unchecked.
// A block's language is the first word of its fence's info string, in any
// case (GitHub highlights ``` sh {.x} and ```SH as shell too).
func parseReadme(name, text string) ([]readmeBlock, []string) {
	var out []readmeBlock
	var problems []string
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		m := fenceRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		fence, info := m[1], strings.TrimSpace(m[2])
		lang := ""
		if f := strings.Fields(info); len(f) > 0 {
			lang = strings.ToLower(f[0])
		}
		b := readmeBlock{line: i + 1, lang: lang}
		closed := false
		for i++; i < len(lines); i++ {
			// The closing fence: the same character, at least as many, nothing after.
			if c := strings.TrimSpace(lines[i]); strings.HasPrefix(c, fence) && strings.Trim(c, fence[:1]) == "" {
				closed = true
				break
			}
			b.lines = append(b.lines, lines[i])
		}
		if !closed {
			problems = append(problems, fmt.Sprintf("%s:%d: the code fence %s is never closed", name, b.line, strings.TrimSpace(lines[b.line-1])))
		}
		switch {
		case slices.Contains(shellLangs, lang):
			problems = append(problems, fmt.Sprintf("%s:%d: a %s%s block: write ```sh so that TestREADMEExamples runs it (or mark it)", name, b.line, fence, info))
			continue
		case lang != "sh":
			continue
		case info != "sh" || fence != "```":
			problems = append(problems, fmt.Sprintf("%s:%d: write the fence %s%s as ```sh", name, b.line, fence, info))
		}
		if prev := previousNonEmpty(lines, b.line-1); strings.HasPrefix(prev, "<!--") {
			m := markRE.FindStringSubmatch(prev)
			switch {
			case m == nil:
				problems = append(problems, fmt.Sprintf("%s:%d: %q above a ```sh block is not a marker: use <!-- needs: WHAT -->, <!-- synopsis -->, <!-- tested by: TestName --> or <!-- as: super admin -->", name, b.line, prev))
			case m[1] != "synopsis" && m[2] == "":
				problems = append(problems, fmt.Sprintf("%s:%d: %q: say what (<!-- %s: ... -->)", name, b.line, prev, m[1]))
			case m[1] == "as" && m[2] != "super admin":
				problems = append(problems, fmt.Sprintf("%s:%d: %q: the only other identity is <!-- as: super admin -->", name, b.line, prev))
			default:
				b.mark = readmeMark{kind: m[1], arg: m[2]}
			}
		}
		out = append(out, b)
	}
	return out, problems
}

// No spelling of a shell block escapes TestREADMEExamples: each either
// runs (a block of language sh) or is reported.
func TestREADMEParserLeavesNoShellBlockUnchecked(t *testing.T) {
	for _, c := range []struct {
		doc     string
		runs    bool   // parsed as a block that runs
		problem string // the start of the one problem reported, if any
	}{
		{"```sh\nmedplum version\n```\n", true, ""},
		{"1. a step\n\n    ```sh\n    medplum version\n    ```\n", true, ""},
		{"```text\nmedplum version\n```\n", false, ""},
		{"```\nmedplum version\n```\n", false, ""},
		{"```bash\nmedplum version\n```\n", false, "R:1: a ```bash block: write ```sh"},
		{"```Console\n$ medplum version\n```\n", false, "R:1: a ```Console block: write ```sh"},
		{"~~~zsh\nmedplum version\n~~~\n", false, "R:1: a ~~~zsh block: write ```sh"},
		{"``` sh\nmedplum version\n```\n", true, ""},
		{"```SH\nmedplum version\n```\n", true, "R:1: write the fence ```SH as ```sh"},
		{"```sh {.copy}\nmedplum version\n```\n", true, "R:1: write the fence ```sh {.copy} as ```sh"},
		{"````sh\nmedplum version\n```\nstill inside\n````\n", true, "R:1: write the fence ````sh as ```sh"},
		{"```sh\nmedplum version\n", true, "R:1: the code fence ```sh is never closed"},
		{"<!-- need: a server -->\n```sh\nmedplum version\n```\n", true, "R:2: \"<!-- need: a server -->\" above a ```sh block is not a marker"},
		// A shell block inside another fence is an example of Markdown, not a command.
		{"````markdown\n```sh\nmedplum version\n```\n````\n", false, ""},
	} {
		blocks, problems := parseReadme("R", c.doc)
		if runs := len(blocks) == 1 && blocks[0].mark.kind == ""; runs != c.runs || len(blocks) > 1 {
			t.Errorf("%q: %d blocks %+v, want runs=%v", c.doc, len(blocks), blocks, c.runs)
		}
		switch {
		case c.problem == "" && len(problems) > 0:
			t.Errorf("%q: problems %q, want none", c.doc, problems)
		case c.problem != "" && (len(problems) != 1 || !strings.HasPrefix(problems[0], c.problem)):
			t.Errorf("%q: problems %q, want one starting %q", c.doc, problems, c.problem)
		}
	}
}

func previousNonEmpty(lines []string, fence int) string {
	for i := fence - 1; i >= 0; i-- {
		if s := strings.TrimSpace(lines[i]); s != "" {
			return s
		}
	}
	return ""
}

// testExists reports whether a test function of that name is in the module.
func testExists(t *testing.T, name string) bool {
	t.Helper()
	found := false
	decl := []byte("func " + name + "(t *testing.T)")
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || found {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && p != "." {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, "_test.go") {
			src, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			found = bytes.Contains(src, decl)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// readmeFixtures is what the blocks run with: the sandbox, a working
// directory, and the environment.
type readmeFixtures struct {
	srv          *medplumtest.Server
	dir          string
	env          []string
	placeholders map[string]string
}

// readmePassword is $PASSWORD: a new user's password in the examples.
const readmePassword = "correct-horse-battery-staple"

func newReadmeFixtures(t *testing.T, srv *medplumtest.Server) *readmeFixtures {
	t.Helper()
	sd := srv.Seed
	// The examples invite Homer, as the Medplum guide does: the sandbox
	// starts without him.
	c, err := client.New(client.Options{BaseURL: srv.URL, Auth: &auth.BearerToken{Token: srv.IssueToken(sd.Client.MembershipID)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteMembership(context.Background(), sd.ProjectID, sd.Homer.MembershipID); err != nil {
		t.Fatal(err)
	}
	for _, r := range []client.Resource{
		{"resourceType": "AccessPolicy", "id": "123", "name": "Clinic staff"},
		{"resourceType": "Patient", "id": "123", "name": []any{map[string]any{"given": []any{"Bart"}, "family": "Simpson"}}},
		{"resourceType": "Organization", "id": "abc", "name": "Organization abc"},
		{"resourceType": "Organization", "id": "def", "name": "Organization def"},
		{"resourceType": "Binary", "id": "456", "contentType": "text/plain", "data": "aGVsbG8K"},
		{"resourceType": "DocumentReference", "id": "789", "status": "current",
			"content": []any{map[string]any{"attachment": map[string]any{"contentType": "text/plain", "url": "Binary/456"}}}},
	} {
		srv.Create(sd.ProjectID, r)
	}
	dir := t.TempDir()
	for dst, src := range map[string]string{
		"homer.json":          "commands/invite/testdata/seed-homer.json",
		"users.csv":           "testdata/invite/users.csv",
		"staff-export.csv":    "testdata/invite/staff-export.csv",
		"project.yaml":        "testdata/apply/project.yaml",
		"members.csv":         "testdata/apply/members.csv",
		"src/hello-world.ts":  "testdata/bots/src/hello-world.ts",
		"dist/hello-world.js": "testdata/bots/dist/hello-world.js",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatalf("README fixture %s: %v", dst, err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, dst)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(dir, ".home")
	fx := &readmeFixtures{
		srv: srv,
		dir: dir,
		env: append([]string{
			"PATH=" + filepath.Dir(clitest.Binary(t)) + string(os.PathListSeparator) + os.Getenv("PATH"),
			"HOME=" + home,
			"MEDPLUM_CONFIG_DIR=" + filepath.Join(home, "config"),
			"MEDPLUM_CACHE_DIR=" + filepath.Join(home, "cache"),
			"MEDPLUM_BASE_URL=" + srv.URL,
			"MEDPLUM_CLIENT_ID=" + sd.Client.ID,
			"MEDPLUM_CLIENT_SECRET=" + sd.Client.Secret,
			"PASSWORD=" + readmePassword,
			"CLIENT_SECRET=" + sd.Client.Secret,
			"LC_ALL=C",
		}, clitest.Environ()...),
		// The placeholders the examples may use, and what they become.
		placeholders: map[string]string{
			"<client id>":     sd.Client.ID,
			"<id>":            sd.Client.ID,
			"<client secret>": sd.Client.Secret,
			"<secret>":        sd.Client.Secret,
			"<token>":         srv.IssueToken(sd.Client.MembershipID),
			"<project>":       sd.ProjectID,
			"<project id>":    sd.ProjectID,
			"<membership>":    sd.Generated[0].MembershipID,
		},
	}
	if tmp := os.Getenv("TMPDIR"); tmp != "" {
		fx.env = append(fx.env, "TMPDIR="+tmp)
	}
	return fx
}

var (
	// Base URLs in examples: the official server and example.com hosts.
	baseURLRE     = regexp.MustCompile(`https://api(\.[a-z0-9-]+)*\.(medplum|example)\.com/`)
	placeholderRE = regexp.MustCompile(`<[a-z][a-z -]*[a-z]>`)
)

// script fills in the placeholders of a block, or says which are unknown.
func (fx *readmeFixtures) script(b readmeBlock) (string, []string) {
	var unknown []string
	lines := make([]string, len(b.lines))
	for i, l := range b.lines {
		l = baseURLRE.ReplaceAllString(l, fx.srv.URL)
		for ph, v := range fx.placeholders {
			l = strings.ReplaceAll(l, ph, v)
		}
		for _, ph := range placeholderRE.FindAllString(l, -1) {
			unknown = append(unknown, fmt.Sprintf("README.md:%d: %s", b.line+1+i, ph))
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n") + "\n", unknown
}

// readmeBlockTimeout bounds one block: a safety net, not a measurement.
const readmeBlockTimeout = 2 * time.Minute

// run runs one block and reports whether it succeeded.
func (fx *readmeFixtures) run(t *testing.T, b readmeBlock) bool {
	t.Helper()
	script, unknown := fx.script(b)
	if len(unknown) > 0 {
		t.Errorf("README.md:%d: the ```sh block uses placeholders the test cannot fill in:\n  %s\nuse one of %s, or mark the block (rules: TestREADMEExamples in readme_test.go)",
			b.line, strings.Join(unknown, "\n  "), strings.Join(fx.placeholderNames(), ", "))
		return false
	}
	// The ERR trap names the failing line on fd 3; it is line 1 of the
	// script, so a block's line n is the script's line n+1.
	trap := `trap 'echo "$LINENO $?" >&3' ERR` + "\n"
	ctx, cancel := context.WithTimeout(context.Background(), readmeBlockTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", trap+script)
	cmd.Dir = fx.dir
	cmd.Env = fx.env
	if b.mark.kind == "as" {
		sa := fx.srv.Seed.SuperAdminClient
		cmd.Env = append(slices.Clone(fx.env), "MEDPLUM_CLIENT_ID="+sa.ID, "MEDPLUM_CLIENT_SECRET="+sa.Secret)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{w}
	err = cmd.Run()
	w.Close()
	var failed bytes.Buffer
	failed.ReadFrom(r)
	r.Close()
	if err == nil {
		return true
	}
	where := ""
	if f := strings.Fields(failed.String()); len(f) >= 1 {
		if n, convErr := strconv.Atoi(f[0]); convErr == nil && n >= 2 && n-2 < len(b.lines) {
			where = fmt.Sprintf(" at README.md:%d:\n    %s", b.line+n-1, strings.TrimSpace(b.lines[n-2]))
		}
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("still running after %v", readmeBlockTimeout)
	}
	t.Errorf("README.md:%d: the ```sh block failed%s\n  %v\n  stdout:\n%s\n  stderr:\n%s\n"+
		"Fix the example, or mark the block if it cannot run against the sandbox (rules: TestREADMEExamples in readme_test.go).",
		b.line, where, err, indent(lastLines(stdout.String(), 15)), indent(lastLines(stderr.String(), 30)))
	return false
}

func (fx *readmeFixtures) placeholderNames() []string {
	var names []string
	for ph := range fx.placeholders {
		names = append(names, ph)
	}
	slices.Sort(names)
	return names
}

// lastLines keeps the end of a long output, which is where a failure shows.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) <= n {
		return s
	}
	return fmt.Sprintf("(%d lines before)\n%s", len(lines)-n, strings.Join(lines[len(lines)-n:], "\n"))
}

func indent(s string) string {
	if s == "" {
		return "    (empty)"
	}
	return "    | " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    | ")
}

// README's CI gate is strict: no example passes on exit 7 (checks the
// review could not make); --allow-unchecked is the documented opt-out.
func TestREADMEGateIsStrict(t *testing.T) {
	text, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range readmeBlocks(t, "README.md") {
		if regexp.MustCompile(`\$\?\s*-eq\s*7|\$\?\s*==\s*7`).MatchString(strings.Join(b.lines, "\n")) {
			t.Errorf("README.md:%d: a --fail-on gate that accepts exit 7 (checks not made) passes blind; use --allow-unchecked to say so", b.line)
		}
	}
	if !strings.Contains(string(text), "--allow-unchecked") {
		t.Error("README.md does not show --allow-unchecked, the gate's explicit opt-out")
	}
}

// README's synopses of profile set and of members review, invite-link and
// reset-password name every flag of their own (the global ones are in the
// synopsis of the globals).
func TestREADMESynopsesNameEveryFlag(t *testing.T) {
	text, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	e := clitest.New(t)
	for _, cmd := range []string{"profile set", "members review", "members invite-link", "members reset-password"} {
		line := regexp.MustCompile(`(?m)^medplum ` + cmd + ` [<[].*$`).FindString(string(text))
		if line == "" {
			t.Errorf("README has no synopsis of %s", cmd)
			continue
		}
		for _, f := range ownFlags(t, e, cmd) {
			if !regexp.MustCompile(`[ [|]` + f + `[ \]|=]`).MatchString(line + " ") {
				t.Errorf("README's %s synopsis lacks %s:\n%s", cmd, f, line)
			}
		}
	}
}

// ownFlags are the flags a command's --help lists as its own, long form
// (--output for -o, --output), without --help.
func ownFlags(t *testing.T, e *clitest.Env, cmd string) []string {
	t.Helper()
	help := e.Run(append(strings.Fields(cmd), "--help")...).Stdout
	_, help, _ = strings.Cut(help, "\nFlags:\n")
	help, _, _ = strings.Cut(help, "\nGlobal Flags:")
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^\s+(-\w, )?(--[a-z-]+)`).FindAllStringSubmatch(help, -1) {
		switch {
		case m[2] == "--help":
		case m[1] != "":
			out = append(out, strings.TrimSuffix(m[1], ", "))
		default:
			out = append(out, m[2])
		}
	}
	return out
}

// Where a synopsis lists the values of -o (medplum members review ... -o
// table|csv|...), they are the command's output formats, all of them.
func TestREADMESynopsisOutputFormats(t *testing.T) {
	e := clitest.New(t)
	oRE := regexp.MustCompile(`-o ([a-z]+(?:\|[a-z]+)+)`)
	cmdRE := regexp.MustCompile(`^medplum ((?:[a-z-]+ ?)+)`)
	formatsRE := regexp.MustCompile(`output format: ([a-z, ]+)`)
	n := 0
	for _, b := range readmeBlocks(t, "README.md") {
		if b.mark.kind != "synopsis" {
			continue
		}
		for i, line := range b.lines {
			o, cmd := oRE.FindStringSubmatch(line), cmdRE.FindStringSubmatch(line)
			if o == nil || cmd == nil {
				continue
			}
			n++
			help := e.Run(append(strings.Fields(cmd[1]), "--help")...).Stdout
			f := formatsRE.FindStringSubmatch(help)
			if f == nil {
				t.Errorf("README.md:%d: medplum %s --help names no output formats", b.line+1+i, cmd[1])
				continue
			}
			want := strings.Split(strings.TrimSpace(f[1]), ", ")
			got := strings.Split(o[1], "|")
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("README.md:%d: -o %s; medplum %s takes -o %s", b.line+1+i, o[1], strings.TrimSpace(cmd[1]), strings.Join(want, "|"))
			}
		}
	}
	if n < 3 {
		t.Errorf("%d synopses with -o values: is README read?", n)
	}
}

// README says, where it shows how to install completion, that bash's needs
// the bash-completion package: without it every Tab prints
// "_get_comp_words_by_ref: command not found".
func TestREADMECompletionNeedsBashCompletion(t *testing.T) {
	text, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(text), "Shell completion: `medplum completion bash")
	if para, _, _ := strings.Cut(after, "\n\n"); !ok || !strings.Contains(para, "`bash-completion` package") {
		t.Errorf("README's paragraph on shell completion does not name the bash-completion package:\n%s", para)
	}
}
