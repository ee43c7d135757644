package bulk

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/internal/bulkengine"
	"github.com/medplumcli/medplum/commands/membership"
)

// Result is the final state of one row.
type Result struct {
	Line       int
	Email      string
	ExternalID string
	Status     Status
	Membership string // membership id, when known
	Error      string // why it failed, or a note (the invite e-mail could not be sent)
	Change     string // with --upsert, what changed on the membership: "admin true -> false; ..."
	Earlier    bool   // finished by an earlier run (read from the journal), not by this one
}

// Stats is the running count the Progress sees.
type Stats struct {
	Total   int            // rows in the file
	Done    int            // rows with a final state (Counts summed)
	Counts  map[Status]int // by status, this run's and earlier runs'; do not modify
	Earlier int            // of Done, finished by an earlier run (read from the journal)
	// EarlierCounts are the rows of Earlier by status; do not modify.
	EarlierCounts map[Status]int
	InFlight      int // requests being sent now
	Limit         int // current concurrency limit
	Conflicts     int // 409/40001 answers retried so far
	Throttled     int // 429 answers so far
	Retries       int // attempts beyond the first, all causes
}

// Failed is the number of rows that failed.
func (s Stats) Failed() int { return s.Counts[Failed] }

// Progress receives the counts after every finished row, one call at a time.
type Progress interface {
	Update(Stats)
}

// RetryPolicy bounds the retries of one row (the bulk engine's).
type RetryPolicy = bulkengine.RetryPolicy

// Defaults of the adaptive limiter (see BenchmarkBulkInvite).
const (
	DefaultStartConcurrency = bulkengine.DefaultStartConcurrency
	DefaultMaxConcurrency   = bulkengine.DefaultMaxConcurrency
)

// RunConfig says how to run the invites of a file that passed Check.
type RunConfig struct {
	Client  *client.Client
	Project string  // project id for admin/projects/:id/invite
	Options Options // as given to Check
	Check   *CheckResult

	// Concurrency fixes the number of invites in flight; 0 is adaptive, up
	// to MaxConcurrency (default DefaultMaxConcurrency).
	Concurrency    int
	MaxConcurrency int
	// Upsert updates the membership of users who are already members
	// instead of leaving it ("exists"): the membership is looked up and
	// the row merged into it (membership.MergeUpsert), so that only what
	// the row names changes; the row ends "updated" with the change, or
	// "exists" when there is nothing to change (nothing is sent).
	Upsert bool
	// PolicyLabel, if set, shows an access policy in an --upsert row's
	// Change ("Clinic staff" rather than AccessPolicy/<id>). It is called
	// from several goroutines.
	PolicyLabel func(ref string) string
	// SkipInvalid sends the valid rows of a file with invalid ones; the
	// invalid rows end "skipped". Without it, a file with invalid rows is
	// refused before anything is sent.
	SkipInvalid bool

	Journal  *Journal
	Resume   *Resume // from OpenJournal
	Progress Progress
	// OnResult is called once per row, one call at a time, in the order
	// rows finish. An error stops the run.
	OnResult func(Result) error
	Retry    RetryPolicy
	// Grace is how long requests already sent may finish after ctx is
	// cancelled (default 10s); rows not finished by then are looked up by
	// the next run.
	Grace time.Duration
	// Interrupted, if set, is called once when ctx is cancelled while
	// invites are in flight, after dispatching has stopped: no invite
	// beyond those inFlight is sent from then on, and they have Grace to
	// finish. It is called like OnResult, one call at a time.
	Interrupted func(inFlight int, grace time.Duration)
	// Outage is how long the server may go without answering any request
	// (connections refused, dropped or timed out; 502, 503, 504) before
	// the run stops with an *UnreachableError (default DefaultOutage;
	// negative: never). Meanwhile rows wait for it rather than fail.
	Outage time.Duration

	markEvery int // rows sent between two marks (default defaultMarkEvery); for tests
}

// ErrInvalidRows means the file has invalid rows and SkipInvalid is off.
var ErrInvalidRows = errors.New("the file has invalid rows")

// FatalError stops a run: every further row would fail the same way (the
// credentials were refused, the project does not exist, the journal cannot
// be written). Rows already finished are in the journal. A server that
// stays unreachable stops a run with an *UnreachableError instead.
type FatalError struct {
	Line int
	Err  error
}

func (e *FatalError) Error() string {
	return fmt.Sprintf("stopped at line %d: %v", e.Line, e.Err)
}

