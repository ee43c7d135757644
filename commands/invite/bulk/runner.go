package bulk

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/medplumcli/medplum/client"
)

// Result is the final state of one row.
type Result struct {
	Line       int
	Email      string
	ExternalID string
	Status     Status
	Membership string // membership id, when known
	Error      string // why it failed, or a note (the invite e-mail could not be sent)
	Earlier    bool   // finished by an earlier run (read from the journal)
}

// Stats is the running count the Progress sees.
type Stats struct {
	Total     int            // rows in the file
	Done      int            // rows with a final state (Counts summed)
	Counts    map[Status]int // by status; do not modify
	Earlier   int            // of Done, finished by an earlier run
	InFlight  int            // requests being sent now
	Limit     int            // current concurrency limit
	Conflicts int            // 409/40001 answers retried so far
	Throttled int            // 429 answers so far
	Retries   int            // attempts beyond the first, all causes
}

// Failed is the number of rows that failed.
func (s Stats) Failed() int { return s.Counts[Failed] }

// Progress receives the counts after every finished row, one call at a time.
type Progress interface {
	Update(Stats)
}

// RetryPolicy bounds the retries of one row.
type RetryPolicy struct {
	MaxAttempts  int           // sends after conflicts, 5xx and dropped connections (default 8)
	MaxThrottled int           // 429 answers tolerated for one row (default 30)
	BaseDelay    time.Duration // first backoff step (default 250ms)
	MaxDelay     time.Duration // backoff cap (default 10s)
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 8
	}
	if p.MaxThrottled <= 0 {
		p.MaxThrottled = 30
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 250 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 10 * time.Second
	}
	return p
}

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
	// (their row ends "updated") instead of leaving it ("exists").
	Upsert bool
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
}

// ErrInvalidRows means the file has invalid rows and SkipInvalid is off.
var ErrInvalidRows = errors.New("the file has invalid rows")

// FatalError stops a run: every further row would fail the same way (the
// credentials were refused, the project does not exist, the server is
// unreachable). Rows already finished are in the journal.
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
// so far.
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
		retry:     cfg.Retry.withDefaults(),
		lim:       newLimiter(cfg.Concurrency, cfg.MaxConcurrency),
		inviteURL: "admin/projects/" + url.PathEscape(cfg.Project) + "/invite",
		stats:     Stats{Total: cfg.Check.Rows, Counts: map[Status]int{}},
	}
	workers := cfg.Concurrency
	if workers <= 0 {
		workers = r.lim.max
	}

	// Requests outlive a Ctrl-C by Grace, so that an answer already on its
	// way is recorded; dispatching and retrying stop at once.
	reqCtx, cancelReq := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelReq()
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(cfg.Grace, cancelReq)
		context.AfterFunc(reqCtx, func() { t.Stop() })
	})
	defer stopGrace()
	dctx, cancelDispatch := context.WithCancel(ctx)
	defer cancelDispatch()
	r.stopAll = cancelDispatch

	r.progress()
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				r.process(dctx, reqCtx, j)
			}
		})
	}
	readErr := r.dispatch(dctx, input, jobs)
	close(jobs)
	wg.Wait()

	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.snapshot()
	switch {
	case r.fatal != nil:
		return st, r.fatal
	case ctx.Err() != nil:
		return st, ctx.Err()
	case readErr != nil:
		return st, readErr
	}
	return st, nil
}

type job struct {
	row       Row
	reconcile bool     // an earlier run left it in flight: look it up first
	inFlight  InFlight // what the journal says about it
}

type runner struct {
	cfg       RunConfig
	retry     RetryPolicy
	lim       *limiter
	inviteURL string
	stopAll   context.CancelFunc

	mu    sync.Mutex // guards what follows, and serialises OnResult and Progress
	stats Stats
	fatal error
}

// dispatch reads the file again and hands out the rows that need work.
func (r *runner) dispatch(ctx context.Context, input io.Reader, jobs chan<- job) error {
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
				Status: e.Status, Membership: e.Membership, Error: e.Error, Earlier: true})
			continue
		}
		j := job{row: row}
		j.inFlight, j.reconcile = r.cfg.Resume.InFlight[row.Line]
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
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Counts[res.Status]++
	r.stats.Done++
	if res.Earlier {
		r.stats.Earlier++
	}
	if r.cfg.OnResult != nil && r.fatal == nil {
		if err := r.cfg.OnResult(res); err != nil {
			r.fatal = err
			r.stopAll()
		}
	}
	r.progressLocked()
}

