package client_test

import (
	"context"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
)

// adminClient signs in to srv as a membership (the seeded project admin
// ClientApplication's, say) and records the trace, bodies included.
func adminClient(t *testing.T, srv *medplumtest.Server, membershipID string, trace *[]string) *client.Client {
	t.Helper()
	opts := client.Options{BaseURL: srv.URL, Auth: &bearer{token: srv.IssueToken(membershipID)}}
	if trace != nil {
		opts.Trace = func(l string) { *trace = append(*trace, l) }
		opts.TraceBodies = true
	}
	c, err := client.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestProjectSettingsAndSecrets(t *testing.T) {
	srv := medplumtest.NewServer(t)
	var trace []string
	c := adminClient(t, srv, srv.Seed.Client.MembershipID, &trace)
	ctx := context.Background()
	pid := srv.Seed.ProjectID

	read := func() client.Doc {
		t.Helper()
		d, err := c.ReadProject(ctx, pid)
		if err != nil || d.ID() != pid || client.VersionID(d.Resource) == "" {
			t.Fatalf("ReadProject: %v %v", d.Resource, err)
		}
		return d
	}
	v0 := client.VersionID(read().Resource)
	p, err := c.PatchProjectList(ctx, pid, v0, "setting", []client.Resource{
		{"name": "mfaRequired", "valueBoolean": true},
		{"name": "allowedMfaMethods", "valueString": "totp"},
	})
	if err != nil || p.ResourceType() != "Project" || p.ID() != pid || client.VersionID(p.Resource) == v0 {
		t.Fatalf("settings: %v %v", p.Resource, err)
	}
	// The version read is stale now: the same patch writes nothing.
	_, err = c.PatchProjectList(ctx, pid, v0, "setting", []client.Resource{{"name": "x", "valueBoolean": true}})
	if !client.IsVersionConflict(err) || client.StatusOf(err) != 400 {
		t.Fatalf("stale version: %v", err)
	}
	const secretValue = "smtp-password-0123456789"
	if _, err := c.PatchProjectList(ctx, pid, client.VersionID(p.Resource), "secret", []client.Resource{{"name": "SMTP", "valueString": secretValue}}); err != nil {
		t.Fatal(err)
	}
	got := read()
	settings := client.SettingsList(got.Resource, "setting")
	if len(settings) != 2 || settings[0].String("name") != "mfaRequired" {
		t.Fatalf("settings read back: %v", got.Resource["setting"])
	}
	if k, v, ok := client.SettingValue(settings[0]); !ok || k != "valueBoolean" || v != true {
		t.Errorf("SettingValue: %s %v %v", k, v, ok)
	}
	if s := client.SettingsList(got.Resource, "secret"); len(s) != 1 || s[0].String("valueString") != secretValue {
		t.Errorf("secrets read back: %v", s)
	}
	if stored := srv.Resource("Project", pid); len(stored["secret"].([]any)) != 1 {
		t.Errorf("server holds %v", stored["secret"])
	}
	// The secret value travelled but never reached the trace.
	if all := strings.Join(trace, "\n"); strings.Contains(all, secretValue) {
		t.Errorf("trace shows the project secret:\n%s", all)
	}

	// An empty list removes the array.
	if _, err := c.PatchProjectList(ctx, pid, client.VersionID(got.Resource), "secret", nil); err != nil {
		t.Fatal(err)
	}
	sent := srv.RequestsTo("PATCH", "/fhir/R4/Project/*")
	if body := string(sent[len(sent)-1].Body); !strings.HasSuffix(body, `{"op":"remove","path":"/secret"}]`) {
		t.Errorf("clearing sent %s", body)
	}
	if _, ok := read().Resource["secret"]; ok {
		t.Errorf("secrets not cleared: %v", read().Resource["secret"])
	}
	if _, err := c.PatchProjectList(ctx, pid, "v", "site", nil); err == nil {
		t.Error("PatchProjectList wrote a list it does not know")
	}
}

func TestResourceWritesAndSearchAll(t *testing.T) {
	srv := medplumtest.NewServer(t)
	c := adminClient(t, srv, srv.Seed.Client.MembershipID, nil)
	ctx := context.Background()

	ap, err := c.CreateResource(ctx, client.Resource{"resourceType": "AccessPolicy", "name": "Clinician",
		"resource": []any{map[string]any{"resourceType": "Patient"}}})
	if err != nil || ap.ID() == "" {
		t.Fatalf("create: %v %v", ap, err)
	}
	ap.Resource["resource"] = []any{map[string]any{"resourceType": "Patient", "readonly": true}}
	up, err := c.UpdateResource(ctx, ap.Resource)
	if err != nil || up.ID() != ap.ID() {
		t.Fatalf("update: %v %v", up, err)
	}
	if r := srv.Resource("AccessPolicy", ap.ID()); r["resource"].([]any)[0].(map[string]any)["readonly"] != true {
		t.Errorf("server holds %v", r)
	}
	list, err := c.SearchAll(ctx, "AccessPolicy?name:exact=Clinician&_count=1")
	if err != nil || len(list) != 1 || list[0].ID() != ap.ID() {
		t.Fatalf("search: %v %v", list, err)
	}
	if err := c.DeleteResource(ctx, "AccessPolicy", ap.ID()); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteResource(ctx, "AccessPolicy", ap.ID()); err != nil { // 5.0.10: All OK again (capture 521)
		t.Errorf("second delete: %v", err)
	}
	sent := len(srv.Requests())
	if _, err := c.UpdateResource(ctx, client.Resource{"resourceType": "AccessPolicy"}); err == nil || err.Error() != "a project or membership id is empty" {
		t.Errorf("update without an id: %v", err)
	}
	if _, err := c.CreateResource(ctx, client.Resource{"name": "x"}); err == nil || err.Error() != "the resource has no resourceType" {
		t.Errorf("create without a resourceType: %v", err)
	}
	if n := len(srv.Requests()) - sent; n != 0 {
		t.Errorf("the invalid writes sent %d requests", n)
	}
}

func TestRotateAndRetireClientSecret(t *testing.T) {
	srv := medplumtest.NewServer(t)
	var trace []string
	c := adminClient(t, srv, srv.Seed.Client.MembershipID, &trace)
	ctx := context.Background()
	app, err := c.CreateClientApplication(ctx, srv.Seed.ProjectID, map[string]string{"name": "CI"})
	if err != nil {
		t.Fatal(err)
	}
	old := app.String("secret")
	rotated, err := c.RotateClientSecret(ctx, app.ID(), old)
	if err != nil {
		t.Fatal(err)
	}
	cur := rotated.String("secret")
	if cur == "" || cur == old || rotated.String("retiringSecret") != old {
		t.Fatalf("rotated: %v", rotated)
	}
	// The bytes are the ClientApplication's as sent (unwrapped from the
	// operation's Parameters when the server wraps it).
	if !strings.HasPrefix(string(rotated.Raw), `{"resourceType":"ClientApplication",`) || !strings.Contains(string(rotated.Raw), `"secret":"`+cur+`"`) {
		t.Errorf("rotated.Raw: %s", rotated.Raw)
	}
	retired, err := c.RetireClientSecret(ctx, app.ID(), old)
	if err != nil || retired.String("retiringSecret") != "" || retired.String("secret") != cur {
		t.Fatalf("retired: %v %v", retired, err)
	}
	_, err = c.RetireClientSecret(ctx, app.ID(), old)
	if e := client.AsError(err); e == nil || e.Status != 400 || e.Error() != "Provided secret does not match client" {
		t.Errorf("retiring again: %v", err)
	}
	sent := len(srv.Requests())
	if _, err := c.RotateClientSecret(ctx, app.ID(), ""); err == nil || err.Error() != "rotate secret: the secret to rotate is empty" {
		t.Errorf("empty secret: %v", err)
	}
	if n := len(srv.Requests()) - sent; n != 0 {
		t.Errorf("rotating an empty secret sent %d requests", n)
	}
	all := strings.Join(trace, "\n")
	for _, s := range []string{old, cur} {
		if strings.Contains(all, s) {
			t.Errorf("trace shows a client secret:\n%s", all)
		}
	}
}
