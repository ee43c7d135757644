package invite

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/medplumcli/medplum/commands/invite/bulk"
)

// newProgress picks how a bulk run shows progress on stderr: a bar on a
// terminal, plain lines otherwise, nothing with --quiet.
func newProgress(w io.Writer, tty, quiet bool, total int) progress {
	switch {
	case quiet || total == 0:
		return nil
	case tty:
		return newBar(w, total, 100*time.Millisecond)
	}
	return &lines{w: w, every: 30 * time.Second, now: time.Now}
}

type progress interface {
	bulk.Progress
	// Notice prints a line of its own (the bar redraws below it).
	Notice(line string)
	Done()
}

// bar is the terminal progress bar: rows done of total, rate, ETA, and the
// failures and requests in flight in its description.
type bar struct {
	b    *progressbar.ProgressBar
	w    io.Writer
	last string
}

// newBar redraws at most once per throttle.
func newBar(w io.Writer, total int, throttle time.Duration) *bar {
	return &bar{w: w, b: progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetVisibility(true),
		progressbar.OptionSetDescription("inviting"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(throttle),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
	)}
}

func (b *bar) Update(st bulk.Stats) {
	desc := fmt.Sprintf("inviting (%d failed, %d in flight)", st.Failed(), st.InFlight)
	if desc != b.last {
		b.b.Describe(desc)
		b.last = desc
	}
	_ = b.b.Set(st.Done)
}

func (b *bar) Notice(line string) {
	_ = b.b.Clear()
	fmt.Fprintln(b.w, line)
}

func (b *bar) Done() { _ = b.b.Exit() }

// lines prints a plain line at every tenth of the rows, and at least every
// `every` in between, so that a log shows the run moving.
type lines struct {
	w        io.Writer
	every    time.Duration
	now      func() time.Time
	last     time.Time
	lastTick int
}

func (l *lines) Update(st bulk.Stats) {
	if st.Done == 0 || st.Done == st.Total { // the summary reports the end
		if l.last.IsZero() {
			l.last = l.now()
		}
		return
	}
	tick := st.Done * 10 / st.Total
	now := l.now()
	if tick == l.lastTick && now.Sub(l.last) < l.every {
		return
	}
	l.lastTick, l.last = tick, now
	fmt.Fprintf(l.w, "invite: %d/%d rows (%d%%): %s\n", st.Done, st.Total, st.Done*100/st.Total, counts(st.Counts))
}

func (l *lines) Notice(line string) { fmt.Fprintln(l.w, line) }

func (l *lines) Done() {}

// counts is "990 created, 5 exists, 0 updated, 3 failed, 2 skipped".
func counts(c map[bulk.Status]int) string {
	return fmt.Sprintf("%d created, %d exists, %d updated, %d failed, %d skipped",
		c[bulk.Created], c[bulk.Exists], c[bulk.Updated], c[bulk.Failed], c[bulk.Skipped])
}
