package members_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m) }

const listHeader = "ID\tNAME\tPROFILE TYPE\tUSER\tADMIN\tACCESS POLICY\tACTIVE\n"

// row is the TSV line members list prints for a membership.
func row(m client.Resource) string {
	name := m.Display("profile")
	if name == "" {
		name = m.Ref("profile")
	}
	active := "true"
	if m["active"] == false {
		active = "false"
	}
	admin := "false"
	if m["admin"] == true {
		admin = "true"
	}
	return strings.Join([]string{m.ID(), name, strings.Split(m.Ref("profile"), "/")[0], m.Display("user"), admin, access(m), active}, "\t") + "\n"
}

// access is the ACCESS POLICY cell: the policy, then each access entry as
// POLICY?name=value.
func access(m client.Resource) string {
	var parts []string
	if p := m.Ref("accessPolicy"); p != "" {
		parts = append(parts, p)
	}
	list, _ := m["access"].([]any)
	for _, a := range list {
		am := a.(map[string]any)
		s := am["policy"].(map[string]any)["reference"].(string)
		params, _ := am["parameter"].([]any)
		for i, p := range params {
			pm := p.(map[string]any)
			v, _ := pm["valueString"].(string)
			if r, ok := pm["valueReference"].(map[string]any); ok {
				v = r["reference"].(string)
			}
			s += map[bool]string{true: "?", false: "&"}[i == 0] + pm["name"].(string) + "=" + v
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func rows(ms ...client.Resource) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(row(m))
	}
	return b.String()
}

// mem reads a membership from the server's store.
func mem(t *testing.T, srv *medplumtest.Server, id string) client.Resource {
	t.Helper()
	m := srv.Resource("ProjectMembership", id)
	if m == nil {
		t.Fatalf("no membership %s", id)
	}
	return m
}

func search(srv *medplumtest.Server, q url.Values) string {
	q.Set("project", "Project/"+srv.Seed.ProjectID)
	return "GET /fhir/R4/ProjectMembership?" + q.Encode()
}

func me() string { return "GET /auth/me" }

// projectName is how messages and questions name the seeded project.
func projectName(srv *medplumtest.Server) string {
	return fmt.Sprintf("%q (%s)", srv.Seed.ProjectName, srv.Seed.ProjectID)
}

// emailLookup are the requests that find a member by e-mail: the profiles
// carrying it, then their memberships.
func emailLookup(srv *medplumtest.Server, email string, profiles ...string) []string {
	out := []string{}
	for _, t := range []string{"Patient", "Practitioner", "RelatedPerson"} {
		out = append(out, "GET /fhir/R4/"+t+"?"+url.Values{"_count": {"20"}, "email": {email}}.Encode())
	}
	if len(profiles) > 0 {
		out = append(out, search(srv, url.Values{"_count": {"20"}, "profile": {strings.Join(profiles, ",")}}))
	}
	return out
}

func adminRoute(srv *medplumtest.Server, id string) string {
	return "/admin/projects/" + srv.Seed.ProjectID + "/members/" + id
}

func TestListSeedSearches(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	sd := srv.Seed
	admin, app, homer, bot := mem(t, srv, sd.Admin.MembershipID), mem(t, srv, sd.Client.MembershipID),
		mem(t, srv, sd.Homer.MembershipID), mem(t, srv, sd.Bot.MembershipID)

	// "Search for all project members", oldest change first.
	e.Run("members", "list").Expect(t, 0, listHeader+rows(admin, app, homer, bot), "")
	clitest.ExpectPaths(t, srv, me(), search(srv, url.Values{"_count": {"101"}, "_sort": {"_lastUpdated"}}))

	// "Search for all human members": --humans is --exclude-type ClientApplication,Bot.
	for _, args := range [][]string{{"--humans"}, {"--exclude-type", "ClientApplication,Bot"}, {"--exclude-type", "bot", "--exclude-type", "clientapplication"}} {
		srv.ResetRequests()
		e.Run(append([]string{"members", "list"}, args...)...).Expect(t, 0, listHeader+rows(admin, homer), "")
		want := "ClientApplication,Bot"
		if args[0] != "--humans" && args[1] == "bot" {
			want = "Bot,ClientApplication"
		}
		clitest.ExpectPaths(t, srv, me(), search(srv, url.Values{"_count": {"101"}, "_sort": {"_lastUpdated"}, "profile-type:not": {want}}))
	}

	// "Search for all project Patients" and "Practitioners"; several types.
	srv.ResetRequests()
	e.Run("members", "list", "--type", "Patient").Expect(t, 0, listHeader+rows(homer), "")
	e.Run("members", "list", "--type", "practitioner").Expect(t, 0, listHeader+rows(admin), "")
	e.Run("members", "list", "--type", "Patient,Practitioner").Expect(t, 0, listHeader+rows(admin, homer), "")
	clitest.ExpectPaths(t, srv,
		me(), search(srv, url.Values{"_count": {"101"}, "_sort": {"_lastUpdated"}, "profile-type": {"Patient"}}),
		me(), search(srv, url.Values{"_count": {"101"}, "_sort": {"_lastUpdated"}, "profile-type": {"Practitioner"}}),
		me(), search(srv, url.Values{"_count": {"101"}, "_sort": {"_lastUpdated"}, "profile-type": {"Patient,Practitioner"}}))

	// Admins, and members who are not (a membership without admin is not
	// one). Medplum 5.0.10 has no admin search parameter ("Unknown search
	// parameter: admin"), so medplum filters them itself.
	srv.ResetRequests()
	e.Run("members", "list", "--admin", "--project", "Project/"+sd.ProjectID).Expect(t, 0, listHeader+rows(admin, app), "")
	e.Run("members", "list", "--admin=false", "--project", sd.ProjectID).Expect(t, 0, listHeader+rows(homer, bot), "")
	e.Run("members", "list", "--type", "Practitioner", "--admin", "-o", "csv", "--columns", "name,admin").Expect(t, 0, "name,admin\nMedplum Admin,true\n", "")
	clitest.ExpectPaths(t, srv,
		me(), search(srv, url.Values{"_count": {"101"}, "_sort": {"_lastUpdated"}}),
		me(), search(srv, url.Values{"_count": {"101"}, "_sort": {"_lastUpdated"}}),
		me(), search(srv, url.Values{"_count": {"101"}, "_sort": {"_lastUpdated"}, "profile-type": {"Practitioner"}}))
}

func TestListActiveAndInactive(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	sd := srv.Seed
	homer := mem(t, srv, sd.Homer.MembershipID)
	homer["active"] = false
	homer = srv.Update(homer)
	bot := mem(t, srv, sd.Bot.MembershipID)
	bot["active"] = true
	bot = srv.Update(bot)
	admin, app := mem(t, srv, sd.Admin.MembershipID), mem(t, srv, sd.Client.MembershipID)

	srv.ResetRequests()
	// Active: no active field, or true; inactive: active false. Medplum
	// 5.0.10 has no active search parameter on ProjectMembership, so
	// medplum filters them itself.
	e.Run("members", "list", "--active").Expect(t, 0, listHeader+rows(admin, app, bot), "")
	e.Run("members", "list", "--inactive", "--humans").Expect(t, 0, listHeader+rows(homer), "")
	e.Run("members", "list", "--inactive", "--admin=false").Expect(t, 0, listHeader+rows(homer), "")
	clitest.ExpectPaths(t, srv,
		me(), search(srv, url.Values{"_count": {"101"}, "_sort": {"_lastUpdated"}}),
		me(), search(srv, url.Values{"_count": {"101"}, "_sort": {"_lastUpdated"}, "profile-type:not": {"ClientApplication,Bot"}}),
		me(), search(srv, url.Values{"_count": {"101"}, "_sort": {"_lastUpdated"}}))

	// --limit counts the members kept: those left out do not count, and
	// further pages are read for them (the second: two admins on page 1).
	srv.ResetRequests()
	e.Run("members", "list", "--active", "--humans", "--limit", "1", "--no-header", "--columns", "id").Expect(t, 0, admin.ID()+"\n", "")
	e.Run("members", "list", "--admin=false", "--active", "--limit", "1", "--no-header", "--columns", "id").Expect(t, 0, bot.ID()+"\n", "")
}

func TestListFormats(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	sd := srv.Seed
	admin, homer := mem(t, srv, sd.Admin.MembershipID), mem(t, srv, sd.Homer.MembershipID)

	// -o json: an array of the memberships as the server sent them.
	out := e.Run("members", "list", "--humans", "-o", "json").ExpectCode(t, 0, "")
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 || list[0]["id"] != admin.ID() || list[1]["id"] != homer.ID() {
		t.Fatalf("-o json: %s (%v)", out, err)
	}
	if !strings.HasPrefix(out, "[\n  {\n") {
		t.Errorf("-o json is not indented: %q", out[:min(len(out), 20)])
	}
	// -o ndjson: one compact membership per line.
	out = e.Run("members", "list", "--humans", "-o", "ndjson").ExpectCode(t, 0, "")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"id":"`+homer.ID()+`"`) || strings.Contains(lines[0], "\n  ") {
		t.Errorf("-o ndjson: %q", out)
	}
	// An empty result: [] and nothing.
	e.Run("members", "list", "--type", "RelatedPerson", "-o", "json").Expect(t, 0, "[]\n", "")
	e.Run("members", "list", "--type", "RelatedPerson", "-o", "ndjson").Expect(t, 0, "", "")

	// csv, --columns (named or dotted paths), --no-header.
	e.Run("members", "list", "--humans", "-o", "csv", "--columns", "name,user,profile,meta.versionId").Expect(t, 0,
		"name,user,profile,meta.versionId\n"+
			"Medplum Admin,admin@example.com,"+admin.Ref("profile")+","+admin["meta"].(map[string]any)["versionId"].(string)+"\n"+
			"Homer Simpson,homer@example.com,"+homer.Ref("profile")+","+homer["meta"].(map[string]any)["versionId"].(string)+"\n", "")
	e.Run("members", "list", "--type", "Patient", "--no-header", "--columns", "id,admin,active").Expect(t, 0, homer.ID()+"\tfalse\ttrue\n", "")

	// A table on a terminal.
	e.Set("MEDPLUM_FORCE_TTY", "120")
	e.Run("members", "list", "--humans", "--columns", "name,profileType,user,admin").Expect(t, 0,
		"NAME           PROFILE TYPE  USER               ADMIN\n"+
			"Medplum Admin  Practitioner  admin@example.com  true\n"+
			"Homer Simpson  Patient       homer@example.com  false\n", "")
}

// -o json prints the memberships as the server sent them, byte for byte:
// a display holding <, > and & is not re-escaped on the way.
func TestListJSONIsTheServersAnswer(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	homer := mem(t, srv, srv.Seed.Homer.MembershipID)
	homer["profile"].(map[string]any)["display"] = "Homer & <Marge>"
	srv.Update(homer)
	tok := srv.IssueToken(srv.Seed.Client.MembershipID)
	var found client.Bundle
	if err := json.Unmarshal(clitest.ServerGet(t, srv, tok, "fhir/R4/ProjectMembership?profile-type=Patient"), &found); err != nil || len(found.Entry) != 1 {
		t.Fatalf("search: %v %+v", err, found)
	}
	raw := found.Entry[0].Resource
	if !strings.Contains(string(raw), "Homer & <Marge>") {
		t.Fatalf("the server escaped the display itself: %s", raw)
	}
	e.Run("members", "list", "--type", "Patient", "-o", "json").Expect(t, 0, clitest.Indented(t, append(append([]byte("["), raw...), ']')), "")
	e.Run("members", "list", "--type", "Patient", "-o", "ndjson").Expect(t, 0, string(raw)+"\n", "")
	e.Run("members", "get", homer.ID(), "-o", "json").Expect(t, 0,
		clitest.Indented(t, clitest.ServerGet(t, srv, tok, "admin/projects/"+srv.Seed.ProjectID+"/members/"+homer.ID())), "")
}

func TestListPagingLimitAndAll(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithMembers(1500))
	e := clitest.SignedIn(t, srv)
	total := 1504 // 1500 generated plus admin, client, Homer and the bot

	// By default the first 100, and a note.
	r := e.Run("members", "list", "--no-header", "--columns", "id")
	if n := strings.Count(r.Stdout, "\n"); n != 100 || r.Code != 0 || r.Stderr != "showing the first 100 members; use --limit N or --all for more\n" {
		t.Errorf("default: %d rows, exit %d, stderr %q", n, r.Code, r.Stderr)
	}

	// --limit N: N rows, one page when N < 1000, no note.
	srv.ResetRequests()
	r = e.Run("members", "list", "--limit", "7", "-o", "csv", "--no-header", "--columns", "user")
	want := "admin@example.com\nSandbox Project Admin Client\nhomer@example.com\nSandbox Bot\nmember00001@example.com\nmember00002@example.com\nmember00003@example.com\n"
	r.Expect(t, 0, want, "")
	clitest.ExpectPaths(t, srv, me(), search(srv, url.Values{"_count": {"8"}, "_sort": {"_lastUpdated"}}))

	// --all: every member, 1000 a page, cursor paging.
	srv.ResetRequests()
	r = e.Run("members", "list", "--all", "-o", "csv", "--no-header", "--columns", "id")
	ids := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	if r.Code != 0 || r.Stderr != "" || len(ids) != total || len(seen) != total {
		t.Errorf("--all: %d rows (%d distinct), exit %d, stderr %q", len(ids), len(seen), r.Code, r.Stderr)
	}
	paths := clitest.Paths(srv)
	if len(paths) != 3 || paths[1] != search(srv, url.Values{"_count": {"1000"}, "_sort": {"_lastUpdated"}}) ||
		!strings.Contains(paths[2], "_cursor=") || strings.Contains(paths[2], "_offset") {
		t.Errorf("--all requests: %v", paths)
	}

	// --limit above a page: pages of 1000 until the limit.
	r = e.Run("members", "list", "--limit", "1200", "-o", "ndjson")
	if n := strings.Count(r.Stdout, "\n"); n != 1200 || r.Code != 0 || r.Stderr != "" {
		t.Errorf("--limit 1200: %d rows, exit %d, stderr %q", n, r.Code, r.Stderr)
	}
}

func TestListRefusesBadFlags(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	usage := "\nRun 'medplum members list --help' for usage.\n"
	cases := map[string][]string{
		"medplum: --active and --inactive cannot be used together" + usage:                                                             {"--active", "--inactive"},
		"medplum: --type: unknown profile type \"Doctor\" (want Patient, Practitioner, RelatedPerson, Bot, ClientApplication)" + usage: {"--type", "Patient,Doctor"},
		"medplum: --humans leaves out Bot, which --type asks for" + usage:                                                              {"--humans", "--type", "bot"},
		"medplum: Patient is both in --type and --exclude-type" + usage:                                                                {"--type", "Patient", "--exclude-type", "patient"},
		"medplum: --limit must be a positive number" + usage:                                                                           {"--limit", "-1"},
		"medplum: --columns and --no-header need -o table or -o csv" + usage:                                                           {"-o", "json", "--no-header"},
		"medplum: --project: not a project: \"a/b\" (want an id or Project/<id>)" + usage:                                              {"--project", "a/b"},
		"medplum: medplum members list takes no arguments, got \"homer\"" + usage:                                                      {"homer"},
	}
	for stderr, args := range cases {
		e.Run(append([]string{"members", "list"}, args...)...).Expect(t, 2, "", stderr)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestGetBySelector(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	sd := srv.Seed
	homer := mem(t, srv, sd.Homer.MembershipID)
	want := listHeader + row(homer)

	for _, sel := range []string{sd.Homer.MembershipID, "ProjectMembership/" + sd.Homer.MembershipID} {
		srv.ResetRequests()
		e.Run("members", "get", sel).Expect(t, 0, want, "")
		clitest.ExpectPaths(t, srv, me(), "GET "+adminRoute(srv, sd.Homer.MembershipID))
	}
	srv.ResetRequests()
	e.Run("members", "get", "HOMER@example.com").Expect(t, 0, want, "")
	clitest.ExpectPaths(t, srv, append(append([]string{me()}, emailLookup(srv, "homer@example.com", sd.Homer.Profile)...),
		"GET "+adminRoute(srv, sd.Homer.MembershipID))...)
	srv.ResetRequests()
	e.Run("members", "get", sd.Homer.Profile).Expect(t, 0, want, "")
	clitest.ExpectPaths(t, srv, me(), search(srv, url.Values{"_count": {"20"}, "profile": {sd.Homer.Profile}}), "GET "+adminRoute(srv, sd.Homer.MembershipID))
	e.Run("members", "get", sd.Homer.User).Expect(t, 0, want, "")
	e.Run("members", "get", "ClientApplication/"+sd.Client.ID, "--columns", "name,profileType,admin").
		Expect(t, 0, "NAME\tPROFILE TYPE\tADMIN\nSandbox Project Admin Client\tClientApplication\ttrue\n", "")

	// -o json: the admin route's answer.
	out := e.Run("members", "get", sd.Homer.MembershipID, "-o", "json").ExpectCode(t, 0, "")
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || got["id"] != sd.Homer.MembershipID || got["resourceType"] != "ProjectMembership" {
		t.Errorf("-o json: %s", out)
	}

	// Nobody, or a malformed selector.
	// A <member> that names nobody is bad input, as an ambiguous one is:
	// exit 2 (DESIGN.md's table), nothing changed.
	e.Run("members", "get", "nope").Expect(t, 2, "", "medplum: no member of project "+sd.ProjectID+" is nope\n") // no such id, nor name
	e.Run("members", "get", "00000000-0000-0000-0000-000000000000").Expect(t, 2, "", "medplum: no membership 00000000-0000-0000-0000-000000000000 in project "+sd.ProjectID+"\n")
	e.Run("members", "get", "nobody@example.com").Expect(t, 2, "", "medplum: no member of project "+sd.ProjectID+" is nobody@example.com\n")
	e.Run("members", "get", "Patient/nope").Expect(t, 2, "", "medplum: no member of project "+sd.ProjectID+" is Patient/nope\n")
	// A super admin without --project looks in their own project, and is
	// told how to look in another.
	sa := clitest.SignedIn(t, srv).Set("MEDPLUM_CLIENT_ID", sd.SuperAdminClient.ID).Set("MEDPLUM_CLIENT_SECRET", sd.SuperAdminClient.Secret)
	superHint := "You are a super admin signed in to project \"Super Admin\" (" + sd.SuperAdminProjectID + "): for a member of another project, pass --project <project id>.\n"
	sa.Run("members", "get", "homer@example.com").Expect(t, 2, "", "medplum: no member of project "+sd.SuperAdminProjectID+" is homer@example.com\n"+superHint)
	sa.Run("members", "get", "00000000-0000-0000-0000-000000000000").Expect(t, 2, "", "medplum: no membership 00000000-0000-0000-0000-000000000000 in project "+sd.SuperAdminProjectID+"\n"+superHint)
	sa.Run("members", "invite-link", "homer@example.com", "--app-url", "https://app.example.com/").Expect(t, 2, "", "medplum: no member of project "+sd.SuperAdminProjectID+" is homer@example.com\n"+superHint)
	sa.Run("members", "invite-link", "nobody@example.com", "--project", sd.ProjectID, "--app-url", "https://app.example.com/").Expect(t, 2, "", "medplum: no member of project "+sd.ProjectID+" is nobody@example.com\n")
	srv.ResetRequests()
	e.Run("members", "get", "Organization/1").Expect(t, 2, "", "medplum: member \"Organization/1\": a reference must be to ProjectMembership, User or a profile (Patient, Practitioner, RelatedPerson, Bot, ClientApplication)\nRun 'medplum members get --help' for usage.\n")
	e.Run("members", "get", "homer@").Expect(t, 2, "", "medplum: member \"homer@\": not a valid e-mail address\nRun 'medplum members get --help' for usage.\n")
	e.Run("members", "get").Expect(t, 2, "", "medplum: medplum members get needs a member (a membership id, an e-mail, a name, or Patient/<id> and the like)\nRun 'medplum members get --help' for usage.\n")
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("malformed selectors sent %d requests", n)
	}
}

func TestAmbiguousSelectorListsTheCandidates(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	// Two memberships for the same user and profile (forceNewMembership).
	for _, extra := range [][]string{nil, {"--force-new-membership"}} {
		e.Run(append([]string{"invite", "Alice", "Smith", "alice@example.com", "-o", "csv", "--no-header", "--columns", "id"}, extra...)...)
	}
	var alice []client.Resource
	for _, m := range srv.Memberships(srv.Seed.ProjectID) {
		if m.Display("user") == "alice@example.com" {
			alice = append(alice, m)
		}
	}
	if len(alice) != 2 {
		t.Fatalf("%d memberships for Alice", len(alice))
	}
	msg := func(sel string) string {
		return "medplum: " + sel + " matches 2 members of project " + srv.Seed.ProjectID + "; name one by its membership id:\n" +
			"  " + alice[0].ID() + "  Alice Smith (Practitioner, alice@example.com)\n" +
			"  " + alice[1].ID() + "  Alice Smith (Practitioner, alice@example.com)\n"
	}
	srv.ResetRequests()
	e.Run("members", "promote", "alice@example.com").Expect(t, 2, "", msg("alice@example.com"))
	e.Run("members", "get", alice[0].Ref("profile")).Expect(t, 2, "", msg(alice[0].Ref("profile")))
	if n := len(srv.RequestsTo("POST", "/admin/projects/*/members/*")); n != 0 {
		t.Errorf("%d updates sent", n)
	}
	// By id, each is found.
	e.Run("members", "get", alice[1].ID(), "--no-header", "--columns", "id").Expect(t, 0, alice[1].ID()+"\n", "")
}

func TestPromoteAndDemoteChangeOnlyAdmin(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	sd := srv.Seed
	// Fields medplum does not know must survive the round trip.
	homer := mem(t, srv, sd.Homer.MembershipID)
	homer["identifier"] = []any{map[string]any{"system": "https://example.com/staff", "value": "H-1"}}
	homer["extension"] = []any{map[string]any{"url": "https://example.com/weight", "valueDecimal": json.Number("1.50")}}
	homer["userName"] = "homer"
	srv.Update(homer)
	route := adminRoute(srv, sd.Homer.MembershipID)
	var read, sent map[string]any // the membership as read before the change, and as posted
	if err := json.Unmarshal([]byte(e.Run("members", "get", sd.Homer.MembershipID, "-o", "json").Stdout), &read); err != nil {
		t.Fatal(err)
	}

	srv.ResetRequests()
	r := e.Run("members", "promote", sd.Homer.MembershipID)
	after := mem(t, srv, sd.Homer.MembershipID)
	r.Expect(t, 0, listHeader+row(after), "Homer Simpson (Patient, homer@example.com) is now a project admin\n")
	clitest.ExpectPaths(t, srv, me(), "GET "+route, "POST "+route)
	// The POST body is the membership as read with admin: true, nothing
	// else changed (compared with the read before the change: the stored
	// state after it holds whatever was posted).
	for _, q := range srv.Requests() {
		if q.Path == route && q.Method == "POST" {
			if err := json.Unmarshal(q.Body, &sent); err != nil {
				t.Fatal(err)
			}
		}
	}
	if read["identifier"] == nil {
		t.Fatalf("the membership as read has no identifier: %v", read)
	}
	if sent["admin"] != true {
		t.Errorf("sent admin %v", sent["admin"])
	}
	delete(sent, "admin")
	delete(read, "admin")
	delete(read, "meta") // the stored version moved on after the update
	delete(sent, "meta")
	if a, b := fmt.Sprint(sent), fmt.Sprint(read); a != b {
		t.Errorf("the update changed more than admin:\n sent %s\n read %s", a, b)
	}
	if after["admin"] != true || after["userName"] != "homer" || fmt.Sprint(after["extension"]) != "[map[url:https://example.com/weight valueDecimal:1.50]]" {
		t.Errorf("stored %v", after)
	}

	// Promoting an admin: nothing sent, exit 0.
	srv.ResetRequests()
	e.Run("members", "promote", "homer@example.com").Expect(t, 0, listHeader+row(after), "Homer Simpson (Patient, homer@example.com) is already a project admin; nothing changed\n")
	if n := len(srv.RequestsTo("POST", "/admin/projects/*/members/*")); n != 0 {
		t.Errorf("%d updates sent", n)
	}

	r = e.Run("members", "demote", sd.Homer.Profile, "-o", "csv", "--columns", "name,admin")
	r.Expect(t, 0, "name,admin\nHomer Simpson,false\n", "Homer Simpson (Patient, homer@example.com) is no longer a project admin\n")
	if m := mem(t, srv, sd.Homer.MembershipID); m["admin"] != false || m["userName"] != "homer" {
		t.Errorf("stored %v", m)
	}
	e.Run("members", "demote", "homer@example.com", "-o", "csv", "--columns", "admin", "--no-header").
		Expect(t, 0, "false\n", "Homer Simpson (Patient, homer@example.com) is not a project admin; nothing changed\n")
	// The bot has no admin field at all: not an admin.
	e.Run("members", "demote", "Bot/"+strings.TrimPrefix(sd.Bot.Profile, "Bot/"), "-o", "csv", "--columns", "admin", "--no-header").
		Expect(t, 0, "false\n", "Sandbox Bot (Bot) is not a project admin; nothing changed\n")
}

func TestDeactivateKeepsTheProfile(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	sd := srv.Seed
	profileID := strings.TrimPrefix(sd.Homer.Profile, "Patient/")

	r := e.Run("members", "deactivate", "homer@example.com")
	homer := mem(t, srv, sd.Homer.MembershipID)
	r.Expect(t, 0, listHeader+row(homer), "Homer Simpson (Patient, homer@example.com) is deactivated; the membership and profile are kept\n")
	if homer["active"] != false || srv.Resource("Patient", profileID) == nil {
		t.Errorf("membership %v", homer)
	}
	e.Run("members", "deactivate", sd.Homer.MembershipID).Expect(t, 0, listHeader+row(homer), "Homer Simpson (Patient, homer@example.com) is already deactivated; nothing changed\n")
	e.Run("members", "list", "--inactive", "--no-header", "--columns", "id").Expect(t, 0, sd.Homer.MembershipID+"\n", "")

	r = e.Run("members", "activate", sd.Homer.Profile)
	homer = mem(t, srv, sd.Homer.MembershipID)
	r.Expect(t, 0, listHeader+row(homer), "Homer Simpson (Patient, homer@example.com) is active again\n")
	if homer["active"] != true {
		t.Errorf("membership %v", homer)
	}
	// A membership without active is active already.
	e.Run("members", "activate", "homer@example.com", "-o", "csv", "--no-header", "--columns", "active").
		Expect(t, 0, "true\n", "Homer Simpson (Patient, homer@example.com) is already active; nothing changed\n")
	e.Run("members", "activate", "admin@example.com", "-o", "csv", "--no-header", "--columns", "active").
		Expect(t, 0, "true\n", "Medplum Admin (Practitioner, admin@example.com) is already active; nothing changed\n")
}

func TestSetAccess(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	sd := srv.Seed
	for _, id := range []string{"123", "basic"} {
		srv.Create(sd.ProjectID, client.Resource{"resourceType": "AccessPolicy", "id": id, "name": id})
	}
	who := "Homer Simpson (Patient, homer@example.com)"

	r := e.Run("members", "set-access", "homer@example.com", "--access-policy", "basic")
	homer := mem(t, srv, sd.Homer.MembershipID)
	r.Expect(t, 0, listHeader+row(homer), who+" now has access AccessPolicy/basic\n")
	if homer.Ref("accessPolicy") != "AccessPolicy/basic" {
		t.Errorf("stored %v", homer)
	}

	// The seed's example: one policy twice, two organizations; the plain
	// policy is replaced.
	r = e.Run("members", "set-access", sd.Homer.MembershipID,
		"--access", "AccessPolicy/123?provider_organization=Organization/abc",
		"--access", "123?provider_organization=Organization/def")
	homer = mem(t, srv, sd.Homer.MembershipID)
	want := "AccessPolicy/123?provider_organization=Organization/abc, AccessPolicy/123?provider_organization=Organization/def"
	r.Expect(t, 0, listHeader+row(homer), who+" now has access "+want+"\n")
	if access(homer) != want || homer["accessPolicy"] != nil {
		t.Errorf("stored %v", homer)
	}
	b, _ := json.Marshal(homer["access"])
	if string(b) != `[{"parameter":[{"name":"provider_organization","valueReference":{"reference":"Organization/abc"}}],"policy":{"reference":"AccessPolicy/123"}},{"parameter":[{"name":"provider_organization","valueReference":{"reference":"Organization/def"}}],"policy":{"reference":"AccessPolicy/123"}}]` {
		t.Errorf("access %s", b)
	}

	// The same again: nothing sent.
	srv.ResetRequests()
	e.Run("members", "set-access", "homer@example.com", "--access", "AccessPolicy/123?provider_organization=Organization/abc",
		"--access", "AccessPolicy/123?provider_organization=Organization/def", "-o", "csv", "--no-header", "--columns", "id").
		Expect(t, 0, sd.Homer.MembershipID+"\n", who+" already has access "+want+"; nothing changed\n")
	if n := len(srv.RequestsTo("POST", "/admin/projects/*/members/*")); n != 0 {
		t.Errorf("%d updates sent", n)
	}

	// A value with an escaped & shows escaped, as --access takes it.
	e.Run("members", "set-access", "homer@example.com", "--access", "123?region=north%26east", "-o", "csv", "--no-header", "--columns", "accessPolicy").
		Expect(t, 0, "AccessPolicy/123?region=north%26east\n", who+" now has access AccessPolicy/123?region=north%26east\n")

	// --clear removes both.
	r = e.Run("members", "set-access", "homer@example.com", "--clear")
	homer = mem(t, srv, sd.Homer.MembershipID)
	r.Expect(t, 0, listHeader+row(homer), who+" has no access policy now: unrestricted access to the project\n")
	if homer["access"] != nil || homer["accessPolicy"] != nil {
		t.Errorf("stored %v", homer)
	}

	// Bad input: exit 2, nothing sent.
	srv.ResetRequests()
	usage := "\nRun 'medplum members set-access --help' for usage.\n"
	e.Run("members", "set-access", "homer@example.com").Expect(t, 2, "", "medplum: give --access-policy, --access or --clear"+usage)
	e.Run("members", "set-access", "homer@example.com", "--clear", "--access", "1").Expect(t, 2, "", "medplum: --clear cannot be used with --access-policy or --access"+usage)
	e.Run("members", "set-access", "homer@example.com", "--access-policy", "Organization/1", "--access", "1?x", "--access", "2?ok=1").Expect(t, 2, "",
		"medplum: nothing was sent:\n  --access-policy: not an access policy: \"Organization/1\" (want a name, an id or AccessPolicy/<id>)\n  --access 1?x: parameter \"x\" has no value (want NAME=VALUE)\n")
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestRemove(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	sd := srv.Seed
	profileID := strings.TrimPrefix(sd.Homer.Profile, "Patient/")

	// Without a terminal to ask on, --yes is required: nothing sent.
	e.Run("members", "remove", "homer@example.com").Expect(t, 2, "",
		"medplum: removing a member needs confirmation: pass --yes (there is no terminal to ask on)\nRun 'medplum members remove --help' for usage.\n")
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}

	srv.ResetRequests()
	e.Run("members", "remove", "homer@example.com", "--yes").Expect(t, 0, "", "Removed Homer Simpson (Patient, homer@example.com) from project "+projectName(srv)+"\n")
	route := adminRoute(srv, sd.Homer.MembershipID)
	clitest.ExpectPaths(t, srv, append(append([]string{me()}, emailLookup(srv, "homer@example.com", sd.Homer.Profile)...), "GET "+route, "DELETE "+route)...)
	if !srv.Deleted("ProjectMembership", sd.Homer.MembershipID) || srv.Resource("Patient", profileID) == nil {
		t.Error("the membership is not deleted, or the profile went with it")
	}
	// Homer's user was project-scoped and this was his only membership:
	// Medplum 5.0.10 keeps the User all the same.
	if srv.Deleted("User", strings.TrimPrefix(sd.Homer.User, "User/")) {
		t.Error("Homer's project-scoped user was deleted: 5.0.10 keeps it")
	}

	// Again: by id it is already gone (exit 0); by e-mail there is nobody.
	e.Run("members", "remove", sd.Homer.MembershipID, "-y").Expect(t, 0, "", "membership "+sd.Homer.MembershipID+" was already removed from project "+projectName(srv)+"\n")
	e.Run("members", "remove", "homer@example.com", "--yes").Expect(t, 2, "", "medplum: no member of project "+sd.ProjectID+" is homer@example.com\n")

	// The owner cannot be removed; the server says so and medplum explains.
	e.Run("members", "remove", sd.AdminEmail, "--yes").Expect(t, 1, "",
		"medplum: cannot remove Medplum Admin (Practitioner, admin@example.com): they own project "+projectName(srv)+
			", and the server refuses to remove a project's owner (Cannot delete the owner of the project)\n"+
			"a super admin can give the project another owner (Project.owner) first\n")
	if srv.Deleted("ProjectMembership", sd.Admin.MembershipID) {
		t.Error("the owner was removed")
	}
}

func TestMembersNeedAdminRights(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	e = clitest.SignedInAsMember(t, srv)
	e.Run("members", "promote", srv.Seed.Homer.MembershipID).Expect(t, 5, "", "medplum: Forbidden\n")
	e.Run("members", "list").Expect(t, 5, "", "medplum: Forbidden\n")
	if m := mem(t, srv, srv.Seed.Homer.MembershipID); m["admin"] != nil {
		t.Errorf("Homer changed: %v", m)
	}
}

// --project naming a project other than the signed-in one is refused for a
// project admin (the server would act on their own project, or find no
// one). A super admin can search another project's members; the member
// routes refuse them (403, as a real server does: captures 19 and 20).
func TestMembersProjectFlag(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	sd := srv.Seed
	other := sd.SuperAdminProjectID
	refused := "medplum: --project " + other + ": you are signed in to project \"" + sd.ProjectName + "\" (" + sd.ProjectID +
		"), and only a super admin can act on another project\n"
	e.Run("members", "list", "--project", other).Expect(t, 2, "", refused)
	e.Run("members", "promote", sd.Homer.MembershipID, "--project", other).Expect(t, 2, "", refused)
	e.Run("members", "remove", sd.Homer.MembershipID, "--project", other, "--yes").Expect(t, 2, "", refused)
	if m := mem(t, srv, sd.Homer.MembershipID); m["admin"] != nil || srv.Deleted("ProjectMembership", sd.Homer.MembershipID) {
		t.Errorf("Homer changed: %v", m)
	}
	homer := mem(t, srv, sd.Homer.MembershipID)
	sa := clitest.New(t)
	sa.Set("MEDPLUM_BASE_URL", srv.URL).Set("MEDPLUM_CLIENT_ID", sd.SuperAdminClient.ID).Set("MEDPLUM_CLIENT_SECRET", sd.SuperAdminClient.Secret)
	sa.Run("members", "list", "--type", "Patient", "--project", sd.ProjectID).Expect(t, 0, listHeader+rows(homer), "")
	sa.Run("members", "get", sd.Homer.MembershipID, "--project", sd.ProjectID).Expect(t, 5, "", "medplum: Forbidden\n")
}

// A member can be named by their name as members list shows it (the
// profile's display), in any case, when no other member has it.
func TestSelectByName(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	sd := srv.Seed
	homer := mem(t, srv, sd.Homer.MembershipID)

	srv.ResetRequests()
	e.Run("members", "get", "homer  SIMPSON").Expect(t, 0, listHeader+row(homer), "")
	byName := []string{me()}
	for _, typ := range []string{"Patient", "Practitioner", "RelatedPerson", "Bot", "ClientApplication"} {
		byName = append(byName, "GET /fhir/R4/"+typ+"?"+url.Values{"_count": {"20"}, "name": {"homer SIMPSON"}}.Encode())
	}
	clitest.ExpectPaths(t, srv, append(byName, search(srv, url.Values{"_count": {"20"}, "profile": {sd.Homer.Profile}}),
		"GET "+adminRoute(srv, sd.Homer.MembershipID))...)
	e.Run("members", "get", "Sandbox Bot", "--no-header", "--columns", "id").Expect(t, 0, sd.Bot.MembershipID+"\n", "")
	e.Run("members", "get", "sandbox project admin client", "--no-header", "--columns", "id").Expect(t, 0, sd.Client.MembershipID+"\n", "")

	// One word: a membership id first, then a name.
	app := srv.Create(sd.ProjectID, client.Resource{"resourceType": "ClientApplication", "name": "Reporter"})
	ref := map[string]any{"reference": "ClientApplication/" + app.ID(), "display": "Reporter"}
	rep := srv.Create(sd.ProjectID, client.Resource{"resourceType": "ProjectMembership", "project": map[string]any{"reference": "Project/" + sd.ProjectID},
		"user": ref, "profile": ref})
	srv.ResetRequests()
	e.Run("members", "get", "reporter", "--no-header", "--columns", "id").Expect(t, 0, rep.ID()+"\n", "")
	if p := clitest.Paths(srv); len(p) != 9 || p[1] != "GET "+adminRoute(srv, "reporter") {
		t.Errorf("requests: %v", p)
	}

	// Part of a name: nobody, and the members whose names are like it.
	e.Run("members", "get", "Homer").Expect(t, 2, "", "medplum: no member of project "+sd.ProjectID+" is Homer; members with a name like it:\n"+
		"  "+sd.Homer.MembershipID+"  Homer Simpson (Patient, homer@example.com)\n")
	e.Run("members", "get", "Ned Flanders").Expect(t, 2, "", "medplum: no member of project "+sd.ProjectID+" is Ned Flanders\n")

	// Two members with one name: listed, nothing changed (exit 2).
	e.Run("invite", "Alice", "Smith", "alice@example.com", "-o", "csv", "--no-header", "--columns", "id")
	e.Run("invite", "Alice", "Smith", "alice.smith@example.com", "--role", "Patient", "-o", "csv", "--no-header", "--columns", "id")
	var alice []client.Resource
	for _, m := range srv.Memberships(sd.ProjectID) {
		if m.Display("profile") == "Alice Smith" {
			alice = append(alice, m)
		}
	}
	if len(alice) != 2 {
		t.Fatalf("%d Alices", len(alice))
	}
	srv.ResetRequests()
	e.Run("members", "promote", "Alice Smith").Expect(t, 2, "", "medplum: Alice Smith matches 2 members of project "+sd.ProjectID+"; name one by its membership id:\n"+
		"  "+alice[0].ID()+"  Alice Smith (Practitioner, alice@example.com)\n"+
		"  "+alice[1].ID()+"  Alice Smith (Patient, alice.smith@example.com)\n")
	if n := len(srv.RequestsTo("POST", "/admin/projects/*/members/*")); n != 0 {
		t.Errorf("%d updates sent", n)
	}
}

// On a terminal of 80 to 120 columns members list shows the essential
// columns as a table (name, e-mail, type, admin, active); -o wide shows
// every column, piped output and CSV keep them all.
func TestListCompactOnATerminal(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	compact := "NAME                          EMAIL              TYPE               ADMIN  ACTIVE\n" +
		"Medplum Admin                 admin@example.com  Practitioner       true   true\n" +
		"Sandbox Project Admin Client                     ClientApplication  true   true\n" +
		"Homer Simpson                 homer@example.com  Patient            false  true\n" +
		"Sandbox Bot                                      Bot                false  true\n"
	for _, width := range []string{"100", "120"} {
		e.Set("MEDPLUM_FORCE_TTY", width)
		e.Run("members", "list").Expect(t, 0, compact, "")
	}
	// At 80 the free text gives way; the e-mail addresses stay whole.
	e.Set("MEDPLUM_FORCE_TTY", "80")
	e.Run("members", "list").Expect(t, 0,
		"NAME                         EMAIL              TYPE               ADMIN  ACTIVE\n"+
			"Medplum Admin                admin@example.com  Practitioner       true   true\n"+
			"Sandbox Project Admin Clie…                     ClientApplication  true   true\n"+
			"Homer Simpson                homer@example.com  Patient            false  true\n"+
			"Sandbox Bot                                     Bot                false  true\n", "")
	// -o wide: every column, on a terminal too.
	homer := mem(t, srv, srv.Seed.Homer.MembershipID)
	e.Set("MEDPLUM_FORCE_TTY", "160")
	e.Run("members", "list", "--type", "Patient", "-o", "wide").Expect(t, 0,
		"ID                                    NAME           PROFILE TYPE  USER               ADMIN  ACCESS POLICY  ACTIVE\n"+
			homer.ID()+"  Homer Simpson  Patient       homer@example.com  false                 true\n", "")
	// Piped and CSV: every column, as before.
	e.Set("MEDPLUM_FORCE_TTY", "")
	e.Run("members", "list", "--type", "Patient", "-o", "wide").Expect(t, 0, listHeader+row(homer), "")
	e.Run("members", "list", "--type", "Patient").Expect(t, 0, listHeader+row(homer), "")
	e.Run("members", "list", "--type", "Patient", "-o", "csv", "--columns", "email,type").Expect(t, 0, "email,type\nhomer@example.com,Patient\n", "")
}

// A list that fails half-way (here the second page of 1,000) prints the
// members it read before the error, in every format that prints as it
// goes, instead of leaving them in a buffer: exactly the first page of
// what the whole list prints (NDJSON and CSV as its first lines; JSON as
// its first 1,000 elements, the array left open so that the partial list
// is not valid JSON, on purpose).
func TestListAllKeepsWhatItReadWhenAPageFails(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithMembers(1000))
	e := clitest.SignedIn(t, srv)
	firstLines := func(s string, n int) string {
		lines := strings.SplitAfter(s, "\n")
		if len(lines) < n {
			t.Fatalf("%d lines, want at least %d", len(lines), n)
		}
		return strings.Join(lines[:n], "")
	}
	for _, format := range []string{"ndjson", "json", "csv"} {
		whole := e.Run("members", "list", "--all", "-o", format).ExpectCode(t, 0, "")
		srv.Inject(medplumtest.Fault{Method: "GET", Path: "/fhir/R4/ProjectMembership", Skip: 1, Status: 500})
		r := e.Run("members", "list", "--all", "-o", format)
		if r.Code != 1 || r.Stderr != "medplum: the server answered 500: Internal Server Error\n" {
			t.Errorf("-o %s: exit %d, stderr:\n%s", format, r.Code, r.Stderr)
		}
		switch format {
		case "ndjson":
			if want := firstLines(whole, 1000); r.Stdout != want {
				t.Errorf("-o ndjson: %d lines, not the whole list's first 1000", strings.Count(r.Stdout, "\n"))
			}
		case "csv":
			if want := firstLines(whole, 1001); r.Stdout != want { // and the header
				t.Errorf("-o csv: %d lines, not the whole list's first 1001", strings.Count(r.Stdout, "\n"))
			}
		case "json":
			var got, all []json.RawMessage
			if json.Valid([]byte(r.Stdout)) || !strings.HasPrefix(whole, r.Stdout) {
				t.Fatalf("-o json: not the whole list's beginning, or valid JSON:\n%s", r.Stdout[max(0, len(r.Stdout)-200):])
			}
			if err := json.Unmarshal([]byte(r.Stdout+"\n]"), &got); err != nil {
				t.Fatalf("-o json, its array closed: %v\n%s", err, r.Stdout[max(0, len(r.Stdout)-200):])
			}
			if err := json.Unmarshal([]byte(whole), &all); err != nil || len(all) != 1004 {
				t.Fatalf("-o json of the whole list: %d members, %v", len(all), err)
			}
			if len(got) != 1000 {
				t.Fatalf("-o json: %d members, want 1000", len(got))
			}
			for i := range got {
				if !bytes.Equal(got[i], all[i]) {
					t.Fatalf("-o json: member %d is\n%s\nwant\n%s", i, got[i], all[i])
				}
			}
		}
	}
}

// The --jq and --columns examples of members list --help fit what it
// prints (the generic ones, '.entry[].resource.id' and
// id,display,meta.versionId, fail on its array and columns).
func TestListOutputFlagExamplesWork(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	help := e.Run("members", "list", "--help").ExpectCode(t, 0, "")
	for _, want := range []string{"(e.g. '.[].id')", "(e.g. name,email,admin)"} {
		if !strings.Contains(help, want) {
			t.Errorf("members list --help lacks %s:\n%s", want, help)
		}
	}
	e.Run("members", "list", "--type", "Patient", "--jq", ".[].id").Expect(t, 0, srv.Seed.Homer.MembershipID+"\n", "")
	e.Run("members", "list", "--type", "Patient", "-o", "csv", "--columns", "name,email,admin").
		Expect(t, 0, "name,email,admin\nHomer Simpson,homer@example.com,false\n", "")
}
