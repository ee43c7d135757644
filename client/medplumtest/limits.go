package medplumtest

import (
	"encoding/json"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/medplumcli/medplum/client"
)

// Rate limiting (ratelimit.ts, fhir/fhirquota.ts): requests per category
// per window, reported on every answer as
// RateLimit: "requests";r=<remaining>;t=<seconds to reset>, plus the FHIR
// interaction quota ("fhirInteractions") on FHIR interactions of
// non-super-admins.

// RateLimitCategory names a group of routes that share a request budget.
type RateLimitCategory string

const (
	// RateLimitDefault is every route not in another category (60 000/min).
	RateLimitDefault RateLimitCategory = "default"
	// RateLimitAuth is /auth/* (except /auth/me) and /oauth2/* (160/min, as
	// the captured server was configured).
	RateLimitAuth RateLimitCategory = "auth"
)

type window struct {
	limit  int
	period time.Duration
	start  time.Time
	used   int
}

// take charges n points and reports what is left and when the window resets.
func (w *window) take(now time.Time, n int) (ok bool, remaining int, reset time.Duration) {
	if w.start.IsZero() || !now.Before(w.start.Add(w.period)) {
		w.start, w.used = now, 0
	}
	w.used += n
	reset = w.start.Add(w.period).Sub(now)
	return w.used <= w.limit, max(0, w.limit-w.used), reset
}

type rateLimiter struct {
	mu        sync.Mutex
	now       func() time.Time
	windows   map[RateLimitCategory]*window
	fhirLimit int  // points per minute per member
	enforce   bool // whether the FHIR quota answers 429
	fhir      map[string]*window
}

func newRateLimiter(now func() time.Time) *rateLimiter {
	return &rateLimiter{
		now: now,
		windows: map[RateLimitCategory]*window{
			RateLimitDefault: {limit: 60000, period: time.Minute},
			RateLimitAuth:    {limit: 160, period: time.Minute},
		},
		fhirLimit: 50000,
		fhir:      map[string]*window{},
	}
}

// SetRateLimit sets the request budget of a category; the window restarts.
// Requests beyond it get Medplum's 429.
func (s *Server) SetRateLimit(cat RateLimitCategory, limit int, window time.Duration) {
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	w := s.limits.windows[cat]
	if w == nil {
		panic("medplumtest: unknown rate-limit category " + string(cat))
	}
	w.limit, w.period, w.start, w.used = limit, window, time.Time{}, 0
}

// SetFHIRQuota enforces a FHIR interaction quota of points per minute per
// member (read 1, search 20, write 100; a conditional create 120, or 20
// when it finds a match or two; in a batch 140, or 40 when it finds its
// match). Without it the quota (50 000) is
// reported but never enforced.
func (s *Server) SetFHIRQuota(points int) {
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	s.limits.fhirLimit, s.limits.enforce = points, true
	s.limits.fhir = map[string]*window{}
}

func categoryOf(p string) RateLimitCategory {
	if p == "/auth/me" {
		return RateLimitDefault
	}
	if strings.HasPrefix(p, "/auth/") || strings.HasPrefix(p, "/oauth2/") {
		return RateLimitAuth
	}
	return RateLimitDefault
}

func seconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// check charges the request to its category; false means it was answered 429.
func (l *rateLimiter) check(c *reqCtx) bool {
	l.mu.Lock()
	ok, remaining, reset := l.windows[categoryOf(c.path)].take(l.now(), 1)
	l.mu.Unlock()
	rawSet(c.w.Header(), "RateLimit", fmt.Sprintf(`"requests";r=%d;t=%d`, remaining, seconds(reset)))
	if !ok {
		c.sendOutcome(tooManyRequests(0, reset))
	}
	return ok
}

// charge counts a FHIR interaction against the caller's quota and reports
// it in the fhirInteractions RateLimit header; false means it was answered
// 429.
func (c *reqCtx) charge(points int) bool { return c.consume(points, true) }

// consume counts points against the caller's quota, as Medplum's repository
// does for every write, Binary uploads included, and answers 429 when it is
// spent. Only the FHIR routes add the fhirInteractions RateLimit header
// (header), to their 429 too (capture 124e); a Binary upload's 429 has none
// (124d).
func (c *reqCtx) consume(points int, header bool) bool {
	if c.auth == nil || c.auth.superAdmin() {
		return true
	}
	l := c.s.limits
	member := c.auth.membership.id
	ok, remaining, reset, enforce, limit, used := l.takeFHIR(member, points)
	for !ok && enforce && c.job != nil {
		// An async batch job is not refused: it waits until the quota's
		// minute is over and charges again (fhirquota.ts block, async;
		// captures 409, 410).
		if !c.job.waitQuota(member) {
			break // the server stopped
		}
		ok, remaining, reset, enforce, limit, used = l.takeFHIR(member, points)
	}
	if header {
		c.fhirHeader = fmt.Sprintf(`"fhirInteractions";r=%d;t=%d`, remaining, seconds(reset))
	}
	if !ok && enforce {
		c.sendOutcome(quotaExceeded(limit, used, reset))
		return false
	}
	return true
}

// takeFHIR charges points to a member's FHIR quota window.
func (l *rateLimiter) takeFHIR(member string, points int) (ok bool, remaining int, reset time.Duration, enforce bool, limit, used int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.fhir[member]
	if w == nil {
		w = &window{period: time.Minute}
		l.fhir[member] = w
	}
	w.limit = l.fhirLimit
	ok, remaining, reset = w.take(l.now(), points)
	return ok, remaining, reset, l.enforce, l.fhirLimit, w.used
}

