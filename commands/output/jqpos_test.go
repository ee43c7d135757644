package output

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"
)

// knownFormat asks gojq rather than keeping a list; this test keeps it
// honest against the list in gojq's own source (formatToFunc in
// third_party/gojq/compiler.go): every format there is known, and a name
// that is not there is not.
func TestKnownFormatIsGojqsList(t *testing.T) {
	file, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "..", "third_party", "gojq", "compiler.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var formats []string
	ast.Inspect(file, func(n ast.Node) bool {
		if fd, ok := n.(*ast.FuncDecl); ok && fd.Name.Name != "formatToFunc" {
			return false
		}
		if cc, ok := n.(*ast.CaseClause); ok {
			for _, e := range cc.List {
				if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					formats = append(formats, s)
				}
			}
		}
		return true
	})
	if len(formats) < 10 {
		t.Fatalf("found %d formats in gojq's formatToFunc: %q", len(formats), formats)
	}
	for _, f := range formats {
		if !knownFormat(f) {
			t.Errorf("gojq knows %s, knownFormat says no", f)
		}
	}
	for _, f := range []string{"@foo", "@Base64", "@base32d", "@text2"} {
		if knownFormat(f) {
			t.Errorf("knownFormat(%s) = true; gojq's formatToFunc has no such case", f)
		}
	}
}

// The place of a name is told only when one place parses to that
// reference: a name that occurs only inside longer names, strings or
// comments has no other place to be.
func TestRefOffset(t *testing.T) {
	for _, c := range []struct {
		expr string
		ref  int
		want int
	}{
		{"lenghty | lenght", 1, 10},
		{`"lenght" | lenght # lenght`, 0, 11},
		{"$x | $xx | $x", 2, 11},
		{"@foo \"@foo\" | @foo", 1, 14},
		{".lenght", 0, -1}, // a field, not a reference: no ref 0
	} {
		if got := refOffset(c.expr, c.ref); got != c.want {
			t.Errorf("refOffset(%q, %d) = %d, want %d", c.expr, c.ref, got, c.want)
		}
	}
}
