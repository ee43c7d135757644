package invite_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m) }

const inviteRoute = "/admin/projects/*/invite"

// signedIn is an environment signed in as the seeded project-admin client.
func signedIn(t *testing.T, srv *medplumtest.Server) *clitest.Env {
	t.Helper()
	e := clitest.New(t)
	e.Set("MEDPLUM_BASE_URL", srv.URL)
	e.Set("MEDPLUM_CLIENT_ID", srv.Seed.Client.ID)
	e.Set("MEDPLUM_CLIENT_SECRET", srv.Seed.Client.Secret)
	return e
}

func writeFile(t *testing.T, e *clitest.Env, name, content string) string {
	t.Helper()
	p := filepath.Join(e.Home, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// users is a CSV of n Practitioners user0000@example.com, ...
func users(n int) string {
	var b strings.Builder
	b.WriteString("role,firstName,lastName,email\n")
	for i := range n {
		fmt.Fprintf(&b, "Practitioner,First%d,Last%d,user%04d@example.com\n", i, i, i)
	}
	return b.String()
}

// readReport reads a --report file into rows keyed by line.
func readReport(t *testing.T, path string) (header []string, rows map[string][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows = map[string][]string{}
	for _, r := range recs[1:] {
		if _, dup := rows[r[0]]; dup {
			t.Errorf("report lists line %s twice", r[0])
		}
		rows[r[0]] = r
	}
	return recs[0], rows
}

// membershipsByEmail counts the project's memberships per user e-mail.
func membershipsByEmail(srv *medplumtest.Server) map[string]int {
	out := map[string]int{}
	for _, m := range srv.Memberships(srv.Seed.ProjectID) {
		out[strings.ToLower(m.Display("user"))]++
	}
	return out
}

// invitesByEmail counts the invite requests the server received per e-mail.
func invitesByEmail(t *testing.T, srv *medplumtest.Server) map[string]int {
	out := map[string]int{}
	for _, r := range srv.RequestsTo(http.MethodPost, inviteRoute) {
		b, err := client.DecodeResource(r.Body)
		if err != nil {
			t.Fatalf("invite body: %v", err)
		}
		out[b.String("email")]++
	}
	return out
}

func TestInviteCSVSmall(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(1), medplumtest.WithMailer())
	e := signedIn(t, srv)
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "AccessPolicy", "id": "ap1", "name": "Staff"})
	writeFile(t, e, "users.csv", "\uFEFFRole,FirstName,LastName,Email,accessPolicy,param:provider_organization,sendEmail\r\n"+
		"Practitioner,\"Hibbert, Julius\",Hibbert,hibbert@example.com,ap1,Organization/abc,true\r\n"+
		"Patient,Homer,Simpson,homer@example.com,,,\r\n"+
		"Practitioner,Nick,Riviera,riviera@example.com,missing,Organization/abc,\r\n")
	r := e.Run("invite", "--csv", "users.csv", "--concurrency", "1", "-q", "-o", "csv", "--report", "results.csv")
	hib := srv.MembershipByEmail(srv.Seed.ProjectID, "hibbert@example.com")
	if hib == nil {
		t.Fatal("hibbert was not invited")
	}
	r.Expect(t, 3,
		"line,email,external_id,status,membership_id,error\n"+
			"2,hibbert@example.com,,created,"+hib.ID()+",\n"+
			"3,homer@example.com,,exists,"+srv.Seed.Homer.MembershipID+",\n"+
			"4,riviera@example.com,,failed,,Access policy AccessPolicy/missing does not exist\n",
		"3 rows: 1 created, 1 exists, 0 updated, 1 failed, 0 skipped\n"+
			"users.csv:4: riviera@example.com: Access policy AccessPolicy/missing does not exist\n"+
			"report: results.csv\n"+
			"run the same command again to retry the failed rows (journal: users.csv.journal)\n"+
			"medplum: 1 of 3 rows failed, 0 skipped\n")
	report, err := os.ReadFile(filepath.Join(e.Home, "results.csv"))
	if err != nil || string(report) != r.Stdout {
		t.Errorf("report file (%v):\n%s\nwant the same as stdout", err, report)
	}
	if len(srv.SentEmails()) != 1 {
		t.Errorf("%d e-mails sent; only hibbert's row asked for one", len(srv.SentEmails()))
	}
	// The failed row is retried by the same command; the others are not sent again.
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "AccessPolicy", "id": "missing", "name": "Found"})
	srv.ResetRequests()
	r = e.Run("invite", "--csv", "users.csv", "-q", "-o", "ndjson")
	nick := srv.MembershipByEmail(srv.Seed.ProjectID, "riviera@example.com")
	if nick == nil {
		t.Fatal("riviera was not invited on the second run")
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	sort.Strings(lines)
	want := []string{
		`{"line":2,"email":"hibbert@example.com","status":"created","membershipId":"` + hib.ID() + `","earlierRun":true}`,
		`{"line":3,"email":"homer@example.com","status":"exists","membershipId":"` + srv.Seed.Homer.MembershipID + `","earlierRun":true}`,
		`{"line":4,"email":"riviera@example.com","status":"created","membershipId":"` + nick.ID() + `"}`,
	}
	if r.Code != 0 || strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("second run: code %d\n%s\nwant\n%s\nstderr:\n%s", r.Code, strings.Join(lines, "\n"), strings.Join(want, "\n"), r.Stderr)
	}
	if want := "resuming from users.csv.journal: 2 rows done, 0 to look up, 1 failed before\n3 rows: 2 created, 1 exists, 0 updated, 0 failed, 0 skipped\n"; r.Stderr != want {
		t.Errorf("stderr:\n%s\nwant\n%s", r.Stderr, want)
	}
	if n := len(srv.RequestsTo(http.MethodPost, inviteRoute)); n != 1 {
		t.Errorf("second run sent %d invites, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(e.Home, "users.csv.journal")); !os.IsNotExist(err) {
		t.Errorf("journal left after a complete run: %v", err)
	}
}

