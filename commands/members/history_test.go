package members_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// members history: each version of the membership as what changed, when
// and by whom, oldest first, read from the server's _history.
func TestHistory(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	sd := srv.Seed
	srv.Create(sd.ProjectID, client.Resource{"resourceType": "AccessPolicy", "id": "basic", "name": "basic"})
	for _, args := range [][]string{
		{"promote", "homer@example.com"},
		{"deactivate", "homer@example.com"},
		{"set-access", "homer@example.com", "--access-policy", "basic"},
		{"set-access", "homer@example.com", "--access", "AccessPolicy/basic?provider_organization=Organization/abc"},
		{"demote", "Homer Simpson"},
		{"demote", "homer@example.com"}, // nothing to change: no version
	} {
		if r := e.Run(append([]string{"members"}, args...)...); r.Code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.Code, r.Stderr)
		}
	}
	// The times are the server's: read them from its own answer.
	tok := srv.IssueToken(sd.Client.MembershipID)
	var h client.Bundle
	if err := json.Unmarshal(clitest.ServerGet(t, srv, tok, "fhir/R4/ProjectMembership/"+sd.Homer.MembershipID+"/_history"), &h); err != nil || len(h.Entry) != 6 {
		t.Fatalf("history: %v, %d versions", err, len(h.Entry))
	}
	when := make([]string, len(h.Entry)) // oldest first
	for i, en := range h.Entry {
		var m struct{ Meta struct{ LastUpdated string } }
		_ = json.Unmarshal(en.Resource, &m)
		when[len(h.Entry)-1-i] = m.Meta.LastUpdated
	}
	app := "Sandbox Project Admin Client"
	want := "WHEN\tWHO\tCHANGE\n" +
		when[0] + "\tsystem\tcreated\n" +
		when[1] + "\t" + app + "\tadmin: (none) → true\n" +
		when[2] + "\t" + app + "\tactive: (none) → false\n" +
		when[3] + "\t" + app + "\taccessPolicy: (none) → AccessPolicy/basic\n" +
		when[4] + "\t" + app + "\taccess: (none) → AccessPolicy/basic?provider_organization=Organization/abc; accessPolicy: AccessPolicy/basic → (none)\n" +
		when[5] + "\t" + app + "\tadmin: true → false\n"
	srv.ResetRequests()
	e.Run("members", "history", "homer@example.com").Expect(t, 0, want, "")
	clitest.ExpectPaths(t, srv, append(append([]string{me()}, emailLookup(srv, "homer@example.com", sd.Homer.Profile)...),
		"GET "+adminRoute(srv, sd.Homer.MembershipID),
		"GET /fhir/R4/ProjectMembership/"+sd.Homer.MembershipID+"/_history?_count=1000&_offset=0")...)

	// -o json: each version, its author, and the changes as JSON values
	// (a field not set has no before or after).
	out := e.Run("members", "history", sd.Homer.MembershipID, "-o", "json").ExpectCode(t, 0, "")
	var versions []struct {
		Version, When, Event string
		Who                  *client.Reference
		Changes              []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &versions); err != nil || len(versions) != 6 {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if v := versions[1]; v.Event != "changed" || v.When != when[1] || v.Who == nil || v.Who.Reference != "ClientApplication/"+sd.Client.ID ||
		len(v.Changes) != 1 || v.Changes[0]["field"] != "admin" || v.Changes[0]["after"] != true || v.Changes[0]["before"] != nil {
		t.Errorf("version 2: %+v", v)
	}
	if v := versions[0]; v.Event != "created" || v.Who.Reference != "system" || len(v.Changes) != 0 {
		t.Errorf("version 1: %+v", v)
	}

	// A removed member's history is read by membership id; it ends with
	// the removal, whose author Medplum does not keep.
	e.Run("members", "remove", "homer@example.com", "--yes").Expect(t, 0, "", "Removed Homer Simpson (Patient, homer@example.com) from project "+projectName(srv)+"\n")
	srv.ResetRequests()
	r := e.Run("members", "history", sd.Homer.MembershipID, "--columns", "change,who")
	r.ExpectCode(t, 0, "")
	if !strings.HasSuffix(r.Stdout, "admin: true → false\t"+app+"\nremoved\t\n") {
		t.Errorf("after remove:\n%s", r.Stdout)
	}
	clitest.ExpectPaths(t, srv, me(), "GET /fhir/R4/ProjectMembership/"+sd.Homer.MembershipID+"/_history?_count=1000&_offset=0")
	e.Run("members", "history", "homer@example.com").Expect(t, 2, "", "medplum: no member of project "+sd.ProjectID+" is homer@example.com\n")
	e.Run("members", "history", "homer@example.com", "--columns", "nope").Expect(t, 2, "",
		"medplum: --columns: unknown column \"nope\" (choose from when, who, change, version, whoReference)\nRun 'medplum members history --help' for usage.\n")
}
