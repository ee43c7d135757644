package medplumtest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/medplumcli/medplum/client"
)

// Bots (admin/bot.ts, fhir/operations/deploy.ts, execute.ts; captures
// 100-124):
//
//   - POST admin/projects/:p/bot creates a Bot in the caller's own project
//     (whatever the path says, super admins included), with a default
//     TypeScript source in a Binary, and the bot's ProjectMembership. The
//     answer is the Bot with its sourceCode as "Binary/<id>".
//   - POST fhir/R4/Bot/:id/$deploy {code, filename} stores the code in a new
//     Binary and points Bot.executableCode at it. It needs "bots" in the
//     project's features (400 "Bots not enabled"); without code it needs
//     code deployed before (400 "Bot missing executable code"). With the
//     vmcontext runtime the real server does not look at the code here.
//   - POST fhir/R4/Bot/:id/$execute answers with what the bot's handler
//     returns, in the request's content type; a bot that throws is a 400
//     OperationOutcome with the message.
//
// medplumtest does not run JavaScript. What $execute answers instead comes
// from the server's BotHandler: by default a description of what would run
// (the bot, its code's SHA-256 and size, and the input), never a result of
// running the code. Tests script a bot's answers with SetBotHandler.

// WithoutBots leaves "bots" out of the seeded project's features, as on a
// server where no super admin enabled them: $deploy and $execute answer
// 400 "Bots not enabled".
func WithoutBots() Option { return func(c *config) { c.noBots = true } }

// WithBotDeployCost makes every $deploy take d on the server, in parallel
// with other requests (the sandbox's model of a real deploy).
func WithBotDeployCost(d time.Duration) Option { return func(c *config) { c.botDeployCost = d } }

// SetBotDeployCost changes the cost of a $deploy while the server runs.
func (s *Server) SetBotDeployCost(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.botDeployCost = d
}

// BotExecution is one $execute of a deployed bot, as a BotHandler sees it.
type BotExecution struct {
	Bot         client.Resource // the Bot as stored
	Code        []byte          // the executable code $deploy stored
	Filename    string          // the code's file name (executableCode.title)
	ContentType string          // the request's Content-Type
	Input       any             // a JSON body decoded, other bodies as a string; a GET's query
}

// A BotHandler decides what $execute answers in place of running the bot's
// code: the value the bot's handler would return (a string is sent as it
// is, nil as the OperationOutcome "All OK", anything else as JSON), or an
// error, answered like a bot that threw it (400, an OperationOutcome whose
// text is the error's message).
type BotHandler func(BotExecution) (any, error)

// SetBotHandler replaces what $execute answers (nil restores the default,
// DescribeBotExecution).
func (s *Server) SetBotHandler(h BotHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.botHandler = h
}

// DescribeBotExecution is the default BotHandler. It runs nothing: for a
// text input it answers one line naming the bot, the SHA-256 and size of
// the deployed code and the size of the input; for any other input, the
// same as a JSON object with the input itself.
func DescribeBotExecution(x BotExecution) (any, error) {
	sum := sha256.Sum256(x.Code)
	sha := hex.EncodeToString(sum[:])
	ref := "Bot/" + x.Bot.ID()
	if text, ok := x.Input.(string); ok {
		return fmt.Sprintf("medplumtest does not run bot code: %s would run %s (sha256 %s, %d bytes) with %d bytes of input\n",
			ref, x.Filename, sha, len(x.Code), len(text)), nil
	}
	return map[string]any{
		"medplumtest": "this sandbox does not run bot code; a real Medplum server answers with what the bot's handler returns",
		"bot":         ref,
		"executableCode": map[string]any{
			"title": x.Filename, "sha256": sha, "size": len(x.Code),
		},
		"input": x.Input,
	}, nil
}

func (s *Server) botRoutes() {
	s.handle("POST", "/fhir/R4/Bot/:id/$deploy", s.botDeploy)
	s.handle("POST", "/fhir/R4/Bot/:id/$execute", s.botExecute)
	s.handle("GET", "/fhir/R4/Bot/:id/$execute", s.botExecute)
}

// botsEnabled reports whether a project has "bots" in its features. Holds s.mu.
func (s *Server) botsEnabled(project string) bool { return s.hasFeature(project, "bots") }

// hasFeature reports whether a project has that feature in Project.features.
// Holds s.mu.
func (s *Server) hasFeature(project, feature string) bool {
	p := s.st.live("Project", project)
	if p == nil {
		return false
	}
	list, _ := p.res["features"].([]any)
	return slices.Contains(list, any(feature))
}

