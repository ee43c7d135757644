package invite_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// promote makes a seeded member an admin with an access policy, as a
// project admin would have before inviting the same person again.
func promote(t *testing.T, srv *medplumtest.Server, email, policy string) client.Resource {
	t.Helper()
	m := member(t, srv, email)
	m["admin"] = true
	m["accessPolicy"] = map[string]any{"reference": policy}
	return srv.Update(m)
}

// Issue 13, defect 1: on Medplum 5.0.10 an upsert that does not name admin
// or the access policy takes them away (captures 201-203). invite --upsert
// reads the membership first, sends back what it does not name, and shows
// before -> after; when nothing changes, nothing is sent.
func TestInviteUpsertChangesOnlyWhatItNames(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "AccessPolicy", "id": "staff", "name": "Clinic staff"})
	srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "AccessPolicy", "id": "nurses", "name": "Nurses"})
	homer := promote(t, srv, "homer@example.com", "AccessPolicy/staff")
	id := homer.ID()
	invite := []string{"invite", "-r", "Patient", "Homer", "Simpson", "homer@example.com", "--upsert"}

	// Nothing named: nothing to change, nothing sent, dry run or not.
	srv.ResetRequests()
	e.Run(append(invite, "--dry-run")...).Expect(t, 0, "", "homer@example.com is already a member (ProjectMembership/"+id+"); nothing to change\n")
	e.Run(invite...).Expect(t, 0, header+row(homer), "homer@example.com is already a member (ProjectMembership/"+id+"); nothing to change\n")
	expectSent(t, srv)
	if m := member(t, srv, "homer@example.com"); m["admin"] != true || m.Ref("accessPolicy") != "AccessPolicy/staff" {
		t.Fatalf("membership after an upsert that named nothing: %v", m)
	}

	// Another policy, by name: only the access changes; admin is sent back.
	e.Run(append(invite, "--access-policy", "Nurses", "--dry-run")...).Expect(t, 0,
		"POST "+srv.URL+"admin/projects/"+srv.Seed.ProjectID+"/invite\n\n"+`{
  "email": "homer@example.com",
  "firstName": "Homer",
  "lastName": "Simpson",
  "membership": {
    "accessPolicy": {
      "reference": "AccessPolicy/nurses"
    },
    "admin": true
  },
  "resourceType": "Patient",
  "sendEmail": false,
  "upsert": true
}
`, "homer@example.com is already a member (ProjectMembership/"+id+"); --upsert would change: access \"Clinic staff\" -> \"Nurses\"\n")
	expectSent(t, srv)
	r := e.Run(append(invite, "--access-policy", "Nurses")...)
	homer = member(t, srv, "homer@example.com")
	r.Expect(t, 0, header+row(homer), "updated homer@example.com's membership (ProjectMembership/"+id+"): access \"Clinic staff\" -> \"Nurses\"\n")
	if homer.ID() != id || homer["admin"] != true || homer.Ref("accessPolicy") != "AccessPolicy/nurses" {
		t.Errorf("membership: %v", homer)
	}

	// Access entries replace the policy (one or the other is the access);
	// --admin=false is named, so it changes.
	r = e.Run(append(invite, "--access", "nurses?ward=north", "--admin=false")...)
	homer = member(t, srv, "homer@example.com")
	r.Expect(t, 0, header+row(homer), "updated homer@example.com's membership (ProjectMembership/"+id+"): admin true -> false; "+
		"access \"Nurses\" -> \"Nurses\"?ward=north\n")
	if homer["admin"] != false || homer["accessPolicy"] != nil || accessText(homer) != "AccessPolicy/nurses?ward=north" {
		t.Errorf("membership: %v", homer)
	}
}

// A user who is not a member yet is invited as usual (without "upsert",
// so that a membership made meanwhile is refused rather than overwritten).
func TestInviteUpsertOfANewUserIsAnInvite(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	r := e.Run("invite", "Carl", "Carlson", "carl@example.com", "--upsert", "--admin")
	carl := member(t, srv, "carl@example.com")
	r.Expect(t, 0, header+row(carl), "")
	expectSent(t, srv, `{"email":"carl@example.com","firstName":"Carl","lastName":"Carlson","membership":{"admin":true},"resourceType":"Practitioner","sendEmail":false}`)
}

