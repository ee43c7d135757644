package bulk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/internal/bulkengine"
	"github.com/medplumcli/medplum/commands/iostreams"
)

// ImportOptions are the inputs of `bulk import`.
type ImportOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Ctx    context.Context

	Args             []string
	PerRequest       int    // --num-resources-per-request
	MissingValueExts bool   // --add-extensions-for-missing-values
	Dir              string // -d: where relative names are read
	Mode             string // batch or transaction
	SourceID         bool   // --source-id
	Restore          bool   // --restore
	IncludeClients   bool   // --include-clients
	AllowIncomplete  bool   // --allow-incomplete
	State            string // --state
	Concurrency      int    // 0: adaptive
	Report           string // --report
	Quiet            bool

	Retry bulkengine.RetryPolicy
}

// NewCmdImport is `medplum bulk import`.
func NewCmdImport(f *cmdutil.Factory, runF func(*ImportOptions) error) *cobra.Command {
	opts := &ImportOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "import <file|dir|->...",
		Short: "Import NDJSON files of FHIR resources into the project",
		Long: heredoc.Doc(`
			Create the resources of NDJSON files (one resource a line, as bulk
			export writes them) in the project, in Bundles of
			--num-resources-per-request entries (25), several at a time.

			Import creates what is missing and never updates what exists: a
			resource found again (by its key, below) is counted "already there"
			and left as the server has it, even when the file's copy differs or
			its references name resources of the input by their old ids (the
			summary counts those).

			Every line is checked first: a line that is not a JSON object with a
			resourceType of FHIR R4 or Medplum is reported with its file and line number, and nothing
			is sent. A directory stands for its *.ndjson files; - reads stdin.
			An unfinished export (its manifest.json lists files that are not
			there: the export was stopped while it downloaded them) is refused
			too, naming the missing files and the bulk export command that
			finishes it; --allow-incomplete imports the files that are there.

			Ids: the server gives every resource a new id. A reference to another
			resource of the input ("Patient/<old id>") is rewritten to its new id:
			inside a Bundle through its urn:uuid, across Bundles from the ids
			recorded so far; a resource this import created before the one it
			points at is updated once that one exists (the summary counts these
			updates): its server copy is read and written back with only those
			references changed, if it is still the version read (If-Match; an
			edit made meanwhile is kept, the update read and made again). A
			reference to a resource that is not in the input is kept as it is
			(the summary counts those). An update that failed, or that waits for
			a resource whose line failed, is listed and makes the exit code 3;
			the same command again, or the import of the corrected input into
			the same project, does it.
			An attachment's url "Binary/<old id>" is rewritten as a reference is;
			exports hold no Binary, so before sending the run warns how many
			such urls name a Binary the input does not hold (medplum bulk export
			--help says how to add them).

			Re-runs converge. Each resource is keyed on its first identifier with
			a system and a value; one without gets an identifier {system:
			"urn:medplum-cli:source-id", value: <old id>} and is keyed on it.
			Before each Bundle one search per type finds the keyed resources the
			project has already; only the others are sent, as plain creates (a
			conditional create costs Medplum a serializable transaction per
			entry, which concurrent Bundles make fail and retry). Two resources of one type with the same key (a
			duplicate MRN) would become one: the check refuses them, naming both
			lines. An export imported into the project it came from (its
			.medplum-export.json names it, or its lines' meta.project: copied
			files and stdin too) is refused without --restore: nothing
			would be found by its id, so whatever has no identifier would be
			doubled. A type Medplum cannot search by identifier (Provenance,
			AuditEvent, ...) is keyed on a meta.tag instead: its tag of that system,
			else an added {system: "urn:medplum-cli:source-id", code: <old id>}.
			--source-id=false adds neither. A journal (--state; by default
			one per input and target project, in medplum's cache directory:
			$MEDPLUM_CACHE_DIR, else ~/.cache/medplum on Linux, under imports/)
			records every Bundle before it leaves and every answer: after Ctrl-C, a crash
			or kill -9, the same command sends only what was not answered, and a
			keyed resource whose answer was lost is found, not created again. Only
			a resource without a key (no id, a Binary, or --source-id=false
			without an identifier of its own) can be created twice, when its
			Bundle's answer was lost: the run lists those lines ("may have been
			created twice"). The lookup and the create are two requests: a
			resource another client creates with the same key in between is
			doubled.

			Memory does not grow with the input: the input is read twice (once
			to check it, once to send it) and never held, and what the import
			keeps for each resource (its old id, its key, its new id) is in
			scratch files next to the journal, about 100 to 400 bytes a resource
			while the run lasts, removed when it ends.

			What grants access or holds secrets is not imported: a whole-project
			export holds the Project, its ProjectMemberships, Users,
			ClientApplications (with their secrets) and UserSecurityRequests.
			Medplum refuses a project admin's Project (403) and ProjectMembership
			(400: it drops the project and user given), a User without a
			membership cannot sign in, a password-reset request is a secret of the
			old project. The run says how many of which it left out. Move people
			with "medplum invite" and clients with "medplum clients create" (or
			both: "medplum apply export" in the old project, "medplum apply -f" in
			the new one); --include-clients imports the ClientApplications as they
			are, secrets included (Medplum keeps a secret it is sent).

			--restore puts a backup back into the project it came from: each
			resource is looked up, on every run (the journal never skips the
			check: what was restored may have been deleted again since), by its
			id, by its own identifiers (a Patient deleted and entered again by
			hand with the same MRN is found), or by the identifier
			"urn:medplum-cli:source-id|<id>" (or that meta.tag) of a copy an
			earlier restore made. What exists is found and left as it is,
			changes since the export included. What was deleted is put back
			WITH ITS OWN ID (PUT Type/<id>: Medplum revives a deleted resource):
			every reference to it is valid again, nothing to rewrite; the summary
			counts them "restored with their ids" (--report: restored). What
			the server no longer has at all (expunged; PUT answers 404) is
			created again with a NEW id (Medplum chooses ids), carrying its old
			id as a urn:medplum-cli:source-id identifier (or meta.tag), by which
			a later restore finds it; references to it are rewritten to the new
			id, in the restored resources and in the found ones (their server
			copy, only those references changed, if it is still the version
			read). Re-runs, with or without the
			journal, create nothing twice (a PUT sent twice puts back the same
			resource), except: a Binary (Medplum cannot search it; 5.0.10's
			exports hold none) is read by its id, or at the id the journal
			recorded for its copy, and created again otherwise; a re-created
			resource with --source-id=false is found again only through the
			journal (a lost answer lists those as "may have been created
			twice"). An export of another project (its .medplum-export.json, or
			lines of another project and none of this one) is refused with
			--restore.

			The server answers entry by entry: each Bundle's counts go to stdout
			as it is answered ("Bundle 3 (p.ndjson:51-75): 25 created, ...",
			numbered in the order they are sent; several are in flight, so a
			later one can come first), each failed entry to stderr with its file
			and line, and the exit code is 3 when some failed. 429s (Medplum
			charges every entry to the FHIR quota) are waited out and the
			entries not done are sent again.

			--report FILE writes a CSV, file,line,resource,result,status,id,error,
			with a row for every resource this run had answered: resource is the
			line's Type/id as the input has it (its old id; Type alone for a line
			without one), result is created, restored (--restore: put back with
			its id), found (already there) or failed, status the server's for
			its entry, id the Type/id it has on the server, error the server's
			message. A resource this import created and then updated to point at
			a resource created after it has a second row: updated, failed (the
			update) or pending (it waits for a resource that failed). The file
			is replaced at every run, however it ends: a run refused before it
			sent anything leaves only the header, never an earlier run's rows.

			--mode transaction sends transaction Bundles (all or nothing only in a
			project with the transaction-bundles feature).

			Why not async batches (Prefer: respond-async): Medplum 5.0.10 charges
			their entries to the same FHIR quota (and 200 points more for the job
			and its result), and answers them only after polls and a Binary read;
			a Bundle of --num-resources-per-request entries answers at once, entry
			by entry, well within an HTTP timeout.
		`),
		Example: heredoc.Doc(`
			$ medplum bulk export -t Patient,Observation -d backup
			$ medplum -p other bulk import backup
			$ medplum -p other bulk import backup --num-resources-per-request 100 --mode transaction --state again.journal
			$ medplum bulk import backup --restore
		`),
		Args: cmdutil.RangeArgs(1, math.MaxInt, "one or more NDJSON files or directories (- reads stdin)"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Ctx = c.Context()
			opts.Args = args
			if err := opts.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return importRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&opts.PerRequest, "num-resources-per-request", 25, "resources in each Bundle")
	fl.BoolVar(&opts.MissingValueExts, "add-extensions-for-missing-values", false, "give an ExplanationOfBenefit's missing provider and item productOrService the data-absent-reason extension")
	fl.StringVarP(&opts.Dir, "target-directory", "d", "", "the directory relative file names are read from")
	fl.StringVar(&opts.Mode, "mode", "batch", `"batch" or "transaction"`)
	fl.BoolVar(&opts.AllowIncomplete, "allow-incomplete", false, "import an unfinished export: the files its manifest.json lists that are there")
	fl.BoolVar(&opts.IncludeClients, "include-clients", false, "import ClientApplications too, with the secrets they hold")
	fl.BoolVar(&opts.Restore, "restore", false, "restore an export into the project it came from: find each resource by its id or identifiers, put back what was deleted (with its id)")
	fl.BoolVar(&opts.SourceID, "source-id", true, "key resources without an identifier on an added urn:medplum-cli:source-id identifier (or meta.tag)")
	fl.StringVar(&opts.State, "state", "", "the journal that makes the run resumable (default: one per input and project, in the cache directory)")
	fl.IntVar(&opts.Concurrency, "concurrency", 0, "Bundles in flight (default: adaptive)")
	fl.StringVar(&opts.Report, "report", "", "write each resource's result (created, restored, found, failed, updated or pending) to this CSV file, replaced at every run")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress line, no per-Bundle lines")
	return cmd
}

