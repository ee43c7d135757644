// Package cmdutil holds what every command shares: the Factory of lazily built
// dependencies, the error types that decide exit codes, and small flag helpers.
package cmdutil

import (
	"errors"
	"fmt"
	"time"

	"github.com/medplumcli/medplum/client"
)

// Exit codes of the medplum binary (DESIGN.md, `medplum help exit-codes`).
const (
	ExitOK          = 0   // success
	ExitFailure     = 1   // the request failed: server error, network, unexpected answer
	ExitUsage       = 2   // invalid usage or input; nothing was sent
	ExitPartial     = 3   // a bulk run (invite --csv, bot deploy, bulk import) finished with some rows failed
	ExitAuth        = 4   // not signed in, or the server rejected the credentials (401)
	ExitForbidden   = 5   // permission denied (403)
	ExitPending     = 6   // apply or bot deploy --dry-run: changes are pending; members review --fail-on: findings
	ExitUnchecked   = 7   // members review --fail-on: no finding, but a rule at or above the gate could not be checked
	ExitInterrupted = 130 // interrupted (Ctrl-C)
)

// ExitCoder is an error that knows its exit code. Packages that cannot import
// cmdutil (config, auth) implement it to choose a code without a dependency.
type ExitCoder interface {
	error
	ExitCode() int
}

// Hinter is an error that carries a hint printed on its own line after the
// message, e.g. "run: medplum login".
type Hinter interface {
	error
	Hint() string
}

// FlagError is a usage mistake: a bad flag, a missing or extra argument, an
// unknown command. Exit 2; Main adds a pointer to --help.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// ExitCode implements ExitCoder.
func (e *FlagError) ExitCode() int { return ExitUsage }

// FlagErrorf builds a FlagError.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// ExitError is an error with an explicit exit code and an optional hint.
type ExitError struct {
	Code int
	Err  error
	Tip  string
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode implements ExitCoder.
func (e *ExitError) ExitCode() int { return e.Code }

// Hint implements Hinter.
func (e *ExitError) Hint() string { return e.Tip }

// InputErrorf reports bad input (a file, a body, a value): exit 2, nothing sent,
// no usage hint because the command line itself was well formed.
func InputErrorf(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// WithHint attaches a hint to err, keeping its exit code.
func WithHint(err error, hint string) error {
	return &hintError{err: err, hint: hint}
}

type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }
func (e *hintError) Hint() string  { return e.hint }

// SilentError makes Main exit with a code without printing anything: the
// command has already said what went wrong.
type SilentError struct{ Code int }

func (e *SilentError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ExitCode implements ExitCoder.
func (e *SilentError) ExitCode() int { return e.Code }

// IsSilent reports whether err asks Main to print nothing.
func IsSilent(err error) bool {
	var s *SilentError
	return errors.As(err, &s)
}

// RateLimited says what a 429 means and when to try again, instead of
// Medplum's "Too Many Requests (<the limiter's JSON>)", as the sign-in
// flows do (auth.RateLimitedError). The wait is the RateLimit header's,
// else the diagnostics' msBeforeNext, else a minute (Medplum's window).
func RateLimited(e *client.Error) string {
	wait := e.RateLimitWait
	if wait <= 0 {
		wait = client.LimiterWait(e.Issues())
	}
	const msg = "the server is rate limiting requests: try again in "
	if n := int((wait + time.Second - 1) / time.Second); n > 0 {
		return msg + Count(n, "second")
	}
	return msg + "a minute"
}
