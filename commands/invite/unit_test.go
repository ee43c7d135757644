package invite

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/commands/invite/bulk"
)

// The sample's README shows the same column description as the help topic.
func TestREADMEShowsHelp(t *testing.T) {
	readme, err := os.ReadFile("../../testdata/invite/README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```text\n"+CSVHelp+"```\n") {
		t.Error("testdata/invite/README.md does not contain CSVHelp verbatim; copy it over")
	}
}

func TestBarOnTTY(t *testing.T) {
	var buf bytes.Buffer
	if p := newProgress(&buf, true, false, 10); p == nil {
		t.Fatal("no progress on a TTY")
	} else if _, ok := p.(*bar); !ok {
		t.Fatalf("on a TTY: %T, want a bar", p)
	}
	p := newBar(&buf, 10, 0)
	p.Update(bulk.Stats{Total: 10, Done: 5, Counts: map[bulk.Status]int{bulk.Created: 4, bulk.Failed: 1}, InFlight: 2})
	out := buf.String()
	for _, want := range []string{"inviting (1 failed, 2 in flight)", "5/10", "rows/s", "\r"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar output lacks %q:\n%q", want, out)
		}
	}
	if newProgress(&buf, true, true, 10) != nil || newProgress(&buf, false, true, 10) != nil {
		t.Error("--quiet still shows progress")
	}
}

// The bar redraws its line in place, at most once per throttle (the last
// row always), keeps a notice above it, and clears its line at the end.
func TestBarDrawsInPlace(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	b := newBar(&buf, 150, 100*time.Millisecond)
	b.l.SetClock(func() time.Time { return clock })
	st := func(done, failed, inFlight int) bulk.Stats {
		return bulk.Stats{Total: 150, Done: done, InFlight: inFlight,
			Counts: map[bulk.Status]int{bulk.Created: done - failed, bulk.Failed: failed}}
	}
	b.Update(st(0, 0, 4))
	clock = clock.Add(50 * time.Millisecond)
	b.Update(st(3, 0, 4)) // within the throttle: not drawn
	clock = clock.Add(1150 * time.Millisecond)
	b.Update(st(75, 1, 2))
	b.Notice("interrupted: waiting")
	clock = clock.Add(10 * time.Millisecond)
	b.Update(st(150, 1, 0)) // the last row, within the throttle
	b.Done()
	b.Done()
	full := strings.Repeat("\u2588", 30)
	want := "\r\x1b[Kinviting (0 failed, 4 in flight)   0% |" + strings.Repeat(" ", 30) + "| (0/150, 0.0 rows/s) [0s:0s]" +
		"\r\x1b[Kinviting (1 failed, 2 in flight)  50% |" + full[:15*3] + strings.Repeat(" ", 15) + "| (75/150, 62 rows/s) [1s:1s]" +
		"\r\x1b[Kinterrupted: waiting\n" +
		"\r\x1b[Kinviting (1 failed, 2 in flight)  50% |" + full[:15*3] + strings.Repeat(" ", 15) + "| (75/150, 62 rows/s) [1s:1s]" +
		"\r\x1b[Kinviting (1 failed, 0 in flight) 100% |" + full + "| (150/150, 124 rows/s) [1s:0s]" +
		"\r\x1b[K"
	if buf.String() != want {
		t.Errorf("bar wrote\n%q\nwant\n%q", buf.String(), want)
	}
	// Without a line drawn, a notice is a line of its own and Done writes nothing.
	buf.Reset()
	b = newBar(&buf, 10, 0)
	b.Notice("note")
	b.Done()
	if buf.String() != "note\n" {
		t.Errorf("got %q", buf.String())
	}
}

func TestLinesEveryTenthAndEveryHalfMinute(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	l := &lines{w: &buf, every: 30 * time.Second, now: func() time.Time { return clock }}
	st := func(done int) bulk.Stats {
		return bulk.Stats{Total: 1000, Done: done, Counts: map[bulk.Status]int{bulk.Created: done}}
	}
	l.Update(st(0))
	l.Update(st(50))
	clock = clock.Add(31 * time.Second)
	l.Update(st(60)) // no new tenth, but half a minute passed
	l.Update(st(70))
	l.Update(st(100)) // a new tenth
	l.Update(st(1000))
	want := "invite: 60/1000 rows (6%): 60 created, 0 exists, 0 updated, 0 failed, 0 skipped\n" +
		"invite: 100/1000 rows (10%): 100 created, 0 exists, 0 updated, 0 failed, 0 skipped\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestJSONResultsStream(t *testing.T) {
	var buf bytes.Buffer
	j := &jsonResults{w: &buf, array: true}
	j.Write(bulk.Result{Line: 2, Email: "a@b.co", Status: bulk.Created, Membership: "m1"})
	j.Write(bulk.Result{Line: 3, ExternalID: "x1", Status: bulk.Failed, Error: "boom", Earlier: true})
	j.Close()
	want := "[\n  {\"line\":2,\"email\":\"a@b.co\",\"status\":\"created\",\"membershipId\":\"m1\"},\n  {\"line\":3,\"externalId\":\"x1\",\"status\":\"failed\",\"error\":\"boom\",\"earlierRun\":true}\n]\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	buf.Reset()
	(&jsonResults{w: &buf, array: true}).Close()
	if buf.String() != "[]\n" {
		t.Errorf("empty array: %q", buf.String())
	}
}
