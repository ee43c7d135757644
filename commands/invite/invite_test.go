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
	"testing"
	"time"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m) }

const inviteRoute = "/admin/projects/*/invite"

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

// knownColumns is the list of columns invite --csv prints once.
const knownColumns = "resourceType (or role), firstName, lastName, email, externalId, admin, accessPolicy, param:<name>, scope, patient, " +
	"mfaRequired, sendEmail, active (matched without regard to case, spaces, hyphens and underscores)"

func TestInviteCSVSmall(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(1), medplumtest.WithMailer())
	e := clitest.SignedIn(t, srv)
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "AccessPolicy", "id": "ap1", "name": "Staff"})
	writeFile(t, e, "users.csv", "\uFEFFRole,FirstName,LastName,Email,accessPolicy,param:provider_organization,sendEmail\r\n"+
		"Practitioner,\"Hibbert, Julius\",Hibbert,hibbert@example.com,ap1,Organization/abc,true\r\n"+
		"Patient,Homer,Simpson,homer@example.com,,,\r\n"+
		"Practitioner,Nick,Riviera,riviera@example.com,Staff,Organization/abc,\r\n")
	srv.Inject(medplumtest.Fault{Method: "POST", Path: inviteRoute, Body: `"riviera@example.com"`, Status: 412})
	r := e.Run("invite", "--csv", "users.csv", "--concurrency", "1", "-q", "-o", "csv", "--report", "results.csv")
	hib := srv.MembershipByEmail(srv.Seed.ProjectID, "hibbert@example.com")
	if hib == nil {
		t.Fatal("hibbert was not invited")
	}
	r.Expect(t, 3,
		"line,email,external_id,status,membership_id,error,change,earlier_run\n"+
			"2,hibbert@example.com,,created,"+hib.ID()+",,,false\n"+
			"3,homer@example.com,,exists,"+srv.Seed.Homer.MembershipID+",,,false\n"+
			"4,riviera@example.com,,failed,,Precondition Failed,,false\n",
		"3 rows: 1 created, 1 exists, 0 updated, 1 failed, 0 skipped\n"+
			"users.csv:4: riviera@example.com: Precondition Failed\n"+
			"report: results.csv\n"+
			"run the same command again to retry the failed row (journal: users.csv.journal)\n"+
			"medplum: 1 of 3 rows failed\n")
	report, err := os.ReadFile(filepath.Join(e.Home, "results.csv"))
	if err != nil || string(report) != r.Stdout {
		t.Errorf("report file (%v):\n%s\nwant the same as stdout", err, report)
	}
	if len(srv.SentEmails()) != 1 {
		t.Errorf("%d e-mails sent; only hibbert's row asked for one", len(srv.SentEmails()))
	}
	// The failed row is retried by the same command; the others are not
	// sent again, and are said to be done by the earlier run.
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
	if want := "resuming from users.csv.journal: 2 rows done, 0 to look up, 1 failed before\n" +
		"3 rows: 1 created, 0 exists, 0 updated, 0 failed, 0 skipped; 2 rows done by an earlier run (1 created, 1 exists)\n"; r.Stderr != want {
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
	e := clitest.SignedIn(t, srv)
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

	// Rows skipped on purpose are not failures: exit 0, as the dry run.
	r = e.Run("invite", "--csv", "bad.csv", "--skip-invalid", "-q", "--report", "out.csv")
	if r.Code != 0 {
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
		"medplum: h.csv:1: mail: unknown column\n"+
			"h.csv:1: nickname: unknown column\n"+
			"h.csv:1: missing column email (or externalId)\n"+
			"nothing was sent\n"+
			"known columns: "+knownColumns+"\n"+
			"say which column holds email with --map, e.g. --map 'mail=email'\n"+
			"leave out a column the invites do not need with --map 'mail=ignore'\n")
	e.Run("invite", "--csv", "missing.csv").Expect(t, 2, "", "medplum: --csv: open missing.csv: no such file or directory\n")
	e.Run("invite", "--csv", "-").Expect(t, 2, "",
		"medplum: --csv needs a file, not stdin: the journal that makes a run resumable is tied to the file's contents\nRun 'medplum invite --help' for usage.\n")
	e.Run("invite", "--report", "r.csv").Expect(t, 2, "", "medplum: --report needs --csv\nRun 'medplum invite --help' for usage.\n")
	e.Run("invite", "--csv", "h.csv", "-o", "table").Expect(t, 2, "",
		"medplum: with --csv, -o takes json, ndjson or csv (each row's result)\nRun 'medplum invite --help' for usage.\n")
	// Usage errors are found before anything else (the environment is not
	// even signed in), and leave no journal behind.
	writeFile(t, e, "u.csv", "firstName,lastName,email\nA,B,a@b.co\n")
	usage := "\nRun 'medplum invite --help' for usage.\n"
	for stderr, args := range map[string][]string{
		"medplum: --report would overwrite the input file" + usage:                                                              {"--report", "./u.csv"},
		"medplum: --concurrency must be a positive number (or leave it out for adaptive)" + usage:                               {"--concurrency", "-1"},
		"medplum: --first, --admin cannot be used with --csv (put them in the file's columns)" + usage:                          {"--first", "X", "--admin"},
		"medplum: --columns is not used with --csv" + usage:                                                                     {"-o", "csv", "--columns", "id"},
		"medplum: --role \"Doctor\": want Patient, Practitioner or RelatedPerson" + usage:                                       {"-r", "Doctor"},
		"medplum: --map \"Job Title\": want 'COLUMN=TARGET', e.g. --map 'Work Email=email' or --map 'Job Title=ignore'" + usage: {"--map", "Job Title"},
		"medplum: --map names the column \"job_title\" twice" + usage:                                                           {"--map", "Job Title=ignore", "--map", "job_title=email"},
	} {
		e.Run(append([]string{"invite", "--csv", "u.csv"}, args...)...).Expect(t, 2, "", stderr)
	}
	e.Run("invite", "A", "B", "a@b.co", "--csv", "u.csv").Expect(t, 2, "", "medplum: --csv takes no positional arguments (the users come from the file)"+usage)
	if _, err := os.Stat(filepath.Join(e.Home, "u.csv.journal")); !os.IsNotExist(err) {
		t.Errorf("a refused run left a journal: %v", err)
	}
}

