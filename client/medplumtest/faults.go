package medplumtest

import (
	"bytes"
	"fmt"
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
)

// Fault is an injected failure for the next Times requests matching Method
// and Path.
type Fault struct {
	// Method matches the request method; "" matches any.
	Method string
	// Path is a path.Match pattern over the request path, e.g.
	// "/admin/projects/*/invite"; "" matches any path.
	Path string
	// Times is how many matching requests fail (0 means 1).
	Times int
	// Status answers with this status instead of handling the request:
	// 429 (Medplum's rate-limit answer, with RetryAfter as the RateLimit t=),
	// 409 (a serialization conflict, details.coding[0].code 40001),
	// 401, 403, 404, 410, 412 (Medplum's OperationOutcome for the status),
	// 500 (an unhandled error: {"msg":"Internal Server Error"}),
	// anything else, e.g. 502, 503, 504 (a proxy's HTML error page).
	Status int
	// RetryAfter is the reset time reported with a 429 (default 1s).
	RetryAfter time.Duration
	// Drop loses the connection instead (Status is then ignored).
	Drop DropMode
}

type faults struct {
	mu    sync.Mutex
	list  []*Fault
	delay time.Duration
}

// Inject adds a fault. Faults are consumed in the order they were added.
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

// ClearFaults removes every pending fault and the latency.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.list, s.faults.delay = nil, 0
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

// take consumes the first fault matching the request.
func (f *faults) take(r *http.Request, p string) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.list {
		if x.Method != "" && x.Method != r.Method {
			continue
		}
		if x.Path != "" && !pathMatch(x.Path, p) {
			continue
		}
		cp := *x
		x.Times--
		if x.Times <= 0 {
			f.list = append(f.list[:i], f.list[i+1:]...)
		}
		return &cp
	}
	return nil
}

// applyFault answers or wraps a faulted request. It returns false when the
// request must not be handled.
func (c *reqCtx) applyFault(f *Fault) bool {
	switch f.Drop {
	case DropBeforeHandling:
		hijackClose(c.w, nil)
		return false
	case DropAfterHandling, DropMidResponse:
		c.w = &capture{ResponseWriter: c.w, header: c.w.Header().Clone(), mode: f.Drop}
		return true
	}
	switch f.Status {
	case http.StatusTooManyRequests:
		t := f.RetryAfter
		if t <= 0 {
			t = time.Second
		}
		rawSet(c.w.Header(), "RateLimit", fmt.Sprintf(`"requests";r=0;t=%d`, int((t+time.Second-1)/time.Second)))
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

// finish loses the connection, after writing half the answer for
// DropMidResponse.
func (w *capture) finish() {
	if w.mode != DropMidResponse {
		hijackClose(w.ResponseWriter, nil)
		return
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "HTTP/1.1 %d %s\r\n", w.status, http.StatusText(w.status))
	_ = w.header.Write(&buf)
	buf.WriteString("\r\n")
	body := w.body.Bytes()
	buf.Write(body[:len(body)/2])
	hijackClose(w.ResponseWriter, buf.Bytes())
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
