package bulk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/internal/bulkengine"
	"github.com/medplumcli/medplum/commands/iostreams"
)

// ExportOptions are the inputs of `bulk export`.
type ExportOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Ctx    context.Context

	Level       string // -e: "" (system), "Patient" or "Group/<id>"
	Types       string // -t: comma-separated resource types
	Since       string // -s: an instant or a date
	Dir         string // -d: default the working directory
	Restart     bool
	Cancel      bool
	Concurrency int
	Quiet       bool

	never []string // types of -t that Medplum never exports

	// PollInterval is the first wait between polls; it grows by half each
	// time to MaxPoll (a Retry-After from the server wins).
	PollInterval, MaxPoll time.Duration
}

// NewCmdExport is `medplum bulk export`.
func NewCmdExport(f *cmdutil.Factory, runF func(*ExportOptions) error) *cobra.Command {
	opts := &ExportOptions{IO: f.IOStreams, Client: f.Client, PollInterval: 250 * time.Millisecond, MaxPoll: 10 * time.Second}
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export the project's data to NDJSON files (FHIR $export)",
		Long: heredoc.Doc(`
			Start a FHIR Bulk Data export on the server, wait for it, and download
			its files into the target directory: one NDJSON file per resource type,
			named as the official CLI names them (<type>_<storage path>.ndjson), and
			the server's manifest as manifest.json. Each finished file's path is
			printed on stdout ("<path> is created").

			The files hold whatever the project holds: a whole-project export
			includes ClientApplication secrets and password-reset requests. They are
			created readable by you only (0600); keep them that way.

			The export is resumable. The job is remembered in .medplum-export.json
			in the target directory: after Ctrl-C or a crash, the same command in
			the same directory picks up the same job and downloads only the files
			that are missing (each is written to a temporary name and renamed when
			complete). --restart starts a new job instead; --cancel deletes the job
			on the server and forgets it (the files already downloaded stay).

			A directory holds one export: run again once it is finished, the
			command downloads nothing and says so on stderr, even with -q (exit 0).
			--restart exports again and, once the new job's files are ready,
			removes the previous export's files (those its manifest.json named).
			A finished export whose job was forgotten (--cancel) is not exported
			into again without --restart: a second export next to it would
			repeat its resources.
			For nightly backups give each night its own directory:
			-d "backups/$(date +%F)".

			A backup holds no attachments: Medplum's $export never holds Binary
			(nor CodeSystem, SearchParameter, StructureDefinition, ValueSet,
			AuditEvent, AsyncJob, BulkDataExport, DomainConfiguration,
			JsonWebKey, Login), whatever -t says; the
			DocumentReferences and Media of a backup point at "Binary/<id>" whose
			content is not in it. -t naming only such types is refused; with
			others, a warning says so before the export starts, even with -q.
			Fetch attachments with "medplum get Binary/<id> -o ndjson" into the
			export's Binary.ndjson: bulk import creates them and points the
			attachments at them.

			Levels (-e): the whole project (default), Patient (every Patient and
			what belongs to them) or Group/<id> (the Group's member Patients and
			what belongs to them). -t limits the resource types, -s to what changed
			since an instant (2026-12-01 or 2026-12-01T10:00:00Z).

			Medplum 5.0.10 never finishes an export of a Group without members;
			the progress line shows the polls, and Ctrl-C then --cancel ends it.
		`),
		Example: heredoc.Doc(`
			$ medplum bulk export -d backup
			$ medplum bulk export -e Patient -t Patient,Observation -s 2026-12-01 -d patients
			$ medplum bulk export -d backup --cancel
		`),
		Args: cmdutil.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			opts.Ctx = c.Context()
			if err := opts.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return exportRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Level, "export-level", "e", "", `"Patient" or "Group/<id>" (default: the whole project)`)
	fl.StringVarP(&opts.Types, "types", "t", "", "resource types to export, comma-separated (default: all)")
	_ = cmd.RegisterFlagCompletionFunc("types", completion.TypeList)
	fl.StringVarP(&opts.Since, "since", "s", "", "only resources changed since this instant or date")
	fl.StringVarP(&opts.Dir, "target-directory", "d", "", "where to write the files (default: the working directory)")
	fl.BoolVar(&opts.Restart, "restart", false, "start a new export job, even if this directory has one to resume")
	fl.BoolVar(&opts.Cancel, "cancel", false, "delete this directory's export job on the server and forget it")
	fl.IntVar(&opts.Concurrency, "concurrency", 4, "files downloaded at a time")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress line, no warning")
	return cmd
}

var typeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Z][A-Za-z]+$`) })

// check validates the flags before anything is sent.
func (o *ExportOptions) check() error {
	switch lv := o.Level; {
	case lv == "" || lv == "system" || lv == "Patient":
	case strings.HasPrefix(lv, "Group/") && len(lv) > len("Group/") && !strings.ContainsAny(lv[len("Group/"):], "/?#$ "):
	default:
		return cmdutil.FlagErrorf(`--export-level %q: use "Patient" or "Group/<id>" (or nothing: the whole project)`, lv)
	}
	if o.Types != "" {
		for t := range strings.SplitSeq(o.Types, ",") {
			// Medplum exports nothing for a type it does not know, and
			// says nothing either (416): an empty backup, exit 0.
			if t = strings.TrimSpace(t); !knownTypes()[t] {
				if near := closestType(t); near != "" {
					return cmdutil.FlagErrorf("--types: %q is not a resource type; did you mean %s?", t, near)
				}
				return cmdutil.FlagErrorf("--types: %q is not a resource type of FHIR R4 or Medplum (e.g. Patient,Observation)", t)
			}
		}
	}
	if o.Types != "" {
		var never []string
		all := true
		for t := range strings.SplitSeq(o.Types, ",") {
			if t = strings.TrimSpace(t); neverExported[t] {
				never = append(never, t)
			} else {
				all = false
			}
		}
		if all {
			return cmdutil.FlagErrorf("--types: Medplum's $export never holds %s%s", strings.Join(never, ", "), neverExportedHint(never))
		}
		o.never = never
	}
	if o.Since != "" {
		if _, err := parseSince(o.Since); err != nil {
			return cmdutil.FlagErrorf("--since %q: not a date or an instant (e.g. 2026-12-01 or 2026-12-01T10:00:00Z); Medplum never finishes an export with a _since it cannot read", o.Since)
		}
	}
	if o.Concurrency < 1 {
		return cmdutil.FlagErrorf("--concurrency must be at least 1")
	}
	if o.Restart && o.Cancel {
		return cmdutil.FlagErrorf("--restart and --cancel cannot be used together")
	}
	return nil
}

// neverExported are the types Medplum 5.0.10's $export leaves out whatever
// -t says (fhir/operations/export.ts canBeExported: its
// unexportedResourceTypes and core's protectedResourceTypes), as
// medplumtest's exportSkip does (TestNeverExported).
var neverExported = map[string]bool{
	"Binary": true, "CodeSystem": true, "SearchParameter": true, "StructureDefinition": true, "ValueSet": true,
	"BulkDataExport": true, "AsyncJob": true, "AuditEvent": true,
	"DomainConfiguration": true, "JsonWebKey": true, "Login": true,
}

// neverExportedHint says how to get what an export leaves out.
func neverExportedHint(types []string) string {
	if slices.Contains(types, "Binary") {
		return ` (attachments: the DocumentReferences, Media and the like of a backup point at them as "Binary/<id>", their content is not in it; fetch each with: medplum get Binary/<id> -o ndjson)`
	}
	return " (read them with: medplum get '" + types[0] + "?_count=1000')"
}

// knownTypes are the resource types of FHIR R4 and Medplum.
var knownTypes = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, t := range slices.Concat(completion.FHIRTypes, completion.MedplumTypes) {
		m[t] = true
	}
	return m
})

// closestType is the known type nearest to t: the same name in another
// case, else the one fewest edits away (at most a third of its length),
// or "".
func closestType(t string) string {
	best, bestD := "", len(t)/3+1
	for k := range knownTypes() {
		if strings.EqualFold(k, t) {
			return k
		}
		if d := editDistance(strings.ToLower(k), strings.ToLower(t)); d < bestD || d == bestD && best != "" && k < best {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two strings (by byte: type
// names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func parseSince(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("bad instant")
}

// kickoffURL is the $export request: GET at every level (5.0.10 answers a
// POST of Group/<id>/$export 404, capture 412), _type and _since in the
// query (the only place the server reads them, 128b).
func (o *ExportOptions) kickoffURL() string {
	p := "$export"
	switch {
	case o.Level == "Patient":
		p = "Patient/$export"
	case strings.HasPrefix(o.Level, "Group/"):
		p = o.Level + "/$export"
	}
	q := url.Values{}
	if o.Types != "" {
		var ts []string
		for t := range strings.SplitSeq(o.Types, ",") {
			ts = append(ts, strings.TrimSpace(t))
		}
		q.Set("_type", strings.Join(ts, ","))
	}
	if o.Since != "" {
		q.Set("_since", o.Since)
	}
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return "fhir/R4/" + p
}

// stateFile remembers a directory's export job.
const stateFile = ".medplum-export.json"

// exportState is what .medplum-export.json holds.
type exportState struct {
	Server  string    `json:"server"`
	Project string    `json:"project"`
	Request string    `json:"request"` // the kick-off URL (level, types, since)
	Status  string    `json:"status"`  // the job's status URL
	Started time.Time `json:"started"`
	// Replaces are the files of the export this one restarted (--restart):
	// removed once this job's files are ready to download.
	Replaces []string `json:"replaces,omitempty"`
}

func (o *ExportOptions) dir() string {
	if o.Dir == "" {
		return "."
	}
	return o.Dir
}

func readState(path string) (*exportState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st exportState
	if err := json.Unmarshal(b, &st); err != nil || st.Status == "" {
		return nil, cmdutil.InputErrorf("%s is not an export state file of medplum; delete it, or use --restart", path)
	}
	return &st, nil
}

func exportRun(o *ExportOptions) (err error) {
	dir := o.dir()
	defer func() {
		if err != nil && o.Ctx.Err() != nil && !o.Cancel {
			if _, serr := os.Stat(filepath.Join(dir, stateFile)); serr == nil {
				err = cmdutil.WithHint(err, fmt.Sprintf("run the same command again to resume the export (its job is kept in %s); --cancel deletes it on the server", filepath.Join(dir, stateFile)))
			}
		}
	}()
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return cmdutil.InputErrorf("-d %s: not a directory", dir)
	}
	statePath := filepath.Join(dir, stateFile)
	st, err := readState(statePath)
	if err != nil {
		return err
	}
	if o.Cancel && st == nil {
		return cmdutil.InputErrorf("no export job to cancel in %s (it has no %s)", dir, stateFile)
	}
	// A finished export whose job is forgotten (--cancel, or the file
	// removed): another export there would put a second copy of every
	// resource next to the first, which import refuses.
	var forgotten []string
	if st == nil {
		forgotten = exportedFiles(dir, &exportState{})
		if len(forgotten) > 0 && !o.Restart {
			return cmdutil.InputErrorf("%s holds an export already (its manifest.json lists %s there) and no %s: another export would put a second copy of its resources next to it; "+
				"export into another directory, or use --restart to replace it", dir, cmdutil.Count(len(forgotten), "file"), stateFile)
		}
	}
	c, err := o.Client()
	if err != nil {
		return err
	}
	who, err := cmdutil.WhoAmI(o.Ctx, c)
	if err != nil {
		return err
	}
	if st != nil && (st.Server != c.BaseURL() || st.Project != who.ProjectID) {
		return cmdutil.InputErrorf("%s holds an export of project %s on %s, not of this one (%s on %s); use another directory, or --restart",
			statePath, st.Project, st.Server, who.ProjectID, c.BaseURL())
	}
	if o.Cancel {
		if err := cancelJob(o.Ctx, c, st.Status); err != nil {
			return err
		}
		if err := os.Remove(statePath); err != nil {
			return err
		}
		fmt.Fprintf(o.IO.ErrOut, "cancelled the export job %s\n", st.Status)
		return nil
	}
	want := c.BaseURL() + o.kickoffURL()
	if st != nil && !o.Restart && st.Request != want {
		return cmdutil.InputErrorf("%s holds an export job of %s, not of %s; use the same flags to resume it, --restart to start this one, or another directory",
			statePath, st.Request, want)
	}
	replaces := forgotten
	if st != nil && o.Restart {
		if err := cancelJob(o.Ctx, c, st.Status); err != nil && !isNotFound(err) {
			fmt.Fprintf(o.IO.ErrOut, "medplum: warning: could not cancel the earlier job %s: %v\n", st.Status, err)
		}
		replaces = exportedFiles(dir, st)
		st = nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	prog := newProgressLine(o.IO, o.Quiet)
	defer prog.done()
	if len(o.never) > 0 {
		// Even with -q: the backup lacks what was asked for.
		fmt.Fprintf(o.IO.ErrOut, "medplum: warning: Medplum's $export never holds %s: this export will not either%s\n", strings.Join(o.never, ", "), neverExportedHint(o.never))
	}
	if !o.Quiet && o.mayHoldSecrets() {
		fmt.Fprintln(o.IO.ErrOut, "medplum: warning: the exported files hold whatever the project holds, client secrets and password-reset requests included: they are created readable by you only (0600); keep them private")
	}
	resumed := st != nil
	if st == nil {
		resp, err := c.Do(o.Ctx, &client.Request{URL: o.kickoffURL(), Header: http.Header{"Prefer": {"respond-async"}}})
		if err != nil {
			if strings.HasPrefix(o.Level, "Group/") && isNotFound(err) {
				return fmt.Errorf("%s: not found on the server (-e Group/<id> names a Group of the project)", o.Level)
			}
			return err
		}
		loc := resp.Header.Get("Content-Location")
		if resp.Status != http.StatusAccepted || loc == "" {
			return fmt.Errorf("GET %s: the server answered %d without a Content-Location: no export job to follow", o.kickoffURL(), resp.Status)
		}
		st = &exportState{Server: c.BaseURL(), Project: who.ProjectID, Request: want, Status: loc, Started: time.Now().UTC(), Replaces: replaces}
		if err := writeState(statePath, st); err != nil {
			return err
		}
		prog.notice(fmt.Sprintf("export job started: %s", loc))
	} else {
		prog.notice(fmt.Sprintf("resuming the export job started %s: %s", st.Started.Local().Format(time.DateTime), st.Status))
	}

	raw, m, err := o.poll(c, st, prog)
	if err != nil {
		return err
	}
	if len(st.Replaces) > 0 {
		// The previous export's files go now that this one's are ready:
		// not earlier (a failed restart keeps the last good export), and
		// before the downloads (a file of the same name is not this job's).
		var removed []string
		for _, n := range st.Replaces {
			if err := os.Remove(filepath.Join(dir, n)); err == nil {
				removed = append(removed, n)
			} else if !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("removing %s of the previous export: %w", n, err)
			}
		}
		st.Replaces = nil
		if err := writeState(statePath, st); err != nil {
			return err
		}
		if !o.Quiet && len(removed) > 0 {
			fmt.Fprintf(o.IO.ErrOut, "medplum: removed the %s of the previous export: %s\n", cmdutil.Count(len(removed), "file"), strings.Join(removed, ", "))
		}
	}
	if err := config.WriteFileAtomic(filepath.Join(dir, "manifest.json"), raw, 0o600); err != nil {
		return fmt.Errorf("writing manifest.json: %w", err)
	}
	files, err := o.download(c, dir, m, prog)
	prog.done()
	if err != nil {
		return err
	}
	var bytes int64
	fresh := 0
	for _, f := range files {
		bytes += f.size
		if f.fresh {
			fresh++
		}
	}
	if !o.Quiet {
		fmt.Fprintf(o.IO.ErrOut, "exported %s (%s) into %s; %d downloaded now, %d earlier\n",
			cmdutil.Count(len(files), "file"), HumanBytes(bytes), dir, fresh, len(files)-fresh)
	}
	if fresh == 0 && len(files) > 0 && resumed {
		// Even with -q: a nightly job run in the same directory would
		// otherwise back up nothing new, in silence.
		fmt.Fprintf(o.IO.ErrOut, "medplum: note: this is the export started %s, finished earlier: nothing new was downloaded; --restart exports the project again (replacing these files), or export into a new directory\n", st.Started.Format(time.RFC3339))
	}
	if !o.Quiet {
		if missing := missingTypes(o.Types, m); len(missing) > 0 {
			fmt.Fprintf(o.IO.ErrOut, "medplum: note: nothing exported for %s (no such resources)\n", strings.Join(missing, ", "))
		}
	}
	return nil
}

// secretTypes hold secrets or grant access: a client's secret, a
// password-reset request, a sign-in, a Bot's code, a membership, ...
var secretTypes = map[string]bool{"Project": true, "ProjectMembership": true, "User": true, "ClientApplication": true,
	"UserSecurityRequest": true, "PasswordChangeRequest": true, "Login": true, "Bot": true, "JsonWebKey": true,
	"DomainConfiguration": true, "SmartAppLaunch": true}

// mayHoldSecrets reports whether the export can hold secrets: a whole
// project, or types that hold them named with -t (a Patient or Group
// export holds the Patients' compartments, none of those types).
func (o *ExportOptions) mayHoldSecrets() bool {
	if o.Types == "" {
		return o.Level == "" || o.Level == "system"
	}
	for t := range strings.SplitSeq(o.Types, ",") {
		if secretTypes[strings.TrimSpace(t)] {
			return true
		}
	}
	return false
}

func writeState(path string, st *exportState) error {
	b, _ := cmdutil.MarshalJSON(st, "  ")
	if err := config.WriteFileAtomic(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("remembering the export job in %s: %w", path, err)
	}
	return nil
}

// exportedFiles are the names of the files the export of st wrote into dir
// (those its manifest.json names that are there), and those of the export
// before it it had still to remove: ours, never another file of dir.
func exportedFiles(dir string, st *exportState) []string {
	names := slices.Clone(st.Replaces)
	if b, err := os.ReadFile(filepath.Join(dir, "manifest.json")); err == nil {
		var m manifest
		if json.Unmarshal(b, &m) == nil {
			for _, out := range m.Output {
				n := FileName(out.Type, out.URL)
				if _, err := os.Stat(filepath.Join(dir, n)); err == nil && !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
		}
	}
	return names
}

func isNotFound(err error) bool {
	e := client.AsError(err)
	return e != nil && e.Status == http.StatusNotFound
}

// cancelJob deletes an export job on the server (202, also for a job
// cancelled before: capture 138c).
func cancelJob(ctx context.Context, c *client.Client, status string) error {
	_, err := c.Do(ctx, &client.Request{Method: "DELETE", URL: status, Accept: "*/*"})
	return err
}

// manifest is the part of the server's manifest that is used.
type manifest struct {
	Output []struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	} `json:"output"`
	RequiresAccessToken bool `json:"requiresAccessToken"`
}

// poll waits for the job's manifest: the status URL answers 202 until then
// (5.0.10: a bare 202, capture 126); waits grow from PollInterval by half to
// MaxPoll, or are what a Retry-After says. The client retries 429 and 5xx
// on its own (GETs are idempotent).
func (o *ExportOptions) poll(c *client.Client, st *exportState, prog *progressLine) ([]byte, *manifest, error) {
	wait := o.PollInterval
	for polls := 1; ; polls++ {
		resp, err := c.Do(o.Ctx, &client.Request{URL: st.Status, Accept: "application/json"})
		if err != nil {
			if isNotFound(err) {
				return nil, nil, cmdutil.WithHint(fmt.Errorf("the export job %s is gone from the server (cancelled, or expired)", st.Status),
					"run the same command with --restart to start a new export")
			}
			return nil, nil, err
		}
		if resp.Status == http.StatusOK {
			var m manifest
			if err := json.Unmarshal(resp.Body, &m); err != nil {
				return nil, nil, fmt.Errorf("the export's manifest is not JSON: %w", err)
			}
			return resp.Body, &m, nil
		}
		d := wait
		if ra := retryAfter(resp.Header.Get("Retry-After")); ra > 0 {
			d = ra
		} else {
			wait = min(wait*3/2, o.MaxPoll)
		}
		// (The status line adds the time this run has waited; a resumed
		// job's start was said when it resumed.)
		prog.set(fmt.Sprintf("waiting for the export: %s%s", cmdutil.Count(polls, "poll"), xProgress(resp.Header)))
		if err := bulkengine.Sleep(o.Ctx, d); err != nil {
			return nil, nil, err
		}
	}
}

func xProgress(h http.Header) string {
	if p := h.Get("X-Progress"); p != "" {
		return " (" + p + ")"
	}
	return ""
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// FileName is the name the official CLI gives an output file: its type and
// its URL's path, every run of other characters than letters and digits
// turned into "_", and ".ndjson".
func FileName(typ, rawURL string) string {
	p := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		p = u.Path
	}
	return nonAlnum().ReplaceAllString(typ+"_"+p, "_") + ".ndjson"
}

var nonAlnum = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^a-zA-Z0-9]+`) })

func missingTypes(types string, m *manifest) []string {
	if types == "" {
		return nil
	}
	have := map[string]bool{}
	for _, f := range m.Output {
		have[f.Type] = true
	}
	var out []string
	for t := range strings.SplitSeq(types, ",") {
		if t = strings.TrimSpace(t); !have[t] && !neverExported[t] {
			out = append(out, t)
		}
	}
	return out
}

// HumanBytes is a size as the summary says it.
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return cmdutil.Count(int(n), "byte")
}
