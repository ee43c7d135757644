package apply_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
	"github.com/medplumcli/medplum/commands/internal/provtest"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const botsFile = `version: 1
project:
  name: Acme Clinic
accessPolicies:
  - name: Bots
    resource:
      - resourceType: Patient
bots:
  - name: reminders
    description: Sends reminders
    runtime: vmcontext
    accessPolicy: Bots
    source: bots/reminders.ts
    dist: dist/reminders.js
  - name: intake
`

func TestApplyBots(t *testing.T) {
	srv, e := newAcme(t)
	pid := srv.Seed.ProjectID
	writeFiles(t, e.Home, map[string]string{
		"project.yaml":      botsFile,
		"bots/reminders.ts": "export async function handler() { return 'remind'; }\n",
		"dist/reminders.js": "exports.handler = async () => 'remind';\n",
	})
	sandbox := strings.TrimPrefix(srv.Seed.Bot.Profile, "Bot/")
	head := fmt.Sprintf("Plan for project \"Acme Clinic\" (%s):\n", pid)
	e.Run("apply", "-f", "project.yaml", "--dry-run").Expect(t, 6, head+
		"  create        access policy \"Bots\"\n"+
		"  create        bot \"reminders\" (runtime vmcontext, access policy \"Bots\", deploy dist/reminders.js)\n"+
		"  create        bot \"intake\"\n"+
		"  would-remove  bot \"Sandbox Bot\" (not in the file; --prune removes it)\n"+
		"Plan: 3 to create, 0 to update, 0 to remove, 0 unchanged. 1 object not in the file is kept (--prune removes it).\n",
		"medplum: dry run: changes are pending; nothing was changed\n")

	r := e.Run("apply", "-f", "project.yaml", "--yes")
	rem := named(t, srv, "Bot", "reminders")
	intake := named(t, srv, "Bot", "intake")
	pol := named(t, srv, "AccessPolicy", "Bots")
	if r.Code != 0 || !strings.Contains(r.Stderr, fmt.Sprintf("created bot \"reminders\" (Bot/%s), deployed dist/reminders.js\n", rem.ID())) ||
		!strings.HasSuffix(r.Stdout, "Applied 3 changes to project \"Acme Clinic\".\n") {
		t.Fatalf("apply: %+v", r)
	}
	exec := rem["executableCode"].(map[string]any)
	code, _, _ := srv.BinaryContent(strings.TrimPrefix(exec["url"].(string), "Binary/"))
	if string(code) != "exports.handler = async () => 'remind';\n" || exec["title"] != "reminders.js" || rem["description"] != "Sends reminders" {
		t.Errorf("reminders: %v, code %q", rem, code)
	}
	if m := membershipOfUser(srv, "Bot/"+rem.ID()); m == nil || m.Ref("accessPolicy") != "AccessPolicy/"+pol.ID() {
		t.Errorf("reminders' membership: %v", m)
	}

	// Again: nothing to do.
	srv.ResetRequests()
	e.Run("apply", "-f", "project.yaml", "--dry-run").Expect(t, 0, head+
		"  unchanged     access policy \"Bots\"\n"+
		"  unchanged     bot \"reminders\"\n"+
		"  unchanged     bot \"intake\"\n"+
		"  would-remove  bot \"Sandbox Bot\" (not in the file; --prune removes it)\n"+
		"No changes: project \"Acme Clinic\" matches the file. 1 object not in the file is kept (--prune removes it).\n", "")
	provtest.ExpectWrites(t, srv)

	// A new build and a new description: updated and deployed; then
	// --prune removes the bot the file no longer lists, with its membership.
	writeFiles(t, e.Home, map[string]string{
		"dist/reminders.js": "exports.handler = async () => 'remind v2';\n",
		"project.yaml":      strings.Replace(strings.Replace(botsFile, "Sends reminders", "Sends reminders by SMS", 1), "  - name: intake\n", "", 1),
	})
	e.Run("apply", "-f", "project.yaml", "--dry-run", "--prune").Expect(t, 6, head+
		"  unchanged     access policy \"Bots\"\n"+
		"  update        bot \"reminders\": description \"Sends reminders\" -> \"Sends reminders by SMS\"; deploy dist/reminders.js\n"+
		fmt.Sprintf("  remove        bot \"Sandbox Bot\"\n  remove        bot \"intake\"\n")+
		"Plan: 0 to create, 1 to update, 2 to remove, 1 unchanged.\n",
		"medplum: dry run: changes are pending; nothing was changed\n")
	intakeMember := membershipOfUser(srv, "Bot/"+intake.ID())
	r = e.Run("apply", "-f", "project.yaml", "--prune", "--yes")
	if r.Code != 0 || !strings.Contains(r.Stderr, fmt.Sprintf("updated bot \"reminders\" (Bot/%s), deployed dist/reminders.js\n", rem.ID())) ||
		!strings.Contains(r.Stderr, fmt.Sprintf("removed bot \"intake\" (Bot/%s) and its membership\n", intake.ID())) {
		t.Fatalf("apply --prune: %+v", r)
	}
	if !srv.Deleted("Bot", intake.ID()) || !srv.Deleted("ProjectMembership", intakeMember.ID()) || !srv.Deleted("Bot", sandbox) {
		t.Errorf("pruned bots or memberships left behind")
	}
	rem = named(t, srv, "Bot", "reminders")
	exec = rem["executableCode"].(map[string]any)
	code, _, _ = srv.BinaryContent(strings.TrimPrefix(exec["url"].(string), "Binary/"))
	if string(code) != "exports.handler = async () => 'remind v2';\n" || rem["description"] != "Sends reminders by SMS" {
		t.Errorf("reminders after the update: %v, code %q", rem, code)
	}
	e.Run("apply", "-f", "project.yaml", "--dry-run", "--prune").Expect(t, 0, head+
		"  unchanged     access policy \"Bots\"\n"+
		"  unchanged     bot \"reminders\"\n"+
		"No changes: project \"Acme Clinic\" matches the file.\n", "")
}

