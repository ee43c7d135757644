package bot_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
	"github.com/medplumcli/medplum/commands/internal/provtest"
)

func TestMain(m *testing.M) { clitest.Main(m) }

// write puts files in the environment's working directory.
func write(t *testing.T, e *clitest.Env, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(e.Home, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func read(t *testing.T, e *clitest.Env, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.Home, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func src(name string) string  { return "export async function handler() { return '" + name + "'; }\n" }
func dist(name string) string { return "exports.handler = async () => '" + name + "';\n" }

// project is a sandbox with bots created through `bot create`, each with
// src/<name>.ts and dist/<name>.js, and the medplum.config.json it wrote.
type project struct {
	t   *testing.T
	srv *medplumtest.Server
	e   *clitest.Env
	ids map[string]string
}

func newProject(t *testing.T, names ...string) *project {
	t.Helper()
	srv := medplumtest.NewServer(t)
	p := &project{t: t, srv: srv, e: clitest.SignedIn(t, srv), ids: map[string]string{}}
	for _, n := range names {
		p.create(n)
	}
	srv.ResetRequests()
	return p
}

func (p *project) create(name string) string {
	p.t.Helper()
	write(p.t, p.e, map[string]string{"src/" + name + ".ts": src(name), "dist/" + name + ".js": dist(name)})
	r := p.e.Run("bot", "create", name, "--source", "src/"+name+".ts", "--dist", "dist/"+name+".js")
	id := strings.TrimSpace(r.Stdout)
	if r.Code != 0 || p.srv.Resource("Bot", id) == nil {
		p.t.Fatalf("bot create %s: %+v", name, r)
	}
	p.ids[name] = id
	return id
}

// line is a result line of save/deploy.
func (p *project) line(result, name, detail string) string {
	s := fmt.Sprintf("%-13s%s (Bot/%s)", result, name, p.ids[name])
	if detail != "" {
		s += ": " + detail
	}
	return s + "\n"
}

// deployed returns the code a bot runs and its file name.
func (p *project) deployed(name string) (string, string) {
	p.t.Helper()
	exec, _ := p.srv.Resource("Bot", p.ids[name])["executableCode"].(map[string]any)
	if exec == nil {
		return "", ""
	}
	data, _, ok := p.srv.BinaryContent(strings.TrimPrefix(exec["url"].(string), "Binary/"))
	if !ok {
		p.t.Fatalf("%s: no Binary behind %v", name, exec)
	}
	return string(data), exec["title"].(string)
}

func (p *project) saved(name string) string {
	p.t.Helper()
	sc, _ := p.srv.Resource("Bot", p.ids[name])["sourceCode"].(map[string]any)
	data, _, _ := p.srv.BinaryContent(strings.TrimPrefix(sc["url"].(string), "Binary/"))
	return string(data)
}

func TestCreateWritesConfigAndDeploys(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	pid := srv.Seed.ProjectID
	proj := fmt.Sprintf("%q (%s)", srv.Seed.ProjectName, pid)
	// The file's other keys and entries stay as they are, in their order.
	write(t, e, map[string]string{
		"medplum.config.json": `{"baseUrl": "https://api.example.com/", "bots": [{"name": "old", "id": "11111111-1111-4111-8111-111111111111", "source": "old.ts"}], "clientId": "x"}` + "\n",
		"src/hello.ts":        src("hello"),
		"dist/hello.js":       dist("hello"),
	})
	r := e.Run("bot", "create", "hello", "--source", "src/hello.ts", "--dist", "dist/hello.js", "--description", "says hello")
	id := strings.TrimSpace(r.Stdout)
	r.Expect(t, 0, id+"\n", fmt.Sprintf("Created bot \"hello\" (Bot/%s) in project %s.\nAdded it to medplum.config.json.\nSaved src/hello.ts and deployed dist/hello.js.\n", id, proj))
	want := `{
  "baseUrl": "https://api.example.com/",
  "bots": [
    {
      "name": "old",
      "id": "11111111-1111-4111-8111-111111111111",
      "source": "old.ts"
    },
    {
      "name": "hello",
      "id": "` + id + `",
      "source": "src/hello.ts",
      "dist": "dist/hello.js"
    }
  ],
  "clientId": "x"
}
`
	if got := read(t, e, "medplum.config.json"); got != want {
		t.Errorf("medplum.config.json:\n%s\nwant:\n%s", got, want)
	}
	p := &project{t: t, srv: srv, e: e, ids: map[string]string{"hello": id}}
	if code, title := p.deployed("hello"); code != dist("hello") || title != "hello.js" {
		t.Errorf("deployed %q as %q", code, title)
	}
	if got := p.saved("hello"); got != src("hello") {
		t.Errorf("saved source %q", got)
	}
	bot := srv.Resource("Bot", id)
	if bot["description"] != "says hello" || bot["meta"].(map[string]any)["project"] != pid {
		t.Errorf("bot: %v", bot)
	}
	var member client.Resource
	for _, m := range srv.Memberships(pid) {
		if m.Ref("profile") == "Bot/"+id {
			member = m
		}
	}
	if member == nil {
		t.Errorf("no membership for the bot")
	}

	// The access policy of its membership, by name.
	pol := srv.Create(pid, client.Resource{"resourceType": "AccessPolicy", "name": "Intake bots"})
	r = e.Run("bot", "create", "intake", "--access-policy", "Intake bots", "--no-write-config")
	intake := strings.TrimSpace(r.Stdout)
	r.Expect(t, 0, intake+"\n", fmt.Sprintf("Created bot \"intake\" (Bot/%s) in project %s.\n", intake, proj))
	for _, m := range srv.Memberships(pid) {
		if m.Ref("profile") == "Bot/"+intake && m.Ref("accessPolicy") != "AccessPolicy/"+pol.ID() {
			t.Errorf("intake's membership: %v", m)
		}
	}

	// A bot without files: created, not added to the config.
	r = e.Run("bot", "create", "empty", "--runtime", "awslambda")
	id2 := strings.TrimSpace(r.Stdout)
	r.Expect(t, 0, id2+"\n", fmt.Sprintf("Created bot \"empty\" (Bot/%s) in project %s.\n", id2, proj)+
		"Not added to medplum.config.json (no --source); to add it and deploy its code: medplum bot create empty --if-not-exists --source FILE [--dist FILE]\n")
	if got := read(t, e, "medplum.config.json"); got != want {
		t.Errorf("the config changed for a bot without files:\n%s", got)
	}
	if rt := srv.Resource("Bot", id2)["runtimeVersion"]; rt != "awslambda" {
		t.Errorf("runtime %v", rt)
	}
}

func TestCreateRefusesBeforeCreating(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	write(t, e, map[string]string{"src/a.ts": src("a"), "medplum.config.json": `{"bots":[{"name":"taken","id":"11111111-1111-4111-8111-111111111111","source":"src/a.ts"}]}`})
	before := srv.Count("Bot", "")
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"taken", "--source", "src/a.ts"}, 2, "medplum: medplum.config.json:1 (bots[0] \"taken\"): there is no Bot/11111111-1111-4111-8111-111111111111 on the server (or you may not read it); nothing was created\n" +
			"check that you are signed in to the project medplum.config.json is for; if so, correct the entry's id or remove the entry\n"},
		{[]string{"Sandbox Bot"}, 2, fmt.Sprintf("medplum: project %q (%s) already has a bot named \"Sandbox Bot\" (%s); nothing was created\n", srv.Seed.ProjectName, srv.Seed.ProjectID, srv.Seed.Bot.Profile) +
			"to add that bot to medplum.config.json and deploy its code, add --if-not-exists\n"},
		{[]string{"new", "--source", "src/missing.ts"}, 2, "medplum: source file src/missing.ts does not exist; nothing was sent\n"},
		{[]string{"new", "--dist", "d.js"}, 2, "medplum: --dist needs --source: medplum.config.json lists both, and bot save uploads the source\nRun 'medplum bot create --help' for usage.\n"},
		{[]string{"new", "--runtime", "python"}, 2, "medplum: --runtime \"python\": want vmcontext or awslambda\nRun 'medplum bot create --help' for usage.\n"},
		{[]string{"new", srv.Seed.SuperAdminProjectID, "src/a.ts", "src/a.ts"}, 2, fmt.Sprintf("medplum: project %s: you are signed in to project %q (%s), and Medplum creates a bot in the project of the credentials (a super admin's too); nothing was created\n", srv.Seed.SuperAdminProjectID, srv.Seed.ProjectName, srv.Seed.ProjectID)},
		{[]string{"new", "--access-policy", "Nobody"}, 2, "medplum: --access-policy Nobody: no access policy named \"Nobody\", nor with that id, in the project; nothing was created\n"},
		{[]string{"new", "x", "y"}, 2, "medplum: medplum bot create takes a name (and, as the official CLI, <project-id> <source> <dist>), got 3 arguments\nRun 'medplum bot create --help' for usage.\n"},
	} {
		srv.ResetRequests()
		e.Run(append([]string{"bot", "create"}, tc.args...)...).Expect(t, tc.code, "", tc.stderr)
		provtest.ExpectWrites(t, srv)
	}
	if n := srv.Count("Bot", ""); n != before {
		t.Errorf("%d bots, want %d", n, before)
	}
}