func (e *FatalError) Unwrap() error { return e.Err }

// Run sends the invites of the file, in parallel, and returns the counts.
// Rows finished by an earlier run (the journal) are reported from the
// journal and not sent; rows an earlier run left in flight are looked up on
// the server first. When ctx is cancelled, no new request is sent, requests
// in flight get Grace to finish, and Run returns ctx's error with the counts
// so far. When the server answers nothing for Outage, Run stops the same
// way (requests in flight finish or time out) and returns an
// *UnreachableError.
func Run(ctx context.Context, input io.Reader, cfg RunConfig) (Stats, error) {
	if cfg.Check == nil {
		return Stats{}, errors.New("bulk.Run needs the result of Check")
	}
	if cfg.Check.Invalid > 0 && !cfg.SkipInvalid {
		return Stats{}, ErrInvalidRows
	}
	if cfg.Resume == nil {
		cfg.Resume = &Resume{Done: map[int]Entry{}, InFlight: map[int]InFlight{}}
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
	}
	r := &runner{
		cfg:       cfg,
		retry:     cfg.Retry.WithDefaults(),
		lim:       bulkengine.NewLimiter(cfg.Concurrency, cfg.MaxConcurrency),
		inviteURL: "admin/projects/" + url.PathEscape(cfg.Project) + "/invite",
		markEvery: cmp.Or(cfg.markEvery, defaultMarkEvery),
		stats:     Stats{Total: cfg.Check.Rows, Counts: map[Status]int{}, EarlierCounts: map[Status]int{}},
	}
	workers := cfg.Concurrency
	if workers <= 0 {
		workers = r.lim.Max()
	}
	// Requests outlive a Ctrl-C by Grace, so that an answer already on its
	// way is recorded; dispatching and retrying stop at once. Finished
	// rows are reported once their record is on disk, by one goroutine,
	// so that a worker goes on to its next row meanwhile: its next
	// "started" record and this finished one share a commit.
	r.run = bulkengine.Start(ctx, bulkengine.Config{Journal: cfg.Journal.Journal, Limiter: r.lim,
		Grace: cfg.Grace, Outage: cfg.Outage, Interrupted: cfg.Interrupted})
	r.progress()
	readErr := bulkengine.Work(r.run, workers, func(dctx context.Context, jobs chan<- job) error {
		return r.dispatch(dctx, input, jobs)
	}, func(j job) { r.process(j) })

	var st Stats
	r.run.Locked(func() { st = r.snapshot() })
	if err := r.run.Err(); err != nil {
		return st, err
	}
	return st, readErr
}

type job struct {
	row       Row
	reconcile bool     // an earlier run left it in flight: look it up first
	inFlight  InFlight // what the journal says about it
	mark      *Mark    // read before the row is sent
}

// defaultMarkEvery is how many rows are sent between two marks. A mark
// stays right for every row sent after it; a fresh one narrows the time in
// which someone else could make one of the file's users a member.
const defaultMarkEvery = 500

type runner struct {
	cfg       RunConfig
	retry     RetryPolicy
	lim       *bulkengine.Limiter
	inviteURL string
	run       *bulkengine.Run

	// mark is the latest mark, read by dispatch (its only user) before the
	// first row is sent and again every markEvery rows sent.
	mark      *Mark
	markEvery int

	// Under the run's lock (run.Locked), which also serialises OnResult
	// and Progress:
	stats     Stats
	resultErr bool // OnResult failed: it is not called again
}

