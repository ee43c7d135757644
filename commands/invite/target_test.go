package invite_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/clitest"
)

// These tests run against the sandbox in make test and against a real
// Medplum in make test-real, each in a project of its own (expunged at the
// end), with the users it makes deleted.

func newPolicy(t *testing.T, c *client.Client, name string) string {
	t.Helper()
	d, err := c.CreateResource(context.Background(), client.Resource{"resourceType": "AccessPolicy", "name": name,
		"resource": []any{map[string]any{"resourceType": "Patient"}}})
	if err != nil {
		t.Fatal(err)
	}
	return "AccessPolicy/" + d.Resource.ID()
}

// memberJSON is members get -o json of an e-mail.
func memberJSON(t *testing.T, e *clitest.Env, email string) client.Resource {
	t.Helper()
	out := e.Run("members", "get", email, "-o", "json").ExpectCode(t, 0, "")
	m, err := client.DecodeResource([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Issue 13, defects 1 and 5, on any server: --upsert keeps an admin's
// rights, a policy is taken by name, one the project lacks is refused.
func TestTargetInviteUpsertAndPolicies(t *testing.T) {
	p, e, c := clitest.OwnProject(t, "invite-upsert")
	newPolicy(t, c, "Clinic staff")
	nurses := newPolicy(t, c, "Nurses")
	email := strings.ToLower(p.Unique("grace")) + "@example.com"
	invite := []string{"invite", "Grace", "Hopper", email, "--scope", "project"}

	e.Run(append(invite, "--admin", "--access-policy", "Clinic staff")...).ExpectCode(t, 0, "")
	m := memberJSON(t, e, email)
	id := m.ID()
	e.Run(append(invite, "--upsert")...).ExpectCode(t, 0, email+" is already a member (ProjectMembership/"+id+"); nothing to change\n")
	e.Run(append(invite, "--upsert", "--access-policy", "Nurses", "--dry-run")...).ExpectCode(t, 0,
		email+" is already a member (ProjectMembership/"+id+"); --upsert would change: access \"Clinic staff\" -> \"Nurses\"\n")
	e.Run(append(invite, "--upsert", "--access-policy", "Nurses")...).ExpectCode(t, 0,
		"updated "+email+"'s membership (ProjectMembership/"+id+"): access \"Clinic staff\" -> \"Nurses\"\n")
	if m := memberJSON(t, e, email); m["admin"] != true || m.Ref("accessPolicy") != nurses {
		t.Errorf("after the upserts: %v", m)
	}

	bob := strings.ToLower(p.Unique("bob")) + "@example.com"
	e.Run("invite", "Bob", "Jones", bob, "--scope", "project", "--access-policy", "00000000-0000-0000-0000-000000000000").Expect(t, 2, "",
		"medplum: the invite is not valid; nothing was sent:\n"+
			"  --access-policy: no access policy named \"00000000-0000-0000-0000-000000000000\", nor with that id, in the project\n")
	if r := e.Run("members", "get", bob); r.Code == 0 {
		t.Errorf("%s was invited: %s", bob, r.Stdout)
	}
}

// loginWorks signs in with a password (auth/login, PKCE plain), as the
// user would.
func loginWorks(t *testing.T, p *clitest.Target, email, password string) bool {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password, "projectId": p.ProjectID, "scope": "openid",
		"codeChallenge": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "codeChallengeMethod": "plain"})
	resp, err := http.Post(p.URL+"auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Issue 13, defect 2, on any server: a project-scoped member's password is
// set (and works), a server-scoped member's is refused before anything is
// sent.
func TestTargetInviteUpsertPassword(t *testing.T) {
	p, e, _ := clitest.OwnProject(t, "invite-password")
	pw := p.Unique("pw-Aa1")
	ada := strings.ToLower(p.Unique("ada")) + "@example.com"
	e.Run("invite", "Ada", "Lovelace", ada, "--scope", "project").ExpectCode(t, 0, "")
	r := e.RunStdin(pw+"\n", "invite", "Ada", "Lovelace", ada, "--scope", "project", "--upsert", "--password-stdin")
	r.NotContains(t, pw)
	if r.Code != 0 || !strings.HasSuffix(r.Stderr, "password set for "+ada+"\n") {
		t.Fatalf("exit %d, stderr %s", r.Code, r.Stderr)
	}
	if !loginWorks(t, p, ada, pw) {
		t.Errorf("%s cannot sign in with the password invite set", ada)
	}

	grace := strings.ToLower(p.Unique("grace")) + "@example.com"
	old := p.Unique("old-Aa1")
	p.AddPerson(t, grace, old, false)
	e.RunStdin(pw+"\n", "invite", "Test", "Person", grace, "--upsert", "--password-stdin", "--admin").Expect(t, 2, "",
		"medplum: "+grace+" is already a member, and their account is server-scoped: Medplum lets a project admin set the password "+
			"of the project's own (project-scoped) users only; nothing was sent\n"+
			"leave out --password-stdin to update the membership; the user can reset the password from the sign-in page\n")
	if !loginWorks(t, p, grace, old) || loginWorks(t, p, grace, pw) {
		t.Errorf("%s's password changed", grace)
	}
	if m := memberJSON(t, e, grace); m["admin"] == true {
		t.Errorf("the refused invite made %s an admin", grace)
	}
}

// Issue 13, on any server: the HR export goes in with --map and no hand
// edits, twice: the second run finds everyone a member.
func TestTargetInviteCSVFromAnHRExport(t *testing.T) {
	p, e, _ := clitest.OwnProject(t, "invite-hr")
	b, err := os.ReadFile("../../testdata/invite/staff-export.csv")
	if err != nil {
		t.Fatal(err)
	}
	tag := strings.ToLower(p.Unique("hr"))
	csv := strings.NewReplacer("@clinic.example", "."+tag+"@clinic.example", "@Clinic.Example", "."+tag+"@Clinic.Example").Replace(string(b))
	writeFile(t, e, "staff-export.csv", csv)
	problems := "staff-export.csv:5: Email Address: not a valid e-mail address: \"amelie.dubois@clinic\"\n" +
		"staff-export.csv:7: Email Address: duplicate: jose.nunez." + tag + "@clinic.example is already on line 3\n"
	args := []string{"invite", "--csv", "staff-export.csv", "--map", "Job Title=ignore", "--skip-invalid", "-q"}
	e.Run(args...).Expect(t, 0, "", problems+"5 rows: 3 created, 0 exists, 0 updated, 0 failed, 2 skipped\n")
	e.Run(args...).Expect(t, 0, "", problems+"5 rows: 0 created, 3 exists, 0 updated, 0 failed, 2 skipped\n")
	if m := memberJSON(t, e, "zoe.simunek."+tag+"@clinic.example"); m.Display("profile") != "Zoë Šimůnek" {
		t.Errorf("profile %q", m.Display("profile"))
	}
}
