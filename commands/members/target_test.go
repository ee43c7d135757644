package members_test

import (
	"context"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/commands/clitest"
)

// These tests run against the sandbox in make test and against a real
// Medplum in make test-real, each in a project of its own.

// Issue 13 on any server: the boolean filters of members list (Medplum
// 5.0.10 has no admin or active search parameter), the help example that
// failed, the compact table, names as selectors, several members at once
// (arguments and stdin), and the history of a membership.
func TestTargetMembers(t *testing.T) {
	p, e, c := clitest.OwnProject(t, "members")
	me, err := c.Me(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	client := me.Membership.Display("profile") // the project's admin client, as authors show it
	tag := strings.ToLower(strings.ReplaceAll(p.Unique("m"), "-", ""))
	email := func(who string) string { return who + "-" + tag + "@example.com" }
	last := "Member" + tag
	for _, args := range [][]string{
		{"invite", "Ada", last, email("ada"), "--admin"},
		{"invite", "Ben", last, email("ben")},
		{"invite", "Cy", last, email("cy")},
		{"members", "deactivate", email("cy")},
	} {
		if r := e.Run(args...); r.Code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.Code, r.Stderr)
		}
	}

	// Every boolean filter, on the client.
	people := []string{"--type", "Practitioner", "-o", "csv", "--no-header", "--columns", "user"}
	list := func(args ...string) string {
		t.Helper()
		return e.Run(append(append([]string{"members", "list"}, args...), people...)...).ExpectCode(t, 0, "")
	}
	for _, c := range []struct {
		flag string
		want []string
	}{
		{"--admin", []string{"ada"}},
		{"--admin=false", []string{"ben", "cy"}},
		{"--active", []string{"ada", "ben"}},
		{"--inactive", []string{"cy"}},
	} {
		var want strings.Builder
		for _, w := range c.want {
			want.WriteString(email(w) + "\n")
		}
		if got := list(c.flag); got != want.String() {
			t.Errorf("members list %s: got\n%swant\n%s", c.flag, got, want.String())
		}
	}
	// The example of members --help that failed on a real 5.0.10.
	e.Run("members", "list", "--type", "Practitioner", "--admin", "-o", "csv").ExpectCode(t, 0, "")

	// On a terminal of 100 columns: the compact table.
	e.Set("MEDPLUM_FORCE_TTY", "100")
	tty := e.Run("members", "list", "--type", "Practitioner", "--active").ExpectCode(t, 0, "")
	e.Set("MEDPLUM_FORCE_TTY", "")
	lines := strings.Split(strings.TrimSuffix(tty, "\n"), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "NAME EMAIL TYPE ADMIN ACTIVE" ||
		strings.Join(strings.Fields(lines[1]), " ") != "Ada "+last+" "+email("ada")+" Practitioner true true" {
		t.Errorf("the table on a terminal of 100 columns:\n%s", tty)
	}

	// A name, several members, names on stdin.
	e.Run("members", "get", "ben "+strings.ToUpper(last), "-o", "csv", "--no-header", "--columns", "user").Expect(t, 0, email("ben")+"\n", "")
	nobody := email("nobody")
	r := e.Run("members", "deactivate", email("ada"), "Ben "+last, nobody, "-o", "csv", "--no-header", "--columns", "user,active")
	r.Expect(t, 3, email("ada")+",false\n"+email("ben")+",false\n",
		"Ada "+last+" (Practitioner, "+email("ada")+") is deactivated; the membership and profile are kept\n"+
			"Ben "+last+" (Practitioner, "+email("ben")+") is deactivated; the membership and profile are kept\n"+
			nobody+": no member of project "+p.ProjectID+" is "+nobody+"\n"+
			"3 members: 2 changed, 1 failed.\n"+
			"medplum: 1 of 3 members failed: "+nobody+"\n")
	e.RunStdin(email("ada")+"\n"+email("ben")+"\n", "members", "activate", "-", "-o", "csv", "--no-header", "--columns", "active").Expect(t, 0, "true\ntrue\n",
		"Ada "+last+" (Practitioner, "+email("ada")+") is active again\n"+
			"Ben "+last+" (Practitioner, "+email("ben")+") is active again\n"+
			"2 members: 2 changed.\n")

	// The history, as the server keeps it.
	e.Run("members", "history", email("ada"), "--columns", "who,change").Expect(t, 0,
		"WHO\tCHANGE\n"+
			"system\tcreated with admin: true\n"+
			client+"\tactive: (none) → false\n"+
			client+"\tactive: false → true\n", "")
	id := strings.TrimSpace(e.Run("members", "get", "Cy "+last, "-o", "csv", "--no-header", "--columns", "id").ExpectCode(t, 0, ""))
	e.Run("members", "remove", "Cy "+last, "--yes").ExpectCode(t, 0, "Removed Cy "+last+" (Practitioner, "+email("cy")+") from project \""+strings.TrimSuffix(client, " admin client")+"\" ("+p.ProjectID+")\n")
	e.Run("members", "history", id, "--columns", "who,change", "--no-header").Expect(t, 0,
		"system\tcreated\n"+client+"\tactive: (none) → false\n\tremoved\n", "")
}

// Issue 15, defect 4, on any server: members list --all reads every
// member of a project larger than offset paging reaches, printing them as
// they come.
func TestTargetMembersListAllScale(t *testing.T) {
	tg := clitest.NewScaleTarget(t)
	e := tg.SignedIn(t)
	out := e.Run("members", "list", "--all", "-o", "ndjson").ExpectCode(t, 0, "")
	if n := strings.Count(out, "\n"); n != tg.Memberships {
		t.Errorf("members list --all: %d members, want %d", n, tg.Memberships)
	}
	e.Run("members", "list", "--all", "--inactive", "-o", "csv", "--columns", "id").ExpectCode(t, 0, "")
}
