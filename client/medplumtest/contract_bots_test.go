package medplumtest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/medplumcli/medplum/client/medplumtest"
)

// botEnv is what the bot captures (100-124) create: they ran in a project
// owned by a user, administered by a client, without "bots" in its features
// until 107 adds it.
type botEnv struct {
	pid, tok   string // the project and its admin client's token
	id         string // the bot of 100
	execURL    string // its executableCode.url after 108 (a storage URL)
	execBinary string // the Binary behind it
	srcBinary  string // the Binary of 114
	fresh      string // a bot created outside the compared steps
}

// Code of the captured bots, and what each did when executed on the real
// server. medplumtest does not run JavaScript: the replay scripts each
// bot's behaviour with SetBotHandler, keyed by its code.
const (
	echoCode      = "exports.handler = async function (medplum, event) { return event.input; };"
	noHandlerCode = "exports.notHandler = async function (medplum, event) { return 1; };"
	throwCode     = `exports.handler = async function (medplum, event) { throw new Error("boom from bot"); };`
	syntaxCode    = "exports.handler = async function (medplum, event) { return ;;; }}}"
	stringCode    = `exports.handler = async function () { return "plain string"; };`
)

func capturedBots(x medplumtest.BotExecution) (any, error) {
	switch string(x.Code) {
	case echoCode:
		return x.Input, nil
	case noHandlerCode:
		return nil, errors.New("exports.handler is not a function")
	case throwCode:
		return nil, errors.New("boom from bot")
	case syntaxCode:
		return nil, errors.New("Unexpected token '}'")
	case stringCode:
		return "plain string", nil
	}
	return nil, fmt.Errorf("no scripted behaviour for %q", x.Code)
}

func deployBody(code string) string {
	b, _ := json.Marshal(map[string]string{"code": code, "filename": "index.js"})
	return string(b)
}

func (e *contractEnv) fhirJSON(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/fhir+json"}
}

