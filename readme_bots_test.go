package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// readmeBlockAfter returns the sh block after a <!-- tested by: NAME -->
// marker of README.md.
func readmeBlockAfter(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- tested by: "+name+" -->\n```sh\n")
	script, _, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 {
		t.Fatalf("README: no sh block after <!-- tested by: %s -->", name)
	}
	return script
}

// TestREADMEBotsPipeline runs the README's bot deploy job, as written,
// with sh against the sandbox: after a new build it deploys the changed bot
// only, and a second run changes nothing. No secret reaches its output.
func TestREADMEBotsPipeline(t *testing.T) {
	script := readmeBlockAfter(t, "TestREADMEBotsPipeline")
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	for dst, src := range map[string]string{
		"src/hello-world.ts": "testdata/bots/src/hello-world.ts", "dist/hello-world.js": "testdata/bots/dist/hello-world.js",
		"src/welcome.ts": "testdata/bots/src/hello-world.ts", "dist/welcome.js": "testdata/bots/dist/hello-world.js",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(e.Home, filepath.Dir(dst)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.Home, dst), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string]string{}
	for _, name := range []string{"hello-world", "welcome"} {
		r := e.Run("bot", "create", name, "--source", "src/"+name+".ts", "--dist", "dist/"+name+".js")
		if r.Code != 0 {
			t.Fatalf("bot create: %+v", r)
		}
		ids[name] = strings.TrimSpace(r.Stdout)
	}
	// A new build of one bot.
	if err := os.WriteFile(filepath.Join(e.Home, "dist/welcome.js"), []byte("exports.handler = async () => 'welcome v2';\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() (string, string) {
		t.Helper()
		cmd := exec.Command("sh", "-c", script)
		cmd.Dir = e.Home
		cmd.Env = append([]string{
			"PATH=" + filepath.Dir(clitest.Binary(t)) + string(os.PathListSeparator) + os.Getenv("PATH"),
			"HOME=" + e.Home, "MEDPLUM_CONFIG_DIR=" + e.ConfigDir,
			"MEDPLUM_BASE_URL=" + srv.URL, "MEDPLUM_CLIENT_ID=" + srv.Seed.Client.ID, "MEDPLUM_CLIENT_SECRET=" + srv.Seed.Client.Secret,
		}, clitest.Environ()...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("the README's bot job failed: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
		}
		for _, out := range []string{stdout.String(), stderr.String()} {
			if strings.Contains(out, srv.Seed.Client.Secret) {
				t.Errorf("the job printed the client secret")
			}
		}
		return stdout.String(), stderr.String()
	}
	line := func(result, name, detail string) string {
		s := fmt.Sprintf("%-13s%s (Bot/%s)", result, name, ids[name])
		if detail != "" {
			s += ": " + detail
		}
		return s + "\n"
	}
	stdout, stderr := run()
	answer := fmt.Sprintf(`{"bot":"Bot/%s",`, ids["hello-world"])
	want := line("unchanged", "hello-world", "") + line("would deploy", "welcome", "code changed") +
		line("unchanged", "hello-world", "") + line("deployed", "welcome", "code changed")
	if !strings.HasPrefix(stdout, want+answer) || !strings.Contains(stdout, `"input":{"name":"CI"}`) {
		t.Errorf("first run, stdout:\n%s\nwant it to start with:\n%s%s", stdout, want, answer)
	}
	if stderr != "2 bots: 1 would deploy, 1 unchanged.\nmedplum: dry run: changes are pending; nothing was sent\n2 bots: 1 deployed, 1 unchanged.\n" {
		t.Errorf("first run, stderr:\n%s", stderr)
	}
	stdout, stderr = run()
	want = line("unchanged", "hello-world", "") + line("unchanged", "welcome", "") + line("unchanged", "hello-world", "") + line("unchanged", "welcome", "")
	if !strings.HasPrefix(stdout, want+answer) || stderr != "2 bots: 2 unchanged.\n2 bots: 2 unchanged.\n" {
		t.Errorf("second run:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}
