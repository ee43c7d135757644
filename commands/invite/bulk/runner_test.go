package bulk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
)

// bearer is the simplest Authenticator: a fixed token.
type bearer string

func (b bearer) Apply(_ context.Context, r *http.Request) error {
	r.Header.Set("Authorization", "Bearer "+string(b))
	return nil
}
func (b bearer) Refresh(context.Context) (bool, error) { return false, nil }

// fixture is a server, a signed-in client and a directory for files.
type fixture struct {
	t   *testing.T
	srv *medplumtest.Server
	c   *client.Client
	dir string
}

func newFixture(t *testing.T, opts ...medplumtest.Option) *fixture {
	srv := medplumtest.NewServer(t, append([]medplumtest.Option{medplumtest.WithSeed(1)}, opts...)...)
	c, err := client.New(client.Options{BaseURL: srv.URL, Auth: bearer(srv.IssueToken(srv.Seed.Client.MembershipID))})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, srv: srv, c: c, dir: t.TempDir()}
}

// run checks and runs a CSV, collecting results by line.
type runOutcome struct {
	stats   Stats
	err     error
	results map[int]Result
	order   []int
}

func (f *fixture) run(ctx context.Context, csvText string, cfg RunConfig) runOutcome {
	f.t.Helper()
	path := filepath.Join(f.dir, "users.csv")
	if err := os.WriteFile(path, []byte(csvText), 0o600); err != nil {
		f.t.Fatal(err)
	}
	check, err := Check(strings.NewReader(csvText), cfg.Options)
	if err != nil {
		f.t.Fatal(err)
	}
	j, resume, err := OpenJournal(path+".journal", JournalKey{Input: check.DigestString(), Server: f.c.BaseURL(), Project: f.srv.Seed.ProjectID})
	if err != nil {
		f.t.Fatal(err)
	}
	defer j.Close()
	out := runOutcome{results: map[int]Result{}}
	var mu sync.Mutex
	cfg.Client, cfg.Project, cfg.Check, cfg.Journal, cfg.Resume = f.c, f.srv.Seed.ProjectID, check, j, resume
	if cfg.Retry == (RetryPolicy{}) {
		cfg.Retry = RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond}
	}
	cfg.OnResult = func(r Result) error {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := out.results[r.Line]; dup {
			f.t.Errorf("line %d reported twice", r.Line)
		}
		out.results[r.Line] = r
		out.order = append(out.order, r.Line)
		return nil
	}
	out.stats, out.err = Run(ctx, strings.NewReader(csvText), cfg)
	return out
}

// invites are the invite requests the server received.
func (f *fixture) invites() []medplumtest.Request {
	return f.srv.RequestsTo(http.MethodPost, "/admin/projects/*/invite")
}

// membersWith returns the memberships in the project whose user has the e-mail.
func (f *fixture) membersWith(email string) int {
	n := 0
	for _, m := range f.srv.Memberships(f.srv.Seed.ProjectID) {
		if strings.EqualFold(m.Display("user"), email) {
			n++
		}
	}
	return n
}

func csvRows(n int, role string) string {
	var b strings.Builder
	b.WriteString("role,firstName,lastName,email\n")
	for i := range n {
		fmt.Fprintf(&b, "%s,First%d,Last%d,user%04d@example.com\n", role, i, i, i)
	}
	return b.String()
}