func TestDeployOnlyWhatChanged(t *testing.T) {
	p := newProject(t, "alpha", "beta", "gamma")
	e := p.e
	e.Run("bot", "deploy", "*").Expect(t, 0,
		p.line("unchanged", "alpha", "")+p.line("unchanged", "beta", "")+p.line("unchanged", "gamma", ""),
		"3 bots: 3 unchanged.\n")
	provtest.ExpectWrites(t, p.srv)

	// A new build of beta and a new source of gamma.
	write(t, e, map[string]string{"dist/beta.js": dist("beta 2"), "src/gamma.ts": src("gamma 2")})
	e.Run("bot", "deploy", "*", "--dry-run").Expect(t, 6,
		p.line("unchanged", "alpha", "")+p.line("would deploy", "beta", "code changed")+p.line("would save", "gamma", "source changed"),
		"3 bots: 1 would deploy, 1 would save, 1 unchanged.\nmedplum: dry run: changes are pending; nothing was sent\n")
	provtest.ExpectWrites(t, p.srv)

	e.Run("bot", "deploy", "*").Expect(t, 0,
		p.line("unchanged", "alpha", "")+p.line("deployed", "beta", "code changed")+p.line("saved", "gamma", "source changed"),
		"3 bots: 1 deployed, 1 saved, 1 unchanged.\n")
	// Bots go out in parallel: each one's requests in order, not the whole.
	expectWritesOf(t, p.srv, p.ids["beta"], "POST /fhir/R4/Bot/"+p.ids["beta"]+"/$deploy")
	expectWritesOf(t, p.srv, p.ids["gamma"], "POST /fhir/R4/Binary", "PATCH /fhir/R4/Bot/"+p.ids["gamma"])
	if n := len(provtest.Writes(p.srv)); n != 3 {
		t.Errorf("%d writes, want 3", n)
	}
	if code, _ := p.deployed("beta"); code != dist("beta 2") {
		t.Errorf("beta runs %q", code)
	}
	if got := p.saved("gamma"); got != src("gamma 2") {
		t.Errorf("gamma's source %q", got)
	}

	// --force sends everything; a plain name picks one bot.
	p.srv.ResetRequests()
	e.Run("bot", "deploy", "alpha", "--force").Expect(t, 0, p.line("deployed", "alpha", "forced (unchanged)"), "1 bot: 1 deployed.\n")
	// The code goes first: a deploy the server refuses leaves the source as it was.
	provtest.ExpectWrites(t, p.srv, "POST /fhir/R4/Bot/"+p.ids["alpha"]+"/$deploy", "POST /fhir/R4/Binary", "PATCH /fhir/R4/Bot/"+p.ids["alpha"])

	// A renamed build (another file name) is deployed again: the server
	// picks the module type from the name.
	write(t, e, map[string]string{"dist/alpha.cjs": dist("alpha")})
	cfg := strings.Replace(read(t, e, "medplum.config.json"), "dist/alpha.js", "dist/alpha.cjs", 1)
	write(t, e, map[string]string{"medplum.config.json": cfg})
	e.Run("bot", "deploy", "alpha").Expect(t, 0, p.line("deployed", "alpha", "code changed"), "1 bot: 1 deployed.\n")
	if _, title := p.deployed("alpha"); title != "alpha.cjs" {
		t.Errorf("title %q", title)
	}
}

