package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/medplumcli/medplum/commands/cmdutil"
)

// bodySource says where a request body comes from: the argument after the
// URL ("-" means stdin), or -f FILE ("-" means stdin too).
type bodySource struct {
	Arg     string
	HasArg  bool
	File    string
	HasFile bool
}

// maxBody bounds a body read from a file or stdin.
const maxBody = 64 << 20

// read returns the body and a name for error messages. Exactly one source
// must be given.
func (s bodySource) read(stdin io.Reader) ([]byte, string, error) {
	switch {
	case s.HasArg && s.HasFile:
		return nil, "", cmdutil.FlagErrorf("give the body either as an argument or with -f, not both")
	case !s.HasArg && !s.HasFile:
		return nil, "", cmdutil.FlagErrorf("a body is required: a JSON argument, -f FILE, or - for stdin")
	case s.HasArg && s.Arg != "-":
		return []byte(s.Arg), "the body argument", nil
	case s.HasArg, s.File == "-":
		b, err := readAll(stdin)
		if err != nil {
			return nil, "", cmdutil.InputErrorf("reading the body from stdin: %v", err)
		}
		return b, "the body on stdin", nil
	}
	f, err := os.Open(s.File)
	if err != nil {
		return nil, "", cmdutil.InputErrorf("reading the body: %v", err)
	}
	defer f.Close()
	b, err := readAll(f)
	if err != nil {
		return nil, "", cmdutil.InputErrorf("reading the body from %s: %v", s.File, err)
	}
	return b, s.File, nil
}

func readAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("larger than %d MiB", maxBody>>20)
	}
	return b, nil
}

// checkJSON rejects a body that is not exactly one JSON value, saying where
// the problem is: "<name>: line 3, column 7: invalid character '}' ...".
func checkJSON(b []byte, name string) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return cmdutil.InputErrorf("%s is empty: expected JSON", name)
	}
	if !utf8.Valid(b) {
		return cmdutil.InputErrorf("%s is not valid UTF-8", name)
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
		return cmdutil.InputErrorf("%s is not valid JSON: line %d, column %d: %s", name, line, col, msg)
	}
	return cmdutil.InputErrorf("%s is not valid JSON: %v", name, err)
}

// position converts a 1-based byte offset (as json.SyntaxError reports the
// offset just after the offending byte) into a line and a column counted in
// characters.
func position(b []byte, offset int64) (line, col int) {
	if offset > int64(len(b)) {
		offset = int64(len(b)) + 1
	}
	if offset < 1 {
		offset = 1
	}
	prefix := b[:offset-1]
	line = bytes.Count(prefix, []byte("\n")) + 1
	start := bytes.LastIndexByte(prefix, '\n') + 1
	col = utf8.RuneCount(prefix[start:]) + 1
	return line, col
}
