package authcmd_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m) }

var (
	browserOnce sync.Once
	browserBin  string
	browserErr  error
)

// fakeBrowser builds testdata/fakebrowser once and returns its path.
func fakeBrowser(t *testing.T) string {
	t.Helper()
	browserOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fakebrowser-")
		if err != nil {
			browserErr = err
			return
		}
		browserBin = filepath.Join(dir, "fakebrowser")
		if runtime.GOOS == "windows" {
			browserBin += ".exe"
		}
		out, err := exec.Command("go", "build", "-o", browserBin, "./testdata/fakebrowser").CombinedOutput()
		if err != nil {
			browserErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if browserErr != nil {
		t.Fatal(browserErr)
	}
	return browserBin
}

// env is a clitest environment pointed at srv, with its own cache directory.
func env(t *testing.T, srv *medplumtest.Server) *clitest.Env {
	t.Helper()
	e := clitest.New(t)
	e.Set("MEDPLUM_BASE_URL", srv.URL)
	e.Set("MEDPLUM_CACHE_DIR", filepath.Join(e.Home, "cache"))
	return e
}

func cacheDir(e *clitest.Env) string { return filepath.Join(e.Home, "cache") }

// insecureStore reads the --insecure-storage file.
func insecureStore(t *testing.T, e *clitest.Env) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e.ConfigDir, "secrets", "credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// filesWith lists the files under dir that contain s.
func filesWith(t *testing.T, dir, s string) []string {
	t.Helper()
	if s == "" {
		t.Fatal("filesWith: empty secret proves nothing")
	}
	var out []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), s) {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// tokenRequests counts the token requests with that grant type.
func tokenRequests(srv *medplumtest.Server, grant string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Path == "/oauth2/token" && strings.Contains(string(r.Body), "grant_type="+grant) {
			n++
		}
	}
	return n
}

var urlLine = regexp.MustCompile(`(?m)^  http://\S+/oauth2/authorize\?\S+$`)

// maskURL replaces the printed sign-in URL (random state and challenge) with
// <URL>, and returns it.
func maskURL(t *testing.T, stderr string) (string, string) {
	t.Helper()
	u := urlLine.FindString(stderr)
	if u == "" {
		t.Fatalf("no sign-in URL in stderr:\n%s", stderr)
	}
	return strings.Replace(stderr, u, "  <URL>", 1), strings.TrimSpace(u)
}
