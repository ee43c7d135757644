package review_test

import (
	"context"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/clitest"
	"github.com/medplumcli/medplum/commands/review"
)

// The review of a project of the test's own, on the sandbox or (make
// test-real) a real Medplum, as its project admin and as a super admin,
// with the invite chores around it.
func TestReviewTarget(t *testing.T) {
	tg := clitest.NewTarget(t)
	projName := tg.Unique("review")
	proj := tg.NewProject(t, "", projName)
	ctx := context.Background()
	c := proj.API(t)
	email := func(who string) string { return strings.ToLower(tg.Unique("review-"+who)) + "@example.com" }
	invite := func(first, mail string, admin bool, extra map[string]any) client.Resource {
		t.Helper()
		b := map[string]any{"resourceType": "Practitioner", "firstName": first, "lastName": "Review", "email": mail,
			"sendEmail": false, "admin": admin, "scope": "project"}
		for k, v := range extra {
			b[k] = v
		}
		m, err := c.Invite(ctx, proj.ProjectID, b)
		if err != nil {
			t.Fatalf("invite %s: %v", mail, err)
		}
		return m
	}
	policy, err := c.CreateResource(ctx, client.Resource{"resourceType": "AccessPolicy", "name": "Clinician",
		"resource": []any{map[string]any{"resourceType": "Patient"}}})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := c.CreateResource(ctx, client.Resource{"resourceType": "AccessPolicy", "name": "Retired",
		"resource": []any{map[string]any{"resourceType": "Patient"}}})
	if err != nil {
		t.Fatal(err)
	}
	ref := func(d client.Doc) map[string]any { return map[string]any{"reference": "AccessPolicy/" + d.ID()} }

	adaMail := email("ada")
	ada := invite("Ada", adaMail, true, nil)                                              // admin, no MFA
	invite("Bob", email("bob"), false, map[string]any{"accessPolicy": ref(policy)})       // fine
	carl := invite("Carl", email("carl"), false, nil)                                     // no policy
	invite("Dora", email("dora"), false, map[string]any{"accessPolicy": ref(gone)})       // policy deleted below
	eve := invite("Eve", email("eve"), true, map[string]any{"accessPolicy": ref(policy)}) // deactivated below
	srvMail := email("srv")
	server := proj.AddPerson(t, srvMail, "server-scoped-pw-"+tg.Unique("x"), true)
	if err := c.DeleteResource(ctx, "AccessPolicy", gone.ID()); err != nil {
		t.Fatal(err)
	}
	eve["active"] = false
	if _, err := c.UpdateMembership(ctx, proj.ProjectID, eve); err != nil {
		t.Fatal(err)
	}
	app, err := c.CreateClientApplication(ctx, proj.ProjectID, map[string]any{"name": tg.Unique("review-open-client")})
	if err != nil {
		t.Fatal(err)
	}

	// As the project's admin client: the server-scoped admin's MFA and
	// invite cannot be read, and the review says so.
	e := proj.SignedIn(t)
	r := e.Run("members", "review", "-o", "json")
	rv := decodeReview(t, r)
	name := func(first string) string { return first + " Review" }
	expectList(t, "admin-without-mfa", rv.of(review.RuleAdminMFA), name("Ada")+": project admin without MFA enrolled")
	expectList(t, "admin-without-mfa not checked", rv.notChecked(review.RuleAdminMFA), hidden+": Test Person")
	expectList(t, "inactive-admin", rv.of(review.RuleInactiveAdmin), name("Eve")+": deactivated, still an admin")
	expectList(t, "client-admin", rv.of(review.RuleClientAdmin), projName+" admin client: client application with admin rights")
	expectList(t, "client-without-access-policy", rv.of(review.RuleClientNoPolicy),
		app.String("name")+": client application without an access policy: it can read and write everything")
	expectList(t, "member-without-access-policy", rv.of(review.RuleMemberNoPolicy),
		name("Carl")+": no access policy, in a project with 1 access policy")
	expectList(t, "missing-access-policy", rv.of(review.RuleMissingPolicy),
		name("Dora")+": access policy AccessPolicy/"+gone.ID()+" (deleted)")
	expectList(t, "missing-profile", rv.of(review.RuleMissingProfile))
	expectList(t, "duplicate-person", rv.of(review.RuleDuplicatePerson))
	if m := rv.member(t, ada.ID()); m["invitePending"] != true || m["mfaEnrolled"] != false || m["email"] != adaMail {
		t.Errorf("Ada: %v", m)
	}
	if m := rv.member(t, carl.ID()); m["lastUpdatedBy"] != "system" {
		t.Errorf("Carl (invited: the server wrote the membership): %v", m)
	}
	if m := rv.member(t, eve.ID()); !strings.HasSuffix(m["lastUpdatedBy"].(string), "(ClientApplication/"+proj.ClientID+")") {
		t.Errorf("Eve (deactivated by the admin client): %v", m["lastUpdatedBy"])
	}
	if m := rv.member(t, server); m["mfaEnrolled"] != nil || m["unknown"] == nil {
		t.Errorf("the server-scoped admin: %v", m)
	}

	// The CI gate does not pass on what it could not see: with every high
	// finding accepted, the server-scoped admin's MFA is still unchecked.
	gateLast := func(r clitest.Result) string {
		lines := strings.Split(strings.TrimSuffix(r.Stderr, "\n"), "\n")
		if len(lines) < 2 {
			return r.Stderr
		}
		return strings.Join(lines[len(lines)-2:], "\n") + "\n"
	}
	notMade := "1 check at or above high could not be made: admin-without-mfa for 1 member (" + hidden + ")"
	if g := e.Run("members", "review", "--fail-on", "high", "-o", "csv", "--columns", "id"); g.Code != 6 ||
		gateLast(g) != "medplum: 3 findings at or above high (--fail-on high)\nand "+notMade+"\n" {
		t.Errorf("--fail-on high: exit %d\n%s", g.Code, g.Stderr)
	}
	ign := writeFile(t, "accepted.yaml", "- rule: admin-without-mfa\n  member: \"*\"\n  reason: test\n"+
		"- rule: client-admin\n  member: \"*\"\n  reason: test\n- rule: missing-access-policy\n  member: \"*\"\n  reason: test\n")
	gate := []string{"members", "review", "--fail-on", "high", "--ignore", ign, "-o", "csv", "--columns", "id"}
	page7 := filepath.Join(t.TempDir(), "review7.html")
	if g := e.Run(append(gate, "--html", page7)...); g.Code != 7 || gateLast(g) != "medplum: --fail-on high: "+notMade+"\n"+
		"The gate does not pass on what it could not see: review as a super admin (--project <id>) to read server-scoped users, or pass --allow-unchecked to accept it.\n" {
		t.Errorf("--fail-on high, all accepted: exit %d\n%s", g.Code, g.Stderr)
	}
	if g, want := pageGate(t, page7), "incomplete 7 | Gate --fail-on high: failed on what it could not see (exit 7): "+notMade+"."; g != want {
		t.Errorf("the page's gate:\n%s\nwant\n%s", g, want)
	}
	if g := e.Run(append(gate, "--allow-unchecked")...); g.Code != 0 || strings.Contains(g.Stderr, "medplum:") {
		t.Errorf("--allow-unchecked: exit %d\n%s", g.Code, g.Stderr)
	}

	// As a super admin: nothing hidden.
	sa := tg.SuperSignedIn(t)
	rv = decodeReview(t, sa.Run("members", "review", "-o", "json", "--project", proj.ProjectID))
	expectList(t, "admin-without-mfa as a super admin", rv.of(review.RuleAdminMFA),
		name("Ada")+": project admin without MFA enrolled", "Test Person: project admin without MFA enrolled")
	expectList(t, "not checked as a super admin", rv.notChecked(review.RuleAdminMFA))
	// (README's strict CI gate: this test runs it.)
	page := filepath.Join(t.TempDir(), "review.html")
	if g := sa.Run(append(gate, "--project", proj.ProjectID, "--html", page)...); g.Code != 0 {
		t.Errorf("--fail-on high as a super admin, all accepted: exit %d\n%s", g.Code, g.Stderr)
	}
	// The page says so.
	if g, want := pageGate(t, page), "pass 0 | Gate --fail-on high: passed (exit 0): no finding at or above high, every check made."; g != want {
		t.Errorf("the page's gate:\n%s\nwant\n%s", g, want)
	}

	// The invite link of Ada, who has not set a password: it names her
	// invite request, and never reaches a trace.
	reqs, err := c.SearchAll(ctx, "UserSecurityRequest?user="+url.QueryEscape(ada.Ref("user")))
	if err != nil || len(reqs) != 1 {
		t.Fatalf("Ada's requests: %v, %d", err, len(reqs))
	}
	link := "https://app.example.com/setpassword/" + reqs[0].ID() + "/" + reqs[0].String("secret") + "\n"
	unused := "The invite of Ada Review (Practitioner, " + adaMail + ") is unused. Medplum does not show whether they have a password set another way " +
		"(an invite with a password, admin/projects/setpassword): the invite stays unused, and the link would set a new password.\n"
	e.Run("members", "invite-link", adaMail, "--app-url", "https://app.example.com").Expect(t, 0, link, unused)
	// With -v: the same link on stdout, and on stderr the trace (its
	// timings and headers are the server's), which shows the search for
	// the request and its answer with the secret redacted, and the note.
	e.Set("MEDPLUM_APP_URL", "https://app.example.com")
	v := e.Run("members", "invite-link", adaMail, "-v")
	if v.Code != 0 || v.Stdout != link || strings.Contains(v.Stderr, reqs[0].String("secret")) {
		t.Errorf("-v: exit %d, stdout %q (want %q); the trace holds the secret: %v", v.Code, v.Stdout, link, strings.Contains(v.Stderr, reqs[0].String("secret")))
	}
	trace := strings.Split(strings.TrimSuffix(v.Stderr, "\n"), "\n")
	var other []string
	for _, l := range trace {
		if !strings.HasPrefix(l, "> ") && !strings.HasPrefix(l, "< ") {
			other = append(other, l+"\n")
		}
	}
	if strings.Join(other, "") != unused {
		t.Errorf("-v: stderr besides the trace:\n%s\nwant:\n%s", strings.Join(other, ""), unused)
	}
	search := slices.IndexFunc(trace, func(l string) bool {
		return strings.HasPrefix(l, "> POST "+c.FHIRBaseURL()+"UserSecurityRequest/_search [")
	})
	if search < 0 || len(trace) < search+4 || trace[search+1] != "> body: _count=1000&user="+url.QueryEscape(ada.Ref("user")) ||
		!strings.HasPrefix(trace[search+2], "< 200 OK (") || !strings.HasPrefix(trace[search+3], "< body: ") ||
		!strings.Contains(trace[search+3], `"secret":"[REDACTED]"`) || !strings.Contains(trace[search+3], `"type":"invite"`) {
		t.Errorf("-v: the trace lacks the request search and its redacted answer:\n%s", v.Stderr)
	}
	e.Run("members", "invite-link", server).Expect(t, 5, "", "medplum: the invite of Test Person (Practitioner, "+srvMail+
		") is not visible to these credentials: "+hidden+"\nA super admin can print the link (medplum members invite-link "+server+" --project "+proj.ProjectID+"). "+
		"An invite e-mail, if the invite was sent with one, holds the same link; one sent with sendEmail: false has none: "+
		"medplum members reset-password "+server+" has the server e-mail a link.\n")

	// A password reset: the server makes a reset request for her.
	e.Run("members", "reset-password", adaMail).Expect(t, 0, "",
		"Asked the server to e-mail a password reset link to Ada Review (Practitioner, "+adaMail+").\n"+
			"Medplum answers the same whether or not it sends the e-mail: ask the member whether it arrived.\n")
	reqs, err = c.SearchAll(ctx, "UserSecurityRequest?user="+url.QueryEscape(ada.Ref("user")))
	if err != nil || len(reqs) != 2 || reqs[0].String("type") == reqs[1].String("type") {
		t.Errorf("after the reset: %v, %d requests", err, len(reqs))
	}
}
