package output

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"text/template"
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

// A call that fails whatever the data is found before anything is sent
// (exit 2, its line and column): the number of arguments of our helpers
// and of text/template's builtins (the piped value is the last), a
// literal of the wrong kind, a function result or a piped literal of the
// wrong type. Each of these fails when text/template runs it, on any
// data; the valid ones run.
func TestTemplateCallChecks(t *testing.T) {
	bad := []struct{ tmpl, msg string }{
		// (More, run by the binary: rest's TestGetTemplateErrorsNameTheirPosition.)
		{"{{truncate .type}}", "line 1, column 3: wrong number of args for truncate: want 2 got 1"},
		{"{{len 1 2}}", "line 1, column 3: wrong number of args for len: want 1 got 2"},
		{"{{printf}}", "line 1, column 3: wrong number of args for printf: want at least 1 got 0"},
		// The piped value counts: one too many, or one too few.
		{"{{.type | tablerender}}", "line 1, column 11: wrong number of args for tablerender: want 0 got 1"},
		{"{{json . | truncate}}", "line 1, column 12: wrong number of args for truncate: want 2 got 1"},
		{"{{.type | truncate 1 2}}", "line 1, column 11: wrong number of args for truncate: want 2 got 3"},
		{"{{1 | printf}}", "line 1, column 7: the value piped into printf: expected string; got int"},
		// Builtins.
		{"{{ne 1}}", "line 1, column 3: wrong number of args for ne: want 2 got 1"},
		{"{{if not}}x{{end}}", "line 1, column 6: wrong number of args for not: want 1 got 0"},
		{"{{eq 1}}", "line 1, column 3: wrong number of args for eq: want at least 2 got 1"},
		{"{{.type | eq}}", "line 1, column 11: wrong number of args for eq: want at least 2 got 1"},
		{"{{index}}", "line 1, column 3: wrong number of args for index: want at least 1 got 0"},
		{"{{len nil}}", "line 1, column 7: argument 1 of len: cannot be nil"},
		// Literals and results of the wrong kind.
		{"{{truncate 1.5 .type}}", "line 1, column 12: argument 1 of truncate: expected integer; found 1.5"},
		{"{{truncate true .type}}", "line 1, column 12: argument 1 of truncate: expected integer; found true"},
		{"{{truncate nil .type}}", "line 1, column 12: argument 1 of truncate: cannot be nil"},
		{"{{timefmt 2006 .meta.lastUpdated}}", "line 1, column 11: argument 1 of timefmt: expected string; found 2006"},
		{"{{truncate tablerender .type}}", "line 1, column 12: argument 1 of truncate: expected int; got string (what tablerender returns)"},
		// Inside parentheses, ranges, variables, several lines, {{define}}
		// (the first in the text is named).
		{`{{range .entry}}{{tablerow .resource.id (join "," (pluck .resource.name))}}{{end}}`, "line 1, column 52: wrong number of args for pluck: want 2 got 1"},
		{"{{$x := truncate 2}}{{$x}}", "line 1, column 9: wrong number of args for truncate: want 2 got 1"},
		{"{{(json).type}}", "line 1, column 4: wrong number of args for json: want 1 got 0"},
		{"é{{.type}}\n  é{{json 1 2}}", "line 2, column 6: wrong number of args for json: want 1 got 2"},
		{`{{define "x"}}{{json}}{{end}}{{template "x" .}}{{pluck 1 .entry}}`, "line 1, column 17: wrong number of args for json: want 1 got 0"},
	}
	for _, c := range bad {
		o := &Options{Format: JSON, Template: c.tmpl}
		want := "invalid --template: " + c.msg
		if err := o.Check(); err == nil || err.Error() != want {
			t.Errorf("%q:\n got %v\nwant %s", c.tmpl, err, want)
		}
		// text/template fails it too when it runs (without the check).
		tm := template.Must(template.New(templateName).Funcs(templateFuncs(nil, nil)).Parse(c.tmpl))
		tm.Funcs(templateFuncs(&templateTable{}, &bytes.Buffer{}))
		if err := tm.Execute(io.Discard, decodeTest(t, bundle)); err == nil {
			t.Errorf("%q runs without an error", c.tmpl)
		}
	}
	good := map[string]string{
		`{{.type | truncate 5}}`:         "sear…",
		`{{printf "%s-%d" .type 3}}`:     "searchset-3",
		`{{"x" | printf "%s%s" .type}}`:  "searchsetx",
		`{{printf "%v" .type | len}}`:    "9",
		`{{truncate 3.0 .type}}`:         "se…",
		`{{len .entry | printf "%d"}}`:   "2",
		`{{eq .type "searchset" | not}}`: "false",
		`{{json nil}}`:                   "null",
		`{{range .entry}}{{tablerow .resource.id (truncate 4 .resource.resourceType) (join "," (pluck "family" .resource.name))}}{{end}}`:                 "p1\tPat…\tSimpson\np2\tPat…\t\n",
		`{{with index .entry 0}}{{.resource.id | printf "%q"}}{{end}}`:                                                                                    `"p1"`,
		`{{print}}{{println}}{{html}}{{js "a"}}{{urlquery "a b" | printf "%s"}}{{and 1 .type}}{{or .x 2}}{{slice .type 1 3}}{{eq 1 1 2}}{{"x" | eq "x"}}`: "\naa+bsearchset2eatruetrue",
	}
	for tmpl, want := range good {
		expectFiltered(t, &Options{Format: JSON, Template: tmpl}, tmpl, want)
	}
}

// An error that depends on the data is exit 1 when it runs, its column
// counted in characters from 1 as the checks' are (text/template counts
// bytes from 0).
func TestTemplateRuntimeErrorPosition(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	o := &Options{Format: JSON, Template: "é{{.type}}\n é{{join \",\" .type}}"}
	if err := o.Check(); err != nil {
		t.Fatal(err)
	}
	err := o.WriteDoc(ios, []byte(bundle))
	want := `--template: line 2, column 5: executing "t" at <join "," .type>: error calling join: join: want a list, got a string`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if out.String() != "ésearchset\n é" {
		t.Errorf("printed %q", out.String())
	}
}

func decodeTest(t *testing.T, doc string) any {
	t.Helper()
	v, err := decodeDoc([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return v
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
		expectFiltered(t, &Options{Format: JSON, JQ: expr}, expr, want)
	}
}

// expectFiltered checks o (--jq or --template, named by what) and prints
// bundle through it: want, and no error.
func expectFiltered(t *testing.T, o *Options, what, want string) {
	t.Helper()
	ios, _, out, _ := iostreams.Test()
	if err := o.Check(); err != nil {
		t.Errorf("%q: %v", what, err)
		return
	}
	if err := o.WriteDoc(ios, []byte(bundle)); err != nil {
		t.Errorf("%q: %v", what, err)
		return
	}
	if out.String() != want {
		t.Errorf("%q:\n got %q\nwant %q", what, out.String(), want)
	}
}
