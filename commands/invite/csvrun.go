package invite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/internal/bulkengine"
	"github.com/medplumcli/medplum/commands/invite/bulk"
	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/output"
)

// maxListed bounds the failed rows, and the rows with notes, listed on
// stderr at the end.
const maxListed = 20

func (o *Options) checkBulkFlags() error {
	if len(o.Args) > 0 {
		return cmdutil.FlagErrorf("--csv takes no positional arguments (the users come from the file)")
	}
	if o.CSV == "-" {
		return cmdutil.FlagErrorf("--csv needs a file, not stdin: the journal that makes a run resumable is tied to the file's contents")
	}
	if o.Report != "" && mustAbs(o.Report) == mustAbs(o.CSV) {
		return cmdutil.FlagErrorf("--report would overwrite the input file")
	}
	if o.Concurrency < 0 {
		return cmdutil.FlagErrorf("--concurrency must be a positive number (or leave it out for adaptive)")
	}
	if o.Output.JQ != "" || o.Output.Template != "" {
		return cmdutil.FlagErrorf("--jq and --template are not used with --csv (its results are streamed as each row finishes)")
	}
	if o.outputSet {
		switch o.Output.Format {
		case output.JSON, output.NDJSON, output.CSV:
		default:
			return cmdutil.FlagErrorf("with --csv, -o takes json, ndjson or csv (each row's result)")
		}
		if len(o.Output.Columns) > 0 {
			return cmdutil.FlagErrorf("--columns is not used with --csv")
		}
	}
	if _, ok := membership.CanonicalRole(o.Role); !ok {
		return cmdutil.FlagErrorf("--role %q: want Patient, Practitioner or RelatedPerson", o.Role)
	}
	_, err := o.columnMap()
	return err
}

// columnMap reads --map 'COLUMN=TARGET' (repeatable): TARGET is a column
// (firstName, email, param:org, ...) or ignore; the reader checks both
// against the file.
func (o *Options) columnMap() (map[string]string, error) {
	if len(o.Map) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, spec := range o.Map {
		from, to, ok := strings.Cut(spec, "=")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || to == "" {
			return nil, cmdutil.FlagErrorf("--map %q: want 'COLUMN=TARGET', e.g. --map 'Work Email=email' or --map 'Job Title=ignore'", spec)
		}
		n := bulk.NormalizeColumn(from)
		for prev := range m {
			if bulk.NormalizeColumn(prev) == n {
				return nil, cmdutil.FlagErrorf("--map names the column %q twice", from)
			}
		}
		m[from] = to
	}
	return m, nil
}

// server is the signed-in client and project of a bulk run, made when
// first needed: a file that names no access policy is checked without it.
type server struct {
	o       *Options
	ctx     context.Context
	c       *client.Client
	project string
	pols    *membership.Policies
}

func (sv *server) connect() error {
	if sv.c != nil {
		return nil
	}
	c, err := sv.o.Client()
	if err != nil {
		return err
	}
	project, err := membership.Project(sv.ctx, c, sv.o.Project)
	if err != nil {
		return err
	}
	sv.c, sv.project = c, project
	return nil
}

// policy is bulk.Options.Policy: each distinct accessPolicy cell is looked
// up once in the project (a name, an id or AccessPolicy/<id>).
func (sv *server) policy(value string) (string, string, error) {
	if sv.pols == nil {
		if err := sv.connect(); err != nil {
			return "", "", err
		}
		sv.pols = membership.NewPolicies(sv.c, sv.project)
	}
	return sv.pols.Resolve(sv.ctx, value)
}

// label shows a policy by its name in an --upsert row's change.
func (sv *server) label(ref string) string {
	if sv.pols == nil {
		if err := sv.connect(); err != nil {
			return ref
		}
		sv.pols = membership.NewPolicies(sv.c, sv.project)
	}
	return sv.pols.Label(sv.ctx, ref)
}