func TestInviteCSVDryRun(t *testing.T) {
	e := clitest.New(t) // not signed in: a dry run needs no server
	writeFile(t, e, "u.csv", "role,firstName,lastName,email,admin\nPatient,Homer,Simpson,Homer@Example.com,yes\nPractitioner,Bad,,x@y.zz,\n")
	e.Run("invite", "--csv", "u.csv", "--dry-run", "--skip-invalid", "--project", "p1").Expect(t, 0,
		`{"line":2,"body":{"resourceType":"Patient","firstName":"Homer","lastName":"Simpson","email":"homer@example.com","sendEmail":false,"membership":{"admin":true}}}`+"\n",
		"u.csv:3: lastName: is required\n"+
			"dry run: 1 invite would be sent to admin/projects/p1/invite (1 invalid row skipped); nothing was sent\n")
	e.Run("invite", "--csv", "u.csv", "--dry-run").Expect(t, 2, "",
		"u.csv:3: lastName: is required\n"+
			"medplum: u.csv: 1 of 2 rows is invalid; nothing was sent (fix it, or pass --skip-invalid to send the other 1)\n")
}

func TestInviteCSVProgressLines(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(1))
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "u.csv", users(20))
	var want strings.Builder
	for i := 2; i < 20; i += 2 {
		fmt.Fprintf(&want, "invite: %d/20 rows (%d%%): %d created, 0 exists, 0 updated, 0 failed, 0 skipped\n", i, i*5, i)
	}
	want.WriteString("20 rows: 20 created, 0 exists, 0 updated, 0 failed, 0 skipped\n")
	e.Run("invite", "--csv", "u.csv", "--concurrency", "1").Expect(t, 0, "", want.String())
	e.Run("invite", "--csv", "u.csv", "--quiet").Expect(t, 0, "", "20 rows: 0 created, 20 exists, 0 updated, 0 failed, 0 skipped\n")
}

