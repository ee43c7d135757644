package members_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// invited invites people and returns their memberships, by e-mail.
func invited(t *testing.T, srv *medplumtest.Server, e *clitest.Env, people ...string) map[string]client.Resource {
	t.Helper()
	out := map[string]client.Resource{}
	for _, p := range people {
		first, last, email := strings.Fields(p)[0], strings.Fields(p)[1], strings.Fields(p)[2]
		id := strings.TrimSpace(e.Run("invite", first, last, email, "-o", "csv", "--no-header", "--columns", "id").Stdout)
		out[email] = mem(t, srv, id)
	}
	return out
}

// Several members at once: one line each on stderr and a summary, the
// memberships on stdout; a member that fails does not stop the others, and
// the exit code is 3. The same command again sends nothing more.
func TestSeveralMembers(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	sd := srv.Seed
	p := invited(t, srv, e, "Alice Smith alice@example.com", "Bob Jones bob@example.com")

	srv.ResetRequests()
	r := e.Run("members", "deactivate", "homer@example.com", "Alice Smith", "nobody@example.com")
	homer, alice := mem(t, srv, sd.Homer.MembershipID), mem(t, srv, p["alice@example.com"].ID())
	r.Expect(t, 3, listHeader+rows(homer, alice),
		"Homer Simpson (Patient, homer@example.com) is deactivated; the membership and profile are kept\n"+
			"Alice Smith (Practitioner, alice@example.com) is deactivated; the membership and profile are kept\n"+
			"nobody@example.com: no member of project "+sd.ProjectID+" is nobody@example.com\n"+
			"3 members: 2 changed, 1 failed.\n"+
			"medplum: 1 of 3 members failed: nobody@example.com\n")
	if homer["active"] != false || alice["active"] != false {
		t.Errorf("stored %v %v", homer, alice)
	}
	if n := len(srv.RequestsTo("POST", "/admin/projects/*/members/*")); n != 2 {
		t.Errorf("%d updates", n)
	}
	// Again: nothing to change, nothing sent.
	srv.ResetRequests()
	e.Run("members", "deactivate", "homer@example.com", "Alice Smith", "nobody@example.com").Expect(t, 3, listHeader+rows(homer, alice),
		"Homer Simpson (Patient, homer@example.com) is already deactivated; nothing changed\n"+
			"Alice Smith (Practitioner, alice@example.com) is already deactivated; nothing changed\n"+
			"nobody@example.com: no member of project "+sd.ProjectID+" is nobody@example.com\n"+
			"3 members: 2 unchanged, 1 failed.\n"+
			"medplum: 1 of 3 members failed: nobody@example.com\n")
	if n := len(srv.RequestsTo("POST", "/admin/projects/*/members/*")); n != 0 {
		t.Errorf("%d updates on the second run", n)
	}

	// Names on stdin with -, one a line (blank lines and # comments
	// skipped), with arguments too; -o json is an array of them.
	out := e.RunStdin("homer@example.com\n\n# the new ones\n  Alice Smith  \n", "members", "activate", "bob@example.com", "-", "-o", "json")
	out.ExpectCode(t, 0, "Bob Jones (Practitioner, bob@example.com) is already active; nothing changed\n"+
		"Homer Simpson (Patient, homer@example.com) is active again\n"+
		"Alice Smith (Practitioner, alice@example.com) is active again\n"+
		"3 members: 2 changed, 1 unchanged.\n")
	var list []map[string]any
	if err := json.Unmarshal([]byte(out.Stdout), &list); err != nil || len(list) != 3 || list[1]["id"] != sd.Homer.MembershipID || list[1]["active"] != true {
		t.Errorf("-o json: %v\n%s", err, out.Stdout)
	}

	// Two members with one access policy, by name: it is looked up once.
	srv.Create(sd.ProjectID, client.Resource{"resourceType": "AccessPolicy", "name": "Front desk"})
	srv.ResetRequests()
	if r := e.Run("members", "set-access", "homer@example.com", "bob@example.com", "--access-policy", "Front desk", "-o", "csv", "--no-header", "--columns", "name"); r.Code != 0 ||
		r.Stdout != "Homer Simpson\nBob Jones\n" || !strings.HasSuffix(r.Stderr, "\n2 members: 2 changed.\n") {
		t.Errorf("set-access: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if n := len(srv.RequestsTo("GET", "/fhir/R4/AccessPolicy")); n != 1 {
		t.Errorf("%d policy searches", n)
	}
	if h, b := mem(t, srv, sd.Homer.MembershipID), mem(t, srv, p["bob@example.com"].ID()); h.Ref("accessPolicy") == "" || h.Ref("accessPolicy") != b.Ref("accessPolicy") {
		t.Errorf("stored %v %v", h["accessPolicy"], b["accessPolicy"])
	}
}

// Every member is checked before anything is sent: a malformed one is exit
// 2, listed with where it came from.
func TestSeveralMembersBadInput(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	e.RunStdin("alice@example.com\nPatient/\n", "members", "promote", "homer@example.com", "homer@", "-", "Organization/1").Expect(t, 2, "",
		"medplum: nothing was sent:\n"+
			"  argument 2: member \"homer@\": not a valid e-mail address\n"+
			"  stdin line 2: member \"Patient/\": \"\" is not a FHIR id\n"+
			"  argument 4: member \"Organization/1\": a reference must be to ProjectMembership, User or a profile (Patient, Practitioner, RelatedPerson, Bot, ClientApplication)\n")
	e.RunStdin("", "members", "demote", "-", "-").Expect(t, 2, "", "medplum: - (stdin) can be given only once\nRun 'medplum members demote --help' for usage.\n")
	e.RunStdin("\n# nobody\n", "members", "demote", "-").Expect(t, 2, "", "medplum: no members on stdin: nothing to do\n")
	e.Run("members", "demote").Expect(t, 2, "", "medplum: medplum members demote needs one or more members (a membership id, an e-mail, a name, or Patient/<id> and the like; - reads them from stdin, one a line)\nRun 'medplum members demote --help' for usage.\n")
	clitest.ExpectNothingSent(t, srv)
}

// What no member could get past stops the run: the rest are not attempted.
func TestSeveralMembersStopWhenRefused(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	e = clitest.SignedInAsMember(t, srv)
	e.Run("members", "promote", srv.Seed.Homer.MembershipID, "homer@example.com").Expect(t, 5, "", "2 members: 2 not attempted.\nmedplum: Forbidden\n")
	e.Run("members", "remove", srv.Seed.Homer.MembershipID, "homer@example.com", "--yes").Expect(t, 5, "", "2 members: 2 not attempted.\nmedplum: Forbidden\n")
}

// Several removals: every member is found first, then removed, a line each.
func TestRemoveSeveral(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	sd := srv.Seed
	p := invited(t, srv, e, "Alice Smith alice@example.com")
	e.Run("members", "remove", "homer@example.com", "Alice Smith").Expect(t, 2, "",
		"medplum: removing a member needs confirmation: pass --yes (there is no terminal to ask on)\nRun 'medplum members remove --help' for usage.\n")
	e.Run("members", "remove", "homer@example.com", "nobody@example.com", "Alice Smith", "alice@example.com", sd.AdminEmail, "--yes").Expect(t, 3, "",
		"nobody@example.com: no member of project "+sd.ProjectID+" is nobody@example.com\n"+
			"Removed Homer Simpson (Patient, homer@example.com)\n"+
			"Removed Alice Smith (Practitioner, alice@example.com)\n"+
			"Medplum Admin (Practitioner, admin@example.com): cannot remove Medplum Admin (Practitioner, admin@example.com): they own project "+projectName(srv)+
			", and the server refuses to remove a project's owner (Cannot delete the owner of the project)\n"+
			"4 members: 2 removed, 2 failed.\n"+
			"medplum: 2 of 4 members failed: nobody@example.com, Medplum Admin (Practitioner, admin@example.com)\n")
	if !srv.Deleted("ProjectMembership", sd.Homer.MembershipID) || !srv.Deleted("ProjectMembership", p["alice@example.com"].ID()) || srv.Deleted("ProjectMembership", sd.Admin.MembershipID) {
		t.Error("removed the wrong members")
	}
	// By id, the removed are already removed: exit 0.
	e.Run("members", "remove", sd.Homer.MembershipID, p["alice@example.com"].ID(), "-y").Expect(t, 0, "",
		"membership "+sd.Homer.MembershipID+" was already removed\n"+
			"membership "+p["alice@example.com"].ID()+" was already removed\n"+
			"2 members: 2 already removed.\n")
}
