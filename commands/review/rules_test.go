package review_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/review"
)

// Each rule, against a sandbox project: members that break it (a finding
// each) next to members that do not (none), and what a project admin
// cannot see (not checked, with the reason).

const hidden = "server-scoped user (only a super admin can read it) or a deleted User"

func TestRuleAdminWithoutMFA(t *testing.T) {
	f := newFixture(t)
	bad := f.person("Ada", "Nomfa", true, false)
	good := f.person("Bea", "Mfa", true, false)
	f.update("User", good.Ref("user")[len("User/"):], func(u client.Resource) { u["mfaEnrolled"] = true })
	f.person("Cy", "Member", false, false) // no MFA, not an admin
	off := f.person("Di", "Off", true, false)
	f.set(off, func(m client.Resource) { m["active"] = false }) // deactivated: inactive-admin's business

	rv := f.review()
	expectList(t, "findings", rv.of(review.RuleAdminMFA), "Ada Nomfa: project admin without MFA enrolled")
	// The seeded admin is a server-scoped user: a project admin cannot
	// read their User, so the rule says it could not check them.
	expectList(t, "not checked", rv.notChecked(review.RuleAdminMFA), hidden+": Medplum Admin")
	if r := rv.result(review.RuleAdminMFA); r != "fail" {
		t.Errorf("result %q", r)
	}
	if m := rv.member(t, bad.ID()); m["mfaEnrolled"] != false {
		t.Errorf("mfaEnrolled of %s: %v", bad.ID(), m["mfaEnrolled"])
	}
	if m := rv.member(t, good.ID()); m["mfaEnrolled"] != true {
		t.Errorf("mfaEnrolled of %s: %v", good.ID(), m["mfaEnrolled"])
	}
	admin := rv.member(t, f.srv.Seed.Admin.MembershipID)
	if admin["mfaEnrolled"] != nil || fmt.Sprint(admin["unknown"]) != "map[invitePending:"+hidden+" invitedAt:"+hidden+" mfaEnrolled:"+hidden+"]" {
		t.Errorf("the server-scoped admin: %v", admin)
	}

	// A super admin reads every User: the seeded admin is checked (and
	// found), nothing is left unchecked.
	f.e.Set("MEDPLUM_CLIENT_ID", f.srv.Seed.SuperAdminClient.ID).Set("MEDPLUM_CLIENT_SECRET", f.srv.Seed.SuperAdminClient.Secret)
	rv = f.review("--project", f.srv.Seed.ProjectID)
	expectList(t, "findings as a super admin", rv.of(review.RuleAdminMFA),
		"Ada Nomfa: project admin without MFA enrolled", "Medplum Admin: project admin without MFA enrolled")
	expectList(t, "not checked as a super admin", rv.notChecked(review.RuleAdminMFA))
	if !rv.Reviewer.SuperAdmin {
		t.Errorf("reviewer: %+v", rv.Reviewer)
	}
}

func TestRuleProjectMFA(t *testing.T) {
	f := newFixture(t)
	rv := f.review()
	expectList(t, "findings", rv.of(review.RuleProjectMFA),
		"(project): the project's setting mfaRequired is not true: each user decides whether to enrol")
	if rv.Project.MFARequired != false {
		t.Errorf("project.mfaRequired %v", rv.Project.MFARequired)
	}
	f.update("Project", f.srv.Seed.ProjectID, func(p client.Resource) {
		p["setting"] = []any{map[string]any{"name": "mfaRequired", "valueBoolean": true}}
	})
	rv = f.review()
	expectList(t, "findings with mfaRequired", rv.of(review.RuleProjectMFA))
	if rv.Project.MFARequired != true || rv.result(review.RuleProjectMFA) != "pass" {
		t.Errorf("project.mfaRequired %v, result %s", rv.Project.MFARequired, rv.result(review.RuleProjectMFA))
	}
}

