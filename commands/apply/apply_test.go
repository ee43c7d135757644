package apply_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/apply"
	"github.com/medplumcli/medplum/commands/clitest"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/internal/provtest"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/membership"
)

func TestMain(m *testing.M) { clitest.Main(m) }

const exampleFile = "../../testdata/apply/project.yaml"

// newAcme is a server whose project is "Acme Clinic", the example's.
func newAcme(t *testing.T, opts ...medplumtest.Option) (*medplumtest.Server, *clitest.Env) {
	t.Helper()
	srv := medplumtest.NewServer(t, append([]medplumtest.Option{medplumtest.WithProjectName("Acme Clinic")}, opts...)...)
	return srv, provtest.Admin(t, srv)
}

func writeFile(t *testing.T, e *clitest.Env, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.Home, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func example(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// named returns the one resource of a type named name in the project.
func named(t *testing.T, srv *medplumtest.Server, typ, name string) client.Resource {
	t.Helper()
	var found []client.Resource
	for _, r := range srv.Resources(typ, srv.Seed.ProjectID) {
		if r["name"] == name {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s named %q", len(found), typ, name)
	}
	return found[0]
}

func membershipOfUser(srv *medplumtest.Server, userRef string) client.Resource {
	for _, m := range srv.Memberships(srv.Seed.ProjectID) {
		if m.Ref("user") == userRef {
			return m
		}
	}
	return nil
}

func byExternalID(srv *medplumtest.Server, id string) client.Resource {
	for _, m := range srv.Memberships(srv.Seed.ProjectID) {
		if m["externalId"] == id {
			return m
		}
	}
	return nil
}

func compact(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExampleFileIsTheHelpTopic(t *testing.T) {
	if example(t) != apply.Example {
		t.Error("testdata/apply/project.yaml and commands/apply/example.yaml differ: keep them equal")
	}
	e := clitest.New(t)
	e.Run("help", "apply-file").Expect(t, 0, apply.Example, "")
}

// TestApplyFromEmptyThenAgain applies the commented example to a fresh
// project, checks the plan, the progress and what the server holds, and
// applies it again: no change, nothing sent but reads.
func TestApplyFromEmptyThenAgain(t *testing.T) {
	srv, e := newAcme(t)
	pid := srv.Seed.ProjectID
	writeFile(t, e, "project.yaml", example(t))

	plan := "Plan for project \"Acme Clinic\" (" + pid + "):\n" +
		"  create        setting mfaRequired = true\n" +
		"  create        setting allowedMfaMethods = \"totp,email\"\n" +
		"  create        access policy \"Clinician\"\n" +
		"  create        access policy \"Front desk\"\n" +
		"  create        client \"CI deployer\" (admin)\n" +
		"  create        client \"Reporting\" (access policy \"Clinician\")\n" +
		"  keep          client \"Acme Clinic Admin Client\" (kept: apply is signed in as this client)\n" +
		"  create        member alice@example.com (Practitioner, admin)\n" +
		"  create        member bob@example.com (Practitioner, access policy \"Clinician\")\n" +
		"  create        member carol@example.com (Practitioner, access \"Front desk\"?provider_organization=Organization/west-clinic, \"Front desk\"?provider_organization=Organization/east-clinic)\n" +
		"  create        member pt-1001 (Patient)\n" +
		"  keep          member admin@example.com (kept: the project's owner)\n" +
		"  would-remove  member homer@example.com (not in the file; --prune removes it)\n" +
		"  create        bot \"appointment-reminders\" (access policy \"Front desk\")\n" +
		"  would-remove  bot \"Sandbox Bot\" (not in the file; --prune removes it)\n" +
		"Plan: 11 to create, 0 to update, 0 to remove, 0 unchanged. 2 objects not in the file are kept (--prune removes them). 2 objects not in the file must stay.\n"

	srv.ResetRequests()
	e.Run("apply", "-f", "project.yaml", "--dry-run").Expect(t, 6, plan, "medplum: dry run: changes are pending; nothing was changed\n")
	provtest.ExpectWrites(t, srv)

	r := e.Run("apply", "-f", "project.yaml", "--yes")
	clinician, desk := named(t, srv, "AccessPolicy", "Clinician"), named(t, srv, "AccessPolicy", "Front desk")
	ci, rep := named(t, srv, "ClientApplication", "CI deployer"), named(t, srv, "ClientApplication", "Reporting")
	alice, bob := srv.MembershipByEmail(pid, "alice@example.com"), srv.MembershipByEmail(pid, "bob@example.com")
	carol, dan := srv.MembershipByEmail(pid, "carol@example.com"), byExternalID(srv, "pt-1001")
	if alice == nil || bob == nil || carol == nil || dan == nil {
		t.Fatalf("members missing: %v %v %v %v", alice, bob, carol, dan)
	}
	reminders := named(t, srv, "Bot", "appointment-reminders")
	r.Expect(t, 0, plan+"Applied 11 changes to project \"Acme Clinic\".\n",
		"wrote the project's settings (2 changes)\n"+
			"created access policy \"Clinician\" (AccessPolicy/"+clinician.ID()+")\n"+
			"created access policy \"Front desk\" (AccessPolicy/"+desk.ID()+")\n"+
			"created client \"CI deployer\" (ClientApplication/"+ci.ID()+")\n"+
			"created client \"Reporting\" (ClientApplication/"+rep.ID()+")\n"+
			"invited member alice@example.com (ProjectMembership/"+alice.ID()+")\n"+
			"invited member bob@example.com (ProjectMembership/"+bob.ID()+")\n"+
			"invited member carol@example.com (ProjectMembership/"+carol.ID()+")\n"+
			"invited member pt-1001 (ProjectMembership/"+dan.ID()+")\n"+
			"created bot \"appointment-reminders\" (Bot/"+reminders.ID()+")\n")
	if m := membershipOfUser(srv, "Bot/"+reminders.ID()); m == nil || m.Ref("accessPolicy") != "AccessPolicy/"+desk.ID() || reminders["description"] != "Sends appointment reminders" {
		t.Errorf("appointment-reminders %v, membership %v", reminders, m)
	}
	r.NotContains(t, ci.String("secret"), rep.String("secret"))

	// What the server holds.
	if got := compact(t, srv.Resource("Project", pid)["setting"]); got != `[{"name":"mfaRequired","valueBoolean":true},{"name":"allowedMfaMethods","valueString":"totp,email"}]` {
		t.Errorf("settings %s", got)
	}
	if got := compact(t, clinician["resource"]); got != `[{"resourceType":"Patient"},{"resourceType":"Observation"},{"readonly":true,"resourceType":"Practitioner"}]` {
		t.Errorf("Clinician.resource %s", got)
	}
	if got := compact(t, desk["resource"]); got != `[{"criteria":"Patient?_compartment=%provider_organization","resourceType":"Patient"},{"resourceType":"Appointment"}]` {
		t.Errorf("Front desk.resource %s", got)
	}
	if m := membershipOfUser(srv, "ClientApplication/"+ci.ID()); m == nil || m["admin"] != true || ci["description"] != "Deploys bots from CI" {
		t.Errorf("CI deployer %v, membership %v", ci, m)
	}
	if m := membershipOfUser(srv, "ClientApplication/"+rep.ID()); m == nil || m["admin"] != nil || m.Ref("accessPolicy") != "AccessPolicy/"+clinician.ID() {
		t.Errorf("Reporting's membership %v", m)
	}
	if alice["admin"] != true || membership.ProfileType(alice) != "Practitioner" {
		t.Errorf("alice %v", alice)
	}
	if bob.Ref("accessPolicy") != "AccessPolicy/"+clinician.ID() || bob["admin"] != false {
		t.Errorf("bob %v", bob)
	}
	wantAccess := fmt.Sprintf(`[{"parameter":[{"name":"provider_organization","valueReference":{"reference":"Organization/west-clinic"}}],"policy":{"reference":"AccessPolicy/%[1]s"}},{"parameter":[{"name":"provider_organization","valueReference":{"reference":"Organization/east-clinic"}}],"policy":{"reference":"AccessPolicy/%[1]s"}}]`, desk.ID())
	if got := compact(t, carol["access"]); got != wantAccess {
		t.Errorf("carol's access\n%s\nwant\n%s", got, wantAccess)
	}
	if membership.ProfileType(dan) != "Patient" {
		t.Errorf("dan %v", dan)
	}
	if n := len(srv.SentEmails()); n != 0 {
		t.Errorf("%d e-mails sent", n)
	}

	// Again: nothing to do, and only reads are sent.
	srv.ResetRequests()
	again := "Plan for project \"Acme Clinic\" (" + pid + "):\n" +
		"  unchanged     setting mfaRequired\n" +
		"  unchanged     setting allowedMfaMethods\n" +
		"  unchanged     access policy \"Clinician\"\n" +
		"  unchanged     access policy \"Front desk\"\n" +
		"  unchanged     client \"CI deployer\"\n" +
		"  unchanged     client \"Reporting\"\n" +
		"  keep          client \"Acme Clinic Admin Client\" (kept: apply is signed in as this client)\n" +
		"  unchanged     member alice@example.com\n" +
		"  unchanged     member bob@example.com\n" +
		"  unchanged     member carol@example.com\n" +
		"  unchanged     member pt-1001\n" +
		"  keep          member admin@example.com (kept: the project's owner)\n" +
		"  would-remove  member homer@example.com (not in the file; --prune removes it)\n" +
		"  unchanged     bot \"appointment-reminders\"\n" +
		"  would-remove  bot \"Sandbox Bot\" (not in the file; --prune removes it)\n" +
		"No changes: project \"Acme Clinic\" matches the file. 2 objects not in the file are kept (--prune removes them). 2 objects not in the file must stay.\n"
	e.Run("apply", "-f", "project.yaml", "--yes").Expect(t, 0, again, "")
	e.Run("apply", "-f", "project.yaml", "--dry-run").Expect(t, 0, again, "")
	provtest.ExpectWrites(t, srv)
}

// TestApplyChangedFile: every kind of update, with the exact plan.
func TestApplyChangedFile(t *testing.T) {
	srv, e := newAcme(t)
	pid := srv.Seed.ProjectID
	writeFile(t, e, "project.yaml", example(t))
	if r := e.Run("apply", "-f", "project.yaml", "--yes"); r.Code != 0 {
		t.Fatalf("first apply: %+v", r)
	}

	changed := strings.NewReplacer(
		"allowedMfaMethods: totp,email", "allowedMfaMethods: totp\n  sessionTimeout: 30",
		"      - resourceType: Practitioner\n        readonly: true\n", "      - resourceType: Practitioner\n",
		"    description: Deploys bots from CI\n    admin: true                  # a project admin; left out means false", "    description: Deploys bots and more",
		"    accessPolicy: Clinician      # a policy of this file by name, or AccessPolicy/<id>;", "    accessPolicy: Front desk",
		"    role: Practitioner           # Patient, Practitioner (the default) or RelatedPerson\n    admin: true", "    role: Practitioner",
		"    accessPolicy: Clinician      # one policy, by name or AccessPolicy/<id>", "    admin: true\n    accessPolicy:",
		"          provider_organization: Organization/east-clinic", "          provider_organization: Organization/north-clinic",
		"    active: true ", "    active: false",
	).Replace(example(t)) + "  - email: erin@example.com\n    firstName: Erin\n    lastName: Diaz\n"
	writeFile(t, e, "project.yaml", changed)

	plan := "Plan for project \"Acme Clinic\" (" + pid + "):\n" +
		"  unchanged     setting mfaRequired\n" +
		"  update        setting allowedMfaMethods: \"totp,email\" -> \"totp\"\n" +
		"  create        setting sessionTimeout = 30\n" +
		"  update        access policy \"Clinician\": resource changed\n" +
		"  unchanged     access policy \"Front desk\"\n" +
		"  update        client \"CI deployer\": description \"Deploys bots from CI\" -> \"Deploys bots and more\"; admin true -> false\n" +
		"  update        client \"Reporting\": access policy \"Clinician\" -> \"Front desk\"\n" +
		"  keep          client \"Acme Clinic Admin Client\" (kept: apply is signed in as this client)\n" +
		"  update        member alice@example.com: admin true -> false\n" +
		"  update        member bob@example.com: admin false -> true; access policy \"Clinician\" -> none\n" +
		"  update        member carol@example.com: access \"Front desk\"?provider_organization=Organization/west-clinic, \"Front desk\"?provider_organization=Organization/east-clinic -> \"Front desk\"?provider_organization=Organization/west-clinic, \"Front desk\"?provider_organization=Organization/north-clinic\n" +
		"  update        member pt-1001: active true -> false\n" +
		"  create        member erin@example.com (Practitioner)\n" +
		"  keep          member admin@example.com (kept: the project's owner)\n" +
		"  would-remove  member homer@example.com (not in the file; --prune removes it)\n" +
		"  unchanged     bot \"appointment-reminders\"\n" +
		"  would-remove  bot \"Sandbox Bot\" (not in the file; --prune removes it)\n" +
		"Plan: 2 to create, 8 to update, 0 to remove, 3 unchanged. 2 objects not in the file are kept (--prune removes them). 2 objects not in the file must stay.\n"
	e.Run("apply", "-f", "project.yaml", "--dry-run").Expect(t, 6, plan, "medplum: dry run: changes are pending; nothing was changed\n")
	r := e.Run("apply", "-f", "project.yaml", "--yes")
	if r.Code != 0 || r.Stdout != plan+"Applied 10 changes to project \"Acme Clinic\".\n" {
		t.Fatalf("apply: %+v", r)
	}

	desk := named(t, srv, "AccessPolicy", "Front desk")
	if got := compact(t, srv.Resource("Project", pid)["setting"]); got != `[{"name":"mfaRequired","valueBoolean":true},{"name":"allowedMfaMethods","valueString":"totp"},{"name":"sessionTimeout","valueInteger":30}]` {
		t.Errorf("settings %s", got)
	}
	if got := compact(t, named(t, srv, "AccessPolicy", "Clinician")["resource"]); got != `[{"resourceType":"Patient"},{"resourceType":"Observation"},{"resourceType":"Practitioner"}]` {
		t.Errorf("Clinician.resource %s", got)
	}
	ci := named(t, srv, "ClientApplication", "CI deployer")
	if m := membershipOfUser(srv, "ClientApplication/"+ci.ID()); ci["description"] != "Deploys bots and more" || m["admin"] != false {
		t.Errorf("CI deployer %v, membership %v", ci, m)
	}
	rep := named(t, srv, "ClientApplication", "Reporting")
	if m := membershipOfUser(srv, "ClientApplication/"+rep.ID()); m.Ref("accessPolicy") != "AccessPolicy/"+desk.ID() {
		t.Errorf("Reporting's membership %v", m)
	}
	bob := srv.MembershipByEmail(pid, "bob@example.com")
	if bob["admin"] != true || bob["accessPolicy"] != nil {
		t.Errorf("bob %v", bob)
	}
	if dan := byExternalID(srv, "pt-1001"); dan["active"] != false {
		t.Errorf("dan %v", dan)
	}
	if srv.MembershipByEmail(pid, "erin@example.com") == nil {
		t.Error("erin was not invited")
	}
	e.Run("apply", "-f", "project.yaml", "--dry-run").ExpectCode(t, 0, "")
}

// TestApplyPrune: --prune removes what the file does not list, except what
// must stay; without --prune nothing is removed.
func TestApplyPrune(t *testing.T) {
	srv, e := newAcme(t)
	pid := srv.Seed.ProjectID
	// Things the file will not list: a policy nobody uses, a policy a
	// remaining member uses, a default policy, a client, a setting.
	unused := srv.Create(pid, client.Resource{"resourceType": "AccessPolicy", "name": "Old"})
	used := srv.Create(pid, client.Resource{"resourceType": "AccessPolicy", "name": "Used by Homer"})
	def := srv.Create(pid, client.Resource{"resourceType": "AccessPolicy", "name": "Default"})
	p := srv.Resource("Project", pid)
	p["defaultAccessPolicies"] = []any{map[string]any{"profileType": "Practitioner", "accessPolicy": map[string]any{"reference": "AccessPolicy/" + def.ID()}}}
	p["setting"] = []any{map[string]any{"name": "legacy", "valueString": "x"}}
	srv.Update(p)
	homer := srv.Resource("ProjectMembership", srv.Seed.Homer.MembershipID)
	homer["accessPolicy"] = map[string]any{"reference": "AccessPolicy/" + used.ID()}
	srv.Update(homer)
	if r := e.Run("clients", "create", "old exporter"); r.Code != 0 {
		t.Fatalf("clients create: %+v", r)
	}
	old := named(t, srv, "ClientApplication", "old exporter")

	// Homer stays (he is in the file, his policies unmanaged); Alice is new.
	writeFile(t, e, "project.yaml", `project:
  name: Acme Clinic
settings: {}
accessPolicies: []
clients:
  - name: Acme Clinic Admin Client
    admin: true
members:
  - email: homer@example.com
    firstName: Homer
    lastName: Simpson
    role: Patient
`)
	plan := "Plan for project \"Acme Clinic\" (" + pid + "):\n" +
		"  remove        setting legacy\n" +
		"  unchanged     client \"Acme Clinic Admin Client\"\n" +
		"  remove        client \"old exporter\"\n" +
		"  unchanged     member homer@example.com\n" +
		"  keep          member admin@example.com (kept: the project's owner)\n" +
		"  remove        access policy \"Old\"\n" +
		"  keep          access policy \"Used by Homer\" (kept: still used by 1 membership)\n" +
		"  keep          access policy \"Default\" (kept: a default access policy of the project)\n" +
		"Plan: 0 to create, 0 to update, 3 to remove, 2 unchanged. 3 objects not in the file must stay.\n"
	// Without --prune the plan says the same of what must stay: only what
	// --prune would remove is "would-remove".
	e.Run("apply", "-f", "project.yaml", "--dry-run").Expect(t, 0, "Plan for project \"Acme Clinic\" ("+pid+"):\n"+
		"  would-remove  setting legacy (not in the file; --prune removes it)\n"+
		"  unchanged     client \"Acme Clinic Admin Client\"\n"+
		"  would-remove  client \"old exporter\" (not in the file; --prune removes it)\n"+
		"  unchanged     member homer@example.com\n"+
		"  keep          member admin@example.com (kept: the project's owner)\n"+
		"  would-remove  access policy \"Old\" (not in the file; --prune removes it)\n"+
		"  keep          access policy \"Used by Homer\" (kept: still used by 1 membership)\n"+
		"  keep          access policy \"Default\" (kept: a default access policy of the project)\n"+
		"No changes: project \"Acme Clinic\" matches the file. 3 objects not in the file are kept (--prune removes them). 3 objects not in the file must stay.\n", "")
	oldMem := membershipOfUser(srv, "ClientApplication/"+old.ID())
	srv.ResetRequests()
	e.Run("apply", "-f", "project.yaml", "--prune", "--dry-run").Expect(t, 6, plan, "medplum: dry run: changes are pending; nothing was changed\n")
	provtest.ExpectWrites(t, srv)
	e.Run("apply", "-f", "project.yaml", "--prune", "--yes").Expect(t, 0, plan+"Applied 3 changes to project \"Acme Clinic\".\n",
		"wrote the project's settings (1 change)\n"+
			"removed client \"old exporter\" (ClientApplication/"+old.ID()+")\n"+
			"removed access policy \"Old\" (AccessPolicy/"+unused.ID()+")\n")
	provtest.ExpectWrites(t, srv,
		"PATCH /fhir/R4/Project/"+pid,
		"DELETE /fhir/R4/ProjectMembership/"+oldMem.ID(),
		"DELETE /fhir/R4/ClientApplication/"+old.ID(),
		"DELETE /fhir/R4/AccessPolicy/"+unused.ID())
	if !srv.Deleted("AccessPolicy", unused.ID()) || srv.Resource("AccessPolicy", used.ID()) == nil || srv.Resource("AccessPolicy", def.ID()) == nil {
		t.Error("policies")
	}
	if got, ok := srv.Resource("Project", pid)["setting"]; ok {
		t.Errorf("settings %v, want none", got)
	}

	// Dropping Homer from the file removes him (the admin route, which also
	// removes his project-scoped user); the policy he used goes with him.
	writeFile(t, e, "project.yaml", "project:\n  name: Acme Clinic\naccessPolicies: []\nclients: []\nmembers: []\n")
	plan = "Plan for project \"Acme Clinic\" (" + pid + "):\n" +
		"  keep          client \"Acme Clinic Admin Client\" (kept: apply is signed in as this client)\n" +
		"  keep          member admin@example.com (kept: the project's owner)\n" +
		"  remove        member homer@example.com\n" +
		"  remove        access policy \"Used by Homer\"\n" +
		"  keep          access policy \"Default\" (kept: a default access policy of the project)\n" +
		"Plan: 0 to create, 0 to update, 2 to remove, 0 unchanged. 3 objects not in the file must stay.\n"
	srv.ResetRequests()
	e.Run("apply", "-f", "project.yaml", "--prune", "--yes").Expect(t, 0, plan+"Applied 2 changes to project \"Acme Clinic\".\n",
		"removed member homer@example.com (ProjectMembership/"+srv.Seed.Homer.MembershipID+")\n"+
			"removed access policy \"Used by Homer\" (AccessPolicy/"+used.ID()+")\n")
	provtest.ExpectWrites(t, srv,
		"DELETE /admin/projects/"+pid+"/members/"+srv.Seed.Homer.MembershipID,
		"DELETE /fhir/R4/AccessPolicy/"+used.ID())
	if srv.Resource("User", provtest.ID(srv.Seed.Homer.User)) == nil {
		t.Error("Homer's project-scoped user was deleted: Medplum 5.0.10 removes only the membership")
	}
	// Without --prune the same file removes nothing.
	e.Run("clients", "create", "another")
	e.Run("apply", "-f", "project.yaml", "--yes").ExpectCode(t, 0, "")
	named(t, srv, "ClientApplication", "another")
}

// TestApplyDryRunAndConfirmation: the exit codes of --dry-run, and no
// change without --yes when there is no terminal to ask on.
func TestApplyDryRunAndConfirmation(t *testing.T) {
	srv, e := newAcme(t)
	writeFile(t, e, "p.yaml", "project:\n  name: Acme Clinic\nsettings:\n  mfaRequired: true\n")
	srv.ResetRequests()
	r := e.Run("apply", "-f", "p.yaml")
	if r.Code != 2 || r.Stderr != "medplum: changes are pending: pass --yes to apply them (nothing was changed)\n" ||
		!strings.HasPrefix(r.Stdout, "Plan for project") {
		t.Errorf("without --yes: %+v", r)
	}
	e.Run("apply", "-f", "p.yaml", "--dry-run", "-o", "json").ExpectCode(t, 6, "medplum: dry run: changes are pending; nothing was changed\n")
	provtest.ExpectWrites(t, srv)

	e.Run("apply", "-f", "p.yaml", "-y").ExpectCode(t, 0, "wrote the project's settings (1 change)\n")
	out := e.Run("apply", "-f", "p.yaml", "--dry-run", "-o", "json").ExpectCode(t, 0, "")
	var j struct {
		Pending bool
		Summary map[string]int
		Changes []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil || j.Pending || j.Summary["unchanged"] != 1 || len(j.Changes) != 1 || j.Changes[0]["name"] != "mfaRequired" {
		t.Errorf("-o json: %s (%v)", out, err)
	}
	// The plan through commands/output: -o yaml, --jq, --template.
	clitest.ExpectDocumentFlags(t, e, srv, "apply", "-f", "p.yaml", "--dry-run")
	if help := e.Run("apply", "--help").ExpectCode(t, 0, ""); !strings.Contains(help, "(e.g. '.pending')") {
		t.Errorf("apply --help has another --jq example:\n%s", help)
	}
	e.Run("apply", "-f", "p.yaml", "--dry-run", "--jq", ".pending").Expect(t, 0, "false\n", "")
	e.Run("apply", "-f", "p.yaml", "--dry-run", "--jq", ".changes[] | \"\\(.action) \\(.name)\"").Expect(t, 0, "unchanged mfaRequired\n", "")
	writeFile(t, e, "p.yaml", "project:\n  name: Acme Clinic\nsettings:\n  mfaRequired: false\n")
	e.Run("apply", "-f", "p.yaml", "--dry-run", "--template", "{{range .changes}}{{.action}} {{.name}}{{end}}").
		Expect(t, 6, "update mfaRequired", "medplum: dry run: changes are pending; nothing was changed\n")
	e.Run("apply").Expect(t, 2, "", "medplum: apply needs -f <file> (a YAML or JSON project file, - for stdin)\nRun 'medplum apply --help' for usage.\n")
}

// TestApplyFromStdinAndJSON: the same description as YAML on stdin and as
// a JSON file.
func TestApplyFromStdinAndJSON(t *testing.T) {
	srv, e := newAcme(t)
	e.RunStdin("project: {name: Acme Clinic}\nsettings: {a: 1}\n", "apply", "-f", "-", "--yes").ExpectCode(t, 0, "wrote the project's settings (1 change)\n")
	writeFile(t, e, "p.json", `{"project": {"name": "Acme Clinic"}, "settings": {"a": 1, "b": "two", "c": 1.5}}`)
	e.Run("apply", "-f", "p.json", "--yes").ExpectCode(t, 0, "wrote the project's settings (2 changes)\n")
	if got := compact(t, srv.Resource("Project", srv.Seed.ProjectID)["setting"]); got != `[{"name":"a","valueInteger":1},{"name":"b","valueString":"two"},{"name":"c","valueDecimal":1.5}]` {
		t.Errorf("settings %s", got)
	}
}

// TestApplyMembersCSV: members from a CSV in the invite --csv format,
// naming the file's policies.
func TestApplyMembersCSV(t *testing.T) {
	srv, e := newAcme(t)
	pid := srv.Seed.ProjectID
	csv, err := os.ReadFile("../../testdata/apply/members.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(e.Home, "acme"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, e, "acme/members.csv", string(csv))
	file := strings.Replace(example(t), "members:\n  - email: alice", "members: members.csv\nunused:\n  - email: alice", 1)
	file = file[:strings.Index(file, "unused:")]
	writeFile(t, e, "acme/project.yaml", file)

	r := e.Run("apply", "-f", "acme/project.yaml", "--yes")
	for _, want := range []string{
		"  create        member alice@example.com (Practitioner, admin)\n",
		"  create        member bob@example.com (Practitioner, access policy \"Clinician\")\n",
		"  create        member carol@example.com (Practitioner, access \"Front desk\"?provider_organization=Organization/west-clinic)\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.Stdout)
		}
	}
	if r.Code != 0 {
		t.Fatalf("%+v", r)
	}
	clinician, desk := named(t, srv, "AccessPolicy", "Clinician"), named(t, srv, "AccessPolicy", "Front desk")
	if m := srv.MembershipByEmail(pid, "bob@example.com"); m.Ref("accessPolicy") != "AccessPolicy/"+clinician.ID() {
		t.Errorf("bob %v", m)
	}
	carol := srv.MembershipByEmail(pid, "carol@example.com")
	if got := compact(t, carol["access"]); got != `[{"parameter":[{"name":"provider_organization","valueReference":{"reference":"Organization/west-clinic"}}],"policy":{"reference":"AccessPolicy/`+desk.ID()+`"}}]` {
		t.Errorf("carol's access %s", got)
	}
	e.Run("apply", "-f", "acme/project.yaml", "--dry-run").ExpectCode(t, 0, "")
}

// TestApplyRefusesConflicts: a file for another project, a role change,
// cutting apply's own access, ambiguous names: exit 2, nothing written.
func TestApplyRefusesConflicts(t *testing.T) {
	srv, e := newAcme(t)
	pid := srv.Seed.ProjectID
	cases := []struct{ file, stderr string }{
		{"project:\n  name: Staging\nsettings: {}\n",
			"medplum: p.yaml is for project \"Staging\", but you are signed in to project \"Acme Clinic\" (" + pid + "); nothing was changed\n"},
		{"project:\n  name: Acme Clinic\n  id: 0000\n",
			"medplum: p.yaml is for project id 0000, but you are signed in to project \"Acme Clinic\" (" + pid + "); nothing was changed\n"},
		{"project:\n  name: Acme Clinic\nmembers:\n  - email: homer@example.com\n    firstName: Homer\n    lastName: Simpson\n",
			"medplum: members[0]: member homer@example.com is a Patient in the project but a Practitioner in the file; apply cannot change a member's role (remove the member first); nothing was changed\n"},
		{"project:\n  name: Acme Clinic\nmembers:\n  - {email: homer@example.com, firstName: H, lastName: S, role: Patient}\n  - {externalId: hs-1, firstName: H, lastName: S, role: Patient}\n",
			"medplum: members[1]: member hs-1 is the same membership (ProjectMembership/" + srv.Seed.Homer.MembershipID + ") as members[0]; list it once; nothing was changed\n"},
		{"project:\n  name: Acme Clinic\nclients:\n  - name: Acme Clinic Admin Client\n",
			"medplum: clients[0]: client \"Acme Clinic Admin Client\" is the client apply is signed in as: making it a non-admin would cut apply off; nothing was changed\n"},
	}
	homer := srv.Resource("ProjectMembership", srv.Seed.Homer.MembershipID)
	homer["externalId"] = "hs-1"
	srv.Update(homer)
	srv.ResetRequests()
	for _, c := range cases {
		writeFile(t, e, "p.yaml", c.file)
		r := e.Run("apply", "-f", "p.yaml", "--yes")
		if r.Code != 2 || r.Stdout != "" || r.Stderr != c.stderr {
			t.Errorf("%s\ngot  %d %q %q\nwant 2 %q", c.file, r.Code, r.Stdout, r.Stderr, c.stderr)
		}
	}
	provtest.ExpectWrites(t, srv)

	a := srv.Create(pid, client.Resource{"resourceType": "AccessPolicy", "name": "Twin"})
	b := srv.Create(pid, client.Resource{"resourceType": "AccessPolicy", "name": "Twin"})
	writeFile(t, e, "p.yaml", "project:\n  name: Acme Clinic\naccessPolicies:\n  - name: Twin\n")
	e.Run("apply", "-f", "p.yaml", "--yes").Expect(t, 2, "", "medplum: access policy \"Twin\": 2 policies of the project have this name ("+a.ID()+", "+b.ID()+"); rename or delete all but one; nothing was changed\n")
	provtest.ExpectWrites(t, srv)
}

// TestApplyRefusesInvalidFiles: every problem listed with its place;
// nothing at all is sent (not even a sign-in).
func TestApplyRefusesInvalidFiles(t *testing.T) {
	srv, e := newAcme(t)
	cases := []struct{ name, file, stderr string }{
		{"unknown keys", `project:
  name: Acme Clinic
  owner: me
setings:
  a: 1
clients:
  - name: CI
    admn: true
members:
  - email: a@example.com
    firstName: A
    lastName: B
    acess: []
`, `medplum: p.yaml is not valid (4 problems); nothing was sent:
  p.yaml:3: project.owner: unknown key (known keys: name, id)
  p.yaml:4: setings: unknown key (known keys: version, project, settings, accessPolicies, clients, members, bots)
  p.yaml:8: clients[0].admn: unknown key (known keys: name, description, admin, accessPolicy)
  p.yaml:13: members[0].acess: unknown key (known keys: email, externalId, firstName, lastName, role, admin, accessPolicy, access, active, scope, patient, mfaRequired, sendEmail)
`},
		{"bad references", `project: {name: Acme Clinic}
accessPolicies:
  - name: Clinician
clients:
  - name: CI
    accessPolicy: Clinicain
members:
  - email: a@example.com
    firstName: A
    lastName: B
    access:
      - policy: Nurse
        parameters: {org: Organization/1}
  - email: b@example.com
    firstName: B
    lastName: C
    accessPolicy: AccessPolicy/not an id
`, `medplum: p.yaml is not valid (3 problems); nothing was sent:
  p.yaml:6: clients[0].accessPolicy: no access policy named "Clinicain" in accessPolicies (name one of the file's policies, or give AccessPolicy/<id>)
  p.yaml:12: members[0].access[0].policy: no access policy named "Nurse" in accessPolicies (name one of the file's policies, or give AccessPolicy/<id>)
  p.yaml:17: members[1].accessPolicy: no access policy named "AccessPolicy/not an id" in accessPolicies (name one of the file's policies, or give AccessPolicy/<id>)
`},
		{"duplicate names", `project: {name: Acme Clinic}
settings:
  a: 1
  a: 2
accessPolicies:
  - name: P
  - name: P
clients:
  - name: CI
  - name: CI
members:
  - {email: A@example.com, firstName: A, lastName: B}
  - {email: a@example.com, firstName: A, lastName: B}
  - {externalId: x1, firstName: X, lastName: Y}
  - {externalId: x1, firstName: X, lastName: Y}
`, `medplum: p.yaml is not valid (5 problems); nothing was sent:
  p.yaml:4: settings.a: repeated key (first on line 3)
  p.yaml:7: accessPolicies[1].name: duplicate policy name "P" (also accessPolicies[0])
  p.yaml:10: clients[1].name: duplicate client name "CI" (also clients[0])
  p.yaml:13: members[1]: duplicate member a@example.com (also members[0])
  p.yaml:15: members[3]: duplicate member x1 (also members[2])
`},
		{"wrong types and missing values", `version: 2
project: {}
settings:
  a: [1]
  b:
clients:
  - description: no name
  - name: CI
    admin: yes
members:
  - email: not-an-email
    role: Doctor
  - firstName: A
    lastName: B
    role: RelatedPerson
`, `medplum: p.yaml is not valid (12 problems); nothing was sent:
  p.yaml:1: version: unsupported version (2) (this medplum reads version 1)
  p.yaml:2: project.name: is required
  p.yaml:4: settings.a: a setting is text, true/false or a number, not a list
  p.yaml:5: settings.b: a setting is text, true/false or a number, not empty
  p.yaml:7: clients[0].name: is required: clients are matched by name
  p.yaml:9: clients[1].admin: admin must be true or false, not the text "yes"
  p.yaml:11: members[0].firstName: is required
  p.yaml:11: members[0].lastName: is required
  p.yaml:11: members[0].email: not a valid e-mail address: "not-an-email"
  p.yaml:12: members[0].role: unknown role "Doctor" (want Patient, Practitioner or RelatedPerson)
  p.yaml:13: members[1].email: is required (or an externalId)
  p.yaml:13: members[1].patient: is required for a RelatedPerson (the Patient/<id> they are related to)
`},
		{"YAML syntax", "project:\n\tname: Acme\n", "medplum: p.yaml is not valid YAML: line 2: found character that cannot start any token\n"},
		{"not a mapping", "- a\n- b\n", "medplum: p.yaml is not valid (1 problem); nothing was sent:\n  p.yaml:1: the file must be a mapping (key: value lines), not a list\n"},
		{"empty", "", "medplum: p.yaml is empty\n"},
		{"bad CSV", "project: {name: Acme Clinic}\nmembers: users.csv\n", `medplum: p.yaml is not valid (3 problems); nothing was sent:
  users.csv:3: email: not a valid e-mail address: "bob"
  users.csv:4: role: unknown role "Nurse" (want Patient, Practitioner or RelatedPerson)
  users.csv:5: email: duplicate: a@example.com is already on line 2
`},
		{"missing CSV", "project: {name: Acme Clinic}\nmembers: nowhere.csv\n", ""},
	}
	writeFile(t, e, "users.csv", "email,firstName,lastName,role\na@example.com,A,B,\nbob,B,C,\nc@example.com,C,D,Nurse\nA@example.com,A,B,\n")
	srv.ResetRequests()
	for _, c := range cases {
		writeFile(t, e, "p.yaml", c.file)
		if c.name == "missing CSV" {
			c.stderr = "medplum: p.yaml is not valid (1 problem); nothing was sent:\n  p.yaml:2: members: cannot read the members CSV: open nowhere.csv: no such file or directory\n"
		}
		// --dry-run, the CI drift check, says so with exit 2 as well.
		for _, mode := range []string{"--yes", "--dry-run"} {
			r := e.Run("apply", "-f", "p.yaml", mode)
			if r.Code != 2 || r.Stdout != "" || r.Stderr != c.stderr {
				t.Errorf("%s %s:\n%s", c.name, mode, diffLines(r.Stderr, c.stderr))
				if r.Code != 2 {
					t.Errorf("%s %s: exit %d", c.name, mode, r.Code)
				}
			}
		}
	}
	// Same with a JSON syntax error: the position is given.
	writeFile(t, e, "p.json", "{\"project\": {\"name\": \"Acme\"},\n \"settings\": {\"a\": 1,}}\n")
	e.Run("apply", "-f", "p.json").Expect(t, 2, "", "medplum: p.json is not valid JSON: line 2, column 22: invalid character '}' looking for beginning of object key string\n")
	clitest.ExpectNothingSent(t, srv)
}

func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var b strings.Builder
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		mark := " "
		if gl != wl {
			mark = "!"
		}
		fmt.Fprintf(&b, "%s got  %s\n%s want %s\n", mark, gl, mark, wl)
	}
	return b.String()
}

// expectConverged checks the server holds exactly what the example
// describes (one of each object), and that another apply changes nothing.
func expectConverged(t *testing.T, srv *medplumtest.Server, e *clitest.Env) {
	t.Helper()
	pid := srv.Seed.ProjectID
	for _, typ := range []string{"AccessPolicy", "ClientApplication"} {
		for _, n := range map[string][]string{"AccessPolicy": {"Clinician", "Front desk"}, "ClientApplication": {"CI deployer", "Reporting"}}[typ] {
			named(t, srv, typ, n) // fails unless exactly one
		}
	}
	count := map[string]int{}
	for _, m := range srv.Memberships(pid) {
		count[strings.ToLower(m.Display("user"))]++
		if m["externalId"] == "pt-1001" {
			count["pt-1001"]++
		}
	}
	for _, k := range []string{"alice@example.com", "bob@example.com", "carol@example.com", "pt-1001"} {
		if count[k] != 1 {
			t.Errorf("%s: %d memberships", k, count[k])
		}
	}
	r := e.Run("apply", "-f", "project.yaml", "--dry-run")
	if r.Code != 0 || !strings.Contains(r.Stdout, "No changes: project \"Acme Clinic\" matches the file.") {
		t.Errorf("not converged: %+v", r)
	}
}

// TestApplyStoppedHalfWayConverges: the connection drops after the server
// made the first member (a POST is not repeated), so apply stops not knowing
// it; the next apply finds the member and finishes the rest.
func TestApplyStoppedHalfWayConverges(t *testing.T) {
	srv, e := newAcme(t)
	writeFile(t, e, "project.yaml", example(t))
	srv.Inject(medplumtest.Fault{Method: "POST", Path: "/admin/projects/*/invite", Drop: medplumtest.DropAfterHandling})
	r := e.Run("apply", "-f", "project.yaml", "--yes")
	if r.Code != 1 || !strings.Contains(r.Stderr, "\nmedplum: apply stopped while creating member alice@example.com: POST ") ||
		!strings.HasSuffix(r.Stderr, "\n6 changes made before that; once the cause is fixed, run apply again: it starts from what the server holds now\n") {
		t.Fatalf("first run: %+v", r)
	}
	if srv.MembershipByEmail(srv.Seed.ProjectID, "alice@example.com") == nil || srv.MembershipByEmail(srv.Seed.ProjectID, "bob@example.com") != nil {
		t.Fatal("the drop did not land between alice and bob")
	}
	r = e.Run("apply", "-f", "project.yaml", "--yes")
	for _, want := range []string{"  unchanged     member alice@example.com\n", "  create        member bob@example.com (", "Plan: 4 to create, 0 to update, 0 to remove, 7 unchanged."} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("second plan lacks %q:\n%s", want, r.Stdout)
		}
	}
	if r.Code != 0 {
		t.Fatalf("second run: %+v", r)
	}
	expectConverged(t, srv, e)
}

// TestApplyKilledConverges: a real process killed with SIGKILL in the middle
// of applying, then run again: every object exists exactly once.
func TestApplyKilledConverges(t *testing.T) {
	srv, e := newAcme(t)
	writeFile(t, e, "project.yaml", example(t))
	srv.SetLatency(60 * time.Millisecond)
	p := e.Start("apply", "-f", "project.yaml", "--yes")
	deadline := time.Now().Add(60 * time.Second)
	for len(provtest.Writes(srv)) < 4 {
		if time.Now().After(deadline) {
			t.Fatal("apply never got to its fourth write")
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.Kill()
	srv.SetLatency(0)
	if n := len(srv.Memberships(srv.Seed.ProjectID)); n >= 9 {
		t.Fatalf("the kill came too late: %d memberships", n)
	}
	if r := e.Run("apply", "-f", "project.yaml", "--yes"); r.Code != 0 {
		t.Fatalf("second run: %+v", r)
	}
	expectConverged(t, srv, e)
}

// TestApplyAsksAtATerminal runs the command in process with terminals for
// stdin and stdout: it asks, and only "y" applies.
func TestApplyAsksAtATerminal(t *testing.T) {
	srv, e := newAcme(t)
	writeFile(t, e, "p.yaml", "project:\n  name: Acme Clinic\nsettings:\n  mfaRequired: true\n")
	c, err := client.New(client.Options{BaseURL: srv.URL, Auth: provtest.Bearer(srv.IssueToken(srv.Seed.Client.MembershipID))})
	if err != nil {
		t.Fatal(err)
	}
	run := func(answer string) (string, string, error) {
		ios, in, out, errOut := iostreams.Test()
		ios.SetStdinTTY(true)
		ios.SetStdoutTTY(true)
		in.WriteString(answer)
		f := &cmdutil.Factory{IOStreams: ios, Client: func() (*client.Client, error) { return c, nil }}
		cmd := apply.NewCmdApply(f, nil)
		cmd.SetArgs([]string{"-f", filepath.Join(e.Home, "p.yaml")})
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.ExecuteContext(context.Background())
		return out.String(), errOut.String(), err
	}
	question := "Apply these changes to project \"Acme Clinic\"? [y/N] "
	srv.ResetRequests()
	for _, answer := range []string{"n\n", "\n", "yes please\n"} {
		if _, stderr, err := run(answer); stderr != question+"Apply cancelled: nothing was changed.\n" || err != nil {
			t.Errorf("answer %q: stderr %q, err %v", answer, stderr, err)
		}
	}
	// stdin ends without an answer: also a no.
	if _, stderr, err := run(""); stderr != question+"\nApply cancelled: nothing was changed.\n" || err != nil {
		t.Errorf("no answer: stderr %q, err %v", stderr, err)
	}
	provtest.ExpectWrites(t, srv)
	out, stderr, err := run("y\n")
	if err != nil || stderr != question+"wrote the project's settings (1 change)\n" || !strings.HasSuffix(out, "Applied 1 change to project \"Acme Clinic\".\n") {
		t.Errorf("answer y: %q %q %v", out, stderr, err)
	}
	provtest.ExpectWrites(t, srv, "PATCH /fhir/R4/Project/"+srv.Seed.ProjectID)
}

// TestApplyVerboseShowsNoSecret: the --verbose trace of an apply that
// creates clients shows neither their secrets nor apply's own.
func TestApplyVerboseShowsNoSecret(t *testing.T) {
	srv, e := newAcme(t)
	writeFile(t, e, "p.yaml", "project:\n  name: Acme Clinic\nclients:\n  - name: Acme Clinic Admin Client\n    admin: true\n  - name: CI\n    admin: true\n")
	r := e.Run("apply", "-f", "p.yaml", "--yes", "--verbose")
	if r.Code != 0 || !strings.Contains(r.Stderr, "> POST "+srv.URL+"admin/projects/"+srv.Seed.ProjectID+"/client") {
		t.Fatalf("%+v", r)
	}
	r.NotContains(t, named(t, srv, "ClientApplication", "CI").String("secret"), srv.Seed.Client.Secret)
}

// TestApplyRefusesMissingPolicies: a policy given by id that the server
// does not have, a misspelt policy name in a members CSV (read as an id),
// or another project's policy (which a super admin can read) is refused
// with its place before anything is written, by --dry-run too (exit 2),
// rather than failing half-way through the apply.
func TestApplyRefusesMissingPolicies(t *testing.T) {
	srv, e := newAcme(t)
	pid := srv.Seed.ProjectID
	known := srv.Create(pid, client.Resource{"resourceType": "AccessPolicy", "name": "Known"})
	writeFile(t, e, "inline.yaml", `project: {name: Acme Clinic}
settings: {foo: bar}
clients:
  - name: X
    accessPolicy: AccessPolicy/missing-1
  - name: Y
    accessPolicy: AccessPolicy/`+known.ID()+`
members:
  - email: z@example.com
    firstName: Z
    lastName: Z
    access:
      - policy: AccessPolicy/`+known.ID()+`
      - policy: AccessPolicy/missing-2
`)
	writeFile(t, e, "users.csv", "email,firstName,lastName,accessPolicy\ny@example.com,Y,Y,"+known.ID()+"\nz@example.com,Z,Z,Clinicain\n")
	writeFile(t, e, "csv.yaml", "project: {name: Acme Clinic}\nsettings: {foo: bar}\nmembers: users.csv\n")
	sa := provtest.SuperAdmin(t, srv)
	writeFile(t, sa, "sa.yaml", "project: {name: Super Admin}\nsettings: {foo: bar}\nclients:\n  - {name: X, accessPolicy: AccessPolicy/"+known.ID()+"}\n")
	cases := []struct {
		e      *clitest.Env
		file   string
		stderr string
	}{
		{e, "inline.yaml", "medplum: the file cannot be applied to this project; nothing was changed:\n" +
			"  clients[0].accessPolicy: no access policy AccessPolicy/missing-1 in the project (the file's own policies are named by their name)\n" +
			"  members[0].access[1].policy: no access policy AccessPolicy/missing-2 in the project (the file's own policies are named by their name)\n"},
		{e, "csv.yaml", "medplum: users.csv:3: accessPolicy: no access policy AccessPolicy/Clinicain in the project (the file's own policies are named by their name); nothing was changed\n"},
		{sa, "sa.yaml", "medplum: clients[0].accessPolicy: AccessPolicy/" + known.ID() + " belongs to another project (" + pid + "); nothing was changed\n"},
	}
	srv.ResetRequests()
	for _, c := range cases {
		for _, mode := range []string{"--dry-run", "--yes"} {
			c.e.Run("apply", "-f", c.file, mode).Expect(t, 2, "", c.stderr)
		}
	}
	provtest.ExpectWrites(t, srv)
}

// TestApplyNewMemberWithoutPolicyConverges: the invite route gives a new
// member the project's default access policy when the invite names none
// (reference 2.5, step 6). A file that says a member has no policy
// (accessPolicy left empty, or access: []) must still match after one
// apply: the next run has nothing to do.
func TestApplyNewMemberWithoutPolicyConverges(t *testing.T) {
	srv, e := newAcme(t)
	pid := srv.Seed.ProjectID
	pract := srv.Create(pid, client.Resource{"resourceType": "AccessPolicy", "name": "Default practitioner"})
	patient := srv.Create(pid, client.Resource{"resourceType": "AccessPolicy", "name": "Default patient"})
	p := srv.Resource("Project", pid)
	p["defaultAccessPolicies"] = []any{
		map[string]any{"profileType": "Practitioner", "accessPolicy": map[string]any{"reference": "AccessPolicy/" + pract.ID()}},
		map[string]any{"profileType": "Patient", "accessPolicy": map[string]any{"reference": "AccessPolicy/" + patient.ID()}},
	}
	srv.Update(p)
	writeFile(t, e, "p.yaml", `project: {name: Acme Clinic}
members:
  - {email: admin@example.com, firstName: A, lastName: A, admin: true}
  - {email: homer@example.com, firstName: H, lastName: S, role: Patient}
  - {email: nina@example.com, firstName: Nina, lastName: N, accessPolicy: }
  - {email: otto@example.com, firstName: Otto, lastName: O, role: Patient, access: []}
  - {email: uma@example.com, firstName: Uma, lastName: U}
`)
	r := e.Run("apply", "-f", "p.yaml", "--yes")
	nina, otto, uma := srv.MembershipByEmail(pid, "nina@example.com"), srv.MembershipByEmail(pid, "otto@example.com"), srv.MembershipByEmail(pid, "uma@example.com")
	if nina == nil || otto == nil || uma == nil {
		t.Fatalf("members missing: %+v", r)
	}
	r.ExpectCode(t, 0, "invited member nina@example.com (ProjectMembership/"+nina.ID()+"), then set its access as the file says (the server had given it AccessPolicy/"+pract.ID()+")\n"+
		"invited member otto@example.com (ProjectMembership/"+otto.ID()+"), then set its access as the file says (the server had given it AccessPolicy/"+patient.ID()+")\n"+
		"invited member uma@example.com (ProjectMembership/"+uma.ID()+")\n")
	if nina["accessPolicy"] != nil || otto["accessPolicy"] != nil || nina["access"] != nil || otto["access"] != nil {
		t.Errorf("nina %v\notto %v", nina, otto)
	}
	// A member whose policies the file leaves out keeps the default.
	if uma.Ref("accessPolicy") != "AccessPolicy/"+pract.ID() {
		t.Errorf("uma %v", uma)
	}
	r = e.Run("apply", "-f", "p.yaml", "--dry-run")
	if r.Code != 0 || !strings.HasSuffix(r.Stdout, "No changes: project \"Acme Clinic\" matches the file.\n") {
		t.Errorf("second run: %+v", r)
	}
}

// In a project whose id starts with "eb" and a digit, apply finds what it
// made (its searches of policies and clients used _project=<id>, which
// Medplum reads as the prefix "ends before": capture 178), so a second run
// has nothing to do instead of creating everything again.
func TestApplyIsIdempotentInAnEBProject(t *testing.T) {
	tg := clitest.NewTarget(t)
	name := tg.Unique("apply-eb")
	eb := tg.NewProject(t, clitest.RandomID("eb1"), name)
	e := eb.SignedIn(t)
	writeFile(t, e, "project.yaml", "version: 1\nproject:\n  name: "+name+"\n"+
		"accessPolicies:\n  - name: Reader\n    resource:\n      - resourceType: Patient\n        readonly: true\n"+
		"clients:\n  - name: Reporter\n    accessPolicy: Reader\n")
	head := "Plan for project \"" + name + "\" (" + eb.ProjectID + "):\n"
	kept := "  keep          client \"" + name + " admin client\" (kept: apply is signed in as this client)\n"
	r := e.Run("apply", "-f", "project.yaml", "--yes")
	if r.Code != 0 {
		t.Fatalf("first apply: %+v", r)
	}
	if !strings.HasPrefix(r.Stdout, head+"  create        access policy \"Reader\"\n"+
		"  create        client \"Reporter\" (access policy \"Reader\")\n"+kept) {
		t.Errorf("first apply's plan:\n%s", r.Stdout)
	}
	again := head +
		"  unchanged     access policy \"Reader\"\n" +
		"  unchanged     client \"Reporter\"\n" + kept +
		"No changes: project \"" + name + "\" matches the file. 1 object not in the file must stay.\n"
	e.Run("apply", "-f", "project.yaml", "--dry-run").Expect(t, 0, again, "")
	e.Run("apply", "-f", "project.yaml", "--yes").Expect(t, 0, again, "")
}

// apply with a settings: section writes them on Medplum 5.0.10, which has
// no settings route (capture 180), and a second run has nothing to do.
// When the project changes between the plan and the write, the settings
// are written over the newer version if its settings are still those the
// plan saw; if they are not, apply stops without writing any.
func TestApplySettingsOnTheServer(t *testing.T) {
	tg := clitest.NewTarget(t)
	e := tg.SignedIn(t)
	flag, text := tg.Unique("realfixApplyFlag"), tg.Unique("realfixApplyText")
	tg.Cleanup(t, provtest.RemoveSettings(flag, text))
	api := tg.API(t)
	p, err := api.ReadProject(context.Background(), tg.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	name := p.Resource.String("name")
	writeFile(t, e, "project.yaml", fmt.Sprintf("version: 1\nproject:\n  name: %q\nsettings:\n  %s: true\n  %s: hello\n", name, flag, text))

	r := e.Run("apply", "-f", "project.yaml", "--yes")
	if r.Code != 0 || !strings.Contains(r.Stdout, "  create        setting "+flag+" = true\n  create        setting "+text+" = \"hello\"\n") ||
		r.Stderr != "wrote the project's settings (2 changes)\n" {
		t.Fatalf("apply: %+v", r)
	}
	r = e.Run("apply", "-f", "project.yaml", "--dry-run")
	if r.Code != 0 || !strings.Contains(r.Stdout, "  unchanged     setting "+flag+"\n  unchanged     setting "+text+"\n") ||
		!strings.Contains(r.Stdout, "No changes: project \""+name+"\" matches the file.") || r.Stderr != "" {
		t.Errorf("apply --dry-run after apply: %+v", r)
	}

	srv := tg.Sandbox
	if srv == nil {
		return
	}
	// Between the plan and the write, (1) someone adds a secret: the
	// settings are written over the newer version; (2) someone changes a
	// setting: apply stops and writes none.
	writeFile(t, e, "project.yaml", fmt.Sprintf("version: 1\nproject:\n  name: %q\nsettings:\n  %s: false\n  %s: hello\n", name, flag, text))
	for i, meanwhile := range []struct {
		key    string
		list   func([]client.Resource) []client.Resource
		code   int
		stderr string
	}{
		{"secret", func([]client.Resource) []client.Resource {
			return []client.Resource{{"name": "SMTP", "valueString": "s3cret-value"}}
		}, 0, "wrote the project's settings (1 change)\n"},
		{"setting", func(l []client.Resource) []client.Resource {
			return append(l, client.Resource{"name": "someoneElse", "valueBoolean": true})
		}, 1, "medplum: apply stopped while writing the project's settings: the project's settings changed since the plan was made, so none were written\n" +
			"0 changes made before that; once the cause is fixed, run apply again: it starts from what the server holds now\n"},
	} {
		if i == 1 {
			writeFile(t, e, "project.yaml", fmt.Sprintf("version: 1\nproject:\n  name: %q\nsettings:\n  %s: true\n  %s: hello\n", name, flag, text))
		}
		hold := make(chan struct{})
		srv.Inject(medplumtest.Fault{Method: "PATCH", Path: "/fhir/R4/Project/*", Hold: hold})
		proc := e.Start("apply", "-f", "project.yaml", "--yes")
		ended := make(chan clitest.Result, 1)
		go func() { ended <- proc.Wait() }()
		for len(srv.PendingFaults()) > 0 { // until apply's PATCH is held
			select {
			case r := <-ended:
				close(hold)
				t.Fatalf("apply ended before it wrote: %+v", r)
			case <-time.After(5 * time.Millisecond):
			}
		}
		cur, err := api.ReadProject(context.Background(), tg.ProjectID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := api.PatchProjectList(context.Background(), tg.ProjectID, client.VersionID(cur.Resource), meanwhile.key,
			meanwhile.list(client.SettingsList(cur.Resource, meanwhile.key))); err != nil {
			t.Fatal(err)
		}
		close(hold)
		r := <-ended
		if r.Code != meanwhile.code || r.Stderr != meanwhile.stderr {
			t.Errorf("apply with a concurrent change of the %s: exit %d, stderr\n%s\nwant exit %d, stderr\n%s", meanwhile.key, r.Code, r.Stderr, meanwhile.code, meanwhile.stderr)
		}
	}
	got, _ := json.Marshal(srv.Resource("Project", tg.ProjectID)["setting"])
	if want := `[{"name":"` + flag + `","valueBoolean":false},{"name":"` + text + `","valueString":"hello"},{"name":"someoneElse","valueBoolean":true}]`; string(got) != want {
		t.Errorf("settings\n%s\nwant\n%s", got, want)
	}
}

// Project/$init makes a non-admin "<name> Default Client" that no person
// made (meta.author is "system": capture 193). apply --prune keeps it, as
// it keeps the client it is signed in as, and says so: a file that lists
// its clients should not cut off an integration the server set up unless
// it names that client.
func TestApplyPruneKeepsTheDefaultClient(t *testing.T) {
	tg := clitest.NewTarget(t)
	name := tg.Unique("apply-init")
	p := tg.InitProject(t, name)
	e := p.SignedIn(t)
	writeFile(t, e, "project.yaml", "version: 1\nproject:\n  name: "+name+"\nclients: []\n")
	plan := "Plan for project \"" + name + "\" (" + p.ProjectID + "):\n" +
		"  keep          client \"" + name + " Default Client\" (kept: made by the server with the project (Project/$init); name it in the file to manage it)\n" +
		"  keep          client \"" + name + " admin client\" (kept: apply is signed in as this client)\n" +
		"No changes: project \"" + name + "\" matches the file. 2 objects not in the file must stay.\n"
	e.Run("apply", "-f", "project.yaml", "--prune", "--dry-run").Expect(t, 0, plan, "")
	e.Run("apply", "-f", "project.yaml", "--prune", "--yes").Expect(t, 0, plan, "")

	// Named in the file, it is managed like any other client.
	writeFile(t, e, "project.yaml", "version: 1\nproject:\n  name: "+name+"\nclients:\n  - name: "+name+" Default Client\n    description: Default client for "+name+"\n")
	e.Run("apply", "-f", "project.yaml", "--prune", "--dry-run").Expect(t, 0, "Plan for project \""+name+"\" ("+p.ProjectID+"):\n"+
		"  unchanged     client \""+name+" Default Client\"\n"+
		"  keep          client \""+name+" admin client\" (kept: apply is signed in as this client)\n"+
		"No changes: project \""+name+"\" matches the file. 1 object not in the file must stay.\n", "")
}

// On any Medplum (make test-real runs it against a real one): whoami,
// apply's plan and clients create print their JSON through commands/output,
// so -o yaml, --jq and --template agree with -o json, and a broken
// expression is exit 2 before anything is sent.
func TestDocumentFlagsOnTarget(t *testing.T) {
	tg := clitest.NewTarget(t)
	name := tg.Unique("floor-filters")
	p := tg.NewProject(t, "", name)
	e := p.SignedIn(t)
	clitest.ExpectDocumentFlags(t, e, p.Sandbox, "whoami")

	writeFile(t, e, "p.yaml", "version: 1\nproject:\n  name: "+name+"\n"+
		"accessPolicies:\n  - name: Reader\n    resource:\n      - resourceType: Patient\n        readonly: true\n")
	if r := e.Run("apply", "-f", "p.yaml", "--yes"); r.Code != 0 || !strings.HasPrefix(r.Stderr, "created access policy \"Reader\" (AccessPolicy/") {
		t.Fatalf("apply: %+v", r)
	}
	clitest.ExpectDocumentFlags(t, e, p.Sandbox, "apply", "-f", "p.yaml", "--dry-run")
	e.Run("apply", "-f", "p.yaml", "--dry-run", "--jq", `.changes[] | select(.kind == "access policy") | "\(.action) \(.name)"`).
		Expect(t, 0, "unchanged Reader\n", "")

	r := e.Run("clients", "create", "Reporter", "--jq", ".id")
	id := strings.TrimSpace(r.Stdout)
	in := fmt.Sprintf("project %q (%s)", name, p.ProjectID)
	r.Expect(t, 0, id+"\n", "Created client \"Reporter\" (ClientApplication/"+id+") in "+in+".\n")
	clitest.ExpectDocumentFlagsStderr(t, e, p.Sandbox, "Client \"Reporter\" (ClientApplication/"+id+") already exists in "+in+".\n",
		"clients", "create", "Reporter", "--if-not-exists")
}
