package review_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/clitest"
)

// node helpers over golang.org/x/net/html's tree.

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func find(root *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	walk(root, func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
	})
	return out
}

func byID(root *html.Node, id string) *html.Node {
	if ns := find(root, func(n *html.Node) bool { return attr(n, "id") == id }); len(ns) == 1 {
		return ns[0]
	}
	return nil
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		switch {
		case c.Type == html.TextNode:
			b.WriteString(c.Data)
		case c.Type == html.ElementNode && c.Data == "br":
			b.WriteString(" ")
		}
	})
	return strings.Join(strings.Fields(b.String()), " ")
}

func cells(tr *html.Node) []string {
	var out []string
	for _, td := range find(tr, func(n *html.Node) bool { return n.Data == "td" }) {
		out = append(out, text(td))
	}
	return out
}

func parsePage(t *testing.T, path string) *html.Node {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := html.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// The HTML report, read as a browser would: the findings first (most
// severe first, then the accepted ones), the counts, the rules and every
// member; nothing on the page is fetched from anywhere.
func TestReviewHTML(t *testing.T) {
	f := newFixture(t)
	ada := f.person("Ada", "Admin", true, false)
	off := f.person("Was", "Admin", true, false)
	f.set(off, func(m client.Resource) { m["active"] = false })
	ign := writeFile(t, "accepted.yaml", "- rule: client-admin\n  member: Sandbox Project Admin Client\n  reason: provisions <the> project & more\n  expires: 2099-01-31\n")
	page := filepath.Join(t.TempDir(), "review.html")

	// --html without -o: the page, and the summary on stderr.
	r := f.e.Run("members", "review", "--html", page, "--ignore", ign)
	r.ExpectCode(t, 0, r.Stderr)
	if r.Stdout != "" || !strings.HasSuffix(r.Stderr, "Wrote the report to "+page+"\n") || !strings.HasPrefix(r.Stderr, "Findings: 1 high, 2 medium, 0 low (and 1 accepted)\n") {
		t.Errorf("stdout %q, stderr:\n%s", r.Stdout, r.Stderr)
	}
	doc := parsePage(t, page)

	// Self-contained: no scripts, no stylesheets or images to fetch, no
	// link anywhere.
	for _, n := range find(doc, func(n *html.Node) bool { return true }) {
		switch {
		case n.Data == "script", n.Data == "link", n.Data == "img", n.Data == "iframe", n.Data == "object":
			t.Errorf("<%s> on the page", n.Data)
		case attr(n, "src") != "", attr(n, "href") != "":
			t.Errorf("<%s> refers to %s%s", n.Data, attr(n, "src"), attr(n, "href"))
		}
	}
	for _, s := range find(doc, func(n *html.Node) bool { return n.Data == "style" }) {
		if css := text(s); strings.Contains(css, "url(") || strings.Contains(css, "@import") {
			t.Errorf("the style fetches something: %s", css)
		}
	}
	if title := text(find(doc, func(n *html.Node) bool { return n.Data == "title" })[0]); !strings.HasPrefix(title, "Access review of Sandbox Project (") {
		t.Errorf("title %q", title)
	}

	// The findings come first, before the members.
	var sections []string
	for _, s := range find(doc, func(n *html.Node) bool { return n.Data == "section" }) {
		sections = append(sections, attr(s, "id"))
	}
	if got := strings.Join(sections, ","); got != "findings,counts,rules,members" {
		t.Errorf("sections %s", got)
	}
	var findings []string
	isFinding := func(n *html.Node) bool { return n.Data == "tr" && strings.HasPrefix(attr(n, "class"), "finding") }
	for _, tr := range find(byID(doc, "findings"), isFinding) {
		c := cells(tr)
		findings = append(findings, attr(tr, "class")+" | "+attr(tr, "data-rule")+" | "+attr(tr, "data-member")+" | "+strings.Join(c[:4], " | "))
	}
	expectList(t, "findings on the page", findings,
		"finding | admin-without-mfa | "+ada.ID()+" | high | admin-without-mfa | Ada Admin "+ada.ID()+" | project admin without MFA enrolled",
		"finding | inactive-admin | "+off.ID()+" | medium | inactive-admin | Was Admin "+off.ID()+" | deactivated, still an admin",
		"finding | project-mfa-not-required |  | medium | project-mfa-not-required | (the project) | the project's setting mfaRequired is not true: each user decides whether to enrol",
		"finding accepted | client-admin | "+f.srv.Seed.Client.MembershipID+" | high | client-admin | Sandbox Project Admin Client "+f.srv.Seed.Client.MembershipID+" | client application with admin rights")
	// In order: high, then medium, then the accepted ones, whose reason is
	// shown as written (escaped, not markup).
	rows := find(byID(doc, "findings"), isFinding)
	if attr(rows[0], "data-severity") != "high" || attr(rows[len(rows)-1], "class") != "finding accepted" {
		t.Errorf("order: first %s, last %s", attr(rows[0], "data-severity"), attr(rows[len(rows)-1], "class"))
	}
	if last := cells(rows[len(rows)-1]); last[4] != "provisions <the> project & more (until 2099-01-31) "+ign+":1" {
		t.Errorf("accepted because %q", last[4])
	}
	if fix := cells(rows[0])[4]; !strings.HasPrefix(fix, "Have the admin enrol in MFA") {
		t.Errorf("fix %q", fix)
	}

	// The counts and rules.
	counts := text(byID(doc, "counts"))
	for _, want := range []string{"1 high", "2 medium", "0 low", "1 accepted", "6 members", "4 people", "1 clients", "1 bots", "4 admins", "1 deactivated", "2 invites pending", "1 invites unknown", "1 members with unknowns"} {
		// whole words: "1 high" must not pass on "11 high"
		if !regexp.MustCompile(`(^|[^0-9])` + regexp.QuoteMeta(want) + `\b`).MatchString(counts) {
			t.Errorf("counts %q lack %q", counts, want)
		}
	}
	results := map[string]string{}
	for _, tr := range find(byID(doc, "rules"), func(n *html.Node) bool { return attr(n, "data-rule") != "" }) {
		results[attr(tr, "data-rule")] = attr(tr, "data-result")
	}
	if results["admin-without-mfa"] != "fail" || results["client-admin"] != "accepted" || results["stale-invite"] != "incomplete" ||
		results["missing-profile"] != "pass" || results["missing-user"] != "incomplete" || len(results) != 12 {
		t.Errorf("rule results %v", results)
	}

	// Every member, every column; an unknown says why.
	members := find(byID(doc, "members"), func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-member") != "" })
	if len(members) != 6 {
		t.Fatalf("%d member rows", len(members))
	}
	var admin *html.Node
	for _, tr := range members {
		if attr(tr, "data-member") == f.srv.Seed.Admin.MembershipID {
			admin = tr
		}
	}
	if admin == nil {
		t.Fatal("no row of the seeded admin")
	}
	var unknowns []string
	for _, td := range find(admin, func(n *html.Node) bool { return n.Data == "td" && attr(n, "class") == "unknown" }) {
		unknowns = append(unknowns, attr(td, "data-col")+": "+text(td))
	}
	expectList(t, "the admin's unknowns", unknowns,
		"mfaEnrolled: unknown: "+hidden, "invitePending: unknown: "+hidden, "invitedAt: unknown: "+hidden)
	var hdr []string
	for _, th := range find(byID(doc, "members"), func(n *html.Node) bool { return n.Data == "th" }) {
		hdr = append(hdr, text(th))
	}
	if got := strings.Join(hdr, "|"); got != "ID|Kind|Name|Email|Profile|User|Admin|Active|Access|MFA enrolled|Invite pending|Invited at|Membership changed|Membership changed by|Secret set at|Secret age days" {
		t.Errorf("header %q", got)
	}

	// With -o: both.
	summary := f.e.Run("members", "review", "-o", "csv", "--columns", "name").Stderr
	out := f.e.Run("members", "review", "--html", page, "-o", "csv", "--columns", "name").ExpectCode(t, 0, summary+"Wrote the report to "+page+"\n")
	if !strings.HasPrefix(out, "name\n") {
		t.Errorf("-o csv with --html: %q", out)
	}
}

// A page that cannot be written is found before anything is sent.
func TestReviewHTMLUnwritable(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "missing")
	f.srv.ResetRequests()
	f.e.Run("members", "review", "--html", filepath.Join(dir, "r.html")).Expect(t, 2, "",
		"medplum: --html "+filepath.Join(dir, "r.html")+": cannot write in "+dir+": stat "+dir+": no such file or directory\n")
	clitest.ExpectNothingSent(t, f.srv)
}

// The findings come in the same order everywhere: high, medium, low, then
// the accepted ones (the table's summary, -o json, -o ndjson, the page);
// the page holds names and e-mails, and is readable by its owner only.
func TestReviewFindingsOrderAndPageMode(t *testing.T) {
	f := newFixture(t)
	f.policy("Clinician")
	f.person("Bob", "Open", false, false) // member-without-access-policy (medium)
	f.person("Ada", "Admin", true, false) // admin-without-mfa (high), found after Bob's
	f.person("Twice", "Over", false, true)
	f.invite(map[string]any{"resourceType": "Practitioner", "firstName": "Twice", "lastName": "Over", "email": "twice.over@example.com",
		"forceNewMembership": true}) // the same person again: duplicate-person (low)
	ign := writeFile(t, "accepted.yaml", "- rule: project-mfa-not-required\n  reason: the identity provider enforces it\n")
	order := func(fs []finding) []string {
		var out []string
		for _, fd := range fs {
			s := fd.Severity
			if fd.Accepted != nil {
				s = "accepted"
			}
			out = append(out, s+" "+fd.Rule+" "+fd.Name)
		}
		return out
	}
	rv := f.review("--ignore", ign)
	want := []string{
		"high client-admin Sandbox Project Admin Client",
		"high admin-without-mfa Ada Admin",
		"medium member-without-access-policy Homer Simpson",
		"medium member-without-access-policy Sandbox Bot",
		"medium member-without-access-policy Bob Open",
		"medium member-without-access-policy Twice Over",
		"medium member-without-access-policy Twice Over",
		"low duplicate-person Twice Over",
		"accepted project-mfa-not-required ",
	}
	if got := order(rv.Findings); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("-o json's findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var nd []finding
	for line := range strings.Lines(f.e.Run("members", "review", "-o", "ndjson", "--ignore", ign).ExpectCode(t, 0, "")) {
		var rec struct{ Record string }
		var fd finding
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Record != "finding" {
			continue
		}
		if err := json.Unmarshal([]byte(line), &fd); err != nil {
			t.Fatal(err)
		}
		nd = append(nd, fd)
	}
	if got := order(nd); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("-o ndjson's findings:\n%s", strings.Join(got, "\n"))
	}
	page := filepath.Join(t.TempDir(), "review.html")
	r := f.e.Run("members", "review", "--html", page, "--ignore", ign)
	var rows []string
	for _, tr := range find(parsePage(t, page), func(n *html.Node) bool {
		return n.Data == "tr" && attr(n, "data-rule") != "" && strings.Contains(attr(n, "class"), "finding")
	}) {
		s := attr(tr, "data-severity")
		if strings.Contains(attr(tr, "class"), "accepted") {
			s = "accepted"
		}
		name := strings.TrimSuffix(cells(tr)[2], " "+attr(tr, "data-member"))
		if attr(tr, "data-member") == "" {
			name = ""
		}
		rows = append(rows, s+" "+attr(tr, "data-rule")+" "+name)
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("the page's findings:\n%s", strings.Join(rows, "\n"))
	}
	if st, err := os.Stat(page); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the page's mode: %v %v", st.Mode(), err)
	}
	// The summary's order is the same.
	var sum []string
	for line := range strings.Lines(r.Stderr) {
		if fs := strings.Fields(line); len(fs) >= 3 && strings.HasPrefix(line, "  ") && (fs[0] == "high" || fs[0] == "medium" || fs[0] == "low" || fs[0] == "accepted") {
			sum = append(sum, fs[0]+" "+fs[1])
		}
	}
	var wantSum []string
	for _, w := range want {
		fs := strings.Fields(w)
		wantSum = append(wantSum, fs[0]+" "+fs[1])
	}
	if strings.Join(sum, "\n") != strings.Join(wantSum, "\n") {
		t.Errorf("the summary's findings:\n%s", r.Stderr)
	}
}