func (o *ImportOptions) keyOptions() keyOptions {
	return keyOptions{SourceID: o.SourceID, Restore: o.Restore}
}

func (o *ImportOptions) check() error {
	if o.PerRequest < 1 {
		return cmdutil.FlagErrorf("--num-resources-per-request must be at least 1")
	}
	if o.Mode != "batch" && o.Mode != "transaction" {
		return cmdutil.FlagErrorf(`--mode %q: use "batch" or "transaction"`, o.Mode)
	}
	if o.Concurrency < 0 {
		return cmdutil.FlagErrorf("--concurrency must be at least 1 (or 0: adaptive)")
	}
	stdin := 0
	for _, a := range o.Args {
		if a == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return cmdutil.FlagErrorf("- (stdin) can be named once")
	}
	return nil
}

// chunk is one Bundle's worth of entries, of one file.
type chunk struct {
	N       int // 1-based, in input order
	Entries []*entry
	Fix     []int         // with fixing: the entries to update
	Relink  []int         // with fixing: the entries found by their id whose references to update (--restore)
	done    chan struct{} // closed once its new ids are known (or it stopped)
	once    sync.Once
}

func (c *chunk) finished() { c.once.Do(func() { close(c.done) }) }

// label names the chunk on its line of stdout: "Bundle 3 (p.ndjson:51-75)",
// numbered in the order the Bundles are sent. Several are in flight and
// each line comes as its Bundle is answered, so that a later Bundle can
// come first (lines held back to print them in input order would wait
// behind a Bundle that waits out a 429); the name says which it is.
func (c *chunk) label(files []inputFile) string {
	first, last := c.Entries[0].Line, c.Entries[len(c.Entries)-1].Line
	if first.N == last.N {
		return fmt.Sprintf("Bundle %d (%s:%d)", c.N, files[first.File].Name, first.N)
	}
	return fmt.Sprintf("Bundle %d (%s:%d-%d)", c.N, files[first.File].Name, first.N, last.N)
}

// importer is one run.
type importer struct {
	o        *ImportOptions
	c        *client.Client
	files    []inputFile
	in       *checked
	rs       *resumeState
	j        *bulkengine.Journal
	lim      *bulkengine.Limiter
	run      *bulkengine.Run
	prog     *progressLine
	retry    bulkengine.RetryPolicy
	mu       sync.RWMutex
	owner    map[string]*chunk // old "Type/id" -> the chunk sending it, this run
	total    counts            // this run
	before   counts            // done by an earlier run
	sent     int               // resources answered this run (progress)
	fixed    int
	relinked int // found resources pointed at re-created ones (--restore)
	fixErr   int // updates that failed
	pending  int // updates waiting for resources that failed
	waiting  *waitList
	maybe    []string // file:line of unkeyed entries resent after a lost answer
	halfway  counts   // answered in chunks the run stopped before they were done
	rep      *importReport
}

func importRun(o *ImportOptions) (err error) {
	// The report is this run's, whatever becomes of it: started before
	// anything is read (a directory that is not there is said first), put
	// in place however the run ends, with only its header when the run was
	// refused, so that an earlier run's is never left looking like this one's.
	var rep *importReport
	if o.Report != "" {
		if rep, err = createImportReport(o.Report); err != nil {
			return err
		}
		defer func() {
			if cerr := rep.commit(); err == nil {
				err = cerr
			}
		}()
	}
	return o.runImport(rep)
}