func TestRuleStaleInvite(t *testing.T) {
	f := newFixture(t)
	f.daysAgo(20)
	old := f.person("Old", "Invite", false, false)
	used := f.person("Used", "Invite", false, false)
	f.person("Server", "Scoped", false, true)
	set := f.person("Password", "ByAdmin", false, false)
	f.daysAgo(5)
	f.person("New", "Invite", false, false)
	// An admin set the password of set: the invite stays unused on 5.0.10
	// (capture 232c), the User gets a new version (232b).
	if _, err := f.api.Do(context.Background(), &client.Request{Method: "POST", URL: "admin/projects/setpassword", ContentType: client.ContentTypeJSON,
		Body: []byte(`{"email":"password.byadmin@example.com","password":"set-by-an-admin-0123"}`)}); err != nil {
		t.Fatal(err)
	}
	f.daysAgo(0)
	// The user of used set a password through the link.
	for _, r := range f.srv.Resources("UserSecurityRequest", "") {
		if r.Ref("user") == used.Ref("user") {
			f.update("UserSecurityRequest", r.ID(), func(r client.Resource) { r["used"] = true })
		}
	}
	rv := f.review()
	invited := dayOf(t, rv.member(t, old.ID())["invitedAt"])
	changed := seconds(t, lastUpdated(f.srv.Resource("User", strings.TrimPrefix(set.Ref("user"), "User/"))))
	const unseen = ", link never used (Medplum does not show a password set another way)"
	expectList(t, "findings", rv.of(review.RuleStaleInvite), "Old Invite: invited "+invited+" (20 days ago)"+unseen,
		"Password ByAdmin: invited "+invited+" (20 days ago), link never used; the account changed after it (at "+changed+"), as a password set by an admin makes it")
	expectList(t, "not checked", rv.notChecked(review.RuleStaleInvite), hidden+": Server Scoped, Medplum Admin") // oldest change first
	if m := rv.member(t, used.ID()); m["invitePending"] != false || m["invitedAt"] != nil || m["unknown"] != nil {
		t.Errorf("the used invite: %v", m)
	}
	if rv.Counts["pendingInvites"] != 3.0 {
		t.Errorf("pendingInvites %v", rv.Counts["pendingInvites"])
	}
	// A longer threshold: not stale yet.
	expectList(t, "findings with --stale-invite 30d", f.review("--stale-invite", "30d").of(review.RuleStaleInvite))
	expectList(t, "findings with --stale-invite 72h", f.review("--stale-invite", "72h").of(review.RuleStaleInvite),
		"New Invite: invited "+dayOf(t, f.review().member(t, f.srv.MembershipByEmail(f.srv.Seed.ProjectID, "new.invite@example.com").ID())["invitedAt"])+" (5 days ago)"+unseen,
		"Old Invite: invited "+invited+" (20 days ago)"+unseen,
		"Password ByAdmin: invited "+invited+" (20 days ago), link never used; the account changed after it (at "+changed+"), as a password set by an admin makes it")
}

func TestRuleInactiveAdmin(t *testing.T) {
	f := newFixture(t)
	bad := f.person("Was", "Admin", true, false)
	f.set(bad, func(m client.Resource) { m["active"] = false })
	off := f.person("Just", "Off", false, false)
	f.set(off, func(m client.Resource) { m["active"] = false })
	rv := f.review()
	expectList(t, "findings", rv.of(review.RuleInactiveAdmin), "Was Admin: deactivated, still an admin")
	if rv.Counts["inactive"] != 2.0 {
		t.Errorf("inactive %v", rv.Counts["inactive"])
	}
}

// client makes a client application of the project, with a policy when
// policy is set; admin makes it an admin.
func (f *fixture) newClient(name string, admin bool, policy string) client.Resource {
	f.t.Helper()
	ctx := context.Background()
	app, err := f.api.CreateClientApplication(ctx, f.srv.Seed.ProjectID, map[string]any{"name": name})
	if err != nil {
		f.t.Fatal(err)
	}
	ms, err := f.api.SearchAll(ctx, "ProjectMembership?user=ClientApplication/"+app.ID())
	if err != nil || len(ms) != 1 {
		f.t.Fatalf("membership of %s: %v", name, err)
	}
	f.set(ms[0], func(m client.Resource) {
		if admin {
			m["admin"] = true
		}
		if policy != "" {
			withPolicy(policy)(m)
		}
	})
	return f.srv.Resource("ProjectMembership", ms[0].ID())
}

