package bulk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
)

// fixture is a server, a signed-in client and a directory for files.
type fixture struct {
	t   *testing.T
	srv *medplumtest.Server
	c   *client.Client
	dir string
}

func newFixture(t *testing.T, opts ...medplumtest.Option) *fixture {
	srv := medplumtest.NewServer(t, append([]medplumtest.Option{medplumtest.WithSeed(1)}, opts...)...)
	c, err := client.New(client.Options{BaseURL: srv.URL, Auth: &auth.BearerToken{Token: srv.IssueToken(srv.Seed.Client.MembershipID)}})
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

// Every kind of transient failure, injected on the invite route for named
// rows, ends with each row created exactly once, sent exactly as often as
// its faults require.
func TestRunRetriesTransientFailures(t *testing.T) {
	f := newFixture(t)
	const route = "/admin/projects/*/invite"
	type fault = medplumtest.Fault
	faults := map[int]struct {
		faults []fault
		sends  int
	}{
		1:  {[]fault{{Times: 3, Status: 409}}, 4}, // conflicts, retried
		3:  {[]fault{{Times: 2, Status: 503}}, 3}, // may have been done: looked up, then sent again
		5:  {[]fault{{Status: 429, RetryAfter: time.Millisecond}}, 2},
		7:  {[]fault{{Drop: medplumtest.DropAfterHandling}}, 1}, // made: the lookup finds it
		9:  {[]fault{{Drop: medplumtest.DropAfterHandling}}, 1},
		11: {[]fault{{Drop: medplumtest.DropBeforeHandling}}, 2},
		13: {[]fault{{Status: 409}, {Skip: 1, Drop: medplumtest.DropBeforeHandling}}, 3}, // a conflict, then a drop
		15: {[]fault{{Drop: medplumtest.DropMidResponse}}, 1},
		17: {[]fault{{Status: 503}, {Skip: 1, Drop: medplumtest.DropMidResponse}}, 2},
		19: {[]fault{{Status: 502}}, 2},
	}
	for i, ff := range faults {
		for _, x := range ff.faults {
			x.Method, x.Path, x.Body = "POST", route, fmt.Sprintf(`"user%04d@example.com"`, i)
			f.srv.Inject(x)
		}
	}
	before := len(f.srv.Memberships(f.srv.Seed.ProjectID))
	out := f.run(context.Background(), csvRows(20, "Practitioner"), RunConfig{Concurrency: 2})
	if out.err != nil {
		t.Fatal(out.err)
	}
	sends := 0
	for i := range 20 {
		email := fmt.Sprintf("user%04d@example.com", i)
		m := f.srv.MembershipByEmail(f.srv.Seed.ProjectID, email)
		if r := out.results[i+2]; r.Status != Created || m == nil || r.Membership != m.ID() || r.Error != "" {
			t.Errorf("line %d: %+v, server has %v", i+2, r, m)
		}
		if n := f.membersWith(email); n != 1 {
			t.Errorf("%s: %d memberships", email, n)
		}
		want := 1
		if ff, ok := faults[i]; ok {
			want = ff.sends
		}
		if n := f.invitesOf(email); n != want {
			t.Errorf("%s: %d invite requests, want %d", email, n, want)
		}
		sends += want
	}
	if after := len(f.srv.Memberships(f.srv.Seed.ProjectID)); after != before+20 {
		t.Errorf("%d memberships, want %d", after, before+20)
	}
	if out.stats.Conflicts != 4 || out.stats.Throttled != 1 || out.stats.Retries != sends-20 {
		t.Errorf("stats %+v", out.stats)
	}
	if p := f.srv.PendingFaults(); len(p) != 0 {
		t.Errorf("faults not used: %+v", p)
	}
}

// preMember makes email a member before the run, as a Practitioner, and
// returns the membership id.
func (f *fixture) preMember(email string) string {
	f.t.Helper()
	m, err := f.c.Invite(context.Background(), f.srv.Seed.ProjectID, &client.InviteRequest{
		ResourceType: "Practitioner", FirstName: "Pre", LastName: "Member", Email: email, SendEmail: new(false)})
	if err != nil {
		f.t.Fatal(err)
	}
	return m.ID()
}

// lostAnswerRows are the rows of the lost-answer tests: user0000..0003
// Practitioners, and Homer (a seeded Patient member) invited as a
// Practitioner, whom no lookup by Practitioner e-mail finds.
const lostAnswerRows = "role,firstName,lastName,email\n" +
	"Practitioner,First0,Last0,user0000@example.com\n" + // 2 a member before the run; the 409 is lost
	"Practitioner,First1,Last1,user0001@example.com\n" + // 3 made by the invite whose answer is lost
	"Practitioner,First2,Last2,user0002@example.com\n" + // 4 a member before; the 409 is cut off mid-answer
	"Practitioner,First3,Last3,user0003@example.com\n" + // 5 made; the answer is cut off mid-answer
	"Practitioner,Homer,Simpson,homer@example.com\n" // 6 a member (Patient) before; the 409 is lost

// lostAnswerFaults loses the first answer to each row's invite.
func (f *fixture) lostAnswerFaults() {
	for email, mode := range map[string]medplumtest.DropMode{
		"user0000@": medplumtest.DropAfterHandling, "user0001@": medplumtest.DropAfterHandling,
		"user0002@": medplumtest.DropMidResponse, "user0003@": medplumtest.DropMidResponse,
		"homer@": medplumtest.DropAfterHandling,
	} {
		f.srv.Inject(medplumtest.Fault{Method: "POST", Path: "/admin/projects/*/invite", Body: email, Drop: mode})
	}
}

// notSameProfile is the failure of an --upsert row whose user is a member
// with a profile of another type.
const notSameProfile = "already a member of the project, with a profile that is not a Practitioner; --upsert only updates a membership with the same profile"

// checkResults compares results by line, ignoring the e-mail columns.
func checkResults(t *testing.T, out runOutcome, want map[int]Result) {
	t.Helper()
	if len(out.results) != len(want) {
		t.Errorf("%d results, want %d", len(out.results), len(want))
	}
	for line, w := range want {
		got := out.results[line]
		got.Line, got.Email, got.ExternalID = 0, "", ""
		if got != w {
			t.Errorf("line %d: %+v\nwant    %+v", line, got, w)
		}
	}
}

// invitesOf counts the invite requests that name email.
func (f *fixture) invitesOf(email string) int {
	n := 0
	for _, r := range f.invites() {
		if strings.Contains(string(r.Body), `"`+email+`"`) {
			n++
		}
	}
	return n
}

// The report must not call a user who was a member before the run
// "created" when the answer to their invite is lost: the membership found
// by the lookup is no newer than the newest one the server had before the
// run sent anything. (It was labelled "created" when it had been updated
// within a minute of the row being sent.) A membership the lost request
// made is newer: "created". Neither is sent again.
func TestRunLostAnswers(t *testing.T) {
	for _, upsert := range []bool{false, true} {
		t.Run(fmt.Sprintf("upsert=%v", upsert), func(t *testing.T) {
			f := newFixture(t)
			pre0, pre2 := f.preMember("user0000@example.com"), f.preMember("user0002@example.com")
			f.srv.ResetRequests()
			f.lostAnswerFaults()
			out := f.run(context.Background(), lostAnswerRows, RunConfig{Upsert: upsert})
			if out.err != nil {
				t.Fatal(out.err)
			}
			made := func(email string) string { return f.srv.MembershipByEmail(f.srv.Seed.ProjectID, email).ID() }
			// With --upsert, the members have nothing the rows change:
			// "exists", and nothing is sent again.
			checkResults(t, out, map[int]Result{
				2: {Status: Exists, Membership: pre0},
				3: {Status: Created, Membership: made("user0001@example.com")},
				4: {Status: Exists, Membership: pre2},
				5: {Status: Created, Membership: made("user0003@example.com")},
				// No Practitioner lookup finds Homer's Patient membership:
				// whether the lost request made something cannot be told.
				6: map[bool]Result{
					false: {Status: Exists, Error: maybeMade},
					true:  {Status: Failed, Error: notSameProfile},
				}[upsert],
			})
			for i := range 4 {
				email := fmt.Sprintf("user%04d@example.com", i)
				wantSends := 1
				if n := f.membersWith(email); n != 1 {
					t.Errorf("%s: %d memberships", email, n)
				}
				if n := f.invitesOf(email); n != wantSends {
					t.Errorf("%s: %d invites, want %d", email, n, wantSends)
				}
			}
			if p := f.srv.PendingFaults(); len(p) != 0 {
				t.Errorf("faults not used: %+v", p)
			}
		})
	}
}

// Memberships stamped in the same millisecond as the newest one when the
// mark was read are told apart by id: with the server's clock stopped,
// every membership has the same lastUpdated.
func TestRunLostAnswersSameMillisecond(t *testing.T) {
	stopped := time.Date(2026, 3, 4, 5, 6, 7, 8e6, time.UTC)
	f := newFixture(t, medplumtest.WithClock(func() time.Time { return stopped }))
	pre0, pre2 := f.preMember("user0000@example.com"), f.preMember("user0002@example.com")
	f.lostAnswerFaults()
	out := f.run(context.Background(), lostAnswerRows, RunConfig{})
	if out.err != nil {
		t.Fatal(out.err)
	}
	made := func(email string) string { return f.srv.MembershipByEmail(f.srv.Seed.ProjectID, email).ID() }
	checkResults(t, out, map[int]Result{
		2: {Status: Exists, Membership: pre0},
		3: {Status: Created, Membership: made("user0001@example.com")},
		4: {Status: Exists, Membership: pre2},
		5: {Status: Created, Membership: made("user0003@example.com")},
		6: {Status: Exists, Error: maybeMade},
	})
}

// When the mark cannot be read, a lost answer leaves it open whether the
// user was a member before: the row is never called "created"; it ends
// "exists" (or "updated" by the --upsert resend) with a note.
func TestRunLostAnswersWithoutMark(t *testing.T) {
	for _, upsert := range []bool{false, true} {
		t.Run(fmt.Sprintf("upsert=%v", upsert), func(t *testing.T) {
			f := newFixture(t)
			pre0, pre2 := f.preMember("user0000@example.com"), f.preMember("user0002@example.com")
			// The mark is the run's first membership search.
			f.srv.Inject(medplumtest.Fault{Method: "GET", Path: "/fhir/R4/ProjectMembership", Status: 403})
			f.lostAnswerFaults()
			out := f.run(context.Background(), lostAnswerRows, RunConfig{Upsert: upsert})
			if out.err != nil {
				t.Fatal(out.err)
			}
			made := func(email string) string { return f.srv.MembershipByEmail(f.srv.Seed.ProjectID, email).ID() }
			st := Exists // with --upsert too: the rows change nothing
			checkResults(t, out, map[int]Result{
				2: {Status: st, Membership: pre0, Error: maybeMade},
				3: {Status: st, Membership: made("user0001@example.com"), Error: maybeMade},
				4: {Status: st, Membership: pre2, Error: maybeMade},
				5: {Status: st, Membership: made("user0003@example.com"), Error: maybeMade},
				6: map[bool]Result{
					false: {Status: Exists, Error: maybeMade},
					true:  {Status: Failed, Error: notSameProfile},
				}[upsert],
			})
			for i := range 4 {
				if email := fmt.Sprintf("user%04d@example.com", i); f.membersWith(email) != 1 {
					t.Errorf("%s: %d memberships", email, f.membersWith(email))
				}
			}
			if p := f.srv.PendingFaults(); len(p) != 0 {
				t.Errorf("faults not used: %+v", p)
			}
		})
	}
}

// A mark is read and journaled before the first row is sent and again
// every markEvery rows; rows an earlier run finished are not counted.
func TestRunReadsMarks(t *testing.T) {
	f := newFixture(t)
	isMark := func(r medplumtest.Request) bool { return strings.Contains(r.RawQuery, "_sort=-_lastUpdated") }
	out := f.run(context.Background(), csvRows(7, "Patient"), RunConfig{markEvery: 3})
	if out.err != nil || out.stats.Counts[Created] != 7 {
		t.Fatalf("%v, %+v", out.err, out.stats)
	}
	var order []string // marks and invites, in the order the server saw them
	for _, r := range f.srv.Requests() {
		switch {
		case r.Method == "GET" && r.Path == "/fhir/R4/ProjectMembership" && isMark(r):
			order = append(order, "mark")
		case r.Method == "POST" && strings.HasSuffix(r.Path, "/invite"):
			order = append(order, "invite")
		}
	}
	if marks := strings.Count(strings.Join(order, " "), "mark"); marks != 3 || order[0] != "mark" {
		t.Errorf("requests %v: want 3 marks, the first before any invite", order)
	}
	data, err := os.ReadFile(filepath.Join(f.dir, "users.csv.journal"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if n := strings.Count(string(data), `"mark":{`); n != 3 || !strings.HasPrefix(lines[1], `{"at":`) || !strings.Contains(lines[1], `"mark":{`) {
		t.Errorf("journal has %d marks, want 3, the first before any row:\n%s", n, data)
	}
}

// A row that an earlier run left in flight is looked up, not sent again, when
// the server has its membership; it is sent when the server has none. The
// mark run 1 read before sending tells a membership its request made from
// one that was there before.
func TestRunReconcilesInFlightRows(t *testing.T) {
	f := newFixture(t)
	data := csvRows(4, "Practitioner") + "Patient,Bart,Simpson,\nPatient,Homer,Simpson,homer@example.com\n"
	invite := func(email string) {
		t.Helper()
		if _, err := f.c.Invite(context.Background(), f.srv.Seed.ProjectID, &client.InviteRequest{
			ResourceType: "Practitioner", FirstName: "F", LastName: "L", Email: email, SendEmail: new(false)}); err != nil {
			t.Fatal(err)
		}
	}
	// What a killed run 1 left, written as run 1 would have: line 5 was
	// started by an older medplum, which wrote no mark, and its invite
	// made the membership; then the mark; line 2's invite made the
	// membership but its answer was not recorded; line 3 was about to be
	// sent; line 4 finished; line 7's invite found Homer a member.
	check, _ := Check(strings.NewReader(data), Options{})
	path := filepath.Join(f.dir, "users.csv.journal")
	j, _, err := OpenJournal(path, JournalKey{Input: check.DigestString(), Server: f.c.BaseURL(), Project: f.srv.Seed.ProjectID})
	if err != nil {
		t.Fatal(err)
	}
	j.Start(5, false)
	invite("user0003@example.com")
	mark, err := readMark(context.Background(), f.c, f.srv.Seed.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	j.Mark(mark)
	j.Start(2, false)
	invite("user0000@example.com")
	j.Start(3, false)
	j.Start(4, false)
	j.Finish(4, Entry{Status: Created, Membership: "m-from-run-1"}, false)
	j.Start(7, false)
	j.Close()
	f.srv.ResetRequests()

	out := f.run(context.Background(), data, RunConfig{SkipInvalid: true})
	if out.err != nil {
		t.Fatal(out.err)
	}
	member := func(email string) string { return f.srv.MembershipByEmail(f.srv.Seed.ProjectID, email).ID() }
	for line, want := range map[int]Result{
		2: {Status: Created, Membership: member("user0000@example.com")},                  // in flight, made
		3: {Status: Created, Membership: member("user0001@example.com")},                  // in flight, not made
		4: {Status: Created, Membership: "m-from-run-1", Earlier: true},                   // done by run 1
		5: {Status: Exists, Membership: member("user0003@example.com"), Error: maybeMade}, // no mark to tell
		6: {Status: Skipped, Error: "email: is required (or an externalId)"},              // invalid
		7: {Status: Exists, Membership: f.srv.Seed.Homer.MembershipID},                    // a member before
	} {
		got := out.results[line]
		got.Line, got.Email, got.ExternalID = 0, "", ""
		if got != want {
			t.Errorf("line %d: %+v\nwant %+v", line, got, want)
		}
	}
	var sent []string
	for _, r := range f.invites() {
		sent = append(sent, string(r.Body))
	}
	if len(sent) != 1 || !strings.Contains(sent[0], "user0001@example.com") {
		t.Errorf("invites sent by run 2: %q; want only line 3's", sent)
	}
	for _, e := range []string{"user0000@example.com", "user0001@example.com", "user0003@example.com"} {
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

// A 429 holds every sender back for the time the server's RateLimit header
// asks (t=2: two seconds, more than the limiter's own default of one), not
// only the row it hit: in those seconds the server sees at most the invites
// already on their way (fewer than two per sender), where a run that did
// not pause, or paused its default second, would send the rest of the file.
func TestRunPausesEverySenderOn429(t *testing.T) {
	f := newFixture(t, medplumtest.WithConflictRate(0))
	const route = "/admin/projects/*/invite"
	f.srv.Inject(medplumtest.Fault{Method: "POST", Path: route, Body: `"user0010@example.com"`, Status: 429, RetryAfter: 2 * time.Second})
	const conc = 4
	out := f.run(context.Background(), csvRows(60, "Practitioner"), RunConfig{Concurrency: conc})
	if out.err != nil || out.stats.Counts[Created] != 60 || out.stats.Throttled != 1 {
		t.Fatalf("err %v, stats %+v", out.err, out.stats)
	}
	invites := f.invites()
	var throttled time.Time
	for _, r := range invites {
		if strings.Contains(string(r.Body), `"user0010@example.com"`) {
			throttled = r.Time
			break
		}
	}
	var within []string
	retried := false
	for _, r := range invites {
		if r.Time.After(throttled) && r.Time.Before(throttled.Add(2*time.Second)) {
			within = append(within, string(r.Body))
		}
		if r.Time.After(throttled) && strings.Contains(string(r.Body), `"user0010@example.com"`) {
			retried = true
		}
	}
	if len(within) > 2*(conc-1) {
		t.Errorf("%d invites reached the server in the two seconds after the 429:\n%s", len(within), strings.Join(within, "\n"))
	}
	if !retried {
		t.Error("the throttled row was not sent again")
	}
}

// outage is a transport whose connections are refused for a while: from
// the request after the one whose body holds trigger, the next `refused`
// requests (invites, lookups, marks) fail to dial, as when the network
// goes down, or (refused < 0) every request until up is called; the
// trigger itself reaches the server.
type outage struct {
	base    http.RoundTripper
	trigger []byte
	refused int

	mu   sync.Mutex
	left int // < 0: down until up
}

func (o *outage) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	o.mu.Lock()
	down := o.left != 0
	if o.left > 0 {
		o.left--
	}
	if !down && bytes.Contains(body, o.trigger) {
		o.left = o.refused
	}
	o.mu.Unlock()
	if down {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	return o.base.RoundTrip(r)
}

// mustDigest is the journal key's digest of a CSV.
func mustDigest(t *testing.T, data string) string {
	check, err := Check(strings.NewReader(data), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return check.DigestString()
}

// up ends the outage.
func (o *outage) up() {
	o.mu.Lock()
	o.left = 0
	o.mu.Unlock()
}

// outageFixture is a fixture whose client goes through an outage
// transport, with fast retries; line 42's invite (user0040) takes effect
// and its answer is lost, and it triggers the outage.
func outageFixture(t *testing.T, refused int) (*fixture, *outage) {
	f := newFixture(t, medplumtest.WithConflictRate(0))
	const trigger = `"user0040@example.com"`
	f.srv.Inject(medplumtest.Fault{Method: "POST", Path: "/admin/projects/*/invite", Body: trigger, Drop: medplumtest.DropAfterHandling})
	o := &outage{base: http.DefaultTransport.(*http.Transport).Clone(), trigger: []byte(trigger), refused: refused}
	c, err := client.New(client.Options{BaseURL: f.srv.URL, Auth: &auth.BearerToken{Token: f.srv.IssueToken(f.srv.Seed.Client.MembershipID)},
		Transport: o, Retry: client.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	return f, o
}

// expectOnceEach checks that the server received exactly one invite for
// each of the n rows and holds exactly one membership for each.
func (f *fixture) expectOnceEach(n int) {
	f.t.Helper()
	for i := range n {
		email := fmt.Sprintf("user%04d@example.com", i)
		if m := f.membersWith(email); m != 1 {
			f.t.Errorf("%s: %d memberships", email, m)
		}
		if m := f.invitesOf(email); m != 1 {
			f.t.Errorf("%s: the server received %d invites", email, m)
		}
	}
}

// A short network outage mid-run: the invite of line 42 reaches the server
// and takes effect, its answer is lost, and then nothing gets through for
// 100 requests (invites, lookups). No row fails for it: while the server
// answers nothing, a row's failures do not count against it, so the rows
// wait for the network, line 42 is looked up and found, and the rest are
// sent once it is back. The server received exactly one invite per row
// and holds exactly one membership per row. (Before, rows that ran out of
// attempts during the outage failed, and needed a second run.)
func TestRunRidesOutShortOutage(t *testing.T) {
	f, _ := outageFixture(t, 100)
	out := f.run(context.Background(), csvRows(100, "Practitioner"), RunConfig{Concurrency: 4})
	if out.err != nil || out.stats.Counts[Created] != 100 || len(out.results) != 100 {
		t.Fatalf("err %v, stats %+v", out.err, out.stats)
	}
	if r := out.results[42]; r.Status != Created || r.Error != "" {
		t.Errorf("line 42: %+v", r)
	}
	f.expectOnceEach(100)
}

// The server is unreachable for good mid-run (every connection refused):
// once nothing has been answered for RunConfig.Outage, the run stops with
// an *UnreachableError saying since when, instead of failing row after
// row. Rows that finished are in the journal; no row is called failed:
// line 42, whose invite was made but not answered, and the rows on their
// way stay "started", to be looked up; rows never sent stay unsent. The
// same run again, once the server is back, finishes every row: one invite
// and one membership per row.
func TestRunStopsWhenServerUnreachable(t *testing.T) {
	f, o := outageFixture(t, -1)
	data := csvRows(100, "Practitioner")
	out := f.run(context.Background(), data, RunConfig{Concurrency: 4, Outage: 200 * time.Millisecond})
	var ue *UnreachableError
	if !errors.As(out.err, &ue) || !errors.Is(out.err, syscall.ECONNREFUSED) {
		t.Fatalf("run 1: err %v, want an *UnreachableError", out.err)
	}
	msg := regexp.MustCompile(`^server unreachable since \d\d:\d\d:\d\d \(dial tcp: connection refused\); run the same command again to continue$`)
	if !msg.MatchString(out.err.Error()) || time.Since(ue.Since) > time.Minute {
		t.Errorf("run 1: %q (since %v)", out.err, ue.Since)
	}
	var fe *FatalError
	if errors.As(out.err, &fe) {
		t.Errorf("an outage is not a FatalError: %v", out.err)
	}
	if n := out.stats.Counts[Failed]; n != 0 {
		t.Errorf("run 1: %d rows failed; an outage fails none", n)
	}
	if _, ok := out.results[42]; ok || len(out.results) < 37 || len(out.results) > 45 || out.stats.Done != len(out.results) {
		t.Fatalf("run 1 reported %d rows (line 42: %+v), stats %+v; want the rows sent before the outage", len(out.results), out.results[42], out.stats)
	}
	for line, r := range out.results {
		if r.Status != Created {
			t.Errorf("run 1, line %d: %+v", line, r)
		}
	}
	// The journal: line 42 and the rows on their way (at most the other
	// three workers') are to be looked up.
	j, resume, err := OpenJournal(filepath.Join(f.dir, "users.csv.journal"), JournalKey{Input: mustDigest(t, data), Server: f.c.BaseURL(), Project: f.srv.Seed.ProjectID})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if _, ok := resume.InFlight[42]; !ok || resume.Failed != 0 || len(resume.Done) != len(out.results) || len(resume.InFlight) > 4 {
		t.Errorf("journal after the outage: %d done, in flight %v, %d failed", len(resume.Done), resume.InFlight, resume.Failed)
	}
	done := len(out.results)

	o.up()
	out = f.run(context.Background(), data, RunConfig{Concurrency: 4})
	if out.err != nil || out.stats.Counts[Created] != 100 || out.stats.Earlier != done {
		t.Fatalf("run 2: err %v, stats %+v", out.err, out.stats)
	}
	if r := out.results[42]; r.Status != Created || r.Earlier {
		t.Errorf("run 2, line 42: %+v", r)
	}
	f.expectOnceEach(100)
}

// A row the server keeps failing while it answers other requests still
// fails after its attempts, and the run goes on: one row's 503s are not an
// outage, because the lookup after each one gets an answer.
func TestRunOneRowFailingIsNotAnOutage(t *testing.T) {
	f := newFixture(t, medplumtest.WithConflictRate(0))
	f.srv.Inject(medplumtest.Fault{Method: "POST", Path: "/admin/projects/*/invite", Body: `"user0001@example.com"`, Status: 503, Times: 1000})
	out := f.run(context.Background(), csvRows(3, "Practitioner"), RunConfig{Concurrency: 1, Outage: time.Millisecond})
	if out.err != nil || out.stats.Counts[Created] != 2 || out.stats.Counts[Failed] != 1 {
		t.Fatalf("err %v, stats %+v", out.err, out.stats)
	}
	if r := out.results[3]; !strings.HasPrefix(r.Error, "gave up after 8 failed attempts: the server answered 503") {
		t.Errorf("line 3: %+v", r)
	}
	if n := f.invitesOf("user0001@example.com"); n != 8 {
		t.Errorf("the failing row was sent %d times, want 8", n)
	}
}