// rowFaults ties faults to rows of users(n) by their e-mail, and says how
// many invites each row takes (1 unless it is listed).
type rowFaults map[int]struct {
	faults []medplumtest.Fault
	sends  int
}

// add gives row i (user i) the faults, and the number of invites they cost.
func (rf rowFaults) add(i, sends int, faults ...medplumtest.Fault) {
	rf[i] = struct {
		faults []medplumtest.Fault
		sends  int
	}{faults, sends}
}

func (rf rowFaults) inject(srv *medplumtest.Server) {
	for i, r := range rf {
		for _, f := range r.faults {
			f.Method, f.Path, f.Body = "POST", inviteRoute, fmt.Sprintf(`"user%04d@example.com"`, i)
			srv.Inject(f)
		}
	}
}

func (rf rowFaults) sends(i int) int {
	if r, ok := rf[i]; ok {
		return r.sends
	}
	return 1
}

// The acceptance test of the issue: 1,000 rows while the server throws
// 429s, 503s, serialization conflicts and dropped connections at the run.
// Each fault is tied to a named row (by its e-mail), so that it hits that
// row whenever the run sends it; every row ends in its exact state, after
// exactly the invites its faults require, and the server holds exactly one
// membership per row.
func TestInviteCSVThousandRowsUnderFaults(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(7))
	e := clitest.SignedIn(t, srv)
	// Five users are members already; two rows name a patient that does not
	// exist (the server refuses them: 400).
	c, err := client.New(client.Options{BaseURL: srv.URL, Auth: &auth.BearerToken{Token: srv.IssueToken(srv.Seed.Client.MembershipID)}})
	if err != nil {
		t.Fatal(err)
	}
	pre := map[int]bool{}
	for i := 100; i < 500; i += 80 {
		if _, err := c.Invite(context.Background(), srv.Seed.ProjectID, &client.InviteRequest{ResourceType: "Practitioner",
			FirstName: "Pre", LastName: "Member", Email: fmt.Sprintf("user%04d@example.com", i), SendEmail: new(false)}); err != nil {
			t.Fatal(err)
		}
		pre[i] = true
	}
	failing := map[int]bool{42: true, 777: true}
	data := strings.Replace(users(1000), "role,firstName,lastName,email\n", "role,firstName,lastName,email,patient\n", 1)
	data = strings.ReplaceAll(data, "example.com\n", "example.com,\n")
	for i := range failing {
		row := fmt.Sprintf("Practitioner,First%d,Last%d,user%04d@example.com,", i, i, i)
		data = strings.Replace(data, row, "RelatedPerson"+strings.TrimPrefix(row, "Practitioner")+"Patient/nope", 1)
	}
	writeFile(t, e, "users.csv", data)
	before := len(srv.Memberships(srv.Seed.ProjectID))
	srv.ResetRequests()

	type F = medplumtest.Fault
	rf := rowFaults{}
	for _, b := range []int{50, 250, 450, 650, 850} { // five waves across the file
		rf.add(b, 3, F{Times: 2, Status: 409})                                           // serialization conflicts, retried
		rf.add(b+1, 3, F{Status: 409}, F{Skip: 1, Status: 503})                          // a conflict, then a gateway error
		rf.add(b+2, 3, F{Times: 2, Status: 503})                                         // not done: looked up, sent again
		rf.add(b+3, 2, F{Status: 429, RetryAfter: time.Second})                          // RateLimit: every sender waits
		rf.add(b+4, 1, F{Drop: medplumtest.DropAfterHandling})                           // made, the answer lost: looked up
		rf.add(b+5, 2, F{Drop: medplumtest.DropBeforeHandling})                          // not made: sent again
		rf.add(b+6, 1, F{Drop: medplumtest.DropMidResponse})                             // made, the answer cut off
		rf.add(b+7, 3, F{Drop: medplumtest.DropBeforeHandling}, F{Skip: 1, Status: 409}) // a drop, then a conflict
	}
	rf.add(100, 1, F{Drop: medplumtest.DropAfterHandling}) // a member before: the lost 409 is still "exists"
	rf.add(260, 1, F{Drop: medplumtest.DropMidResponse})
	rf.add(420, 1, F{Status: 503})                         // looked up: a member before
	rf.add(42, 2, F{Status: 503})                          // then the 400
	rf.add(777, 2, F{Drop: medplumtest.DropAfterHandling}) // the 400 is lost: looked up, sent again
	rf.inject(srv)

	r := e.Run("invite", "--csv", "users.csv", "-q", "--report", "results.csv")
	r.Expect(t, 3, "",
		"1000 rows: 993 created, 5 exists, 0 updated, 2 failed, 0 skipped\n"+
			"users.csv:44: user0042@example.com: Patient Patient/nope does not exist\n"+
			"users.csv:779: user0777@example.com: Patient Patient/nope does not exist\n"+
			"report: results.csv\n"+
			"run the same command again to retry the failed rows (journal: users.csv.journal)\n"+
			"medplum: 2 of 1000 rows failed\n")
	header, rows := readReport(t, filepath.Join(e.Home, "results.csv"))
	if strings.Join(header, ",") != "line,email,external_id,status,membership_id,error,change,earlier_run" || len(rows) != 1000 {
		t.Fatalf("report: header %v, %d rows", header, len(rows))
	}
	members := membershipsByEmail(srv)
	posts := invitesByEmail(t, srv)
	sends := 0
	for i := range 1000 {
		email := fmt.Sprintf("user%04d@example.com", i)
		m := srv.MembershipByEmail(srv.Seed.ProjectID, email)
		want := []string{fmt.Sprint(i + 2), email, "", "created", "", "", "", "false"}
		switch {
		case failing[i]:
			want[3], want[5] = "failed", "Patient Patient/nope does not exist"
		case pre[i]:
			want[3] = "exists"
		}
		if m != nil {
			want[4] = m.ID()
		}
		if row := rows[fmt.Sprint(i+2)]; strings.Join(row, "|") != strings.Join(want, "|") {
			t.Errorf("line %d: %v\n   want %v", i+2, row, want)
		}
		if wantN := map[bool]int{true: 0, false: 1}[failing[i]]; members[email] != wantN {
			t.Errorf("%s: %d memberships, want %d", email, members[email], wantN)
		}
		if posts[email] != rf.sends(i) {
			t.Errorf("%s: %d invite requests, want %d", email, posts[email], rf.sends(i))
		}
		sends += rf.sends(i)
	}
	if after := len(srv.Memberships(srv.Seed.ProjectID)); after != before+993 {
		t.Errorf("%d memberships, want %d", after, before+993)
	}
	if n := len(srv.RequestsTo(http.MethodPost, inviteRoute)); n != sends {
		t.Errorf("%d invite requests, want %d", n, sends)
	}
	if p := srv.PendingFaults(); len(p) != 0 {
		t.Errorf("%d faults were not used: %+v", len(p), p)
	}
}

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

