package commands_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// sourceFiles are the Go files that make up the shipped binary: no tests,
// no test servers or harnesses, no other commands.
func sourceFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{"../auth", "../client", "."} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "medplumtest" || d.Name() == "clitest" || d.Name() == "testdata" || d.Name() == "internal") {
				return filepath.SkipDir
			}
			if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// Every environment variable the binary reads is in `medplum help
// environment`: each MEDPLUM_* name in the source, and each name passed to
// a getenv-like call.
func TestHelpEnvironmentListsEveryVariable(t *testing.T) {
	help := clitest.New(t).Run("help", "environment").ExpectCode(t, 0, "")
	medplumVar := regexp.MustCompile(`\bMEDPLUM_[A-Z_]+\b`)
	getenv := regexp.MustCompile(`(?i)(?:getenv|lookupenv|\.env)\("([A-Za-z_]+)"\)`)
	// Spelled differently in the help, and there in that spelling.
	implied := map[string]string{"HOME": "~/.config/medplum", "AppData": `%AppData%\medplum`}
	// The standard library reads these for medplum (on Linux).
	stdlib := map[string]string{"os.UserCacheDir()": "XDG_CACHE_HOME", "os.UserConfigDir()": "XDG_CONFIG_HOME"}
	found := map[string]string{}
	for _, f := range sourceFiles(t) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for call, v := range stdlib {
			if strings.Contains(string(src), call) {
				found[v] = f
			}
		}
		for _, v := range medplumVar.FindAllString(string(src), -1) {
			found[v] = f
		}
		for _, m := range getenv.FindAllStringSubmatch(string(src), -1) {
			found[m[1]] = f
		}
	}
	if len(found) < 15 {
		t.Fatalf("only %d variables found in the source: is the scan broken? %v", len(found), found)
	}
	for v, f := range found {
		if spelled, ok := implied[v]; ok {
			if !strings.Contains(help, spelled) {
				t.Errorf("%s (read in %s) is not in medplum help environment as %s", v, f, spelled)
			}
		} else if !regexp.MustCompile(`\b` + v + `\b`).MatchString(help) {
			t.Errorf("%s (read in %s) is not in medplum help environment", v, f)
		}
	}
	for _, v := range []string{"HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE"} {
		if !strings.Contains(help, v) {
			t.Errorf("%s is not in medplum help environment", v)
		}
	}
}

// HTTPS_PROXY and friends are honoured, as help environment says: a base
// URL on a host that does not exist is reached through the proxy.
func TestProxyFromEnvironment(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv).Set("MEDPLUM_BASE_URL", "http://medplum.invalid/").Set("HTTP_PROXY", srv.URL)
	out := e.Run("get", "Project/"+srv.Seed.ProjectID).ExpectCode(t, 0, "")
	if !strings.Contains(out, `"name": "`+srv.Seed.ProjectName+`"`) {
		t.Errorf("get through the proxy:\n%s", out)
	}
	clitest.ExpectPaths(t, srv, "GET /fhir/R4/Project/"+srv.Seed.ProjectID)
}

// Every exit code in commands/cmdutil is documented the same way in
// `medplum help exit-codes`, DESIGN.md and README.md.
func TestExitCodesDocumentedEverywhere(t *testing.T) {
	codes := exitCodes(t)
	if len(codes) < 8 {
		t.Fatalf("only %d exit codes found in cmdutil: %v", len(codes), codes)
	}
	help := clitest.New(t).Run("help", "exit-codes").ExpectCode(t, 0, "")
	design, err := os.ReadFile("../DESIGN.md")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	helpRow := regexp.MustCompile(`(?m)^  (\d+)\s+(.+)$`)
	tableRow := regexp.MustCompile("(?m)^\\| (\\d+) \\| (.+?) \\|$")
	for name, doc := range map[string]map[int]string{
		"help exit-codes": rows(helpRow, help),
		"DESIGN.md":       rows(tableRow, string(design)),
		"README.md":       rows(tableRow, string(readme)),
	} {
		for code, name2 := range codes {
			if _, ok := doc[code]; !ok {
				t.Errorf("%s does not document exit code %d (cmdutil.%s)", name, code, name2)
			}
		}
		for code, text := range doc {
			if _, ok := codes[code]; !ok {
				t.Errorf("%s documents exit code %d (%s), which cmdutil does not define", name, code, text)
			}
			if want := rows(helpRow, help)[code]; strings.ReplaceAll(text, "`", "") != want {
				t.Errorf("%s: exit code %d is %q, help exit-codes says %q", name, code, text, want)
			}
		}
	}
}

