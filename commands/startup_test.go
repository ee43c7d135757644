package commands_test

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/medplumcli/medplum/commands/clitest"
)

// gojq (--jq) comes from third_party/gojq, patched to build its builtin
// tables (about 2,300 allocations, 0.15-0.3 ms) on the first Compile
// instead of at package init, which every command paid before main ran
// (issue 12). The runtime's init trace of `medplum --version` shows what
// gojq's init allocates; without the patch it is the whole table. If this
// fails after a gojq upgrade, the replace in go.mod no longer points at
// the patched copy, or the copy's init builds the tables again: see
// third_party/gojq/PATCH.md.
func TestStartupBuildsNoJQBuiltins(t *testing.T) {
	e := clitest.New(t)
	e.Set("GODEBUG", "inittrace=1")
	r := e.Run("--version")
	if r.Code != 0 || r.Stdout != clitest.VersionLine+"\n" {
		t.Fatalf("--version: code %d, stdout %q", r.Code, r.Stdout)
	}
	m := regexp.MustCompile(`(?m)^init github\.com/itchyny/gojq @.*, (\d+) bytes, (\d+) allocs$`).FindStringSubmatch(r.Stderr)
	if m == nil {
		t.Fatalf("no init line of gojq in the init trace:\n%s", r.Stderr)
	}
	if allocs, _ := strconv.Atoi(m[2]); allocs > 50 {
		t.Errorf("gojq's init made %s allocations (%s bytes) at start-up; the patched copy makes about 12", m[2], m[1])
	}
}
