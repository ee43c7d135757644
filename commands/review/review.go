// Package review is `medplum members review`: who can do what in a
// project, and what is unsafe about it, for periodic access reviews
// (HIPAA, SOC 2) in a terminal, in CI and as an HTML page for auditors.
package review

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/output"
	"github.com/medplumcli/medplum/commands/version"
)

// Options are the inputs of `members review`.
type Options struct {
	IO      *iostreams.IOStreams
	Client  func() (*client.Client, error)
	Ctx     context.Context
	Now     func() time.Time
	Project string

	StaleInvite  string
	SecretMaxAge string
	FailOn       string
	// AllowUnchecked lets a --fail-on gate pass when a rule at or above
	// it could not be checked for some member.
	AllowUnchecked bool
	IgnoreFile     string
	BaselineFile   string
	HTMLFile       string
	Output         output.Options
	formatSet      bool

	staleInvite, secretMaxAge time.Duration
	failOn                    Severity
	ignores                   *Ignores
	baseline                  *Baseline
}

// NewCmdReview is `medplum members review`.
func NewCmdReview(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Client: f.Client, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "review",
		Short: "Review who can do what in the project, and what is unsafe",
		Long: heredoc.Docf(`
			Review the project's access: one row per membership (person, client
			application or bot) with what it can do and what is known about it,
			and the findings of a fixed set of rules (medplum help review-rules):
			admins without MFA, stale invites, client applications with admin
			rights or old secrets, members without access policies, memberships
			pointing at what no longer exists, people with several memberships.

			%s
			Each is a value, "none", "n/a" (not for this kind of member), or
			"unknown: <why>" when the credentials cannot read it: a project
			admin cannot read a server-scoped user (MFA, invites), so those
			are unknown unless a super admin runs the review. -o json writes
			null for both, with the reason under "unknown"; a column that does
			not apply to the member's kind is left out. A rule that cannot be
			checked for some members says so ("Not checked"), it never passes
			silently.

			lastUpdated and lastUpdatedBy are the membership's last change and
			its author (meta.author: a user or client, or "system" for what the
			server did itself, such as the invite), not the person's.

			The project is read once: the memberships 1000 at a time (cursor
			paging, past the 10,000 of offset paging) and, for each page, the
			users, invites and profiles it names. A terminal shows progress.

			Output: a table on a terminal with the findings after it; piped,
			TSV (or -o csv) on stdout and the findings on stderr; -o json one
			document (project, reviewer, members, findings, rules, counts),
			-o ndjson one line per member, finding and rule. --html FILE writes
			one self-contained page (no scripts, nothing fetched) with the
			findings first and what the --fail-on gate decided, for an
			auditor; with --html and no -o, only the summary is printed.

			The review's time is now (MEDPLUM_REVIEW_TIME, an RFC 3339 instant,
			sets another, for a report that must come out the same twice; one
			more than an hour from now is used with a warning, since every
			age in the review counts from it).

			--fail-on high|medium|low exits 6 when a finding at or above that
			severity is not accepted: a CI gate. A gate does not pass on what
			it could not see: with no such finding, it exits 7 when a rule at
			or above its severity could not be checked for some member (a
			project admin cannot read server-scoped users' MFA and invites),
			naming the rules, how many members and why; --allow-unchecked
			accepts that and exits 0. --baseline takes an earlier
			review's -o json and lists what changed since: members added and
			removed, admin rights granted and revoked, deactivations, access
			changes, and findings new (finding-new) or resolved
			(finding-resolved) since, by rule and member. A finding one of
			the two reviews could not check (a baseline taken with other
			credentials: a super admin's, a project admin's) is neither:
			finding-not-comparable says why, and a warning on stderr says
			that the baseline saw differently.

		`, strings.TrimSuffix(wrap("Columns: "+strings.Join(Columns, ", ")+".", "", 72), "\n")) + IgnoreHelp,
		Example: `  $ medplum members review
  $ medplum members review --html review.html
  $ medplum members review -o json > review-2026-12.json
  $ medplum members review --baseline review-2026-11.json --fail-on high --ignore accepted-risks.yaml
  $ medplum members review -o csv --columns name,email,admin,mfaEnrolled`,
		Args: cmdutil.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			opts.Ctx = c.Context()
			opts.formatSet = c.Flags().Changed("output")
			if c.Flags().Changed("project") {
				p, err := membership.ParseProject(opts.Project)
				if err != nil {
					return err
				}
				opts.Project = p
			}
			if err := opts.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return reviewRun(opts)
		},
	}
	fl := cmd.Flags()
	membership.AddProjectFlag(f, cmd, &opts.Project, "")
	fl.StringVar(&opts.StaleInvite, "stale-invite", strconv.Itoa(defaultStaleInvite)+"d", "an invite pending longer than this is a finding (days: 14d, or a duration: 36h; a bare number is refused)")
	fl.StringVar(&opts.SecretMaxAge, "secret-max-age", strconv.Itoa(defaultSecretMaxDays)+"d", "a client secret older than this is a finding (days: 90d, or a duration: 2160h; a bare number is refused)")
	fl.StringVar(&opts.FailOn, "fail-on", "", "exit 6 when a finding at or above this severity is not accepted: high, medium or low")
	fl.BoolVar(&opts.AllowUnchecked, "allow-unchecked", false, "with --fail-on: pass the gate even when a rule at or above it could not be checked for some member (else exit 7)")
	fl.StringVar(&opts.IgnoreFile, "ignore", "", "accepted risks: a YAML file of rule, member, reason and expires (see above)")
	fl.StringVar(&opts.BaselineFile, "baseline", "", "an earlier review's -o json: list what changed since")
	fl.StringVar(&opts.HTMLFile, "html", "", "also write the review as one self-contained HTML page to this file")
	_ = cmd.RegisterFlagCompletionFunc("fail-on", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return []cobra.Completion{"high", "medium", "low"}, cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.MarkFlagFilename("ignore", "yaml", "yml", "json")
	_ = cmd.MarkFlagFilename("baseline", "json")
	_ = cmd.MarkFlagFilename("html", "html")
	output.AddFlags(cmd, &opts.Output, output.Table, output.WithWide()...)
	opts.Output.CompleteColumns = output.ColumnList(Columns...)
	output.SetExamples(cmd, "name,email,admin,mfaEnrolled", ".findings[].rule")
	return cmd
}

