package members_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// unknownPassword is what invite-link says of every link it prints.
const unknownPassword = "Medplum does not show whether they have a password set another way (an invite with a password, admin/projects/setpassword): the invite stays unused, and the link would set a new password.\n"

// inviteRequest is the invite UserSecurityRequest of a user, as stored.
func inviteRequest(t *testing.T, srv *medplumtest.Server, user string) client.Resource {
	t.Helper()
	for _, r := range srv.Resources("UserSecurityRequest", "") {
		if r.Ref("user") == user && r.String("type") == "invite" {
			return r
		}
	}
	t.Fatalf("no invite of %s", user)
	return nil
}

// invite-link prints the set-password link of a pending invite: on stdout
// only, never in a --verbose trace.
func TestInviteLink(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithMailer())
	e := clitest.SignedIn(t, srv)
	run(t, e, "invite", "Alice", "Smith", "alice@example.com", "--scope", "project", "--send-email")
	m := srv.MembershipByEmail(srv.Seed.ProjectID, "alice@example.com")
	usr := inviteRequest(t, srv, m.Ref("user"))
	tail := "setpassword/" + usr.ID() + "/" + usr.String("secret") + "\n"
	note := "The invite of Alice Smith (Practitioner, alice@example.com) is unused. " + unknownPassword

	// A server other than api.medplum.com has an app of its own, which
	// neither it nor its invite requests name: without an app URL, the
	// link would hand the secret to the hosted app. Refused, nothing sent.
	srv.ResetRequests()
	e.Run("members", "invite-link", "alice@example.com").Expect(t, 2, "",
		"medplum: no app URL for "+srv.URL+": the link would open the hosted app https://app.medplum.com/, which works with api.medplum.com only, and hand it the invite's secret\n"+
			"Pass the server's app (its appBaseUrl) with --app-url URL, MEDPLUM_APP_URL, or store it: medplum profile set default --app-url URL\n")
	clitest.ExpectNothingSent(t, srv)
	// The same link as the invite e-mail, on another app.
	mails := srv.SentEmails()
	if len(mails) != 1 || !strings.Contains(mails[0].Text, "http://localhost:3000/"+tail) {
		t.Fatalf("the invite e-mail: %+v", mails)
	}
	e.Run("members", "invite-link", "Alice Smith", "--app-url", "http://localhost:3000").Expect(t, 0, "http://localhost:3000/"+tail, note)
	e.Set("MEDPLUM_APP_URL", "https://app.example.com/medplum")
	e.Run("members", "invite-link", m.ID()).Expect(t, 0, "https://app.example.com/medplum/"+tail, note)
	e.Unset("MEDPLUM_APP_URL")
	run(t, e, "profile", "set", "default", "--app-url", "https://app.example.org/")
	e.Run("members", "invite-link", m.ID()).Expect(t, 0, "https://app.example.org/"+tail, note)
	e.Run("members", "invite-link", m.ID(), "--app-url", "ftp://x").Expect(t, 2, "",
		"medplum: app URL \"ftp://x\" (flag --app-url): want an absolute http(s) URL such as https://app.medplum.com/\n")

	// A terminal gets a warning on stderr; the trace never holds the secret.
	r := e.Run("members", "invite-link", m.ID(), "-v")
	if r.Code != 0 || r.Stdout != "https://app.example.org/"+tail {
		t.Fatalf("-v: exit %d, stdout %q", r.Code, r.Stdout)
	}
	if strings.Contains(r.Stderr, usr.String("secret")) || !strings.Contains(r.Stderr, "UserSecurityRequest/_search") {
		t.Errorf("the trace holds the secret, or no request:\n%s", r.Stderr)
	}
	e.Set("MEDPLUM_FORCE_TTY", "1")
	e.Run("members", "invite-link", m.ID()).Expect(t, 0, "https://app.example.org/"+tail,
		note+"The link sets the password of Alice Smith (Practitioner, alice@example.com), once; anyone who has it can. Send it privately.\n")
}