// --force sends a bot whose files equal the server's copy: its line says
// it was forced, not that something changed.
func TestForceSaysUnchanged(t *testing.T) {
	p := newProject(t, "f1")
	p.e.Run("bot", "deploy", "f1", "--force").Expect(t, 0, p.line("deployed", "f1", "forced (unchanged)"), "1 bot: 1 deployed.\n")
	p.e.Run("save-bot", "*", "--force").Expect(t, 0, p.line("saved", "f1", "forced (unchanged)"),
		"medplum: save-bot is deprecated; use: medplum bot save\n1 bot: 1 saved.\n")
	// A new build with --force: what changed is named, and what did not is
	// said to be forced.
	write(t, p.e, map[string]string{"dist/f1.js": dist("f1 v2")})
	p.e.Run("bot", "deploy", "f1", "--force").Expect(t, 0, p.line("deployed", "f1", "code changed; source forced (unchanged)"), "1 bot: 1 deployed.\n")
	// -o json names what was forced, and nothing as changed.
	p.e.Run("bot", "deploy", "f1", "--force", "-o", "json").Expect(t, 0, "[\n  {\n    \"name\": \"f1\",\n    \"id\": \""+p.ids["f1"]+"\",\n"+
		"    \"result\": \"deployed\",\n    \"forced\": [\n      \"source\",\n      \"code\"\n    ],\n"+
		"    \"source\": \"src/f1.ts\",\n    \"dist\": \"dist/f1.js\"\n  }\n]\n", "1 bot: 1 deployed.\n")
}