// check reads and checks everything local before anything is sent.
func (o *Options) check() error {
	if err := o.Output.Check(); err != nil {
		return err
	}
	if err := o.Output.CheckColumns(Columns); err != nil {
		return err
	}
	var err error
	if o.staleInvite, err = parseDays("--stale-invite", o.StaleInvite); err != nil {
		return err
	}
	if o.secretMaxAge, err = parseDays("--secret-max-age", o.SecretMaxAge); err != nil {
		return err
	}
	if o.FailOn != "" {
		s, ok := ParseSeverity(o.FailOn)
		if !ok {
			return cmdutil.FlagErrorf("--fail-on: want high, medium or low, not %q", o.FailOn)
		}
		o.failOn = s
	} else if o.AllowUnchecked {
		return cmdutil.FlagErrorf("--allow-unchecked: only with --fail-on")
	}
	if o.IgnoreFile != "" {
		if o.ignores, err = LoadIgnores(o.IgnoreFile); err != nil {
			return err
		}
	}
	if o.HTMLFile != "" {
		if fi, err := os.Stat(o.HTMLFile); err == nil && fi.IsDir() {
			return cmdutil.InputErrorf("--html %s: is a directory: name the page's file, such as %s", o.HTMLFile, filepath.Join(o.HTMLFile, "review.html"))
		}
		if err := writable(filepath.Dir(o.HTMLFile)); err != nil {
			return cmdutil.InputErrorf("--html %s: cannot write in %s: %v", o.HTMLFile, filepath.Dir(o.HTMLFile), err)
		}
	}
	if o.BaselineFile != "" {
		if o.baseline, err = LoadBaseline(o.BaselineFile); err != nil {
			return err
		}
	}
	return nil
}

