package bulkengine

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"time"
)

// Config says how a Run drives its units of work.
type Config struct {
	Journal *Journal
	Limiter *Limiter
	// Grace is how long requests already sent may finish after the
	// caller's context is cancelled (default 10s); work not finished by
	// then is settled by the next run.
	Grace time.Duration
	// Outage is how long the server may go without answering any request
	// (connections refused, dropped or timed out; 502, 503, 504) before
	// the run stops with an *UnreachableError (default DefaultOutage;
	// negative: never). Meanwhile units wait for it rather than fail.
	Outage time.Duration
	// Interrupted, if set, is called once when the caller's context is
	// cancelled while requests are in flight, after dispatching has
	// stopped: nothing beyond those inFlight is sent from then on, and
	// they have Grace to finish. It is called under the run's lock (see
	// Locked).
	Interrupted func(inFlight int, grace time.Duration)
}

// Run is the shared machinery of a bulk run: the contexts that stop
// dispatching at once and let requests already sent finish, the watch on
// the server's health, the first fatal error, and the reporting of
// finished work once its journal record is on disk, in the order it was
// recorded, one report at a time.
type Run struct {
	cfg    Config
	caller context.Context

	// Dispatch is done on Ctrl-C, a fatal error or an outage: nothing new
	// is started, no retry is waited for.
	Dispatch context.Context
	// Request is what requests are sent with: it outlives a Ctrl-C by
	// Grace, so that an answer already on its way is recorded.
	Request context.Context

	stopDispatch context.CancelFunc
	cancelReq    context.CancelFunc
	stopGrace    func() bool
	health       Health

	reports  chan pending
	reported chan struct{}

	mu    sync.Mutex // serialises Locked, Interrupted and the reports
	fatal error
}

// reportBacklog is how many finished units may wait for their record to be
// on disk before a worker waits too: the units of a few commits.
const reportBacklog = 1024

// pending is finished work waiting for its record to be on disk.
type pending struct {
	ticket Ticket
	report func(error)
}

// Start begins a run under ctx (the caller's: its cancellation is Ctrl-C).
func Start(ctx context.Context, cfg Config) *Run {
	cfg.Grace = cmp.Or(cfg.Grace, 10*time.Second)
	cfg.Outage = cmp.Or(cfg.Outage, DefaultOutage)
	r := &Run{cfg: cfg, caller: ctx, reports: make(chan pending, reportBacklog), reported: make(chan struct{})}
	r.Request, r.cancelReq = context.WithCancel(context.WithoutCancel(ctx))
	r.Dispatch, r.stopDispatch = context.WithCancel(ctx)
	r.stopGrace = context.AfterFunc(ctx, func() {
		t := time.AfterFunc(cfg.Grace, r.cancelReq)
		context.AfterFunc(r.Request, func() { t.Stop() })
		<-r.Dispatch.Done() // ctx's child: dispatching has stopped
		r.Locked(func() {
			if n := cfg.Limiter.InFlight(); n > 0 && cfg.Interrupted != nil {
				cfg.Interrupted(n, cfg.Grace)
			}
		})
	})
	go func() {
		defer close(r.reported)
		for p := range r.reports {
			p.report(r.cfg.Journal.Wait(p.ticket))
		}
	}()
	return r
}

// Work runs process on every job dispatch hands out, with workers
// goroutines, until dispatch returns (its error is Work's) and every job
// is processed; then it waits for the last reports and ends the run.
func Work[J any](r *Run, workers int, dispatch func(ctx context.Context, jobs chan<- J) error, process func(J)) error {
	jobs := make(chan J)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for j := range jobs {
				process(j)
			}
		})
	}
	err := dispatch(r.Dispatch, jobs)
	close(jobs)
	wg.Wait()
	close(r.reports)
	<-r.reported
	r.stopGrace()
	r.stopDispatch()
	r.cancelReq()
	return err
}

// Report calls report once the record of ticket (and every record queued
// before it) is on disk, with nil, or with the error that kept it from
// getting there. Reports run one at a time, in the order they were
// handed in; the caller goes on meanwhile, so that its next record and
// this one share a commit.
func (r *Run) Report(ticket Ticket, report func(error)) {
	r.reports <- pending{ticket: ticket, report: report}
}

// Locked runs f under the run's lock: what the caller reports (results,
// progress) is reported one call at a time, Interrupted included.
func (r *Run) Locked(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
}

// Stop records the first fatal error and stops dispatching.
func (r *Run) Stop(err error) {
	r.mu.Lock()
	if r.fatal == nil {
		r.fatal = err
	}
	r.mu.Unlock()
	r.stopDispatch()
}

// Err is what ended the run early: the first fatal error (or an
// *UnreachableError), else the caller's context's error, else nil.
func (r *Run) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fatal != nil {
		return r.fatal
	}
	return r.caller.Err()
}

// Observe feeds a request's outcome (sent at start) to the health watch,
// and stops the run when the server has not answered for the whole of the
// outage bound.
func (r *Run) Observe(start time.Time, err error) {
	down, since := r.health.Observe(start, err)
	if r.cfg.Outage <= 0 || down < r.cfg.Outage {
		return
	}
	r.Stop(&UnreachableError{Since: since, Err: err})
}

// AnsweredAfter reports whether the server answered a request after t.
func (r *Run) AnsweredAfter(t time.Time) bool { return r.health.AnsweredAfter(t) }

// Unreachable reports whether the run stopped because the server was
// unreachable.
func (r *Run) Unreachable() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ue *UnreachableError
	return errors.As(r.fatal, &ue)
}

// Wait waits d, or until dispatching stops (then with its error).
func (r *Run) Wait(d time.Duration) error { return Sleep(r.Dispatch, d) }
