package clients_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clients"
	"github.com/medplumcli/medplum/commands/clitest"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/internal/provtest"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/output"
)

func TestMain(m *testing.M) { clitest.Main(m) }

// clientNamed returns the one ClientApplication with that name in a project.
func clientNamed(t *testing.T, srv *medplumtest.Server, project, name string) client.Resource {
	t.Helper()
	var found []client.Resource
	for _, a := range srv.Resources("ClientApplication", project) {
		if a["name"] == name {
			found = append(found, a)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d clients named %q in project %s", len(found), name, project)
	}
	return found[0]
}

func membershipOf(srv *medplumtest.Server, project, clientID string) client.Resource {
	for _, m := range srv.Memberships(project) {
		if m.Ref("user") == "ClientApplication/"+clientID {
			return m
		}
	}
	return nil
}

const noSecretNote = "The secret was not printed: use --show-secret or -o json to see it, or --save-profile to keep it.\n"

func TestCreateAndSignInWithoutShowingTheSecret(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.Admin(t, srv)
	pid := srv.Seed.ProjectID
	proj := fmt.Sprintf("%q (%s)", srv.Seed.ProjectName, pid)

	r := e.Run("clients", "create", "CI deployer", "--admin", "--description", "deploys bots", "--verbose")
	app := clientNamed(t, srv, pid, "CI deployer")
	secret := app.String("secret")
	if r.Code != 0 || r.Stdout != app.ID()+"\n" {
		t.Errorf("create: %+v", r)
	}
	for _, line := range []string{"Created client \"CI deployer\" (ClientApplication/" + app.ID() + ") in project " + proj + ".\n",
		"\nClient \"CI deployer\" (ClientApplication/" + app.ID() + ") is a project admin.\n", "\n" + noSecretNote} {
		if !strings.Contains(r.Stderr, line) {
			t.Errorf("stderr lacks %q", line)
		}
	}
	r.NotContains(t, secret)
	m := membershipOf(srv, pid, app.ID())
	if m == nil || m["admin"] != true || app["description"] != "deploys bots" {
		t.Fatalf("client %v, membership %v", app, m)
	}

	// The new client signs in and can administer the project.
	ci := provtest.As(t, srv, app.ID(), secret)
	ci.Run("project", "settings", "set", "mfaRequired", "true").Expect(t, 0, "", "Set mfaRequired = true (boolean) in project "+proj+".\n")

	// --show-secret and -o json print the secret, as asked.
	r = e.Run("clients", "create", "reporting", "--show-secret")
	rep := clientNamed(t, srv, pid, "reporting")
	r.Expect(t, 0, rep.ID()+"\n"+rep.String("secret")+"\n", "Created client \"reporting\" (ClientApplication/"+rep.ID()+") in project "+proj+".\n")
	r = e.Run("clients", "create", "exporter", "-o", "json")
	exp := clientNamed(t, srv, pid, "exporter")
	var got map[string]any
	if err := json.Unmarshal([]byte(r.ExpectCode(t, 0, "Created client \"exporter\" (ClientApplication/"+exp.ID()+") in project "+proj+".\n")), &got); err != nil ||
		got["id"] != exp.ID() || got["secret"] != exp.String("secret") {
		t.Errorf("-o json: %s (%v)", r.Stdout, err)
	}
	if m := membershipOf(srv, pid, rep.ID()); m == nil || m["admin"] != nil {
		t.Errorf("reporting is an admin without --admin: %v", m)
	}

	// --if-not-exists reuses the client (and makes it an admin if asked).
	srv.ResetRequests()
	e.Run("clients", "create", "reporting", "--if-not-exists", "--admin").Expect(t, 0, rep.ID()+"\n",
		"Client \"reporting\" (ClientApplication/"+rep.ID()+") already exists in project "+proj+".\n"+
			"Client \"reporting\" (ClientApplication/"+rep.ID()+") is a project admin.\n"+noSecretNote)
	provtest.ExpectWrites(t, srv, "PUT /fhir/R4/ProjectMembership/"+membershipOf(srv, pid, rep.ID()).ID())
	if n := len(srv.Resources("ClientApplication", pid)); n != 4 {
		t.Errorf("%d clients after --if-not-exists", n)
	}
}

func TestSuperAdminProvisionsAnotherProject(t *testing.T) {
	srv := medplumtest.NewServer(t)
	sa := provtest.SuperAdmin(t, srv)
	pid := strings.TrimSpace(sa.Run("project", "create", "Acme", "--strict-mode").Stdout)
	if srv.Resource("Project", pid) == nil {
		t.Fatalf("no project %q", pid)
	}
	out := sa.Run("clients", "create", "Acme provisioner", "--project", pid, "--admin", "-o", "json").Stdout
	var creds struct{ ID, Secret string }
	if err := json.Unmarshal([]byte(out), &creds); err != nil || creds.Secret == "" {
		t.Fatalf("-o json: %s (%v)", out, err)
	}
	if m := membershipOf(srv, pid, creds.ID); m == nil || m["admin"] != true {
		t.Fatalf("membership in the new project: %v", m)
	}
	acme := provtest.As(t, srv, creds.ID, creds.Secret)
	acme.Run("project", "settings", "set", "mfaRequired", "true").Expect(t, 0, "", "Set mfaRequired = true (boolean) in project \"Acme\" ("+pid+").\n")
	acme.Run("clients", "list", "--columns", "name,admin").Expect(t, 0, "NAME\tADMIN\nAcme provisioner\ttrue\n", "")

	// A project admin cannot point --project at another project: the server
	// would act on its own.
	srv.ResetRequests()
	provtest.Admin(t, srv).Run("clients", "create", "x", "--project", pid).Expect(t, 2, "",
		fmt.Sprintf("medplum: --project %s: you are signed in to project %q (%s), and only a super admin can act on another project\n", pid, srv.Seed.ProjectName, srv.Seed.ProjectID))
	provtest.ExpectWrites(t, srv)
	// A --project that is no project id is refused before anything is sent.
	srv.ResetRequests()
	sa.Run("clients", "list", "--project", "no such/project").Expect(t, 2, "",
		"medplum: --project: not a project: \"no such/project\" (want an id or Project/<id>)\nRun 'medplum clients list --help' for usage.\n")
	clitest.ExpectNothingSent(t, srv)
}

func TestListNeverShowsSecrets(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.Admin(t, srv)
	pid := srv.Seed.ProjectID
	e.Run("clients", "create", "b-client", "--admin")
	ap := srv.Create(pid, client.Resource{"resourceType": "AccessPolicy", "name": "ro"})
	e.Run("clients", "create", "a-client", "--access-policy", ap.ID())
	a, b := clientNamed(t, srv, pid, "a-client"), clientNamed(t, srv, pid, "b-client")
	seeded := srv.Seed.Client

	e.Run("clients", "list").Expect(t, 0, "ID\tNAME\tADMIN\tACCESS POLICY\tROTATING\n"+
		seeded.ID+"\t"+srv.Seed.ProjectName+" Admin Client\ttrue\t\tfalse\n"+
		b.ID()+"\tb-client\ttrue\t\tfalse\n"+
		a.ID()+"\ta-client\tfalse\tAccessPolicy/"+ap.ID()+"\tfalse\n", "")
	for _, args := range [][]string{{"-o", "json"}, {"-o", "ndjson"}, {"-o", "csv", "--columns", "id,name,description,membership"}, {"-v"}} {
		r := e.Run(append([]string{"clients", "list"}, args...)...)
		if r.Code != 0 {
			t.Errorf("%v: %+v", args, r)
		}
		r.NotContains(t, a.String("secret"), b.String("secret"), seeded.Secret)
	}
	e.Run("clients", "list", "-o", "ndjson", "--project", pid).Expect(t, 0,
		`{"id":"`+seeded.ID+`","name":"`+srv.Seed.ProjectName+` Admin Client","description":"Seeded by medplumtest","admin":true,"active":true,"membership":"`+seeded.MembershipID+`","rotating":false}`+"\n"+
			`{"id":"`+b.ID()+`","name":"b-client","admin":true,"active":true,"membership":"`+membershipOf(srv, pid, b.ID()).ID()+`","rotating":false}`+"\n"+
			`{"id":"`+a.ID()+`","name":"a-client","admin":false,"accessPolicy":"AccessPolicy/`+ap.ID()+`","active":true,"membership":"`+membershipOf(srv, pid, a.ID()).ID()+`","rotating":false}`+"\n", "")
}

func TestRotateSecret(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.Admin(t, srv)
	pid := srv.Seed.ProjectID
	e.Run("clients", "create", "CI")
	app := clientNamed(t, srv, pid, "CI")
	old := app.String("secret")
	lbl := "\"CI\" (ClientApplication/" + app.ID() + ")"

	r := e.Run("clients", "rotate-secret", "CI", "-v")
	cur := srv.Resource("ClientApplication", app.ID()).String("secret")
	if cur == old || r.Code != 0 || r.Stdout != app.ID()+"\n" ||
		!strings.Contains(r.Stderr, "\nRotated the secret of client "+lbl+". The old secret keeps signing in until: medplum clients rotate-secret "+app.ID()+" --finish\n") ||
		!strings.HasSuffix(r.Stderr, "\n"+noSecretNote) {
		t.Fatalf("rotate: %+v", r)
	}
	r.NotContains(t, old, cur)
	// Both secrets sign in during the rotation.
	for _, s := range []string{old, cur} {
		provtest.As(t, srv, app.ID(), s).Run("get", "auth/me", "-o", "csv", "--columns", "membership.profile.reference", "--no-header").
			Expect(t, 0, "ClientApplication/"+app.ID()+"\n", "")
	}
	e.Run("clients", "list", "--columns", "name,rotating", "--no-header", "-o", "csv").Expect(t, 0, srv.Seed.ProjectName+" Admin Client,false\nCI,true\n", "")
	e.Run("clients", "rotate-secret", app.ID()).Expect(t, 1, "", "medplum: client "+lbl+" is in the middle of a rotation: its old secret still signs in\nfinish it first: medplum clients rotate-secret "+app.ID()+" --finish\n")

	e.Run("clients", "rotate-secret", "ClientApplication/"+app.ID(), "--finish").Expect(t, 0, "", "Retired the old secret of client "+lbl+": only the current secret signs in now.\n")
	e.Run("clients", "rotate-secret", "CI", "--finish").Expect(t, 0, "", "Client "+lbl+" has no retiring secret; nothing to do.\n")
	provtest.As(t, srv, app.ID(), old).Run("get", "auth/me").Expect(t, 4, "", "medplum: client credentials sign-in for client "+app.ID()+" failed: Invalid secret (invalid_request)\ncheck MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET: the credentials come from there, not from medplum login\n")
	provtest.As(t, srv, app.ID(), cur).Run("get", "auth/me").ExpectCode(t, 0, "")

	// --show-secret prints the new one.
	r = e.Run("clients", "rotate-secret", "CI", "--show-secret")
	next := srv.Resource("ClientApplication", app.ID()).String("secret")
	r.Expect(t, 0, app.ID()+"\n"+next+"\n", "Rotated the secret of client "+lbl+". The old secret keeps signing in until: medplum clients rotate-secret "+app.ID()+" --finish\n")
	e.Run("clients", "rotate-secret", "CI", "--finish", "--show-secret").Expect(t, 2, "", "medplum: --finish makes no secret: leave out --show-secret, -o, --jq, --template and --save-profile\nRun 'medplum clients rotate-secret --help' for usage.\n")
	e.Run("clients", "rotate-secret", "CI", "--finish", "--jq", ".secret").Expect(t, 2, "", "medplum: --finish makes no secret: leave out --show-secret, -o, --jq, --template and --save-profile\nRun 'medplum clients rotate-secret --help' for usage.\n")
}

func TestDelete(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.Admin(t, srv)
	pid := srv.Seed.ProjectID
	proj := fmt.Sprintf("%q (%s)", srv.Seed.ProjectName, pid)
	e.Run("clients", "create", "old exporter")
	app := clientNamed(t, srv, pid, "old exporter")
	m := membershipOf(srv, pid, app.ID())
	lbl := "\"old exporter\" (ClientApplication/" + app.ID() + ")"

	srv.ResetRequests()
	e.Run("clients", "delete", "old exporter").Expect(t, 2, "", "medplum: refusing to delete client "+lbl+" without confirmation: pass --yes\n")
	provtest.ExpectWrites(t, srv)

	e.Run("clients", "delete", "old exporter", "--yes").Expect(t, 0, "", "Deleted client "+lbl+" from project "+proj+".\n")
	provtest.ExpectWrites(t, srv, "DELETE /fhir/R4/ProjectMembership/"+m.ID(), "DELETE /fhir/R4/ClientApplication/"+app.ID())
	if !srv.Deleted("ClientApplication", app.ID()) || !srv.Deleted("ProjectMembership", m.ID()) {
		t.Error("not deleted on the server")
	}
	provtest.As(t, srv, app.ID(), app.String("secret")).Run("get", "auth/me").Expect(t, 4, "", "medplum: client credentials sign-in for client "+app.ID()+" failed: Invalid client (invalid_request)\ncheck MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET: the credentials come from there, not from medplum login\n")

	e.Run("clients", "delete", app.ID(), "--yes").Expect(t, 0, "", "Client "+app.ID()+" is already deleted.\n")
	e.Run("clients", "delete", "nobody", "--yes").Expect(t, 1, "", "medplum: no client \"nobody\" in project "+proj+" (give an id, ClientApplication/<id> or the exact name)\n")
	e.Run("clients", "delete", srv.Seed.Client.ID, "--yes").Expect(t, 2, "",
		"medplum: you are signed in as client \""+srv.Seed.ProjectName+" Admin Client\" (ClientApplication/"+srv.Seed.Client.ID+"): sign in as another admin to delete it\n")

	// Two clients with one name: ambiguous, nothing deleted.
	e.Run("clients", "create", "twin")
	e.Run("clients", "create", "twin")
	srv.ResetRequests()
	r := e.Run("clients", "delete", "twin", "--yes")
	if r.Code != 2 || !strings.HasPrefix(r.Stderr, "medplum: 2 clients in project "+proj+" are named \"twin\": ") {
		t.Errorf("ambiguous: %+v", r)
	}
	provtest.ExpectWrites(t, srv)
}

// filesWith lists the files under dir (relative) that contain s.
func filesWith(t *testing.T, dir, s string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), s) {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSaveProfileThenSignIn is the CI story: a super admin creates a project
// and a client for it, the client's sign-in goes straight into a profile,
// and the next command signs in with that profile. The secret appears in no
// output and only in the 0600 credentials file.
func TestSaveProfileThenSignIn(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.SuperAdmin(t, srv)
	pid := strings.TrimSpace(e.Run("project", "create", "Acme", "--strict-mode").Stdout)

	r := e.Run("clients", "create", "Acme CI", "--project", pid, "--admin", "--save-profile", "acme", "--insecure-storage")
	app := clientNamed(t, srv, pid, "Acme CI")
	secret := app.String("secret")
	creds := filepath.Join(e.ConfigDir, "secrets", "credentials.json")
	lbl := "\"Acme CI\" (ClientApplication/" + app.ID() + ")"
	r.Expect(t, 0, app.ID()+"\n", "Created client "+lbl+" in project "+pid+".\n"+
		"Client "+lbl+" is a project admin.\n"+
		"Signed in as Acme CI (ClientApplication/"+app.ID()+") in project Acme and saved it in profile acme (the secret is in "+creds+" (readable only by you)): medplum -p acme ...\n")
	r.NotContains(t, secret)

	// Only the profile now: no credentials in the environment.
	e.Unset("MEDPLUM_CLIENT_ID").Unset("MEDPLUM_CLIENT_SECRET").Unset("MEDPLUM_BASE_URL")
	e.Run("-p", "acme", "project", "settings", "set", "mfaRequired", "true").Expect(t, 0, "", "Set mfaRequired = true (boolean) in project \"Acme\" ("+pid+").\n")
	e.Run("-p", "acme", "clients", "list", "--columns", "name,admin").Expect(t, 0, "NAME\tADMIN\nAcme CI\ttrue\n", "")
	r = e.Run("profile", "describe", "acme")
	if r.Code != 0 || !strings.Contains(r.Stdout, app.ID()) {
		t.Errorf("profile describe: %+v", r)
	}
	r.NotContains(t, secret)
	if got := filesWith(t, e.Home, secret); strings.Join(got, ",") != "config/secrets/credentials.json" {
		t.Errorf("the secret is in %v", got)
	}
	if st, err := os.Stat(creds); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file: %v %v", st, err)
	}

	// Rotating into the profile: the profile signs in with the new secret.
	e.Run("-p", "acme", "clients", "rotate-secret", "Acme CI", "--save-profile", "acme", "--insecure-storage").ExpectCode(t, 0,
		"Rotated the secret of client "+lbl+". The old secret keeps signing in until: medplum clients rotate-secret "+app.ID()+" --finish\n"+
			"Signed in as Acme CI (ClientApplication/"+app.ID()+") in project Acme and saved it in profile acme (the secret is in "+creds+" (readable only by you)): medplum -p acme ...\n")
	e.Run("-p", "acme", "clients", "rotate-secret", "Acme CI", "--finish").ExpectCode(t, 0, "Retired the old secret of client "+lbl+": only the current secret signs in now.\n")
	e.Run("-p", "acme", "project", "settings", "get", "mfaRequired").Expect(t, 0, "true\n", "")
	if got := filesWith(t, e.Home, secret); len(got) != 0 {
		t.Errorf("the retired secret is still in %v", got)
	}
}

