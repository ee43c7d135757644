// Package iostreams holds the three standard streams of a command together with
// what the CLI needs to know about them: whether each one is a terminal, how
// wide the terminal is, whether color and prompts are allowed. Every command
// writes through an IOStreams, never through os.Stdout, so tests can swap in
// buffers (Test) and force either answer to "is this a terminal?".
package iostreams

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"
)

// DefaultWidth is the terminal width assumed when it cannot be measured.
const DefaultWidth = 80

// minForcedWidth is the smallest MEDPLUM_FORCE_TTY value read as a width;
// smaller numbers ("1") only mean "yes".
const minForcedWidth = 20

// IOStreams is stdin, stdout and stderr plus their terminal properties.
// TTY answers are computed on first use and can be overridden (Set*TTY).
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	getenv func(string) string

	stdinTTY, stdoutTTY, stderrTTY *bool
	width                          int
}

// System returns streams on os.Stdin, os.Stdout and os.Stderr. Nothing is
// probed until a question is asked, so building one costs nothing.
func System() *IOStreams {
	return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, getenv: os.Getenv}
}

// Test returns streams on buffers: no stream is a terminal, the width is
// DefaultWidth, and the environment is empty (MEDPLUM_FORCE_TTY, NO_COLOR and
// friends are not read).
func Test() (ios *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	ios = &IOStreams{In: in, Out: out, ErrOut: errOut, getenv: func(string) string { return "" }}
	ios.SetStdinTTY(false)
	ios.SetStdoutTTY(false)
	ios.SetStderrTTY(false)
	ios.width = DefaultWidth
	return ios, in, out, errOut
}

// SetStdinTTY overrides terminal detection for stdin.
func (s *IOStreams) SetStdinTTY(v bool) { s.stdinTTY = &v }

// SetStdoutTTY overrides terminal detection for stdout.
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = &v }

// SetStderrTTY overrides terminal detection for stderr.
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = &v }

// SetTerminalWidth overrides the measured terminal width.
func (s *IOStreams) SetTerminalWidth(w int) { s.width = w }

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.isTTY(&s.stdinTTY, s.In) }

// IsStdoutTTY reports whether stdout is a terminal. MEDPLUM_FORCE_TTY (any
// non-empty value) makes the answer yes, so tables can be tested through pipes.
func (s *IOStreams) IsStdoutTTY() bool {
	if s.stdoutTTY == nil && s.env("MEDPLUM_FORCE_TTY") != "" {
		s.SetStdoutTTY(true)
	}
	return s.isTTY(&s.stdoutTTY, s.Out)
}

// IsStderrTTY reports whether stderr is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.isTTY(&s.stderrTTY, s.ErrOut) }

func (s *IOStreams) isTTY(cached **bool, stream any) bool {
	if *cached == nil {
		v := isTerminal(stream)
		*cached = &v
	}
	return **cached
}

func isTerminal(stream any) bool {
	f, ok := stream.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// TerminalWidth is the width of the terminal on stdout in columns. A number
// of at least 20 in MEDPLUM_FORCE_TTY ("120") or a percentage ("50%") of the
// real width wins;
// DefaultWidth when nothing can be measured.
func (s *IOStreams) TerminalWidth() int {
	if s.width > 0 {
		return s.width
	}
	measured := DefaultWidth
	if f, ok := s.Out.(interface{ Fd() uintptr }); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			measured = w
		}
	}
	s.width = measured
	force := s.env("MEDPLUM_FORCE_TTY")
	if pct, ok := strings.CutSuffix(force, "%"); ok {
		if p, err := strconv.Atoi(pct); err == nil && p > 0 {
			s.width = max(measured*p/100, 1)
		}
	} else if n, err := strconv.Atoi(force); err == nil && n >= minForcedWidth {
		s.width = n
	}
	return s.width
}

// ColorEnabled reports whether ANSI color may be written to stdout: only on a
// terminal, never with NO_COLOR or CLICOLOR=0, always with CLICOLOR_FORCE.
func (s *IOStreams) ColorEnabled() bool {
	if s.env("NO_COLOR") != "" {
		return false
	}
	if v := s.env("CLICOLOR_FORCE"); v != "" && v != "0" {
		return true
	}
	if s.env("CLICOLOR") == "0" {
		return false
	}
	return s.IsStdoutTTY()
}

// CanPrompt reports whether the user can be asked a question: stdin and
// stdout are terminals and MEDPLUM_PROMPT_DISABLED is not set. Commands that
// need an answer and cannot prompt must name the flag to pass instead.
func (s *IOStreams) CanPrompt() bool {
	if s.env("MEDPLUM_PROMPT_DISABLED") != "" {
		return false
	}
	return s.IsStdinTTY() && s.IsStdoutTTY()
}

func (s *IOStreams) env(key string) string {
	if s.getenv == nil {
		return ""
	}
	return s.getenv(key)
}