func TestDeployByPatternOneFails(t *testing.T) {
	p := newProject(t, "lab-a", "lab-b", "lab-c", "other")
	for _, n := range []string{"lab-a", "lab-b", "lab-c", "other"} {
		write(t, p.e, map[string]string{"dist/" + n + ".js": dist(n + " v2")})
	}
	p.srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4/Bot/" + p.ids["lab-b"] + "/$deploy", Status: 500})
	p.e.Run("bot", "deploy", "lab-*").Expect(t, 3,
		p.line("deployed", "lab-a", "code changed")+
			p.line("failed", "lab-b", "the server answered 500: Internal Server Error")+
			p.line("deployed", "lab-c", "code changed"),
		"3 bots: 2 deployed, 1 failed.\nmedplum: 1 of 3 bots failed: lab-b\n")
	for n, want := range map[string]string{"lab-a": dist("lab-a v2"), "lab-b": dist("lab-b"), "lab-c": dist("lab-c v2"), "other": dist("other")} {
		if code, _ := p.deployed(n); code != want {
			t.Errorf("%s runs %q, want %q", n, code, want)
		}
	}
	// Run again: what was deployed is unchanged, the failed one goes out.
	p.e.Run("bot", "deploy", "lab-*").Expect(t, 0,
		p.line("unchanged", "lab-a", "")+p.line("deployed", "lab-b", "code changed")+p.line("unchanged", "lab-c", ""),
		"3 bots: 1 deployed, 2 unchanged.\n")

	// All failing is exit 1; -o json lists the results.
	write(t, p.e, map[string]string{"dist/other.js": dist("other v3")})
	p.srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4/Bot/*/$deploy", Status: 500})
	out := p.e.Run("bot", "deploy", "other", "-o", "json").ExpectCode(t, 1, "1 bot: 1 failed.\nmedplum: bot other failed\n")
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 || got[0]["result"] != "failed" || got[0]["id"] != p.ids["other"] ||
		got[0]["error"] != "the server answered 500: Internal Server Error" {
		t.Errorf("-o json: %s", out)
	}

	// Medplum's fhirInteractions quota (a 429) is waited out: the deploy
	// is the same whenever it is sent.
	p.srv.ResetRequests()
	p.srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4/Bot/*/$deploy", Status: 429, RetryAfter: time.Second})
	p.e.Run("bot", "deploy", "other").Expect(t, 0, p.line("deployed", "other", "code changed"), "1 bot: 1 deployed.\n")
	if n := len(p.srv.RequestsTo("POST", "/fhir/R4/Bot/*/$deploy")); n != 2 {
		t.Errorf("%d deploys sent, want 2 (one refused with 429, then its retry)", n)
	}
	// When the quota stays spent past the retries, the bot's line says so
	// in words, not as the limiter's JSON.
	write(t, p.e, map[string]string{"dist/other.js": dist("other v4")})
	p.srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4/Bot/*/$deploy", Status: 429, RetryAfter: time.Second, Times: 4})
	p.e.Run("bot", "deploy", "other").Expect(t, 1, p.line("failed", "other", "the server is rate limiting requests: try again in 1 second"),
		"1 bot: 1 failed.\nmedplum: bot other failed\n")

	write(t, p.e, map[string]string{"dist/lab-a.js": dist("lab-a v5"), "dist/lab-c.js": dist("lab-c v5")})
	p.srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4/Bot/*/$deploy", Status: 500, Times: 2})
	p.e.Run("bot", "deploy", "lab-a", "lab-c").Expect(t, 1,
		p.line("failed", "lab-a", "the server answered 500: Internal Server Error")+p.line("failed", "lab-c", "the server answered 500: Internal Server Error"),
		"2 bots: 2 failed.\nmedplum: all 2 bots failed\n")
}

func TestDeployRefusesBeforeSending(t *testing.T) {
	p := newProject(t, "one", "two")
	e := p.e
	cfg := read(t, e, "medplum.config.json")
	check := func(code int, stderr string, args ...string) {
		t.Helper()
		p.srv.ResetRequests()
		e.Run(args...).Expect(t, code, "", stderr)
		provtest.ExpectWrites(t, p.srv)
	}
	check(2, "medplum: no bot in medplum.config.json matches \"three\" (it has one, two); nothing was sent\n", "bot", "deploy", "three")
	check(2, "medplum: medplum bot deploy needs the name of a bot in medplum.config.json (or a pattern such as '*')\nRun 'medplum bot deploy --help' for usage.\n", "bot", "deploy")

	// A file missing, and a bot no longer on the server: both named, nothing sent.
	os.Remove(filepath.Join(e.Home, "dist/two.js"))
	deleteBot(t, p, "one")
	check(2, fmt.Sprintf("medplum: medplum.config.json has 2 problems; nothing was sent:\n"+
		"  medplum.config.json:3 (bots[0] \"one\"): Bot/%s was deleted\n"+
		"  medplum.config.json:9 (bots[1] \"two\"): dist file dist/two.js does not exist\n"+
		"remove the entry, or create the bot again and fill in its id: medplum bot create one --if-not-exists\n", p.ids["one"]), "bot", "deploy", "*")
	// save needs no dist.
	check(2, fmt.Sprintf("medplum: medplum.config.json:3 (bots[0] \"one\"): Bot/%s was deleted; nothing was sent\n"+
		"remove the entry, or create the bot again and fill in its id: medplum bot create one --if-not-exists\n", p.ids["one"]), "bot", "save", "*")
	write(t, e, map[string]string{"medplum.config.json": cfg})

	// Bad entries, each with its line.
	write(t, e, map[string]string{"medplum.config.json": "{\n  \"bots\": [\n    {\"name\": \"x\", \"source\": \"src/one.ts\"},\n    {\"name\": \"y\", \"id\": 7, \"source\": \"\"},\n    \"z\"\n  ]\n}\n"})
	check(2, "medplum: medplum.config.json has 4 problems; nothing was sent:\n"+
		"  medplum.config.json:3 (bots[0] \"x\"): \"id\" is missing\n"+
		"  medplum.config.json:4 (bots[1] \"y\"): \"id\" must be a string, not 7\n"+
		"  medplum.config.json:4 (bots[1] \"y\"): \"source\" is empty\n"+
		"  medplum.config.json:5 (bots[2]): an entry must be an object with name, id and source\n"+
		"fill it in with: medplum bot create x --if-not-exists (it uses the project's bot of that name, or creates one)\n"+
		"fill it in with: medplum bot create y --if-not-exists (it uses the project's bot of that name, or creates one)\n"+
		"each entry of \"bots\" needs \"name\", \"id\" and \"source\" (\"dist\", the built file, is optional)\n", "bot", "deploy", "*")
	// Only the commands that need a bad entry refuse it.
	check(2, "medplum: medplum.config.json:3 (bots[0] \"x\"): \"id\" is missing; nothing was sent\n"+
		"fill it in with: medplum bot create x --if-not-exists (it uses the project's bot of that name, or creates one)\n", "bot", "deploy", "x")
	write(t, e, map[string]string{"medplum.config.json": "{\"bots\": [\n"})
	check(2, "medplum: medplum.config.json is not valid JSON: line 1, column 11: unexpected end of JSON input\n", "bot", "deploy", "*")
	os.Remove(filepath.Join(e.Home, "medplum.config.json"))
	check(2, "medplum: no bot \"one\": there is no medplum.config.json in this directory (bot create writes one); nothing was sent\n", "bot", "save", "one")

	// Two entries share a name: a plain name is ambiguous, a pattern is not.
	write(t, e, map[string]string{"medplum.config.json": fmt.Sprintf(`{"bots":[
{"name":"two","id":%q,"source":"src/two.ts"},
{"name":"two","id":%q,"source":"src/two.ts"}]}`, p.ids["two"], p.ids["two"])})
	check(2, fmt.Sprintf("medplum: medplum.config.json: 2 entries are named \"two\" (line 2 (Bot/%s), line 3 (Bot/%s)); rename all but one; nothing was sent\n", p.ids["two"], p.ids["two"]), "bot", "save", "two")
}