func TestApplyBotsRefused(t *testing.T) {
	srv, e := newAcme(t, medplumtest.WithoutBots())
	writeFiles(t, e.Home, map[string]string{"bots/a.ts": "export {};\n", "empty.js": ""})
	writeFile(t, e, "bad.yaml", `version: 1
project:
  name: Acme Clinic
bots:
  - name: a
    runtime: python
    dist: d.js
  - name: a
  - name: b
    source: bots/missing.ts
  - name: c
    source: bots/a.ts
    dist: empty.js
    accessPolicy: Nobody
`)
	e.Run("apply", "-f", "bad.yaml", "--dry-run").Expect(t, 2, "", "medplum: bad.yaml is not valid (6 problems); nothing was sent:\n"+
		"  bad.yaml:6: bots[0].runtime: unknown runtime \"python\" (use vmcontext or awslambda)\n"+
		"  bad.yaml:7: bots[0].dist: dist needs source: apply uploads the source and deploys the dist\n"+
		"  bad.yaml:8: bots[1].name: duplicate bot name \"a\" (also bots[0])\n"+
		"  bad.yaml:10: bots[2].source: source file bots/missing.ts does not exist\n"+
		"  bad.yaml:13: bots[3].dist: dist file empty.js is empty\n"+
		"  bad.yaml:14: bots[3].accessPolicy: no access policy named \"Nobody\": the file has no accessPolicies (give AccessPolicy/<id> for a policy it does not manage)\n")

	// A project without "bots" in its features cannot take code: refused
	// before anything is sent.
	writeFile(t, e, "p.yaml", "version: 1\nproject:\n  name: Acme Clinic\nbots:\n  - name: a\n    source: bots/a.ts\n")
	srv.ResetRequests()
	e.Run("apply", "-f", "p.yaml", "--yes").Expect(t, 2, "", "medplum: bots: deploying \"a\" needs \"bots\" in the project's features, which only a super admin can add (Medplum answers \"Bots not enabled\"); nothing was changed\n")
	provtest.ExpectWrites(t, srv)
}