// waitUntil waits until cond holds (it checks state, not time: the deadline
// only turns a hang into a failure).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A run killed with SIGKILL half-way (a real process, with invites in
// flight and half the file never sent) and run again ends with every row
// created once: rows the journal shows finished are not sent again, rows in
// flight are looked up, rows never sent are sent. Two rows never get an
// answer while the process lives, though their invites took effect; from
// the 101st invite on, requests are held unhandled. So the kill lands with
// 98 rows done, four in flight (two made, two not) and 98 never sent.
func TestInviteCSVSurvivesKill9(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(3), medplumtest.WithConflictRate(0))
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "users.csv", users(200))
	before := len(srv.Memberships(srv.Seed.ProjectID))
	never := make(chan struct{}) // the kill ends what waits on it
	for i, mode := range map[int]medplumtest.DropMode{30: medplumtest.DropAfterHandling, 60: medplumtest.DropMidResponse} {
		srv.Inject(medplumtest.Fault{Method: "POST", Path: inviteRoute, Body: fmt.Sprintf(`"user%04d@example.com"`, i), Drop: mode, Hold: never})
	}
	srv.Inject(medplumtest.Fault{Method: "POST", Path: inviteRoute, Skip: 100, Times: 1000, Hold: never})
	journal := filepath.Join(e.Home, "users.csv.journal")

	p := e.Start("invite", "--csv", "users.csv", "-q", "--concurrency", "4")
	waitUntil(t, "98 rows done and 102 invites sent", func() bool {
		if _, err := os.Stat(journal); err != nil {
			return false
		}
		done, _ := journalState(t, journal)
		return len(done) == 98 && len(srv.RequestsTo(http.MethodPost, inviteRoute)) == 102
	})
	killed := p.Kill()
	if killed.Stdout != "" || killed.Stderr != "" {
		t.Errorf("killed run wrote:\n%s%s", killed.Stdout, killed.Stderr)
	}
	done, inFlight := journalState(t, journal)
	if len(done) != 98 || len(inFlight) != 4 || !inFlight[32] || !inFlight[62] {
		t.Fatalf("after the kill: %d rows done, in flight %v; want 98, and lines 32 and 62 among the four", len(done), inFlight)
	}
	made := len(srv.Memberships(srv.Seed.ProjectID)) - before
	if made != 100 {
		t.Fatalf("%d memberships made before the kill, want 100 (98 done, 2 in flight)", made)
	}
	srv.ClearFaults()

	r := e.Run("invite", "--csv", "users.csv", "-q", "--report", "results.csv")
	r.Expect(t, 0, "", "resuming from users.csv.journal: 98 rows done, 4 to look up, 0 failed before\n"+
		"200 rows: 102 created, 0 exists, 0 updated, 0 failed, 0 skipped; 98 rows done by an earlier run (98 created)\n"+
		"report: results.csv\n")
	_, rows := readReport(t, filepath.Join(e.Home, "results.csv"))
	members := membershipsByEmail(srv)
	posts := invitesByEmail(t, srv)
	for i := range 200 {
		email := fmt.Sprintf("user%04d@example.com", i)
		m := srv.MembershipByEmail(srv.Seed.ProjectID, email)
		if row := rows[fmt.Sprint(i+2)]; row == nil || row[3] != "created" || m == nil || row[4] != m.ID() || row[5] != "" {
			t.Errorf("line %d: %v, server has %v", i+2, row, m)
		}
		if members[email] != 1 {
			t.Errorf("%s: %d memberships", email, members[email])
		}
		// Only the rows held unhandled when the process died are sent
		// twice; the two whose invites took effect are looked up.
		want := 1
		if inFlight[i+2] && i != 30 && i != 60 {
			want = 2
		}
		if posts[email] != want {
			t.Errorf("%s: %d invite requests, want %d", email, posts[email], want)
		}
	}
	if after := len(srv.Memberships(srv.Seed.ProjectID)); after != before+200 {
		t.Errorf("%d memberships, want %d", after, before+200)
	}
}