func TestRuleClientAdmin(t *testing.T) {
	f := newFixture(t)
	p := f.policy("Integration")
	f.newClient("Restricted", false, p)
	off := f.newClient("Retired admin", true, p)
	f.set(off, func(m client.Resource) { m["active"] = false })
	rv := f.review()
	// The seeded admin client is one; a deactivated one is inactive-admin's.
	expectList(t, "findings", rv.of(review.RuleClientAdmin), "Sandbox Project Admin Client: client application with admin rights")
	expectList(t, "inactive admins", rv.of(review.RuleInactiveAdmin), "Retired admin: deactivated, still an admin")
}

func TestRuleClientWithoutAccessPolicy(t *testing.T) {
	f := newFixture(t)
	p := f.policy("Integration")
	f.newClient("Open", false, "")
	f.newClient("Restricted", false, p)
	rv := f.review()
	expectList(t, "findings", rv.of(review.RuleClientNoPolicy), "Open: client application without an access policy: it can read and write everything")
	// Clients are not member-without-access-policy's.
	expectList(t, "member-without-access-policy", rv.of(review.RuleMemberNoPolicy), "Homer Simpson: no access policy, in a project with 1 access policy",
		"Sandbox Bot: no access policy, in a project with 1 access policy")
}

func TestRuleClientSecretOld(t *testing.T) {
	f := newFixture(t)
	p := f.policy("Integration")
	f.daysAgo(120)
	old := f.newClient("Old secret", false, p)
	rotated := f.newClient("Rotated", false, p)
	f.daysAgo(10)
	id := rotated.Ref("profile")[len("ClientApplication/"):]
	app := f.srv.Resource("ClientApplication", id)
	if _, err := f.api.RotateClientSecret(context.Background(), id, app.String("secret")); err != nil {
		t.Fatal(err)
	}
	f.daysAgo(0)
	// A client that signs in with a JWT: no secret, nothing to age.
	jwt := f.srv.Create(f.srv.Seed.ProjectID, client.Resource{"resourceType": "ClientApplication", "name": "JWT", "jwksUri": "https://example.com/jwks.json"})
	f.srv.Create(f.srv.Seed.ProjectID, client.Resource{"resourceType": "ProjectMembership",
		"project": map[string]any{"reference": "Project/" + f.srv.Seed.ProjectID},
		"user":    map[string]any{"reference": "ClientApplication/" + jwt.ID()}, "profile": map[string]any{"reference": "ClientApplication/" + jwt.ID(), "display": "JWT"},
		"accessPolicy": map[string]any{"reference": p}})

	rv := f.review()
	set := dayOf(t, rv.member(t, old.ID())["secretSetAt"])
	expectList(t, "findings", rv.of(review.RuleClientSecretAge), "Old secret: secret set "+set+" (120 days ago)")
	if m := rv.member(t, rotated.ID()); m["secretAgeDays"] != 10.0 {
		t.Errorf("the rotated client: %v", m)
	}
	for _, m := range rv.Members {
		if m["name"] == "JWT" && (m["secretAgeDays"] != nil || m["secretSetAt"] != nil || m["unknown"] != nil) {
			t.Errorf("the JWT client: %v", m)
		}
	}
	expectList(t, "findings with --secret-max-age 200d", f.review("--secret-max-age", "200d").of(review.RuleClientSecretAge))
}

func TestRuleMemberWithoutAccessPolicy(t *testing.T) {
	f := newFixture(t)
	// Without any policy in the project, nobody is expected to have one.
	f.person("Free", "Member", false, false)
	expectList(t, "findings without policies", f.review().of(review.RuleMemberNoPolicy))

	p := f.policy("Clinician")
	with := f.person("With", "Policy", false, false)
	f.set(with, withPolicy(p))
	f.person("Some", "Admin", true, false)
	rv := f.review()
	expectList(t, "findings", rv.of(review.RuleMemberNoPolicy),
		"Free Member: no access policy, in a project with 1 access policy",
		"Homer Simpson: no access policy, in a project with 1 access policy",
		"Sandbox Bot: no access policy, in a project with 1 access policy")
	m := rv.member(t, with.ID())
	if fmt.Sprint(m["access"]) != "[map[name:Clinician policy:"+p+"]]" {
		t.Errorf("access of %s: %v", with.ID(), m["access"])
	}
}

