package bulk

import (
	"context"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
)

// adminWithPolicy makes a member an admin with an access policy.
func (f *fixture) adminWithPolicy(id, policy string) {
	f.t.Helper()
	m := f.srv.Resource("ProjectMembership", id)
	m["admin"] = true
	m["accessPolicy"] = map[string]any{"reference": policy}
	f.srv.Update(m)
}

// Issue 13, defect 1, in bulk: a row changes only what it names on a
// member. Medplum 5.0.10 removes what an upsert leaves out (captures
// 201-203), so the runner reads the membership and sends back admin and
// the access a row leaves blank. A row that changes nothing sends nothing.
// When the resend's answer is lost, the lookup settles it: "updated", not
// sent a third time.
func TestRunUpsertChangesOnlyWhatTheRowNames(t *testing.T) {
	f := newFixture(t)
	project := f.srv.Seed.ProjectID
	for _, id := range []string{"staff", "nurses"} {
		f.srv.Create(project, client.Resource{"resourceType": "AccessPolicy", "id": id, "name": id})
	}
	pre0, pre1 := f.preMember("user0000@example.com"), f.preMember("user0001@example.com")
	f.adminWithPolicy(pre0, "AccessPolicy/staff")
	f.adminWithPolicy(pre1, "AccessPolicy/staff")
	f.adminWithPolicy(f.srv.Seed.Homer.MembershipID, "AccessPolicy/staff")
	f.srv.ResetRequests()
	f.srv.Inject(medplumtest.Fault{Method: "POST", Path: "/admin/projects/*/invite", Body: "user0001@", Skip: 1, Drop: medplumtest.DropAfterHandling})
	out := f.run(context.Background(), "role,firstName,lastName,email,accessPolicy,admin\n"+
		"Practitioner,Pre,Member,user0000@example.com,nurses,\n"+ // 2 a new policy; admin kept
		"Practitioner,Pre,Member,user0001@example.com,,false\n"+ // 3 demoted; the policy kept; the answer to the resend is lost
		"Patient,Homer,Simpson,homer@example.com,staff,\n", // 4 nothing to change
		RunConfig{Upsert: true})
	if out.err != nil {
		t.Fatal(out.err)
	}
	checkResults(t, out, map[int]Result{
		2: {Status: Updated, Membership: pre0, Change: "access AccessPolicy/staff -> AccessPolicy/nurses"},
		3: {Status: Updated, Membership: pre1, Change: "admin true -> false"},
		4: {Status: Exists, Membership: f.srv.Seed.Homer.MembershipID},
	})
	for id, want := range map[string]string{pre0: "true AccessPolicy/nurses", pre1: "false AccessPolicy/staff", f.srv.Seed.Homer.MembershipID: "true AccessPolicy/staff"} {
		m := f.srv.Resource("ProjectMembership", id)
		if got := strings.TrimSpace(boolOf(m["admin"]) + " " + m.Ref("accessPolicy")); got != want {
			t.Errorf("%s: %s, want %s", id, got, want)
		}
	}
	for email, want := range map[string]int{"user0000@example.com": 2, "user0001@example.com": 2, "homer@example.com": 1} {
		if n := f.invitesOf(email); n != want {
			t.Errorf("%s: %d invites, want %d", email, n, want)
		}
	}
	if p := f.srv.PendingFaults(); len(p) != 0 {
		t.Errorf("faults not used: %+v", p)
	}
}

// A run that stopped while the --upsert resend was in flight left it
// "started" in the journal: the next run reads the membership, merges the
// row again and sends only if something is still to change.
func TestRunUpsertResumed(t *testing.T) {
	f := newFixture(t)
	pre0, pre1 := f.preMember("user0000@example.com"), f.preMember("user0001@example.com")
	data := "firstName,lastName,email,admin\nPre,Member,user0000@example.com,true\nPre,Member,user0001@example.com,true\n"
	check, err := Check(strings.NewReader(data), Options{})
	if err != nil {
		t.Fatal(err)
	}
	j, _, err := OpenJournal(f.dir+"/users.csv.journal", JournalKey{Input: check.DigestString(), Server: f.c.BaseURL(), Project: f.srv.Seed.ProjectID})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []int{2, 3} {
		if err := j.Start(line, false); err != nil {
			t.Fatal(err)
		}
		if err := j.Start(line, true); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	f.adminWithPolicy(pre0, "AccessPolicy/x") // the lost resend of line 2 went through
	f.srv.ResetRequests()
	out := f.run(context.Background(), data, RunConfig{Upsert: true})
	if out.err != nil {
		t.Fatal(out.err)
	}
	checkResults(t, out, map[int]Result{
		2: {Status: Updated, Membership: pre0, Error: "updated by an earlier run whose answer was lost; the membership has what the row names"},
		3: {Status: Updated, Membership: pre1, Change: "admin false -> true"},
	})
	if n, m := f.invitesOf("user0000@example.com"), f.invitesOf("user0001@example.com"); n != 0 || m != 1 {
		t.Errorf("invites sent again: %d and %d, want 0 and 1", n, m)
	}
}

func boolOf(v any) string {
	if v == true {
		return "true"
	}
	return "false"
}