// Ctrl-C stops sending, says it waits for the requests in flight, lets
// them finish and records them: the next run has nothing to look up and
// sends every row once. From the 51st invite on, requests wait at a gate:
// the interrupt comes with 50 rows done and 4 requests in flight, which
// the gate lets finish once medplum says it has stopped sending. (The gate
// used to open right after the signal was sent; when medplum took longer
// to see the signal than to send the other 146 rows, as under heavy load,
// the run completed and removed its journal, and the test failed.)
func TestInviteCSVCtrlC(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(4), medplumtest.WithConflictRate(0))
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "users.csv", users(200))
	before := len(srv.Memberships(srv.Seed.ProjectID))
	gate := make(chan struct{})
	srv.Inject(medplumtest.Fault{Method: "POST", Path: inviteRoute, Skip: 50, Times: 1000, Hold: gate})
	journal := filepath.Join(e.Home, "users.csv.journal")

	p := e.Start("invite", "--csv", "users.csv", "-q", "--concurrency", "4")
	waitUntil(t, "50 rows done and 4 requests at the gate", func() bool {
		if _, err := os.Stat(journal); err != nil {
			return false
		}
		done, _ := journalState(t, journal)
		return len(done) == 50 && len(srv.RequestsTo(http.MethodPost, inviteRoute)) == 54
	})
	p.Signal(os.Interrupt)
	const notice = "interrupted: waiting up to 10s for the 4 invites in flight (Ctrl-C again to stop at once)\n"
	waitUntil(t, "medplum to say it stopped sending", func() bool { return p.Stderr() == notice })
	close(gate)
	r := p.Wait()
	done, inFlight := journalState(t, journal)
	made := len(srv.Memberships(srv.Seed.ProjectID)) - before
	if len(inFlight) != 0 || len(done) != 54 || made != 54 {
		t.Fatalf("after Ctrl-C: %d rows done, %d in flight, %d memberships made; want the 54 sent", len(done), len(inFlight), made)
	}
	r.Expect(t, 130, "", notice+
		"200 rows: 54 created, 0 exists, 0 updated, 0 failed, 0 skipped\n"+
		"146 rows not done; run the same command again to finish them (journal: users.csv.journal)\n"+
		"medplum: interrupted\n")

	e.Run("invite", "--csv", "users.csv", "-q").Expect(t, 0, "",
		fmt.Sprintf("resuming from users.csv.journal: %d rows done, 0 to look up, 0 failed before\n", made)+
			fmt.Sprintf("200 rows: %d created, 0 exists, 0 updated, 0 failed, 0 skipped; %d rows done by an earlier run (%d created)\n", 200-made, made, made))
	for email, n := range invitesByEmail(t, srv) {
		if n != 1 {
			t.Errorf("%s: %d invite requests", email, n)
		}
	}
	if after := len(srv.Memberships(srv.Seed.ProjectID)); after != before+200 {
		t.Errorf("%d memberships, want %d", after, before+200)
	}
}

