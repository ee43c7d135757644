package output

import (
	"reflect"
	"strconv"
	"strings"

	"github.com/itchyny/gojq"

	"github.com/medplumcli/medplum/commands/cmdutil"
)

// gojq's compile errors name what is undefined (a function, a variable,
// a label; input and modules, which --jq does not have) but not where, and its AST carries no positions. The position
// is found with gojq itself, without guessing from the text:
//
//   - which reference failed: gojq compiles in one pass and stops at the
//     first undefined name. Renaming one reference to a fresh name (one
//     that is defined nowhere) changes nothing before the compiler reaches
//     it, so "the error names the fresh name" says the compiler reached
//     that reference no later than the one that failed; renaming two at
//     once says which of them it reached first. The failing reference is
//     the last one reached.
//   - where it is in the text: each place the name occurs in the text is
//     replaced by the fresh name and parsed again; the place is that
//     reference's token only if the result is the original AST with that
//     one reference renamed (a place inside a string, a comment, a field
//     name or a longer name gives another AST).
//
// When either step finds no single answer, there is no position.

// jqRef is a name a jq expression refers to: a function call (with its
// arity), a variable ($x, also {$x}), a label (break $x), a format
// (@base64) or a module (import "m" as m), as a pointer into the AST so
// that a probe can rename it.
type jqRef struct {
	name  *string
	kind  string // "function", "variable", "label", "format" or "module"
	arity int
}

// jqRefs lists the references of q in a fixed order (the AST's fields and
// slices in order), so that two parses of one text list them alike. It
// walks the AST by reflection: a field gojq adds is walked too.
func jqRefs(q *gojq.Query) []jqRef {
	var out []jqRef
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				return
			}
			switch p := v.Interface().(type) {
			case *gojq.Func:
				if strings.HasPrefix(p.Name, "$") {
					out = append(out, jqRef{name: &p.Name, kind: "variable"})
				} else {
					out = append(out, jqRef{name: &p.Name, kind: "function", arity: len(p.Args)})
				}
			case *gojq.Import:
				if p.ImportPath != "" {
					out = append(out, jqRef{name: &p.ImportPath, kind: "module"})
				} else {
					out = append(out, jqRef{name: &p.IncludePath, kind: "module"})
				}
			case *gojq.ObjectKeyVal:
				if strings.HasPrefix(p.Key, "$") {
					out = append(out, jqRef{name: &p.Key, kind: "variable"})
				}
			case *gojq.Term:
				switch p.Type {
				case gojq.TermTypeFormat:
					out = append(out, jqRef{name: &p.Format, kind: "format"})
				case gojq.TermTypeBreak:
					out = append(out, jqRef{name: &p.Break, kind: "label"})
				}
			}
			walk(v.Elem())
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(q))
	return out
}

// undefinedRef reads gojq's compile error about a name it cannot find: the
// kind of reference (as jqRefs names it) and which references of that kind
// the error can be about. gojq's messages are read as they are; a test
// (TestCompileJQPosition) fails if they change.
func undefinedRef(msg string) (kind string, about func(jqRef) bool, ok bool) {
	if s, found := strings.CutPrefix(msg, "function not defined: "); found {
		i := strings.LastIndexByte(s, '/')
		n, err := strconv.Atoi(s[i+1:])
		if i <= 0 || err != nil {
			return "", nil, false
		}
		return "function", func(r jqRef) bool { return *r.name == s[:i] && r.arity == n }, true
	}
	if msg == "input(s)/0 is not allowed" { // --jq has no inputs
		return "function", func(r jqRef) bool { return (*r.name == "input" || *r.name == "inputs") && r.arity == 0 }, true
	}
	if s, found := strings.CutPrefix(msg, "cannot load module: "); found { // --jq loads no modules
		if path, err := strconv.Unquote(s); err == nil {
			return "module", func(r jqRef) bool { return *r.name == path }, true
		}
	}
	for _, kind := range []string{"variable", "label"} {
		if s, found := strings.CutPrefix(msg, kind+" not defined: "); found && strings.HasPrefix(s, "$") {
			return kind, func(r jqRef) bool { return *r.name == s }, true
		}
	}
	return "", nil, false
}

// freshNames returns n names of the kind's spelling ($x for a variable or
// label, @x for a format) that occur nowhere in expr, none inside
// another (medplumProbe_1_, medplumProbe_2_, ...).
func freshNames(expr, kind string, n int) []string {
	prefix := ""
	switch kind {
	case "variable", "label":
		prefix = "$"
	case "format":
		prefix = "@"
	}
	var out []string
	for i := 0; len(out) < n; i++ {
		name := prefix + "medplumProbe_" + strconv.Itoa(i) + "_"
		if !strings.Contains(expr, name) {
			out = append(out, name)
		}
	}
	return out
}