// setUpBotProject makes the project of the bot captures: $init with the
// admin user as owner, a client made its admin by the super admin, and that
// client's token.
func (e *contractEnv) setUpBotProject() {
	b := &botEnv{}
	e.bots = b
	p := jsonBody(e.t, e.do(req{"POST", "fhir/R4/Project/$init", e.fhirJSON(e.saTok),
		`{"resourceType":"Parameters","parameter":[{"name":"name","valueString":"Acceptance bots"},` +
			`{"name":"owner","valueReference":{"reference":"User/` + e.srv.Seed.AdminUserID + `"}}]}`}))
	b.pid = p["id"].(string)
	app := jsonBody(e.t, e.do(req{"POST", "admin/projects/" + b.pid + "/client", bearerJSON(e.saTok), `{"name":"Acceptance admin client"}`}))
	id, secret := app["id"].(string), app["secret"].(string)
	ms := jsonBody(e.t, e.do(req{"GET", "fhir/R4/ProjectMembership?user=ClientApplication/" + id, bearer(e.saTok), ""}))
	m := ms["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	m["admin"] = true
	body, _ := json.Marshal(m)
	if resp := e.do(req{"PUT", "fhir/R4/ProjectMembership/" + m["id"].(string), e.fhirJSON(e.saTok), string(body)}); resp.StatusCode != 200 {
		e.t.Fatalf("promoting the bot project's client: %d", resp.StatusCode)
	}
	b.tok = e.token(id, secret)
	e.srv.SetBotHandler(capturedBots)
}

// newBot creates a bot outside the compared steps.
func (e *contractEnv) newBot(name string) string {
	m := jsonBody(e.t, e.do(req{"POST", "admin/projects/" + e.bots.pid + "/bot", bearerJSON(e.bots.tok), `{"name":"` + name + `"}`}))
	return m["id"].(string)
}

func (e *contractEnv) deploy(id, code string) *http.Response {
	return e.do(req{"POST", "fhir/R4/Bot/" + id + "/$deploy", e.fhirJSON(e.bots.tok), deployBody(code)})
}

func (e *contractEnv) execute(id, ct, body string) *http.Response {
	return e.do(req{"POST", "fhir/R4/Bot/" + id + "/$execute", map[string]string{"Authorization": "Bearer " + e.bots.tok, "Content-Type": ct}, body})
}

func botSteps() []step {
	return []step{
		{name: "100-bot-create", run: func(e *contractEnv) *http.Response {
			e.setUpBotProject()
			return e.do(req{"POST", "admin/projects/" + e.bots.pid + "/bot", bearerJSON(e.bots.tok), `{"name":"cap-bot-a","description":"captured: first bot"}`})
		}, after: func(e *contractEnv, b map[string]any) { e.bots.id = b["id"].(string) }},
		{name: "101-bot-membership-search", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/ProjectMembership?profile=Bot/" + e.bots.id, bearer(e.bots.tok), ""})
		}},
		{name: "102-bot-read", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Bot/" + e.bots.id, bearer(e.bots.tok), ""})
		}},
		{name: "103-bot-search-name", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Bot?name=cap-bot-a", bearer(e.bots.tok), ""})
		}},
		{name: "104-bot-search-list", firstEntry: true, run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Bot", bearer(e.bots.tok), ""})
		}},
		{name: "105-bot-deploy-not-enabled", run: func(e *contractEnv) *http.Response {
			return e.deploy(e.bots.id, echoCode)
		}},
		{name: "106-project-read-superadmin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Project/" + e.bots.pid, bearer(e.saTok), ""})
		}},
		{name: "107-project-put-features-bots", run: func(e *contractEnv) *http.Response {
			p := jsonBody(e.t, e.do(req{"GET", "fhir/R4/Project/" + e.bots.pid, bearer(e.saTok), ""}))
			p["features"] = []any{"bots"}
			body, _ := json.Marshal(p)
			return e.do(req{"PUT", "fhir/R4/Project/" + e.bots.pid, e.fhirJSON(e.saTok), string(body)})
		}},
		{name: "107b-project-put-features-as-project-admin", run: func(e *contractEnv) *http.Response {
			p := jsonBody(e.t, e.do(req{"GET", "fhir/R4/Project/" + e.bots.pid, bearer(e.bots.tok), ""}))
			if _, ok := p["strictMode"]; ok {
				e.t.Errorf("a project admin reads strictMode: %v", p)
			}
			p["features"] = []any{"bots", "cron"}
			body, _ := json.Marshal(p)
			return e.do(req{"PUT", "fhir/R4/Project/" + e.bots.pid, e.fhirJSON(e.bots.tok), string(body)})
		}, after: func(e *contractEnv, b map[string]any) {
			if fmt.Sprint(b["features"]) != "[bots]" {
				e.t.Errorf("a project admin changed the features: %v", b["features"])
			}
		}},
		{name: "108-bot-deploy-ok", run: func(e *contractEnv) *http.Response {
			return e.deploy(e.bots.id, echoCode)
		}},
		{name: "109-bot-execute-json", run: func(e *contractEnv) *http.Response {
			return e.execute(e.bots.id, "application/json", `{"x":1}`)
		}},
		{name: "110-bot-execute-text", run: func(e *contractEnv) *http.Response {
			return e.execute(e.bots.id, "text/plain", "hello")
		}},
		{name: "111-bot-read-after-deploy", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Bot/" + e.bots.id, bearer(e.bots.tok), ""})
		}, after: func(e *contractEnv, b map[string]any) {
			e.bots.execURL = b["executableCode"].(map[string]any)["url"].(string)
			rest := strings.TrimPrefix(e.bots.execURL, e.srv.URL+"storage/")
			e.bots.execBinary, _, _ = strings.Cut(rest, "/")
		}},
		{name: "112-binary-read-fhirjson", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Binary/" + e.bots.execBinary, map[string]string{"Authorization": "Bearer " + e.bots.tok, "Accept": "application/fhir+json"}, ""})
		}},
		{name: "113-binary-read-raw", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Binary/" + e.bots.execBinary, map[string]string{"Authorization": "Bearer " + e.bots.tok, "Accept": "*/*"}, ""})
		}},
		{name: "113b-storage-presigned-url", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", strings.TrimPrefix(e.bots.execURL, e.srv.URL), nil, ""})
		}},
		{name: "114-binary-create-typescript", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "fhir/R4/Binary?_filename=index.ts", map[string]string{"Authorization": "Bearer " + e.bots.tok, "Content-Type": "text/typescript"},
				"import { BotEvent, MedplumClient } from '@medplum/core';\n\nexport async function handler(medplum: MedplumClient, event: BotEvent): Promise<any> {\n  return { echoed: event.input };\n}\n"})
		}, after: func(e *contractEnv, b map[string]any) { e.bots.srcBinary = b["id"].(string) }},
		{name: "115-bot-patch-sourcecode", run: func(e *contractEnv) *http.Response {
			return e.do(req{"PATCH", "fhir/R4/Bot/" + e.bots.id, map[string]string{"Authorization": "Bearer " + e.bots.tok, "Content-Type": "application/json-patch+json"},
				`[{"op":"add","path":"/sourceCode","value":{"contentType":"text/typescript","url":"Binary/` + e.bots.srcBinary + `","title":"index.ts"}}]`})
		}},
		{name: "115b-bot-put-sourcecode-cli-style", run: func(e *contractEnv) *http.Response {
			// What @medplum/cli's bot save does: createAttachment, then
			// updateResource of the bot as read, presigned URLs and all.
			bin := jsonBody(e.t, e.do(req{"POST", "fhir/R4/Binary?_filename=index.ts", map[string]string{"Authorization": "Bearer " + e.bots.tok, "Content-Type": "text/typescript"}, "export {};\n"}))
			bot := jsonBody(e.t, e.do(req{"GET", "fhir/R4/Bot/" + e.bots.id, bearer(e.bots.tok), ""}))
			bot["sourceCode"] = map[string]any{"contentType": "text/typescript", "url": bin["url"], "title": "index.ts"}
			body, _ := json.Marshal(bot)
			return e.do(req{"PUT", "fhir/R4/Bot/" + e.bots.id, e.fhirJSON(e.bots.tok), string(body)})
		}, after: func(e *contractEnv, b map[string]any) {
			src := e.srv.Resource("Bot", e.bots.id)["sourceCode"].(map[string]any)["url"].(string)
			if !strings.HasPrefix(src, "Binary/") {
				e.t.Errorf("the server stored sourceCode.url %q, want Binary/<id>", src)
			}
		}},
		{name: "116-bot-delete", run: func(e *contractEnv) *http.Response {
			return e.do(req{"DELETE", "fhir/R4/Bot/" + e.bots.id, bearer(e.bots.tok), ""})
		}},
		{name: "117-bot-membership-after-delete", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/ProjectMembership?profile=Bot/" + e.bots.id, bearer(e.bots.tok), ""})
		}},
		{name: "117b-bot-read-after-delete", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Bot/" + e.bots.id, bearer(e.bots.tok), ""})
		}},
		{name: "118-bot-deploy-no-handler", run: func(e *contractEnv) *http.Response {
			e.bots.fresh = e.newBot("cap-bot-no-handler")
			return e.deploy(e.bots.fresh, noHandlerCode)
		}},
		{name: "119-bot-execute-no-handler", run: func(e *contractEnv) *http.Response {
			return e.execute(e.bots.fresh, "application/json", `{"x":1}`)
		}},
		{name: "120-bot-execute-throws", run: func(e *contractEnv) *http.Response {
			id := e.newBot("cap-bot-throws")
			if resp := e.deploy(id, throwCode); resp.StatusCode != 200 {
				e.t.Fatalf("deploying the throwing bot: %d", resp.StatusCode)
			}
			return e.execute(id, "application/json", `{"x":1}`)
		}},
		{name: "121-bot-deploy-syntax-error", run: func(e *contractEnv) *http.Response {
			e.bots.fresh = e.newBot("cap-bot-syntax")
			return e.deploy(e.bots.fresh, syntaxCode)
		}},
		{name: "122-bot-execute-syntax-error", run: func(e *contractEnv) *http.Response {
			return e.execute(e.bots.fresh, "application/json", `{"x":1}`)
		}},
		{name: "123-bot-execute-not-deployed", run: func(e *contractEnv) *http.Response {
			e.bots.fresh = e.newBot("cap-bot-fresh")
			return e.execute(e.bots.fresh, "application/json", `{"x":1}`)
		}},
		{name: "124-bot-deploy-no-code", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "fhir/R4/Bot/" + e.bots.fresh + "/$deploy", e.fhirJSON(e.bots.tok), `{}`})
		}},
		{name: "124b-bot-deploy-too-large", run: func(e *contractEnv) *http.Response {
			return e.deploy(e.bots.fresh, "//"+strings.Repeat("x", 2100000)+"\n")
		}},
		{name: "124c-bot-execute-text-too-large", run: func(e *contractEnv) *http.Response {
			return e.execute(e.bots.fresh, "text/plain", strings.Repeat("x", 150000))
		}},
		{name: "124d-binary-create-over-quota", run: func(e *contractEnv) *http.Response {
			// Spend the bot project client's quota (a write costs 100 points).
			e.srv.SetFHIRQuota(100)
			e.do(req{"PATCH", "fhir/R4/Bot/" + e.bots.fresh, map[string]string{"Authorization": "Bearer " + e.bots.tok, "Content-Type": "application/json-patch+json"},
				`[{"op":"add","path":"/description","value":"spent"}]`}).Body.Close()
			return e.do(req{"POST", "fhir/R4/Binary?_filename=index.ts", map[string]string{"Authorization": "Bearer " + e.bots.tok, "Content-Type": "text/typescript"}, "export {};"})
		}, after: func(e *contractEnv, b map[string]any) { sameDiagnostics(e, "124d-binary-create-over-quota", b) }},
		{name: "124e-bot-patch-over-quota", run: func(e *contractEnv) *http.Response {
			defer e.srv.SetFHIRQuota(50000) // Medplum's default, for the steps after these
			return e.do(req{"PATCH", "fhir/R4/Bot/" + e.bots.fresh, map[string]string{"Authorization": "Bearer " + e.bots.tok, "Content-Type": "application/json-patch+json"},
				`[{"op":"add","path":"/description","value":"x"}]`})
		}, after: func(e *contractEnv, b map[string]any) { sameDiagnostics(e, "124e-bot-patch-over-quota", b) }},
		{name: "124f-bot-execute-json-scalar", run: func(e *contractEnv) *http.Response {
			return e.execute(e.bots.fresh, "application/json", `"Marge"`)
		}},
		{name: "124g-bot-execute-json-returns-string", run: func(e *contractEnv) *http.Response {
			// A string the bot returns goes out as it is, labelled
			// application/json: the request's type (bot run's -o/--jq read
			// the body, not the label).
			id := e.newBot("cap-bot-string")
			if resp := e.deploy(id, stringCode); resp.StatusCode != 200 {
				e.t.Fatalf("deploying the string bot: %d", resp.StatusCode)
			}
			return e.execute(id, "application/json", `{}`)
		}},
	}
}

// sameDiagnostics requires the JSON in an outcome's diagnostics to have the
// captured shape: clients read how long to wait from it.
func sameDiagnostics(e *contractEnv, name string, got map[string]any) {
	e.t.Helper()
	diag := func(m map[string]any) any {
		var v any
		issues, _ := m["issue"].([]any)
		if len(issues) > 0 {
			s, _ := issues[0].(map[string]any)["diagnostics"].(string)
			_ = json.Unmarshal([]byte(s), &v)
		}
		return v
	}
	var want map[string]any
	if err := json.Unmarshal(readCapture(e.t, name).Body, &want); err != nil {
		e.t.Fatal(err)
	}
	for _, d := range shapeDiff("$.issue[0].diagnostics", diag(want), diag(got)) {
		e.t.Errorf("%s: %s", name, d)
	}
}