func deleteBot(t *testing.T, p *project, name string) {
	t.Helper()
	r := p.e.Run("delete", "Bot/"+p.ids[name])
	if r.Code != 0 || !p.srv.Deleted("Bot", p.ids[name]) {
		t.Fatalf("delete: %+v", r)
	}
}

func TestDeployBotsNotEnabled(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithoutBots())
	e := clitest.SignedIn(t, srv)
	pid := srv.Seed.ProjectID
	write(t, e, map[string]string{"src/a.ts": src("a")})
	hint := fmt.Sprintf("a super admin must add \"bots\" to the project's features, e.g. signed in as a super admin:\n  medplum patch Project/%s '[{\"op\":\"add\",\"path\":\"/features\",\"value\":[\"bots\"]}]'\n", pid)
	msg := fmt.Sprintf("medplum: bots are not enabled in project %q (%s): Medplum answers \"Bots not enabled\" to every deploy; nothing was sent\n", srv.Seed.ProjectName, pid)
	e.Run("bot", "create", "a", "--source", "src/a.ts").Expect(t, 1, "", msg+hint)
	if srv.Count("Bot", pid) != 1 {
		t.Errorf("a bot was created")
	}
	// Created without code, listed by hand: deploy refuses before sending.
	id := strings.TrimSpace(e.Run("bot", "create", "a").Stdout)
	write(t, e, map[string]string{"medplum.config.json": `{"bots":[{"name":"a","id":"` + id + `","source":"src/a.ts"}]}`})
	srv.ResetRequests()
	e.Run("bot", "deploy", "a").Expect(t, 1, "", msg+hint)
	provtest.ExpectWrites(t, srv)
	// Saving needs no feature.
	e.Run("bot", "save", "a").Expect(t, 0, fmt.Sprintf("%-13sa (Bot/%s): source changed\n", "saved", id), "1 bot: 1 saved.\n")
}

func TestSave(t *testing.T) {
	p := newProject(t, "s1")
	p.e.Run("bot", "save", "s1").Expect(t, 0, p.line("unchanged", "s1", ""), "1 bot: 1 unchanged.\n")
	write(t, p.e, map[string]string{"src/s1.ts": src("s1 v2"), "dist/s1.js": dist("s1 v2")})
	p.e.Run("save-bot", "s1").Expect(t, 0, p.line("saved", "s1", "source changed"),
		"medplum: save-bot is deprecated; use: medplum bot save\n1 bot: 1 saved.\n")
	if got := p.saved("s1"); got != src("s1 v2") {
		t.Errorf("source %q", got)
	}
	if code, _ := p.deployed("s1"); code != dist("s1") {
		t.Errorf("save deployed: %q", code)
	}
	p.e.Run("deploy-bot", "s1").Expect(t, 0, p.line("deployed", "s1", "code changed"),
		"medplum: deploy-bot is deprecated; use: medplum bot deploy\n1 bot: 1 deployed.\n")
	sc := p.srv.Resource("Bot", p.ids["s1"])["sourceCode"].(map[string]any)
	if sc["contentType"] != "text/typescript" || sc["title"] != "s1.ts" {
		t.Errorf("sourceCode %v", sc)
	}
}