func (o *ImportOptions) runImport(rep *importReport) error {
	files, cleanup, err := expandInputs(o.Args, o.Dir, o.IO.In)
	defer cleanup()
	if err != nil {
		return err
	}
	dirs := exportDirs(files)
	if !o.AllowIncomplete {
		if err := unfinished(dirs); err != nil {
			return err
		}
	}
	var salts []string
	if o.IncludeClients {
		salts = append(salts, "include-clients")
	}
	if o.Restore {
		salts = append(salts, "restore")
	}
	dir, err := stateDir(o.State)
	if err != nil {
		return err
	}
	in, err := checkInput(files, o.skipped, strings.Join(salts, " "), o.keyOptions(), dir)
	if err != nil {
		if two := twoExports(dirs); two != "" {
			err = cmdutil.WithHint(err, "medplum: "+two)
		}
		return err
	}
	defer in.IDs.Close()
	if in.Total == 0 {
		o.reportSkipped(in)
		return cmdutil.InputErrorf("nothing left to import: every resource of the input was skipped")
	}
	// The journal's key is the input as given; the order it is sent in
	// follows from it.
	var sorted []inputFile
	for _, i := range dependencyOrder(in) {
		sorted = append(sorted, files[i])
	}
	files = sorted
	c, err := o.Client()
	if err != nil {
		return err
	}
	who, err := cmdutil.WhoAmI(o.Ctx, c)
	if err != nil {
		return err
	}
	if err := o.checkSource(files, c.BaseURL(), who.ProjectID); err != nil {
		return err
	}
	if err := o.checkLineProjects(in, files, who.ProjectID); err != nil {
		return err
	}
	// Said once the import is not refused: a refused one sends nothing.
	o.reportSkipped(in)
	o.warnMissingBinaries(in)
	cache, err := stateDir("") // (the project's list of resources to update is there, whatever --state says)
	if err != nil {
		return err
	}
	waiting := openWaitList(cache, c.BaseURL(), who.ProjectID)
	state := o.State
	if state == "" {
		state = defaultState(dir, in.Digest, c.BaseURL(), who.ProjectID)
	}
	rs, replay := replayImport(state, in.IDs)
	j, err := bulkengine.Open(state, importFormat, bulkengine.Key{Input: in.Digest, Server: c.BaseURL(), Project: who.ProjectID}, replay)
	if err != nil {
		return cmdutil.InputErrorf("%v", err)
	}
	defer j.Close()
	if err := in.IDs.Err(); err != nil { // the ids an earlier run learnt
		return err
	}
	if rs.Per > 0 && rs.Per != o.PerRequest {
		// The chunks are numbered by it: another value would take other
		// resources for the done ones.
		return cmdutil.InputErrorf("journal %s was written by a run with --num-resources-per-request %d (it numbers the Bundles): run the import with that value to continue it, or choose another journal with --state; nothing was sent", state, rs.Per)
	}
	before := rs.Before
	if o.Restore {
		before = counts{} // (every chunk is sent again: counted this run)
	}
	im := &importer{o: o, c: c, files: files, in: in, rs: rs, j: j, owner: map[string]*chunk{}, before: before, waiting: waiting,
		lim: bulkengine.NewLimiter(o.Concurrency, 0), prog: newProgressLine(o.IO, o.Quiet), retry: o.Retry.WithDefaults(), rep: rep}
	return im.do()
}

func (im *importer) do() error {
	o := im.o
	im.run = bulkengine.Start(o.Ctx, bulkengine.Config{
		Journal: im.j, Limiter: im.lim, Outage: outageOf(im.c),
		Interrupted: func(n int, grace time.Duration) {
			im.prog.clear()
			fmt.Fprintf(o.IO.ErrOut, "interrupted: waiting up to %s for the %s in flight; run the same command again to continue\n", grace, cmdutil.Count(n, "Bundle"))
		},
	})
	err := bulkengine.Work(im.run, im.lim.Max(), im.dispatch(false), im.process)
	if err == nil {
		err = im.run.Err()
	}
	if err == nil && im.toFix() {
		// The references to resources of later Bundles, now that every
		// resource has its id.
		im.run = bulkengine.Start(o.Ctx, bulkengine.Config{Journal: im.j, Limiter: im.lim, Outage: outageOf(im.c)})
		err = bulkengine.Work(im.run, im.lim.Max(), im.dispatch(true), im.fixup)
		if err == nil {
			err = im.run.Err()
		}
	}
	im.prog.clear()
	im.summary()
	if err != nil {
		return err
	}
	now, earlier := im.total.Failed, im.before.Failed
	if f := now + earlier; f == 0 && im.fixErr+im.pending > 0 {
		what := fmt.Sprintf("%d resources this import created still point", im.fixErr+im.pending)
		if im.fixErr+im.pending == 1 {
			what = "1 resource this import created still points"
		}
		return &cmdutil.ExitError{Code: cmdutil.ExitPartial, Err: fmt.Errorf("%s at ids that do not exist (listed above: an update failed, or waits for a resource that failed); run the import again (after correcting what failed): the updates are tried again", what)}
	}
	if f := now + earlier; f > 0 {
		which := "(listed above)"
		switch {
		case earlier > 0 && now == 0:
			which = "in an earlier run of this import (it listed them; this run does not send them again)"
		case earlier > 0:
			which = fmt.Sprintf("(%d listed above, %d in an earlier run of this import, which listed them)", now, earlier)
		}
		return &cmdutil.ExitError{Code: cmdutil.ExitPartial, Err: fmt.Errorf("%d of %s failed %s; correct them and run the import again: what was imported is found, not created again", f, cmdutil.Count(im.in.Total, "resource"), which)}
	}
	return nil
}

func outageOf(c *client.Client) time.Duration {
	if t := c.Timeout(); t > 0 {
		return t
	}
	return bulkengine.DefaultOutage
}

func (im *importer) summary() {
	var b strings.Builder
	n := im.total.Created + im.total.Restored + im.total.Matched + im.total.Failed
	noun := "resources"
	if n == 1 {
		noun = "resource"
	}
	fmt.Fprintf(&b, "imported %d %s: %s", n, noun, im.countsText(im.total))
	if n := im.before.Created + im.before.Matched + im.before.Failed; n > 0 {
		fmt.Fprintf(&b, "; %d done by an earlier run (%d failed)", n, im.before.Failed)
	}
	if im.relinked > 0 {
		fmt.Fprintf(&b, "; %d found updated to point at re-created resources", im.relinked)
	}
	if n := im.total.Stale; n > 0 {
		verb, it := "points", "it"
		if n > 1 {
			verb, it = "point", "them"
		}
		fmt.Fprintf(&b, "; %d already there %s at old ids of the input (left as the server has %s)", n, verb, it)
	}
	switch n := im.total.Outside; n {
	case 0:
	case 1:
		b.WriteString("; 1 reference points at a resource not in the input, kept as it was")
	default:
		fmt.Fprintf(&b, "; %d references point at resources not in the input, kept as they were", n)
	}
	if h := im.halfway; h.Created+h.Matched > 0 {
		fmt.Fprintf(&b, "; %d more answered in Bundles stopped half-way (%d created, %d already there), which the next run finds", h.Created+h.Matched, h.Created, h.Matched)
	}
	if im.fixed+im.fixErr > 0 {
		fmt.Fprintf(&b, "; %d updated to point at resources created after %s", im.fixed, cmdutil.Noun(im.fixed, "it", "them"))
		if im.fixErr > 0 {
			fmt.Fprintf(&b, " (%d failed)", im.fixErr)
		}
	}
	if im.pending > 0 {
		fmt.Fprintf(&b, "; %d to update once the resources %s at are imported", im.pending, cmdutil.Noun(im.pending, "it points", "they point"))
	}
	fmt.Fprintln(im.o.IO.ErrOut, b.String())
	if err := im.waiting.err; err != nil {
		fmt.Fprintf(im.o.IO.ErrOut, "medplum: warning: the list of resources still to update (for a later import into this project) could not be written: %v\n", err)
	}
	if len(im.maybe) > 0 {
		what := fmt.Sprintf("%d resources without a key were", len(im.maybe))
		if len(im.maybe) == 1 {
			what = "1 resource without a key was"
		}
		fmt.Fprintf(im.o.IO.ErrOut, "medplum: warning: %s sent again after an answer was lost and may have been created twice: %s\n", what, strings.Join(im.maybe, ", "))
	}
}

// countsText is "C created, M already there, F failed", with --restore
// "C created, R restored with their ids, M already there, F failed".
func (im *importer) countsText(c counts) string {
	if im.o.Restore {
		return fmt.Sprintf("%d created, %d restored with their ids, %d already there, %d failed", c.Created, c.Restored, c.Matched, c.Failed)
	}
	return fmt.Sprintf("%d created, %d already there, %d failed", c.Created, c.Matched, c.Failed)
}

// needsFix reports whether chunk n has entries to fix that are not fixed
// yet.
func (im *importer) needsFix(n int) bool { _, ok := im.rs.Fix[n]; return ok }

// toFix reports whether any chunk needs fixing: if none does, the input is
// not read a third time.
func (im *importer) toFix() bool { return len(im.rs.Fix) > 0 }

