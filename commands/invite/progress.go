package invite

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/medplumcli/medplum/commands/invite/bulk"
	"github.com/medplumcli/medplum/commands/iostreams"
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
// failures and requests in flight in its description, an
// iostreams.StatusLine (redrawn in place, throttled, the last row always
// drawn):
//
//	inviting (1 failed, 2 in flight)  50% |███████████████               | (75/150, 62 rows/s) [1s:1s]
//
// It used to be github.com/schollz/progressbar, whose package init (and
// its colour library's) ran on every command, --version included.
type bar struct {
	l     *iostreams.StatusLine
	w     io.Writer
	total int
}

// barWidth is the number of cells between the bar's | |.
const barWidth = 30

// newBar redraws at most once per throttle.
func newBar(w io.Writer, total int, throttle time.Duration) *bar {
	return &bar{l: iostreams.NewStatusLine(w, true, throttle), w: w, total: total}
}

func (b *bar) Update(st bulk.Stats) {
	text := func(elapsed time.Duration) string { return b.text(st, elapsed) }
	if st.Done >= b.total {
		b.l.SetNow(text)
		return
	}
	b.l.Set(text)
}

func (b *bar) text(st bulk.Stats, elapsed time.Duration) string {
	done := min(max(st.Done, 0), b.total)
	fill := done * barWidth / b.total
	rate, eta := 0.0, time.Duration(0)
	if elapsed > 0 && done > 0 {
		rate = float64(done) / elapsed.Seconds()
		eta = time.Duration(float64(b.total-done) / rate * float64(time.Second))
	}
	return fmt.Sprintf("inviting (%d failed, %d in flight) %3d%% |%s%s| (%d/%d, %s rows/s) [%s:%s]",
		st.Failed(), st.InFlight, done*100/b.total, strings.Repeat("\u2588", fill), strings.Repeat(" ", barWidth-fill),
		done, b.total, strconv.FormatFloat(rate, 'f', rateDecimals(rate), 64),
		elapsed.Round(time.Second), eta.Round(time.Second))
}

// rateDecimals shows a slow rate (under 10 rows a second) with a decimal.
func rateDecimals(rate float64) int {
	if rate < 10 {
		return 1
	}
	return 0
}

// Notice prints line above the bar, which is drawn again below it.
func (b *bar) Notice(line string) { b.l.Println(b.w, line) }

// Done clears the bar's line: the summary follows.
func (b *bar) Done() { b.l.Done() }

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
