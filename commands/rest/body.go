package rest

import (
	"fmt"
	"io"
	"os"

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
// the problem is (cmdutil.CheckJSON).
func checkJSON(b []byte, name string) error { return cmdutil.CheckJSON(b, name) }