func TestRuleMissingAccessPolicy(t *testing.T) {
	f := newFixture(t)
	kept := f.policy("Kept")
	gone := f.policy("Gone")
	a := f.person("Has", "Kept", false, false)
	f.set(a, withPolicy(kept))
	b := f.person("Has", "Gone", false, false)
	f.set(b, withPolicy(gone))
	if err := f.api.DeleteResource(context.Background(), "AccessPolicy", gone[len("AccessPolicy/"):]); err != nil {
		t.Fatal(err)
	}
	// Another project's policy, which a project admin cannot read.
	other := f.srv.Create(f.srv.Seed.SuperAdminProjectID, client.Resource{"resourceType": "AccessPolicy", "name": "Elsewhere"})
	c := f.person("Has", "Other", false, false)
	f.update("ProjectMembership", c.ID(), func(m client.Resource) {
		m["access"] = []any{map[string]any{"policy": map[string]any{"reference": "AccessPolicy/" + other.ID()},
			"parameter": []any{map[string]any{"name": "org", "valueReference": map[string]any{"reference": "Organization/1"}}}}}
	})
	rv := f.review()
	expectList(t, "findings", rv.of(review.RuleMissingPolicy),
		"Has Gone: access policy "+gone+" (deleted)",
		"Has Other: access policy AccessPolicy/"+other.ID()+" (not in this project: deleted, or another project's)")
	m := rv.member(t, c.ID())
	if fmt.Sprint(m["access"]) != "[map[missing:not in this project: deleted, or another project's parameters:[map[name:org value:Organization/1]] policy:AccessPolicy/"+other.ID()+"]]" {
		t.Errorf("access of %s: %v", c.ID(), m["access"])
	}
	// A super admin reads the other project's policy and says whose it is.
	f.e.Set("MEDPLUM_CLIENT_ID", f.srv.Seed.SuperAdminClient.ID).Set("MEDPLUM_CLIENT_SECRET", f.srv.Seed.SuperAdminClient.Secret)
	rv = f.review("--project", f.srv.Seed.ProjectID)
	expectList(t, "findings as a super admin", rv.of(review.RuleMissingPolicy),
		"Has Gone: access policy "+gone+" (deleted)",
		"Has Other: access policy AccessPolicy/"+other.ID()+" (a policy of project "+f.srv.Seed.SuperAdminProjectID+")")
}

func TestRuleMissingProfile(t *testing.T) {
	f := newFixture(t)
	gone := f.person("Profile", "Gone", false, false)
	f.person("Profile", "Kept", false, false)
	typ, id, _ := client.SplitReference(gone.Ref("profile"))
	if err := f.api.DeleteResource(context.Background(), typ, id); err != nil {
		t.Fatal(err)
	}
	goneClient := f.newClient("Client gone", false, "")
	ct, cid, _ := client.SplitReference(goneClient.Ref("profile"))
	if err := f.api.DeleteResource(context.Background(), ct, cid); err != nil {
		t.Fatal(err)
	}
	rv := f.review()
	expectList(t, "findings", rv.of(review.RuleMissingProfile),
		"Profile Gone: "+gone.Ref("profile")+" not found in the project",
		"Client gone: "+goneClient.Ref("profile")+" is not one of the project's client applications")
	// Its secret age cannot be known either, and says why.
	if m := rv.member(t, goneClient.ID()); fmt.Sprint(m["unknown"]) != "map[secretAgeDays:"+goneClient.Ref("profile")+" is not one of the project's clients secretSetAt:"+goneClient.Ref("profile")+" is not one of the project's clients]" {
		t.Errorf("the deleted client: %v", m)
	}
}