// reviewTime is when the review happens: now, or MEDPLUM_REVIEW_TIME (an
// RFC 3339 instant) for a report that must come out the same twice (tests,
// golden files): the thresholds count from it. Such a time more than an
// hour from now is accepted (a golden file's is in the past) with a
// warning, since every age in the review counts from it.
func reviewTime(now func() time.Time) (time.Time, string, error) {
	v := os.Getenv("MEDPLUM_REVIEW_TIME")
	if v == "" {
		return now().UTC(), "", nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, "", cmdutil.InputErrorf("MEDPLUM_REVIEW_TIME: want an instant such as 2026-12-01T09:00:00Z, not %q", v)
	}
	t = t.UTC()
	warning := ""
	if d := now().Sub(t); d > time.Hour || d < -time.Hour {
		when := span(d) + " ago"
		if d < 0 {
			when = "in " + span(-d)
		}
		warning = fmt.Sprintf("Warning: MEDPLUM_REVIEW_TIME sets the review's time to %s (%s): invites, secrets and changes are aged from it, and the report is dated then\n",
			t.Format(time.RFC3339), when)
	}
	return t, warning, nil
}

// span is a duration as the review writes ages: whole days from a day
// on, hours and minutes under it ("36 days", "3h5m").
func span(d time.Duration) string {
	if d >= 24*time.Hour {
		return plural(days(d), "day")
	}
	return strings.TrimSuffix(d.Truncate(time.Minute).String(), "0s")
}