// quotaOver reports whether a member's spent quota minute is over: its
// window ended, or SetFHIRQuota started a new one with points left.
func (l *rateLimiter) quotaOver(member string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.fhir[member]
	return w == nil || !l.enforce || !l.now().Before(w.start.Add(w.period)) || w.used < l.fhirLimit
}

// quotaExceeded is the 429 of a spent FHIR quota: its diagnostics are the
// rate limiter's state as rate-limiter-flexible serializes it, underscores
// and all, plus the limit (fhir/fhirquota.ts; captures 124d, 124e).
func quotaExceeded(limit, used int, reset time.Duration) *client.OperationOutcome {
	o := outcome("too-many-requests", "error", "throttled", "Too Many Requests")
	diag, _ := json.Marshal(map[string]any{
		"_remainingPoints":   0,
		"_msBeforeNext":      reset.Milliseconds(),
		"_consumedPoints":    used,
		"_isFirstInDuration": false,
		"limit":              limit,
	})
	o.Issue[0].Diagnostics = string(diag)
	return o
}

func tooManyRequests(remaining int, reset time.Duration) *client.OperationOutcome {
	o := outcome("too-many-requests", "error", "throttled", "Too Many Requests")
	diag, _ := json.Marshal(map[string]any{
		"remainingPoints":   remaining,
		"msBeforeNext":      reset.Milliseconds(),
		"consumedPoints":    0,
		"isFirstInDuration": false,
	})
	o.Issue[0].Diagnostics = string(diag)
	return o
}

// Request is one request the server received, as it arrived.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
	Time     time.Time
}

type requestLog struct {
	mu   sync.Mutex
	off  bool
	list []Request
}

func (l *requestLog) add(r *http.Request, body []byte, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.off {
		return
	}
	l.list = append(l.list, Request{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body, Time: now,
	})
}

// Requests returns every request received since the start or the last
// ResetRequests, oldest first (faulted and dropped ones included).
func (s *Server) Requests() []Request {
	s.reqlog.mu.Lock()
	defer s.reqlog.mu.Unlock()
	return append([]Request(nil), s.reqlog.list...)
}

// RequestsTo returns the logged requests matching method ("" any) and a
// path.Match pattern ("" any).
func (s *Server) RequestsTo(method, pattern string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if method != "" && r.Method != method {
			continue
		}
		if pattern != "" && !pathMatch(pattern, r.Path) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// SetRequestLog turns the request log on (the default) or off. A server
// that takes 100k requests (bulk benchmarks, a long-running sandbox) can
// turn it off to keep memory flat.
func (s *Server) SetRequestLog(on bool) {
	s.reqlog.mu.Lock()
	defer s.reqlog.mu.Unlock()
	s.reqlog.off = !on
	if !on {
		s.reqlog.list = nil
	}
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.reqlog.mu.Lock()
	defer s.reqlog.mu.Unlock()
	s.reqlog.list = nil
}

// inviteModel reproduces how a real server behaves under concurrent invites
// into one project: each invite costs time (a parallel part and a part
// serialized per project, the database transaction), and an invite that
// commits while n invites into the project are in flight fails with a
// serialization conflict with probability 1-(1-q)^(n-1).
type inviteModel struct {
	mu       sync.Mutex
	rng      *mrand.Rand
	q        float64
	parallel time.Duration
	serialD  time.Duration
	inflight map[string]int
	locks    map[string]*sync.Mutex
}

func newInviteModel(seed uint64, q float64, parallel, serial time.Duration) *inviteModel {
	return &inviteModel{
		rng:      mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		q:        q,
		parallel: parallel,
		serialD:  serial,
		inflight: map[string]int{},
		locks:    map[string]*sync.Mutex{},
	}
}

// SetInviteCost changes the server-side cost of an invite (see WithInviteCost).
func (s *Server) SetInviteCost(parallel, serial time.Duration) {
	s.invites.mu.Lock()
	defer s.invites.mu.Unlock()
	s.invites.parallel, s.invites.serialD = parallel, serial
}

// SetConflictRate changes q of the invite conflict model (see
// WithConflictRate); a negative q restores the automatic default.
func (s *Server) SetConflictRate(q float64) {
	s.invites.mu.Lock()
	defer s.invites.mu.Unlock()
	s.invites.q = q
}

func (m *inviteModel) begin(project string) func() {
	m.mu.Lock()
	m.inflight[project]++
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		m.inflight[project]--
		m.mu.Unlock()
	}
}

func (m *inviteModel) parallelCost() {
	m.mu.Lock()
	d := m.parallel
	m.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
}

// serial enters the project's serialized section and spends its cost there.
func (m *inviteModel) serial(project string) func() {
	m.mu.Lock()
	l := m.locks[project]
	if l == nil {
		l = &sync.Mutex{}
		m.locks[project] = l
	}
	d := m.serialD
	m.mu.Unlock()
	l.Lock()
	if d > 0 {
		time.Sleep(d)
	}
	return l.Unlock
}

// conflicts draws whether the invite committing now fails.
func (m *inviteModel) conflicts(project string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.inflight[project]
	q := m.q
	if q < 0 { // automatic
		q = 0
		if m.parallel > 0 || m.serialD > 0 {
			q = RealisticConflictRate
		}
	}
	if q <= 0 || n <= 1 {
		return false
	}
	p := 1 - math.Pow(1-q, float64(n-1))
	return m.rng.Float64() < p
}
