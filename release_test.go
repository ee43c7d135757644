package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// goreleaserConfig is the part of .goreleaser.yaml these checks read.
type goreleaserConfig struct {
	Version int `yaml:"version"`
	Before  struct {
		Hooks []string `yaml:"hooks"`
	} `yaml:"before"`
	Builds []struct {
		Main    string   `yaml:"main"`
		Env     []string `yaml:"env"`
		Goos    []string `yaml:"goos"`
		Goarch  []string `yaml:"goarch"`
		Ldflags []string `yaml:"ldflags"`
	} `yaml:"builds"`
	Archives []struct {
		Files []any `yaml:"files"`
	} `yaml:"archives"`
}

// The release config is checked here because CI has no goreleaser: the
// targets match `make cross`, the version stamp reaches real variables, and
// the archives carry what gendocs writes.
func TestReleaseConfig(t *testing.T) {
	raw, err := os.ReadFile(".goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg goreleaserConfig
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Version != 2 {
		t.Errorf(".goreleaser.yaml: version %d, want 2", cfg.Version)
	}
	if len(cfg.Builds) != 1 || len(cfg.Archives) != 1 {
		t.Fatalf(".goreleaser.yaml: %d builds and %d archives, want one of each", len(cfg.Builds), len(cfg.Archives))
	}
	b := cfg.Builds[0]
	if b.Main != "." || !slices.Contains(b.Env, "CGO_ENABLED=0") {
		t.Errorf(".goreleaser.yaml: main %q env %v, want main . with CGO_ENABLED=0", b.Main, b.Env)
	}

	makefile, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, os := range b.Goos {
		for _, arch := range b.Goarch {
			targets = append(targets, os+"/"+arch)
		}
	}
	m := regexp.MustCompile(`(?m)^RELEASE_TARGETS\s*:?=\s*(.*)$`).FindSubmatch(makefile)
	if m == nil {
		t.Fatal("Makefile: no RELEASE_TARGETS")
	}
	if got := strings.Fields(string(m[1])); !sameSet(got, targets) {
		t.Errorf("Makefile RELEASE_TARGETS %v, .goreleaser.yaml builds %v", got, targets)
	}

	stamps := xFlags(strings.Join(b.Ldflags, " "))
	makeStamps := xFlags(string(makefile))
	if !sameSet(stamps, makeStamps) || len(stamps) != 3 {
		t.Errorf("-X in .goreleaser.yaml %v, in the Makefile %v: want the same three", stamps, makeStamps)
	}
	vars := packageVars(t, "commands/version")
	for _, s := range stamps {
		i := strings.LastIndex(s, ".")
		pkg, name := s[:i], s[i+1:]
		if pkg != "github.com/medplumcli/medplum/commands/version" || !vars[name] {
			t.Errorf("-X %s: no such variable in commands/version", s)
		}
	}

	hooks := strings.Join(cfg.Before.Hooks, "\n")
	files, err := yaml.Marshal(cfg.Archives[0].Files)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-man dist-extra/man", "-completions dist-extra/completions"} {
		if !strings.Contains(hooks, "go run ./cmd/gendocs") || !strings.Contains(hooks, want) {
			t.Errorf("before hooks do not run gendocs %s:\n%s", want, hooks)
		}
	}
	for _, want := range []string{"README.md", "LICENSE", "src: dist-extra/man/*.1", "src: dist-extra/completions/*"} {
		if !strings.Contains(string(files), want) {
			t.Errorf("archives do not include %s:\n%s", want, files)
		}
	}
}

func TestLicenseIsApache2(t *testing.T) {
	raw, err := os.ReadFile("LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Apache License", "Version 2.0, January 2004", "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("LICENSE lacks %q", want)
		}
	}
}

// xFlags returns the package.Variable of every -X pkg.Var=value.
func xFlags(s string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`-X\s+([\w./-]+\.\w+)=`).FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// packageVars lists the package-level variables of a directory.
func packageVars(t *testing.T, dir string) map[string]bool {
	t.Helper()
	vars := map[string]bool{}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
				for _, s := range g.Specs {
					for _, n := range s.(*ast.ValueSpec).Names {
						vars[n.Name] = true
					}
				}
			}
		}
	}
	return vars
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