// No pending invite, no link: each case says why.
func TestInviteLinkRefusals(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv).Set("MEDPLUM_APP_URL", "https://app.example.com/")

	// A server-scoped member: their invite is not visible to a project
	// admin (exit 5); a super admin gets it.
	run(t, e, "invite", "Bob", "Jones", "bob@example.com")
	bob := srv.MembershipByEmail(srv.Seed.ProjectID, "bob@example.com")
	e.Run("members", "invite-link", "bob@example.com").Expect(t, 5, "",
		"medplum: the invite of Bob Jones (Practitioner, bob@example.com) is not visible to these credentials: server-scoped user (only a super admin can read it) or a deleted User\n"+
			"A super admin can print the link (medplum members invite-link bob@example.com --project "+srv.Seed.ProjectID+"). "+
			"An invite e-mail, if the invite was sent with one, holds the same link; one sent with sendEmail: false has none: "+
			"medplum members reset-password bob@example.com has the server e-mail a link.\n")
	sa := clitest.New(t)
	sa.Set("MEDPLUM_BASE_URL", srv.URL).Set("MEDPLUM_CLIENT_ID", srv.Seed.SuperAdminClient.ID).Set("MEDPLUM_CLIENT_SECRET", srv.Seed.SuperAdminClient.Secret)
	usr := inviteRequest(t, srv, bob.Ref("user"))
	sa.Run("members", "invite-link", bob.ID(), "--project", srv.Seed.ProjectID, "--app-url", "https://app.example.com").Expect(t, 0,
		"https://app.example.com/setpassword/"+usr.ID()+"/"+usr.String("secret")+"\n", "The invite of Bob Jones (Practitioner, bob@example.com) is unused. "+unknownPassword)

	// Used: the member set a password.
	run(t, e, "invite", "Carol", "Used", "carol@example.com", "--scope", "project")
	carol := srv.MembershipByEmail(srv.Seed.ProjectID, "carol@example.com")
	used := inviteRequest(t, srv, carol.Ref("user"))
	used["used"] = true
	srv.Update(used)
	e.Run("members", "invite-link", "carol@example.com").Expect(t, 1, "",
		"medplum: Carol Used (Practitioner, carol@example.com) has no pending invite: they set a password on "+lastUpdated(srv.Resource("UserSecurityRequest", used.ID()))[:10]+
			" (with the link of their invite); use medplum members reset-password for a new one\n")

	// Homer was never invited (the seed made his user); bots and clients
	// have no password at all.
	e.Run("members", "invite-link", "homer@example.com").Expect(t, 1, "",
		"medplum: Homer Simpson (Patient, homer@example.com) has no pending invite: the server has no invite for their user (an existing user added to the project gets none)\n")
	e.Run("members", "invite-link", srv.Seed.Bot.Profile).Expect(t, 2, "",
		"medplum: Sandbox Bot (Bot) is a Bot, not a person: it has no password or invite (medplum members list --humans lists the people)\n")
	e.Run("members", "invite-link", srv.Seed.Client.MembershipID).Expect(t, 2, "",
		"medplum: Sandbox Project Admin Client (ClientApplication) is a ClientApplication, not a person: it has no password or invite (medplum members list --humans lists the people)\n")
}

func lastUpdated(r client.Resource) string {
	meta, _ := r["meta"].(map[string]any)
	s, _ := meta["lastUpdated"].(string)
	return s
}

// reset-password posts auth/resetpassword without credentials: the
// project of a project-scoped user, none for a server-scoped one.
func TestResetPassword(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithMailer())
	e := clitest.SignedIn(t, srv)
	const note = "Medplum answers the same whether or not it sends the e-mail: ask the member whether it arrived.\n"

	srv.ResetRequests()
	e.Run("members", "reset-password", "homer@example.com").Expect(t, 0, "",
		"Asked the server to e-mail a password reset link to Homer Simpson (Patient, homer@example.com).\n"+note)
	reqs := srv.RequestsTo("POST", "/auth/resetpassword")
	if len(reqs) != 1 || string(reqs[0].Body) != `{"email":"homer@example.com","projectId":"`+srv.Seed.ProjectID+`"}` || reqs[0].Header.Get("Authorization") != "" {
		t.Fatalf("requests: %+v", reqs)
	}
	// The server sent Homer a reset link (a reset request of his user).
	if mails := srv.SentEmails(); len(mails) != 1 || mails[0].To != "homer@example.com" || mails[0].Subject != "Medplum Password Reset" {
		t.Errorf("e-mails: %+v", mails)
	}

	// A server-scoped member: their e-mail as the membership recorded it,
	// no project.
	srv.ResetRequests()
	e.Run("members", "reset-password", srv.Seed.Admin.MembershipID).Expect(t, 0, "",
		"Asked the server to e-mail a password reset link to Medplum Admin (Practitioner, admin@example.com).\n"+note)
	if reqs := srv.RequestsTo("POST", "/auth/resetpassword"); len(reqs) != 1 || string(reqs[0].Body) != `{"email":"admin@example.com"}` {
		t.Fatalf("requests: %+v", reqs)
	}
	e.Run("members", "reset-password", srv.Seed.Bot.MembershipID).Expect(t, 2, "",
		"medplum: Sandbox Bot (Bot) is a Bot, not a person: it has no password or invite (medplum members list --humans lists the people)\n")
	e.Run("members", "reset-password", srv.Seed.Client.MembershipID).Expect(t, 2, "",
		"medplum: Sandbox Project Admin Client (ClientApplication) is a ClientApplication, not a person: it has no password or invite (medplum members list --humans lists the people)\n")

	// The server's refusal is the error.
	srv.Inject(medplumtest.Fault{Method: "POST", Path: "/auth/resetpassword", Status: http.StatusTooManyRequests, Times: 10})
	r := e.Run("members", "reset-password", "homer@example.com")
	if r.Code != 1 || !strings.HasPrefix(r.Stderr, "medplum: the server refused the password reset: ") {
		t.Errorf("exit %d: %s", r.Code, r.Stderr)
	}
}

