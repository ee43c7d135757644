// Package medplumtest is an in-memory Medplum-compatible server for tests and
// demos, the way net/http/httptest serves net/http.
//
// It implements the slice of the Medplum 5.0.10 API that the CLI uses, with
// the real server's status codes, content types, headers and
// OperationOutcome shapes (captured responses in testdata/real-server are the
// ground truth), plus knobs for faults (rate limiting, injected 5xx and 409
// serialization conflicts, latency, dropped connections) and a request log.
//
//	srv := medplumtest.NewServer(t)
//	// srv.URL is the base URL ("http://127.0.0.1:PORT/"), srv.Seed what was seeded.
package medplumtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Server is an in-memory Medplum server. Create it with NewServer (tests) or
// New + Start (the sandbox binary). All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL with a trailing slash, e.g. "http://127.0.0.1:PORT/".
	// It is set by NewServer or Start.
	URL string
	// Seed describes what the server was seeded with.
	Seed Seed

	cfg config

	mu          sync.Mutex   // guards st, logins, projects' derived state, mail, refuseBasic
	txMu        sync.RWMutex // held shared by every request, exclusively by batches
	st          *store
	logins      map[string]*login
	mail        []SentEmail
	blobs       map[string]*blob // Binary content by id
	exports     map[string]*exportJob
	exportPolls int // SetExportPolls
	asyncJobs   map[string]*asyncJob
	asyncPolls  int           // SetAsyncBatchPolls
	stop        chan struct{} // closed when the server stops: async jobs end
	stopOnce    sync.Once
	refuseBasic bool // SetBasicAuth(false)

	layers []layer              // Express-style route table, in registration order
	grants map[string]grantFunc // oauth2/token grant types
	flows  loginFlows           // interactive sign-in state (login.go)
	key    []byte               // HS256 signing key for access tokens

	faults     *faults
	botHandler BotHandler
	reqlog     requestLog
	limits     *rateLimiter
	invites    *inviteModel

	seedAt time.Time // when seed() writes a generated member (zero: now)

	hs      *httptest.Server
	httpSrv *http.Server
}

// Option configures a Server.
type Option func(*config)

type config struct {
	clientID, clientSecret     string
	saClientID, saClientSecret string
	adminEmail, adminPassword  string
	projectName                string
	members                    int
	now                        func() time.Time
	seed                       uint64
	seeded                     bool
	inviteParallel             time.Duration
	inviteSerial               time.Duration
	conflictQ                  float64
	mailer                     bool
	baseURL                    string
	tokenLifetime              time.Duration
	noBots                     bool
	botDeployCost              time.Duration
	maxOffset                  int
	clockSet                   bool // WithClock: seed at the clock's time
}

// WithClient fixes the project-admin ClientApplication's id and secret
// (random by default).
func WithClient(id, secret string) Option {
	return func(c *config) { c.clientID, c.clientSecret = id, secret }
}

// WithSuperAdminClient fixes the super-admin ClientApplication's id and secret.
func WithSuperAdminClient(id, secret string) Option {
	return func(c *config) { c.saClientID, c.saClientSecret = id, secret }
}

// WithAdmin sets the admin user's e-mail and password
// (default admin@example.com / medplum_admin, as a fresh Medplum server).
func WithAdmin(email, password string) Option {
	return func(c *config) { c.adminEmail, c.adminPassword = email, password }
}

// WithProjectName names the seeded project (default "Sandbox Project").
func WithProjectName(name string) Option { return func(c *config) { c.projectName = name } }

// WithMembers adds n generated members to the seeded project (Practitioners
// member0001@example.com, ... with project-scoped users), for paging tests.
func WithMembers(n int) Option { return func(c *config) { c.members = n } }

// WithClock sets the server's clock (time.Now by default). Token expiry,
// meta.lastUpdated and rate-limit windows read it.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now, c.clockSet = now, true }
}

// WithSeed makes the random parts of the fault model (invite conflicts)
// deterministic.
func WithSeed(seed uint64) Option { return func(c *config) { c.seed, c.seeded = seed, true } }

// WithInviteCost sets the server-side cost of one invite: a part that runs in
// parallel with other requests and a part that is serialized across the
// project (the database transaction). Zero by default; the sandbox uses
// RealisticInviteCost.
func WithInviteCost(parallel, serial time.Duration) Option {
	return func(c *config) { c.inviteParallel, c.inviteSerial = parallel, serial }
}

// RealisticInviteParallel and RealisticInviteSerial are the invite costs that
// reproduce a real Medplum 5.0.10 server's goodput curve (peak at 2-3 invites
// in flight) together with the default conflict rate.
const (
	RealisticInviteParallel = 60 * time.Millisecond
	RealisticInviteSerial   = 40 * time.Millisecond
)