// A file with bad rows is refused with every problem and its line, and
// nothing at all is sent (not even a sign-in).
func TestInviteCSVBadRowsRefused(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := signedIn(t, srv)
	writeFile(t, e, "bad.csv", "\uFEFFrole,firstName,lastName,email\r\n"+
		"Practitioner,\"Smith, Jr.\",Alice,alice@example.com\r\n"+ // 2 fine: quoted comma
		"Practitioner,,Jones,bob@example.com\r\n"+ // 3 missing first name
		"Practitioner,Carol,,carol@example\r\n"+ // 4 missing last name, bad e-mail
		"Doctor,Dan,Brown,dan@example.com\r\n"+ // 5 unknown role
		"Practitioner,Eve,Adams\r\n"+ // 6 wrong column count
		"\r\n"+ // 7 blank: skipped
		"Patient,Fay,Lee,ALICE@example.com\r\n"+ // 8 duplicate of line 2
		"Patient,Gus,\"Ray\",gus@example.com\r\n") // 9 fine
	r := e.Run("invite", "--csv", "bad.csv")
	r.Expect(t, 2, "",
		"bad.csv:3: firstName: is required\n"+
			"bad.csv:4: lastName: is required\n"+
			"bad.csv:4: email: not a valid e-mail address: \"carol@example\"\n"+
			"bad.csv:5: role: unknown role \"Doctor\" (want Patient, Practitioner or RelatedPerson)\n"+
			"bad.csv:6: has 3 fields, the header has 4\n"+
			"bad.csv:8: email: duplicate: alice@example.com is already on line 2\n"+
			"medplum: bad.csv: 5 of 7 rows are invalid; nothing was sent (fix them, or pass --skip-invalid to send the other 2)\n")
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("the server saw %d requests", n)
	}

	r = e.Run("invite", "--csv", "bad.csv", "--skip-invalid", "-q", "--report", "out.csv")
	if r.Code != 3 {
		t.Fatalf("--skip-invalid: code %d, stderr:\n%s", r.Code, r.Stderr)
	}
	_, rows := readReport(t, filepath.Join(e.Home, "out.csv"))
	for line, want := range map[string]string{"2": "created", "3": "skipped", "4": "skipped", "5": "skipped", "6": "skipped", "8": "skipped", "9": "created"} {
		if rows[line] == nil || rows[line][3] != want {
			t.Errorf("line %s: %v, want %s", line, rows[line], want)
		}
	}
	if got := rows["4"][5]; got != `lastName: is required; email: not a valid e-mail address: "carol@example"` {
		t.Errorf("skipped row's error: %q", got)
	}
	if n := len(srv.RequestsTo(http.MethodPost, inviteRoute)); n != 2 {
		t.Errorf("%d invites sent, want 2", n)
	}
}

