package apply

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The apply file is read into a yaml.Node tree (YAML and JSON alike), then
// walked by hand so that every problem names its place: the path in the
// document (members[2].email) and the line.

// Problem is one reason the file cannot be applied.
type Problem struct {
	File string // the file it is in (the apply file or a members CSV)
	Line int    // 0 when unknown
	Path string // members[2].email, or a CSV column
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// decoder walks the tree and collects problems.
type decoder struct {
	file  string
	probs []Problem
	depth int // of value(), against aliases that contain themselves
	nodes int // values read, against aliases that multiply (billion laughs)
}

// Bounds on the values of a file: nesting, and values read in all (aliases
// can make a small file expand enormously).
const (
	maxDepth = 64
	maxNodes = 1 << 20
)

// node is a yaml node with its path in the document. A key that is not
// there has no node; its problems are reported at its parent's line.
type node struct {
	n    *yaml.Node
	path string
	line int // the parent's line, for a missing key
}

func (d *decoder) errf(at node, format string, a ...any) {
	line := at.line
	if at.n != nil {
		line = at.n.Line
	}
	d.probs = append(d.probs, Problem{File: d.file, Line: line, Path: at.path, Msg: fmt.Sprintf(format, a...)})
}

// deref follows aliases (*anchor).
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func (n node) child(key string) node {
	c := node{path: n.path + "." + key, line: n.line}
	if n.path == "" {
		c.path = key
	}
	if n.n != nil {
		c.line = n.n.Line
	}
	return c
}

func (n node) index(i int) node {
	c := node{path: fmt.Sprintf("%s[%d]", n.path, i), line: n.line}
	if n.n != nil {
		c.line = n.n.Line
	}
	return c
}

func (n node) isNull() bool {
	return n.n == nil || (n.n.Kind == yaml.ScalarNode && n.n.ShortTag() == "!!null")
}

// pair is one key and value of a mapping.
type pair struct {
	key  string
	line int // the key's line
	val  node
}

// pairs reads a mapping in file order, reporting keys that are not plain
// words and repeated keys.
func (d *decoder) pairs(at node, what string) ([]pair, bool) {
	if at.n == nil || at.n.Kind != yaml.MappingNode {
		d.errf(at, "%s must be a mapping (key: value lines), not %s", what, describe(at.n))
		return nil, false
	}
	var out []pair
	first := map[string]int{}
	for i := 0; i+1 < len(at.n.Content); i += 2 {
		k := at.n.Content[i]
		child := at.child(k.Value)
		child.n = deref(at.n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errf(node{n: k, path: at.path}, "a key must be a plain word")
			continue
		}
		if line, dup := first[k.Value]; dup {
			d.errf(node{n: k, path: child.path}, "repeated key (first on line %d)", line)
			continue
		}
		first[k.Value] = k.Line
		out = append(out, pair{key: k.Value, line: k.Line, val: child})
	}
	return out, true
}

// mapping reads a mapping whose keys must be among known and returns the
// values by key.
func (d *decoder) mapping(at node, what string, known ...string) (map[string]node, bool) {
	ps, ok := d.pairs(at, what)
	if !ok {
		return nil, false
	}
	out := map[string]node{}
	for _, p := range ps {
		if !contains(known, p.key) {
			d.probs = append(d.probs, Problem{File: d.file, Line: p.line, Path: p.val.path,
				Msg: fmt.Sprintf("unknown key (known keys: %s)", strings.Join(known, ", "))})
			continue
		}
		out[p.key] = p.val
	}
	return out, true
}

// seq reads a sequence.
func (d *decoder) seq(at node, what string) ([]node, bool) {
	if at.n == nil || at.n.Kind != yaml.SequenceNode {
		d.errf(at, "%s must be a list (lines starting with \"- \"), not %s", what, describe(at.n))
		return nil, false
	}
	out := make([]node, len(at.n.Content))
	for i, c := range at.n.Content {
		out[i] = at.index(i)
		out[i].n = deref(c)
	}
	return out, true
}

// str reads a non-empty string scalar.
func (d *decoder) str(at node, what string) (string, bool) {
	if at.n == nil || at.n.Kind != yaml.ScalarNode || at.n.ShortTag() == "!!null" {
		d.errf(at, "%s must be text, not %s", what, describe(at.n))
		return "", false
	}
	if strings.TrimSpace(at.n.Value) == "" {
		d.errf(at, "%s is empty", what)
		return "", false
	}
	return at.n.Value, true
}

// boolean reads true or false.
func (d *decoder) boolean(at node, what string) (bool, bool) {
	if at.n == nil || at.n.Kind != yaml.ScalarNode || at.n.ShortTag() != "!!bool" {
		d.errf(at, "%s must be true or false, not %s", what, describe(at.n))
		return false, false
	}
	return strings.EqualFold(at.n.Value, "true"), true
}

// value converts a node into JSON-ready Go values: map[string]any, []any,
// string, bool, json.Number (numbers keep their text), nil.
func (d *decoder) value(at node) (any, bool) {
	n := at.n
	if d.depth >= maxDepth {
		d.errf(at, "nested more than %d levels deep (or an alias that contains itself)", maxDepth)
		return nil, false
	}
	if d.nodes++; d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.errf(at, "the file expands to more than %d values (aliases?)", maxNodes)
		}
		return nil, false
	}
	d.depth++
	defer func() { d.depth-- }()
	switch n.Kind {
	case yaml.MappingNode:
		ps, ok := d.pairs(at, "a value")
		out := make(map[string]any, len(ps))
		for _, p := range ps {
			v, vok := d.value(p.val)
			ok = ok && vok
			out[p.key] = v
		}
		return out, ok
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		ok := true
		for i, c := range n.Content {
			child := at.index(i)
			child.n = deref(c)
			v, vok := d.value(child)
			ok = ok && vok
			out = append(out, v)
		}
		return out, ok
	case yaml.ScalarNode:
		return d.scalar(at)
	}
	d.errf(at, "unsupported YAML here (%s)", describe(n))
	return nil, false
}

// scalar converts a scalar by its resolved YAML tag.
func (d *decoder) scalar(at node) (any, bool) {
	n := at.n
	switch n.ShortTag() {
	case "!!null":
		return nil, true
	case "!!bool":
		return strings.EqualFold(n.Value, "true"), true
	case "!!int", "!!float":
		num := strings.ReplaceAll(n.Value, "_", "")
		if !json.Valid([]byte(num)) {
			d.errf(at, "the number %s cannot be written as JSON (use plain decimal digits)", n.Value)
			return nil, false
		}
		return json.Number(num), true
	case "!!str":
		return n.Value, true
	}
	d.errf(at, "unsupported value %q (tag %s)", n.Value, n.ShortTag())
	return nil, false
}

// describe names what a node is, for "must be X, not Y" messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "empty"
		case "!!bool":
			return "a boolean (" + n.Value + ")"
		case "!!int", "!!float":
			return "a number (" + n.Value + ")"
		}
		return fmt.Sprintf("the text %q", n.Value)
	}
	return "something else"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