// accessPolicy: "" is "no policy", as `medplum help apply-file` says, for
// bots and clients alike: the same as an empty value or null.
func TestApplyEmptyAccessPolicyIsNone(t *testing.T) {
	srv, e := newAcme(t)
	pid := srv.Seed.ProjectID
	pol := srv.Create(pid, client.Resource{"resourceType": "AccessPolicy", "name": "Old"})
	r := e.Run("bot", "create", "router", "--access-policy", "Old", "--no-write-config")
	router := named(t, srv, "Bot", "router")
	r.Expect(t, 0, router.ID()+"\n", fmt.Sprintf("Created bot \"router\" (Bot/%s) in project \"Acme Clinic\" (%s).\n", router.ID(), pid))
	if m := membershipOfUser(srv, "Bot/"+router.ID()); m.Ref("accessPolicy") != "AccessPolicy/"+pol.ID() {
		t.Fatalf("router's membership: %v", m)
	}
	for _, empty := range []string{`""`, "''", "", "null"} {
		writeFile(t, e, "p.yaml", "version: 1\nproject:\n  name: Acme Clinic\nbots:\n  - name: router\n    accessPolicy: "+empty+"\n  - name: new\n    accessPolicy: "+empty+"\n")
		e.Run("apply", "-f", "p.yaml", "--dry-run").Expect(t, 6, fmt.Sprintf("Plan for project \"Acme Clinic\" (%s):\n", pid)+
			"  update        bot \"router\": access policy AccessPolicy/"+pol.ID()+" -> none\n"+
			"  create        bot \"new\"\n"+
			"  would-remove  bot \"Sandbox Bot\" (not in the file; --prune removes it)\n"+
			"Plan: 1 to create, 1 to update, 0 to remove, 0 unchanged. 1 object not in the file is kept (--prune removes it).\n",
			"medplum: dry run: changes are pending; nothing was changed\n")
	}
	writeFile(t, e, "c.yaml", "version: 1\nproject:\n  name: Acme Clinic\nclients:\n  - name: Reporting\n    accessPolicy: \"\"\n")
	if r := e.Run("apply", "-f", "c.yaml", "--dry-run"); r.Code != 6 || !strings.Contains(r.Stdout, "  create        client \"Reporting\"\n") {
		t.Errorf("a client with accessPolicy \"\": %+v", r)
	}
}

// A missing file is reported at its own key and line: a missing source
// under source, even when the entry has a dist.
func TestApplyBotFileProblemsAtTheirKey(t *testing.T) {
	_, e := newAcme(t)
	writeFiles(t, e.Home, map[string]string{"dist/a.js": "exports.handler = async () => 1;\n", "src/b.ts": "export {};\n"})
	writeFile(t, e, "p.yaml", `version: 1
project:
  name: Acme Clinic
bots:
  - name: a
    source: src/a.ts
    dist: dist/a.js
  - name: b
    source: src/b.ts
    dist: dist/b.js
  - name: c
    source: src/c.ts
    dist: dist/c.js
`)
	e.Run("apply", "-f", "p.yaml", "--dry-run").Expect(t, 2, "", "medplum: p.yaml is not valid (4 problems); nothing was sent:\n"+
		"  p.yaml:6: bots[0].source: source file src/a.ts does not exist\n"+
		"  p.yaml:10: bots[1].dist: dist file dist/b.js does not exist\n"+
		"  p.yaml:12: bots[2].source: source file src/c.ts does not exist\n"+
		"  p.yaml:13: bots[2].dist: dist file dist/c.js does not exist\n")
}

// Code apply would deploy is checked first: over the server's
// maxJsonSize it is refused before anything is sent; code Medplum could not
// run is deployed with a warning that says why.
func TestApplyBotCodeChecked(t *testing.T) {
	srv, e := newAcme(t)
	big := "exports.handler = async () => 1;\n//" + strings.Repeat("x", 1<<20) + "\n"
	writeFiles(t, e.Home, map[string]string{"src/a.ts": "export async function handler() {}\n", "dist/big.js": big})
	writeFile(t, e, "p.yaml", "version: 1\nproject:\n  name: Acme Clinic\nbots:\n  - name: big\n    source: src/a.ts\n    dist: dist/big.js\n  - name: ts\n    source: src/a.ts\n")
	body, _ := client.DeployBody([]byte(big), "big.js")
	srv.ResetRequests()
	e.Run("apply", "-f", "p.yaml", "--yes").Expect(t, 2, "", fmt.Sprintf("medplum: p.yaml:7: bots[0].dist: dist file dist/big.js is too large to deploy: its $deploy request would be %d bytes, "+
		"over the server's maxJsonSize (1mb), and Medplum would answer \"File too large\"; nothing was changed\n", len(body))+
		"make the build smaller (minify it, leave out inline source maps); if the server's maxJsonSize is larger than Medplum's default, say so: --max-json-size 5mb\n")
	provtest.ExpectWrites(t, srv)
	writeFile(t, e, "p.yaml", "version: 1\nproject:\n  name: Acme Clinic\nbots:\n  - name: ts\n    source: src/a.ts\n")
	r := e.Run("apply", "-f", "p.yaml", "--yes")
	if warn := "medplum: warning: p.yaml:5: bot \"ts\": the code to deploy is the TypeScript source a.ts: Medplum runs it as JavaScript, so build it and name the built file in \"dist\"\n"; r.Code != 0 || !strings.HasPrefix(r.Stderr, warn) {
		t.Errorf("apply of a TypeScript bot: %+v", r)
	}
}

