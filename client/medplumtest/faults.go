package medplumtest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"sync"
	"time"
)

// Fault knobs. All are safe to change while the server runs.

// DropMode says how a faulted request loses its connection.
type DropMode int

const (
	// NoDrop answers normally (or with the fault's Status).
	NoDrop DropMode = iota
	// DropBeforeHandling closes the connection without an answer; the
	// request has no effect.
	DropBeforeHandling
	// DropAfterHandling handles the request (its effect happens) and then
	// closes the connection without an answer.
	DropAfterHandling
	// DropMidResponse handles the request, writes the status line, headers
	// and half of the body, then closes the connection.
	DropMidResponse
	// StallMidResponse handles the request, writes the status line,
	// headers and half of the body, then sends nothing more until Hold is
	// closed or the client goes away, and closes the connection: an answer
	// that stops half-way.
	StallMidResponse
)

// Fault is an injected failure (or hold) for the next Times requests
// matching Method, Path and Body, after Skip of them went through.
type Fault struct {
	// Method matches the request method; "" matches any.
	Method string
	// Path is a path.Match pattern over the request path, e.g.
	// "/admin/projects/*/invite"; "" matches any path.
	Path string
	// Body, when set, matches only requests whose body contains it, e.g.
	// one user's e-mail in an invite: the fault then hits that user's
	// requests whatever order they come in.
	Body string
	// Skip lets this many matching requests through before the fault
	// applies: with Body, Skip 1 faults a user's second request (a retry).
	// Matching requests are counted from Inject on, whether or not another
	// fault took them.
	Skip int
	// Times is how many matching requests fail (0 means 1).
	Times int
	// Status answers with this status instead of handling the request:
	// 429 (Medplum's rate-limit answer, with RetryAfter as the RateLimit t=),
	// 409 (a serialization conflict, details.coding[0].code 40001),
	// 401, 403, 404, 410, 412 (Medplum's OperationOutcome for the status),
	// 500 (an unhandled error: {"msg":"Internal Server Error"}),
	// anything else, e.g. 502, 503, 504 (a proxy's HTML error page).
	// 0 without Drop handles the request as usual (a fault that only Holds).
	Status int
	// RetryAfter is the reset time reported with a 429 (default 1s).
	RetryAfter time.Duration
	// Drop loses the connection instead (Status is then ignored).
	Drop DropMode
	// Hold, when set, holds back what the fault does to the client until
	// the channel is closed or the client goes away: the answer (Status),
	// the lost connection (Drop), or, for a fault with neither, the
	// handling of the request. A DropAfterHandling or DropMidResponse
	// request takes effect at once; only its (lost) answer waits. A
	// never-closed Hold is a server that never answers. StallMidResponse
	// holds the rest of the answer, whether or not Hold is set.
	Hold <-chan struct{}
	// Before, when set, runs just before the request is handled (after
	// Hold, and before Status answers it): what another client did in
	// that instant, e.g. Server.Update of a resource that the request
	// writes back after reading it (an edit landing between a read and a
	// write, which If-Match answers 412: captures 556b, 556c). It runs
	// before the server takes any lock for the request.
	Before func()
}

type faults struct {
	mu    sync.Mutex
	list  []*Fault
	delay time.Duration
	// batchConflicts are the entries of the next batch or transaction
	// Bundle that answer a serialization conflict (ConflictBatchEntries).
	batchConflicts map[int]bool
}

// ConflictBatchEntries makes the entries at these (0-based) positions of
// the next batch or transaction Bundle fail with a serialization conflict,
// each answered 409 (an OperationOutcome with details.coding code "40001")
// inside the Bundle's 200 while the other entries are done: what 5.0.10
// answers when batches of conditional creates run concurrently (capture
// 417).
func (s *Server) ConflictBatchEntries(positions ...int) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.batchConflicts = map[int]bool{}
	for _, p := range positions {
		s.faults.batchConflicts[p] = true
	}
}

// takeBatchConflicts returns the conflicting entries of a Bundle, once.
func (f *faults) takeBatchConflicts() map[int]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.batchConflicts
	f.batchConflicts = nil
	return c
}

// Inject adds a fault. A request is taken by the first fault (in the order
// they were added) that matches it and has no Skip left.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.list = append(s.faults.list, &f)
}

// FailNext answers the next n requests matching method and pattern with status.
func (s *Server) FailNext(n, status int, method, pattern string) {
	s.Inject(Fault{Method: method, Path: pattern, Times: n, Status: status})
}

// ConflictNext answers the next n matching requests with a 409
// serialization conflict (details.coding[0].code "40001").
func (s *Server) ConflictNext(n int, method, pattern string) {
	s.FailNext(n, http.StatusConflict, method, pattern)
}

// DropNext drops the connection of the next n matching requests.
func (s *Server) DropNext(n int, mode DropMode, method, pattern string) {
	s.Inject(Fault{Method: method, Path: pattern, Times: n, Drop: mode})
}

// PendingFaults returns the faults not used up yet, with the Skip and Times
// they have left, in the order they were added. A test that ties faults to
// requests checks with it that every fault was used.
func (s *Server) PendingFaults() []Fault {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	out := make([]Fault, 0, len(s.faults.list))
	for _, f := range s.faults.list {
		out = append(out, *f)
	}
	return out
}

// ClearFaults removes every pending fault and the latency.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.list, s.faults.delay = nil, 0
}

