package cmdutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// CheckJSON rejects a body that is not exactly one JSON value, saying where
// the problem is: "<name>: line 3, column 7: invalid character '}' ...".
func CheckJSON(b []byte, name string) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return InputErrorf("%s is empty: expected JSON", name)
	}
	if !utf8.Valid(b) {
		return InputErrorf("%s is not valid UTF-8", name)
	}
	if bytes.HasPrefix(b, []byte("\ufeff")) {
		// Windows editors write one; Go would report "invalid character 'ï'".
		return InputErrorf("%s starts with a byte order mark (U+FEFF), which JSON does not allow: save it as UTF-8 without a BOM", name)
	}
	var v json.RawMessage // checks syntax without converting numbers
	err := json.Unmarshal(b, &v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(b, se.Offset)
		msg := se.Error()
		if msg == "unexpected end of JSON input" {
			line, col = position(b, int64(len(bytes.TrimRight(b, " \t\r\n")))+1)
		}
		return InputErrorf("%s is not valid JSON: line %d, column %d: %s", name, line, col, msg)
	}
	return InputErrorf("%s is not valid JSON: %v", name, err)
}

// position converts a 1-based byte offset (as json.SyntaxError reports the
// offset just after the offending byte) into a line and a column counted in
// characters.
func position(b []byte, offset int64) (line, col int) {
	return LineColumn(string(b), int(min(max(offset, 1), int64(len(b))+1)-1))
}

// LineColumn is the line and the column (in characters) of byte offset at
// in text, both counted from 1; an offset past the end is the end. (JSON
// bodies, --jq expressions and templates name their errors' places so.)
func LineColumn(text string, at int) (line, col int) {
	at = min(max(at, 0), len(text))
	start := strings.LastIndexByte(text[:at], '\n') + 1
	return strings.Count(text[:at], "\n") + 1, utf8.RuneCountInString(text[start:at]) + 1
}

// MarshalJSON is json.Marshal (json.MarshalIndent with an indent) for what
// a person reads: a file such as .medplum-export.json or a journal, or
// output. It writes &, < and > as they are, where the standard library
// writes \u0026, \u003c and \u003e (for HTML, which none of these is).
func MarshalJSON(v any, indent string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