// writable checks that a file can be made in dir.
func writable(dir string) error {
	if _, err := os.Stat(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".medplum-review-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// parseDays reads a number of days (14d) or a Go duration (36h). A bare
// number is refused: the report records the setting as given, and "90"
// says neither days nor anything else.
func parseDays(flag, s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.Atoi(t); err == nil && n >= 0 {
		return 0, cmdutil.FlagErrorf("%s: %q has no unit: write %dd (days) or a duration such as 36h", flag, s, n)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(t, "d"))
	if err == nil && n >= 0 && strings.HasSuffix(t, "d") {
		return time.Duration(n) * 24 * time.Hour, nil
	}
	if d, err := time.ParseDuration(t); err == nil && d >= 0 {
		return d, nil
	}
	return 0, cmdutil.FlagErrorf("%s: want a number of days (14d) or a duration (36h), not %q", flag, s)
}

func (o *Options) context() context.Context {
	if o.Ctx == nil {
		return context.Background()
	}
	return o.Ctx
}

func reviewRun(o *Options) error {
	ctx := o.context()
	c, err := o.Client()
	if err != nil {
		return err
	}
	who, err := cmdutil.WhoAmI(ctx, c)
	if err != nil {
		return err
	}
	project := who.ProjectID
	if o.Project != "" && o.Project != project {
		if !who.SuperAdmin {
			return cmdutil.InputErrorf("--project %s: you are signed in to project %s, and only a super admin can act on another project", o.Project, who.Describe())
		}
		project = o.Project
	}
	if o.baseline != nil && o.baseline.Project != project {
		return cmdutil.InputErrorf("--baseline %s is a review of project %s, not of %s", o.BaselineFile, o.baseline.Project, project)
	}
	now, warning, err := reviewTime(o.Now)
	if err != nil {
		return err
	}
	fmt.Fprint(o.IO.ErrOut, warning)

	r := newReport(now)
	defer r.close()
	r.ignores, r.baseline = o.ignores, o.baseline
	r.Reviewer = Reviewer{Profile: who.Profile, SuperAdmin: who.SuperAdmin, Server: client.RedactURL(c.BaseURL())}
	r.Settings = Settings{StaleInvite: strings.TrimSpace(o.StaleInvite), SecretMaxAge: strings.TrimSpace(o.SecretMaxAge),
		FailOn: o.FailOn, AllowUnchecked: o.AllowUnchecked, Ignore: o.IgnoreFile, Baseline: o.BaselineFile}

	col := &collector{r: r}
	if o.HTMLFile != "" {
		col.rows = newSpool[[]string]()
		defer col.rows.close()
	}
	out, err := o.newWriter(r)
	if err != nil {
		return err
	}
	col.write = out.member

	prog := newProgress(o.IO)
	e := &engine{cfg: Config{
		Client: c, Project: project, SuperAdmin: who.SuperAdmin, Caller: who.Profile, Now: now,
		StaleInvite: o.staleInvite, SecretMaxAge: o.secretMaxAge, Ignores: o.ignores,
		Progress: prog.update, WantTotal: prog.on,
	}, out: col}
	// The header of the JSON document needs the project, which the
	// engine reads first: the writer starts with the first member.
	col.start = func() error {
		r.Project = ReportProject{ID: project, Name: e.project.Name, Policies: e.project.Policies}
		if e.project.MFARequired.state == known {
			r.Project.MFARequired = e.project.MFARequired.val
		}
		return out.begin()
	}
	err = e.run(ctx)
	prog.done()
	if ce := client.AsError(err); ce != nil && ce.IsForbidden() {
		return cmdutil.WithHint(err, "A review needs project-admin credentials (or a super admin's, with --project <id>): these are not an admin of project "+project+".")
	}
	if err != nil {
		return err
	}
	if b := o.baseline; b != nil {
		if how := b.otherVisibility(r.Reviewer, r.counts.WithUnknowns); how != "" {
			fmt.Fprintf(o.IO.ErrOut, "Warning: the baseline %s was taken with other credentials (%s): findings are compared only where both reviews could check them, the others are listed as not comparable\n", b.File, how)
		}
	}
	if err := col.begin(); err != nil { // a project without members
		return err
	}
	if err := r.finish(); err != nil {
		return err
	}
	if err := out.end(); err != nil {
		return err
	}
	gate, gateErr := o.gate(r)
	if o.HTMLFile != "" {
		v, _, _ := version.Info()
		if err := r.writeHTML(o.HTMLFile, v, gate, col.rows.each); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
		fmt.Fprintf(o.IO.ErrOut, "Wrote the report to %s\n", o.HTMLFile)
	}
	return gateErr
}

// uncheckedTip is the hint of a gate that failed on what it could not see.
const uncheckedTip = "The gate does not pass on what it could not see: review as a super admin (--project <id>) to read server-scoped users, or pass --allow-unchecked to accept it."

// gate is --fail-on: exit 6 when a finding at or above it is not
// accepted; else exit 7 when a rule at or above it could not be checked
// for some member, unless --allow-unchecked. The outcome is also what the
// HTML page says of the gate.
func (o *Options) gate(r *Report) (GateOutcome, error) {
	if o.failOn == 0 {
		return GateOutcome{}, nil
	}
	g := GateOutcome{FailOn: o.failOn.String(), AllowUnchecked: o.AllowUnchecked, Result: "pass"}
	unchecked := ""
	n, what := r.Unchecked(o.failOn)
	if n > 0 {
		unchecked = fmt.Sprintf("%s at or above %s could not be made: %s", plural(n, "check"), o.failOn, what)
	}
	if f := r.Failing(o.failOn); f > 0 {
		g.Result, g.Exit, g.Text = "fail", cmdutil.ExitPending, fmt.Sprintf("%s at or above %s", plural(f, "finding"), o.failOn)
		e := &cmdutil.ExitError{Code: cmdutil.ExitPending,
			Err: fmt.Errorf("%s at or above %s (--fail-on %s)", plural(f, "finding"), o.failOn, o.failOn)}
		if unchecked != "" && !o.AllowUnchecked {
			e.Tip = "and " + unchecked
			g.Text += "; and " + unchecked
		}
		return g, e
	}
	switch {
	case unchecked != "" && !o.AllowUnchecked:
		g.Result, g.Exit, g.Text = "incomplete", cmdutil.ExitUnchecked, unchecked
		return g, &cmdutil.ExitError{Code: cmdutil.ExitUnchecked, Err: fmt.Errorf("--fail-on %s: %s", o.failOn, unchecked), Tip: uncheckedTip}
	case unchecked != "":
		g.Text = fmt.Sprintf("no finding at or above %s; %s, accepted by --allow-unchecked", o.failOn, unchecked)
	default:
		g.Text = fmt.Sprintf("no finding at or above %s, every check made", o.failOn)
	}
	return g, nil
}

// GateOutcome is what --fail-on decided, for the HTML page: Result pass,
// fail (exit 6) or incomplete (exit 7, checks not made); FailOn "" when
// the review had no gate.
type GateOutcome struct {
	FailOn         string
	AllowUnchecked bool
	Result         string
	Exit           int
	Text           string
}

// collector is the engine's sink: it counts, keeps the HTML rows and
// hands each member to the output.
type collector struct {
	r       *Report
	rows    *spool[[]string]
	write   func(*Member) error
	start   func() error
	started bool
}

func (c *collector) begin() error {
	if c.started {
		return nil
	}
	c.started = true
	return c.start()
}

func (c *collector) member(m *Member) error {
	if err := c.begin(); err != nil {
		return err
	}
	if err := c.r.count(m); err != nil {
		return err
	}
	if c.rows != nil {
		cells := make([]string, len(Columns))
		for i, col := range Columns {
			cells[i] = m.Field(col)
		}
		if err := c.rows.add(cells); err != nil {
			return err
		}
	}
	return c.write(m)
}

func (c *collector) finding(f Finding) error { return c.r.finding(f) }

func (c *collector) notChecked(rule string, m *Member, reason string) {
	c.r.notChecked(rule, m, reason)
}

// writer prints the review in the format asked for.
type writer struct {
	begin  func() error
	member func(*Member) error
	end    func() error
}

func (o *Options) newWriter(r *Report) (*writer, error) {
	ios := o.IO
	summaryErr := func() error { return r.summary(ios.ErrOut) }
	switch {
	case o.HTMLFile != "" && !o.formatSet && o.Output.JQ == "" && o.Output.Template == "" && len(o.Output.Columns) == 0:
		return &writer{begin: func() error { return nil }, member: func(*Member) error { return nil }, end: summaryErr}, nil
	case o.Output.Document():
		var buf bytes.Buffer
		w := ios.Out
		if o.Output.Filtered() {
			w = &buf // yaml, --jq and --template work on the whole document
		}
		d := newJSONDoc(w)
		return &writer{begin: func() error { return d.begin(r) }, member: d.member, end: func() error {
			if err := d.end(r); err != nil {
				return err
			}
			if o.Output.Filtered() {
				return o.Output.WriteDoc(ios, bytes.TrimSpace(buf.Bytes()))
			}
			return nil
		}}, nil
	case o.Output.Format == output.NDJSON:
		n := newNDJSON(ios.Out)
		return &writer{begin: func() error { return nil }, member: n.member, end: func() error { return n.end(r) }}, nil
	}
	rw, err := o.Output.NewRowWriter(ios, output.Rows{Default: Columns, Compact: CompactColumns, Known: Columns})
	if err != nil {
		return nil, err
	}
	terminal := o.Output.Format != output.CSV && ios.IsStdoutTTY()
	notes := &footnotes{}
	return &writer{begin: func() error { return nil }, member: func(m *Member) error {
		if terminal {
			return rw.Write(noted{m, notes})
		}
		return rw.Write(m)
	}, end: func() error {
		if err := rw.Close(); err != nil {
			return err
		}
		if terminal {
			for i, why := range notes.reasons {
				fmt.Fprintf(ios.Out, "[%d] unknown: %s\n", i+1, why)
			}
			fmt.Fprintln(ios.Out)
			return r.summary(ios.Out)
		}
		return summaryErr()
	}}, nil
}

// footnotes number the reasons of unknown cells in a terminal's table,
// where "unknown [1]" fits and the reason is printed once below.
type footnotes struct{ reasons []string }

func (n *footnotes) ref(why string) string {
	for i, r := range n.reasons {
		if r == why {
			return fmt.Sprintf("unknown [%d]", i+1)
		}
	}
	n.reasons = append(n.reasons, why)
	return fmt.Sprintf("unknown [%d]", len(n.reasons))
}

// noted is a member as a terminal's table shows it.
type noted struct {
	m     *Member
	notes *footnotes
}

func (r noted) Field(col string) string {
	if c := r.m.cell(col); c.state == unknown {
		return r.notes.ref(c.why)
	}
	return r.m.Field(col)
}