// SetBasicAuth turns HTTP Basic client credentials on API routes on (the
// default, as Medplum) or off. Off, every request with Basic credentials is
// answered as one with a wrong secret is (401 Unauthorized, capture 46), as
// by a server or proxy that does not take them; the token endpoint still
// does.
func (s *Server) SetBasicAuth(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseBasic = !on
}

// SetLatency delays every request by d before it is handled.
func (s *Server) SetLatency(d time.Duration) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.delay = d
}

func (f *faults) latency() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.delay
}

// take consumes the first fault matching the request that has no Skip
// left; every matching fault with Skip left counts the request.
func (f *faults) take(r *http.Request, p string, body []byte) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	taken := -1
	for i, x := range f.list {
		if x.Method != "" && x.Method != r.Method {
			continue
		}
		if x.Path != "" && !pathMatch(x.Path, p) {
			continue
		}
		if x.Body != "" && !bytes.Contains(body, []byte(x.Body)) {
			continue
		}
		if x.Skip > 0 {
			x.Skip--
			continue
		}
		if taken < 0 {
			taken = i
		}
	}
	if taken < 0 {
		return nil
	}
	x := f.list[taken]
	cp := *x
	if x.Times--; x.Times <= 0 {
		f.list = append(f.list[:taken], f.list[taken+1:]...)
	}
	return &cp
}

// hold waits until ch is closed (at once when ch is nil) or the client
// gives up. It reports whether the request is still wanted.
func hold(r *http.Request, ch <-chan struct{}) bool {
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-r.Context().Done():
		return false
	}
}

// applyFault answers or wraps a faulted request. It returns false when the
// request must not be handled.
func (c *reqCtx) applyFault(f *Fault) bool {
	switch f.Drop {
	case DropBeforeHandling:
		if hold(c.r, f.Hold) {
			hijackClose(c.w, nil)
		}
		return false
	case DropAfterHandling, DropMidResponse, StallMidResponse:
		c.w = &capture{ResponseWriter: c.w, header: c.w.Header().Clone(), mode: f.Drop}
		return true
	}
	if !hold(c.r, f.Hold) {
		return false
	}
	if f.Before != nil {
		f.Before()
	}
	switch f.Status {
	case 0: // only held: handled as usual
		return true
	case http.StatusTooManyRequests:
		t := f.RetryAfter
		if t <= 0 {
			t = time.Second
		}
		rawSet(c.w.Header(), "RateLimit", fmt.Sprintf(`"requests";r=0;t=%d`, seconds(t)))
		c.sendOutcome(tooManyRequests(0, t))
	case http.StatusConflict:
		c.sendOutcome(serializationConflict())
	case http.StatusUnauthorized:
		c.unauthorized(false)
	case http.StatusForbidden:
		c.sendOutcome(forbidden())
	case http.StatusNotFound:
		c.sendOutcome(notFound())
	case http.StatusGone:
		c.sendOutcome(gone())
	case http.StatusPreconditionFailed:
		c.sendOutcome(preconditionFailed())
	case http.StatusInternalServerError:
		c.json(500, map[string]string{"msg": "Internal Server Error"})
	default:
		text := http.StatusText(f.Status)
		c.text(f.Status, "<html>\r\n<head><title>"+strconv.Itoa(f.Status)+" "+text+"</title></head>\r\n<body>\r\n<center><h1>"+
			strconv.Itoa(f.Status)+" "+text+"</h1></center>\r\n</body>\r\n</html>\r\n")
	}
	return false
}

// capture buffers a handler's answer so that it can be dropped after the
// request took effect.
type capture struct {
	http.ResponseWriter
	header http.Header
	status int
	body   bytes.Buffer
	mode   DropMode
}

func (w *capture) Header() http.Header { return w.header }
func (w *capture) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}
func (w *capture) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	return w.body.Write(b)
}

// finish loses the connection once ch is closed (or the client goes
// away), after writing half the answer for DropMidResponse;
// StallMidResponse writes half the answer first, then waits.
func (w *capture) finish(r *http.Request, ch <-chan struct{}) {
	if w.mode == StallMidResponse {
		w.stall(ch)
		return
	}
	hold(r, ch)
	if w.mode != DropMidResponse {
		hijackClose(w.ResponseWriter, nil)
		return
	}
	hijackClose(w.ResponseWriter, w.half())
}

// half is the status line, the headers and half of the body.
func (w *capture) half() []byte {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "HTTP/1.1 %d %s\r\n", w.status, http.StatusText(w.status))
	_ = w.header.Write(&buf)
	buf.WriteString("\r\n")
	body := w.body.Bytes()
	buf.Write(body[:len(body)/2])
	return buf.Bytes()
}

// stall writes half the answer, then waits for ch to be closed or for the
// client to close the connection (a hijacked connection has no request
// context to tell), and closes it.
func (w *capture) stall(ch <-chan struct{}) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		panic("medplumtest: connection cannot be hijacked")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = rw.Write(w.half())
	if rw.Flush() != nil {
		return
	}
	gone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		close(gone)
	}()
	select {
	case <-ch:
	case <-gone:
	}
}

// hijackClose takes the connection over, writes raw bytes and closes it.
func hijackClose(w http.ResponseWriter, raw []byte) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("medplumtest: connection cannot be hijacked")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	if raw != nil {
		_, _ = rw.Write(raw)
		_ = rw.Flush()
	}
	_ = conn.Close()
}

func pathMatch(pattern, p string) bool {
	ok, _ := path.Match(pattern, p)
	return ok
}