// TestSaveProfileWithoutKeyring: no keyring and no --insecure-storage: the
// command fails before any client is made.
func TestSaveProfileWithoutKeyring(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.Admin(t, srv)
	srv.ResetRequests()
	e.Run("clients", "create", "CI", "--save-profile", "ci").Expect(t, 1, "", "medplum: the system keyring is not available: no D-Bus session bus "+
		"(neither DBUS_SESSION_BUS_ADDRESS nor $XDG_RUNTIME_DIR/bus is set up), so the Secret Service cannot be reached; "+
		"sign in with --insecure-storage to keep credentials in a file readable only by you (0600) instead\n")
	clitest.ExpectNothingSent(t, srv)
	srv.ResetRequests()
	e.Run("clients", "create", "CI", "--save-profile", "not a name").Expect(t, 2, "",
		"medplum: --save-profile: profile name \"not a name\": use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit\nRun 'medplum clients create --help' for usage.\n")
	e.Run("clients", "create", "CI", "--insecure-storage").Expect(t, 2, "", "medplum: --insecure-storage goes with --save-profile\nRun 'medplum clients create --help' for usage.\n")
	clitest.ExpectNothingSent(t, srv)
}

// TestDeleteAsksAtATerminal runs delete in process with terminals for
// stdin and stdout: only "y" deletes.
func TestDeleteAsksAtATerminal(t *testing.T) {
	srv := medplumtest.NewServer(t)
	provtest.Admin(t, srv).Run("clients", "create", "old")
	app := clientNamed(t, srv, srv.Seed.ProjectID, "old")
	c, err := client.New(client.Options{BaseURL: srv.URL, Auth: provtest.Bearer(srv.IssueToken(srv.Seed.Client.MembershipID))})
	if err != nil {
		t.Fatal(err)
	}
	run := func(answer string) string {
		ios, in, _, errOut := iostreams.Test()
		ios.SetStdinTTY(true)
		ios.SetStdoutTTY(true)
		in.WriteString(answer)
		cmd := clients.NewCmdDelete(&cmdutil.Factory{IOStreams: ios, Client: func() (*client.Client, error) { return c, nil }}, nil)
		cmd.SetArgs([]string{"old"})
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("answer %q: %v", answer, err)
		}
		return errOut.String()
	}
	question := "Delete client \"old\" (ClientApplication/" + app.ID() + ") of project " + fmt.Sprintf("%q (%s)", srv.Seed.ProjectName, srv.Seed.ProjectID) + "? It will no longer be able to sign in. [y/N] "
	srv.ResetRequests()
	if got := run("n\n"); got != question+"Nothing was deleted.\n" {
		t.Errorf("n: %q", got)
	}
	provtest.ExpectWrites(t, srv)
	if got := run("y\n"); got != question+"Deleted client \"old\" (ClientApplication/"+app.ID()+") from project \""+srv.Seed.ProjectName+"\" ("+srv.Seed.ProjectID+").\n" {
		t.Errorf("y: %q", got)
	}
	if !srv.Deleted("ClientApplication", app.ID()) {
		t.Error("not deleted")
	}
}