// The flags of a bulk run, through the binary: -r and --send-email are the
// defaults of rows that leave the column out, --ignore-unknown-columns
// drops a column, --upsert turns a member's row into "updated", --project
// names the project, -o json streams the results as an array,
// and --state puts the journal where it says, for the next run to resume.
func TestInviteCSVFlags(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(1), medplumtest.WithMailer())
	e := clitest.SignedIn(t, srv)
	project := srv.Seed.ProjectID
	writeFile(t, e, "users.csv", "FirstName,LastName,EMAIL,Nickname,Admin,sendEmail\n"+
		"Ned,Flanders,ned@example.com,neddy,true,\n"+ // 2 --send-email applies
		"Homer,Simpson,homer@example.com,,yes,false\n"+ // 3 a member already: updated
		"Maude,Flanders,maude@example.com,,,false\n"+ // 4
		"Lisa,Simpson,lisa@example.com,,,\n") // 5 refused by the server on the first run
	srv.Inject(medplumtest.Fault{Method: "POST", Path: inviteRoute, Body: `"lisa@example.com"`, Status: 412})
	args := []string{"invite", "--csv", "users.csv", "--ignore-unknown-columns", "-r", "patient", "--send-email", "--upsert",
		"--project", project, "--state", "state.journal", "--concurrency", "1", "-q", "-o", "json"}

	e.Run("invite", "--csv", "users.csv", "--project", project).ExpectCode(t, 2, "medplum: users.csv:1: Nickname: unknown column\nnothing was sent\n"+
		"known columns: "+knownColumns+"\n"+
		"leave out a column the invites do not need with --map 'Nickname=ignore' (or --ignore-unknown-columns for all of them)\n")
	r := e.Run(args...)
	ned, homer, maude := member(t, srv, "ned@example.com"), member(t, srv, "homer@example.com"), member(t, srv, "maude@example.com")
	r.Expect(t, 3, "[\n"+
		`  {"line":2,"email":"ned@example.com","status":"created","membershipId":"`+ned.ID()+`"},`+"\n"+
		`  {"line":3,"email":"homer@example.com","status":"updated","membershipId":"`+srv.Seed.Homer.MembershipID+`","change":"admin false -> true"},`+"\n"+
		`  {"line":4,"email":"maude@example.com","status":"created","membershipId":"`+maude.ID()+`"},`+"\n"+
		`  {"line":5,"email":"lisa@example.com","status":"failed","error":"Precondition Failed"}`+"\n]\n",
		"4 rows: 2 created, 0 exists, 1 updated, 1 failed, 0 skipped\n"+
			"users.csv:5: lisa@example.com: Precondition Failed\n"+
			"run the same command again to retry the failed row (journal: state.journal)\n"+
			"medplum: 1 of 4 rows failed\n")
	expectSent(t, srv,
		`{"resourceType":"Patient","firstName":"Ned","lastName":"Flanders","email":"ned@example.com","sendEmail":true,"membership":{"admin":true}}`,
		`{"resourceType":"Patient","firstName":"Homer","lastName":"Simpson","email":"homer@example.com","sendEmail":false,"membership":{"admin":true}}`,
		`{"email":"homer@example.com","firstName":"Homer","lastName":"Simpson","membership":{"admin":true},"resourceType":"Patient","sendEmail":false,"upsert":true}`,
		`{"resourceType":"Patient","firstName":"Maude","lastName":"Flanders","email":"maude@example.com","sendEmail":false}`,
		`{"resourceType":"Patient","firstName":"Lisa","lastName":"Simpson","email":"lisa@example.com","sendEmail":true}`)
	if homer.ID() != srv.Seed.Homer.MembershipID || homer["admin"] != true || ned["admin"] != true || maude["admin"] != nil ||
		!strings.HasPrefix(ned.Ref("profile"), "Patient/") || !strings.HasPrefix(maude.Ref("profile"), "Patient/") {
		t.Errorf("memberships:\n %v\n %v\n %v", ned, homer, maude)
	}
	if mails := srv.SentEmails(); len(mails) != 1 || mails[0].To != "ned@example.com" {
		t.Errorf("e-mails %+v, want one to ned@example.com", mails)
	}
	if n := len(srv.RequestsTo(http.MethodPost, "/admin/projects/"+project+"/invite")); n != 5 {
		t.Errorf("%d invites to the project --project names, want 5", n)
	}
	if _, err := os.Stat(filepath.Join(e.Home, "state.journal")); err != nil {
		t.Errorf("--state: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.Home, "users.csv.journal")); !os.IsNotExist(err) {
		t.Errorf("a journal next to the CSV despite --state: %v", err)
	}

	// The same command finishes the failed row from --state's journal.
	srv.ResetRequests()
	r = e.Run(args...)
	lisa := member(t, srv, "lisa@example.com")
	r.Expect(t, 0, "[\n"+
		`  {"line":2,"email":"ned@example.com","status":"created","membershipId":"`+ned.ID()+`","earlierRun":true},`+"\n"+
		`  {"line":3,"email":"homer@example.com","status":"updated","membershipId":"`+srv.Seed.Homer.MembershipID+`","change":"admin false -> true","earlierRun":true},`+"\n"+
		`  {"line":4,"email":"maude@example.com","status":"created","membershipId":"`+maude.ID()+`","earlierRun":true},`+"\n"+
		`  {"line":5,"email":"lisa@example.com","status":"created","membershipId":"`+lisa.ID()+`"}`+"\n]\n",
		"resuming from state.journal: 3 rows done, 0 to look up, 1 failed before\n"+
			"4 rows: 1 created, 0 exists, 0 updated, 0 failed, 0 skipped; 3 rows done by an earlier run (2 created, 1 updated)\n")
	expectSent(t, srv, `{"resourceType":"Patient","firstName":"Lisa","lastName":"Simpson","email":"lisa@example.com","sendEmail":true}`)
	if _, err := os.Stat(filepath.Join(e.Home, "state.journal")); !os.IsNotExist(err) {
		t.Errorf("journal left after a complete run: %v", err)
	}
}

