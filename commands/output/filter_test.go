package output

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// -o yaml keeps the document's key order and the digits of its numbers,
// and quotes strings YAML would read as something else.
func TestWriteYAML(t *testing.T) {
	var b bytes.Buffer
	err := WriteYAML(&b, []byte(`{"z":1.50,"a":[{"y":"yes","b":"1e3"},null,12345678901234567890],"m":{},"e":[],"s":"a: b","t":"2024-01-01"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "z: 1.50\n" +
		"a:\n" +
		"  - \"y\": \"yes\"\n" +
		"    b: \"1e3\"\n" +
		"  - null\n" +
		"  - 12345678901234567890\n" +
		"m: {}\n" +
		"e: []\n" +
		"s: 'a: b'\n" +
		"t: \"2024-01-01\"\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if err := WriteYAML(&b, []byte(`{"a":`)); err == nil || !strings.Contains(err.Error(), "cannot show this answer as YAML") {
		t.Errorf("truncated JSON: %v", err)
	}
}

// A jq syntax error names the column where the offending token starts.
func TestCompileJQPosition(t *testing.T) {
	for expr, want := range map[string]string{
		".a | }":     `invalid --jq expression ".a | }": unexpected token "}" at column 6`,
		`"é" | ]`:    `invalid --jq expression "\"é\" | ]": unexpected token "]" at column 7`,
		".[":         `invalid --jq expression ".[": unexpected EOF at column 3 (the end)`,
		"foo(1)":     `invalid --jq expression "foo(1)": function not defined: foo/1`,
		`"\x"`:       `invalid --jq expression "\"\\x\"": invalid escape sequence "\x" in string literal at column 2`,
		".a; .b | .": `invalid --jq expression ".a; .b | .": unexpected token ";" at column 3`,
	} {
		_, err := compileJQ(expr)
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", expr, err, want)
		}
	}
}

func TestTemplateErrorPosition(t *testing.T) {
	for tmpl, want := range map[string]string{
		"{{.a":             "invalid --template: line 1: unclosed action",
		"x\n{{.a | nope}}": `invalid --template: line 2: function "nope" not defined`,
		"{{end}}":          "invalid --template: line 1: unexpected {{end}}",
	} {
		o := &Options{Format: JSON, Template: tmpl}
		if err := o.Check(); err == nil || err.Error() != want {
			t.Errorf("%q:\n got %v\nwant %s", tmpl, err, want)
		}
	}
}

func TestTimeAgo(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Second:     "just now",
		-30 * time.Second:    "just now",
		time.Minute:          "1 minute ago",
		90 * time.Minute:     "1 hour ago",
		-3 * time.Hour:       "in 3 hours",
		49 * time.Hour:       "2 days ago",
		45 * 24 * time.Hour:  "1 month ago",
		800 * 24 * time.Hour: "2 years ago",
	} {
		if got := timeAgo(d); got != want {
			t.Errorf("timeAgo(%v) = %q, want %q", d, got, want)
		}
	}
}
