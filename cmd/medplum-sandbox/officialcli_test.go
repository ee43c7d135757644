package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/commands/clitest"
)

// Conformance with a client nobody here wrote: the official @medplum/cli
// 4.3.13 (pinned in testdata/official-cli) runs against the sandbox binary.
// Every place it fails is a place where medplumtest is not yet Medplum.

const officialCLIDir = "../../testdata/official-cli"

// officialCLI returns the installed official CLI, skipping when node is
// absent and failing when node is there but the package is not installed.
func officialCLI(t *testing.T) (node, cli string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the official-CLI conformance test needs Node.js >= 20.19")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	if !nodeAtLeast(strings.TrimSpace(string(out)), 20, 19) {
		t.Fatalf("node %s is too old for @medplum/cli 4.3.13 (needs ^20.19.0 || >=22.12.0)", strings.TrimSpace(string(out)))
	}
	cli, _ = filepath.Abs(filepath.Join(officialCLIDir, "node_modules", "@medplum", "cli", "dist", "cjs", "index.cjs"))
	if _, err := os.Stat(cli); err != nil {
		t.Fatalf("the official CLI is not installed (%v): run make official-cli", err)
	}
	return node, cli
}

func nodeAtLeast(v string, major, minor int) bool {
	parts := strings.Split(strings.TrimPrefix(v, "v"), ".")
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

// officialRunner runs the official CLI in an isolated HOME and working
// directory (it writes ~/.medplum/ and reads ./.env).
type officialRunner struct {
	t         *testing.T
	node, cli string
	home      string
}

func (r *officialRunner) run(args ...string) (stdout, stderr string, code int) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.node, append([]string{r.cli}, args...)...)
	cmd.Dir = r.home
	cmd.Env = []string{"HOME=" + r.home, "PATH=" + os.Getenv("PATH"), "NO_COLOR=1"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		r.t.Fatalf("medplum %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// ok runs a command that must exit 0 with nothing on stderr.
func (r *officialRunner) ok(args ...string) string {
	r.t.Helper()
	stdout, stderr, code := r.run(args...)
	if code != 0 || stderr != "" {
		r.t.Fatalf("medplum %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not JSON (%v):\n%s", err, s)
	}
	return m
}

func entries(b map[string]any) []map[string]any {
	var out []map[string]any
	list, _ := b["entry"].([]any)
	for _, e := range list {
		out = append(out, e.(map[string]any)["resource"].(map[string]any))
	}
	return out
}

func display(r map[string]any, field string) string {
	m, _ := r[field].(map[string]any)
	s, _ := m["display"].(string)
	return s
}

// seedHomerPayload is the seed document's JSON payload for inviting Homer
// (user-management-guide.txt, "Invite via API").
const seedHomerPayload = `{
  "resourceType": "Patient",
  "firstName": "Homer",
  "lastName": "Simpson",
  "email": "homer@example.com",
  "sendEmail": false
}`

func TestOfficialCLI(t *testing.T) {
	node, cli := officialCLI(t)
	const clientID, clientSecret = "official-cli-client", "official-cli-secret"
	sb := startSandbox(t, "--print-env", "--invite-cost", "0", "--client-id", clientID, "--client-secret", clientSecret)
	r := &officialRunner{t: t, node: node, cli: cli, home: t.TempDir()}
	tok := clientToken(t, sb.url, clientID, clientSecret) // for checking the sandbox's state
	projectID := getJSON(t, sb.url, tok, "auth/me")["project"].(map[string]any)["id"].(string)

	// login --auth-type client-credentials
	if out := r.ok("login", "--auth-type", "client-credentials", "--base-url", sb.url,
		"--client-id", clientID, "--client-secret", clientSecret); out != "" {
		t.Errorf("login printed %q", out)
	}
	saved := decodeJSON(t, readFile(t, filepath.Join(r.home, ".medplum", "default.json")))
	var active map[string]any
	if err := json.Unmarshal([]byte(saved["activeLogin"].(string)), &active); err != nil || active["accessToken"] == "" {
		t.Fatalf("no activeLogin after login: %v", saved)
	}

	// whoami
	out := r.ok("whoami")
	want := "Server:  " + sb.url + "\nProfile: Sandbox Project Admin Client (ClientApplication/" + clientID + ")\n" +
		// The real server's client_credentials answer has no project display either.
		"Project: undefined (Project/" + projectID + ")\n"
	if out != want {
		t.Errorf("whoami:\n%s\nwant:\n%s", out, want)
	}

	// get ProjectMembership
	all := entries(decodeJSON(t, r.ok("get", "ProjectMembership")))
	if len(all) != 4 {
		t.Fatalf("get ProjectMembership: %d entries, want 4", len(all))
	}

	// get 'ProjectMembership?profile-type=Patient'
	patients := entries(decodeJSON(t, r.ok("get", "ProjectMembership?profile-type=Patient")))
	if len(patients) != 1 || display(patients[0], "profile") != "Homer Simpson" {
		t.Fatalf("patients: %v", patients)
	}
	homerMid := patients[0]["id"].(string)

	// delete (Homer is seeded; remove him so that the seed's invite can run verbatim)
	outcome := decodeJSON(t, r.ok("delete", "admin/projects/"+projectID+"/members/"+homerMid))
	if outcome["id"] != "ok" {
		t.Errorf("delete: %v", outcome)
	}
	if status, _ := fetchJSON(t, sb.url, tok, "admin/projects/"+projectID+"/members/"+homerMid); status != 410 {
		t.Errorf("after delete, the membership answers %d, want 410", status)
	}

	// post admin/projects/<id>/invite with the seed's Homer payload
	m := decodeJSON(t, r.ok("post", "admin/projects/"+projectID+"/invite", seedHomerPayload))
	newMid, _ := m["id"].(string)
	if m["resourceType"] != "ProjectMembership" || newMid == "" || newMid == homerMid || display(m, "user") != "homer@example.com" {
		t.Fatalf("invite: %v", m)
	}
	state := entries(getJSON(t, sb.url, tok, "fhir/R4/ProjectMembership?profile-type=Patient"))
	if len(state) != 1 || state[0]["id"] != newMid {
		t.Fatalf("after the invite the sandbox holds %v", state)
	}

	// patch ProjectMembership/<id> with a JSON Patch
	m = decodeJSON(t, r.ok("patch", "ProjectMembership/"+newMid, `[{"op":"add","path":"/admin","value":true}]`))
	if m["admin"] != true {
		t.Errorf("patch answered %v", m)
	}
	if got := getJSON(t, sb.url, tok, "fhir/R4/ProjectMembership/"+newMid); got["admin"] != true {
		t.Errorf("after patch the sandbox holds %v", got)
	}
	// A replace of a missing member fails like the real server.
	_, stderr, code := r.run("patch", "ProjectMembership/"+newMid, `[{"op":"replace","path":"/externalId","value":"x"}]`)
	if code != 1 || !strings.Contains(stderr, "Value required at path: /externalId") {
		t.Errorf("replace of a missing field: exit %d, stderr %q", code, stderr)
	}

	// project invite
	if out := r.ok("project", "invite", "Marge", "Simpson", "marge@example.com"); out != "See your users at https://app.medplum.com/admin/users\n" {
		t.Errorf("project invite printed %q", out)
	}
	var margeMid string
	for _, pm := range entries(getJSON(t, sb.url, tok, "fhir/R4/ProjectMembership?profile-type=Practitioner")) {
		if display(pm, "user") == "marge@example.com" {
			margeMid = pm["id"].(string)
			if pm["admin"] != false || display(pm, "profile") != "Marge Simpson" { // the CLI sends admin:false
				t.Errorf("Marge's membership: %v", pm)
			}
		}
	}
	if margeMid == "" {
		t.Fatal("project invite did not create Marge's membership")
	}
	// delete a FHIR resource
	if out := decodeJSON(t, r.ok("delete", "ProjectMembership/"+margeMid)); out["id"] != "ok" {
		t.Errorf("delete: %v", out)
	}
	if status, _ := fetchJSON(t, sb.url, tok, "fhir/R4/ProjectMembership/"+margeMid); status != 410 {
		t.Errorf("after delete: %d, want 410", status)
	}

	// bulk import sends transaction Bundles to fhir/R4.
	before := getJSON(t, sb.url, tok, "fhir/R4/Patient?_count=0&_total=accurate")["total"].(float64)
	ndjson := filepath.Join(r.home, "patients.ndjson")
	if err := os.WriteFile(ndjson, []byte(`{"resourceType":"Patient","name":[{"family":"Van Houten"}]}`+"\n"+
		`{"resourceType":"Patient","name":[{"family":"Prince"}]}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := r.ok("bulk", "import", ndjson); strings.Count(out, `"status": "201"`) != 2 {
		t.Errorf("bulk import printed:\n%s", out)
	}
	if after := getJSON(t, sb.url, tok, "fhir/R4/Patient?_count=0&_total=accurate")["total"].(float64); after != before+2 {
		t.Errorf("after bulk import %v patients, want %v", after, before+2)
	}

	// An error from the server reaches the user as the official CLI prints it.
	_, stderr, code = r.run("post", "admin/projects/"+projectID+"/invite", seedHomerPayload)
	if code != 1 || !regexp.MustCompile(`Error: User is already a member of this project`).MatchString(stderr) {
		t.Errorf("duplicate invite: exit %d, stderr %q", code, stderr)
	}
	sb.stop(t)
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// signedInBoth starts a sandbox with a project-admin client, and signs both
// CLIs in to it with that client: ours through the environment, the
// official one with its login (client credentials), in the same HOME.
func signedInBoth(t *testing.T, clientID, clientSecret string) (*sandbox, *clitest.Env, *officialRunner) {
	t.Helper()
	node, cli := officialCLI(t)
	sb := startSandbox(t, "--invite-cost", "0", "--client-id", clientID, "--client-secret", clientSecret)
	e := clitest.New(t)
	e.Set("MEDPLUM_BASE_URL", sb.url).Set("MEDPLUM_CLIENT_ID", clientID).Set("MEDPLUM_CLIENT_SECRET", clientSecret)
	r := &officialRunner{t: t, node: node, cli: cli, home: e.Home}
	r.ok("login", "--auth-type", "client-credentials", "--base-url", sb.url, "--client-id", clientID, "--client-secret", clientSecret)
	return sb, e, r
}

// The official CLI's bot commands against the sandbox, then ours on the
// same medplum.config.json: both tools read and write the file alike and
// agree on what the server holds.
func TestOfficialCLIBots(t *testing.T) {
	const clientID, clientSecret = "official-bot-client", "official-bot-secret"
	sb, e, r := signedInBoth(t, clientID, clientSecret)
	tok := clientToken(t, sb.url, clientID, clientSecret)
	projectID := getJSON(t, sb.url, tok, "auth/me")["project"].(map[string]any)["id"].(string)
	files := map[string]string{
		"src/greet.ts":  "export async function handler(medplum, event) { return 'hello ' + event.input; }\n",
		"dist/greet.js": "exports.handler = async function (medplum, event) { return 'hello ' + event.input; };\n",
	}
	for name, content := range files {
		if err := os.MkdirAll(filepath.Join(e.Home, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.Home, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code := func(id string) string {
		bot := getJSON(t, sb.url, tok, "fhir/R4/Bot/"+id)
		u := bot["executableCode"].(map[string]any)["url"].(string)
		resp, err := http.Get(u) // a presigned storage URL
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	// bot create <name> <projectId> <source> <dist>: the official form.
	out := r.ok("bot", "create", "greet", projectID, "src/greet.ts", "dist/greet.js")
	m := regexp.MustCompile(`Success! Bot created: ([0-9a-f-]{36})\n`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "Deploy result: All OK\n") || !strings.Contains(out, "Bot added to config: "+m[1]+"\n") {
		t.Fatalf("bot create printed:\n%s", out)
	}
	id := m[1]
	cfg := decodeJSON(t, readFile(t, filepath.Join(e.Home, "medplum.config.json")))
	if fmt.Sprint(cfg["bots"]) != fmt.Sprintf("[map[dist:dist/greet.js id:%s name:greet source:src/greet.ts]]", id) {
		t.Errorf("medplum.config.json: %v", cfg)
	}
	if got := code(id); got != files["dist/greet.js"] {
		t.Errorf("deployed %q", got)
	}

	// Ours agrees: nothing to deploy, and the bot is listed as the config's.
	e.Run("bot", "deploy", "greet").Expect(t, 0, fmt.Sprintf("%-13sgreet (Bot/%s)\n", "unchanged", id), "1 bot: 1 unchanged.\n")
	if out := e.Run("bot", "list", "--columns", "name,config").Stdout; !strings.Contains(out, "greet\tgreet\n") {
		t.Errorf("bot list:\n%s", out)
	}

	// The official bot save and bot deploy, by pattern, after a change.
	newDist := "exports.handler = async function (medplum, event) { return 'hi ' + event.input; };\n"
	if err := os.WriteFile(filepath.Join(e.Home, "dist/greet.js"), []byte(newDist), 0o644); err != nil {
		t.Fatal(err)
	}
	out = r.ok("bot", "save", "gr*")
	if !strings.Contains(out, "Saving source code...\nUpdating bot...\nSuccess! New bot version: ") || !strings.HasSuffix(out, "Number of bots saved: 1\nNumber of bots deployed: 0\nNumber of errors: 0\n") {
		t.Errorf("bot save printed:\n%s", out)
	}
	out = r.ok("bot", "deploy", "greet")
	if !strings.Contains(out, "Deploy result: All OK\n") || !strings.HasSuffix(out, "Number of bots saved: 1\nNumber of bots deployed: 1\nNumber of errors: 0\n") {
		t.Errorf("bot deploy printed:\n%s", out)
	}
	if got := code(id); got != newDist {
		t.Errorf("after the official deploy the bot runs %q", got)
	}
	e.Run("bot", "deploy", "*").Expect(t, 0, fmt.Sprintf("%-13sgreet (Bot/%s)\n", "unchanged", id), "1 bot: 1 unchanged.\n")
	sb.stop(t)
}

// The official CLI's bulk export against the sandbox (it POSTs the system
// $export, polls every second, downloads each output with its token), then
// ours in another directory: the same file names for the same types, and
// the same resources in them.
func TestOfficialCLIBulkExport(t *testing.T) {
	_, e, r := signedInBoth(t, "official-bulk-client", "official-bulk-secret")
	if err := os.Mkdir(filepath.Join(e.Home, "official"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := r.ok("bulk", "export", "-d", "official")
	e.Run("bulk", "export", "-d", "ours", "-q").ExpectCode(t, 0, "")

	// Each tool's files: type -> sorted ids, from "<type>_storage_..." names.
	read := func(dir string) map[string]string {
		got := map[string]string{}
		names, _ := filepath.Glob(filepath.Join(e.Home, dir, "*_storage_*.ndjson"))
		for _, name := range names {
			typ, _, _ := strings.Cut(filepath.Base(name), "_storage_")
			var ids []string
			for line := range strings.Lines(readFile(t, name)) {
				ids = append(ids, decodeJSON(t, line)["id"].(string))
			}
			sort.Strings(ids)
			got[typ] = strings.Join(ids, ",")
		}
		return got
	}
	official, ours := read("official"), read("ours")
	if len(official) < 4 || fmt.Sprint(official) != fmt.Sprint(ours) {
		t.Errorf("the official export (printed %q) holds\n%v\nours\n%v", out, official, ours)
	}
	if strings.Count(out, " is created\n") != len(official) {
		t.Errorf("the official CLI printed:\n%s", out)
	}
}

// The official CLI's bulk import against the sandbox: 30 lines of NDJSON
// in transactions of 25 (its default), each entry answered on its own.
func TestOfficialCLIBulkImport(t *testing.T) {
	const clientID, clientSecret = "official-import-client", "official-import-secret"
	sb, e, r := signedInBoth(t, clientID, clientSecret)
	var lines strings.Builder
	for i := range 30 {
		fmt.Fprintf(&lines, `{"resourceType":"Patient","id":"old-%d","name":[{"family":"OfficialImport","given":["%d"]}]}`+"\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(e.Home, "patients.ndjson"), []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out := r.ok("bulk", "import", "patients.ndjson")
	if n := strings.Count(out, `"status": "201"`); n != 30 {
		t.Errorf("the official import printed %d created entries:\n%s", n, out)
	}
	tok := clientToken(t, sb.url, clientID, clientSecret)
	got := getJSON(t, sb.url, tok, "fhir/R4/Patient?family=OfficialImport&_count=100")
	if n := len(entries(got)); n != 30 {
		t.Errorf("%d Patients on the server after the official import, want 30", n)
	}
}