// apply keeps the working directory's medplum.config.json in step with the
// bots it creates and removes, so that bot deploy '*' neither misses a
// bot apply made nor stops at one apply deleted; the plan says so. Paths
// go into the file relative to the working directory.
func TestApplyKeepsBotConfigInStep(t *testing.T) {
	srv, e := newAcme(t)
	pid := srv.Seed.ProjectID
	writeFiles(t, e.Home, map[string]string{
		"src/router.ts": "export async function handler() {}\n", "dist/router.js": "exports.handler = async () => 'router';\n",
		"infra/bots/hello.ts": "export async function handler() {}\n", "infra/dist/hello.js": "exports.handler = async () => 'hello';\n",
	})
	r := e.Run("bot", "create", "lab-router", "--source", "src/router.ts", "--dist", "dist/router.js")
	router := strings.TrimSpace(r.Stdout)
	if r.Code != 0 {
		t.Fatalf("bot create: %+v", r)
	}
	writeFiles(t, e.Home, map[string]string{"infra/project.yaml": "version: 1\nproject:\n  name: Acme Clinic\nbots:\n  - name: hello\n    source: bots/hello.ts\n    dist: dist/hello.js\n"})
	head := fmt.Sprintf("Plan for project \"Acme Clinic\" (%s):\n", pid)
	sandbox := strings.TrimPrefix(srv.Seed.Bot.Profile, "Bot/")
	e.Run("apply", "-f", "infra/project.yaml", "--prune", "--dry-run").Expect(t, 6, head+
		"  create        bot \"hello\" (deploy dist/hello.js, add it to medplum.config.json)\n"+
		"  remove        bot \"Sandbox Bot\"\n"+
		"  remove        bot \"lab-router\" (and its entry in medplum.config.json)\n"+
		"Plan: 1 to create, 0 to update, 2 to remove, 0 unchanged.\n", "medplum: dry run: changes are pending; nothing was changed\n")
	r = e.Run("apply", "-f", "infra/project.yaml", "--prune", "--yes")
	hello := named(t, srv, "Bot", "hello")
	if r.Code != 0 || !strings.Contains(r.Stderr, fmt.Sprintf("created bot \"hello\" (Bot/%s), added it to medplum.config.json, deployed dist/hello.js\n", hello.ID())) ||
		!strings.Contains(r.Stderr, fmt.Sprintf("removed bot \"lab-router\" (Bot/%s) and its membership, and its entry in medplum.config.json\n", router)) ||
		!strings.Contains(r.Stderr, fmt.Sprintf("removed bot \"Sandbox Bot\" (Bot/%s) and its membership\n", sandbox)) {
		t.Fatalf("apply --prune: %+v", r)
	}
	want := "{\n  \"bots\": [\n    {\n      \"name\": \"hello\",\n      \"id\": \"" + hello.ID() + "\",\n      \"source\": \"infra/bots/hello.ts\",\n      \"dist\": \"infra/dist/hello.js\"\n    }\n  ]\n}\n"
	if got := readFile(t, e, "medplum.config.json"); got != want {
		t.Errorf("medplum.config.json:\n%s\nwant:\n%s", got, want)
	}
	e.Run("bot", "deploy", "*").Expect(t, 0, fmt.Sprintf("%-13shello (Bot/%s)\n", "unchanged", hello.ID()), "1 bot: 1 unchanged.\n")

	// A bot deleted elsewhere, then made again by apply: its entry gets the
	// new id.
	e.Run("delete", "Bot/"+hello.ID()).ExpectCode(t, 0, "")
	r = e.Run("apply", "-f", "infra/project.yaml", "--yes")
	again := named(t, srv, "Bot", "hello")
	if r.Code != 0 || !strings.Contains(r.Stderr, fmt.Sprintf("created bot \"hello\" (Bot/%s), set its id in medplum.config.json, deployed dist/hello.js\n", again.ID())) {
		t.Fatalf("apply after a deletion: %+v", r)
	}
	if got := readFile(t, e, "medplum.config.json"); got != strings.Replace(want, hello.ID(), again.ID(), 1) {
		t.Errorf("medplum.config.json:\n%s", got)
	}

	// An entry of that name without an id gets the new id and keeps its
	// own files.
	cfg := strings.Replace(want, hello.ID(), again.ID(), 1)
	cfg = strings.Replace(cfg, "    }\n  ]", "    },\n    {\n      \"name\": \"third\",\n      \"source\": \"custom/third.ts\"\n    }\n  ]", 1)
	writeFiles(t, e.Home, map[string]string{"medplum.config.json": cfg,
		"infra/project.yaml": "version: 1\nproject:\n  name: Acme Clinic\nbots:\n  - name: hello\n    source: bots/hello.ts\n    dist: dist/hello.js\n  - name: third\n    source: bots/hello.ts\n    dist: dist/hello.js\n"})
	e.Run("apply", "-f", "infra/project.yaml", "--dry-run").Expect(t, 6, head+
		"  unchanged     bot \"hello\"\n"+
		"  create        bot \"third\" (deploy dist/hello.js, set its id in medplum.config.json)\n"+
		"Plan: 1 to create, 0 to update, 0 to remove, 1 unchanged.\n", "medplum: dry run: changes are pending; nothing was changed\n")
	r = e.Run("apply", "-f", "infra/project.yaml", "--yes")
	third := named(t, srv, "Bot", "third")
	if r.Code != 0 || !strings.Contains(r.Stderr, fmt.Sprintf("created bot \"third\" (Bot/%s), set its id in medplum.config.json, deployed dist/hello.js\n", third.ID())) {
		t.Fatalf("apply with an entry without an id: %+v", r)
	}
	if got, want := readFile(t, e, "medplum.config.json"), strings.Replace(cfg, "\"third\",\n", "\"third\",\n      \"id\": \""+third.ID()+"\",\n", 1); got != want {
		t.Errorf("medplum.config.json:\n%s\nwant:\n%s", got, want)
	}

	// Without a medplum.config.json, apply writes none.
	if err := os.Remove(filepath.Join(e.Home, "medplum.config.json")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, e.Home, map[string]string{"infra/project.yaml": "version: 1\nproject:\n  name: Acme Clinic\nbots:\n  - name: hello\n    source: bots/hello.ts\n    dist: dist/hello.js\n  - name: third\n    source: bots/hello.ts\n    dist: dist/hello.js\n  - name: second\n    source: bots/hello.ts\n    dist: dist/hello.js\n"})
	if r := e.Run("apply", "-f", "infra/project.yaml", "--yes"); r.Code != 0 || strings.Contains(r.Stderr, "medplum.config.json") {
		t.Fatalf("apply without a config: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(e.Home, "medplum.config.json")); !os.IsNotExist(err) {
		t.Errorf("apply wrote a medplum.config.json: %v", err)
	}

	// A medplum.config.json apply cannot read is left alone, with a word.
	writeFiles(t, e.Home, map[string]string{"medplum.config.json": "{\"bots\": {}}\n",
		"infra/project.yaml": "version: 1\nproject:\n  name: Acme Clinic\nbots:\n  - name: fourth\n    source: bots/hello.ts\n    dist: dist/hello.js\n"})
	r = e.Run("apply", "-f", "infra/project.yaml", "--yes")
	if r.Code != 0 || !strings.Contains(r.Stderr, "medplum: warning: medplum.config.json:1: \"bots\" must be an array: apply does not add the bots it creates to it, nor remove those it deletes\n") {
		t.Fatalf("apply with a broken config: %+v", r)
	}
	if got := readFile(t, e, "medplum.config.json"); got != "{\"bots\": {}}\n" {
		t.Errorf("medplum.config.json: %s", got)
	}
}

func readFile(t *testing.T, e *clitest.Env, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.Home, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