// bulkRun is `medplum invite --csv FILE`: check the whole file, then send.
func bulkRun(cmd *cobra.Command, o *Options) error {
	ctx := cmd.Context()
	errOut := o.IO.ErrOut
	role, _ := membership.CanonicalRole(o.Role)
	columns, err := o.columnMap()
	if err != nil {
		return err
	}
	if o.Report != "" && !o.DryRun {
		// Said before the file is read or anything sent.
		if err := bulkengine.CheckDir(o.Report, "--report"); err != nil {
			return err
		}
	}
	sv := &server{o: o, ctx: ctx}
	parse := bulk.Options{DefaultRole: role, SendEmail: o.SendEmail, IgnoreUnknownColumns: o.IgnoreUnknownColumns,
		Map: columns, Policy: sv.policy}

	check, err := checkFile(o.CSV, parse)
	if err != nil {
		return err
	}
	name := o.CSV
	for _, p := range check.Problems {
		fmt.Fprintf(errOut, "%s:%s\n", name, problemText(p))
	}
	if check.Dropped > 0 {
		fmt.Fprintf(errOut, "%s: ... and %s\n", name, cmdutil.Count(check.Dropped, "more problem"))
	}
	if check.Invalid > 0 && !o.SkipInvalid {
		return cmdutil.InputErrorf("%s: %d of %s %s invalid; nothing was sent (fix %s, or pass --skip-invalid to send the other %d)",
			name, check.Invalid, cmdutil.Count(check.Rows, "row"), cmdutil.Noun(check.Invalid, "is", "are"), cmdutil.Noun(check.Invalid, "it", "them"), check.Valid)
	}
	if o.DryRun {
		return dryRun(o, sv, parse, check)
	}
	if check.Valid == 0 {
		return cmdutil.InputErrorf("%s: no rows to send", name)
	}

	if err := sv.connect(); err != nil {
		return err
	}
	c, project := sv.c, sv.project
	statePath := o.State
	if statePath == "" {
		statePath = o.CSV + ".journal"
	}
	journal, resume, err := bulk.OpenJournal(statePath, bulk.JournalKey{Input: check.DigestString(), Server: c.BaseURL(), Project: project})
	var mismatch *bulk.MismatchError
	if errors.As(err, &mismatch) {
		return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: err}
	}
	if err != nil {
		return err
	}
	journalOpen := true
	defer func() {
		if journalOpen {
			journal.Close()
		}
	}()
	if n := len(resume.Done) + len(resume.InFlight) + resume.Failed; n > 0 {
		fmt.Fprintf(errOut, "resuming from %s: %s done, %d to look up, %d failed before\n", statePath, cmdutil.Count(len(resume.Done), "row"), len(resume.InFlight), resume.Failed)
	}

	results, err := o.resultWriters()
	if err != nil {
		return err
	}
	var failed, noted []bulk.Result
	notes := 0
	prog := newProgress(errOut, o.IO.IsStderrTTY(), o.Quiet, check.Rows)
	cfg := bulk.RunConfig{
		Client: c, Project: project, Options: parse, Check: check,
		Concurrency: o.Concurrency, Upsert: o.Upsert, SkipInvalid: o.SkipInvalid, PolicyLabel: sv.label,
		Journal: journal, Resume: resume,
		Outage: outage(c.Timeout()),
		Interrupted: func(n int, grace time.Duration) {
			msg := fmt.Sprintf("interrupted: waiting up to %s for the %s in flight (Ctrl-C again to stop at once)",
				grace, cmdutil.Count(n, "invite"))
			if prog != nil {
				prog.Notice(msg)
			} else {
				fmt.Fprintln(errOut, msg)
			}
		},
		OnResult: func(r bulk.Result) error {
			switch {
			case r.Status == bulk.Failed && len(failed) < maxListed:
				failed = append(failed, r)
			case r.Status != bulk.Failed && r.Status != bulk.Skipped && r.Error != "":
				// Ended well, with a note: the e-mail was not sent, or
				// it is not known whether the run made the membership.
				if notes++; len(noted) < maxListed {
					noted = append(noted, r)
				}
			}
			return results.Write(r)
		},
	}
	if prog != nil {
		cfg.Progress = prog
	}
	f, err := os.Open(o.CSV)
	if err != nil {
		results.Close()
		return err
	}
	stats, runErr := bulk.Run(ctx, f, cfg)
	f.Close()
	if prog != nil {
		prog.Done()
	}
	closeErr := results.Close()
	jerr := journal.Close()
	journalOpen = false

	fmt.Fprintf(errOut, "%s: %s\n", cmdutil.Count(check.Rows, "row"), summary(stats))
	slices.SortFunc(failed, func(a, b bulk.Result) int { return a.Line - b.Line })
	for _, r := range failed {
		fmt.Fprintf(errOut, "%s:%d: %s: %s\n", name, r.Line, who(r), r.Error)
	}
	if n := stats.Counts[bulk.Failed]; n > len(failed) {
		fmt.Fprintf(errOut, "... and %s (see --report)\n", cmdutil.Count(n-len(failed), "more failed row"))
	}
	slices.SortFunc(noted, func(a, b bulk.Result) int { return a.Line - b.Line })
	for _, r := range noted {
		fmt.Fprintf(errOut, "%s:%d: %s (%s): %s\n", name, r.Line, who(r), r.Status, r.Error)
	}
	if notes > len(noted) {
		fmt.Fprintf(errOut, "... and %s (see --report)\n", cmdutil.Count(notes-len(noted), "more row with notes", "more rows with notes"))
	}
	if o.Report != "" && closeErr == nil {
		fmt.Fprintf(errOut, "report: %s\n", o.Report)
	}
	// Rows skipped with --skip-invalid are not failures: the run exits 0,
	// as its --dry-run does, and the journal goes (the same file would skip
	// them again; a corrected file is another file, with another journal).
	complete := runErr == nil && stats.Done == check.Rows
	allGood := complete && stats.Counts[bulk.Failed] == 0
	switch {
	case allGood && jerr == nil:
		if err := os.Remove(statePath); err != nil {
			fmt.Fprintf(errOut, "medplum: warning: could not remove the journal: %v\n", err)
		}
	case !complete && stats.Done < check.Rows: // (a run stopped at its last row has none left)
		n := check.Rows - stats.Done
		fmt.Fprintf(errOut, "%s not done; run the same command again to finish %s (journal: %s)\n", cmdutil.Count(n, "row"), cmdutil.Noun(n, "it", "them"), statePath)
	case stats.Counts[bulk.Failed] > 0:
		fmt.Fprintf(errOut, "run the same command again to retry the failed %s (journal: %s)\n", cmdutil.Noun(stats.Counts[bulk.Failed], "row"), statePath)
	}

	switch {
	case runErr != nil:
		if ctx.Err() != nil {
			return ctx.Err() // Main says "interrupted", exit 130
		}
		return runErr
	case closeErr != nil:
		return closeErr
	case jerr != nil:
		return jerr
	case !allGood:
		return &cmdutil.ExitError{Code: cmdutil.ExitPartial,
			Err: fmt.Errorf("%d of %s failed", stats.Counts[bulk.Failed], cmdutil.Count(check.Rows, "row"))}
	}
	return nil
}

