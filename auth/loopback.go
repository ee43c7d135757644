package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultCallbackPort is the loopback port of a browser login. The server's
// built-in medplum-cli client registers exactly http://localhost:9615.
const DefaultCallbackPort = 9615

// ErrCallbackPortBusy is matched by the error of ListenCallback when another
// program already listens on the port.
var ErrCallbackPortBusy = errors.New("callback port busy")

// ErrStateMismatch is matched when a redirect carries a state other than the
// one this login sent: it belongs to another login attempt, or to an attacker.
var ErrStateMismatch = errors.New("the browser returned a sign-in for a different request (state mismatch)")

// Callback is the loopback HTTP listener a browser login is redirected to:
// http://localhost:<port>/?code=...&state=... (or ?error=...).
type Callback struct {
	redirectURI string
	srv         *http.Server
	results     chan callbackResult
	once        sync.Once
}

type callbackResult struct {
	code, state string
	err         error
}

// ListenCallback listens on 127.0.0.1:port (and [::1]:port when the machine
// has IPv6 loopback, because browsers may resolve localhost to either). Port 0
// picks a free port. The redirect URI is http://localhost:<port>.
func ListenCallback(port int) (*Callback, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) || isAddrInUse(err) {
			return nil, fmt.Errorf("%w: port %d on 127.0.0.1 is already in use (another sign-in still waiting?)", ErrCallbackPortBusy, port)
		}
		return nil, fmt.Errorf("listen for the browser's redirect on 127.0.0.1:%d: %w", port, err)
	}
	port = ln.Addr().(*net.TCPAddr).Port
	cb := &Callback{
		redirectURI: "http://localhost:" + strconv.Itoa(port),
		results:     make(chan callbackResult, 1),
	}
	cb.srv = &http.Server{Handler: http.HandlerFunc(cb.serve), ReadHeaderTimeout: 10 * time.Second}
	go cb.srv.Serve(ln)
	if ln6, err := net.Listen("tcp", net.JoinHostPort("::1", strconv.Itoa(port))); err == nil {
		go cb.srv.Serve(ln6)
	}
	return cb, nil
}

func isAddrInUse(err error) bool {
	// Windows reports WSAEADDRINUSE (10048), which syscall.EADDRINUSE does not match.
	return strings.Contains(err.Error(), "address already in use") ||
		strings.Contains(err.Error(), "Only one usage of each socket address")
}

// RedirectURI is the redirect_uri to send with the authorization request.
func (cb *Callback) RedirectURI() string { return cb.redirectURI }

// Close stops the listener.
func (cb *Callback) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return cb.srv.Shutdown(ctx)
}

// serve answers the browser. Only "/" with a code or an error counts; other
// requests (favicon.ico, a port scanner) get 404 and are ignored.
func (cb *Callback) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.URL.Path != "/" || (q.Get("code") == "" && q.Get("error") == "") {
		http.NotFound(w, r)
		return
	}
	res := parseRedirect(q)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if res.err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "Sign-in failed: %v\nReturn to the terminal for details.\n", res.err)
	} else {
		fmt.Fprint(w, "Signed in to medplum. You may close this window and return to the terminal.\n")
	}
	cb.once.Do(func() { cb.results <- res })
}

// parseRedirect reads code and state, or the OAuth error, from the query of
// the redirect.
func parseRedirect(q url.Values) callbackResult {
	if e := q.Get("error"); e != "" {
		msg := e
		if d := q.Get("error_description"); d != "" {
			msg += ": " + d
		}
		return callbackResult{state: q.Get("state"), err: fmt.Errorf("the server refused the sign-in: %s", msg)}
	}
	return callbackResult{code: q.Get("code"), state: q.Get("state")}
}

// ParsePasted reads what a user pasted after a --no-browser sign-in: the whole
// URL the browser was redirected to (its state is checked), or the bare code.
func ParsePasted(s, state string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("nothing was pasted")
	}
	if !strings.Contains(s, "=") {
		return s, nil // a bare code
	}
	raw := s
	if i := strings.IndexByte(s, '?'); i >= 0 {
		raw = s[i+1:]
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "", fmt.Errorf("the pasted text is neither a URL nor a code: %w", err)
	}
	return checkResult(parseRedirect(q), state)
}

func checkResult(res callbackResult, state string) (string, error) {
	if res.err != nil {
		return "", res.err
	}
	if res.code == "" {
		return "", errors.New("the redirect carries no code")
	}
	if !equalSecret(res.state, state) {
		return "", ErrStateMismatch
	}
	return res.code, nil
}

// Wait returns the authorization code once the browser is redirected with the
// expected state. A redirect with another state fails the login, since nothing
// but this login should know the loopback address.
func (cb *Callback) Wait(ctx context.Context, state string) (string, error) {
	select {
	case res := <-cb.results:
		return checkResult(res, state)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
