package client

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// capture is one response recorded from a real Medplum 5.0.10 server
// (testdata/real-server, copied from the shared reference captures).
type capture struct {
	Status int
	Header http.Header
	Body   []byte
}

func loadCapture(t testing.TB, name string) capture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "real-server", name+".http"))
	if err != nil {
		t.Fatal(err)
	}
	head, body, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		t.Fatalf("%s: no blank line after the headers", name)
	}
	lines := strings.Split(string(head), "\n")
	fields := strings.Fields(lines[0])
	status, err := strconv.Atoi(fields[1])
	if err != nil {
		t.Fatalf("%s: status line %q", name, lines[0])
	}
	h := http.Header{}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		if !strings.EqualFold(k, "Content-Length") {
			h.Add(k, strings.TrimSpace(v))
		}
	}
	return capture{Status: status, Header: h, Body: bytes.TrimRight(body, "\n")}
}

// replay answers every request with the capture.
func (c capture) replay() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, vs := range c.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(c.Status)
		w.Write(c.Body)
	}
}