func rows(re *regexp.Regexp, s string) map[int]string {
	out := map[int]string{}
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		n, _ := strconv.Atoi(m[1])
		out[n] = strings.TrimSpace(m[2])
	}
	return out
}

// exitCodes reads the Exit* constants of commands/cmdutil: value -> name.
func exitCodes(t *testing.T) map[int]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "cmdutil/errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && strings.HasPrefix(n.Name, "Exit") {
					v, _ := strconv.Atoi(lit.Value)
					out[v] = n.Name
				}
			}
		}
	}
	return out
}

// `medplum help <topic>` with a typo is a usage error (exit 2) that lists
// the topics, not the root's help with exit 0; a command's help still works
// at any depth.
func TestHelpUnknownTopic(t *testing.T) {
	e := clitest.New(t)
	const hint = "help topics: apply-file, environment, exit-codes, formatting, invite-csv, review-rules; or a command: medplum help <command>\n"
	e.Run("help", "enviroment").Expect(t, 2, "", "medplum: unknown help topic \"enviroment\"\n"+hint)
	e.Run("help", "members", "lst").Expect(t, 2, "", "medplum: unknown help topic \"members lst\"\n"+hint)
	if out := e.Run("help", "members", "list").ExpectCode(t, 0, ""); !strings.HasPrefix(out, "List the members of the project") {
		t.Errorf("help members list:\n%s", out)
	}
	if out := e.Run("help").ExpectCode(t, 0, ""); !strings.Contains(out, "\nAvailable Commands:\n") {
		t.Errorf("help:\n%s", out)
	}
	e.Run("help", "exit-codes").Expect(t, 0, e.Run("exit-codes").ExpectCode(t, 0, ""), "")
}

// `medplum help <TAB>` offers the help topics as well as the commands.
func TestHelpCompletesTopics(t *testing.T) {
	e := clitest.New(t)
	e.Run("__complete", "help", "e").Expect(t, 0,
		"environment\tEnvironment variables that medplum reads\nexit-codes\tExit codes and what they mean\n:4\n",
		"Completion ended with directive: ShellCompDirectiveNoFileComp\n")
	e.Run("__complete", "help", "members", "l").Expect(t, 0,
		"list\tList the members of the project\n:4\n", "Completion ended with directive: ShellCompDirectiveNoFileComp\n")
	e.Run("__complete", "help", "environment", "").Expect(t, 0, ":4\n", "Completion ended with directive: ShellCompDirectiveNoFileComp\n")
}

// Help texts a newcomer trusted and found wrong against 5.0.10 (issue 11's
// review): each states what the server and the commands really do.
func TestHelpSaysWhatTheServerDoes(t *testing.T) {
	e := clitest.New(t)
	remove := e.Run("members", "remove", "--help").Stdout
	if strings.Contains(remove, "the server deletes") || !strings.Contains(remove, "Medplum 5.0.10 keeps the user") {
		t.Errorf("members remove --help: the server keeps a project-scoped user whose last membership is removed:\n%s", remove)
	}
	env := e.Run("help", "environment").Stdout
	if !strings.Contains(env, "refuses to guess it for another server") {
		t.Errorf("help environment: MEDPLUM_APP_URL's default is for api.medplum.com only; invite-link refuses it elsewhere:\n%s", env)
	}
}