func TestCreateTheOfficialWay(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	write(t, e, map[string]string{"src/o.ts": src("o"), "dist/o.js": dist("o")})
	r := e.Run("create-bot", "o", srv.Seed.ProjectID, "src/o.ts", "dist/o.js")
	id := strings.TrimSpace(r.Stdout)
	r.Expect(t, 0, id+"\n", fmt.Sprintf("medplum: create-bot is deprecated; use: medplum bot create\nCreated bot \"o\" (Bot/%s) in project %q (%s).\nAdded it to medplum.config.json.\nSaved src/o.ts and deployed dist/o.js.\n", id, srv.Seed.ProjectName, srv.Seed.ProjectID))
	if !strings.Contains(read(t, e, "medplum.config.json"), `"dist": "dist/o.js"`) {
		t.Errorf("config: %s", read(t, e, "medplum.config.json"))
	}
	r = e.Run("bot", "create", "o2", srv.Seed.ProjectID, "src/o.ts", "dist/o.js", "--runtime-version", "vmcontext", "--no-write-config")
	id = strings.TrimSpace(r.Stdout)
	if r.Code != 0 || strings.Contains(read(t, e, "medplum.config.json"), id) {
		t.Errorf("--no-write-config: %+v", r)
	}
}

func TestRun(t *testing.T) {
	p := newProject(t, "echo")
	srv, e := p.srv, p.e
	var seen []medplumtest.BotExecution
	srv.SetBotHandler(func(x medplumtest.BotExecution) (any, error) {
		seen = append(seen, x)
		if x.Input == "fail" {
			return nil, errors.New("boom from bot")
		}
		return x.Input, nil
	})
	e.Run("bot", "run", "echo", `{"x": 1}`).Expect(t, 0, `{"x":1}`, "")
	e.Run("bot", "run", "Bot/"+p.ids["echo"], "hi", "--content-type", "text/plain").Expect(t, 0, "hi", "")
	write(t, e, map[string]string{"in.json": `{"from": "file"}`})
	e.Run("bot", "run", p.ids["echo"], "--input", "in.json").Expect(t, 0, `{"from":"file"}`, "")
	e.RunStdin("fail", "bot", "run", "echo", "--input", "-", "--content-type", "text/plain").Expect(t, 1, "",
		fmt.Sprintf("medplum: bot \"echo\" (Bot/%s) failed: boom from bot\n", p.ids["echo"]))
	if len(seen) != 4 || string(seen[3].Code) != dist("echo") || seen[1].ContentType != "text/plain" {
		t.Errorf("the server ran %+v", seen)
	}

	// Input that is not JSON is refused before sending.
	srv.ResetRequests()
	e.Run("bot", "run", "echo", "{x").Expect(t, 2, "", "medplum: the input is not valid JSON: line 1, column 2: invalid character 'x' looking for beginning of object key string\nto send it as text: --content-type text/plain\n")
	// Nor is JSON that Medplum's strict parser refuses (capture 124f).
	e.Run("bot", "run", "echo", `"Marge"`).Expect(t, 2, "", "medplum: the input is JSON, but not an object or an array, the only JSON bodies Medplum reads (it would answer \"Content could not be parsed\"); nothing was sent\n"+
		"wrap it in an object ({\"input\": ...}) or send it as text: --content-type text/plain\n")
	e.RunStdin(" 42\n", "bot", "run", "echo", "--input", "-").ExpectCode(t, 2, "medplum: the input (stdin) is JSON, but not an object or an array, the only JSON bodies Medplum reads (it would answer \"Content could not be parsed\"); nothing was sent\n"+
		"wrap it in an object ({\"input\": ...}) or send it as text: --content-type text/plain\n")
	clitest.ExpectNothingSent(t, srv)
	e.Run("bot", "run", "echo", ` [1, 2]`).Expect(t, 0, `[1,2]`, "")
	e.Run("bot", "run", "nope").Expect(t, 2, "", fmt.Sprintf("medplum: no bot \"nope\" in project %q (%s) (give an id, Bot/<id> or the exact name)\n", srv.Seed.ProjectName, srv.Seed.ProjectID))

	// A bot never deployed.
	e.Run("bot", "run", "Sandbox Bot").Expect(t, 1, "", fmt.Sprintf("medplum: bot \"Sandbox Bot\" (%s) failed: No executable code\ndeploy it first: medplum bot create 'Sandbox Bot' --if-not-exists --source FILE [--dist FILE]\n", srv.Seed.Bot.Profile))
}

