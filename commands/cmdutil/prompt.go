package cmdutil

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/medplumcli/medplum/commands/iostreams"
)

// Confirm asks a yes/no question on stderr and reads the answer from stdin;
// only "y" or "yes" (any case) is a yes. The caller checks CanPrompt first.
// A Ctrl-C while waiting ends the wait with the context's error.
func Confirm(ctx context.Context, ios *iostreams.IOStreams, question string) (bool, error) {
	fmt.Fprintf(ios.ErrOut, "%s [y/N] ", question)
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(ios.In).ReadString('\n')
		done <- result{line, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && !(errors.Is(r.err, io.EOF) && r.line != "") {
			fmt.Fprintln(ios.ErrOut)
			if errors.Is(r.err, io.EOF) {
				return false, nil
			}
			return false, r.err
		}
		switch strings.ToLower(strings.TrimSpace(r.line)) {
		case "y", "yes":
			return true, nil
		}
		return false, nil
	case <-ctx.Done():
		fmt.Fprintln(ios.ErrOut)
		return false, ctx.Err()
	}
}

// ReadHidden asks for a value on the terminal behind ios.In: prompt on
// stderr, then what is typed without echo (a password, a secret), then a
// line break. ok is false, and nothing is printed or read, when stdin is
// not a terminal: the caller reads it another way. A Ctrl-C while waiting
// ends the wait with the context's error.
func ReadHidden(ctx context.Context, ios *iostreams.IOStreams, prompt string) (value []byte, ok bool, err error) {
	f, isFile := ios.In.(*os.File)
	if !isFile || !term.IsTerminal(int(f.Fd())) {
		return nil, false, nil
	}
	fmt.Fprint(ios.ErrOut, prompt)
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(int(f.Fd()))
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		fmt.Fprintln(ios.ErrOut)
		return r.b, true, r.err
	case <-ctx.Done():
		fmt.Fprintln(ios.ErrOut)
		return nil, true, ctx.Err()
	}
}
