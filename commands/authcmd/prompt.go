package authcmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/iostreams"
)

// Prompter asks questions on the terminal for the auth flows (auth.Prompter).
// Questions go to stderr; answers come from stdin. Without a terminal it
// answers auth.ErrNoPrompt, and the flows name the flag to use instead.
type Prompter struct {
	IO *iostreams.IOStreams
	// lines reads stdin; one reader for every question, so type-ahead is not
	// lost between them.
	lines *bufio.Reader
}

// NewPrompter returns a Prompter on io.
func NewPrompter(io *iostreams.IOStreams) *Prompter { return &Prompter{IO: io} }

var _ auth.Prompter = (*Prompter)(nil)

// Input implements auth.Prompter.
func (p *Prompter) Input(ctx context.Context, prompt string) (string, error) {
	if !p.IO.CanPrompt() {
		return "", auth.ErrNoPrompt
	}
	fmt.Fprint(p.IO.ErrOut, prompt)
	return p.readLine(ctx)
}

// Password implements auth.Prompter: on a real terminal the typed characters
// are not echoed.
func (p *Prompter) Password(ctx context.Context, prompt string) (string, error) {
	if !p.IO.CanPrompt() {
		return "", auth.ErrNoPrompt
	}
	b, onTerminal, err := cmdutil.ReadHidden(ctx, p.IO, prompt)
	switch {
	case !onTerminal:
		fmt.Fprint(p.IO.ErrOut, prompt)
		return p.readLine(ctx)
	case err != nil && ctx.Err() == nil:
		return "", fmt.Errorf("read the password: %w", err)
	}
	return string(b), err
}

// Select implements auth.Prompter with a numbered list.
func (p *Prompter) Select(ctx context.Context, prompt string, options []string) (int, error) {
	if !p.IO.CanPrompt() {
		return -1, auth.ErrNoPrompt
	}
	fmt.Fprintln(p.IO.ErrOut, prompt)
	for i, o := range options {
		fmt.Fprintf(p.IO.ErrOut, "  %d) %s\n", i+1, o)
	}
	for range 3 {
		fmt.Fprintf(p.IO.ErrOut, "Enter a number (1-%d): ", len(options))
		s, err := p.readLine(ctx)
		if err != nil {
			return -1, err
		}
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= 1 && n <= len(options) {
			return n - 1, nil
		}
		fmt.Fprintf(p.IO.ErrOut, "%q is not one of the numbers above.\n", strings.TrimSpace(s))
	}
	return -1, errors.New("no project chosen")
}

// readLine reads one line from stdin, giving up when ctx ends (the read
// itself cannot be interrupted; the process is about to exit anyway).
func (p *Prompter) readLine(ctx context.Context) (string, error) {
	if p.lines == nil {
		p.lines = bufio.NewReader(p.IO.In)
	}
	type result struct {
		s   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := p.lines.ReadString('\n')
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && (r.s == "" || !errors.Is(r.err, io.EOF)) {
			if errors.Is(r.err, io.EOF) {
				return "", errors.New("no answer: standard input ended")
			}
			return "", r.err
		}
		return strings.TrimRight(r.s, "\r\n"), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
