package bulk

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/medplumcli/medplum/commands/iostreams"
)

// progressLine is one status line on a terminal's stderr, redrawn in place
// at most every 100ms with the elapsed time; lines printed meanwhile go
// above it. Off a terminal (or with --quiet) it shows nothing.
type progressLine struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	start time.Time
	text  string
	drawn bool
	last  time.Time
}

func newProgressLine(ios *iostreams.IOStreams, quiet bool) *progressLine {
	return &progressLine{w: ios.ErrOut, on: !quiet && ios.IsStderrTTY(), start: time.Now()}
}

// set changes the status text.
func (p *progressLine) set(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.text = text
	if p.on && time.Since(p.last) >= 100*time.Millisecond {
		p.draw()
	}
}

func (p *progressLine) draw() {
	fmt.Fprintf(p.w, "\r\033[K%s (%s)", p.text, time.Since(p.start).Round(time.Second))
	p.drawn, p.last = true, time.Now()
}

func (p *progressLine) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// notice prints a line of its own on stderr (a terminal's only: it says
// what a resumed or new job is, which a script does not need).
func (p *progressLine) notice(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.on {
		return
	}
	p.clear()
	fmt.Fprintln(p.w, line)
	if p.text != "" {
		p.draw()
	}
}

// above prints a line to w (stdout) with the status line out of the way.
func (p *progressLine) above(line string, w io.Writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on {
		p.clear()
	}
	fmt.Fprintln(w, line)
	if p.on && p.text != "" {
		p.draw()
	}
}

// done removes the status line.
func (p *progressLine) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on {
		p.clear()
	}
	p.text = ""
}