func TestListAndGet(t *testing.T) {
	p := newProject(t, "b1", "a1")
	srv, e := p.srv, p.e
	bots := map[string]client.Resource{}
	for _, b := range srv.Resources("Bot", srv.Seed.ProjectID) {
		bots[b.String("name")] = b
	}
	binaryTime := func(name string) string {
		exec := bots[name]["executableCode"].(map[string]any)
		bin := srv.Resource("Binary", strings.TrimPrefix(exec["url"].(string), "Binary/"))
		return bin["meta"].(map[string]any)["lastUpdated"].(string)
	}
	sandbox := strings.TrimPrefix(srv.Seed.Bot.Profile, "Bot/")
	e.Run("bot", "list").Expect(t, 0, "NAME\tID\tRUNTIME\tACCESS POLICY\tDEPLOYED\tCONFIG\n"+
		"Sandbox Bot\t"+sandbox+"\tvmcontext\t\tnever\t\n"+
		"a1\t"+p.ids["a1"]+"\tvmcontext\t\t"+binaryTime("a1")+"\ta1\n"+
		"b1\t"+p.ids["b1"]+"\tvmcontext\t\t"+binaryTime("b1")+"\tb1\n", "")
	e.Run("bot", "get", "a1", "--columns", "name,deployed").Expect(t, 0, "NAME\tDEPLOYED\na1\t"+binaryTime("a1")+"\n", "")
	tok := srv.IssueToken(srv.Seed.Client.MembershipID)
	doc := clitest.ServerGet(t, srv, tok, "fhir/R4/Bot/"+p.ids["b1"])
	var want, got map[string]any
	out := e.Run("bot", "get", p.ids["b1"], "-o", "json").ExpectCode(t, 0, "")
	_ = json.Unmarshal(doc, &want)
	_ = json.Unmarshal([]byte(out), &got)
	delete(want["sourceCode"].(map[string]any), "url") // presigned anew on every read
	delete(got["sourceCode"].(map[string]any), "url")
	delete(want["executableCode"].(map[string]any), "url")
	delete(got["executableCode"].(map[string]any), "url")
	if a, b := fmt.Sprint(got), fmt.Sprint(want); a != b {
		t.Errorf("get -o json:\n%s\nwant\n%s", a, b)
	}
	clitest.ExpectDocumentFlags(t, e, srv, "bot", "list")
}

