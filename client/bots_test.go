package client_test

import (
	"context"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
)

func TestBotHelpers(t *testing.T) {
	srv := medplumtest.NewServer(t)
	var trace []string
	c := adminClient(t, srv, srv.Seed.Client.MembershipID, &trace)
	ctx := context.Background()

	bot, err := c.CreateBot(ctx, srv.Seed.ProjectID, map[string]any{"name": "helper"})
	if err != nil || bot.ResourceType() != "Bot" || bot.String("name") != "helper" {
		t.Fatalf("CreateBot: %v %v", bot, err)
	}
	// The default source, through both forms of its URL: the server's
	// Binary/<id> (admin answer) and a presigned link (a FHIR read).
	src := bot.Resource["sourceCode"].(map[string]any)["url"].(string)
	data, err := c.ReadAttachment(ctx, src)
	if err != nil || !strings.Contains(string(data), "export async function handler") {
		t.Fatalf("ReadAttachment(%s): %q %v", src, data, err)
	}
	read, err := c.ReadResource(ctx, client.ResourceURL("Bot", bot.ID()))
	if err != nil {
		t.Fatal(err)
	}
	presigned := read["sourceCode"].(map[string]any)["url"].(string)
	if !strings.HasPrefix(presigned, srv.URL+"storage/") {
		t.Fatalf("a read's sourceCode.url: %s", presigned)
	}
	trace = nil
	if again, err := c.ReadAttachment(ctx, presigned); err != nil || string(again) != string(data) {
		t.Errorf("ReadAttachment(presigned): %q %v", again, err)
	}
	for _, l := range trace {
		if strings.Contains(l, "Authorization") {
			t.Errorf("a presigned URL got credentials: %s", l)
		}
	}
	if _, err := c.ReadAttachment(ctx, "Patient/123"); err == nil {
		t.Error("ReadAttachment of a Patient reference")
	}

	bin, err := c.CreateBinary(ctx, []byte("exports.handler = async () => 1;"), "text/javascript", "index.js")
	if err != nil || bin.ResourceType() != "Binary" || bin.String("contentType") != "text/javascript" {
		t.Fatalf("CreateBinary: %v %v", bin, err)
	}
	if err := c.DeployBot(ctx, bot.ID(), []byte("exports.handler = async (m, e) => e.input;"), "echo.js"); err != nil {
		t.Fatal(err)
	}
	srv.SetBotHandler(func(x medplumtest.BotExecution) (any, error) { return x.Input, nil })
	resp, err := c.ExecuteBot(ctx, bot.ID(), []byte("hi"), "text/plain")
	if err != nil || string(resp.Body) != "hi" || resp.ContentType() != "text/plain; charset=utf-8" {
		t.Fatalf("ExecuteBot: %v %v", resp, err)
	}
	srv.SetBotHandler(nil)
	srv.Update(client.Resource{"resourceType": "Bot", "id": bot.ID(), "name": "helper"}) // no code
	_, err = c.ExecuteBot(ctx, bot.ID(), []byte("{}"), "application/json")
	if e := client.AsError(err); e == nil || e.Status != 400 || e.Error() != "No executable code" {
		t.Errorf("ExecuteBot without code: %v", err)
	}
}