func TestRuleDuplicatePerson(t *testing.T) {
	f := newFixture(t)
	first := f.person("Twice", "Over", false, true)
	// The same user again, with another profile (forceNewMembership).
	second := f.invite(map[string]any{"resourceType": "Practitioner", "firstName": "Twice", "lastName": "Again",
		"email": "twice.over@example.com", "forceNewMembership": true})
	if second.Ref("user") != first.Ref("user") {
		t.Fatalf("the second invite made another user: %s, %s", second.Ref("user"), first.Ref("user"))
	}
	// A project-scoped user with the e-mail of a server-scoped one.
	f.invite(map[string]any{"resourceType": "Patient", "firstName": "Medplum", "lastName": "Patient",
		"email": f.srv.Seed.AdminEmail, "forceNewMembership": true})
	f.person("Only", "Once", false, false)
	rv := f.review()
	// (The second invite found the first's profile, by e-mail: the same name.)
	if second.ID() == first.ID() || second.Ref("profile") != first.Ref("profile") {
		t.Fatalf("second membership %s, profile %s", second.ID(), second.Ref("profile"))
	}
	expectList(t, "findings", rv.of(review.RuleDuplicatePerson),
		"Twice Over: the same person as member Twice Over ("+first.ID()+")",
		"Medplum Patient: the same person as member Medplum Admin ("+f.srv.Seed.Admin.MembershipID+")")
}

// Thresholds shorter than a day count: a secret set 5.5 hours ago is older
// than --secret-max-age 1h, 5m and 0d, and an invite sent 5.5 hours ago is
// pending longer than --stale-invite 1h. The report gives the thresholds
// as they were given, not in whole days.
func TestRuleThresholdsUnderADay(t *testing.T) {
	f := newFixture(t)
	p := f.policy("Integration")
	f.skew.Store(int64(-(5*time.Hour + 30*time.Minute)))
	f.newClient("Fresh", false, p)
	f.person("Fresh", "Invite", false, false)
	f.daysAgo(0)
	names := func(rv *reviewDoc, rule string) []string {
		var out []string
		for _, fd := range rv.Findings {
			if fd.Rule == rule {
				out = append(out, fd.Name)
			}
		}
		return out
	}
	for _, age := range []string{"1h", "5m", "0d", "5h29m"} {
		rv := f.review("--secret-max-age", age, "--stale-invite", age)
		got := names(rv, review.RuleClientSecretAge)
		if !slices.Contains(got, "Fresh") {
			t.Errorf("--secret-max-age %s: client-secret-old for %v, not for Fresh", age, got)
		}
		if got := names(rv, review.RuleStaleInvite); !slices.Contains(got, "Fresh Invite") {
			t.Errorf("--stale-invite %s: stale-invite for %v, not for Fresh Invite", age, got)
		}
		if rv.Settings.StaleInvite != age || rv.Settings.SecretMaxAge != age {
			t.Errorf("settings: %+v, want %s", rv.Settings, age)
		}
	}
	rv := f.review("--secret-max-age", "5h31m", "--stale-invite", "6h")
	expectList(t, "client-secret-old with 5h31m", names(rv, review.RuleClientSecretAge))
	expectList(t, "stale-invite with 6h", names(rv, review.RuleStaleInvite))
	rv = f.review("--secret-max-age", "1h", "--stale-invite", "1h")
	var fresh []string
	for _, d := range append(rv.of(review.RuleClientSecretAge), rv.of(review.RuleStaleInvite)...) {
		if strings.HasPrefix(d, "Fresh") {
			fresh = append(fresh, d)
		}
	}
	expectList(t, "details", fresh,
		"Fresh Invite: invited "+seconds(t, rv.member(t, f.srv.MembershipByEmail(f.srv.Seed.ProjectID, "fresh.invite@example.com").ID())["invitedAt"].(string))+" (5h30m ago), link never used (Medplum does not show a password set another way)",
		"Fresh: secret set "+seconds(t, rv.named(t, "Fresh")["secretSetAt"].(string))+" (5h30m ago)")

	// The HTML page says the thresholds as given too.
	page := filepath.Join(t.TempDir(), "review.html")
	if r := f.e.Run("members", "review", "--html", page, "--secret-max-age", "1h", "--stale-invite", "36h"); r.Code != 0 {
		t.Fatalf("--html: exit %d\n%s", r.Code, r.Stderr)
	}
	var meta []string
	for _, n := range find(parsePage(t, page), func(n *html.Node) bool { return attr(n, "class") == "meta" }) {
		meta = append(meta, text(n))
	}
	if !slices.Contains(meta, "Thresholds: invites pending over 36h, client secrets over 1h.") {
		t.Errorf("the page's thresholds: %q", meta)
	}
}
