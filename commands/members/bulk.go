package members

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/membership"
)

// Several members at once: promote, demote, activate, deactivate,
// set-access and remove take any number of <member> arguments, and "-"
// reads more from stdin, one a line. With one member they behave as they
// always did (the membership on stdout, a message on stderr, the error's
// own exit code). With several, or any from stdin, they report one line
// per member on stderr and a summary, carry on past a member that fails
// (not found, ambiguous, refused by the server), and exit 3 when any did.
// A run stops at what no other member could get past: credentials the
// server refuses (401, 403), a server that does not answer, Ctrl-C. Every
// change is a read, a change and a write of that one membership, and one
// that is already done is not sent again, so running the same command
// again finishes what a stopped or partly failed run left.

// manyMembers is the Args of the commands that take several <member>s.
var manyMembers = cmdutil.RangeArgs(1, math.MaxInt,
	"one or more members (a membership id, an e-mail, a name, or Patient/<id> and the like; - reads them from stdin, one a line)")

// manyHelp is the help paragraph of those commands.
const manyHelp = `Several members can be named at once, and "-" reads more from stdin, one a
line (blank lines and lines starting with # are skipped): each gets one line
on stderr, then a summary; a member that cannot be found or changed does not
stop the others, and the exit code is 3 when any failed. Running the same
command again finishes the job: what is done already is not sent again.`

// target is one <member> of a command that takes several.
type target struct {
	arg   string // as given
	where string // "argument 2", "stdin line 3"
	sel   membership.Selector
}

// readTargets parses the <member> arguments, reading stdin for "-". Every
// malformed one is listed (exit 2) before anything is sent. many reports
// whether the command acts on several members (more than one, or any from
// stdin), which changes how it reports.
func (o *common) readTargets(args []string) (ts []target, many bool, err error) {
	if len(args) == 1 && args[0] != "-" {
		sel, err := membership.ParseSelector(args[0])
		if err != nil {
			return nil, false, cmdutil.FlagErrorf("%v", err)
		}
		return []target{{arg: args[0], where: "argument 1", sel: sel}}, false, nil
	}
	var probs []string
	add := func(arg, where string) {
		sel, err := membership.ParseSelector(arg)
		if err != nil {
			probs = append(probs, where+": "+err.Error())
			return
		}
		ts = append(ts, target{arg: strings.TrimSpace(arg), where: where, sel: sel})
	}
	stdin := false
	for i, a := range args {
		if a != "-" {
			add(a, fmt.Sprintf("argument %d", i+1))
			continue
		}
		if stdin {
			return nil, false, cmdutil.FlagErrorf("- (stdin) can be given only once")
		}
		stdin = true
		sc := bufio.NewScanner(o.IO.In)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			add(line, fmt.Sprintf("stdin line %d", n))
		}
		if err := sc.Err(); err != nil {
			return nil, false, fmt.Errorf("reading the members on stdin: %w", err)
		}
	}
	if len(probs) > 0 {
		return nil, false, cmdutil.InputErrorf("nothing was sent:\n  %s", strings.Join(probs, "\n  "))
	}
	if len(ts) == 0 {
		return nil, false, cmdutil.InputErrorf("no members on stdin: nothing to do")
	}
	return ts, true, nil
}

// start reads the <member> arguments (readTargets), then connects: what
// the commands that take several members do first.
func (o *common) start(args []string) (ts []target, many bool, c *client.Client, project string, err error) {
	if ts, many, err = o.readTargets(args); err != nil {
		return nil, false, nil, "", err
	}
	c, project, err = o.connect()
	return ts, many, c, project, err
}

// stopsTheRun reports whether an error about one member would be the same
// for every other: the run stops rather than fail them all one by one.
func stopsTheRun(err error) bool {
	var ue *url.Error
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, auth.ErrNotSignedIn), errors.Is(err, auth.ErrCredentialsRejected),
		client.IsTimeout(err), errors.As(err, &ue):
		return true
	}
	e := client.AsError(err)
	return e != nil && (e.IsUnauthorized() || e.IsForbidden())
}

// report counts what happened to each member of a command on several, and
// prints a line for each failure.
type report struct {
	common *common
	total  int
	done   int // changed (or removed)
	same   int // nothing to do
	failed []string
}

// fail prints why a member failed, on one line.
func (r *report) fail(t target, err error) {
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n  ", "; ")
	fmt.Fprintf(r.common.IO.ErrOut, "%s: %s\n", t.arg, strings.ReplaceAll(msg, "\n", " "))
	r.failed = append(r.failed, t.arg)
}

// finish prints the summary ("3 members: 1 changed, 1 unchanged, 1
// failed, 2 not attempted.") and returns the run's error: stop (the error
// that stopped it), else exit 3 when any member failed.
func (r *report) finish(doneWord, sameWord string, stop error) error {
	var parts []string
	for _, p := range []struct {
		n    int
		word string
	}{{r.done, doneWord}, {r.same, sameWord}, {len(r.failed), "failed"}, {r.total - r.done - r.same - len(r.failed), "not attempted"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.word))
		}
	}
	fmt.Fprintf(r.common.IO.ErrOut, "%s: %s.\n", cmdutil.Count(r.total, "member"), strings.Join(parts, ", "))
	switch {
	case stop != nil:
		return stop
	case len(r.failed) > 0:
		return &cmdutil.ExitError{Code: cmdutil.ExitPartial,
			Err: fmt.Errorf("%d of %s failed: %s", len(r.failed), cmdutil.Count(r.total, "member"), strings.Join(r.failed, ", "))}
	}
	return nil
}
