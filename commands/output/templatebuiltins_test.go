package output

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"testing"
)

// templateBuiltins copies the names of text/template's own functions,
// which it does not export; this reads them from the standard library's
// source (builtins() in text/template/funcs.go), so that a Go release that
// adds or drops one fails here instead of leaving a call unchecked.
func TestTemplateBuiltinsAreTextTemplates(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", "text", "template", "funcs.go"))
	if err != nil {
		t.Fatalf("reading text/template's source: %v", err)
	}
	m := regexp.MustCompile(`(?s)func builtins\(\) FuncMap \{\s*return FuncMap\{(.*?)\n\t\}`).FindSubmatch(src)
	if m == nil {
		t.Fatal("no builtins() FuncMap in text/template/funcs.go")
	}
	var theirs []string
	for _, k := range regexp.MustCompile(`(?m)^\s*"(\w+)":`).FindAllSubmatch(m[1], -1) {
		theirs = append(theirs, string(k[1]))
	}
	var ours []string
	for k := range templateBuiltins() {
		ours = append(ours, k)
	}
	slices.Sort(theirs)
	slices.Sort(ours)
	if !slices.Equal(ours, theirs) {
		t.Errorf("templateBuiltins names %v; text/template %s has %v", ours, runtime.Version(), theirs)
	}
}