// The invite e-mail's link sets the user's password in the sandbox too:
// what invite-link prints is that link.
func TestInviteLinkIsTheEmailedOne(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithMailer())
	e := clitest.SignedIn(t, srv)
	run(t, e, "invite", "Dan", "Mail", "dan@example.com", "--scope", "project", "--send-email")
	link := e.Run("members", "invite-link", "dan@example.com", "--app-url", "http://localhost:3000/").ExpectCode(t, 0,
		"The invite of Dan Mail (Practitioner, dan@example.com) is unused. "+unknownPassword)
	if mails := srv.SentEmails(); len(mails) != 1 || !strings.Contains(mails[0].Text, "\n"+link) {
		t.Errorf("link %q not in the e-mail %+v", link, mails)
	}
}

// run runs a command that must succeed (its messages are not the test's).
func run(t *testing.T, e *clitest.Env, args ...string) {
	t.Helper()
	if r := e.Run(args...); r.Code != 0 {
		t.Fatalf("%v: exit %d: %s", args, r.Code, r.Stderr)
	}
}

// A password set by an admin (admin/projects/setpassword) leaves the invite
// unused on a real 5.0.10 (captures 232-232d), and an invite with a
// password leaves one too (149): invite-link cannot know whether the
// member has a password, and says so; when the account changed after the
// invite, as a setpassword makes it, it says that too.
func TestInviteLinkPasswordSetAnotherWay(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv).Set("MEDPLUM_APP_URL", "https://app.example.com/")
	run(t, e, "invite", "Ann", "Fresh", "ann@example.com", "--scope", "project")
	run(t, e, "invite", "Sam", "Setpw", "sam@example.com", "--scope", "project")
	sam := srv.MembershipByEmail(srv.Seed.ProjectID, "sam@example.com")
	invited := inviteRequest(t, srv, sam.Ref("user"))
	run(t, e, "post", "admin/projects/setpassword", `{"email":"sam@example.com","password":"an-admin-set-password"}`)
	if used, _ := srv.Resource("UserSecurityRequest", invited.ID()).Bool("used"); used {
		t.Fatal("the sandbox marked the invite used; 5.0.10 does not (232c)")
	}
	user := srv.Resource("User", strings.TrimPrefix(sam.Ref("user"), "User/"))

	ann := srv.MembershipByEmail(srv.Seed.ProjectID, "ann@example.com")
	annReq := inviteRequest(t, srv, ann.Ref("user"))
	e.Run("members", "invite-link", "ann@example.com").Expect(t, 0,
		"https://app.example.com/setpassword/"+annReq.ID()+"/"+annReq.String("secret")+"\n",
		"The invite of Ann Fresh (Practitioner, ann@example.com) is unused. "+unknownPassword)
	e.Run("members", "invite-link", "sam@example.com").Expect(t, 0,
		"https://app.example.com/setpassword/"+invited.ID()+"/"+invited.String("secret")+"\n",
		"The invite of Sam Setpw (Practitioner, sam@example.com) is unused, but their account changed after it (at "+
			lastUpdated(user)[:19]+"Z), as a password set by an admin makes it. "+unknownPassword)
}

// A deactivated member: invite-link and reset-password still work (the
// password is the user's), and say first that the member cannot sign in
// to the project until reactivated (5.0.10 checks active when a password
// sign-in chooses the membership: captures 187, 189).
func TestChoresOfADeactivatedMember(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv).Set("MEDPLUM_APP_URL", "https://app.example.com/")
	run(t, e, "invite", "Pat", "Paused", "pat@example.com", "--scope", "project")
	run(t, e, "members", "deactivate", "pat@example.com")
	pat := srv.MembershipByEmail(srv.Seed.ProjectID, "pat@example.com")
	req := inviteRequest(t, srv, pat.Ref("user"))
	const who = "Pat Paused (Practitioner, pat@example.com)"
	inactive := "Note: " + who + " is deactivated in this project: they cannot sign in to it until reactivated (medplum members activate " + pat.ID() + ").\n"
	e.Run("members", "invite-link", "pat@example.com").Expect(t, 0,
		"https://app.example.com/setpassword/"+req.ID()+"/"+req.String("secret")+"\n",
		inactive+"The invite of "+who+" is unused. "+unknownPassword)
	e.Run("members", "reset-password", "pat@example.com").Expect(t, 0, "",
		inactive+"Asked the server to e-mail a password reset link to "+who+".\n"+
			"Medplum answers the same whether or not it sends the e-mail: ask the member whether it arrived.\n")
	// A super admin acting on the project with --project: the command to
	// reactivate names it too.
	sa := clitest.SignedIn(t, srv).Set("MEDPLUM_CLIENT_ID", srv.Seed.SuperAdminClient.ID).Set("MEDPLUM_CLIENT_SECRET", srv.Seed.SuperAdminClient.Secret)
	sa.Run("members", "reset-password", pat.ID(), "--project", srv.Seed.ProjectID).Expect(t, 0, "",
		"Note: "+who+" is deactivated in this project: they cannot sign in to it until reactivated (medplum members activate "+pat.ID()+" --project "+srv.Seed.ProjectID+").\n"+
			"Asked the server to e-mail a password reset link to "+who+".\n"+
			"Medplum answers the same whether or not it sends the e-mail: ask the member whether it arrived.\n")
}