// Rows that ended well with something to say (the server made the
// membership but could not send the invitation e-mail) are listed at the
// end, not only written to --report: a run asked to e-mail people must not
// look as if it did when it did not. The exit status is still 0.
func TestInviteCSVListsRowsWithNotes(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(1)) // no mailer: like a server without SES
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "users.csv", "firstName,lastName,email,sendEmail\n"+
		"Patty,Bouvier,patty@example.com,true\n"+
		"Selma,Bouvier,selma@example.com,false\n"+
		"Jacqueline,Bouvier,jackie@example.com,true\n")
	const why = "membership created, but the server reported: Could not send email. Make sure you have AWS SES set up. " +
		"(Error sending email: Could not load credentials from any providers)"
	e.Run("invite", "--csv", "users.csv", "-q").Expect(t, 0, "",
		"3 rows: 3 created, 0 exists, 0 updated, 0 failed, 0 skipped\n"+
			"users.csv:2: patty@example.com (created): "+why+"\n"+
			"users.csv:4: jackie@example.com (created): "+why+"\n")
	for _, email := range []string{"patty@example.com", "selma@example.com", "jackie@example.com"} {
		member(t, srv, email)
	}
}

// Counts of one are singular everywhere a bulk run reports them: the
// summary, the resume line, the rows not done or failed, the rows listed
// only in the report.
func TestInviteCSVSaysOneRow(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithSeed(7), medplumtest.WithConflictRate(0))
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "one.csv", users(1))
	e.Run("invite", "--csv", "one.csv", "-q").Expect(t, 0, "", "1 row: 1 created, 0 exists, 0 updated, 0 failed, 0 skipped\n")

	// 22 rows, 21 refused: 20 listed, "1 more failed row" in the report.
	writeFile(t, e, "many.csv", users(22))
	srv.Inject(medplumtest.Fault{Method: http.MethodPost, Path: inviteRoute, Skip: 1, Times: 21, Status: 412})
	r := e.Run("invite", "--csv", "many.csv", "-q", "--concurrency", "1")
	if r.Code != 3 || !strings.Contains(r.Stderr, "\n... and 1 more failed row (see --report)\n") ||
		!strings.HasSuffix(r.Stderr, "\nmedplum: 21 of 22 rows failed\n") {
		t.Errorf("exit %d, stderr:\n%s", r.Code, r.Stderr)
	}
	r = e.Run("invite", "--csv", "many.csv", "-q", "--concurrency", "1")
	if r.Code != 0 || !strings.HasPrefix(r.Stderr, "resuming from many.csv.journal: 1 row done, 0 to look up, 21 failed before\n") {
		t.Errorf("exit %d, stderr:\n%s", r.Code, r.Stderr)
	}

	// One row of two refused, the other never sent (Ctrl-C is not needed:
	// the credentials are refused after the first).
	writeFile(t, e, "two.csv", users(2)+"Practitioner,Last,Row,last@example.com\n")
	srv.Inject(medplumtest.Fault{Method: http.MethodPost, Path: inviteRoute, Body: `"user0001@example.com"`, Status: 403})
	r = e.Run("invite", "--csv", "two.csv", "-q", "--concurrency", "1")
	if r.Code != 5 || !strings.Contains(r.Stderr, "\n1 row not done; run the same command again to finish it (journal: two.csv.journal)\n") {
		t.Errorf("exit %d, stderr:\n%s", r.Code, r.Stderr)
	}
}

// A --report in a directory that is not there is said before the file is
// read or anything sent, naming the directory (exit 2), as bulk import's
// is: it was an exit 1 "open nodir/.x.csv.123" after the server was asked.
func TestInviteCSVReportDirectoryMissing(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	writeFile(t, e, "users.csv", "role,firstName,lastName,email\nPatient,Homer,Simpson,homer@example.com\n")
	e.Run("invite", "--csv", "users.csv", "--report", "nodir/x.csv").
		Expect(t, 2, "", "medplum: --report nodir/x.csv: no directory nodir\n")
	clitest.ExpectNothingSent(t, srv)
}