// WithConflictRate sets q in the invite conflict model: an invite that
// commits while n invites into the same project are in flight fails with 409
// and details.coding[0].code "40001" with probability 1-(1-q)^(n-1).
// RealisticConflictRate (0.08) fits the rates measured on a real server (21%
// at 4 in flight, 50% at 8, 72% at 16). By default the model uses it only
// when invites cost time (WithInviteCost): on a zero-cost server no two
// transactions are ever open at once, so unit tests see no conflicts unless
// they ask for them. 0 disables conflicts.
func WithConflictRate(q float64) Option { return func(c *config) { c.conflictQ = q } }

// RealisticConflictRate is q of the conflict model that reproduces a real
// Medplum 5.0.10 server.
const RealisticConflictRate = 0.08

// WithMailer installs a working fake mailer: invites with sendEmail not false
// succeed and the e-mails are recorded (SentEmails). Without it the server
// behaves like a server without SES: HTTP 200 with an error OperationOutcome.
func WithMailer() Option { return func(c *config) { c.mailer = true } }

// WithBaseURL sets the base URL the server writes into links (Bundle links,
// fullUrl, Location), like Medplum's baseUrl setting. By default it is the
// URL the server listens on. Tests use it to produce next links that point at
// another host.
func WithBaseURL(u string) Option { return func(c *config) { c.baseURL = u } }

// WithTokenLifetime sets the access-token lifetime (default 1 hour).
func WithTokenLifetime(d time.Duration) Option { return func(c *config) { c.tokenLifetime = d } }

// WithMaxSearchOffset sets the largest _offset a search accepts (Medplum's
// maxSearchOffset setting, default 10,000; capture 171), so that a test can
// page past it with a few hundred resources instead of ten thousand.
func WithMaxSearchOffset(n int) Option { return func(c *config) { c.maxOffset = n } }

// New returns a seeded Server that is not listening yet: serve Handler
// yourself or call Start.
func New(opts ...Option) *Server {
	cfg := config{
		adminEmail:    "admin@example.com",
		adminPassword: "medplum_admin",
		projectName:   "Sandbox Project",
		now:           time.Now,
		conflictQ:     -1, // automatic: RealisticConflictRate when invites cost time
		tokenLifetime: time.Hour,
		maxOffset:     maxOffset,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if !cfg.seeded {
		cfg.seed = mrand.Uint64()
	}
	s := &Server{
		cfg:         cfg,
		st:          newStore(),
		logins:      map[string]*login{},
		blobs:       map[string]*blob{},
		exports:     map[string]*exportJob{},
		exportPolls: 1,
		asyncJobs:   map[string]*asyncJob{},
		asyncPolls:  1,
		stop:        make(chan struct{}),
		grants:      map[string]grantFunc{},
		key:         randomBytes(32),
		faults:      &faults{},
	}
	s.limits = newRateLimiter(s.now)
	s.invites = newInviteModel(cfg.seed, cfg.conflictQ, cfg.inviteParallel, cfg.inviteSerial)
	s.routes()
	s.seed()
	return s
}

// NewServer starts a seeded Server on a loopback port and closes it when the
// test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := New(opts...)
	// URL is set before the server starts serving, so that handlers read it
	// race-free.
	s.hs = httptest.NewUnstartedServer(s.Handler())
	s.URL = "http://" + s.hs.Listener.Addr().String() + "/"
	s.hs.Start()
	t.Cleanup(s.Close)
	return s
}

// Start serves on ln in the background; URL is derived from ln's address.
func (s *Server) Start(ln net.Listener) {
	s.URL = "http://" + ln.Addr().String() + "/"
	s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.httpSrv.Serve(ln) }()
}

// Shutdown stops a server started with Start gracefully, waiting for
// requests in flight until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	if s.httpSrv != nil {
		return s.httpSrv.Shutdown(ctx)
	}
	s.Close()
	return nil
}

// Close stops the server immediately.
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	if s.hs != nil {
		s.hs.CloseClientConnections()
		s.hs.Close()
	}
	if s.httpSrv != nil {
		_ = s.httpSrv.Close()
	}
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Server) now() time.Time { return s.cfg.now() }

// baseURL is the URL written into links.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.baseURL != "" {
		return s.cfg.baseURL
	}
	if s.URL != "" {
		return s.URL
	}
	return "http://" + r.Host + "/"
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// newID returns a random UUID v4, as Medplum ids are.
func newID() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newSecret returns a random hex secret of n characters (Medplum's generateSecret).
func newSecret(n int) string { return hex.EncodeToString(randomBytes((n + 1) / 2))[:n] }