// dispatch reads the file again and hands out the rows that need work.
// Before the first row is sent, and every markEvery rows, it reads a mark.
func (r *runner) dispatch(ctx context.Context, input io.Reader, jobs chan<- job) error {
	sent := 0
	h := sha256.New()
	rd, err := NewReader(io.TeeReader(input, h), r.cfg.Options)
	if err != nil {
		return err
	}
	for {
		row, probs, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if len(probs) > 0 {
			r.finish(Result{Line: row.Line, Status: Skipped, Error: joinProblems(probs)})
			continue
		}
		if e, ok := r.cfg.Resume.Done[row.Line]; ok {
			r.finish(Result{Line: row.Line, Email: row.Request.Email, ExternalID: row.Request.ExternalID,
				Status: e.Status, Membership: e.Membership, Error: e.Error, Change: e.Change, Earlier: true})
			continue
		}
		j := job{row: row}
		j.inFlight, j.reconcile = r.cfg.Resume.InFlight[row.Line]
		if !j.reconcile {
			if sent%r.markEvery == 0 && !r.refreshMark(ctx, row.Line) {
				return nil
			}
			sent++
			j.mark = r.mark
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			return nil
		}
	}
	if _, err := io.Copy(h, input); err != nil {
		return err
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	if sum != r.cfg.Check.Digest {
		return errors.New("the input file changed while it was being sent; run the command again to finish it")
	}
	return nil
}

// refreshMark reads a mark and records it in the journal before any row
// that is judged against it is sent. When the server does not answer, the
// previous mark (older, still right) stays. It reports false when the run
// must stop (the journal failed).
func (r *runner) refreshMark(ctx context.Context, line int) bool {
	t0 := time.Now()
	m, err := readMark(ctx, r.cfg.Client, r.cfg.Project)
	r.observe(t0, err)
	if err != nil {
		return true
	}
	if err := r.cfg.Journal.Mark(m); err != nil {
		r.stop(line, err)
		return false
	}
	r.mark = m
	return true
}

func joinProblems(probs []Problem) string {
	s := ""
	for i, p := range probs {
		if i > 0 {
			s += "; "
		}
		if p.Column != "" {
			s += p.Column + ": "
		}
		s += p.Reason
	}
	return s
}

// finish reports a row's final state. It does not touch the journal.
func (r *runner) finish(res Result) {
	var stop error
	r.run.Locked(func() {
		r.stats.Counts[res.Status]++
		r.stats.Done++
		if res.Earlier {
			r.stats.Earlier++
			r.stats.EarlierCounts[res.Status]++
		}
		if r.cfg.OnResult != nil && !r.resultErr {
			if err := r.cfg.OnResult(res); err != nil {
				r.resultErr = true
				stop = err
			}
		}
		r.progressLocked()
	})
	if stop != nil {
		r.run.Stop(stop)
	}
}

func (r *runner) progress() { r.run.Locked(r.progressLocked) }

func (r *runner) progressLocked() {
	if r.cfg.Progress != nil {
		r.cfg.Progress.Update(r.snapshot())
	}
}

func (r *runner) snapshot() Stats {
	st := r.stats
	st.InFlight = r.lim.InFlight()
	st.Limit = r.lim.Limit()
	return st
}

func (r *runner) count(f func(*Stats)) { r.run.Locked(func() { f(&r.stats) }) }

// stop records the first fatal error and stops dispatching.
func (r *runner) stop(line int, err error) { r.run.Stop(&FatalError{Line: line, Err: err}) }

// unreachable reports whether the run stopped because the server was
// unreachable.
func (r *runner) unreachable() bool { return r.run.Unreachable() }

// record queues a row's final state for the journal, and reports the row
// once the record is on disk (durable before counted). The worker goes on
// meanwhile.
func (r *runner) record(res Result, uncertain bool) {
	t, err := r.cfg.Journal.FinishLater(res.Line, Entry{Status: res.Status, Membership: res.Membership, Error: res.Error, Change: res.Change}, uncertain)
	if err != nil {
		r.stop(res.Line, err)
		return
	}
	r.run.Report(t, func(err error) {
		if err != nil {
			r.stop(res.Line, err)
			return
		}
		r.finish(res)
	})
}

// process takes one row to its final state.
func (r *runner) process(j job) {
	w := &rowRun{r: r, dctx: r.run.Dispatch, reqCtx: r.run.Request, req: j.row.Request,
		res:       Result{Line: j.row.Line, Email: j.row.Request.Email, ExternalID: j.row.Request.ExternalID},
		journaled: j.reconcile, mark: j.mark}
	if j.reconcile {
		w.mark = j.inFlight.Mark
		if j.inFlight.Upsert {
			// The user was a member already: the membership is read and
			// merged again before the upsert is sent again (harmless: the
			// row's fields over what the membership is now).
			w.upsert, w.resumed = true, true
		} else {
			w.uncertain, w.doubt = true, true
		}
	}
	for !w.step() {
	}
}

// rowRun is one row on its way to a final state. Requests use reqCtx (they
// may outlive a Ctrl-C by the grace period); waiting, and deciding to send
// again, use dctx.
type rowRun struct {
	r            *runner
	dctx, reqCtx context.Context
	req          client.InviteRequest
	res          Result

	upsert    bool   // the next send is the --upsert resend
	body      []byte // the --upsert resend: the row merged into the membership (nil: read it first)
	resumed   bool   // an earlier run sent the --upsert resend without recording its answer
	uncertain bool   // a request may have been done without its answer reaching us
	doubt     bool   // some request of this row may have been done (uncertain at some point)
	journaled bool   // the journal has a "started" record for the row
	mark      *Mark  // read before the row's first request
	note      string // said of the row when it ends well (see maybeMade)

	// failures counts sends and lookups that failed in ways that may last
	// (5xx, dropped connections) while the server answered other
	// requests; conflicts and 429s, after which the server says nothing
	// was done, have their own bounds.
	failures, conflicts, throttled, sends int
	misses                                int // failures, counted or not: the backoff step
	lastErr                               error
	lastFailure                           time.Time
}

// step makes one move and reports whether the row is finished (or
// abandoned to the next run).
func (w *rowRun) step() bool {
	r := w.r
	if w.dctx.Err() != nil {
		if w.journaled && !w.uncertain && !r.unreachable() {
			// Sent before, and known not to have been done: failed, so
			// that the next run sends it again without a lookup.
			w.finish(Failed, "interrupted before it could be sent again")
		}
		// Never sent: nothing to record. Uncertain, or stopped because
		// the server is unreachable (the row did not fail: the server
		// was not there): it stays "started", and the next run looks it
		// up.
		return true
	}
	if w.uncertain {
		return w.settle()
	}
	if w.upsert && w.body == nil {
		return w.readForUpsert()
	}
	if w.failures >= r.retry.MaxFailures {
		w.fail(fmt.Sprintf("gave up after %s: %v", cmdutil.Count(w.failures, "failed attempt"), w.lastErr))
		return true
	}
	if err := r.lim.Acquire(w.dctx); err != nil {
		return false // interrupted: the next step records it
	}
	if !w.journaled {
		// On disk before the request leaves: a crash from here on leaves
		// a row the next run looks up.
		if err := r.cfg.Journal.Start(w.res.Line, false); err != nil {
			r.lim.Release(bulkengine.OutcomeError, 0)
			r.stop(w.res.Line, err)
			return true
		}
		w.journaled = true
	}
	if w.dctx.Err() != nil {
		// Interrupted while the journal was written: not sent after all
		// (it stays "started"; the next run looks it up).
		r.lim.Release(bulkengine.OutcomeError, 0)
		return true
	}
	data := w.body
	if !w.upsert {
		data, _ = json.Marshal(w.req)
	}
	t0 := time.Now()
	resp, err := r.cfg.Client.Do(w.reqCtx, &client.Request{Method: http.MethodPost, URL: r.inviteURL, Body: data, NoRetry: true})
	r.observe(t0, err)
	if w.sends++; w.sends > 1 {
		r.count(func(s *Stats) { s.Retries++ })
	}
	a := classify(resp, err)
	r.lim.Release(a.outcome, a.pause)
	return w.handle(a, err)
}

// handle acts on the answer to a send.
func (w *rowRun) handle(a attempt, err error) bool {
	r := w.r
	switch a.kind {
	case kindCreated:
		w.res.Membership = a.membership
		w.finish(w.madeStatus(), w.note)
	case kindPartial:
		w.res.Membership = w.lookupID()
		w.finish(w.madeStatus(), "membership created, but the server reported: "+err.Error())
	case kindMember:
		if w.upsert { // a member with another profile, or of the other scope
			w.finish(Failed, err.Error())
			return true
		}
		m, lerr := w.r.lookup(w.reqCtx, w.req) // for the report's membership id
		v := before                            // the server found the user a member
		if w.doubt {
			// An earlier request of this row, whose answer was lost, may
			// have made the membership after all.
			v = unknown
			if lerr == nil && m != nil {
				v = w.mark.judge(m)
			}
		}
		return w.found(m, v)
	case kindConflict:
		r.count(func(s *Stats) { s.Conflicts++ })
		if w.conflicts++; w.conflicts >= r.retry.MaxConflicts {
			w.finish(Failed, fmt.Sprintf("gave up after %s: %v", cmdutil.Count(w.conflicts, "serialization conflict"), err))
			return true
		}
		w.backoff(min(w.conflicts, 4))
		return false
	case kindThrottled:
		// The limiter now holds every sender back for the time the
		// server asked.
		r.count(func(s *Stats) { s.Throttled++ })
		if w.throttled++; w.throttled >= r.retry.MaxThrottled {
			w.finish(Failed, fmt.Sprintf("still rate limited after %s: %v", cmdutil.Count(w.throttled, "try", "tries"), err))
			return true
		}
		return false
	case kindUncertain:
		if w.reqCtx.Err() != nil {
			return true // the grace period ran out: the next run looks it up
		}
		w.uncertain, w.doubt = true, true
		w.failed(err)
		return false
	case kindNotSent:
		w.failed(err)
		return false
	case kindFatal:
		w.finish(Failed, err.Error())
		r.stop(w.res.Line, err)
	default:
		w.finish(Failed, err.Error())
	}
	return true
}

// settle looks up a row whose request may have been done, and decides:
// done (the membership is there), or safe to send again (it is not).
func (w *rowRun) settle() bool {
	m, err := w.r.lookup(w.reqCtx, w.req)
	switch {
	case err != nil:
		return w.lookupFailed(err, "the server may have made the membership, and it could not be checked")
	case m == nil:
		w.uncertain = false // nothing was made: sending again is safe
		return false
	}
	w.uncertain = false
	if w.upsert {
		// The --upsert resend for a member: its membership is there.
		w.res.Membership = m.ID()
		w.finish(Updated, w.note)
		return true
	}
	return w.found(m, w.mark.judge(m))
}

// lookupFailed counts a lookup that got no answer, as failed does, and
// reports whether the row has failed for good (giveUp says why).
func (w *rowRun) lookupFailed(err error, giveUp string) bool {
	if w.failed(fmt.Errorf("looking the membership up: %w", err)); w.failures >= w.r.retry.MaxFailures {
		w.fail(fmt.Sprintf("%s: %v", giveUp, w.lastErr))
		return true
	}
	return false
}

// maybeMade is the note of a row whose lost answer leaves it open whether
// the user was a member before (see Mark).
const maybeMade = "already a member, or made a member by this run: the answer to its invite was lost, and it could not be told which"

// found finishes a row whose user is a member (m, when it was looked up),
// by what the mark says of the membership: made after the mark, by the
// row's invite ("created"); there before it ("exists", or the --upsert
// resend). When it cannot be told, the row is not called "created": it
// ends "exists" (or "updated" by the resend) with a note. It reports
// whether the row is finished.
func (w *rowRun) found(m client.Resource, v verdict) bool {
	if m != nil {
		w.res.Membership = m.ID()
	}
	if v == unknown {
		w.note = maybeMade
	}
	switch {
	case v == after:
		w.finish(Created, "")
	case w.r.cfg.Upsert:
		if m != nil && w.merge(m) {
			w.finish(Exists, w.note) // nothing to change: nothing is sent
			return true
		}
		w.res.Membership = ""
		return !w.startUpsert()
	default:
		w.finish(Exists, w.note)
	}
	return true
}

// merge prepares the --upsert resend for the member whose membership is m:
// the row's fields over it (membership.MergeUpsert: Medplum removes what an
// upsert leaves out). It reports whether there is nothing to change.
func (w *rowRun) merge(m client.Resource) (nothing bool) {
	b, _ := json.Marshal(w.req)
	body, changes, err := membership.UpsertBody(b, m, w.r.cfg.PolicyLabel)
	if err != nil {
		panic("bulk: an invite that does not encode: " + err.Error()) // marshalled just above
	}
	w.body, w.res.Change = body, strings.Join(changes, "; ")
	return len(changes) == 0
}

// readForUpsert reads the membership the --upsert resend is merged into
// (when found() could not, or an earlier run left the resend in flight).
func (w *rowRun) readForUpsert() bool {
	m, err := w.r.lookup(w.reqCtx, w.req)
	switch {
	case err != nil:
		return w.lookupFailed(err, "the membership to update could not be read")
	case m == nil && w.resumed:
		// No longer a member: a plain invite (the journal's "started"
		// upsert makes a lost answer to it harmless to resend).
		w.upsert, w.resumed = false, false
		return false
	case m == nil:
		// The server said the user is a member, but not with a profile
		// of the row's type.
		w.finish(Failed, fmt.Sprintf("already a member of the project, with a profile that is not a %s; --upsert only updates a membership with the same profile",
			w.req.ResourceType))
		return true
	}
	w.res.Membership = m.ID()
	if w.merge(m) {
		if w.resumed {
			// The update an earlier run sent went through.
			w.finish(Updated, "updated by an earlier run whose answer was lost; the membership has what the row names")
		} else {
			w.finish(Exists, w.note)
		}
		return true
	}
	w.res.Membership = ""
	return false
}

// startUpsert records that the next send is the --upsert resend. It returns
// false when the journal failed (the run stops).
func (w *rowRun) startUpsert() bool {
	w.upsert = true
	w.failures, w.conflicts = 0, 0
	if err := w.r.cfg.Journal.Start(w.res.Line, true); err != nil {
		w.r.stop(w.res.Line, err)
		return false
	}
	return true
}

func (w *rowRun) madeStatus() Status {
	if w.upsert {
		return Updated
	}
	return Created
}

// lookupID is the membership id for the report, best effort.
func (w *rowRun) lookupID() string {
	if m, err := w.r.lookup(w.reqCtx, w.req); err == nil && m != nil {
		return m.ID()
	}
	return ""
}

// failed counts a send or lookup that got no usable answer, and waits
// before the next try. The failure counts against the row only when the
// server answered some request since the row's previous failure: while it
// answers nothing at all, the row waits for it (the run stops if that
// lasts; see RunConfig.Outage) instead of failing because the server is
// away.
func (w *rowRun) failed(err error) {
	if w.r.run.AnsweredAfter(w.lastFailure) {
		w.failures++
	}
	w.misses++
	w.lastErr, w.lastFailure = err, time.Now()
	w.backoff(w.misses)
}

func (w *rowRun) backoff(n int) {
	d := client.RetryPolicy{BaseDelay: w.r.retry.BaseDelay, MaxDelay: w.r.retry.MaxDelay}.Backoff(n)
	_ = bulkengine.Sleep(w.dctx, d) // an interruption is seen by the next step
}

// finish records a final state known for sure.
func (w *rowRun) finish(st Status, msg string) {
	w.res.Status, w.res.Error = st, msg
	w.r.record(w.res, false)
}

// fail records a failure after which the membership may exist anyway: the
// next run looks the row up before sending it.
func (w *rowRun) fail(msg string) {
	w.res.Status, w.res.Error = Failed, msg
	w.r.record(w.res, w.uncertain)
}

type attemptKind int

const (
	kindCreated   attemptKind = iota // 200 with the ProjectMembership
	kindPartial                      // 200 with an error OperationOutcome: made, e-mail failed
	kindMember                       // plain 409: already a member
	kindConflict                     // 409 with coding 40001: rolled back
	kindThrottled                    // 429
	kindUncertain                    // 502/503/504 or a dropped connection: may have been done
	kindNotSent                      // the connection could not be made
	kindFatal                        // 401, 403, 404: no other row will do better
	kindFailed                       // any other refusal: this row is wrong
)

type attempt struct {
	kind       attemptKind
	outcome    bulkengine.Outcome
	pause      time.Duration
	membership string
}

func classify(resp *client.Response, err error) attempt {
	if err == nil {
		// Only the type and id are needed: decoding the whole membership
		// into a map was most of the engine's own CPU per invite
		// (BenchmarkInviteOverhead).
		var m struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		if derr := json.Unmarshal(resp.Body, &m); derr != nil || m.ResourceType != "ProjectMembership" {
			return attempt{kind: kindUncertain, outcome: bulkengine.OutcomeError}
		}
		return attempt{kind: kindCreated, outcome: bulkengine.OutcomeSuccess, membership: m.ID}
	}
	if e := client.AsError(err); e != nil {
		switch {
		case e.IsPartialSuccess():
			return attempt{kind: kindPartial, outcome: bulkengine.OutcomeSuccess}
		case e.Status == http.StatusConflict && !e.IsSerializationConflict():
			return attempt{kind: kindMember, outcome: bulkengine.OutcomeSuccess}
		}
	}
	a := bulkengine.Classify(err)
	return attempt{kind: engineKind(a.Kind), outcome: a.Outcome, pause: a.Pause}
}

// engineKind is a kind of failed request, as the bulk engine tells it, as
// a row sees it.
func engineKind(k bulkengine.Kind) attemptKind {
	switch k {
	case bulkengine.KindThrottled:
		return kindThrottled
	case bulkengine.KindConflict:
		return kindConflict
	case bulkengine.KindUncertain:
		return kindUncertain
	case bulkengine.KindNotSent:
		return kindNotSent
	case bulkengine.KindFatal:
		return kindFatal
	}
	return kindFailed
}
