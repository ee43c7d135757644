package bulk

import (
	"fmt"
	"io"
	"time"

	"github.com/medplumcli/medplum/commands/iostreams"
)

// progressLine is bulk export's and import's status line on a terminal's
// stderr (iostreams.StatusLine), redrawn at most every 100ms with the
// elapsed time; lines printed meanwhile go above it. Off a terminal (or
// with --quiet) it shows nothing.
type progressLine struct {
	l      *iostreams.StatusLine
	errOut io.Writer
}

func newProgressLine(ios *iostreams.IOStreams, quiet bool) *progressLine {
	return &progressLine{ios.StatusLine(!quiet, 100*time.Millisecond), ios.ErrOut}
}

// set changes the status text: "imported 3 of 10 resources (2s)".
func (p *progressLine) set(text string) {
	p.l.Set(func(elapsed time.Duration) string { return fmt.Sprintf("%s (%s)", text, elapsed.Round(time.Second)) })
}

// notice prints a line of its own on stderr (a terminal's only: it says
// what a resumed or new job is, which a script does not need).
func (p *progressLine) notice(line string) {
	if p.l.TTY() {
		p.l.Println(p.errOut, line)
	}
}

// above prints a line to w (stdout) with the status line out of the way.
func (p *progressLine) above(line string, w io.Writer) { p.l.Println(w, line) }

// clear takes the status line away until the next set: lines printed
// meanwhile (to either stream) go where it was.
func (p *progressLine) clear() { p.l.Clear() }

// done removes the status line.
func (p *progressLine) done() { p.l.Done() }