// probeCompile parses expr again, renames its references at the given
// indexes (into jqRefs' list) and compiles it: the error's text, "" if it
// compiles, or ok false if the probe itself went wrong.
func probeCompile(expr string, rename map[int]string) (msg string, ok bool) {
	q, err := gojq.Parse(expr)
	if err != nil {
		return "", false
	}
	refs := jqRefs(q)
	for i, name := range rename {
		if i >= len(refs) {
			return "", false
		}
		*refs[i].name = name
	}
	if _, err := gojq.Compile(q); err != nil {
		return err.Error(), true
	}
	return "", true
}

// maxProbes bounds the references failingRef probes: an error in a longer
// expression is named without a position rather than after many compiles.
const maxProbes = 64

// failingRef finds which reference gojq's compile error msg is about: its
// index in jqRefs' list, or -1 when it cannot be told.
func failingRef(expr, msg string) int {
	kind, about, ok := undefinedRef(msg)
	if !ok {
		return -1
	}
	q, err := gojq.Parse(expr) // a copy the compiler has not seen
	if err != nil {
		return -1
	}
	refs := jqRefs(q)
	if len(refs) > maxProbes {
		return -1 // each candidate is a compile, and pairs of them more
	}
	fresh := freshNames(expr, kind, 2)
	// The references the compiler reaches no later than the failing one.
	var reached []int
	for i, r := range refs {
		if r.kind != kind || !about(r) {
			continue
		}
		m, ok := probeCompile(expr, map[int]string{i: fresh[0]})
		if ok && strings.Contains(m, fresh[0]) {
			reached = append(reached, i)
		}
	}
	if len(reached) == 0 {
		return -1
	}
	last := reached[0]
	for _, i := range reached[1:] {
		m, ok := probeCompile(expr, map[int]string{last: fresh[0], i: fresh[1]})
		switch {
		case !ok:
			return -1
		case strings.Contains(m, fresh[0]):
			last = i // last came first
		case !strings.Contains(m, fresh[1]):
			return -1
		}
	}
	return last
}

// refOffset finds where reference i of expr's AST is in the text: the
// byte offset of its token, or -1.
func refOffset(expr string, i int) int {
	q, err := gojq.Parse(expr)
	if err != nil {
		return -1
	}
	refs := jqRefs(q)
	if i < 0 || i >= len(refs) {
		return -1
	}
	name := *refs[i].name
	fresh := freshNames(expr, refs[i].kind, 1)[0]
	*refs[i].name = fresh // q is now what the text with that token renamed parses to
	at := -1
	for off := 0; ; {
		j := strings.Index(expr[off:], name)
		if j < 0 {
			break
		}
		j += off
		off = j + 1
		p, err := gojq.Parse(expr[:j] + fresh + expr[j+len(name):])
		if err != nil || !reflect.DeepEqual(p, q) {
			continue
		}
		if at >= 0 {
			return -1 // two places: not one answer
		}
		at = j
	}
	return at
}

// unknownFormat finds the first format term of q (in the text) that gojq
// does not know, e.g. @foo: its name and byte offset in expr (-1 when the
// place cannot be told). gojq compiles an unknown format and fails only
// when it runs (after the request); the check asks gojq itself, so that
// the list of formats is gojq's own.
func unknownFormat(expr string, q *gojq.Query) (name string, at int, found bool) {
	at = -1
	if !strings.Contains(expr, "@") {
		return "", at, false // no format term (the common case: no walk)
	}
	for i, r := range jqRefs(q) {
		if r.kind != "format" || knownFormat(*r.name) {
			continue
		}
		off := refOffset(expr, i)
		if !found || (off >= 0 && (at < 0 || off < at)) {
			name, at = *r.name, off
		}
		found = true
	}
	return name, at, found
}

// knownFormat asks gojq whether it knows a format: the format alone, run
// on a string, fails with gojq's "format not defined" only if it does not.
func knownFormat(format string) bool {
	q, err := gojq.Parse(format)
	if err != nil {
		return false
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return false
	}
	v, _ := code.Run("").Next()
	err, isErr := v.(error)
	return !isErr || err.Error() != "format not defined: "+format
}

// textPosition says where byte offset at is in expr, counting characters:
// "column 6" in a one-line text, "line 2, column 15" in one of several
// lines.
func textPosition(expr string, at int) string {
	line, col := cmdutil.LineColumn(expr, at)
	if !strings.Contains(expr, "\n") {
		return "column " + strconv.Itoa(col)
	}
	return "line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col)
}
