// Package realcapture reads the responses captured from a real Medplum
// 5.0.10 server (testdata/real-server at the repository's root), for the
// client's error tests and medplumtest's contract tests.
//
// A capture file is an HTTP/1.1 response as it came off the wire, with
// LF line ends: the status line, the headers, a blank line and the body.
// Captures 100 and later start with one line "# METHOD path ..." that says
// what was asked (method, path, body, credentials), and keep the Date,
// Connection and Keep-Alive headers. Secrets are replaced by placeholders
// (<jwt>, <secret>, ...), so a body may be shorter or longer than its
// Content-Length says.
package realcapture

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Capture is one recorded response.
type Capture struct {
	Name    string // the file name without .http
	Request string // the "# " line without its "# ", or "" (captures 01-91)
	Status  int
	Header  http.Header // Content-Length included, as recorded
	Body    []byte
}

// Dir is the directory of the captures: testdata/real-server at the root of
// the repository.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "real-server")
}

// Names lists the captures in Dir, without .http, sorted.
func Names() ([]string, error) {
	files, err := filepath.Glob(filepath.Join(Dir(), "*.http"))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(files))
	for _, f := range files {
		out = append(out, strings.TrimSuffix(filepath.Base(f), ".http"))
	}
	return out, nil
}

// Load reads the capture name (the file name without .http) from Dir.
func Load(name string) (Capture, error) {
	raw, err := os.ReadFile(filepath.Join(Dir(), name+".http"))
	if err != nil {
		return Capture{}, err
	}
	c, err := Parse(raw)
	if err != nil {
		return Capture{}, fmt.Errorf("%s: %w", name, err)
	}
	c.Name = name
	return c, nil
}

// Parse reads one capture file.
func Parse(raw []byte) (Capture, error) {
	var c Capture
	if rest, ok := bytes.CutPrefix(raw, []byte("# ")); ok {
		line, after, found := bytes.Cut(rest, []byte("\n"))
		if !found {
			return c, fmt.Errorf("only a request line")
		}
		c.Request, raw = string(line), after
	}
	head, body, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		return c, fmt.Errorf("no blank line after the headers")
	}
	lines := strings.Split(string(head), "\n")
	proto, rest, _ := strings.Cut(lines[0], " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if proto != "HTTP/1.1" || err != nil {
		return c, fmt.Errorf("status line %q", lines[0])
	}
	c.Status = status
	c.Header = http.Header{}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return c, fmt.Errorf("header line %q", l)
		}
		c.Header.Add(k, strings.TrimSpace(v))
	}
	// The file ends with a newline the response did not have, unless the
	// body is exactly as long as announced (Express's HTML pages end with
	// one of their own).
	if n, err := strconv.Atoi(c.Header.Get("Content-Length")); err != nil || n != len(body) {
		body = bytes.TrimSuffix(body, []byte("\n"))
	}
	c.Body = body
	return c, nil
}

// Replay answers every request with the capture (Content-Length is
// computed again for the body as stored).
func (c Capture) Replay() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, vs := range c.Header {
			if k == "Content-Length" || k == "Date" || k == "Connection" || k == "Keep-Alive" {
				continue
			}
			w.Header()[k] = vs
		}
		w.WriteHeader(c.Status)
		w.Write(c.Body)
	}
}