// adminCreateBot is POST /admin/projects/:id/bot.
func (s *Server) adminCreateBot(c *reqCtx) {
	body := c.bodyObject()
	if str, _ := body["name"].(string); strings.TrimSpace(str) == "" {
		c.sendOutcome(invalidRequest([]fieldError{{"name", "Bot name is required"}}))
		return
	}
	bot := client.Resource{"resourceType": "Bot", "name": body["name"]}
	if d, ok := body["description"]; ok {
		bot["description"] = d
	}
	bot["runtimeVersion"] = "vmcontext" // the server's defaultBotRuntimeVersion
	if rt, ok := body["runtimeVersion"]; ok && rt != nil {
		bot["runtimeVersion"] = rt
	}
	if oo := validateResource(bot); oo != nil {
		c.sendOutcome(oo)
		return
	}
	a := c.auth
	s.mu.Lock()
	project := a.project
	src := s.storeBinary(project.id, a.author(), "text/typescript", []byte(defaultBotCode))
	bot["sourceCode"] = map[string]any{"contentType": "text/typescript", "title": "index.ts", "url": "Binary/" + src.id}
	rec := s.st.write(bot, project.id, a.author(), s.now())
	self := map[string]any{"reference": "Bot/" + rec.id, "display": rec.res.String("name")}
	m := client.Resource{
		"resourceType": "ProjectMembership",
		"project":      createReference(project),
		"user":         self,
		"profile":      deepCopy(self),
	}
	if ap, ok := body["accessPolicy"]; ok && ap != nil {
		m["accessPolicy"] = deepCopy(ap)
	}
	s.st.write(m, project.id, systemAuthor, s.now())
	out := presentResource(rec.res, c.extended())
	s.mu.Unlock()
	c.json(http.StatusCreated, out)
}

// defaultBotCode is the source a new bot starts with (admin/bot.ts).
const defaultBotCode = `import { BotEvent, MedplumClient } from '@medplum/core';

export async function handler(medplum: MedplumClient, event: BotEvent): Promise<any> {
  // Your code here
}
`

// botDeploy is POST Bot/:id/$deploy.
func (s *Server) botDeploy(c *reqCtx) {
	c.params["type"] = "Bot"
	rec := c.fhirTarget(pointsWrite, nil, nil)
	if rec == nil {
		return
	}
	body := c.bodyObject()
	code, _ := body["code"].(string)
	filename, _ := body["filename"].(string)
	if filename == "" {
		filename = "index.js"
	}
	exec, _ := rec.res["executableCode"].(map[string]any)
	if url, _ := exec["url"].(string); code == "" && url == "" {
		c.unlockOutcome(badRequest("Bot missing executable code"))
		return
	}
	if !s.botsEnabled(rec.project) {
		c.unlockOutcome(badRequest("Bots not enabled"))
		return
	}
	cost := s.cfg.botDeployCost
	s.mu.Unlock()
	if cost > 0 {
		select {
		case <-time.After(cost):
		case <-c.r.Context().Done():
			return
		}
	}
	if code == "" {
		c.sendOutcome(allOk())
		return
	}
	s.mu.Lock()
	rec = s.st.live("Bot", rec.id)
	if rec == nil {
		c.unlockOutcome(gone())
		return
	}
	bin := s.storeBinary(rec.project, c.auth.author(), "text/javascript", []byte(code))
	next := deepCopy(rec.res)
	next["executableCode"] = map[string]any{"contentType": "text/javascript", "url": "Binary/" + bin.id, "title": filename}
	if _, oo := c.updateRecord(rec, next); oo != nil {
		c.unlockOutcome(oo)
		return
	}
	c.unlockOutcome(allOk())
}

// botExecute is POST (or GET) Bot/:id/$execute.
func (s *Server) botExecute(c *reqCtx) {
	c.params["type"] = "Bot"
	rec := c.fhirTarget(pointsRead, nil, nil)
	if rec == nil {
		return
	}
	reqCT := c.r.Header.Get("Content-Type")
	answerCT := client.ContentTypeJSON
	if reqCT == "text/plain" || reqCT == "x-application/hl7-v2+er7" {
		answerCT = reqCT
	}
	answerCT += "; charset=utf-8"
	fail := func(text string) {
		c.write(http.StatusBadRequest, answerCT, marshal(badRequest(text)))
	}
	if !s.botsEnabled(rec.project) {
		s.mu.Unlock()
		fail("Bots not enabled")
		return
	}
	exec, _ := rec.res["executableCode"].(map[string]any)
	url, _ := exec["url"].(string)
	if url == "" {
		s.mu.Unlock()
		fail("No executable code")
		return
	}
	if !strings.HasPrefix(url, "Binary/") {
		s.mu.Unlock()
		fail("Executable code is not a Binary")
		return
	}
	x := BotExecution{Bot: deepCopy(rec.res), ContentType: reqCT}
	x.Filename, _ = exec["title"].(string)
	if b := s.blobs[strings.TrimPrefix(url, "Binary/")]; b != nil {
		x.Code = append([]byte(nil), b.data...)
	}
	h := s.botHandler
	s.mu.Unlock()
	switch {
	case c.r.Method == http.MethodGet:
		q := map[string]any{}
		for k, v := range c.r.URL.Query() {
			q[k] = v[len(v)-1]
		}
		x.Input = q
	case c.isJSON && c.body != nil:
		x.Input = c.body
	case c.isJSON: // an empty JSON body is {} to Express
		x.Input = map[string]any{}
	default:
		x.Input = string(c.raw)
	}
	if h == nil {
		h = DescribeBotExecution
	}
	v, err := h(x)
	if err != nil {
		fail(err.Error())
		return
	}
	var out []byte
	switch t := v.(type) {
	case nil:
		out = marshal(allOk())
	case string:
		out = []byte(t)
	default:
		out = marshal(t)
	}
	c.write(http.StatusOK, answerCT, out)
}