func TestInviteCSVHeaderRefused(t *testing.T) {
	e := clitest.New(t)
	writeFile(t, e, "h.csv", "firstName,lastName,mail,nickname\nA,B,a@b.co,x\n")
	e.Run("invite", "--csv", "h.csv").Expect(t, 2, "",
		"medplum: h.csv:1: mail: unknown column (known: resourceType or role, firstName, lastName, email, externalId, admin, accessPolicy, scope, patient, mfaRequired, sendEmail, param:<name>; use --ignore-unknown-columns to ignore it)\n"+
			"h.csv:1: nickname: unknown column (known: resourceType or role, firstName, lastName, email, externalId, admin, accessPolicy, scope, patient, mfaRequired, sendEmail, param:<name>; use --ignore-unknown-columns to ignore it)\n"+
			"h.csv:1: missing column email (or externalId)\n"+
			"nothing was sent\n")
	e.Run("invite", "--csv", "missing.csv").Expect(t, 2, "", "medplum: --csv: open missing.csv: no such file or directory\n")
	e.Run("invite", "--csv", "-").Expect(t, 2, "",
		"medplum: --csv needs a file, not stdin: the journal that makes a run resumable is tied to the file's contents\nRun 'medplum invite --help' for usage.\n")
	e.Run("invite", "--report", "r.csv").Expect(t, 2, "", "medplum: --report needs --csv\nRun 'medplum invite --help' for usage.\n")
	e.Run("invite", "--csv", "h.csv", "-o", "table").Expect(t, 2, "",
		"medplum: with --csv, -o takes json, ndjson or csv (each row's result)\nRun 'medplum invite --help' for usage.\n")
}

func TestInviteCSVDryRun(t *testing.T) {
	e := clitest.New(t) // not signed in: a dry run needs no server
	writeFile(t, e, "u.csv", "role,firstName,lastName,email,admin\nPatient,Homer,Simpson,Homer@Example.com,yes\nPractitioner,Bad,,x@y.zz,\n")
	e.Run("invite", "--csv", "u.csv", "--dry-run", "--skip-invalid", "--project", "p1").Expect(t, 0,
		`{"line":2,"body":{"resourceType":"Patient","firstName":"Homer","lastName":"Simpson","email":"homer@example.com","sendEmail":false,"membership":{"admin":true}}}`+"\n",
		"u.csv:3: lastName: is required\n"+
			"dry run: 1 invites would be sent to admin/projects/p1/invite (1 invalid rows skipped); nothing was sent\n")
	e.Run("invite", "--csv", "u.csv", "--dry-run").Expect(t, 2, "",
		"u.csv:3: lastName: is required\n"+
			"medplum: u.csv: 1 of 2 rows are invalid; nothing was sent (fix them, or pass --skip-invalid to send the other 1)\n")
}

