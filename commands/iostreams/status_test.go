package iostreams

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// The status line's bytes on a terminal: drawn in place ("\r", erase the
// line), at most once per throttle unless SetNow, never the same text
// twice, out of the way of lines printed above it (to its own writer or
// another), gone after Done.
func TestStatusLineDrawsInPlace(t *testing.T) {
	var term, out bytes.Buffer
	clock := time.Unix(0, 0)
	l := NewStatusLine(&term, true, 100*time.Millisecond)
	l.SetClock(func() time.Time { return clock })
	at := func(n int) func(time.Duration) string {
		return func(e time.Duration) string { return fmt.Sprintf("%d done (%s)", n, e) }
	}
	fixed := func(s string) func(time.Duration) string { return func(time.Duration) string { return s } }
	l.Set(at(0)) // the first: drawn
	clock = clock.Add(50 * time.Millisecond)
	l.Set(at(1)) // within the throttle: kept, not drawn
	l.Println(&term, "a notice")
	l.Println(&out, "to stdout")
	clock = clock.Add(100 * time.Millisecond)
	l.Set(fixed("same"))
	clock = clock.Add(200 * time.Millisecond)
	l.Set(fixed("same")) // on the terminal already
	clock = clock.Add(10 * time.Millisecond)
	l.SetNow(at(9)) // the last: drawn whatever the throttle
	l.Clear()
	clock = clock.Add(10 * time.Millisecond)
	l.Set(at(10)) // after Clear: drawn at once
	l.Done()
	l.Done()
	l.Println(&term, "after")
	want := "\r\x1b[K0 done (0s)" +
		"\r\x1b[Ka notice\n" + "\r\x1b[K1 done (50ms)" +
		"\r\x1b[K" + "\r\x1b[K1 done (50ms)" +
		"\r\x1b[Ksame" +
		"\r\x1b[K9 done (360ms)" +
		"\r\x1b[K" + "\r\x1b[K10 done (370ms)" +
		"\r\x1b[K" + "after\n"
	if term.String() != want {
		t.Errorf("the terminal got\n%q\nwant\n%q", term.String(), want)
	}
	if out.String() != "to stdout\n" {
		t.Errorf("stdout got %q", out.String())
	}
}

// Off a terminal nothing is drawn; Println prints plain lines.
func TestStatusLineOffATerminal(t *testing.T) {
	ios, _, _, errOut := Test()
	l := ios.StatusLine(true, 0)
	if l.TTY() {
		t.Fatal("a buffer's status line is drawn")
	}
	l.Set(func(time.Duration) string { return "working" })
	l.SetNow(func(time.Duration) string { return "done" })
	l.Println(ios.ErrOut, "a line")
	l.Clear()
	l.Done()
	if errOut.String() != "a line\n" {
		t.Errorf("got %q", errOut.String())
	}
	// On a terminal, but not shown (--quiet): the same.
	ios.SetStderrTTY(true)
	errOut.Reset()
	l = ios.StatusLine(false, 0)
	l.Set(func(time.Duration) string { return "working" })
	l.Println(ios.ErrOut, "b")
	if l.TTY() || errOut.String() != "b\n" {
		t.Errorf("quiet: tty %v, got %q", l.TTY(), errOut.String())
	}
	errOut.Reset()
	l = ios.StatusLine(true, 0)
	l.Set(func(time.Duration) string { return "working" })
	l.Done()
	if errOut.String() != "\r\x1b[Kworking\r\x1b[K" {
		t.Errorf("on a terminal: got %q", errOut.String())
	}
}
