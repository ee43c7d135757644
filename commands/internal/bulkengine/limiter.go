package bulkengine

import (
	"context"
	"sync"
	"time"
)

// Outcome is what one attempt told the limiter about the server.
type Outcome int

const (
	OutcomeSuccess   Outcome = iota // the server did the work (created, exists, updated)
	OutcomeConflict                 // 409 with coding 40001: rolled back, try again
	OutcomeThrottled                // 429
	OutcomeError                    // anything else (5xx, dropped connection, a 400)
)

// Limiter bounds the units of work in flight. With a fixed limit it is a
// semaphore. Adaptive, it is a controller that keeps the limit where the
// server completes the most invites per second: Medplum's invites run in
// serializable transactions that conflict more and more often as more run
// at once (measured on 5.0.10: 21% of requests with 4 in flight, 50% with 8,
// 72% with 16), so past a small number, more in flight means less done.
//
// The controller works in windows of a few round trips. At the end of each
// it compares the window's goodput (invites done per second) with the
// previous window's and keeps climbing in the direction that improved it
// (hill climbing), reversing when it got worse. Two guards act at once:
// a 429 halves the limit and pauses every sender for the time the server's
// RateLimit header asks; a window where conflicts dominate cuts the limit
// by a third whatever the goodput said.
type Limiter struct {
	mu       sync.Mutex
	changed  chan struct{} // closed and replaced whenever a waiter may proceed
	inFlight int
	limit    int
	min, max int
	adaptive bool
	pausedTo time.Time
	now      func() time.Time

	ctl controller
}

// NewLimiter returns a semaphore of fixed slots when fixed > 0; otherwise
// an adaptive limiter that starts at DefaultStartConcurrency and moves
// between 1 and maxLimit (DefaultMaxConcurrency when 0).
func NewLimiter(fixed, maxLimit int) *Limiter {
	l := &Limiter{changed: make(chan struct{}), now: time.Now, min: 1}
	if fixed > 0 {
		l.limit, l.max = fixed, fixed
		return l
	}
	if maxLimit < 1 {
		maxLimit = DefaultMaxConcurrency
	}
	l.adaptive = true
	l.max = maxLimit
	l.limit = min(DefaultStartConcurrency, maxLimit)
	l.ctl.begin(l.now())
	l.ctl.holding = holdWindows - 1 // explore after the first window
	return l
}

// Defaults of the adaptive limiter (see BenchmarkBulkInvite).
const (
	DefaultStartConcurrency = 3
	DefaultMaxConcurrency   = 16
)

// Max is the most attempts it ever lets in flight: as many workers as a
// run needs.
func (l *Limiter) Max() int { return l.max }

// Limit is the current limit.
func (l *Limiter) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}

// InFlight is the number of attempts holding a slot.
func (l *Limiter) InFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inFlight
}

// Acquire waits for a free slot and the end of any pause.
func (l *Limiter) Acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		now := l.now()
		wait := l.pausedTo.Sub(now)
		if wait <= 0 && l.inFlight < l.limit {
			l.inFlight++
			l.mu.Unlock()
			return nil
		}
		ch := l.changed
		l.mu.Unlock()
		if err := waitFor(ctx, ch, wait); err != nil {
			return err
		}
	}
}

// waitFor returns when ch is closed, d has passed (if positive), or ctx is
// done (with its error).
func waitFor(ctx context.Context, ch <-chan struct{}, d time.Duration) error {
	var timer <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-ch:
	case <-timer:
	}
	return nil
}

// Release frees a slot and feeds the attempt's outcome to the controller.
// pause is how long the server asked everyone to wait (after a 429).
func (l *Limiter) Release(o Outcome, pause time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	now := l.now()
	if o == OutcomeThrottled {
		if pause <= 0 {
			pause = time.Second
		}
		if until := now.Add(pause); until.After(l.pausedTo) {
			l.pausedTo = until
		}
	}
	if l.adaptive {
		l.limit = l.ctl.observe(o, now, l.limit, l.min, l.max)
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// controller is the adaptive part of the limiter, kept apart from the
// synchronisation so that it can be tested against a model server.
//
// It holds a limit and measures a window; from time to time it explores one
// step up or down and measures again. An exploration that raised goodput by
// 5% or more continues in the same direction; one that lowered it by 5% or
// more is undone; one that changed nothing is undone when it added load and
// kept when it removed load. While holding, it explores upwards when few
// attempts conflict (under 10%), downwards when many do (over 30%), and
// otherwise every few windows, so that it follows a server whose load
// changes.
type controller struct {
	start     time.Time
	successes int
	conflicts int
	attempts  int

	prevGoodput float64
	dir         int  // direction of the current exploration
	exploring   bool // the limit was changed to measure the effect
	holding     int  // windows held at the same limit
}

// holdWindows is how many windows the controller holds a limit that looks
// right before it explores again.
const holdWindows = 4

// windowAttempts is how many attempts make a window at a given limit: enough
// round trips that a window's goodput is not mostly noise.
func windowAttempts(limit int) int { return max(16, 6*limit) }

func (c *controller) begin(now time.Time) {
	c.start, c.successes, c.conflicts, c.attempts = now, 0, 0, 0
}

// observe counts one attempt and, at the end of a window, returns the new
// limit (else the current one).
func (c *controller) observe(o Outcome, now time.Time, limit, lo, hi int) int {
	c.attempts++
	switch o {
	case OutcomeSuccess:
		c.successes++
	case OutcomeConflict:
		c.conflicts++
	case OutcomeThrottled:
		// Multiplicative decrease at once, and a fresh window: what was
		// measured while throttled says nothing about the limit.
		c.exploring, c.holding, c.prevGoodput = false, 0, 0
		c.begin(now)
		return max(lo, limit/2)
	}
	if c.attempts < windowAttempts(limit) {
		return limit
	}
	elapsed := now.Sub(c.start).Seconds()
	goodput := 0.0
	if elapsed > 0 {
		goodput = float64(c.successes) / elapsed
	}
	conflictRate := float64(c.conflicts) / float64(c.attempts)
	next := limit
	explore := func(dir int) {
		c.dir, c.exploring, c.holding = dir, true, 0
		next = limit + dir
	}
	hold := func(at int) {
		c.exploring, c.holding = false, 0
		next = at
	}
	switch {
	case conflictRate > 0.5:
		// Most of the work is thrown away: back off hard.
		hold(limit * 2 / 3)
	case c.exploring && c.prevGoodput > 0 && goodput >= c.prevGoodput*1.05:
		explore(c.dir) // the step helped: another one
	case c.exploring && c.prevGoodput > 0 && goodput <= c.prevGoodput*0.95:
		hold(limit - c.dir) // the step hurt: undo it
	case c.exploring && c.dir > 0:
		hold(limit - 1) // more load for nothing: undo it
	case c.exploring:
		hold(limit) // less load for the same: keep it
	case conflictRate < 0.1:
		explore(+1)
	case conflictRate > 0.3:
		explore(-1)
	default:
		c.holding++
		if c.holding >= holdWindows {
			explore(+1)
		}
	}
	clamped := min(hi, max(lo, next))
	if clamped != next {
		c.exploring = false // a step past a bound measures nothing
	}
	c.prevGoodput = goodput
	c.begin(now)
	return clamped
}