func (r *runner) progress() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progressLocked()
}

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

func (r *runner) count(f func(*Stats)) {
	r.mu.Lock()
	f(&r.stats)
	r.mu.Unlock()
}

// stop records the first fatal error and stops dispatching.
func (r *runner) stop(line int, err error) {
	r.mu.Lock()
	if r.fatal == nil {
		r.fatal = &FatalError{Line: line, Err: err}
	}
	r.mu.Unlock()
	r.stopAll()
}

// record writes a row's final state to the journal, then reports it.
func (r *runner) record(res Result, uncertain bool) {
	if err := r.cfg.Journal.Finish(res.Line, Entry{Status: res.Status, Membership: res.Membership, Error: res.Error}, uncertain); err != nil {
		r.stop(res.Line, err)
		return
	}
	r.finish(res)
}

// process takes one row to its final state. Requests use reqCtx (they may
// outlive a Ctrl-C by the grace period); waiting and deciding to send again
// use dctx.
func (r *runner) process(dctx, reqCtx context.Context, j job) {
	req := j.row.Request
	res := Result{Line: j.row.Line, Email: req.Email, ExternalID: req.ExternalID}
	upsertPhase := false
	// uncertain: a request may have reached the server without its answer
	// reaching us. The row is then looked up before anything is sent.
	uncertain := false
	started := j.inFlight.At

	if j.reconcile {
		if j.inFlight.Upsert {
			upsertPhase = true // the user was a member already; resending the upsert is harmless
		} else {
			uncertain = true
		}
	}
	journaled := j.reconcile // the journal has a "started" record for the row

	attempts, throttled := 0, 0
	var lastErr error
	backoff := func() {
		d := client.RetryPolicy{BaseDelay: r.retry.BaseDelay, MaxDelay: r.retry.MaxDelay}.Backoff(attempts)
		_ = sleepCtx(dctx, d) // an interruption is seen at the loop's top
	}
	giveUp := func(why string) {
		res.Status, res.Error = Failed, why
		r.record(res, uncertain)
	}
	for {
		if dctx.Err() != nil {
			if journaled {
				r.interrupted(res, uncertain)
			}
			return // never sent: nothing to record, the next run sends it
		}
		if uncertain {
			m, err := r.lookup(reqCtx, req)
			if err != nil {
				lastErr = fmt.Errorf("looking the membership up: %w", err)
				attempts++
				if attempts >= r.retry.MaxAttempts {
					giveUp(fmt.Sprintf("the server may have made the membership, and it could not be checked: %v", lastErr))
					return
				}
				backoff()
				continue
			}
			if m != nil {
				res.Membership = m.ID()
				res.Status = Created
				if upsertPhase {
					res.Status = Updated
				} else if existedBefore(m, started) {
					if r.cfg.Upsert {
						upsertPhase, uncertain = true, false
						if _, err := r.cfg.Journal.Start(res.Line, true); err != nil {
							r.stop(res.Line, err)
							return
						}
						continue
					}
					res.Status = Exists
				}
				r.record(res, false)
				return
			}
			uncertain = false // not there: nothing was made, sending again is safe
		}
		if attempts >= r.retry.MaxAttempts {
			giveUp(fmt.Sprintf("gave up after %d attempts: %v", attempts, lastErr))
			return
		}
		if err := r.lim.acquire(dctx); err != nil {
			continue // interrupted: the loop's top records it
		}
		if !journaled {
			// On disk before the request leaves: a crash from here on
			// leaves a row the next run looks up.
			t, err := r.cfg.Journal.Start(res.Line, false)
			if err != nil {
				r.lim.release(outcomeError, 0)
				r.stop(res.Line, err)
				return
			}
			started, journaled = t, true
		}
		body := req
		if upsertPhase {
			body.Upsert = true
		}
		data, _ := json.Marshal(body)
		resp, err := r.cfg.Client.Do(reqCtx, &client.Request{Method: http.MethodPost, URL: r.inviteURL, Body: data, NoRetry: true})
		attempts++
		if attempts > 1 {
			r.count(func(s *Stats) { s.Retries++ })
		}
		a := classify(resp, err)
		r.lim.release(a.outcome, a.pause)
		lastErr = err

		switch a.kind {
		case kindCreated, kindPartial:
			res.Status = Created
			if upsertPhase {
				res.Status = Updated
			}
			if a.kind == kindPartial {
				res.Error = "membership created, but the server reported: " + err.Error()
				if m, lerr := r.lookup(reqCtx, req); lerr == nil && m != nil {
					res.Membership = m.ID()
				}
			} else {
				res.Membership = a.membership
			}
			r.record(res, false)
			return
		case kindMember:
			if upsertPhase {
				res.Status, res.Error = Failed, err.Error()
				r.record(res, false)
				return
			}
			if r.cfg.Upsert {
				upsertPhase = true
				if _, err := r.cfg.Journal.Start(res.Line, true); err != nil {
					r.stop(res.Line, err)
					return
				}
				attempts = 0
				continue
			}
			res.Status = Exists
			if m, lerr := r.lookup(reqCtx, req); lerr == nil && m != nil {
				res.Membership = m.ID()
			}
			r.record(res, false)
			return
		case kindConflict:
			r.count(func(s *Stats) { s.Conflicts++ })
			backoff()
		case kindThrottled:
			r.count(func(s *Stats) { s.Throttled++ })
			throttled++
			attempts-- // waiting for the rate limit is not a failed attempt
			if throttled >= r.retry.MaxThrottled {
				giveUp(fmt.Sprintf("still rate limited after %d tries: %v", throttled, err))
				return
			}
		case kindUncertain:
			if reqCtx.Err() != nil {
				return // the grace period ran out: the next run looks it up
			}
			uncertain = true
			backoff()
		case kindNotSent:
			backoff()
		case kindFatal:
			res.Status, res.Error = Failed, err.Error()
			r.record(res, false)
			r.stop(res.Line, err)
			return
		case kindFailed:
			res.Status, res.Error = Failed, err.Error()
			r.record(res, false)
			return
		}
	}
}

