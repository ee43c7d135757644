package completion_test

import (
	"strings"
	"testing"

	"github.com/medplumcli/medplum/commands/clitest"
	"github.com/medplumcli/medplum/commands/completion"
)

func TestMain(m *testing.M) { clitest.Main(m) }

// Directive lines as `medplum __complete` prints them (stdout, stderr).
const (
	noFile        = ":4\n"
	noFileStderr  = "Completion ended with directive: ShellCompDirectiveNoFileComp\n"
	noSpace       = ":6\n"
	noSpaceStderr = "Completion ended with directive: ShellCompDirectiveNoSpace, ShellCompDirectiveNoFileComp\n"
)

func lines(s ...string) string { return strings.Join(s, "\n") + "\n" }

func TestURLCompletesResourceTypes(t *testing.T) {
	e := clitest.New(t)
	e.Run("__complete", "get", "Pat").Expect(t, 0, lines("Patient")+noSpace, noSpaceStderr)
	e.Run("__complete", "get", "ProjectM").Expect(t, 0, lines("ProjectMembership")+noSpace, noSpaceStderr)
	e.Run("__complete", "delete", "Medication").Expect(t, 0, lines("Medication", "MedicationAdministration",
		"MedicationDispense", "MedicationKnowledge", "MedicationRequest", "MedicationStatement")+noSpace, noSpaceStderr)
	// post's body follows the type: a space is fine.
	e.Run("__complete", "post", "AccessP").Expect(t, 0, lines("AccessPolicy")+noFile, noFileStderr)
	// An id, a query, the body: nothing to offer, and no file names.
	e.Run("__complete", "get", "Patient/").Expect(t, 0, noFile, noFileStderr)
	e.Run("__complete", "get", "Patient?na").Expect(t, 0, noFile, noFileStderr)
	e.Run("__complete", "post", "Patient", "").Expect(t, 0, noFile, noFileStderr)
	e.Run("__complete", "get", "Nope").Expect(t, 0, noSpace, noSpaceStderr)

	out := e.Run("__complete", "get", "").ExpectCode(t, 0, noSpaceStderr)
	got := strings.Fields(strings.TrimSuffix(out, noSpace))
	if len(got) != len(completion.ResourceTypes()) || got[0] != "AccessPolicy" || got[len(got)-1] != "VisionPrescription" {
		t.Errorf("get '': %d types from %q to %q, want %d", len(got), got[0], got[len(got)-1], len(completion.ResourceTypes()))
	}
}

func TestResourceTypeList(t *testing.T) {
	if n := len(completion.FHIRTypes); n != 146 {
		t.Errorf("%d FHIR R4 resource types, want 146", n)
	}
	seen := map[string]bool{}
	for _, ty := range completion.ResourceTypes() {
		if seen[ty] {
			t.Errorf("%s listed twice", ty)
		}
		seen[ty] = true
	}
	for _, ty := range []string{"Patient", "Practitioner", "RelatedPerson", "Project", "ProjectMembership",
		"ClientApplication", "Bot", "AccessPolicy", "User", "UserConfiguration"} {
		if !seen[ty] {
			t.Errorf("%s is missing", ty)
		}
	}
}

func TestProfileNames(t *testing.T) {
	e := clitest.New(t)
	for name, url := range map[string]string{"staging": "https://staging.example.com/", "prod": "https://api.example.com/"} {
		if r := e.Run("profile", "set", name, "--base-url", url); r.Code != 0 {
			t.Fatalf("profile set %s: %d %s", name, r.Code, r.Stderr)
		}
	}
	all := lines("default", "prod\thttps://api.example.com/", "staging\thttps://staging.example.com/") + noFile
	e.Run("__complete", "-p", "").Expect(t, 0, all, noFileStderr)
	e.Run("__complete", "get", "Patient", "--profile", "").Expect(t, 0, all, noFileStderr)
	e.Run("__complete", "get", "Patient", "--profile=st").Expect(t, 0, lines("staging\thttps://staging.example.com/")+noFile, noFileStderr)
	e.Run("__complete", "profile", "use", "p").Expect(t, 0, lines("prod\thttps://api.example.com/")+noFile, noFileStderr)
	e.Run("__complete", "profile", "describe", "").Expect(t, 0, all, noFileStderr)
	e.Run("__complete", "profile", "remove", "prod", "").Expect(t, 0, noFile, noFileStderr)

	// Without a settings file there is still the default profile.
	clitest.New(t).Run("__complete", "profile", "use", "").Expect(t, 0, lines("default")+noFile, noFileStderr)
}