func TestInviteCSVProgressLines(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(1))
	e := signedIn(t, srv)
	writeFile(t, e, "u.csv", users(20))
	var want strings.Builder
	for i := 2; i < 20; i += 2 {
		fmt.Fprintf(&want, "invite: %d/20 rows (%d%%): %d created, 0 exists, 0 updated, 0 failed, 0 skipped\n", i, i*5, i)
	}
	want.WriteString("20 rows: 20 created, 0 exists, 0 updated, 0 failed, 0 skipped\n")
	e.Run("invite", "--csv", "u.csv", "--concurrency", "1").Expect(t, 0, "", want.String())
	e.Run("invite", "--csv", "u.csv", "--quiet").Expect(t, 0, "", "20 rows: 0 created, 20 exists, 0 updated, 0 failed, 0 skipped\n")
}

// The acceptance test of the issue: 1,000 rows while the server throws
// 429s, 503s, serialization conflicts and dropped connections at the run.
// Every row ends in its right state and the server holds exactly one
// membership per row.
func TestInviteCSVThousandRowsUnderFaults(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(7))
	e := signedIn(t, srv)
	// Five users are members already; two rows name a policy that does not exist.
	c, err := client.New(client.Options{BaseURL: srv.URL, Auth: bearer(srv.IssueToken(srv.Seed.Client.MembershipID))})
	if err != nil {
		t.Fatal(err)
	}
	for i := 100; i < 500; i += 80 {
		if _, err := c.Invite(context.Background(), srv.Seed.ProjectID, &client.InviteRequest{ResourceType: "Practitioner",
			FirstName: "Pre", LastName: "Member", Email: fmt.Sprintf("user%04d@example.com", i), SendEmail: new(false)}); err != nil {
			t.Fatal(err)
		}
	}
	data := strings.Replace(users(1000), "role,firstName,lastName,email\n", "role,firstName,lastName,email,accessPolicy,param:org\n", 1)
	data = strings.ReplaceAll(data, "example.com\n", "example.com,,\n")
	data = strings.Replace(data, "user0042@example.com,,", "user0042@example.com,nope,Organization/1", 1)
	data = strings.Replace(data, "user0777@example.com,,", "user0777@example.com,nope,Organization/1", 1)
	writeFile(t, e, "users.csv", data)
	before := len(srv.Memberships(srv.Seed.ProjectID))
	srv.ResetRequests()

	// Faults arrive while the run is under way, in waves.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		waves := []int{50, 250, 450, 650, 850}
		for _, at := range waves {
			for len(srv.RequestsTo(http.MethodPost, inviteRoute)) < at {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
			srv.Inject(medplumtest.Fault{Method: "POST", Path: inviteRoute, Times: 4, Status: 409})
			srv.Inject(medplumtest.Fault{Method: "POST", Path: inviteRoute, Times: 3, Status: 503})
			srv.Inject(medplumtest.Fault{Method: "POST", Path: inviteRoute, Times: 1, Status: 429, RetryAfter: time.Second})
			srv.Inject(medplumtest.Fault{Method: "POST", Path: inviteRoute, Times: 2, Drop: medplumtest.DropAfterHandling})
			srv.Inject(medplumtest.Fault{Method: "POST", Path: inviteRoute, Times: 2, Drop: medplumtest.DropBeforeHandling})
			srv.Inject(medplumtest.Fault{Method: "POST", Path: inviteRoute, Times: 1, Drop: medplumtest.DropMidResponse})
		}
	})
	r := e.Run("invite", "--csv", "users.csv", "-q", "--report", "results.csv")
	close(stop)
	wg.Wait()

	r.Expect(t, 3, "",
		"1000 rows: 993 created, 5 exists, 0 updated, 2 failed, 0 skipped\n"+
			"users.csv:44: user0042@example.com: Access policy AccessPolicy/nope does not exist\n"+
			"users.csv:779: user0777@example.com: Access policy AccessPolicy/nope does not exist\n"+
			"report: results.csv\n"+
			"run the same command again to retry the failed rows (journal: users.csv.journal)\n"+
			"medplum: 2 of 1000 rows failed, 0 skipped\n")
	header, rows := readReport(t, filepath.Join(e.Home, "results.csv"))
	if strings.Join(header, ",") != "line,email,external_id,status,membership_id,error" || len(rows) != 1000 {
		t.Fatalf("report: header %v, %d rows", header, len(rows))
	}
	members := membershipsByEmail(srv)
	for i := range 1000 {
		email := fmt.Sprintf("user%04d@example.com", i)
		row := rows[fmt.Sprint(i+2)]
		want := "created"
		switch {
		case i == 42 || i == 777:
			want = "failed"
		case i >= 100 && i < 500 && (i-100)%80 == 0:
			want = "exists"
		}
		if row == nil || row[1] != email || row[3] != want {
			t.Errorf("line %d: %v, want %s", i+2, row, want)
			continue
		}
		if wantN := map[bool]int{true: 0, false: 1}[want == "failed"]; members[email] != wantN {
			t.Errorf("%s: %d memberships, want %d", email, members[email], wantN)
		}
		if want != "failed" {
			m := srv.MembershipByEmail(srv.Seed.ProjectID, email)
			if m == nil || row[4] != m.ID() {
				t.Errorf("line %d: report names membership %q, server has %v", i+2, row[4], m)
			}
		}
	}
	if after := len(srv.Memberships(srv.Seed.ProjectID)); after != before+993 {
		t.Errorf("%d memberships, want %d", after, before+993)
	}
	// Each wave's 13 faulted requests are sent again, except the 3 whose
	// membership was made before the answer was lost (a lookup settles them).
	if n := len(srv.RequestsTo(http.MethodPost, inviteRoute)); n < 1000+5*(13-3) {
		t.Errorf("only %d invite requests: were the faults injected?", n)
	}
}