func TestRunCreatesExistsAndFails(t *testing.T) {
	f := newFixture(t, medplumtest.WithMailer())
	f.srv.Create(f.srv.Seed.ProjectID, client.Resource{"resourceType": "AccessPolicy", "id": "ap1", "name": "Staff"})
	data := "role,firstName,lastName,email,externalId,accessPolicy,param:org,sendEmail\n" +
		"Practitioner,Alice,Smith,alice@example.com,,ap1,Organization/abc,yes\n" + // 2 created, e-mailed
		"Patient,Homer,Simpson,homer@example.com,,,,\n" + // 3 seeded member: exists
		"Patient,Bart,Simpson,,mrn-1,,,\n" + // 4 created by external id
		"Practitioner,Nick,Riviera,nick@example.com,,nope,Organization/abc,\n" // 5 policy does not exist: failed
	out := f.run(context.Background(), data, RunConfig{Options: Options{}})
	if out.err != nil {
		t.Fatal(out.err)
	}
	want := map[int]Status{2: Created, 3: Exists, 4: Created, 5: Failed}
	for line, st := range want {
		if got := out.results[line]; got.Status != st {
			t.Errorf("line %d: %+v, want %s", line, got, st)
		}
	}
	homer := f.srv.MembershipByEmail(f.srv.Seed.ProjectID, "homer@example.com")
	if out.results[3].Membership != homer.ID() || out.results[3].Membership != f.srv.Seed.Homer.MembershipID {
		t.Errorf("exists row names membership %q, want Homer's %s", out.results[3].Membership, f.srv.Seed.Homer.MembershipID)
	}
	alice := f.srv.MembershipByEmail(f.srv.Seed.ProjectID, "alice@example.com")
	if alice == nil || out.results[2].Membership != alice.ID() {
		t.Fatalf("alice: %v, result %+v", alice, out.results[2])
	}
	if acc, _ := alice["access"].([]any); len(acc) != 1 {
		t.Errorf("alice's access = %v", alice["access"])
	}
	if got := out.results[5].Error; got != "Access policy AccessPolicy/nope does not exist" {
		t.Errorf("line 5 error %q", got)
	}
	if n := len(f.srv.SentEmails()); n != 1 {
		t.Errorf("%d e-mails sent, want 1 (only alice asked)", n)
	}
	if out.stats.Done != 4 || out.stats.Counts[Created] != 2 || out.stats.Counts[Exists] != 1 || out.stats.Counts[Failed] != 1 {
		t.Errorf("stats %+v", out.stats)
	}
	// Every request body carried an explicit sendEmail.
	for _, r := range f.invites() {
		if !strings.Contains(string(r.Body), `"sendEmail":`) {
			t.Errorf("invite without sendEmail: %s", r.Body)
		}
	}
}

func TestRunUpsert(t *testing.T) {
	f := newFixture(t)
	data := "role,firstName,lastName,email,admin\nPatient,Homer,Simpson,homer@example.com,true\nPatient,Lisa,Simpson,lisa@example.com,\n"
	out := f.run(context.Background(), data, RunConfig{Upsert: true})
	if out.err != nil {
		t.Fatal(out.err)
	}
	if out.results[2].Status != Updated || out.results[2].Membership != f.srv.Seed.Homer.MembershipID {
		t.Errorf("homer: %+v", out.results[2])
	}
	if out.results[3].Status != Created {
		t.Errorf("lisa: %+v", out.results[3])
	}
	if admin, _ := f.srv.Resource("ProjectMembership", f.srv.Seed.Homer.MembershipID).Bool("admin"); !admin {
		t.Error("homer's membership was not updated")
	}
	// Lisa was invited once, without upsert; Homer twice, the second time with it.
	var bodies []string
	for _, r := range f.invites() {
		bodies = append(bodies, string(r.Body))
	}
	if len(bodies) != 3 || strings.Count(strings.Join(bodies, "\n"), `"upsert":true`) != 1 {
		t.Errorf("invite bodies:\n%s", strings.Join(bodies, "\n"))
	}
}

func TestRunEmailFailureIsCreated(t *testing.T) {
	f := newFixture(t) // no mailer: 200 with an error OperationOutcome
	out := f.run(context.Background(), "firstName,lastName,email,sendEmail\nMarge,Simpson,marge@example.com,true\n", RunConfig{})
	if out.err != nil {
		t.Fatal(out.err)
	}
	r := out.results[2]
	m := f.srv.MembershipByEmail(f.srv.Seed.ProjectID, "marge@example.com")
	if r.Status != Created || m == nil || r.Membership != m.ID() {
		t.Fatalf("result %+v, membership %v", r, m)
	}
	if want := "membership created, but the server reported: Could not send email. Make sure you have AWS SES set up. (Error sending email: Could not load credentials from any providers)"; r.Error != want {
		t.Errorf("error %q", r.Error)
	}
}