// -o json prints the ClientApplication as the server sent it (key order,
// number spelling, unknown fields), not re-encoded: after create, after
// create --if-not-exists (found by search) and after rotate-secret.
func TestJSONIsTheServersAnswer(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.Admin(t, srv)
	tok := srv.IssueToken(srv.Seed.Client.MembershipID)
	r := e.Run("clients", "create", "Raw", "-o", "json")
	app := clientNamed(t, srv, srv.Seed.ProjectID, "Raw")
	server := func() string {
		return clitest.Indented(t, clitest.ServerGet(t, srv, tok, "fhir/R4/ClientApplication/"+app.ID()))
	}
	r.Expect(t, 0, server(), "Created client \"Raw\" (ClientApplication/"+app.ID()+") in project "+
		fmt.Sprintf("%q (%s)", srv.Seed.ProjectName, srv.Seed.ProjectID)+".\n")
	e.Run("clients", "create", "Raw", "--if-not-exists", "-o", "json").ExpectCode(t, 0, "Client \"Raw\" (ClientApplication/"+app.ID()+") already exists in project "+
		fmt.Sprintf("%q (%s)", srv.Seed.ProjectName, srv.Seed.ProjectID)+".\n")
	if out := e.Run("clients", "create", "Raw", "--if-not-exists", "-o", "json").Stdout; out != server() {
		t.Errorf("create --if-not-exists -o json:\n%s\nwant:\n%s", out, server())
	}
	r = e.Run("clients", "rotate-secret", "Raw", "-o", "json")
	if r.Code != 0 || r.Stdout != server() {
		t.Errorf("rotate-secret -o json: %+v\nwant:\n%s", r, server())
	}

	// -o yaml, --jq and --template: the same document, through
	// commands/output (create --if-not-exists gives the same one each time).
	clitest.ExpectDocumentFlagsStderr(t, e, srv, "Client \"Raw\" (ClientApplication/"+app.ID()+") already exists in project "+
		fmt.Sprintf("%q (%s)", srv.Seed.ProjectName, srv.Seed.ProjectID)+".\n", "clients", "create", "Raw", "--if-not-exists")
	for _, cmd := range []string{"create", "rotate-secret"} {
		if help := e.Run("clients", cmd, "--help").ExpectCode(t, 0, ""); !strings.Contains(help, "(e.g. '.secret')") {
			t.Errorf("clients %s --help has another --jq example:\n%s", cmd, help)
		}
	}
	e.Run("clients", "create", "Raw", "--if-not-exists", "--jq", ".secret").Expect(t, 0, srv.Resource("ClientApplication", app.ID()).String("secret")+"\n", "Client \"Raw\" (ClientApplication/"+app.ID()+") already exists in project "+
		fmt.Sprintf("%q (%s)", srv.Seed.ProjectName, srv.Seed.ProjectID)+".\n")
	// rotate-secret makes a new secret each time: its --jq sees the new one.
	rotated := "Rotated the secret of client \"Raw\" (ClientApplication/" + app.ID() + "). The old secret keeps signing in until: medplum clients rotate-secret " + app.ID() + " --finish\n"
	e.Run("clients", "rotate-secret", "Raw", "--finish").ExpectCode(t, 0, "Retired the old secret of client \"Raw\" (ClientApplication/"+app.ID()+"): only the current secret signs in now.\n")
	r = e.Run("clients", "rotate-secret", "Raw", "--jq", "[.id, .secret, .retiringSecret] | join(\" \")")
	cur := srv.Resource("ClientApplication", app.ID())
	r.Expect(t, 0, app.ID()+" "+cur.String("secret")+" "+cur.String("retiringSecret")+"\n", rotated)
	e.Run("clients", "rotate-secret", "Raw", "--finish").ExpectCode(t, 0, "Retired the old secret of client \"Raw\" (ClientApplication/"+app.ID()+"): only the current secret signs in now.\n")
	r = e.Run("clients", "rotate-secret", "Raw", "-o", "yaml")
	r.Expect(t, 0, yamlOf(t, server()), rotated)
	srv.ResetRequests()
	e.Run("clients", "rotate-secret", "Raw", "--template", "{{.secret").Expect(t, 2, "", "medplum: invalid --template: line 1: unclosed action\n")
	clitest.ExpectNothingSent(t, srv)
}