// passwordWorks signs in with a password (auth/login), as the user would.
func passwordWorks(t *testing.T, srv *medplumtest.Server, email, password string) bool {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password, "projectId": srv.Seed.ProjectID, "scope": "openid",
		"codeChallenge": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "codeChallengeMethod": "plain"})
	resp, err := http.Post(srv.URL+"auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Issue 13, defect 2: the invite ignores the password of a user who
// exists. For a member whose account belongs to the project, invite
// --upsert --password-stdin sets it with admin/projects/setpassword (the
// only route that can, captures 207-210); for a server-scoped account it
// refuses before sending anything, and says why.
func TestInviteUpsertSetsAMembersPassword(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	const pw = "new-homer-password"
	homer := member(t, srv, "homer@example.com")

	r := e.RunStdin(pw+"\n", "invite", "-r", "Patient", "Homer", "Simpson", "homer@example.com", "--upsert", "--password-stdin")
	r.Expect(t, 0, header+row(homer), "homer@example.com is already a member (ProjectMembership/"+homer.ID()+"); nothing to change\n"+
		"password set for homer@example.com\n")
	r.NotContains(t, pw)
	if !passwordWorks(t, srv, "homer@example.com", pw) {
		t.Error("homer cannot sign in with the password the invite reported set")
	}
	sent := srv.RequestsTo("POST", "/admin/projects/setpassword")
	if len(sent) != 1 || string(sent[0].Body) != `{"email":"homer@example.com","password":"`+pw+`"}` {
		t.Errorf("setpassword requests: %v", sent)
	}

	// The seeded admin is a server-scoped user: refused, nothing sent.
	srv.ResetRequests()
	admin := member(t, srv, srv.Seed.AdminEmail)
	e.RunStdin(pw+"\n", "invite", "Medplum", "Admin", srv.Seed.AdminEmail, "--upsert", "--password-stdin", "--admin").Expect(t, 2, "",
		"medplum: "+srv.Seed.AdminEmail+" is already a member, and their account is server-scoped: Medplum lets a project admin set the password "+
			"of the project's own (project-scoped) users only; nothing was sent\n"+
			"leave out --password-stdin to update the membership; the user can reset the password from the sign-in page\n")
	for _, p := range clitest.Paths(srv) {
		if p[:4] != "GET " {
			t.Errorf("sent %s", p)
		}
	}
	if !passwordWorks(t, srv, srv.Seed.AdminEmail, srv.Seed.AdminPassword) || passwordWorks(t, srv, srv.Seed.AdminEmail, pw) {
		t.Error("the admin's password changed")
	}
	if m := member(t, srv, srv.Seed.AdminEmail); m["meta"].(map[string]any)["versionId"] != admin["meta"].(map[string]any)["versionId"] {
		t.Errorf("the admin's membership changed: %v", m)
	}
}

// Issue 13, defect 5: a policy that does not exist in the project is
// refused before anything is sent (Medplum 5.0.10 would write it into
// membership.accessPolicy, capture 204); a policy may be named by name.
func TestInviteChecksPoliciesBeforeSending(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	project := srv.Seed.ProjectID
	srv.Create(project, client.Resource{"resourceType": "AccessPolicy", "id": "staff", "name": "Clinic staff"})
	srv.Create(project, client.Resource{"resourceType": "AccessPolicy", "id": "d1", "name": "Twice"})
	srv.Create(project, client.Resource{"resourceType": "AccessPolicy", "id": "d2", "name": "Twice"})
	other := srv.Create(srv.Seed.SuperAdminProjectID, client.Resource{"resourceType": "AccessPolicy", "name": "Clinic staff"})

	for _, c := range []struct{ args []string }{
		{[]string{"--access-policy", "00000000-0000-0000-0000-000000000000", "--access", "AccessPolicy/" + other.ID()}},
		{[]string{"--access-policy", "Twice", "--access", "Nobody?org=Organization/1"}},
	} {
		srv.ResetRequests()
		r := e.Run(append([]string{"invite", "Bob", "Jones", "bob@example.com"}, c.args...)...)
		if r.Code != 2 {
			t.Errorf("%v: exit %d, stderr %s", c.args, r.Code, r.Stderr)
		}
		expectSent(t, srv)
	}
	e.Run("invite", "Bob", "Jones", "bob@example.com", "--access-policy", "00000000-0000-0000-0000-000000000000",
		"--access", "AccessPolicy/"+other.ID(), "--access", "Twice?org=Organization/1").Expect(t, 2, "",
		"medplum: the invite is not valid; nothing was sent:\n"+
			"  --access-policy: no access policy named \"00000000-0000-0000-0000-000000000000\", nor with that id, in the project\n"+
			"  --access AccessPolicy/"+other.ID()+": no access policy AccessPolicy/"+other.ID()+" in the project\n"+
			"  --access Twice?org=Organization/1: 2 access policies of the project are named \"Twice\" (AccessPolicy/d1, AccessPolicy/d2); give the id of one\n")
	if bob := srv.MembershipByEmail(project, "bob@example.com"); bob != nil {
		t.Fatalf("a membership was made: %v", bob)
	}

	// By name (a name that is also another project's), by id, in access entries.
	r := e.Run("invite", "Bob", "Jones", "bob@example.com", "--access", "Clinic staff?org=Organization/1", "--access", "d1")
	bob := member(t, srv, "bob@example.com")
	r.Expect(t, 0, header+row(bob), "")
	if got := accessText(bob); got != "AccessPolicy/staff?org=Organization/1, AccessPolicy/d1" {
		t.Errorf("access %s", got)
	}

	// A -f payload's policies are checked too.
	payload := writeFile(t, e, "lisa.json", `{"resourceType":"Patient","firstName":"Lisa","lastName":"Simpson","email":"lisa@example.com",`+
		`"membership":{"accessPolicy":{"reference":"AccessPolicy/gone"}}}`)
	e.Run("invite", "-f", payload).Expect(t, 2, "", "medplum: the invite is not valid; nothing was sent:\n"+
		"  membership.accessPolicy: no access policy AccessPolicy/gone in the project\n")
}
