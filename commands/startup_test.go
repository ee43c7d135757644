package commands_test

import (
	"regexp"
	"strconv"
	"testing"

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