// --html naming a directory is exit 2 before anything is sent.
func TestReviewHTMLDirectory(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	f.srv.ResetRequests()
	f.e.Run("members", "review", "--html", dir).Expect(t, 2, "",
		"medplum: --html "+dir+": is a directory: name the page's file, such as "+filepath.Join(dir, "review.html")+"\n")
	clitest.ExpectNothingSent(t, f.srv)
}

// A client that is not an admin of the project is refused by the server
// (403, exit 5): the hint says what a review needs.
func TestReviewNotAnAdmin(t *testing.T) {
	f := newFixture(t)
	m := f.newClient("Reader", false, "")
	_, id, _ := client.SplitReference(m.Ref("profile"))
	secret, _ := f.srv.Resource("ClientApplication", id)["secret"].(string)
	f.e.Set("MEDPLUM_CLIENT_ID", id).Set("MEDPLUM_CLIENT_SECRET", secret)
	r := f.e.Run("members", "review")
	if r.Code != 5 || !strings.HasSuffix(r.Stderr, "\nA review needs project-admin credentials (or a super admin's, with --project <id>): these are not an admin of project "+f.srv.Seed.ProjectID+".\n") {
		t.Errorf("exit %d\n%s", r.Code, r.Stderr)
	}
}

// The page says what the --fail-on gate decided, as the exit code does:
// failed (6), failed on what it could not see (7), passed (0), or no gate.
func TestReviewHTMLStatesTheGate(t *testing.T) {
	f := newFixture(t)
	page := filepath.Join(t.TempDir(), "review.html")
	ign := writeFile(t, "accepted.yaml", "- rule: client-admin\n  member: Sandbox Project Admin Client\n  reason: provisions the project from CI\n")
	notMade := "1 check at or above high could not be made: admin-without-mfa for 1 member (" + hidden + ")"
	for _, c := range []struct {
		args         []string
		exit         int
		result, text string
	}{
		{[]string{"--fail-on", "high"}, 6, "fail",
			"Gate --fail-on high: failed (exit 6): 1 finding at or above high; and " + notMade + "."},
		{[]string{"--fail-on", "high", "--ignore", ign}, 7, "incomplete",
			"Gate --fail-on high: failed on what it could not see (exit 7): " + notMade + "."},
		{[]string{"--fail-on", "high", "--ignore", ign, "--allow-unchecked"}, 0, "pass",
			"Gate --fail-on high --allow-unchecked: passed (exit 0): no finding at or above high; " + notMade + ", accepted by --allow-unchecked."},
		{[]string{"--fail-on", "low", "--ignore", ign, "--allow-unchecked"}, 6, "fail",
			"Gate --fail-on low --allow-unchecked: failed (exit 6): 1 finding at or above low."},
		{[]string{"--ignore", ign}, 0, "none", "No gate: the review ran without --fail-on."},
	} {
		r := f.e.Run(append([]string{"members", "review", "--html", page}, c.args...)...)
		if r.Code != c.exit || r.Stdout != "" || !strings.Contains(r.Stderr, "Wrote the report to "+page+"\n") {
			t.Errorf("%v: exit %d (want %d), stdout %q, stderr:\n%s", c.args, r.Code, c.exit, r.Stdout, r.Stderr)
		}
		if got := pageGate(t, page); got != c.result+" "+strconv.Itoa(c.exit)+" | "+c.text {
			t.Errorf("%v: the page's gate\n%s\nwant\n%s", c.args, got, c.result+" "+strconv.Itoa(c.exit)+" | "+c.text)
		}
	}
}

// pageGate is the page's #gate as "result exit | text".
func pageGate(t *testing.T, page string) string {
	t.Helper()
	g := byID(parsePage(t, page), "gate")
	if g == nil {
		return "no #gate on the page"
	}
	return attr(g, "data-result") + " " + attr(g, "data-exit") + " | " + text(g)
}