// summary is the last line's counts: this run's rows by status, then those
// an earlier run finished (read from the journal, not sent again).
func summary(st bulk.Stats) string {
	now := map[bulk.Status]int{}
	for k, v := range st.Counts {
		now[k] = v - st.EarlierCounts[k]
	}
	s := counts(now)
	if st.Earlier > 0 {
		var parts []string
		for _, k := range []bulk.Status{bulk.Created, bulk.Exists, bulk.Updated} {
			if n := st.EarlierCounts[k]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, k))
			}
		}
		s += fmt.Sprintf("; %s done by an earlier run (%s)", cmdutil.Count(st.Earlier, "row"), strings.Join(parts, ", "))
	}
	return s
}

// outage is how long a run waits for a server that answers nothing: as
// long as one request waits for its answer (--timeout); with no timeout,
// for ever.
func outage(timeout time.Duration) time.Duration {
	if timeout <= 0 {
		return -1
	}
	return timeout
}

func who(r bulk.Result) string {
	if r.Email != "" {
		return r.Email
	}
	if r.ExternalID != "" {
		return r.ExternalID
	}
	return string(r.Status)
}

// problemText is "<line>: <column>: <reason>" (after the file name and a
// colon, as compilers print positions).
func problemText(p bulk.Problem) string {
	if p.Column == "" {
		return fmt.Sprintf("%d: %s", p.Line, p.Reason)
	}
	return fmt.Sprintf("%d: %s: %s", p.Line, p.Column, p.Reason)
}

// checkFile runs the validation pass. A header that cannot be used is bad
// input (exit 2).
func checkFile(path string, parse bulk.Options) (*bulk.CheckResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, cmdutil.InputErrorf("--csv: %v", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		return nil, cmdutil.InputErrorf("--csv %s: not a regular file (the journal is tied to the file's contents)", path)
	}
	check, err := bulk.Check(f, parse)
	var he *bulk.HeaderError
	if errors.As(err, &he) {
		msg := ""
		for i, p := range he.Problems {
			if i > 0 {
				msg += "\n"
			}
			msg += path + ":" + problemText(p)
		}
		return nil, cmdutil.WithHint(cmdutil.InputErrorf("%s\nnothing was sent", msg), headerAdvice(he))
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return check, nil
}

// headerAdvice says once what the columns may be, and the way out that
// leads somewhere: a column the file needs is mapped with --map (ignoring
// unknown columns would not give it one).
func headerAdvice(he *bulk.HeaderError) string {
	if len(he.Unknown) == 0 && len(he.Missing) == 0 {
		return ""
	}
	lines := []string{"known columns: " + bulk.KnownColumns + " (matched without regard to case, spaces, hyphens and underscores)"}
	example := "COLUMN"
	if len(he.Unknown) > 0 {
		example = he.Unknown[0]
	}
	if len(he.Missing) > 0 {
		lines = append(lines, fmt.Sprintf("say which column holds %s with --map, e.g. --map '%s=%s'",
			strings.Join(he.Missing, " and "), example, he.Missing[0]))
	}
	if len(he.Unknown) > 0 {
		way := "--map '" + example + "=ignore'"
		if len(he.Missing) == 0 {
			way += " (or --ignore-unknown-columns for all of them)"
		}
		lines = append(lines, "leave out a column the invites do not need with "+way)
	}
	return strings.Join(lines, "\n")
}

// resultWriters opens --report and the -o stream.
func (o *Options) resultWriters() (resultWriter, error) {
	var ws multiResults
	if o.Report != "" {
		r, err := createReport(o.Report)
		if err != nil {
			return nil, err
		}
		ws = append(ws, r)
	}
	if o.outputSet {
		w, err := stdoutResults(o.IO.Out, o.Output)
		if err != nil {
			ws.Close()
			return nil, err
		}
		ws = append(ws, w)
	}
	return ws, nil
}

func mustAbs(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return abs
}

func stdoutResults(w io.Writer, o output.Options) (resultWriter, error) {
	switch o.Format {
	case output.CSV:
		return newCSVResults(w, !o.NoHeader)
	case output.JSON:
		return &jsonResults{w: w, array: true}, nil
	}
	return &jsonResults{w: w}, nil
}
