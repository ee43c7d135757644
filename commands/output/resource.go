package output

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/iostreams"
)

// WriteBody prints a server response body. JSON is re-indented byte for byte
// (key order, unknown fields and number spelling kept); a body that is not
// JSON (an HTML error page, plain text) is written unchanged; an empty body
// prints nothing. ndjson prints one compact resource per line: each entry of
// a searchset or history Bundle, else the document itself. table and csv
// print one row per resource.
func (o *Options) WriteBody(ios *iostreams.IOStreams, body []byte) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if !json.Valid(body) {
		return writeRaw(ios.Out, body)
	}
	switch o.Format {
	case NDJSON:
		return WriteNDJSON(ios.Out, Entries(body))
	case Table, CSV:
		rows, err := ResourceRows(Entries(body))
		if err != nil {
			return err
		}
		return o.WriteRows(ios, rows)
	default:
		return o.WriteDoc(ios, body)
	}
}

// WriteJSON re-indents a JSON document with two spaces and a final newline.
func WriteJSON(w io.Writer, doc []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, doc, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteJSONArray writes documents as one indented JSON array, each as the
// server wrote it (json.Marshal would re-escape <, > and &).
func WriteJSONArray(w io.Writer, docs []json.RawMessage) error {
	a := NewJSONArrayWriter(w)
	for _, d := range docs {
		if err := a.Write(d); err != nil {
			return err
		}
	}
	return a.Close()
}

// JSONArrayWriter writes an indented JSON array one document at a time,
// the bytes WriteJSON gives the whole array, in constant memory. A list
// that fails half-way stays without its closing bracket: not JSON, so
// that no reader takes it for the whole list.
type JSONArrayWriter struct {
	w   *bufio.Writer
	n   int
	buf bytes.Buffer
}

// NewJSONArrayWriter starts an array on w; nothing is written before the
// first Write or Close.
func NewJSONArrayWriter(w io.Writer) *JSONArrayWriter {
	return &JSONArrayWriter{w: bufio.NewWriterSize(w, 64<<10)}
}

// Write adds a document (valid JSON) to the array.
func (a *JSONArrayWriter) Write(doc []byte) error {
	a.buf.Reset()
	if err := json.Indent(&a.buf, doc, "  ", "  "); err != nil {
		return err
	}
	sep := ",\n  "
	if a.n == 0 {
		sep = "[\n  "
	}
	a.n++
	a.w.WriteString(sep)
	_, err := a.w.Write(a.buf.Bytes())
	return err
}

// Flush writes what is buffered without ending the array: what a list that
// fails half-way leaves (not JSON, on purpose).
func (a *JSONArrayWriter) Flush() error { return a.w.Flush() }

// Close ends the array ([] when empty) and flushes it.
func (a *JSONArrayWriter) Close() error {
	if a.n == 0 {
		a.w.WriteString("[]\n")
	} else {
		a.w.WriteString("\n]\n")
	}
	return a.w.Flush()
}

// WriteNDJSON writes each document compacted on its own line. The
// documents must be valid JSON (see AppendNDJSON).
func WriteNDJSON(w io.Writer, docs []json.RawMessage) error {
	_, err := w.Write(AppendNDJSON(nil, docs))
	return err
}

// WriteItems prints a list of the CLI's own data (not server JSON) for -o
// json or yaml (an array, [] when empty; --jq and --template see that
// array) and ndjson (one compact item per line), and reports whether it
// did: for table and csv the caller prints rows.
func WriteItems[T any](ios *iostreams.IOStreams, o *Options, items []T) (bool, error) {
	switch o.Format {
	case JSON, YAML:
		if items == nil {
			items = []T{}
		}
		return true, o.WriteData(ios, items)
	case NDJSON:
		for _, it := range items {
			if err := WriteCompact(ios.Out, it); err != nil {
				return true, err
			}
		}
		return true, nil
	}
	return false, nil
}

func writeRaw(w io.Writer, body []byte) error {
	if _, err := w.Write(body); err != nil {
		return err
	}
	_, err := w.Write([]byte("\n"))
	return err
}

// Entries returns the resources of a searchset or history Bundle, or the
// document itself for anything else.
func Entries(doc []byte) []json.RawMessage {
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(doc, &b) != nil || b.ResourceType != "Bundle" || (b.Type != "searchset" && b.Type != "history") {
		return []json.RawMessage{doc}
	}
	out := make([]json.RawMessage, 0, len(b.Entry))
	for _, e := range b.Entry {
		if len(e.Resource) > 0 {
			out = append(out, e.Resource)
		}
	}
	return out
}

// Columns shown for a list of resources: these four for any mix, plus a few
// for a list of a single resource type (doctl's displayers, per type).
var (
	baseColumns  = []string{"type", "id", "lastUpdated", "display"}
	extraColumns = map[string][]string{
		"ProjectMembership": {"admin", "active"},
		"Patient":           {"birthDate", "gender"},
		"User":              {"email"},
	}
)

// ResourceColumns are the named columns of a list of resources of one type
// ("" for a mix): the default ones and versionId. Any dotted path into the
// resource is a column too.
func ResourceColumns(resourceType string) []string {
	cols := append(slices.Clone(baseColumns), "versionId")
	return append(cols, extraColumns[resourceType]...)
}

// URLColumns are the ResourceColumns of the type a REST command's URL
// argument names (Patient in "Patient?name=x" or "fhir/R4/Patient/1").
func URLColumns(args []string) []string {
	if len(args) == 0 {
		return ResourceColumns("")
	}
	u := strings.TrimPrefix(strings.TrimPrefix(args[0], "/"), "fhir/R4/")
	t, _, _ := strings.Cut(u, "?")
	t, _, _ = strings.Cut(t, "/")
	if t == "" || !unicode.IsUpper(rune(t[0])) {
		t = ""
	}
	return ResourceColumns(t)
}

// ColumnList is a CompleteColumns for fixed columns.
func ColumnList(cols ...string) func([]string) []string {
	return func([]string) []string { return cols }
}

// ResourceRows builds tabular rows from resources. Columns are named: type,
// id, lastUpdated, versionId and display are computed; any other name is a
// dotted path into the resource (name.family, meta.project, identifier.0.value).
func ResourceRows(docs []json.RawMessage) (Rows, error) {
	rows := Rows{Default: baseColumns}
	types := map[string]bool{}
	for _, d := range docs {
		r, err := client.DecodeResource(d)
		if err != nil {
			return Rows{}, fmt.Errorf("cannot show this answer as a table: %v", err)
		}
		types[r.ResourceType()] = true
		rows.Records = append(rows.Records, resourceRecord(r))
	}
	if len(types) == 1 {
		for t := range types {
			rows.Default = append(append([]string{}, baseColumns...), extraColumns[t]...)
		}
	}
	return rows, nil
}

type resourceRecord client.Resource

// ResourceRecord is a resource as a table row: the columns of ResourceRows.
func ResourceRecord(r client.Resource) Record { return resourceRecord(r) }

// Field implements Record.
func (r resourceRecord) Field(col string) string {
	res := client.Resource(r)
	switch col {
	case "type":
		return res.ResourceType()
	case "lastUpdated":
		return str(lookup(res, "meta.lastUpdated"))
	case "versionId":
		return str(lookup(res, "meta.versionId"))
	case "display":
		return Display(res)
	}
	return str(lookup(res, col))
}

// lookup follows a dotted path. A numeric segment indexes an array; a name
// applied to an array looks inside its first element (name.family).
func lookup(v any, path string) any {
	for seg := range strings.SplitSeq(path, ".") {
		if arr, ok := v.([]any); ok {
			if i, err := strconv.Atoi(seg); err == nil {
				if i < 0 || i >= len(arr) {
					return nil
				}
				v = arr[i]
				continue
			}
			if len(arr) == 0 {
				return nil
			}
			v = arr[0]
		}
		switch m := v.(type) {
		case client.Resource:
			v = m[seg]
		case map[string]any:
			v = m[seg]
		default:
			return nil
		}
	}
	return v
}

// str renders a value for a cell: strings as they are, numbers exactly,
// references as their reference, anything else as compact JSON.
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case map[string]any:
		if ref, ok := x["reference"].(string); ok {
			return ref
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Display is a short human label for a resource: a person's name, a
// membership's profile, a named resource's name, an outcome's message.
func Display(r client.Resource) string {
	switch r.ResourceType() {
	case "ProjectMembership":
		if d := r.Display("profile"); d != "" {
			return d
		}
		return r.Ref("profile")
	case "User":
		if n := strings.TrimSpace(r.String("firstName") + " " + r.String("lastName")); n != "" {
			return n
		}
		return r.String("email")
	case "OperationOutcome":
		if t := str(lookup(r, "issue.details.text")); t != "" {
			return t
		}
		return str(lookup(r, "issue.diagnostics"))
	case "Bundle":
		return r.String("type")
	}
	if s := r.String("name"); s != "" {
		return s
	}
	if n := humanName(lookup(r, "name.0")); n != "" {
		return n
	}
	for _, p := range []string{"title", "code.text", "code.coding.display", "description"} {
		if s, ok := lookup(r, p).(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// humanName formats a FHIR HumanName: its text, else given names and family.
func humanName(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if t, ok := m["text"].(string); ok && t != "" {
		return t
	}
	var parts []string
	if given, ok := m["given"].([]any); ok {
		for _, g := range given {
			if s, ok := g.(string); ok {
				parts = append(parts, s)
			}
		}
	}
	if f, ok := m["family"].(string); ok && f != "" {
		parts = append(parts, f)
	}
	return strings.Join(parts, " ")
}

// WriteCompact prints a Go value as one line of JSON without HTML escaping.
func WriteCompact(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
