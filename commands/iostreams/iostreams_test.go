package iostreams

import (
	"bytes"
	"testing"
)

func withEnv(env map[string]string) *IOStreams {
	return &IOStreams{In: &bytes.Buffer{}, Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}, getenv: func(k string) string { return env[k] }}
}

func TestBuffersAreNotTerminals(t *testing.T) {
	s := withEnv(nil)
	if s.IsStdinTTY() || s.IsStdoutTTY() || s.IsStderrTTY() || s.CanPrompt() || s.ColorEnabled() {
		t.Error("a buffer counted as a terminal")
	}
	if s.TerminalWidth() != DefaultWidth {
		t.Errorf("width %d", s.TerminalWidth())
	}
}

func TestForceTTY(t *testing.T) {
	cases := []struct {
		val   string
		width int
	}{{"1", DefaultWidth}, {"yes", DefaultWidth}, {"120", 120}, {"50%", 40}, {"5", DefaultWidth}}
	for _, c := range cases {
		s := withEnv(map[string]string{"MEDPLUM_FORCE_TTY": c.val})
		if !s.IsStdoutTTY() {
			t.Errorf("%q: stdout not forced", c.val)
		}
		if s.IsStdinTTY() {
			t.Errorf("%q: stdin forced too", c.val)
		}
		if w := s.TerminalWidth(); w != c.width {
			t.Errorf("%q: width %d, want %d", c.val, w, c.width)
		}
	}
}

func TestColorAndPrompt(t *testing.T) {
	s := withEnv(map[string]string{"MEDPLUM_FORCE_TTY": "1"})
	if !s.ColorEnabled() {
		t.Error("color off on a terminal")
	}
	s = withEnv(map[string]string{"MEDPLUM_FORCE_TTY": "1", "NO_COLOR": "1"})
	if s.ColorEnabled() {
		t.Error("NO_COLOR ignored")
	}
	s = withEnv(map[string]string{"CLICOLOR_FORCE": "1"})
	if !s.ColorEnabled() {
		t.Error("CLICOLOR_FORCE ignored")
	}
	s = withEnv(nil)
	s.SetStdinTTY(true)
	s.SetStdoutTTY(true)
	if !s.CanPrompt() {
		t.Error("cannot prompt on two terminals")
	}
	s = withEnv(map[string]string{"MEDPLUM_PROMPT_DISABLED": "1"})
	s.SetStdinTTY(true)
	s.SetStdoutTTY(true)
	if s.CanPrompt() {
		t.Error("MEDPLUM_PROMPT_DISABLED ignored")
	}
}