// expectWritesOf asserts the writes made for one bot, in order: its own
// and the uploads (POST Binary) whose body is its code.
func expectWritesOf(t *testing.T, srv *medplumtest.Server, id string, want ...string) {
	t.Helper()
	var got []string
	var pending []string // uploads not yet claimed by a PATCH
	for _, r := range srv.Requests() {
		switch {
		case r.Method == "GET" || r.Path == "/oauth2/token":
		case r.Path == "/fhir/R4/Binary":
			pending = append(pending, r.Method+" "+r.Path)
		case strings.Contains(r.Path, "/Bot/"+id):
			if r.Method == "PATCH" && strings.Contains(string(r.Body), "Binary/") && len(pending) > 0 {
				got = append(got, pending[0])
				pending = pending[1:]
			}
			got = append(got, r.Method+" "+r.Path)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("writes for Bot/%s:\n  %s\nwant:\n  %s", id, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// waitUntil polls cond until it holds, failing after a generous deadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDeployConcurrentlyInFileOrder(t *testing.T) {
	p := newProject(t, "q1", "q2", "q3")
	for _, n := range []string{"q1", "q2", "q3"} {
		write(t, p.e, map[string]string{"dist/" + n + ".js": dist(n + " v2")})
	}
	// q1's deploy is held: q2 and q3 are deployed meanwhile (they run at
	// once), but their lines wait for q1's.
	hold := make(chan struct{})
	p.srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4/Bot/" + p.ids["q1"] + "/$deploy", Hold: hold})
	proc := p.e.Start("bot", "deploy", "q*", "--verbose")
	answered := func(name string) bool {
		return strings.Contains(proc.Stderr(), "< 200 OK") && strings.Contains(proc.Stderr(), "Bot/"+p.ids[name]+"/$deploy [")
	}
	waitUntil(t, "q2 and q3 deployed", func() bool { return answered("q2") && answered("q3") })
	if out := proc.Stdout(); out != "" {
		t.Errorf("printed before q1 was done: %q", out)
	}
	close(hold)
	r := proc.Wait()
	if want := p.line("deployed", "q1", "code changed") + p.line("deployed", "q2", "code changed") + p.line("deployed", "q3", "code changed"); r.Code != 0 || r.Stdout != want {
		t.Errorf("exit %d, stdout:\n%s\nwant:\n%s", r.Code, r.Stdout, want)
	}
}

func TestDeployInterrupted(t *testing.T) {
	p := newProject(t, "i1", "i2", "i3")
	for _, n := range []string{"i1", "i2", "i3"} {
		write(t, p.e, map[string]string{"dist/" + n + ".js": dist(n + " v2")})
	}
	hold := make(chan struct{})
	defer close(hold)
	p.srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4/Bot/" + p.ids["i2"] + "/$deploy", Hold: hold})
	proc := p.e.Start("bot", "deploy", "i*", "--concurrency", "1")
	waitUntil(t, "i2's deploy to be sent", func() bool {
		return len(p.srv.RequestsTo("POST", "/fhir/R4/Bot/"+p.ids["i2"]+"/$deploy")) == 1
	})
	proc.Signal(os.Interrupt)
	proc.Wait().Expect(t, 130, p.line("deployed", "i1", "code changed"), "medplum: interrupted\n")
	if code, _ := p.deployed("i3"); code != dist("i3") {
		t.Errorf("i3 was deployed after Ctrl-C: %q", code)
	}
}

// bot run's -o json|yaml, --jq and --template read the bot's answer as
// JSON; without them the answer is printed as it came, text included
// (captures 109, 110: $execute answers in the request's content type).
// An answer that is not JSON is an error once the bot has run, naming the
// flag and the answer's start; an expression's error is exit 2 before
// anything is sent.
func TestRunOutputFlags(t *testing.T) {
	p := newProject(t, "echo")
	srv, e := p.srv, p.e
	srv.SetBotHandler(func(x medplumtest.BotExecution) (any, error) { return x.Input, nil })
	in := `{"id":"x1","name":"Homer & Marge","tags":["a","b"]}`
	// The default is unchanged: the bytes the server sent.
	e.Run("bot", "run", "echo", in).Expect(t, 0, in, "")
	e.Run("bot", "run", "echo", in, "--jq", ".name").Expect(t, 0, "Homer & Marge\n", "")
	// The --jq example of --help.
	if help := e.Run("bot", "run", "--help").ExpectCode(t, 0, ""); !strings.Contains(help, "(e.g. 'keys')") {
		t.Errorf("bot run --help has another --jq example:\n%s", help)
	}
	e.Run("bot", "run", "echo", in, "--jq", "keys").Expect(t, 0, "[\"id\",\"name\",\"tags\"]\n", "")
	e.Run("bot", "run", "echo", in, "--jq", ".tags", "-o", "json").Expect(t, 0, "[\"a\",\"b\"]\n", "")
	e.Run("bot", "run", "echo", in, "--template", "{{.id}}: {{join \",\" .tags}}\n").Expect(t, 0, "x1: a,b\n", "")
	e.Run("bot", "run", "echo", in, "-o", "yaml").Expect(t, 0, "id: x1\nname: Homer & Marge\ntags:\n  - a\n  - b\n", "")
	e.Run("bot", "run", "echo", in, "-o", "json").Expect(t, 0, "{\n  \"id\": \"x1\",\n  \"name\": \"Homer & Marge\",\n  \"tags\": [\n    \"a\",\n    \"b\"\n  ]\n}\n", "")
	clitest.ExpectDocumentFlags(t, e, srv, "bot", "run", "Bot/"+p.ids["echo"], in)

	// A broken expression: exit 2, and -v shows that no request was made
	// (no sign-in, no bot search, no $execute).
	srv.ResetRequests()
	e.Run("-v", "bot", "run", "echo", in, "--jq", ".name |").Expect(t, 2, "", "medplum: invalid --jq expression \".name |\": unexpected EOF at column 8 (the end)\n")
	e.Run("-v", "bot", "run", "echo", in, "--template", "{{.id").Expect(t, 2, "", "medplum: invalid --template: line 1: unclosed action\n")
	clitest.ExpectNothingSent(t, srv)

	// A text answer: printed as it came without the flags, an error with them.
	e.Run("bot", "run", "echo", "hello\nworld", "--content-type", "text/plain").Expect(t, 0, "hello\nworld", "")
	notJSON := func(flag string) string {
		return fmt.Sprintf("medplum: bot \"echo\" (Bot/%s) answered 11 bytes of text/plain, which is not JSON: %s needs a JSON answer\n"+
			"without -o, --jq and --template the answer is printed as it came\n", p.ids["echo"], flag)
	}
	e.Run("bot", "run", "echo", "hello\nworld", "--content-type", "text/plain", "--jq", ".").Expect(t, 1, "", notJSON("--jq"))
	e.Run("bot", "run", "echo", "hello\nworld", "--content-type", "text/plain", "--template", "{{.}}").Expect(t, 1, "", notJSON("--template"))
	e.Run("bot", "run", "echo", "hello\nworld", "--content-type", "text/plain", "-o", "yaml").Expect(t, 1, "", notJSON("-o yaml"))
	// A text answer that is JSON is read as JSON: what counts is the body.
	e.Run("bot", "run", "echo", `{"a":1}`, "--content-type", "text/plain", "--jq", ".a").Expect(t, 0, "1\n", "")
	// A bot that returns a string to a JSON request: Medplum sends it as
	// it is, labelled application/json (execute.ts's getResponseContentType).
	srv.SetBotHandler(func(medplumtest.BotExecution) (any, error) { return strings.Repeat("x", 70), nil })
	e.Run("bot", "run", "echo", in, "--jq", ".").Expect(t, 1, "", fmt.Sprintf("medplum: bot \"echo\" (Bot/%s) answered 70 bytes of application/json, which is not JSON: --jq needs a JSON answer\n"+
		"without -o, --jq and --template the answer is printed as it came\n", p.ids["echo"]))
}
