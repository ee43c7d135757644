package bot_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/internal/provtest"
)

// configOf writes medplum.config.json with one entry per line after the
// first: bots[i] is on line i+2. An entry is {name, id, source, dist}
// unless given as raw JSON.
func configOf(t *testing.T, p *project, entries ...string) {
	t.Helper()
	write(t, p.e, map[string]string{"medplum.config.json": "{\"bots\": [\n  " + strings.Join(entries, ",\n  ") + "\n]}\n"})
}

func entry(p *project, name string) string {
	return fmt.Sprintf(`{"name": %q, "id": %q, "source": "src/%s.ts", "dist": "dist/%s.js"}`, name, p.ids[name], name, name)
}

// A bad entry of medplum.config.json blocks only the commands that need
// it ('*' and its own name), says how to fix it, and bot create of its
// name fills in the id. An entry of a deleted bot behaves the same way.
func TestConfigBadEntryBlocksOnlyItself(t *testing.T) {
	p := newProject(t, "ghost", "good")
	e := p.e
	write(t, e, map[string]string{"src/noid.ts": src("noid"), "dist/noid.js": dist("noid")})
	configOf(t, p, entry(p, "ghost"), entry(p, "good"), `{"name": "noid", "source": "src/noid.ts", "dist": "dist/noid.js"}`)
	noID := "medplum: medplum.config.json:4 (bots[2] \"noid\"): \"id\" is missing; nothing was sent\n" +
		"fill it in with: medplum bot create noid --if-not-exists (it uses the project's bot of that name, or creates one)\n"

	write(t, e, map[string]string{"dist/ghost.js": dist("ghost v2")})
	e.Run("bot", "deploy", "ghost").Expect(t, 0, p.line("deployed", "ghost", "code changed"), "1 bot: 1 deployed.\n")
	p.srv.ResetRequests()
	e.Run("bot", "deploy", "*").Expect(t, 2, "", noID)
	e.Run("bot", "save", "noid").Expect(t, 2, "", noID)
	provtest.ExpectWrites(t, p.srv)

	// list fills in what it can, and says what is wrong (it sends nothing
	// anyway).
	out := e.Run("bot", "list", "--columns", "name,config").ExpectCode(t, 0,
		"medplum: warning: medplum.config.json:4 (bots[2] \"noid\"): \"id\" is missing\n"+
			"fill it in with: medplum bot create noid --if-not-exists (it uses the project's bot of that name, or creates one)\n")
	if want := "NAME\tCONFIG\nSandbox Bot\t\nghost\tghost\ngood\tgood\n"; out != want {
		t.Errorf("bot list:\n%s\nwant:\n%s", out, want)
	}

	// Another bot can still be created; then the one without an id, from
	// its entry's files, which gets the new id.
	write(t, e, map[string]string{"src/other.ts": src("other")})
	r := e.Run("bot", "create", "other", "--source", "src/other.ts")
	p.ids["other"] = strings.TrimSpace(r.Stdout)
	r.Expect(t, 0, p.ids["other"]+"\n", fmt.Sprintf("Created bot \"other\" (Bot/%s) in project %q (%s).\n"+
		"Added it to medplum.config.json.\n"+
		"medplum: warning: the code to deploy is the TypeScript source other.ts: Medplum runs it as JavaScript, so build it and name the built file in \"dist\"\n"+
		"Saved src/other.ts and deployed src/other.ts.\n", p.ids["other"], p.srv.Seed.ProjectName, p.srv.Seed.ProjectID))
	if !strings.Contains(read(t, e, "medplum.config.json"), `"name": "other"`) {
		t.Fatalf("bot create other did not add its entry")
	}
	r = e.Run("bot", "create", "noid")
	p.ids["noid"] = strings.TrimSpace(r.Stdout)
	r.Expect(t, 0, p.ids["noid"]+"\n", fmt.Sprintf("Created bot \"noid\" (Bot/%s) in project %q (%s).\n"+
		"Set its id in medplum.config.json.\n"+
		"Saved src/noid.ts and deployed dist/noid.js.\n", p.ids["noid"], p.srv.Seed.ProjectName, p.srv.Seed.ProjectID))
	if code, _ := p.deployed("noid"); code != dist("noid") {
		t.Errorf("noid runs %q", code)
	}
	if cfg := read(t, e, "medplum.config.json"); !strings.Contains(cfg, fmt.Sprintf("{\n      \"name\": \"noid\",\n      \"id\": %q,\n      \"source\": \"src/noid.ts\",\n      \"dist\": \"dist/noid.js\"\n    }", p.ids["noid"])) {
		t.Errorf("the entry of noid:\n%s", cfg)
	}
	e.Run("bot", "deploy", "*").Expect(t, 0,
		p.line("unchanged", "ghost", "")+p.line("unchanged", "good", "")+p.line("unchanged", "noid", "")+p.line("unchanged", "other", ""), "4 bots: 4 unchanged.\n")

	// A deleted bot: the same, with its own fix.
	deleteBot(t, p, "ghost")
	gone := fmt.Sprintf("medplum: medplum.config.json:3 (bots[0] \"ghost\"): Bot/%s was deleted; nothing was sent\n", p.ids["ghost"]) +
		"remove the entry, or create the bot again and fill in its id: medplum bot create ghost --if-not-exists\n"
	e.Run("bot", "deploy", "*").Expect(t, 2, "", gone)
	e.Run("bot", "deploy", "good").Expect(t, 0, p.line("unchanged", "good", ""), "1 bot: 1 unchanged.\n")
	e.Run("bot", "run", "ghost").Expect(t, 2, "", gone[:strings.Index(gone, ";")]+"\n"+gone[strings.Index(gone, "\n")+1:])
	r = e.Run("bot", "create", "ghost", "--if-not-exists")
	p.ids["ghost"] = strings.TrimSpace(r.Stdout)
	r.Expect(t, 0, p.ids["ghost"]+"\n", fmt.Sprintf("Created bot \"ghost\" (Bot/%s) in project %q (%s).\n"+
		"Set its id in medplum.config.json.\n"+
		"Saved src/ghost.ts and deployed dist/ghost.js.\n", p.ids["ghost"], p.srv.Seed.ProjectName, p.srv.Seed.ProjectID))
	e.Run("bot", "deploy", "*").Expect(t, 0,
		p.line("unchanged", "ghost", "")+p.line("unchanged", "good", "")+p.line("unchanged", "noid", "")+p.line("unchanged", "other", ""), "4 bots: 4 unchanged.\n")
}

