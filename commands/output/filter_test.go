package output

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/commands/iostreams"
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
		".a | }":                  `invalid --jq expression ".a | }": unexpected token "}" at column 6`,
		`"é" | ]`:                 `invalid --jq expression "\"é\" | ]": unexpected token "]" at column 7`,
		".[":                      `invalid --jq expression ".[": unexpected EOF at column 3 (the end)`,
		"foo(1)":                  `invalid --jq expression "foo(1)": function not defined: foo/1 at column 1`,
		"1 as $x | lenght(.; $x)": `invalid --jq expression "1 as $x | lenght(.; $x)": function not defined: lenght/2 at column 11`,
		// lenght/0 is defined; lenght/1 is not.
		"def lenght: 1; lenght, lenght(1)": `invalid --jq expression "def lenght: 1; lenght, lenght(1)": function not defined: lenght/1 at column 24`,
		// --jq has no inputs and loads no modules.
		"1, input":                `invalid --jq expression "1, input": input(s)/0 is not allowed at column 4`,
		"[.[] | inputs]":          `invalid --jq expression "[.[] | inputs]": input(s)/0 is not allowed at column 8`,
		"import \"a\" as a; a::f": `invalid --jq expression "import \"a\" as a; a::f": cannot load module: "a" at column 9`,
		"@é":                      `invalid --jq expression "@é": unexpected token "@" at column 1`,
		"\"é\" | @foo":            `invalid --jq expression "\"é\" | @foo": format not defined: @foo at column 7`,
		"1,\n\t@foo":              `invalid --jq expression "1,\n\t@foo": format not defined: @foo at line 2, column 2`,
		`"\x"`:                    `invalid --jq expression "\"\\x\"": invalid escape sequence "\x" in string literal at column 2`,
		".a; .b | .":              `invalid --jq expression ".a; .b | .": unexpected token ";" at column 3`,
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

// gojq is built from third_party/gojq, whose builtin tables are built on
// the first Compile instead of at package init (PATCH.md there). Every
// kind of function --jq reaches still works: those defined in jq
// (builtinFuncDefs: map, select, to_entries, IN, paths, any, last, with
// assignment), the ones in Go (internalFuncs: length, keys, test, sort_by,
// ascii_downcase, @csv and format, which looks its formatter up at run
// time, setpath), and builtins, which lists both tables.
func TestJQBuiltinsAfterLazyInit(t *testing.T) {
	for expr, want := range map[string]string{
		`[.entry[].resource | select(.gender == "female") | .id]`:                                    `["p2"]` + "\n",
		`.entry | map(.resource.id) | join(",")`:                                                     "p1,p2\n",
		`.entry[0].resource.name[0] | to_entries | map(.key)`:                                        `["family","given"]` + "\n",
		`[.entry[].resource.id | IN("p2")]`:                                                          `[false,true]` + "\n",
		`[paths(type == "number")] | length`:                                                         "2\n",
		`any(.entry[]; .resource.id == "p1")`:                                                        "true\n",
		`last(.entry[].resource.id)`:                                                                 "p2\n",
		`.entry[0].resource.name[0].given |= map(ascii_downcase) | .entry[0].resource.name[0].given`: `["homer","j"]` + "\n",
		`.x.y = 1 | .x`: `{"y":1}` + "\n",
		`[.entry[].resource] | sort_by(.id) | reverse | .[0].id`:        "p2\n",
		`.entry[0].resource.name[0].given | @csv`:                       `"Homer","J"` + "\n",
		`.entry[0].resource.name[0].given | format("csv")`:              `"Homer","J"` + "\n",
		`.link[0].url | test("/fhir/R4/")`:                              "true\n",
		`keys | length`:                                                 "4\n",
		`setpath(["a","b"]; 2) | .a`:                                    `{"b":2}` + "\n",
		`[builtins[] | select(. == "map/1" or . == "length/0")] | sort`: `["length/0","map/1"]` + "\n",
	} {
		ios, _, out, _ := iostreams.Test()
		o := &Options{Format: JSON, JQ: expr}
		if err := o.Check(); err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if err := o.WriteDoc(ios, []byte(bundle)); err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if out.String() != want {
			t.Errorf("%s:\n got %q\nwant %q", expr, out.String(), want)
		}
	}
}
