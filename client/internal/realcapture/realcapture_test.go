package realcapture

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseWithRequestLine(t *testing.T) {
	raw := "# GET /auth/mfa/status as the user (Bearer)\n" +
		"HTTP/1.1 200 OK\nContent-Type: application/json; charset=utf-8\nContent-Length: 17\n" +
		"Date: Sun, 06 Dec 2026 22:32:25 GMT\nConnection: keep-alive\nKeep-Alive: timeout=90\n\n" +
		`{"enrolled":true}` + "\n"
	c, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if c.Request != "GET /auth/mfa/status as the user (Bearer)" || c.Status != 200 ||
		c.Header.Get("Date") != "Sun, 06 Dec 2026 22:32:25 GMT" || c.Header.Get("Keep-Alive") != "timeout=90" ||
		string(c.Body) != `{"enrolled":true}` {
		t.Errorf("got %+v, body %q", c, c.Body)
	}
}

func TestParseWithoutRequestLine(t *testing.T) {
	// Captures 01-91: no request line; an HTML body as long as announced
	// keeps its own final newline.
	raw := "HTTP/1.1 404 Not Found\nContent-Type: text/html; charset=utf-8\nContent-Length: 6\n\n<pre>\n"
	c, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if c.Request != "" || c.Status != 404 || string(c.Body) != "<pre>\n" {
		t.Errorf("got %+v, body %q", c, c.Body)
	}
}

func TestParseRedactedBody(t *testing.T) {
	// A placeholder changed the body's length: the file's own newline goes.
	raw := "HTTP/1.1 201 Created\nContent-Length: 99\n\n{\"secret\":\"<secret>\"}\n"
	c, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Body) != `{"secret":"<secret>"}` {
		t.Errorf("body %q", c.Body)
	}
}

func TestParseErrors(t *testing.T) {
	for _, raw := range []string{"# only a request line", "HTTP/1.1 200 OK\nno blank line", "HTTP/2 200\n\n{}", "HTTP/1.1 200 OK\nbad header\n\n{}"} {
		if _, err := Parse([]byte(raw)); err == nil {
			t.Errorf("%q: no error", raw)
		}
	}
}

// labelledJSON are the captures whose body the real server labelled JSON
// although it is not, with the reason.
var labelledJSON = map[string]string{
	"124g-bot-execute-json-returns-string": "a bot's string answer goes out in the request's type (execute.ts)",
}

// Every capture in the repository parses, and the ones numbered 100 and
// later name their request.
func TestEveryCaptureParses(t *testing.T) {
	names, err := Names()
	if err != nil || len(names) == 0 {
		t.Fatalf("no captures in %s: %v", Dir(), err)
	}
	for _, n := range names {
		c, err := Load(n)
		if err != nil {
			t.Error(err)
			continue
		}
		if len(n) > 2 && n[2] != '-' && !(n[2] >= 'a' && n[2] <= 'z') && c.Request == "" {
			t.Errorf("%s: no request line", n)
		}
		if strings.Contains(c.Header.Get("Content-Type"), "json") && len(bytes.TrimSpace(c.Body)) > 0 && c.Body[0] != '{' && c.Body[0] != '[' && labelledJSON[n] == "" {
			t.Errorf("%s: a JSON body that does not start with { or [", n)
		}
	}
}

// The shared reference (../shared/reference/real-server next to the
// repository, or MEDPLUM_REFERENCE_CAPTURES) is where new captures of the
// real server appear first; every one of them must be in testdata too,
// byte for byte, so that the contract tests (which list testdata) replay it
// or say why not. Without the reference (a fresh checkout, CI) there is
// nothing to compare.
func TestEveryReferenceCaptureIsInTestdata(t *testing.T) {
	ref := os.Getenv("MEDPLUM_REFERENCE_CAPTURES")
	if ref == "" {
		// Next to the repository, or (in a git worktree) next to the
		// checkout whose .git it shares.
		root := filepath.Join(Dir(), "..", "..")
		if b, err := os.ReadFile(filepath.Join(root, ".git")); err == nil {
			if gitdir, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: "); ok {
				if i := strings.Index(gitdir, string(filepath.Separator)+".git"+string(filepath.Separator)+"worktrees"+string(filepath.Separator)); i >= 0 {
					root = gitdir[:i]
				}
			}
		}
		ref = filepath.Join(root, "..", "shared", "reference", "real-server")
	}
	files, err := filepath.Glob(filepath.Join(ref, "*.http"))
	if err != nil || len(files) == 0 {
		t.Skipf("no reference captures in %s", ref)
	}
	for _, f := range files {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(Dir(), filepath.Base(f)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: not in %s as it is in the reference (copy it: %v)", filepath.Base(f), Dir(), err)
		}
	}
}
