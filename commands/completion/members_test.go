package completion_test

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/iostreams"
)

// completeMember runs `medplum __complete member-test <args>` in process, on
// the real command tree plus a command whose <member> argument completes
// with completion.Members (as `members get` does), in an environment
// holding only env.
func completeMember(t *testing.T, env map[string]string, args ...string) (stdout string) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "MEDPLUM_") || k == "DBUS_SESSION_BUS_ADDRESS" || k == "XDG_RUNTIME_DIR" {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("MEDPLUM_CONFIG_DIR", home+"/config")
	t.Setenv("MEDPLUM_CACHE_DIR", home+"/cache")
	for k, v := range env {
		t.Setenv(k, v)
	}
	f := commands.NewFactory()
	ios, _, out, _ := iostreams.Test()
	f.IOStreams = ios
	root := commands.NewCmdRoot(f)
	cmd := &cobra.Command{Use: "member-test <member>", RunE: func(*cobra.Command, []string) error { return nil }}
	cmd.Flags().String("project", "", "project id")
	cmd.ValidArgsFunction = completion.Members(f)
	root.AddCommand(cmd)
	root.SetArgs(append([]string{"__complete", "member-test"}, args...))
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func signedIn(srv *medplumtest.Server) map[string]string {
	return map[string]string{"MEDPLUM_BASE_URL": srv.URL, "MEDPLUM_CLIENT_ID": srv.Seed.Client.ID, "MEDPLUM_CLIENT_SECRET": srv.Seed.Client.Secret}
}

func TestMembersFromTheServer(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithMembers(3))
	sd := srv.Seed
	out := completeMember(t, signedIn(srv), "")
	if !strings.HasSuffix(out, "\n"+noFile) {
		t.Fatalf("directive: %q", out)
	}
	got := strings.Split(strings.TrimSuffix(out, "\n"+noFile), "\n")
	homer := sd.Homer.MembershipID + "\tHomer Simpson, Patient, homer@example.com"
	admin := sd.Admin.MembershipID + "\tMedplum Admin, Practitioner, " + sd.AdminEmail
	if !slices.Contains(got, homer) || !slices.Contains(got, admin) {
		t.Errorf("no %q or %q in\n%s", homer, admin, out)
	}
	// Every membership of the project, once, newest first.
	if n := len(srv.Memberships(sd.ProjectID)); len(got) != n {
		t.Errorf("%d suggestions for %d memberships:\n%s", len(got), n, out)
	}
	last := sd.Generated[2].MembershipID
	if !strings.HasPrefix(got[0], last+"\t") {
		t.Errorf("first suggestion %q, want the newest membership %s", got[0], last)
	}
	reqs := srv.RequestsTo("GET", "/fhir/R4/ProjectMembership")
	if len(reqs) != 1 || reqs[0].RawQuery != "_count=1000&_sort=-_lastUpdated" {
		t.Errorf("requests: %+v", reqs)
	}

	// What was typed filters: the start of an id, or of an e-mail.
	if got := completeMember(t, signedIn(srv), sd.Homer.MembershipID[:8]); !strings.HasPrefix(got, homer+"\n") {
		t.Errorf("prefix of Homer's id: %q", got)
	}
	if got := completeMember(t, signedIn(srv), "HOMER@"); got != "homer@example.com\t"+sd.Homer.MembershipID+"\n"+noFile {
		t.Errorf("HOMER@: %q", got)
	}
	// Only the first argument.
	if got := completeMember(t, signedIn(srv), sd.Homer.MembershipID, ""); got != noFile {
		t.Errorf("second argument: %q", got)
	}
}

func TestMembersOfAnotherProject(t *testing.T) {
	srv := medplumtest.NewServer(t)
	env := map[string]string{"MEDPLUM_BASE_URL": srv.URL,
		"MEDPLUM_CLIENT_ID": srv.Seed.SuperAdminClient.ID, "MEDPLUM_CLIENT_SECRET": srv.Seed.SuperAdminClient.Secret}
	out := completeMember(t, env, "--project", srv.Seed.ProjectID, "")
	if !strings.Contains(out, srv.Seed.Homer.MembershipID+"\t") {
		t.Errorf("--project %s: no Homer in\n%s", srv.Seed.ProjectID, out)
	}
	reqs := srv.RequestsTo("GET", "/fhir/R4/ProjectMembership")
	if len(reqs) != 1 || !strings.Contains(reqs[0].RawQuery, "project=Project%2F"+srv.Seed.ProjectID) {
		t.Errorf("requests: %+v", reqs)
	}
}

// Not signed in: no suggestions, and nothing at all is sent to the server.
func TestMembersNotSignedIn(t *testing.T) {
	srv := medplumtest.NewServer(t)
	if got := completeMember(t, map[string]string{"MEDPLUM_BASE_URL": srv.URL}, ""); got != noFile {
		t.Errorf("not signed in: %q", got)
	}
	if reqs := srv.Requests(); len(reqs) != 0 {
		t.Errorf("%d requests sent without credentials: %+v", len(reqs), reqs)
	}
	// Rejected credentials: nothing either (the token request was the only one).
	env := signedIn(srv)
	env["MEDPLUM_CLIENT_SECRET"] = "wrong"
	if got := completeMember(t, env, ""); got != noFile {
		t.Errorf("wrong secret: %q", got)
	}
	if reqs := srv.RequestsTo("", "/fhir/R4/ProjectMembership"); len(reqs) != 0 {
		t.Errorf("searched with rejected credentials: %+v", reqs)
	}
}

// A server slower than completion.Timeout gives no suggestions instead of
// a hung shell.
func TestMembersSlowServer(t *testing.T) {
	srv := medplumtest.NewServer(t)
	srv.SetLatency(time.Minute)
	old := completion.Timeout
	completion.Timeout = 100 * time.Millisecond
	t.Cleanup(func() { completion.Timeout = old })
	if got := completeMember(t, signedIn(srv), ""); got != noFile {
		t.Errorf("slow server: %q", got)
	}
}
