package review

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/medplumcli/medplum/commands/iostreams"
)

// ndjson writes the review as JSON lines, each with its kind first:
// {"record":"member",...} as each member is read, then the findings,
// rules, changes, ignore notes and the counts.
type ndjson struct{ w *bufio.Writer }

func newNDJSON(w io.Writer) *ndjson { return &ndjson{w: bufio.NewWriterSize(w, 64<<10)} }

func (n *ndjson) line(kind string, body []byte) error {
	n.w.WriteString(`{"record":"` + kind + `"`)
	if len(body) > 2 {
		n.w.WriteByte(',')
		n.w.Write(body[1 : len(body)-1])
	}
	_, err := n.w.WriteString("}\n")
	return err
}

func (n *ndjson) value(kind string, v any) error {
	b, err := marshal(v)
	if err != nil {
		return err
	}
	return n.line(kind, b)
}

func (n *ndjson) member(m *Member) error {
	b, err := m.MarshalJSON()
	if err != nil {
		return err
	}
	return n.line("member", b)
}

func (n *ndjson) end(r *Report) error {
	if err := r.eachFinding(func(f Finding) error { return n.value("finding", f) }); err != nil {
		return err
	}
	for _, rr := range r.ruleResults() {
		if err := n.value("rule", rr); err != nil {
			return err
		}
	}
	if r.baseline != nil {
		if err := r.changes.each(func(c Change) error { return n.value("change", c) }); err != nil {
			return err
		}
	}
	for _, note := range r.ignoreNotes() {
		if err := n.value("ignoreNote", note); err != nil {
			return err
		}
	}
	summary := struct {
		Project    ReportProject `json:"project"`
		ReviewedAt string        `json:"reviewedAt"`
		Reviewer   Reviewer      `json:"reviewer"`
		Settings   Settings      `json:"settings"`
		Counts     Counts        `json:"counts"`
	}{r.Project, r.ReviewedAt, r.Reviewer, r.Settings, r.counts}
	if err := n.value("summary", summary); err != nil {
		return err
	}
	return n.w.Flush()
}

// progress is the line a terminal shows while the review reads the
// members: "reviewing: 3000 of 12000 members read (25%)" (an
// iostreams.StatusLine). It changes once a page of members, which is
// throttle enough: every page is drawn. Nothing without a terminal on
// stderr.
type progress struct {
	l  *iostreams.StatusLine
	on bool
}

func newProgress(ios *iostreams.IOStreams) *progress {
	l := ios.StatusLine(true, 0)
	return &progress{l: l, on: l.TTY()}
}

func (p *progress) update(done, total int) {
	if !p.on {
		return
	}
	line := fmt.Sprintf("reviewing: %d members read", done)
	if total > 0 {
		line = fmt.Sprintf("reviewing: %d of %d members read (%d%%)", done, total, done*100/total)
	}
	p.l.Set(func(time.Duration) string { return line })
}

func (p *progress) done() { p.l.Done() }
