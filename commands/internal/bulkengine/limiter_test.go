package bulkengine

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// modelServer is the measured shape of a Medplum 5.0.10 server under
// concurrent invites: the chance that an invite hits a serialization
// conflict with k in flight (measured: 21% at 4, 50% at 8, 72% at 16), and a
// round trip that grows with k because the work is partly serialized.
type modelServer struct {
	rng *rand.Rand
}

var conflictAt = []struct {
	k int
	p float64
}{{1, 0}, {2, 0.08}, {4, 0.21}, {8, 0.50}, {16, 0.72}, {64, 0.9}}

func conflictRate(k int) float64 {
	for i := 1; i < len(conflictAt); i++ {
		a, b := conflictAt[i-1], conflictAt[i]
		if k <= b.k {
			return a.p + (b.p-a.p)*float64(k-a.k)/float64(b.k-a.k)
		}
	}
	return conflictAt[len(conflictAt)-1].p
}

// roundTrip with k in flight: 40ms alone, half of it serialized.
func roundTrip(k int) time.Duration {
	return time.Duration(float64(40*time.Millisecond) * (1 + 0.5*float64(k-1)))
}

// goodput is the model's invites done per second with k in flight.
func goodput(k int) float64 {
	return float64(k) * (1 - conflictRate(k)) / roundTrip(k).Seconds()
}

// simulate drives the controller with n attempts against the model and
// returns how many attempts were made at each limit.
func simulate(seed uint64, n int) map[int]int {
	m := modelServer{rng: rand.New(rand.NewPCG(seed, 1))}
	c := controller{}
	now := time.Unix(0, 0)
	c.begin(now)
	limit := DefaultStartConcurrency
	seen := map[int]int{}
	for range n {
		seen[limit]++
		// With `limit` slots busy, one attempt completes every rt/limit.
		now = now.Add(roundTrip(limit) / time.Duration(limit))
		o := OutcomeSuccess
		if m.rng.Float64() < conflictRate(limit) {
			o = OutcomeConflict
		}
		limit = c.observe(o, now, limit, 1, DefaultMaxConcurrency)
	}
	return seen
}

func TestModelPeaksAtTwoToFour(t *testing.T) {
	best := 1
	for k := 1; k <= 16; k++ {
		if goodput(k) > goodput(best) {
			best = k
		}
	}
	if best < 2 || best > 4 {
		t.Fatalf("the model's goodput peaks at %d in flight; the measured server peaks at 2-3", best)
	}
}

// Against the model, the controller gets at least 95% of the goodput of the
// best fixed limit, and does not wander where most invites conflict.
func TestControllerSettlesNearPeak(t *testing.T) {
	best := 0.0
	for k := 1; k <= DefaultMaxConcurrency; k++ {
		best = max(best, goodput(k))
	}
	const n = 5000
	for seed := range uint64(20) {
		seen := simulate(seed, n)
		total, high := 0.0, 0
		for k, c := range seen {
			total += float64(c) * goodput(k)
			if k >= 8 {
				high += c
			}
		}
		if avg := total / n; avg < 0.95*best || high > n/20 {
			t.Errorf("seed %d: average goodput %.1f/s (best fixed %.1f/s), %d attempts at 8 or more in flight: %v", seed, avg, best, high, seen)
		}
	}
}

// From the maximum, where most invites conflict, it comes down.
func TestControllerComesDownFromTheTop(t *testing.T) {
	c := controller{}
	now := time.Unix(0, 0)
	c.begin(now)
	rng := rand.New(rand.NewPCG(7, 7))
	limit := DefaultMaxConcurrency
	for range 3000 {
		now = now.Add(roundTrip(limit) / time.Duration(limit))
		o := OutcomeSuccess
		if rng.Float64() < conflictRate(limit) {
			o = OutcomeConflict
		}
		limit = c.observe(o, now, limit, 1, DefaultMaxConcurrency)
	}
	if limit > 6 {
		t.Errorf("after 3000 attempts from %d: limit %d", DefaultMaxConcurrency, limit)
	}
}

func TestControllerHalvesOn429(t *testing.T) {
	c := controller{}
	now := time.Unix(0, 0)
	c.begin(now)
	if got := c.observe(OutcomeThrottled, now, 8, 1, 16); got != 4 {
		t.Errorf("after a 429 at 8: %d, want 4", got)
	}
	if got := c.observe(OutcomeThrottled, now, 1, 1, 16); got != 1 {
		t.Errorf("after a 429 at 1: %d, want 1", got)
	}
}

func TestControllerCutsOnConflictStorm(t *testing.T) {
	c := controller{}
	now := time.Unix(0, 0)
	c.begin(now)
	limit := 12
	for i := range windowAttempts(12) {
		now = now.Add(time.Millisecond)
		o := OutcomeConflict
		if i%4 == 0 {
			o = OutcomeSuccess
		}
		limit = c.observe(o, now, limit, 1, 16)
	}
	if limit != 8 {
		t.Errorf("after a window with 75%% conflicts at 12: %d, want 8", limit)
	}
}

func TestLimiterFixedIsASemaphore(t *testing.T) {
	l := NewLimiter(3, 0)
	ctx := context.Background()
	// Three fit; a fourth waits until one is released.
	for range 3 {
		if err := l.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := l.Acquire(short); err == nil {
		t.Fatal("a fourth acquired while three were in flight")
	}
	l.Release(OutcomeConflict, 0)
	if err := l.Acquire(ctx); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	for range 3 {
		l.Release(OutcomeConflict, 0)
	}
	// Many at once never exceed it.
	var mu sync.Mutex
	cur, peak := 0, 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if err := l.Acquire(ctx); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			cur++
			peak = max(peak, cur)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			cur--
			mu.Unlock()
			l.Release(OutcomeConflict, 0)
		})
	}
	wg.Wait()
	if peak > 3 || l.Limit() != 3 || l.InFlight() != 0 {
		t.Errorf("peak %d, limit %d, in flight %d; want at most 3, 3, 0", peak, l.Limit(), l.InFlight())
	}
}

func TestLimiterPausesAfter429(t *testing.T) {
	l := NewLimiter(2, 0)
	clock := time.Unix(100, 0)
	var mu sync.Mutex
	l.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	ctx := context.Background()
	if err := l.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	l.Release(OutcomeThrottled, 30*time.Second)
	// Paused: an acquire with a short deadline must give up.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := l.Acquire(short); err == nil {
		t.Fatal("acquired during a 30s pause")
	}
	mu.Lock()
	clock = clock.Add(31 * time.Second)
	mu.Unlock()
	if err := l.Acquire(ctx); err != nil {
		t.Fatalf("after the pause: %v", err)
	}
}