// interrupted records a row that Ctrl-C stopped between attempts. Unless
// an attempt may have reached the server, it is marked failed so that the
// next run sends it without a lookup.
func (r *runner) interrupted(res Result, uncertain bool) {
	if uncertain {
		return // stays "started": the next run looks it up
	}
	res.Status, res.Error = Failed, "interrupted before it could be sent again"
	r.record(res, false)
}

// existedBefore reports whether a membership found by a lookup predates the
// row's first request: then the request found it there ("exists") rather
// than made it. Clocks of client and server may differ, so a membership
// updated up to a minute before the request counts as made by it.
func existedBefore(m client.Resource, started time.Time) bool {
	meta, _ := m["meta"].(map[string]any)
	s, _ := meta["lastUpdated"].(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || started.IsZero() {
		return false
	}
	return t.Before(started.Add(-time.Minute))
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
	outcome    outcome
	pause      time.Duration
	membership string
}

func classify(resp *client.Response, err error) attempt {
	if err == nil {
		m, derr := client.DecodeResource(resp.Body)
		if derr != nil || m.ResourceType() != "ProjectMembership" {
			return attempt{kind: kindUncertain, outcome: outcomeError}
		}
		return attempt{kind: kindCreated, outcome: outcomeSuccess, membership: m.ID()}
	}
	e := client.AsError(err)
	if e == nil {
		if isDialError(err) {
			return attempt{kind: kindNotSent, outcome: outcomeError}
		}
		return attempt{kind: kindUncertain, outcome: outcomeError}
	}
	switch {
	case e.IsPartialSuccess():
		return attempt{kind: kindPartial, outcome: outcomeSuccess}
	case e.IsSerializationConflict():
		return attempt{kind: kindConflict, outcome: outcomeConflict}
	case e.Status == http.StatusConflict:
		return attempt{kind: kindMember, outcome: outcomeSuccess}
	case e.Status == http.StatusTooManyRequests:
		return attempt{kind: kindThrottled, outcome: outcomeThrottled, pause: e.RateLimitWait}
	case e.Status == http.StatusBadGateway || e.Status == http.StatusServiceUnavailable || e.Status == http.StatusGatewayTimeout:
		return attempt{kind: kindUncertain, outcome: outcomeError}
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == http.StatusNotFound:
		return attempt{kind: kindFatal, outcome: outcomeError}
	}
	return attempt{kind: kindFailed, outcome: outcomeError}
}

// isDialError reports a request that never left: the connection could not
// be opened.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	return waitFor(ctx, nil, d)
}
