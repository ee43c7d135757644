package iostreams

import (
	"io"
	"sync"
	"time"
)

// clearLine goes back to the start of the line and erases it.
const clearLine = "\r\x1b[K"

// StatusLine is one line of status on a terminal, redrawn in place: "\r",
// erase to the end of the line, the text (no newline). It is drawn at most
// once per throttle, except the first time, after a Println or Clear and on SetNow;
// a text the terminal already shows is not written again. Println puts a
// line above it. Off a terminal it draws nothing and Println prints plain
// lines, so a command that wants nothing there simply does not Println.
//
// bulk export/import's line, members review's and invite --csv's bar are
// drawn by it; it is safe for use by several goroutines.
type StatusLine struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	throttle time.Duration
	now      func() time.Time
	start    time.Time
	text     func(elapsed time.Duration) string
	shown    string    // the text on the terminal, "" when none is
	drawn    time.Time // when it was drawn
}

// NewStatusLine draws on w when tty is true (see IOStreams.StatusLine).
func NewStatusLine(w io.Writer, tty bool, throttle time.Duration) *StatusLine {
	l := &StatusLine{w: w, tty: tty, throttle: throttle, now: time.Now}
	l.start = l.now()
	return l
}

// StatusLine is a status line on stderr, drawn when stderr is a terminal
// and show is true (false for --quiet).
func (s *IOStreams) StatusLine(show bool, throttle time.Duration) *StatusLine {
	return NewStatusLine(s.ErrOut, show && s.IsStderrTTY(), throttle)
}

// SetClock replaces the clock (tests); the elapsed time starts again.
func (l *StatusLine) SetClock(now func() time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = now
	l.start = now()
}

// TTY reports whether the line is drawn at all.
func (l *StatusLine) TTY() bool { return l.tty }

// Set changes the text, given the time since the line was made, and
// draws it unless the last drawing was within the throttle. The text is
// kept: a later drawing (Println, Clear then Set) shows it at its own time.
func (l *StatusLine) Set(text func(elapsed time.Duration) string) { l.set(text, false) }

// SetNow is Set drawn whatever the throttle: the last state of a run,
// which should not be skipped.
func (l *StatusLine) SetNow(text func(elapsed time.Duration) string) { l.set(text, true) }

func (l *StatusLine) set(text func(elapsed time.Duration) string, now bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.text = text
	if !l.tty {
		return
	}
	t := l.now()
	if !now && l.shown != "" && t.Sub(l.drawn) < l.throttle {
		return
	}
	l.drawLocked(t)
}

func (l *StatusLine) drawLocked(now time.Time) {
	s := l.text(now.Sub(l.start))
	if s == l.shown {
		return
	}
	io.WriteString(l.w, clearLine+s)
	l.shown, l.drawn = s, now
}

// Println writes line and a newline to w (the status line's own writer,
// or another: stdout), with the status line out of its way: it is erased
// first and drawn again below.
func (l *StatusLine) Println(w io.Writer, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	was := l.shown != ""
	if was {
		l.clearLocked()
	}
	io.WriteString(w, line+"\n")
	if was {
		l.drawLocked(l.now())
	}
}

func (l *StatusLine) clearLocked() {
	io.WriteString(l.w, clearLine)
	l.shown = ""
}

// Clear erases the line and keeps the text: lines written next go where
// it was, and the next Set draws it again, whatever the throttle.
func (l *StatusLine) Clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shown != "" {
		l.clearLocked()
	}
}

// Done erases the line (what follows is the summary) and forgets the
// text: a Println after it is a line of its own.
func (l *StatusLine) Done() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shown != "" {
		l.clearLocked()
	}
	l.text = nil
}
