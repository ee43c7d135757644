package bot_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// scripted answers for the sandbox what the bots of TestBotsOnTarget
// answer on a real server: medplumtest runs no JavaScript.
func scripted(x medplumtest.BotExecution) (any, error) {
	code := string(x.Code)
	if code == textBot {
		return x.Input, nil
	}
	if m := regexp.MustCompile(`throw new Error\('([^']*)'\)`).FindStringSubmatch(code); m != nil {
		return nil, errors.New(m[1])
	}
	m := regexp.MustCompile(`bot: '([^']*)', input: event.input(, v: 2)?`).FindStringSubmatch(code)
	if m == nil {
		return nil, fmt.Errorf("no scripted answer for %q", code)
	}
	out := map[string]any{"bot": m[1], "input": x.Input}
	if m[2] != "" {
		out["v"] = 2
	}
	return out, nil
}

// enableBots adds "bots" to a project's features, as only a super admin can.
func enableBots(t *testing.T, tg *clitest.Target, pid string) {
	t.Helper()
	sc := tg.Super(t)
	ctx := context.Background()
	p, err := sc.ReadResource(ctx, client.ResourceURL("Project", pid))
	if err != nil {
		t.Fatal(err)
	}
	p["features"] = []any{"bots"}
	if _, err := sc.UpdateResource(ctx, p); err != nil {
		t.Fatalf("enabling bots in %s: %v", pid, err)
	}
}

// textBot answers with its input: text for a text input (capture 110).
const textBot = "exports.handler = async function (medplum, event) { return event.input; };\n"

func botCode(name, extra string) string {
	return "exports.handler = async function (medplum, event) { return { bot: '" + name + "', input: event.input" + extra + " }; };\n"
}