// bearer is a fixed-token Authenticator for seeding through the client.
type bearer string

func (b bearer) Apply(_ context.Context, r *http.Request) error {
	r.Header.Set("Authorization", "Bearer "+string(b))
	return nil
}
func (b bearer) Refresh(context.Context) (bool, error) { return false, nil }

// journalState reads a journal as the next run will: rows finished, and rows
// started but not finished (in flight when the process died).
func journalState(t *testing.T, path string) (done, inFlight map[int]bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	done, inFlight = map[int]bool{}, map[int]bool{}
	for i, line := range strings.Split(string(data), "\n") {
		if i == 0 || line == "" {
			continue
		}
		rec, err := client.DecodeResource([]byte(line))
		if err != nil {
			continue // a line torn by the kill
		}
		num, _ := rec["line"].(json.Number)
		n, err := num.Int64()
		if err != nil {
			continue // a mark line
		}
		switch rec.String("state") {
		case "started":
			inFlight[int(n)] = true
		case "created", "exists", "updated":
			done[int(n)] = true
			delete(inFlight, int(n))
		}
	}
	return done, inFlight
}

// waitForMembers waits until the project has at least n memberships.
func waitForMembers(t *testing.T, srv *medplumtest.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for len(srv.Memberships(srv.Seed.ProjectID)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the project never reached %d memberships", n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A run killed with SIGKILL half-way (a real process, with invites in
// flight) and run again ends with every row created once: rows the journal
// shows finished are not sent again, rows in flight are looked up.
func TestInviteCSVSurvivesKill9(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(3), medplumtest.WithConflictRate(0),
		medplumtest.WithInviteCost(30*time.Millisecond, 5*time.Millisecond))
	e := signedIn(t, srv)
	writeFile(t, e, "users.csv", users(200))
	before := len(srv.Memberships(srv.Seed.ProjectID))

	p := e.Start("invite", "--csv", "users.csv", "-q", "--concurrency", "8")
	waitForMembers(t, srv, before+100)
	killed := p.Kill()
	if killed.Stdout != "" || killed.Stderr != "" {
		t.Errorf("killed run wrote:\n%s%s", killed.Stdout, killed.Stderr)
	}
	done, inFlight := journalState(t, filepath.Join(e.Home, "users.csv.journal"))
	if len(done) < 90 || len(done) >= 200 || len(inFlight) == 0 {
		t.Fatalf("the kill did not land mid-run: %d rows done, %d in flight", len(done), len(inFlight))
	}

	r := e.Run("invite", "--csv", "users.csv", "-q", "--report", "results.csv")
	r.Expect(t, 0, "", fmt.Sprintf("resuming from users.csv.journal: %d rows done, %d to look up, 0 failed before\n", len(done), len(inFlight))+
		"200 rows: 200 created, 0 exists, 0 updated, 0 failed, 0 skipped\n"+
		"report: results.csv\n")
	_, rows := readReport(t, filepath.Join(e.Home, "results.csv"))
	members := membershipsByEmail(srv)
	posts := invitesByEmail(t, srv)
	for i := range 200 {
		email := fmt.Sprintf("user%04d@example.com", i)
		if row := rows[fmt.Sprint(i+2)]; row == nil || row[3] != "created" || row[4] == "" {
			t.Errorf("line %d: %v", i+2, row)
		}
		if members[email] != 1 {
			t.Errorf("%s: %d memberships", email, members[email])
		}
		// Only a row in flight at the kill may have been sent twice (when
		// its first request never reached the server's handler).
		if max := map[bool]int{true: 2, false: 1}[inFlight[i+2]]; posts[email] < 1 || posts[email] > max {
			t.Errorf("%s: %d invite requests (in flight at the kill: %v)", email, posts[email], inFlight[i+2])
		}
	}
	if after := len(srv.Memberships(srv.Seed.ProjectID)); after != before+200 {
		t.Errorf("%d memberships, want %d", after, before+200)
	}
}

// Ctrl-C stops sending, lets the requests in flight finish and records
// them: the next run has nothing to look up and sends every row once.
func TestInviteCSVCtrlC(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(4), medplumtest.WithConflictRate(0),
		medplumtest.WithInviteCost(20*time.Millisecond, 5*time.Millisecond))
	e := signedIn(t, srv)
	writeFile(t, e, "users.csv", users(200))
	before := len(srv.Memberships(srv.Seed.ProjectID))

	p := e.Start("invite", "--csv", "users.csv", "-q", "--concurrency", "4")
	waitForMembers(t, srv, before+50)
	p.Signal(os.Interrupt)
	r := p.Wait()
	done, inFlight := journalState(t, filepath.Join(e.Home, "users.csv.journal"))
	made := len(srv.Memberships(srv.Seed.ProjectID)) - before
	if len(inFlight) != 0 || len(done) != made || made >= 200 {
		t.Fatalf("after Ctrl-C: %d rows done, %d in flight, %d memberships made", len(done), len(inFlight), made)
	}
	r.Expect(t, 130, "", fmt.Sprintf("200 rows: %d created, 0 exists, 0 updated, 0 failed, 0 skipped\n", made)+
		fmt.Sprintf("%d rows not done; run the same command again to finish them (journal: users.csv.journal)\n", 200-made)+
		"medplum: interrupted\n")

	e.Run("invite", "--csv", "users.csv", "-q").Expect(t, 0, "",
		fmt.Sprintf("resuming from users.csv.journal: %d rows done, 0 to look up, 0 failed before\n", made)+
			"200 rows: 200 created, 0 exists, 0 updated, 0 failed, 0 skipped\n")
	for email, n := range invitesByEmail(t, srv) {
		if n != 1 {
			t.Errorf("%s: %d invite requests", email, n)
		}
	}
	if after := len(srv.Memberships(srv.Seed.ProjectID)); after != before+200 {
		t.Errorf("%d memberships, want %d", after, before+200)
	}
}
