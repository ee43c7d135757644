package realcapture

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseWithRequestLine(t *testing.T) {
	raw := "# GET /auth/mfa/status as the user (Bearer)\n" +
		"HTTP/1.1 200 OK\nContent-Type: application/json; charset=utf-8\nContent-Length: 17\n" +
		"Date: Sun, 06 Dec 2026 22:32:25 GMT\nConnection: keep-alive\nKeep-Alive: timeout=90\n\n" +
		`{"enrolled":true}` + "\n"
	c, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if c.Request != "GET /auth/mfa/status as the user (Bearer)" || c.Status != 200 ||
		c.Header.Get("Date") != "Sun, 06 Dec 2026 22:32:25 GMT" || c.Header.Get("Keep-Alive") != "timeout=90" ||
		string(c.Body) != `{"enrolled":true}` {
		t.Errorf("got %+v, body %q", c, c.Body)
	}
}

func TestParseWithoutRequestLine(t *testing.T) {
	// Captures 01-91: no request line; an HTML body as long as announced
	// keeps its own final newline.
	raw := "HTTP/1.1 404 Not Found\nContent-Type: text/html; charset=utf-8\nContent-Length: 6\n\n<pre>\n"
	c, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if c.Request != "" || c.Status != 404 || string(c.Body) != "<pre>\n" {
		t.Errorf("got %+v, body %q", c, c.Body)
	}
}

func TestParseRedactedBody(t *testing.T) {
	// A placeholder changed the body's length: the file's own newline goes.
	raw := "HTTP/1.1 201 Created\nContent-Length: 99\n\n{\"secret\":\"<secret>\"}\n"
	c, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Body) != `{"secret":"<secret>"}` {
		t.Errorf("body %q", c.Body)
	}
}

func TestParseErrors(t *testing.T) {
	for _, raw := range []string{"# only a request line", "HTTP/1.1 200 OK\nno blank line", "HTTP/2 200\n\n{}", "HTTP/1.1 200 OK\nbad header\n\n{}"} {
		if _, err := Parse([]byte(raw)); err == nil {
			t.Errorf("%q: no error", raw)
		}
	}
}

// Every capture in the repository parses, and the ones numbered 100 and
// later name their request.
func TestEveryCaptureParses(t *testing.T) {
	names, err := Names()
	if err != nil || len(names) == 0 {
		t.Fatalf("no captures in %s: %v", Dir(), err)
	}
	for _, n := range names {
		c, err := Load(n)
		if err != nil {
			t.Error(err)
			continue
		}
		if len(n) > 2 && n[2] != '-' && !(n[2] >= 'a' && n[2] <= 'z') && c.Request == "" {
			t.Errorf("%s: no request line", n)
		}
		if strings.Contains(c.Header.Get("Content-Type"), "json") && len(bytes.TrimSpace(c.Body)) > 0 && c.Body[0] != '{' && c.Body[0] != '[' {
			t.Errorf("%s: a JSON body that does not start with { or [", n)
		}
	}
}