// Every kind of transient failure, injected on the invite route, ends with
// each row created exactly once.
func TestRunRetriesTransientFailures(t *testing.T) {
	f := newFixture(t)
	const route = "/admin/projects/*/invite"
	f.srv.Inject(medplumtest.Fault{Method: "POST", Path: route, Times: 3, Status: 409})
	f.srv.Inject(medplumtest.Fault{Method: "POST", Path: route, Times: 2, Status: 503})
	f.srv.Inject(medplumtest.Fault{Method: "POST", Path: route, Times: 1, Status: 429, RetryAfter: time.Millisecond})
	f.srv.Inject(medplumtest.Fault{Method: "POST", Path: route, Times: 2, Drop: medplumtest.DropAfterHandling})
	f.srv.Inject(medplumtest.Fault{Method: "POST", Path: route, Times: 2, Drop: medplumtest.DropBeforeHandling})
	f.srv.Inject(medplumtest.Fault{Method: "POST", Path: route, Times: 2, Drop: medplumtest.DropMidResponse})
	f.srv.Inject(medplumtest.Fault{Method: "POST", Path: route, Times: 1, Status: 502})
	before := len(f.srv.Memberships(f.srv.Seed.ProjectID))
	out := f.run(context.Background(), csvRows(20, "Practitioner"), RunConfig{Concurrency: 2})
	if out.err != nil {
		t.Fatal(out.err)
	}
	for line := 2; line <= 21; line++ {
		if r := out.results[line]; r.Status != Created || r.Membership == "" {
			t.Errorf("line %d: %+v", line, r)
		}
		if n := f.membersWith(fmt.Sprintf("user%04d@example.com", line-2)); n != 1 {
			t.Errorf("line %d: %d memberships", line, n)
		}
	}
	if after := len(f.srv.Memberships(f.srv.Seed.ProjectID)); after != before+20 {
		t.Errorf("%d memberships, want %d", after, before+20)
	}
	if out.stats.Conflicts != 3 || out.stats.Throttled != 1 {
		t.Errorf("stats %+v", out.stats)
	}
	// 13 faulted attempts, plus one successful send for each row except
	// the 4 whose membership was made before the answer was lost (dropped
	// after handling, or mid-answer): a lookup settles those, no resend.
	if n := len(f.invites()); n != 13+20-4 {
		t.Errorf("%d invite requests, want 29", n)
	}
}

