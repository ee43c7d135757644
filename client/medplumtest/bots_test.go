package medplumtest_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
)

// What the bot routes do beyond the captures (contract_bots_test.go
// replays those): the knobs, the sandbox's honest $execute, and the
// storage URLs' checks.

func (c *tc) createBot(name string) string {
	c.t.Helper()
	return c.must(201, "POST", "admin/projects/"+c.srv.Seed.ProjectID+"/bot", `{"name":"`+name+`"}`)["id"].(string)
}

func (c *tc) deploy(id, code string) (int, map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]string{"code": code, "filename": "index.js"})
	return c.call("POST", "fhir/R4/Bot/"+id+"/$deploy", string(b))
}

func TestBotDeployAndSandboxExecute(t *testing.T) {
	c := newTC(t)
	id := c.createBot("echo")
	stored := c.srv.Resource("Bot", id)
	if src, _ := stored["sourceCode"].(map[string]any); src["url"] == nil || !strings.HasPrefix(src["url"].(string), "Binary/") {
		t.Fatalf("a new bot's sourceCode: %v", stored)
	}
	if _, ok := stored["description"]; ok {
		t.Errorf("a bot created without a description has one: %v", stored)
	}
	code := "exports.handler = async (m, e) => e.input;\n"
	if status, m := c.deploy(id, code); status != 200 || m["id"] != "ok" {
		t.Fatalf("deploy: %d %v", status, m)
	}
	exec := c.srv.Resource("Bot", id)["executableCode"].(map[string]any)
	data, ct, ok := c.srv.BinaryContent(strings.TrimPrefix(exec["url"].(string), "Binary/"))
	if !ok || string(data) != code || ct != "text/javascript" || exec["title"] != "index.js" {
		t.Fatalf("deployed code: %q %q %v (%v)", data, ct, ok, exec)
	}

	// The default $execute says plainly that nothing ran.
	sum := sha256.Sum256([]byte(code))
	status, b := c.raw("POST", "fhir/R4/Bot/"+id+"/$execute", map[string]string{"Authorization": "Bearer " + c.tok, "Content-Type": "application/json"}, `{"x":1}`)
	var got map[string]any
	if err := json.Unmarshal(b, &got); status != 200 || err != nil {
		t.Fatalf("execute: %d %s", status, b)
	}
	want := map[string]any{
		"medplumtest":    "this sandbox does not run bot code; a real Medplum server answers with what the bot's handler returns",
		"bot":            "Bot/" + id,
		"executableCode": map[string]any{"title": "index.js", "sha256": hex.EncodeToString(sum[:]), "size": float64(len(code))},
		"input":          map[string]any{"x": float64(1)},
	}
	if g, w := mustJSON(got), mustJSON(want); g != w {
		t.Errorf("execute answered\n%s\nwant\n%s", g, w)
	}
	resp := c.resp("POST", "fhir/R4/Bot/"+id+"/$execute", map[string]string{"Authorization": "Bearer " + c.tok, "Content-Type": "text/plain"}, "hello")
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(raw)
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" || text != "medplumtest does not run bot code: Bot/"+id+" would run index.js (sha256 "+hex.EncodeToString(sum[:])+", 43 bytes) with 5 bytes of input\n" {
		t.Errorf("text execute: %s %q", ct, text)
	}

	// A scripted bot: a value, and an error like a bot that threw.
	c.srv.SetBotHandler(func(x medplumtest.BotExecution) (any, error) {
		if x.Input == "fail" {
			return nil, errors.New("boom")
		}
		return 42, nil
	})
	status, b = c.raw("POST", "fhir/R4/Bot/"+id+"/$execute", map[string]string{"Authorization": "Bearer " + c.tok, "Content-Type": "application/json"}, `{}`)
	if status != 200 || string(b) != "42" {
		t.Errorf("scripted: %d %s", status, b)
	}
	status, b = c.raw("POST", "fhir/R4/Bot/"+id+"/$execute", map[string]string{"Authorization": "Bearer " + c.tok, "Content-Type": "text/plain"}, "fail")
	if status != 400 || string(b) != `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","details":{"text":"boom"}}]}` {
		t.Errorf("scripted failure: %d %s", status, b)
	}
}

func TestBotsNotEnabledKnob(t *testing.T) {
	c := newTC(t, medplumtest.WithoutBots())
	id := c.createBot("b")
	if status, m := c.deploy(id, "x"); status != 400 || issueText(m) != "Bots not enabled" {
		t.Errorf("deploy without the feature: %d %v", status, m)
	}
	// A deploy with no code says that first, as the real server does.
	if status, m := c.call("POST", "fhir/R4/Bot/"+id+"/$deploy", `{}`); status != 400 || issueText(m) != "Bot missing executable code" {
		t.Errorf("deploy without code: %d %v", status, m)
	}
	if p := c.srv.Resource("Project", c.srv.Seed.ProjectID); p["features"] != nil {
		t.Errorf("WithoutBots project features: %v", p["features"])
	}
}