func TestFlagValues(t *testing.T) {
	e := clitest.New(t)
	e.Run("__complete", "invite", "--role", "").Expect(t, 0, lines("Patient", "Practitioner", "RelatedPerson")+noFile, noFileStderr)
	e.Run("__complete", "invite", "-r", "R").Expect(t, 0, lines("RelatedPerson")+noFile, noFileStderr)
	e.Run("__complete", "invite", "--scope", "").Expect(t, 0, lines("project", "server")+noFile, noFileStderr)
	e.Run("__complete", "login", "--auth-type", "").Expect(t, 0,
		lines("authorization-code", "password", "client-credentials", "jwt-assertion")+noFile, noFileStderr)
	e.Run("__complete", "invite", "--csv", "").Expect(t, 0, lines("csv")+":8\n",
		"Completion ended with directive: ShellCompDirectiveFilterFileExt\n")
	e.Run("__complete", "get", "Patient", "-o", "").Expect(t, 0, lines("json", "yaml", "ndjson", "table", "csv")+noFile, noFileStderr)
}

// --columns completes a comma-separated list: the columns of the command's
// table, each once.
func TestColumns(t *testing.T) {
	e := clitest.New(t)
	e.Run("__complete", "get", "ProjectMembership?active=true", "-o", "csv", "--columns", "").Expect(t, 0,
		lines("type", "id", "lastUpdated", "display", "versionId", "admin", "active")+noSpace, noSpaceStderr)
	e.Run("__complete", "get", "Patient", "--columns", "id,display,").Expect(t, 0,
		lines("id,display,type", "id,display,lastUpdated", "id,display,versionId", "id,display,birthDate", "id,display,gender")+noSpace, noSpaceStderr)
	e.Run("__complete", "get", "fhir/R4/User/1", "--columns", "id,e").Expect(t, 0, lines("id,email")+noSpace, noSpaceStderr)
	e.Run("__complete", "profile", "list", "--columns", "na").Expect(t, 0, lines("name")+noSpace, noSpaceStderr)
	e.Run("__complete", "invite", "--columns", "profile").Expect(t, 0, lines("profile", "profileType")+noSpace, noSpaceStderr)
}

// Commands that take no file never offer file names for their arguments.
func TestNoFileNamesForArguments(t *testing.T) {
	e := clitest.New(t)
	for _, args := range [][]string{{"whoami", ""}, {"version", ""}, {"project", "secrets", "set", ""}, {"project", "switch", ""}, {"invite", ""}} {
		e.Run(append([]string{"__complete"}, args...)...).Expect(t, 0, noFile, noFileStderr)
	}
	// Subcommands are still offered.
	out := e.Run("__complete", "profile", "").ExpectCode(t, 0, noFileStderr)
	for _, sub := range []string{"describe\t", "list\t", "use\t"} {
		if !strings.Contains(out, "\n"+sub) && !strings.HasPrefix(out, sub) {
			t.Errorf("__complete profile '': no %q in\n%s", sub, out)
		}
	}
}

// bulk export --types completes resource types as get does, a
// comma-separated list; bot create --runtime its two runtimes; a
// --save-profile the profiles.
func TestMoreFlagValues(t *testing.T) {
	e := clitest.New(t)
	e.Run("__complete", "bulk", "export", "-t", "Pat").Expect(t, 0, lines("Patient")+noSpace, noSpaceStderr)
	e.Run("__complete", "bulk", "export", "--types", "Patient,Practitioner").Expect(t, 0,
		lines("Patient,Practitioner", "Patient,PractitionerRole")+noSpace, noSpaceStderr)
	e.Run("__complete", "bulk", "export", "--types=Patient,Pat").Expect(t, 0, noSpace, noSpaceStderr)
	e.Run("__complete", "bot", "create", "x", "--runtime", "").Expect(t, 0, lines("vmcontext", "awslambda")+noFile, noFileStderr)
	if r := e.Run("profile", "set", "ci", "--base-url", "https://ci.example.com/"); r.Code != 0 {
		t.Fatalf("profile set: %+v", r)
	}
	e.Run("__complete", "clients", "create", "x", "--save-profile", "").Expect(t, 0,
		lines("default", "ci\thttps://ci.example.com/")+noFile, noFileStderr)
	e.Run("__complete", "clients", "rotate-secret", "x", "--save-profile", "c").Expect(t, 0,
		lines("ci\thttps://ci.example.com/")+noFile, noFileStderr)
}