// TestBotsOnTarget is the bot commands' tour, in a project of its own, on
// the sandbox (make test) or a real Medplum (make test-real): refused
// without the feature, create, deploy by pattern with one bot failing,
// unchanged bots skipped, run, list, and apply creating, re-running and
// pruning.
func TestBotsOnTarget(t *testing.T) {
	tg := clitest.NewTarget(t)
	name := tg.Unique("bots")
	sub := tg.NewProject(t, "", name)
	e := sub.SignedIn(t)
	pid := sub.ProjectID
	proj := fmt.Sprintf("%q (%s)", name, pid)
	if srv := tg.Sandbox; srv != nil {
		// medplumtest runs no JavaScript: these bots answer as their code would.
		srv.SetBotHandler(scripted)
	}
	for _, n := range []string{"lab-a", "lab-b", "lab-c"} {
		write(t, e, map[string]string{"src/" + n + ".ts": src(n), "dist/" + n + ".js": botCode(n, "")})
	}

	// Without "bots" in the project's features: nothing is created.
	e.Run("bot", "create", "lab-a", "--source", "src/lab-a.ts", "--dist", "dist/lab-a.js").Expect(t, 1, "",
		fmt.Sprintf("medplum: bots are not enabled in project %s: Medplum answers \"Bots not enabled\" to every deploy; nothing was sent\n"+
			"a super admin must add \"bots\" to the project's features, e.g. signed in as a super admin:\n"+
			"  medplum patch Project/%s '[{\"op\":\"add\",\"path\":\"/features\",\"value\":[\"bots\"]}]'\n", proj, pid))
	if out := e.Run("bot", "list", "--columns", "name", "--no-header").Stdout; out != "" {
		t.Fatalf("bots after a refused create: %q", out)
	}
	enableBots(t, tg, pid)

	ids := map[string]string{}
	for _, n := range []string{"lab-a", "lab-b", "lab-c"} {
		r := e.Run("bot", "create", n, "--source", "src/"+n+".ts", "--dist", "dist/"+n+".js")
		ids[n] = strings.TrimSpace(r.Stdout)
		r.Expect(t, 0, ids[n]+"\n", fmt.Sprintf("Created bot %q (Bot/%s) in project %s.\nAdded it to medplum.config.json.\nSaved src/%s.ts and deployed dist/%s.js.\n", n, ids[n], proj, n, n))
	}
	line := func(result, n, detail string) string {
		s := fmt.Sprintf("%-13s%s (Bot/%s)", result, n, ids[n])
		if detail != "" {
			s += ": " + detail
		}
		return s + "\n"
	}
	e.Run("bot", "deploy", "lab-*").Expect(t, 0, line("unchanged", "lab-a", "")+line("unchanged", "lab-b", "")+line("unchanged", "lab-c", ""), "3 bots: 3 unchanged.\n")

	// A new build of each and a new source of lab-b, whose build is over
	// the server's 1 MB body limit: refused before anything is sent, in the
	// dry run as in the deploy.
	big := "//" + strings.Repeat("x", 1100000) + "\n" + botCode("lab-b", "")
	write(t, e, map[string]string{"dist/lab-a.js": botCode("lab-a", ", v: 2"), "dist/lab-b.js": big, "dist/lab-c.js": botCode("lab-c", ", v: 2"), "src/lab-b.ts": src("lab-b v2")})
	body, _ := client.DeployBody([]byte(big), "lab-b.js")
	for _, dry := range [][]string{{"--dry-run"}, nil} {
		e.Run(append([]string{"bot", "deploy", "lab-*"}, dry...)...).Expect(t, 2, "", fmt.Sprintf("medplum: medplum.config.json:9 (bots[1] \"lab-b\"): dist file dist/lab-b.js is too large to deploy: "+
			"its $deploy request would be %d bytes, over the server's maxJsonSize (1mb), and Medplum would answer \"File too large\"; nothing was sent\n", len(body))+
			"make the build smaller (minify it, leave out inline source maps); if the server's maxJsonSize is larger than Medplum's default, say so: --max-json-size 5mb\n")
	}
	// Told not to check (--max-json-size 0), it goes out and the server
	// refuses it: lab-b is left as it was, its new source not saved; the
	// other bots are deployed.
	tooLarge := fmt.Sprintf("File too large (the $deploy request was %d bytes, over the server's maxJsonSize); its source was not saved either", len(body))
	e.Run("bot", "deploy", "lab-*", "--max-json-size", "0").Expect(t, 3,
		line("deployed", "lab-a", "code changed")+line("failed", "lab-b", tooLarge)+line("deployed", "lab-c", "code changed"),
		"3 bots: 2 deployed, 1 failed.\nmedplum: 1 of 3 bots failed: lab-b\n")
	e.Run("bot", "save", "lab-*", "--dry-run").Expect(t, 6,
		line("unchanged", "lab-a", "")+line("would save", "lab-b", "source changed")+line("unchanged", "lab-c", ""),
		"3 bots: 1 would save, 2 unchanged.\nmedplum: dry run: changes are pending; nothing was sent\n")
	write(t, e, map[string]string{"dist/lab-b.js": botCode("lab-b", ", v: 2")})
	e.Run("bot", "deploy", "lab-b").Expect(t, 0, line("deployed", "lab-b", "source and code changed"), "1 bot: 1 deployed.\n")

	// Run: the bot's answer, as the server sends it.
	e.Run("bot", "run", "lab-a", `{"name":"Homer"}`).Expect(t, 0, `{"bot":"lab-a","input":{"name":"Homer"},"v":2}`, "")
	e.Run("bot", "run", "lab-c", "hello", "--content-type", "text/plain").Expect(t, 0, `{"bot":"lab-c","input":"hello","v":2}`, "")
	// -o yaml, --jq, --template read the answer as JSON; an answer that is
	// not (a bot that returns a string) is exit 1, printed as it came
	// without them.
	e.Run("bot", "run", "lab-a", `{"name":"Homer"}`, "--jq", ".input.name").Expect(t, 0, "Homer\n", "")
	e.Run("bot", "run", "lab-a", `{"name":"Homer"}`, "--template", "{{.bot}} v{{.v}}").Expect(t, 0, "lab-a v2", "")
	e.Run("bot", "run", "lab-c", "hello", "--content-type", "text/plain", "-o", "yaml").Expect(t, 0, "bot: lab-c\ninput: hello\nv: 2\n", "")
	e.Run("-v", "bot", "run", "lab-a", "{}", "--jq", ".input |").Expect(t, 2, "", "medplum: invalid --jq expression \".input |\": unexpected EOF at column 9 (the end)\n")
	write(t, e, map[string]string{"dist/lab-b.js": textBot})
	e.Run("bot", "deploy", "lab-b").Expect(t, 0, line("deployed", "lab-b", "code changed"), "1 bot: 1 deployed.\n")
	e.Run("bot", "run", "lab-b", "hello\nworld", "--content-type", "text/plain").Expect(t, 0, "hello\nworld", "")
	e.Run("bot", "run", "lab-b", "hello\nworld", "--content-type", "text/plain", "--jq", ".").Expect(t, 1, "",
		fmt.Sprintf("medplum: bot \"lab-b\" (Bot/%s) answered 11 bytes of text/plain, which is not JSON: --jq needs a JSON answer\n"+
			"without -o, --jq and --template the answer is printed as it came\n", ids["lab-b"]))
	write(t, e, map[string]string{"dist/lab-c.js": "exports.handler = async function () { throw new Error('boom from lab-c'); };\n"})
	e.Run("bot", "deploy", "lab-c").Expect(t, 0, line("deployed", "lab-c", "code changed"), "1 bot: 1 deployed.\n")
	e.Run("bot", "run", "lab-c", "{}").Expect(t, 1, "", fmt.Sprintf("medplum: bot \"lab-c\" (Bot/%s) failed: boom from lab-c\n", ids["lab-c"]))

	e.Run("bot", "list", "--columns", "name,runtime,config").Expect(t, 0, "NAME\tRUNTIME\tCONFIG\nlab-a\tvmcontext\tlab-a\nlab-b\tvmcontext\tlab-b\nlab-c\tvmcontext\tlab-c\n", "")
	var got map[string]any
	if err := json.Unmarshal([]byte(e.Run("bot", "get", "lab-b", "-o", "json").Stdout), &got); err != nil || got["id"] != ids["lab-b"] || got["name"] != "lab-b" {
		t.Errorf("bot get -o json: %v (%v)", got, err)
	}

	// apply: lab-a is the file's, with a new description; lab-b and lab-c
	// are not, and --prune removes them with their memberships and their
	// entries in medplum.config.json, to which it adds lab-d.
	write(t, e, map[string]string{"bots.yaml": fmt.Sprintf("version: 1\nproject:\n  name: %s\nbots:\n  - name: lab-a\n    description: Lab results\n    source: src/lab-a.ts\n    dist: dist/lab-a.js\n  - name: lab-d\n    source: src/lab-a.ts\n", name)})
	head := fmt.Sprintf("Plan for project %q (%s):\n", name, pid)
	plan := head +
		"  update        bot \"lab-a\": description \"\" -> \"Lab results\"\n" +
		"  create        bot \"lab-d\" (deploy src/lab-a.ts, add it to medplum.config.json)\n" +
		"  remove        bot \"lab-b\" (and its entry in medplum.config.json)\n" +
		"  remove        bot \"lab-c\" (and its entry in medplum.config.json)\n" +
		"Plan: 1 to create, 1 to update, 2 to remove, 0 unchanged.\n"
	tsWarning := "medplum: warning: bots.yaml:9: bot \"lab-d\": the code to deploy is the TypeScript source lab-a.ts: Medplum runs it as JavaScript, so build it and name the built file in \"dist\"\n"
	e.Run("apply", "-f", "bots.yaml", "--dry-run", "--prune").Expect(t, 6, plan, tsWarning+"medplum: dry run: changes are pending; nothing was changed\n")
	r := e.Run("apply", "-f", "bots.yaml", "--prune", "--yes")
	if r.Code != 0 {
		t.Fatalf("apply --prune: %+v", r)
	}
	// bot deploy '*' goes on working: it has lab-d, not lab-b nor lab-c.
	var labD struct{ ID string }
	if err := json.Unmarshal([]byte(e.Run("bot", "get", "lab-d", "-o", "json").Stdout), &labD); err != nil {
		t.Fatal(err)
	}
	ids["lab-d"] = labD.ID
	r.Expect(t, 0, plan+fmt.Sprintf("Applied 4 changes to project %q.\n", name), tsWarning+
		fmt.Sprintf("updated bot \"lab-a\" (Bot/%s)\n", ids["lab-a"])+
		fmt.Sprintf("created bot \"lab-d\" (Bot/%s), added it to medplum.config.json, deployed src/lab-a.ts\n", ids["lab-d"])+
		fmt.Sprintf("removed bot \"lab-b\" (Bot/%s) and its membership, and its entry in medplum.config.json\n", ids["lab-b"])+
		fmt.Sprintf("removed bot \"lab-c\" (Bot/%s) and its membership, and its entry in medplum.config.json\n", ids["lab-c"]))
	e.Run("bot", "deploy", "*").Expect(t, 0, line("unchanged", "lab-a", "")+line("unchanged", "lab-d", ""), "2 bots: 2 unchanged.\n")
	e.Run("apply", "-f", "bots.yaml", "--dry-run", "--prune").Expect(t, 0, head+
		"  unchanged     bot \"lab-a\"\n  unchanged     bot \"lab-d\"\n"+
		fmt.Sprintf("No changes: project %q matches the file.\n", name), "")
	api := sub.API(t)
	for _, n := range []string{"lab-b", "lab-c"} {
		ms, err := api.SearchAll(context.Background(), "ProjectMembership?user=Bot/"+ids[n])
		if err != nil || len(ms) != 0 {
			t.Errorf("%s's membership after --prune: %v %v", n, ms, err)
		}
	}
}