// get, run, deploy and save find a bot the same way: a name
// medplum.config.json gives it, its id or Bot/<id>, or its name in the
// project.
func TestNamesFromConfigEverywhere(t *testing.T) {
	p := newProject(t, "patient-intake")
	e := p.e
	p.srv.SetBotHandler(func(x medplumtest.BotExecution) (any, error) { return x.Input, nil })
	id := p.ids["patient-intake"]
	configOf(t, p, fmt.Sprintf(`{"name": "intake", "id": %q, "source": "src/patient-intake.ts", "dist": "dist/patient-intake.js"}`, id))
	p.ids["intake"] = id
	e.Run("bot", "deploy", "intake").Expect(t, 0, p.line("unchanged", "intake", ""), "1 bot: 1 unchanged.\n")
	e.Run("bot", "run", "intake", `{"a":1}`).Expect(t, 0, `{"a":1}`, "")
	e.Run("bot", "get", "intake", "--columns", "name,config").Expect(t, 0, "NAME\tCONFIG\npatient-intake\tintake\n", "")
	for _, arg := range []string{"patient-intake", id, "Bot/" + id} {
		e.Run("bot", "deploy", arg).Expect(t, 0, p.line("unchanged", "intake", ""), "1 bot: 1 unchanged.\n")
		e.Run("bot", "save", arg).Expect(t, 0, p.line("unchanged", "intake", ""), "1 bot: 1 unchanged.\n")
		e.Run("bot", "run", arg, `{"b":2}`).Expect(t, 0, `{"b":2}`, "")
	}
}