// A row that an earlier run left in flight is looked up, not sent again, when
// the server has its membership; it is sent when the server has none.
func TestRunReconcilesInFlightRows(t *testing.T) {
	f := newFixture(t)
	data := csvRows(3, "Practitioner") + "Patient,Bart,Simpson,\n"
	// What a killed run 1 left: line 2's invite reached the server (made
	// here directly) but its answer was not recorded; line 3 was about to be
	// sent; line 4 finished. The journal is written as run 1 would have.
	if _, err := f.c.Invite(context.Background(), f.srv.Seed.ProjectID, &client.InviteRequest{
		ResourceType: "Practitioner", FirstName: "First0", LastName: "Last0", Email: "user0000@example.com", SendEmail: new(false)}); err != nil {
		t.Fatal(err)
	}
	check, _ := Check(strings.NewReader(data), Options{})
	path := filepath.Join(f.dir, "users.csv.journal")
	j, _, err := OpenJournal(path, JournalKey{Input: check.DigestString(), Server: f.c.BaseURL(), Project: f.srv.Seed.ProjectID})
	if err != nil {
		t.Fatal(err)
	}
	j.Start(2, false) // made on the server, answer lost
	j.Start(3, false) // never reached the server
	j.Start(4, false)
	j.Finish(4, Entry{Status: Created, Membership: "m-from-run-1"}, false)
	j.Close()
	f.srv.ResetRequests()

	out := f.run(context.Background(), data, RunConfig{SkipInvalid: true})
	if out.err != nil {
		t.Fatal(out.err)
	}
	if r := out.results[2]; r.Status != Created || r.Membership == "" || r.Earlier {
		t.Errorf("line 2 (in flight, made): %+v", r)
	}
	if r := out.results[3]; r.Status != Created {
		t.Errorf("line 3 (in flight, not made): %+v", r)
	}
	if r := out.results[4]; r.Status != Created || r.Membership != "m-from-run-1" || !r.Earlier {
		t.Errorf("line 4 (done by run 1): %+v", r)
	}
	if r := out.results[5]; r.Status != Skipped || r.Error != "email: is required (or an externalId)" {
		t.Errorf("line 5 (invalid): %+v", r)
	}
	var sent []string
	for _, r := range f.invites() {
		sent = append(sent, string(r.Body))
	}
	if len(sent) != 1 || !strings.Contains(sent[0], "user0001@example.com") {
		t.Errorf("invites sent by run 2: %q; want only line 3's", sent)
	}
	for _, e := range []string{"user0000@example.com", "user0001@example.com"} {
		if n := f.membersWith(e); n != 1 {
			t.Errorf("%s: %d memberships", e, n)
		}
	}
}

func TestRunRefusesInvalidFileWithoutSkip(t *testing.T) {
	f := newFixture(t)
	out := f.run(context.Background(), "firstName,lastName,email\nA,B,bad\n", RunConfig{})
	if out.err != ErrInvalidRows || len(f.invites()) != 0 {
		t.Fatalf("err %v, %d invites", out.err, len(f.invites()))
	}
}

func TestRunStopsOnForbidden(t *testing.T) {
	f := newFixture(t)
	f.srv.Inject(medplumtest.Fault{Method: "POST", Path: "/admin/projects/*/invite", Times: 1000, Status: 403})
	out := f.run(context.Background(), csvRows(50, "Patient"), RunConfig{Concurrency: 1})
	var fe *FatalError
	if !errors.As(out.err, &fe) || client.StatusOf(out.err) != 403 {
		t.Fatalf("err = %v", out.err)
	}
	if n := len(f.invites()); n != 1 {
		t.Errorf("%d invites after a 403, want 1", n)
	}
}

func TestRunCtrlC(t *testing.T) {
	f := newFixture(t)
	f.srv.SetLatency(20 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := 0
	cfg := RunConfig{Concurrency: 2}
	var mu sync.Mutex
	cfg.Progress = progressFunc(func(s Stats) {
		mu.Lock()
		defer mu.Unlock()
		done = s.Done
		if done >= 10 {
			cancel()
		}
	})
	out := f.run(ctx, csvRows(200, "Patient"), cfg)
	if out.err != context.Canceled {
		t.Fatalf("err = %v", out.err)
	}
	// Everything sent was recorded; the next run finishes the rest and
	// sends nothing twice.
	firstRun := len(f.invites())
	if firstRun >= 200 || len(out.results) != firstRun {
		t.Fatalf("run 1 sent %d and reported %d", firstRun, len(out.results))
	}
	f.srv.SetLatency(0)
	out = f.run(context.Background(), csvRows(200, "Patient"), RunConfig{})
	if out.err != nil {
		t.Fatal(out.err)
	}
	if n := len(f.invites()); n != 200 {
		t.Errorf("%d invites over both runs, want 200", n)
	}
	if out.stats.Earlier != firstRun || out.stats.Counts[Created] != 200 {
		t.Errorf("run 2 stats %+v", out.stats)
	}
}

type progressFunc func(Stats)

func (p progressFunc) Update(s Stats) { p(s) }
