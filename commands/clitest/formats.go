package clitest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/medplumcli/medplum/client/medplumtest"
)

// ExpectDocumentFlags checks a command's -o yaml, --jq and --template
// against its own -o json, one line for any command that prints JSON
// through commands/output:
//
//	clitest.ExpectDocumentFlags(t, e, srv, "members", "list")
//
// It runs the command with -o json (exit 0), then checks that -o yaml is
// the same document (keys in the same order), --jq . and --template
// '{{json .}}' print it compact, --jq and --template pick a field out of it,
// and that a broken expression (a syntax error, an undefined function, an
// unknown format, a template function called with the wrong number of
// arguments) is exit 2, names its position and sends nothing. The
// command must print something (an empty list is fine). srv may be nil (a
// clitest.Target on a real server: tg.Sandbox).
func ExpectDocumentFlags(t testing.TB, e *Env, srv *medplumtest.Server, args ...string) {
	t.Helper()
	ExpectDocumentFlagsStderr(t, e, srv, "", args...)
}

// ExpectDocumentFlagsStderr is ExpectDocumentFlags for a command that
// says something on stderr when it succeeds (the same each time: a command
// that creates something checks it with --if-not-exists after its first
// run, apply with a file the project already matches): every run that
// prints the document must print exactly stderr.
func ExpectDocumentFlagsStderr(t testing.TB, e *Env, srv *medplumtest.Server, stderr string, args ...string) {
	t.Helper()
	run := func(extra ...string) Result { return e.Run(append(append([]string{}, args...), extra...)...) }
	doc := run("-o", "json").ExpectCode(t, 0, stderr)
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s -o json is not JSON: %v\n%s", strings.Join(args, " "), err, doc)
	}

	// -o yaml: the same values, the same key order.
	y := run("-o", "yaml").ExpectCode(t, 0, stderr)
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(y), &node); err != nil {
		t.Fatalf("-o yaml is not YAML: %v\n%s", err, y)
	}
	var fromYAML any
	if err := node.Decode(&fromYAML); err != nil {
		t.Fatal(err)
	}
	if a, b := canonical(t, fromYAML), canonical(t, v); a != b {
		t.Errorf("-o yaml is another document than -o json:\nyaml: %s\njson: %s", a, b)
	}
	if a, b := yamlKeys(node.Content[0]), jsonKeys(t, doc); !reflect.DeepEqual(a, b) {
		t.Errorf("-o yaml keys %q, -o json keys %q", a, b)
	}

	// --jq . and --template '{{json .}}': the document, compact.
	compact := compactSorted(t, v)
	run("--jq", ".").Expect(t, 0, compact+"\n", stderr)
	run("--template", "{{json .}}").Expect(t, 0, compact, stderr)
	run("--template", `{{. | json | printf "%s"}}`).Expect(t, 0, compact, stderr)

	// A field, through both: the id of the document or of its first item.
	jq, tmpl, want := ".id", "{{.id}}", ""
	if m, ok := v.(map[string]any); ok {
		want, _ = m["id"].(string)
	}
	if list, ok := v.([]any); ok {
		jq, tmpl = ".[0].id", "{{with index . 0}}{{.id}}{{end}}"
		if len(list) == 0 {
			jq, tmpl = ".[0].id // empty", "{{range .}}{{.id}}{{end}}"
		} else if m, ok := list[0].(map[string]any); ok {
			want, _ = m["id"].(string)
		}
	}
	if want != "" {
		run("--jq", jq).Expect(t, 0, want+"\n", stderr)
		run("--template", tmpl).Expect(t, 0, want, stderr)
	}

	// Broken expressions: exit 2, the position named, nothing sent (the
	// sandbox's log shows it; srv is nil against a real server).
	if srv != nil {
		srv.ResetRequests()
	}
	run("--jq", ".id |").ExpectCode(t, 2, "medplum: invalid --jq expression \".id |\": unexpected EOF at column 6 (the end)\n")
	run("--jq", ".id | lenght").ExpectCode(t, 2, "medplum: invalid --jq expression \".id | lenght\": function not defined: lenght/0 at column 7\n")
	run("--jq", "@foo").ExpectCode(t, 2, "medplum: invalid --jq expression \"@foo\": format not defined: @foo at column 1\n")
	run("--template", "{{.id").ExpectCode(t, 2, "medplum: invalid --template: line 1: unclosed action\n")
	run("--template", "{{.id}} {{truncate .id}}").ExpectCode(t, 2, "medplum: invalid --template: line 1, column 11: wrong number of args for truncate: want 2 got 1\n")
	run("--jq", ".", "-o", "yaml").ExpectCode(t, 2,
		"medplum: --jq works on the JSON output: leave out -o yaml (or use -o json)\nRun 'medplum "+strings.Join(commandPath(args), " ")+" --help' for usage.\n")
	if srv != nil {
		ExpectNothingSent(t, srv)
	}
}

// commandPath is the command words of args (up to the first argument that
// is not a lower-case word: a URL, a flag).
func commandPath(args []string) []string {
	var out []string
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, "-/?=:.") || strings.ToLower(a) != a {
			break
		}
		out = append(out, a)
	}
	return out
}

// canonical is a value as compact JSON with sorted keys and plain numbers.
func canonical(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var plain any
	if err := json.Unmarshal(b, &plain); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(plain)
	return string(b)
}

// compactSorted is what jq prints for ., piped: compact, keys sorted, no
// HTML escaping, numbers as written.
func compactSorted(t testing.TB, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// yamlKeys are the keys of a mapping (or of a sequence's first mapping).
func yamlKeys(n *yaml.Node) []string {
	if n.Kind == yaml.SequenceNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	var keys []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	return keys
}

// jsonKeys are the keys of a JSON object in order (or of an array's first
// object).
func jsonKeys(t testing.TB, doc string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(doc))
	tok, err := dec.Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok == json.Delim('[') {
		if !dec.More() {
			return nil
		}
		if tok, err = dec.Token(); err != nil {
			t.Fatal(err)
		}
	}
	if tok != json.Delim('{') {
		return nil
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}