// A bot of the project that medplum.config.json does not list: every hint
// leads to a command that works, and bot create --if-not-exists adds it.
func TestAddServerBotToConfig(t *testing.T) {
	p := newProject(t, "listed")
	e := p.e
	proj := fmt.Sprintf("%q (%s)", p.srv.Seed.ProjectName, p.srv.Seed.ProjectID)
	r := e.Run("bot", "create", "nc-empty")
	id := strings.TrimSpace(r.Stdout)
	p.ids["nc-empty"] = id
	addIt := "medplum bot create nc-empty --if-not-exists --source FILE [--dist FILE]"
	r.Expect(t, 0, id+"\n", fmt.Sprintf("Created bot \"nc-empty\" (Bot/%s) in project %s.\n", id, proj)+
		"Not added to medplum.config.json (no --source); to add it and deploy its code: "+addIt+"\n")
	e.Run("bot", "run", "nc-empty").Expect(t, 1, "", fmt.Sprintf("medplum: bot \"nc-empty\" (Bot/%s) failed: No executable code\n", id)+
		"deploy it first: "+addIt+"\n")
	e.Run("bot", "deploy", "nc-empty").Expect(t, 2, "", "medplum: no bot in medplum.config.json matches \"nc-empty\" (it has listed); nothing was sent\n"+
		fmt.Sprintf("the project's bot \"nc-empty\" (Bot/%s) is not in medplum.config.json; to add it: %s\n", id, addIt))

	write(t, e, map[string]string{"src/nc.ts": src("nc"), "dist/nc.js": dist("nc")})
	e.Run("bot", "create", "nc-empty", "--source", "src/nc.ts", "--dist", "dist/nc.js").Expect(t, 2, "",
		fmt.Sprintf("medplum: project %s already has a bot named \"nc-empty\" (Bot/%s); nothing was created\n", proj, id)+
			"to add that bot to medplum.config.json and deploy its code, add --if-not-exists\n")
	e.Run("bot", "create", "nc-empty", "--if-not-exists", "--source", "src/nc.ts", "--dist", "dist/nc.js").Expect(t, 0, id+"\n",
		fmt.Sprintf("Bot \"nc-empty\" (Bot/%s) already exists in project %s.\n", id, proj)+
			"Added it to medplum.config.json.\nSaved src/nc.ts and deployed dist/nc.js.\n")
	e.Run("bot", "create", "nc-empty", "--if-not-exists", "--source", "src/nc.ts", "--dist", "dist/nc.js").Expect(t, 0, id+"\n",
		fmt.Sprintf("Bot \"nc-empty\" (Bot/%s) already exists in project %s.\n", id, proj)+
			"Its source and code are unchanged.\n")
	e.Run("bot", "deploy", "nc-empty").Expect(t, 0, p.line("unchanged", "nc-empty", ""), "1 bot: 1 unchanged.\n")
	if code, _ := p.deployed("nc-empty"); code != dist("nc") {
		t.Errorf("nc-empty runs %q", code)
	}
	// Without --if-not-exists, a name the config has is refused, with the way on.
	e.Run("bot", "create", "nc-empty", "--source", "src/nc.ts").Expect(t, 2, "",
		fmt.Sprintf("medplum: medplum.config.json already lists a bot named \"nc-empty\" (line 9, Bot/%s); nothing was created\n", id)+
			"to deploy it: medplum bot deploy nc-empty\n")
}

// bot create keeps the file's indentation and its final newline (or its
// lack of one).
func TestCreateKeepsConfigLayout(t *testing.T) {
	p := newProject(t)
	e := p.e
	write(t, e, map[string]string{"src/a.ts": src("a"), "medplum.config.json": "{\n    \"bots\": [],\n    \"x\": 1\n}\n"})
	id := strings.TrimSpace(e.Run("bot", "create", "a", "--source", "src/a.ts").Stdout)
	want := "{\n    \"bots\": [\n        {\n            \"name\": \"a\",\n            \"id\": \"" + id + "\",\n            \"source\": \"src/a.ts\"\n        }\n    ],\n    \"x\": 1\n}\n"
	if got := read(t, e, "medplum.config.json"); got != want {
		t.Errorf("medplum.config.json:\n%s\nwant:\n%s", got, want)
	}
	write(t, e, map[string]string{"medplum.config.json": "{\n\t\"bots\": []\n}"})
	id = strings.TrimSpace(e.Run("bot", "create", "b", "--source", "src/a.ts").Stdout)
	want = "{\n\t\"bots\": [\n\t\t{\n\t\t\t\"name\": \"b\",\n\t\t\t\"id\": \"" + id + "\",\n\t\t\t\"source\": \"src/a.ts\"\n\t\t}\n\t]\n}"
	if got := read(t, e, "medplum.config.json"); got != want {
		t.Errorf("medplum.config.json:\n%q\nwant:\n%q", got, want)
	}
}
