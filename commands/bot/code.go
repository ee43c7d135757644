package bot

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/pflag"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
)

// What is known about a bot's code before it is sent: whether the server
// will take it (its size), and whether Medplum will be able to run it.
// Medplum finds neither at $deploy (capture 124b: "File too large" after
// the source was saved; a syntax error only at $execute), so these checks
// run before anything is sent.

// DefaultMaxJSONSize is Medplum's default maxJsonSize ("1mb", 1 MiB as
// the bytes package reads it): the largest JSON body, hence $deploy
// request, its server takes.
const DefaultMaxJSONSize = 1 << 20

// Size is a byte count flag written as Medplum's config writes it: 1mb,
// 512kb, 1048576 (b, kb, mb, gb, powers of 1024).
type Size int64

// MaxJSONSizeFlag adds --max-json-size to a command that deploys bots.
func MaxJSONSizeFlag(fs *pflag.FlagSet, s *Size) {
	*s = DefaultMaxJSONSize
	fs.Var(s, "max-json-size", `the server's maxJsonSize: code whose $deploy request is larger is refused before anything is sent (Medplum's default 1mb; 0: no check)`)
}

func (s *Size) String() string {
	switch n := int64(*s); {
	case n != 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%dmb", n>>20)
	case n != 0 && n%(1<<10) == 0:
		return fmt.Sprintf("%dkb", n>>10)
	default:
		return strconv.FormatInt(n, 10)
	}
}

func (s *Size) Type() string { return "size" }

var sizeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$`) })

func (s *Size) Set(v string) error {
	m := sizeRE().FindStringSubmatch(strings.ToLower(strings.TrimSpace(v)))
	if m == nil {
		return fmt.Errorf("want a size such as 1mb, 512kb or a number of bytes")
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return err
	}
	unit := map[string]float64{"": 1, "b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30}[m[2]]
	*s = Size(f * unit)
	return nil
}

// sizeProblem says why the code is too large to deploy under limit (0:
// no limit), or nil.
func (f *Files) sizeProblem(limit Size, codeKey, codePath string) *FileProblem {
	if limit <= 0 {
		return nil
	}
	body, err := client.DeployBody(f.Code, f.CodeName)
	if err != nil || int64(len(body)) <= int64(limit) {
		return nil
	}
	return &FileProblem{Key: codeKey, Msg: fmt.Sprintf("%s file %s is too large to deploy: its $deploy request would be %s, over the server's maxJsonSize (%s), and Medplum would answer \"File too large\"",
		codeKey, codePath, cmdutil.Count(len(body), "byte"), limit.String())}
}

// SizeProblem is sizeProblem for a bot whose code is dist, else source.
func (f *Files) SizeProblem(limit Size, source, dist string) *FileProblem {
	if dist != "" {
		return f.sizeProblem(limit, "dist", dist)
	}
	return f.sizeProblem(limit, "source", source)
}

// SizeHint is the fix of a bot too large to deploy.
const SizeHint = "make the build smaller (minify it, leave out inline source maps); if the server's maxJsonSize is larger than Medplum's default, say so: --max-json-size 5mb"

var (
	esmRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?m)^[ \t]*(?:export[ \t]+(?:default|async|function|const|let|var|class)\b|export[ \t]*[{*]|import[ \t]+[\w{*'"$]|import[ \t]*[{*'"])`)
	})
	handlerRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`exports\s*(?:\.\s*handler\b|\[\s*["']handler["']\s*\])|Object\.assign\(\s*exports\b|defineProperty\(\s*exports\s*,\s*["']handler["']`)
	})
)

// Warnings says why Medplum may fail to run the code, found by looking at
// it (Medplum itself only finds out when the bot runs): TypeScript sent as
// it is, and, for the vmcontext runtime (the default), ES module syntax or
// no exports.handler. Each warning says how to fix it.
func (f *Files) Warnings(runtime string) []string {
	name := f.CodeName
	switch strings.ToLower(filepath.Ext(name)) {
	case ".ts", ".mts", ".cts":
		return []string{fmt.Sprintf(`the code to deploy is the TypeScript source %s: Medplum runs it as JavaScript, so build it and name the built file in "dist"`, name)}
	}
	if runtime != "" && runtime != Runtimes[0] {
		return nil
	}
	code := string(f.Code)
	if loc := esmRE().FindStringIndex(code); loc != nil {
		line := strings.Count(code[:loc[0]], "\n") + 1
		return []string{fmt.Sprintf(`%s is an ES module (line %d: %s): Medplum's vmcontext runtime runs it as a CommonJS script, which fails ("Unexpected token 'export'", "Cannot use import statement outside a module"); build it to CommonJS (esbuild --format=cjs)`,
			name, line, strings.TrimSpace(firstLine(code[loc[0]:])))}
	}
	if !handlerRE().MatchString(code) {
		return []string{fmt.Sprintf(`%s does not seem to set exports.handler, which Medplum's vmcontext runtime calls ("exports.handler is not a function"); a bundle that sets module.exports needs the footer Object.assign(exports, module.exports)`, name)}
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}