func TestBotCreatedInTheCallersProject(t *testing.T) {
	c := newTC(t)
	sa := &tc{t: t, srv: c.srv}
	sa.tok = sa.token(c.srv.Seed.SuperAdminClient.ID, c.srv.Seed.SuperAdminClient.Secret)
	// The path names the seeded project; the bot lands in the super
	// admin's own project (admin/bot.ts uses the caller's project).
	id := sa.must(201, "POST", "admin/projects/"+c.srv.Seed.ProjectID+"/bot", `{"name":"sa-bot","runtimeVersion":"awslambda","accessPolicy":{"reference":"AccessPolicy/x"}}`)["id"].(string)
	bot := c.srv.Resource("Bot", id)
	meta := bot["meta"].(map[string]any)
	if meta["project"] != c.srv.Seed.SuperAdminProjectID || bot["runtimeVersion"] != "awslambda" {
		t.Errorf("bot: %v", bot)
	}
	var m map[string]any
	for _, pm := range c.srv.Memberships(c.srv.Seed.SuperAdminProjectID) {
		if pm.Ref("profile") == "Bot/"+id {
			m = pm
		}
	}
	if m == nil || m["accessPolicy"].(map[string]any)["reference"] != "AccessPolicy/x" {
		t.Errorf("the bot's membership: %v", m)
	}
}

func TestBotDeployCost(t *testing.T) {
	c := newTC(t, medplumtest.WithBotDeployCost(150*time.Millisecond))
	id := c.createBot("slow")
	start := time.Now()
	if status, _ := c.deploy(id, "x"); status != 200 {
		t.Fatal(status)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("a deploy took %s with a cost of 150ms", d)
	}
	c.srv.SetBotDeployCost(0)
	if status, _ := c.deploy(id, "y"); status != 200 {
		t.Fatal(status)
	}
}

func TestStorageURLs(t *testing.T) {
	c := newTC(t)
	status, b := c.raw("POST", "fhir/R4/Binary?_filename=a.txt", map[string]string{"Authorization": "Bearer " + c.tok, "Content-Type": "text/plain"}, "content")
	var bin map[string]any
	if err := json.Unmarshal(b, &bin); status != 201 || err != nil {
		t.Fatalf("create: %d %s", status, b)
	}
	u, err := url.Parse(bin["url"].(string))
	if err != nil || !strings.HasPrefix(bin["url"].(string), c.srv.URL+"storage/"+bin["id"].(string)+"/") {
		t.Fatalf("url %v", bin["url"])
	}
	path := strings.TrimPrefix(u.Path, "/")
	q := u.Query()
	get := func(query url.Values) (int, string) {
		status, b := c.raw("GET", path+"?"+query.Encode(), nil, "")
		return status, string(b)
	}
	if s, body := get(q); s != 200 || body != "content" {
		t.Errorf("presigned: %d %q", s, body)
	}
	bad := url.Values{"Expires": q["Expires"], "Signature": {"AAAA"}}
	if s, body := get(bad); s != 401 || body != "Invalid signature" {
		t.Errorf("bad signature: %d %q", s, body)
	}
	later := url.Values{"Expires": {"1"}, "Signature": q["Signature"]}
	if s, body := get(later); s != 410 || body != "URL has expired" {
		t.Errorf("expired: %d %q", s, body)
	}
	if s, body := get(url.Values{"Expires": q["Expires"]}); s != 401 || body != "Unauthorized" {
		t.Errorf("unsigned: %d %q", s, body)
	}
	// A reference written in any of its forms is stored as Binary/<id>.
	id := bin["id"].(string)
	for _, form := range []string{"Binary/" + id, c.srv.URL + "fhir/R4/Binary/" + id, bin["url"].(string)} {
		doc := c.must(201, "POST", "fhir/R4/DocumentReference", `{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"url":"`+form+`"}}]}`)
		stored := c.srv.Resource("DocumentReference", doc["id"].(string))
		att := stored["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)
		if att["url"] != "Binary/"+id {
			t.Errorf("%s stored as %v", form, att["url"])
		}
		answered := doc["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)["url"].(string)
		if !strings.HasPrefix(answered, c.srv.URL+"storage/"+id+"/") {
			t.Errorf("%s answered as %v", form, answered)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