// yamlOf is what -o yaml prints for a JSON document.
func yamlOf(t *testing.T, doc string) string {
	t.Helper()
	var b strings.Builder
	if err := output.WriteYAML(&b, []byte(doc)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestSaveProfileFailsAfterTheSecretIsMade: the client (or its new secret)
// exists once the server answered; if storing the sign-in then fails, what
// was asked for on stdout is still printed, and the error says how to save
// the sign-in without making another client.
func TestSaveProfileFailsAfterTheSecretIsMade(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.Admin(t, srv)
	pid := srv.Seed.ProjectID
	proj := fmt.Sprintf("%q (%s)", srv.Seed.ProjectName, pid)
	// The first token request is the admin's sign-in; the second, the new
	// client's, fails.
	srv.Inject(medplumtest.Fault{Method: "POST", Path: "/oauth2/token", Skip: 1, Status: 500})
	r := e.Run("clients", "create", "CI", "--save-profile", "ci", "--insecure-storage", "--show-secret")
	app := clientNamed(t, srv, pid, "CI")
	lbl := "\"CI\" (ClientApplication/" + app.ID() + ")"
	r.Expect(t, 1, app.ID()+"\n"+app.String("secret")+"\n", "Created client "+lbl+" in project "+proj+".\n"+
		"medplum: client "+lbl+" has a new secret, but saving its sign-in in profile ci failed: the server answered 500: Internal Server Error\n"+
		"save the sign-in of the client as it is now: medplum clients create CI --if-not-exists --save-profile ci --insecure-storage\n")

	creds := filepath.Join(e.ConfigDir, "secrets", "credentials.json")
	e.Run("clients", "create", "CI", "--if-not-exists", "--save-profile", "ci", "--insecure-storage").Expect(t, 0, app.ID()+"\n",
		"Client "+lbl+" already exists in project "+proj+".\n"+
			"Signed in as CI (ClientApplication/"+app.ID()+") in project "+srv.Seed.ProjectName+" and saved it in profile ci (the secret is in "+creds+" (readable only by you)): medplum -p ci ...\n")
	if n := len(srv.Resources("ClientApplication", pid)); n != 2 {
		t.Errorf("%d clients", n)
	}

	// The same after a rotation: the new secret is in place, and the
	// hint saves it.
	srv.Inject(medplumtest.Fault{Method: "POST", Path: "/oauth2/token", Skip: 1, Status: 500})
	r = e.Run("clients", "rotate-secret", "CI", "--save-profile", "ci", "--insecure-storage")
	r.Expect(t, 1, app.ID()+"\n", "Rotated the secret of client "+lbl+". The old secret keeps signing in until: medplum clients rotate-secret "+app.ID()+" --finish\n"+
		"medplum: client "+lbl+" has a new secret, but saving its sign-in in profile ci failed: the server answered 500: Internal Server Error\n"+
		"save the sign-in of the client as it is now: medplum clients create CI --if-not-exists --save-profile ci --insecure-storage\n")
}

// In a project whose id starts with "eb" and a digit (one in about 400),
// clients list shows the project's clients: a search with _project=<id>
// finds nothing there, because Medplum reads "eb" as the search prefix
// "ends before" (captures 178, 179).
func TestClientsListInAnEBProject(t *testing.T) {
	tg := clitest.NewTarget(t)
	name := tg.Unique("clients-eb")
	eb := tg.NewProject(t, clitest.RandomID("eb1"), name)
	e := eb.SignedIn(t)
	e.Run("clients", "list", "--columns", "name,admin").Expect(t, 0, "NAME\tADMIN\n"+name+" admin client\ttrue\n", "")
}

// --access-policy takes a policy's name too, as invite, bot create and
// members set-access do (membership.Policies); a value that names no
// policy of the project, or several, is exit 2 before anything is written.
func TestCreateAccessPolicyByName(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := provtest.Admin(t, srv)
	pid := srv.Seed.ProjectID
	ro := srv.Create(pid, client.Resource{"resourceType": "AccessPolicy", "name": "Read only"})
	twin1 := srv.Create(pid, client.Resource{"resourceType": "AccessPolicy", "name": "Twin"})
	twin2 := srv.Create(pid, client.Resource{"resourceType": "AccessPolicy", "name": "Twin"})
	project := fmt.Sprintf("%q (%s)", srv.Seed.ProjectName, pid)

	for _, tc := range []struct{ name, policy string }{{"ci reader", "Read only"}, {"by id", ro.ID()}, {"by ref", "AccessPolicy/" + ro.ID()}} {
		r := e.Run("clients", "create", tc.name, "--access-policy", tc.policy)
		app := clientNamed(t, srv, pid, tc.name)
		r.Expect(t, 0, app.ID()+"\n", fmt.Sprintf("Created client %q (ClientApplication/%s) in project %s.\n", tc.name, app.ID(), project)+
			"The secret was not printed: use --show-secret or -o json to see it, or --save-profile to keep it.\n")
		if got := membershipOf(srv, pid, app.ID()).Ref("accessPolicy"); got != "AccessPolicy/"+ro.ID() {
			t.Errorf("%s: membership's accessPolicy %q, want AccessPolicy/%s", tc.name, got, ro.ID())
		}
	}

	srv.ResetRequests()
	e.Run("clients", "create", "x", "--access-policy", "Nobody").Expect(t, 2, "",
		"medplum: --access-policy Nobody: no access policy named \"Nobody\", nor with that id, in the project; nothing was created\n")
	e.Run("clients", "create", "x", "--access-policy", "Twin").Expect(t, 2, "",
		fmt.Sprintf("medplum: --access-policy Twin: 2 access policies of the project are named \"Twin\" (AccessPolicy/%s, AccessPolicy/%s); give the id of one; nothing was created\n", twin1.ID(), twin2.ID()))
	e.Run("clients", "create", "x", "--access-policy", "AccessPolicy/"+srv.Seed.ProjectID).Expect(t, 2, "",
		fmt.Sprintf("medplum: --access-policy AccessPolicy/%s: no access policy AccessPolicy/%s in the project; nothing was created\n", pid, pid))
	provtest.ExpectWrites(t, srv)
}

// On the server (make test-real too): clients create --access-policy takes
// the policy's name, and the shell completes that name and the project's
// id.
func TestCreateAccessPolicyByNameOnTarget(t *testing.T) {
	tg := clitest.NewTarget(t)
	name := tg.Unique("clients-policy")
	sub := tg.NewProject(t, "", name)
	e := sub.SignedIn(t)
	pid := sub.ProjectID
	pol, err := sub.API(t).CreateResource(context.Background(), client.Resource{"resourceType": "AccessPolicy", "name": "Read only",
		"resource": []any{map[string]any{"resourceType": "Patient", "readonly": true}}})
	if err != nil {
		t.Fatal(err)
	}

	e.Run("__complete", "clients", "create", "ci reader", "--access-policy", "read").Expect(t, 0,
		"Read only\t"+pol.ID()+"\n:4\n", "Completion ended with directive: ShellCompDirectiveNoFileComp\n")
	e.Run("__complete", "clients", "create", "ci reader", "--project", pid[:8]).Expect(t, 0,
		pid+"\t"+name+"\n:4\n", "Completion ended with directive: ShellCompDirectiveNoFileComp\n")

	r := e.Run("clients", "create", "ci reader", "--access-policy", "Read only")
	id := strings.TrimSpace(r.Stdout)
	r.Expect(t, 0, id+"\n", fmt.Sprintf("Created client \"ci reader\" (ClientApplication/%s) in project %q (%s).\n", id, name, pid)+
		"The secret was not printed: use --show-secret or -o json to see it, or --save-profile to keep it.\n")
	e.Run("clients", "list", "--columns", "name,access_policy", "--no-header").Expect(t, 0,
		name+" admin client\t\nci reader\tAccessPolicy/"+pol.ID()+"\n", "")
	e.Run("clients", "create", "other", "--access-policy", "Read-only").Expect(t, 2, "",
		"medplum: --access-policy Read-only: no access policy named \"Read-only\", nor with that id, in the project; nothing was created\n")
}
