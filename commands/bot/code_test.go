package bot_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/internal/provtest"
)

// A build over the server's maxJsonSize is refused before anything is
// sent, in the dry run with the same message as in the deploy; --max-json-size
// says the server takes more.
func TestDeployTooLargeRefusedFirst(t *testing.T) {
	p := newProject(t, "big", "small")
	e := p.e
	big := "exports.handler = async () => 1;\n//" + strings.Repeat("x", 1<<20) + "\n"
	write(t, e, map[string]string{"dist/big.js": big, "src/big.ts": src("big v2"), "dist/small.js": dist("small v2")})
	body, _ := client.DeployBody([]byte(big), "big.js")
	refused := fmt.Sprintf("medplum: medplum.config.json:3 (bots[0] \"big\"): dist file dist/big.js is too large to deploy: its $deploy request would be %d bytes, "+
		"over the server's maxJsonSize (1mb), and Medplum would answer \"File too large\"; nothing was sent\n", len(body)) +
		"make the build smaller (minify it, leave out inline source maps); if the server's maxJsonSize is larger than Medplum's default, say so: --max-json-size 5mb\n"
	for _, args := range [][]string{{"bot", "deploy", "*", "--dry-run"}, {"bot", "deploy", "*"}, {"bot", "deploy", "big"}} {
		e.Run(args...).Expect(t, 2, "", refused)
	}
	provtest.ExpectWrites(t, p.srv)
	// Saving needs no deploy: no size check.
	e.Run("bot", "save", "big").Expect(t, 0, p.line("saved", "big", "source changed"), "1 bot: 1 saved.\n")
	// A larger limit: sent, and this server's 1 MiB limit refuses it.
	write(t, e, map[string]string{"src/big.ts": src("big v3")})
	p.srv.ResetRequests()
	e.Run("bot", "deploy", "big", "--max-json-size", "2mb").Expect(t, 1,
		p.line("failed", "big", fmt.Sprintf("File too large (the $deploy request was %d bytes, over the server's maxJsonSize); its source was not saved either", len(body))),
		"1 bot: 1 failed.\nmedplum: bot big failed\n")
	provtest.ExpectWrites(t, p.srv, "POST /fhir/R4/Bot/"+p.ids["big"]+"/$deploy")
	if got := p.saved("big"); got != src("big v2") {
		t.Errorf("big's source after a refused deploy: %q", got)
	}
	e.Run("bot", "deploy", "big", "--max-json-size", "x").Expect(t, 2, "",
		"medplum: invalid argument \"x\" for \"--max-json-size\" flag: want a size such as 1mb, 512kb or a number of bytes\nRun 'medplum bot deploy --help' for usage.\n")
}

// When saving the source fails after the code was deployed, the line says
// exactly what state the bot is in, and the next run finishes it.
func TestDeploySaveFailsAfterDeploy(t *testing.T) {
	p := newProject(t, "d1")
	write(t, p.e, map[string]string{"dist/d1.js": dist("d1 v2"), "src/d1.ts": src("d1 v2")})
	p.srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4/Binary", Status: 500})
	p.e.Run("bot", "deploy", "d1").Expect(t, 1, p.line("failed", "d1", "dist/d1.js was deployed, but uploading src/d1.ts failed: the server answered 500: Internal Server Error "+
		"(the bot runs the new code; its saved source is the old one until a new run saves it)"), "1 bot: 1 failed.\nmedplum: bot d1 failed\n")
	if code, _ := p.deployed("d1"); code != dist("d1 v2") {
		t.Errorf("d1 runs %q", code)
	}
	p.e.Run("bot", "deploy", "d1").Expect(t, 0, p.line("saved", "d1", "source changed"), "1 bot: 1 saved.\n")
}

// Code Medplum's vmcontext runtime cannot run is deployed with a warning
// that says why and how to fix it: TypeScript sent as it is, an ES
// module, a bundle that never sets exports.handler.
func TestDeployWarnsOfCodeThatCannotRun(t *testing.T) {
	p := newProject(t)
	e := p.e
	files := map[string]string{
		"src/ts.ts":      src("ts"),
		"src/x.ts":       src("x"),
		"dist/esm.js":    "import { x } from './x';\nexport const handler = async () => x;\n",
		"dist/bundle.js": "var handler = async () => 1;\nmodule.exports = { handler };\n",
		"dist/ok.js":     "\"use strict\";\nmodule.exports = { handler: async () => 1 };\nObject.assign(exports, module.exports);\n",
	}
	write(t, e, files)
	var entries []string
	for _, n := range []string{"ts", "esm", "bundle", "ok"} {
		r := e.Run("bot", "create", n, "--no-write-config")
		p.ids[n] = strings.TrimSpace(r.Stdout)
		d := fmt.Sprintf(`, "dist": "dist/%s.js"`, n)
		srcFile := "src/x.ts"
		if n == "ts" {
			d, srcFile = "", "src/ts.ts"
		}
		entries = append(entries, fmt.Sprintf(`{"name": %q, "id": %q, "source": %q%s}`, n, p.ids[n], srcFile, d))
	}
	configOf(t, p, entries...)
	warn := func(name, msg string) string {
		return fmt.Sprintf("medplum: warning: %s (Bot/%s): %s\n", name, p.ids[name], msg)
	}
	warnings := warn("ts", `the code to deploy is the TypeScript source ts.ts: Medplum runs it as JavaScript, so build it and name the built file in "dist"`) +
		warn("esm", `esm.js is an ES module (line 1: import { x } from './x';): Medplum's vmcontext runtime runs it as a CommonJS script, which fails ("Unexpected token 'export'", "Cannot use import statement outside a module"); build it to CommonJS (esbuild --format=cjs)`) +
		warn("bundle", `bundle.js does not seem to set exports.handler, which Medplum's vmcontext runtime calls ("exports.handler is not a function"); a bundle that sets module.exports needs the footer Object.assign(exports, module.exports)`)
	e.Run("bot", "deploy", "*", "--dry-run").Expect(t, 6,
		p.line("would deploy", "ts", "source and code changed")+p.line("would deploy", "esm", "source and code changed")+
			p.line("would deploy", "bundle", "source and code changed")+p.line("would deploy", "ok", "source and code changed"),
		warnings+"4 bots: 4 would deploy.\nmedplum: dry run: changes are pending; nothing was sent\n")
	e.Run("bot", "deploy", "*").Expect(t, 0,
		p.line("deployed", "ts", "source and code changed")+p.line("deployed", "esm", "source and code changed")+
			p.line("deployed", "bundle", "source and code changed")+p.line("deployed", "ok", "source and code changed"),
		warnings+"4 bots: 4 deployed.\n")
	// Nothing sent, nothing to warn of.
	e.Run("bot", "deploy", "*").Expect(t, 0,
		p.line("unchanged", "ts", "")+p.line("unchanged", "esm", "")+p.line("unchanged", "bundle", "")+p.line("unchanged", "ok", ""), "4 bots: 4 unchanged.\n")
	// An awslambda bot is a module of its own: only TypeScript is warned of.
	write(t, e, map[string]string{"dist/esm.js": files["dist/esm.js"] + "// v2\n"})
	e.Run("patch", "Bot/"+p.ids["esm"], `[{"op":"add","path":"/runtimeVersion","value":"awslambda"}]`).ExpectCode(t, 0, "")
	e.Run("bot", "deploy", "esm").Expect(t, 0, p.line("deployed", "esm", "code changed"), "1 bot: 1 deployed.\n")
}