// dispatch hands out the chunks the journal does not hold as done (or,
// fixing, those with entries to fix that are not fixed yet).
func (im *importer) dispatch(fixing bool) func(ctx context.Context, jobs chan<- *chunk) error {
	return func(ctx context.Context, jobs chan<- *chunk) error {
		var cur *chunk
		n := 0
		send := func() error {
			if cur == nil {
				return nil
			}
			ch := cur
			cur = nil
			if fixing {
				if !im.needsFix(ch.N) {
					return nil
				}
				ch.Fix, ch.Relink = im.rs.Fix[ch.N].Fix, im.rs.Fix[ch.N].Relink
			} else if im.rs.Done.has(ch.N) && !im.o.Restore {
				// (--restore checks every resource on every run: what was
				// restored may have been deleted again since)
				return nil
			} else {
				im.mu.Lock()
				for _, e := range ch.Entries {
					if r := e.ref(); r != "" {
						im.owner[r] = ch
					}
				}
				im.mu.Unlock()
			}
			select {
			case jobs <- ch:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err := eachLine(im.files, func(l line) error {
			e, err := newEntry(l, entryOptions{keyOptions: im.o.keyOptions(), MissingValueExts: im.o.MissingValueExts})
			if err != nil {
				return err
			}
			if im.o.skipped(e.Type) {
				return nil
			}
			if cur != nil && (len(cur.Entries) == im.o.PerRequest || cur.Entries[0].Line.File != l.File) {
				if err := send(); err != nil {
					return err
				}
			}
			if cur == nil {
				n++
				cur = &chunk{N: n, done: make(chan struct{})}
			}
			cur.Entries = append(cur.Entries, e)
			return nil
		})
		if err == nil {
			err = send()
		}
		if ctx.Err() != nil {
			return nil // the run's Err says why
		}
		return err
	}
}

func (im *importer) inInput(ref string) bool { return im.in.IDs.has(ref) }

func (im *importer) lookup(ref string) string {
	im.mu.RLock()
	defer im.mu.RUnlock()
	return im.in.IDs.newRef(ref)
}

// result is what the server answered for one entry.
type result struct {
	done   bool   // created or found
	status int    // the entry's status
	newRef string // "Type/id"
	err    string // why it failed
	stale  bool   // found, pointing at resources of the input that are elsewhere now (or not known yet)
	// restored: put back with its own id (--restore: it had been deleted)
	restored bool
	// An update of its references (fixup): done (updated) or failed; or
	// pending, waiting for resources of the input that failed.
	update, pending bool
}

// waitForTargets waits for the chunks sent before ch whose resources ch's
// references name, so that it is sent with their new ids (rather than
// fixed up afterwards). Those chunks are all in workers' hands already:
// they were handed out before it.
func (im *importer) waitForTargets(ch *chunk) error {
	wait := map[*chunk]bool{}
	for _, e := range ch.Entries {
		n := 0
		rewrite(e.Resource, im.inInput, func(ref string) string {
			im.mu.RLock()
			defer im.mu.RUnlock()
			if o := im.owner[ref]; o != nil && o.N < ch.N && !im.in.IDs.known(ref) {
				wait[o] = true
			}
			return ""
		}, &n)
	}
	for o := range wait {
		select {
		case <-o.done:
		case <-im.run.Dispatch.Done():
			return im.run.Dispatch.Err()
		}
	}
	return nil
}

// process sends a chunk until every entry has a final answer.
func (im *importer) process(ch *chunk) {
	defer ch.finished()
	if im.run.Dispatch.Err() != nil {
		return
	}
	if err := im.waitForTargets(ch); err != nil {
		return
	}
	resent := im.rs.Started[ch.N]
	if err := im.j.Write(importRecord{Chunk: ch.N, State: "started", Per: im.o.PerRequest}); err != nil {
		im.run.Stop(err)
		return
	}
	results := make([]*result, len(ch.Entries))
	finished := false
	defer func() {
		if !finished {
			im.stopped(results)
		}
	}()
	local := map[string]string{} // old ref -> new ref, of this chunk's done entries
	fix := map[int]bool{}
	// Medplum gives each create of a Bundle its id before it runs the
	// entries (fhir-router batch.ts, capture 546): an entry that refers
	// to another through its urn:uuid points at that id even when the
	// other fails (or is answered 429 and sent again, getting another).
	// uses are the entries each one referred to so, in the Bundle that
	// answered it; answeredIn, that Bundle (the loop's try).
	byURN := map[string]int{}
	for i, e := range ch.Entries {
		byURN[e.URN] = i
	}
	uses := map[int][]int{}
	putUses := map[int][]int{} // (--restore) the entries put back each one referred to by their old id
	answeredIn := map[int]int{}
	try := 0
	var n tries
	// --restore: an entry not found is put back with its own id first
	// (PUT Type/<old id>: Medplum 5.0.10 revives a deleted resource so,
	// captures 547-547d); answered 404 (expunged, or it never was), it is
	// created with a new id.
	putTried := map[int]bool{}
	putBack := func(i int) bool {
		e := ch.Entries[i]
		return im.o.Restore && e.OldID != "" && e.Type != "Binary" && !putTried[i]
	}
	noLookup := false // the lookup was refused: conditional creates say why
	// outside: each entry's references to resources not in the input
	// (sent as they are; the summary counts those of created resources).
	outside := map[int]int{}
	unanswered := func() []int {
		var todo []int
		for i, r := range results {
			if r == nil {
				todo = append(todo, i)
			}
		}
		return todo
	}
	for {
		todo := unanswered()
		if len(todo) == 0 {
			break
		}
		failRest := func(status int, msg string) { im.failRest(results, todo, status, msg) }
		// The keyed entries on the server already are found by a search
		// (importlookup.go); only the others are sent, as plain creates.
		asIs := map[int]bool{}
		if !noLookup {
			if err := im.lim.Acquire(im.run.Dispatch); err != nil {
				return
			}
			start := time.Now()
			err := im.findExisting(ch, todo, results, local, asIs)
			im.run.Observe(start, err)
			if err != nil {
				stop, refused, _ := im.failed(err, start, &n, failRest)
				if stop {
					return
				}
				noLookup = noLookup || refused
				continue
			}
			im.release(bulkengine.OutcomeSuccess, 0)
			if todo = unanswered(); len(todo) == 0 {
				break
			}
		}
		pending := map[string]string{} // old ref -> urn of entries in this Bundle (or their own ref, put back)
		byRef := map[string]int{}      // old ref -> entry put back in this Bundle
		for _, i := range todo {
			if r := ch.Entries[i].ref(); r != "" {
				pending[r] = ch.Entries[i].URN
				if putBack(i) {
					pending[r], byRef[r] = r, i
				}
			}
		}
		resolve := func(ref string) string {
			if n := local[ref]; n != "" {
				return n
			}
			if u := pending[ref]; u != "" {
				return u
			}
			return im.lookup(ref)
		}
		list := make([]any, 0, len(todo))
		putNow := map[int]bool{} // the entries this Bundle puts back
		for _, i := range todo {
			e := ch.Entries[i]
			unresolved := 0
			uses[i], putUses[i], outside[i] = nil, nil, 0
			inInput := func(ref string) bool {
				if im.inInput(ref) {
					return true
				}
				if typ, _, _ := strings.Cut(ref, "/"); !im.o.skipped(typ) {
					outside[i]++
				}
				return false
			}
			res := rewrite(e.Resource, inInput, func(ref string) string {
				n := resolve(ref)
				if j, ok := byURN[n]; ok {
					uses[i] = append(uses[i], j)
				}
				if j, ok := byRef[n]; ok && n == ref {
					putUses[i] = append(putUses[i], j)
				}
				return n
			}, &unresolved)
			fix[i] = unresolved > 0
			if putBack(i) {
				putTried[i], putNow[i] = true, true
				body := withoutSourceID(res.(map[string]any), e.OldID)
				body["id"] = e.OldID
				list = append(list, map[string]any{"resource": body, "request": map[string]any{"method": "PUT", "url": e.ref()}})
				continue
			}
			req := map[string]any{"method": "POST", "url": e.Type}
			if e.Key != "" && (noLookup || asIs[i] || lookupTerms(e.Key) == nil) {
				req["ifNoneExist"] = e.Key
			}
			list = append(list, map[string]any{"fullUrl": e.URN, "resource": res, "request": req})
		}
		body, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": im.o.Mode, "entry": list})
		if err := im.in.IDs.Err(); err != nil {
			// A reference may have been rewritten from a wrong answer:
			// nothing of it leaves.
			im.run.Stop(err)
			return
		}
		if err := im.lim.Acquire(im.run.Dispatch); err != nil {
			return // stopped: the chunk stays "started"
		}
		try++
		start := time.Now()
		resp, err := im.c.Do(im.run.Request, &client.Request{Method: http.MethodPost, URL: "fhir/R4", Body: body, NoRetry: true})
		im.run.Observe(start, err)
		if err != nil {
			stop, refused, uncertain := im.failed(err, start, &n, failRest)
			if stop {
				return
			}
			resent = resent || uncertain
			if refused {
				msg := entryError(err)
				if im.o.Mode == "transaction" {
					msg = "the transaction was refused, nothing of its Bundle was kept: " + msg
				}
				for _, i := range todo {
					results[i] = &result{status: statusOf(err), err: msg}
				}
			}
			continue
		}
		answered, conflicted, wait := im.read(ch, todo, resp, results, local, putNow, putTried)
		for _, i := range todo {
			if results[i] != nil && answeredIn[i] == 0 {
				answeredIn[i] = try
			}
		}
		if stop := im.afterAnswer(&n, wait, conflicted, answered == len(todo), failRest); stop {
			return
		}
	}
	// A created entry whose urn:uuid reference named an entry not created
	// or found by the same Bundle points at an id that never exists: it is
	// updated like one sent before what it points at.
	for i, r := range results {
		if r.done && r.status == http.StatusCreated {
			for _, j := range uses[i] {
				if !results[j].done || answeredIn[j] != answeredIn[i] {
					fix[i] = true
				}
			}
		}
		// One that named an entry put back by its old id, which was
		// created with a new id instead (or failed), is updated too.
		for _, j := range putUses[i] {
			if r.done && (!results[j].done || results[j].newRef != ch.Entries[j].ref()) {
				fix[i] = true
			}
		}
	}
	finished = true
	im.finish(ch, results, fix, outside, resent)
}

// stopped counts what the server answered for a chunk the run stopped
// before it was done (Ctrl-C while some of its entries waited out a 429):
// not journaled as done, but created or found all the same.
func (im *importer) stopped(results []*result) {
	im.mu.Lock()
	defer im.mu.Unlock()
	for _, r := range results {
		switch {
		case r == nil || !r.done:
		case r.status == http.StatusCreated || r.restored:
			im.halfway.Created++
		default:
			im.halfway.Matched++
		}
	}
}

// tries are what a chunk's requests have met, which the retry policy
// bounds.
type tries struct{ failures, throttled, conflicts int }

// failed handles a chunk's request (a lookup or its Bundle) that got an
// error instead of an answer: a 429 or a 409/40001 is counted (the entries
// not done fail past the policy's bound; the limiter makes everyone wait
// out a 429), a dropped connection or a 5xx is waited out with a backoff
// (uncertain: the request may have been done). stop: the chunk stops here
// (the run is stopping; a 401/403/404 stops it). refused: the server
// refused the request; the caller says what that means.
func (im *importer) failed(err error, start time.Time, n *tries, failRest func(status int, msg string)) (stop, refused, uncertain bool) {
	a := bulkengine.Classify(err)
	im.release(a.Outcome, a.Pause)
	if im.run.Request.Err() != nil {
		return true, false, false
	}
	switch a.Kind {
	case bulkengine.KindFatal:
		im.run.Stop(err)
		return true, false, false
	case bulkengine.KindRefused:
		return false, true, false
	case bulkengine.KindThrottled:
		if n.throttled++; n.throttled > im.retry.MaxThrottled {
			failRest(429, "still throttled after "+fmt.Sprint(n.throttled)+" tries")
		}
	case bulkengine.KindConflict:
		if n.conflicts++; n.conflicts > im.retry.MaxConflicts {
			failRest(409, bulkengine.Cause(err))
		}
	default: // no answer: may have been done
		uncertain = a.Kind == bulkengine.KindUncertain
		if im.run.AnsweredAfter(start) {
			n.failures++
		}
		if n.failures > im.retry.MaxFailures {
			failRest(0, bulkengine.Cause(err))
			return false, false, uncertain
		}
		if err := im.run.Wait(im.retry.Backoff(n.failures)); err != nil {
			return true, false, uncertain
		}
	}
	return false, false, uncertain
}

// release gives the limiter a request's outcome; a 429 is said on the
// status line, which would otherwise stand still for the whole wait.
func (im *importer) release(o bulkengine.Outcome, pause time.Duration) {
	im.lim.Release(o, pause)
	if o != bulkengine.OutcomeThrottled {
		return
	}
	im.run.Locked(func() {
		wait := ""
		if pause > 0 {
			wait = " " + max(pause, time.Second).Round(time.Second).String()
		}
		im.prog.set(fmt.Sprintf("%s; waiting%s for the server's rate limit", im.progress(), wait))
	})
}

// progress is the status line's count.
func (im *importer) progress() string {
	return fmt.Sprintf("imported %d of %s", im.sent+im.before.Created+im.before.Matched+im.before.Failed, cmdutil.Count(im.in.Total, "resource"))
}

func (im *importer) failRest(results []*result, todo []int, status int, msg string) {
	for _, i := range todo {
		if results[i] == nil {
			results[i] = &result{status: status, err: msg}
		}
	}
}

// read takes a Bundle's answer apart: each entry's status, new id or error.
// put are the entries the Bundle put back (--restore), of putTried: one
// answered 404 is left to be created; one to send again is put back again.
// Entries answered 429 (the quota, capture 407) or 409 with code 40001 (a
// serialization conflict with a concurrent Bundle, capture 417) stay to be
// sent again; it returns how many entries got a final answer, how many
// conflicted, and how long the server asked to wait.
func (im *importer) read(ch *chunk, todo []int, resp *client.Response, results []*result, local map[string]string, put, putTried map[int]bool) (answered, conflicted int, wait time.Duration) {
	var b struct {
		Entry []struct {
			Response struct {
				Status   string          `json:"status"`
				Location string          `json:"location"`
				Outcome  json.RawMessage `json:"outcome"`
			} `json:"response"`
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(resp.Body, &b); err != nil || len(b.Entry) != len(todo) {
		for _, i := range todo {
			results[i] = &result{status: resp.Status, err: fmt.Sprintf("the server answered a Bundle of %s with %d", cmdutil.Count(len(todo), "entry", "entries"), len(b.Entry))}
		}
		return len(todo), 0, 0
	}
	var found []foundAnswer
	for k, i := range todo {
		a := b.Entry[k]
		var st int
		fmt.Sscanf(a.Response.Status, "%d", &st)
		if retryEntry(st, a.Response.Outcome, resp.Header, &wait, &conflicted) {
			if put[i] {
				delete(putTried, i) // (put back again)
			}
			continue
		}
		switch {
		case put[i] && st == http.StatusNotFound:
			// Expunged, or never in this project: created (next try).
			answered++
			continue
		case st == http.StatusCreated || st == http.StatusOK:
			typ, id := str(a.Resource["resourceType"]), str(a.Resource["id"])
			ref := typ + "/" + id
			if id == "" {
				ref = strings.Join(strings.SplitN(a.Response.Location, "/", 3)[:min(2, strings.Count(a.Response.Location, "/")+1)], "/")
			}
			results[i] = &result{done: true, status: st, newRef: ref, restored: put[i]}
			if st == http.StatusOK || put[i] {
				// Found (or put back): it needs fixing only if it points at
				// resources of the input that are not where it says (made
				// by a run that stopped before its fix-up; with --restore,
				// one that points at a resource re-created with a new id)
				// or not known yet; once every entry of the answer is known.
				found = append(found, foundAnswer{i, a.Resource})
			}
			if old := ch.Entries[i].ref(); old != "" {
				local[old] = ref
			}
		default:
			results[i] = &result{status: st, err: outcomeText(a.Response.Outcome)}
		}
		answered++
	}
	for _, f := range found {
		results[f.i].stale = im.stale(f.r, local)
	}
	return answered, conflicted, wait
}

// foundAnswer is an entry answered with a resource that exists already.
type foundAnswer struct {
	i int
	r map[string]any
}

// serializationConflict reports an entry's OperationOutcome with the code
// 40001: its transaction was rolled back, and can be tried again.
func serializationConflict(raw json.RawMessage) bool {
	var oo client.OperationOutcome
	if json.Unmarshal(raw, &oo) != nil {
		return false
	}
	for _, is := range oo.Issue {
		if is.CodingCode() == "40001" {
			return true
		}
	}
	return false
}

// finish journals the chunk's answers and reports them once on disk.
func (im *importer) finish(ch *chunk, results []*result, fix map[int]bool, outside map[int]int, resent bool) {
	rec := importRecord{Chunk: ch.N, State: "done", Counts: &counts{}}
	for i, r := range results {
		e := ch.Entries[i]
		switch {
		case !r.done:
			rec.Counts.Failed++
		case r.restored:
			rec.Counts.Restored++
		case r.status == http.StatusCreated:
			rec.Counts.Created++
			if !im.o.Restore { // (restored into its own project, they are there)
				rec.Counts.Outside += outside[i]
			}
		default:
			rec.Counts.Matched++
		}
		if r.done && e.ref() != "" {
			rec.IDs = append(rec.IDs, [2]string{e.ref(), r.newRef})
		}
		switch {
		case !r.done:
		case r.stale && im.o.Restore && r.newRef == e.ref():
			// The resource itself, found by its id: only its references
			// change, in the server's copy (fixup).
			rec.Relink = append(rec.Relink, i)
		case r.status == http.StatusCreated && fix[i], im.waiting.has(r.newRef):
			// Created by this import (by an earlier run of it, of this
			// input or another, when the list of those still to update
			// names it) before what it points at had an id.
			rec.Fix = append(rec.Fix, i)
		case r.stale:
			// Found, pointing at old ids of the input: the server's copy
			// (whoever made it), never replaced by the file's; counted.
			rec.Counts.Stale++
		}
		if r.done && resent && (e.Key == "" || strings.HasPrefix(e.Key, "_id=")) && r.status == http.StatusCreated {
			rec.Doubled = append(rec.Doubled, i)
		}
	}
	im.mu.Lock()
	for _, p := range rec.IDs {
		im.in.IDs.setNew(p[0], p[1])
	}
	if err := im.in.IDs.Err(); err != nil {
		im.run.Stop(err) // the journal still gets the record: a re-run knows them
	}
	// Its resources' new ids are known (or they failed): the Bundles after
	// it no longer wait for it, and it is not kept (with every resource
	// it sent) until the end of the run.
	for _, e := range ch.Entries {
		if r := e.ref(); r != "" && im.owner[r] == ch {
			delete(im.owner, r)
		}
	}
	im.mu.Unlock()
	ch.finished()
	var toUpdate []string
	for _, i := range rec.Fix {
		toUpdate = append(toUpdate, results[i].newRef)
	}
	// What the report below needs of the entries is their place: not their
	// decoded resources, which a report waiting for its record to be on
	// disk would otherwise hold.
	for _, e := range ch.Entries {
		e.Resource = nil
	}
	im.record(rec, func() {
		if f, ok := fixOf(rec); ok {
			im.rs.Fix[ch.N] = f
		} else {
			delete(im.rs.Fix, ch.N) // (--restore: what an earlier run left is this record's now)
		}
		im.waiting.add(toUpdate...)
		im.total.add(*rec.Counts)
		im.sent += len(ch.Entries)
		im.prog.clear()
		out := im.o.IO
		for i, r := range results {
			e := ch.Entries[i]
			what := e.Type
			if e.OldID != "" {
				what = e.ref()
			}
			im.reportRow(e, r)
			if !r.done {
				fmt.Fprintf(out.ErrOut, "%s:%d: %s: %s\n", im.files[e.Line.File].Name, e.Line.N, what, describe(r))
			}
		}
		for _, i := range rec.Doubled {
			e := ch.Entries[i]
			im.maybe = append(im.maybe, fmt.Sprintf("%s:%d", im.files[e.Line.File].Name, e.Line.N))
		}
		if !im.o.Quiet {
			fmt.Fprintf(out.Out, "%s: %s\n", ch.label(im.files), im.countsText(*rec.Counts))
		}
		im.prog.set(im.progress())
	})
}

// reportRow writes e's row of --report.
func (im *importer) reportRow(e *entry, r *result) {
	if im.rep == nil {
		return
	}
	what := e.Type
	if e.OldID != "" {
		what = e.ref()
	}
	im.rep.row(im.files[e.Line.File].Name, e.Line.N, what, r)
}

func describe(r *result) string {
	if r.status == 0 {
		return r.err
	}
	if r.err == "" {
		return fmt.Sprintf("%d", r.status)
	}
	return fmt.Sprintf("%d %s", r.status, r.err)
}

func statusOf(err error) int {
	if e := client.AsError(err); e != nil {
		return e.Status
	}
	return 0
}

// entryError is a refused request's message, without its status (said
// apart).
func entryError(err error) string {
	if e := client.AsError(err); e != nil {
		return e.Error()
	}
	return bulkengine.Cause(err)
}

// outcomeText is an entry's OperationOutcome in words.
func outcomeText(raw json.RawMessage) string {
	var oo client.OperationOutcome
	if err := json.Unmarshal(raw, &oo); err != nil || len(oo.Issue) == 0 {
		return ""
	}
	return client.OutcomeString(&oo)
}

// versionTries bounds how many times an update of references is read and
// written: each write is conditional on the version read (If-Match), and
// one answered 412 (the resource changed on the server in between,
// captures 556b, 556c) is read again, after a backoff, and its references
// changed again.
const versionTries = 5

// update is a resource whose references fixup changes: its entry, where it
// is on the server, and whether it was found by its id (--restore) rather
// than created by the import.
type update struct {
	i      int
	target string // "Type/id"
	relink bool
}

// fixup updates the references of a chunk's resources. Those this import
// created before the resources they point at had ids (in a later chunk,
// or one that failed and was imported since) are made to point at them:
// at each place where the input's line names a resource of the input, the
// server's copy gets that resource's new reference. With --restore, the
// resources found by their id whose references name re-created resources
// get those references changed. Either way the server's copy is read (a
// batch of GETs) and written back (a batch of PUTs) with only those
// references changed, each PUT conditional on the version read
// (request.ifMatch W/"<versionId>"): an edit made on the server since is
// kept, never overwritten; a PUT answered 412 because one landed between
// the read and the write is read and changed again, up to versionTries
// times. An entry that points at a resource of the input that has no id
// yet (it failed) waits: it stays to fix, as one whose update failed
// does; the "fixed" record lists them, so that a re-run tries them again.
func (im *importer) fixup(ch *chunk) {
	if im.run.Dispatch.Err() != nil {
		return
	}
	var lines []string   // stderr
	var rows []reportRow // --report
	var leftFix, leftRelink []int
	fail := func(u update, what string, a batchAnswer) {
		e := ch.Entries[u.i]
		msg := what + ": " + a.text()
		lines = append(lines, fmt.Sprintf("%s:%d: %s: %s", im.files[e.Line.File].Name, e.Line.N, e.ref(), msg))
		rows = append(rows, reportRow{e, &result{update: true, status: a.status(), err: msg}})
		if u.relink {
			leftRelink = append(leftRelink, u.i)
		} else {
			leftFix = append(leftFix, u.i)
		}
	}
	var todo []update
	for _, i := range ch.Relink {
		todo = append(todo, update{i: i, target: ch.Entries[i].ref(), relink: true})
	}
	var waiting []string
	for _, i := range ch.Fix {
		e := ch.Entries[i]
		target := im.lookup(e.ref())
		if target == "" {
			continue // (not created: nothing to update)
		}
		var missing []string
		rewrite(e.Resource, im.inInput, func(r string) string {
			n := im.lookup(r)
			if n == "" && !slices.Contains(missing, r) {
				missing = append(missing, r)
			}
			return n
		}, new(int))
		if len(missing) > 0 {
			// It points at resources of the input that failed: updated
			// once they are imported, and until then pending.
			msg := fmt.Sprintf("points at %s, which failed: it is updated once %s imported", strings.Join(missing, ", "), map[bool]string{true: "that one is", false: "those are"}[len(missing) == 1])
			waiting = append(waiting, fmt.Sprintf("%s:%d: %s: %s", im.files[e.Line.File].Name, e.Line.N, e.ref(), msg))
			rows = append(rows, reportRow{e, &result{update: true, pending: true, newRef: target, err: msg}})
			leftFix = append(leftFix, i)
			continue
		}
		todo = append(todo, update{i: i, target: target})
	}
	if err := im.in.IDs.Err(); err != nil {
		im.run.Stop(err)
		return
	}
	fixed, relinked := 0, 0
	var done []string // new refs updated
	succeed := func(u update, a batchAnswer) {
		rows = append(rows, reportRow{ch.Entries[u.i], &result{update: true, done: true, status: a.status(), newRef: u.target}})
		if u.relink {
			relinked++
		} else {
			fixed++
			done = append(done, u.target)
		}
	}
	for try := 1; len(todo) > 0; try++ {
		if try > 1 {
			// (someone is editing them: a backoff lets a burst of
			// edits end before they are read again)
			if err := im.run.Wait(im.retry.Backoff(try - 1)); err != nil {
				return
			}
		}
		if try > versionTries {
			for _, u := range todo {
				fail(u, "updating its references", failedAnswer(http.StatusPreconditionFailed,
					fmt.Sprintf("it changed on the server between our read and our write %d times; left as the server has it", versionTries)))
			}
			break
		}
		gets := make([]any, len(todo))
		for k, u := range todo {
			gets[k] = map[string]any{"request": map[string]any{"method": "GET", "url": u.target}}
		}
		answers, ok := im.sendBatch(gets)
		if !ok {
			return
		}
		var puts []any
		var sent []update
		for k, u := range todo {
			a := answers[k]
			if a.Response.Status != "200" || a.Resource == nil {
				fail(u, "reading it to update its references", a)
				continue
			}
			res, changed := im.repoint(ch.Entries[u.i], u.relink, a.Resource)
			if !changed {
				if !u.relink {
					succeed(u, a) // (it points where it should already)
				}
				continue // (found, they were where they were)
			}
			req := map[string]any{"method": "PUT", "url": u.target}
			if v := client.VersionID(a.Resource); v != "" {
				// Quoted: 5.0.10 reads the first quoted string of an
				// If-Match; a bare versionId is no condition (556d).
				req["ifMatch"] = `W/"` + v + `"`
			}
			puts = append(puts, map[string]any{"resource": res, "request": req})
			sent = append(sent, u)
		}
		todo = nil
		if len(puts) == 0 {
			break
		}
		answers, ok = im.sendBatch(puts)
		if !ok {
			return
		}
		for k, u := range sent {
			switch a := answers[k]; {
			case a.Response.Status == "200" || a.Response.Status == "201":
				succeed(u, a)
			case a.Response.Status == "412" && a.msg == "":
				todo = append(todo, u) // (changed since our read: read again)
			default:
				fail(u, "updating its references", a)
			}
		}
	}
	rec := importRecord{Chunk: ch.N, State: "fixed", Failed: len(leftFix) + len(leftRelink) - len(waiting), Fix: leftFix, Relink: leftRelink, Left: len(leftFix)+len(leftRelink) > 0}
	im.record(rec, func() {
		im.waiting.done(done...)
		im.fixed += fixed
		im.relinked += relinked
		im.fixErr += rec.Failed
		im.pending += len(waiting)
		for _, r := range rows {
			im.reportRow(r.e, r.r)
		}
		for _, f := range append(lines, waiting...) {
			fmt.Fprintln(im.o.IO.ErrOut, f)
		}
	})
}

// repoint returns the server's copy of e's resource (server) with its
// references changed, and whether any changed. Found by its id (relink):
// every reference to a resource of the input that is elsewhere now.
// Created by the import: at each place where the input's line names a
// resource of the input, where that resource is now (repointAt).
func (im *importer) repoint(e *entry, relink bool, server map[string]any) (map[string]any, bool) {
	changed := 0
	if relink {
		res := rewrite(server, im.inInput, func(r string) string {
			if n := im.lookup(r); n != "" && n != r {
				changed++
				return n
			}
			return r
		}, new(int))
		return res.(map[string]any), changed > 0
	}
	res := repointAt(e.Resource, server, im.inInput, im.lookup, &changed)
	return res.(map[string]any), changed > 0
}

// reportRow is a --report row to write once its record is on disk.
type reportRow struct {
	e *entry
	r *result
}

// batchAnswer is an entry of a batch-response (or, with msg, the failure
// of a whole request standing for it).
type batchAnswer struct {
	Response struct {
		Status  string          `json:"status"`
		Outcome json.RawMessage `json:"outcome"`
	} `json:"response"`
	Resource map[string]any `json:"resource"`
	msg      string
}

func (a batchAnswer) status() int {
	var st int
	fmt.Sscanf(a.Response.Status, "%d", &st)
	return st
}

// text is the answer's status and message.
func (a batchAnswer) text() string {
	msg := a.msg
	if msg == "" {
		msg = outcomeText(a.Response.Outcome)
	}
	return strings.TrimSpace(a.Response.Status + " " + msg)
}

func failedAnswer(status int, msg string) batchAnswer {
	var a batchAnswer
	if status != 0 {
		a.Response.Status = fmt.Sprint(status)
	}
	a.msg = msg
	return a
}

// sendBatch posts a batch of idempotent entries (reads, updates) until
// each has a final answer, with the creates' retries: entries answered 429
// (the FHIR quota) are sent again once the quota's reset is over, entries
// answered 409 with code 40001 after a backoff, a request without an
// answer again after a backoff, each within the retry policy; a refused
// request answers each of its entries with the refusal. It returns an
// answer per entry; false when the run stopped.
func (im *importer) sendBatch(list []any) ([]batchAnswer, bool) {
	answers := make([]batchAnswer, len(list))
	final := make([]bool, len(list))
	var n tries
	for {
		var todo []int
		for i := range list {
			if !final[i] {
				todo = append(todo, i)
			}
		}
		if len(todo) == 0 {
			return answers, true
		}
		failRest := func(status int, msg string) {
			for _, i := range todo {
				if !final[i] {
					answers[i], final[i] = failedAnswer(status, msg), true
				}
			}
		}
		entries := make([]any, len(todo))
		for k, i := range todo {
			entries[k] = list[i]
		}
		body, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "batch", "entry": entries})
		if err := im.lim.Acquire(im.run.Dispatch); err != nil {
			return nil, false
		}
		start := time.Now()
		resp, err := im.c.Do(im.run.Request, &client.Request{Method: http.MethodPost, URL: "fhir/R4", Body: body, NoRetry: true, Idempotent: true})
		im.run.Observe(start, err)
		if err != nil {
			// (no answer: sent again, as reads and updates can be)
			stop, refused, _ := im.failed(err, start, &n, failRest)
			if stop {
				return nil, false
			}
			if refused {
				failRest(statusOf(err), entryError(err))
			}
			continue
		}
		var b struct{ Entry []batchAnswer }
		if err := json.Unmarshal(resp.Body, &b); err != nil || len(b.Entry) != len(todo) {
			im.release(bulkengine.OutcomeSuccess, 0)
			failRest(resp.Status, fmt.Sprintf("the server answered a Bundle of %s with %d", cmdutil.Count(len(todo), "entry", "entries"), len(b.Entry)))
			continue
		}
		var wait time.Duration
		conflicted := 0
		for k, i := range todo {
			a := b.Entry[k]
			if retryEntry(a.status(), a.Response.Outcome, resp.Header, &wait, &conflicted) {
				continue
			}
			answers[i], final[i] = a, true
		}
		if stop := im.afterAnswer(&n, wait, conflicted, wait == 0 && conflicted == 0, failRest); stop {
			return nil, false
		}
	}
}

// afterAnswer accounts for a Bundle answered entry by entry, some of them
// maybe throttled (wait: the longest the server asked for) or conflicting
// (409/40001), all final when done: it releases the limiter, counts the
// try, and waits a conflict's backoff (a throttle's wait is the
// limiter's); past the policy's bound the entries not done fail
// (failRest). stop: the run stopped.
func (im *importer) afterAnswer(n *tries, wait time.Duration, conflicted int, done bool, failRest func(status int, msg string)) (stop bool) {
	outcome := bulkengine.OutcomeSuccess
	switch {
	case wait > 0:
		outcome = bulkengine.OutcomeThrottled
		n.throttled++
	case conflicted > 0:
		outcome = bulkengine.OutcomeConflict
		n.conflicts++
	}
	im.release(outcome, wait)
	switch {
	case done:
	case n.throttled > im.retry.MaxThrottled:
		failRest(429, "still throttled after "+fmt.Sprint(n.throttled)+" tries")
	case n.conflicts > im.retry.MaxConflicts:
		failRest(409, "still conflicting after "+fmt.Sprint(n.conflicts)+" tries")
	case wait == 0:
		if err := im.run.Wait(im.retry.Backoff(n.conflicts)); err != nil {
			return true
		}
	}
	return false
}

// retryEntry reports whether an entry answered st (with outcome, in a
// Bundle answered with header h) is to be sent again: 429, the quota
// (wait becomes the longest reset asked, at least a second), or 409 with
// code 40001 (counted in conflicted).
func retryEntry(st int, outcome json.RawMessage, h http.Header, wait *time.Duration, conflicted *int) bool {
	switch {
	case st == http.StatusTooManyRequests:
		*wait = max(*wait, client.RateLimitWait(h), time.Second)
		return true
	case st == http.StatusConflict && serializationConflict(outcome):
		*conflicted++
		return true
	}
	return false
}

// record queues rec in the journal and, once it is on disk, calls report
// under the run's lock; a journal that cannot be written stops the run.
func (im *importer) record(rec importRecord, report func()) {
	t, err := im.j.Queue(rec)
	if err != nil {
		im.run.Stop(err)
		return
	}
	im.run.Report(t, func(err error) {
		if err != nil {
			im.run.Stop(err)
			return
		}
		im.run.Locked(report)
	})
}

// checkSource compares the project an input was exported from (the
// .medplum-export.json next to a file names it) with the one it is
// imported into. An export of this project is refused unless --restore:
// every resource is here already, and those without an identifier would be
// created again, as a plain import never finds a resource by its id. With
// --restore, an export of another project is refused: none of its ids are
// here, so the restore keys would find nothing (an input without a
// .medplum-export.json, stdin for one, is taken as the user says).
func (o *ImportOptions) checkSource(files []inputFile, server, project string) error {
	seen := map[string]bool{}
	for _, f := range files {
		if f.Name == "stdin" {
			continue
		}
		p := filepath.Join(filepath.Dir(f.Path), stateFile)
		if seen[p] {
			continue
		}
		seen[p] = true
		st, err := readState(p)
		if err != nil || st == nil {
			continue
		}
		name := filepath.Join(filepath.Dir(f.Name), stateFile)
		here := st.Server == server && st.Project == project
		switch {
		case here && !o.Restore:
			return cmdutil.InputErrorf("%s says this input is an export of project %s on %s, the project you are importing into; nothing was sent: "+
				"its resources are here already, and those without an identifier would be created again (a plain import finds a resource again by its identifiers only, never by its id). "+
				"To restore what was deleted since, run it again with --restore; to copy it, import it into another project (-p PROFILE, or sign in to it)", name, project, server)
		case !here && o.Restore:
			return cmdutil.InputErrorf("%s says this input is an export of project %s on %s, not of the project you are importing into (%s on %s); nothing was sent: "+
				"--restore finds resources by the ids they have in the project they came from. Import it without --restore to copy it here", name, st.Project, st.Server, project, server)
		}
	}
	return nil
}

// stateDir is the directory of the journal (--state's, else the cache
// directory's imports/), where the import's index lives too.
func stateDir(state string) (string, error) {
	if state != "" {
		if err := bulkengine.CheckDir(state, "--state"); err != nil {
			return "", err
		}
		return filepath.Dir(state), nil
	}
	dir, err := config.CacheDir(os.Getenv)
	if err != nil {
		return "", err
	}
	dir = filepath.Join(dir, "imports")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return dir, nil
}

// defaultState is where the journal of an import lives by default: in the
// cache directory (not the working directory, so that a re-run from
// elsewhere finds it; dir is stateDir's), named by the input and the
// target together (so that the same input imported into another project
// has its own).
func defaultState(dir, digest, server, project string) string {
	sum := sha256.Sum256([]byte(digest + "\x00" + server + "\x00" + project))
	return filepath.Join(dir, hex.EncodeToString(sum[:8])+".journal")
}
