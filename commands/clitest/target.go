package clitest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
)

// A Target is the Medplum server a black-box test runs against: a fresh
// medplumtest server in `make test`, or, in `make test-real`
// (MEDPLUM_TEST_REAL=1), the real Medplum that the REAL_* variables name.
// A test written against a Target runs in both:
//
//	func TestSettingsSet(t *testing.T) {
//		tg := clitest.NewTarget(t)
//		e := tg.SignedIn(t)
//		name := tg.Unique("flag")
//		tg.Cleanup(t, func(ctx context.Context, c *client.Client) error { ... })
//		e.Run("project", "settings", "set", name, "true").Expect(t, 0, "", "...")
//		if srv := tg.Sandbox; srv != nil {
//			clitest.ExpectPaths(t, srv, ...) // what only the sandbox can show
//		}
//	}
//
// In make test-real every black-box test that did not call NewTarget is
// skipped at its first clitest.New, so only Target tests reach the real
// server. They use unique names (Unique) and undo what they create
// (Cleanup), because other people use the same server and projects.
type Target struct {
	// URL is the base URL with a trailing slash.
	URL string
	// ProjectID is the project the credentials below act in.
	ProjectID string
	// ClientID and ClientSecret are a ClientApplication that is an admin
	// of ProjectID.
	ClientID, ClientSecret string
	// AdminEmail and AdminPassword sign in a person who is an admin of
	// ProjectID (server-scoped user); empty when the target has none.
	AdminEmail, AdminPassword string
	// Sandbox is the medplumtest server, nil against a real server.
	Sandbox *medplumtest.Server
	// Memberships is the number of memberships of ProjectID when the
	// target is a scale project (NewScaleTarget), else 0.
	Memberships int
	// MaxOffset is the server's largest _offset (Medplum's
	// maxSearchOffset) for a scale target.
	MaxOffset int

	super *creds // a super-admin client; nil when the real server has none
}

type creds struct{ id, secret, project string }

// realMode is set by make test-real.
var realMode = os.Getenv("MEDPLUM_TEST_REAL") != ""

// RealMode reports whether the tests run against a real server
// (make test-real).
func RealMode() bool { return realMode }

var (
	targetsMu sync.Mutex
	targets   = map[string]bool{} // names of the tests that called NewTarget
	uniqueN   atomic.Int64
	runID     = strconv.FormatInt(time.Now().Unix(), 36)
)

func registerTarget(t testing.TB) {
	targetsMu.Lock()
	targets[t.Name()] = true
	targetsMu.Unlock()
	if realMode {
		t.Cleanup(func() { recordRealTest(t) })
	}
}

// isTargetTest reports whether t or a test it is a subtest of called
// NewTarget.
func isTargetTest(t testing.TB) bool {
	targetsMu.Lock()
	defer targetsMu.Unlock()
	name := t.Name()
	for {
		if targets[name] {
			return true
		}
		i := strings.LastIndex(name, "/")
		if i < 0 {
			return false
		}
		name = name[:i]
	}
}

// skipOutsideTarget skips a black-box test in make test-real unless it runs
// against a Target.
func skipOutsideTarget(t testing.TB) {
	if realMode && !isTargetTest(t) {
		t.Skip("make test-real runs only the tests written against clitest.NewTarget")
	}
}

// recordRealTest appends the test's outcome to the report make test-real
// prints at the end (MEDPLUM_TEST_REAL_REPORT).
func recordRealTest(t testing.TB) {
	path := os.Getenv("MEDPLUM_TEST_REAL_REPORT")
	if path == "" {
		return
	}
	outcome := "PASS"
	switch {
	case t.Failed():
		outcome = "FAIL"
	case t.Skipped():
		outcome = "SKIP"
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %s\n", outcome, t.Name())
}

// env reads a REAL_* variable that make test-real requires.
func env(t testing.TB, key string) string {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		t.Fatalf("make test-real: %s is not set (see DESIGN.md, make test-real)", key)
	}
	return v
}

func withSlash(u string) string {
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

func realSuper() *creds {
	id, secret := os.Getenv("REAL_SUPER_CLIENT_ID"), os.Getenv("REAL_SUPER_CLIENT_SECRET")
	if id == "" || secret == "" {
		return nil
	}
	return &creds{id, secret, os.Getenv("REAL_SUPER_PROJECT")}
}

// NewTarget returns the server of a black-box test: in make test-real the
// real server's fixture project (REAL_BASE, REAL_PROJECT,
// REAL_CLIENT_ID/SECRET, REAL_ADMIN_EMAIL/PASSWORD; REAL_SUPER_* when
// present), else a new medplumtest server with opts.
func NewTarget(t testing.TB, opts ...medplumtest.Option) *Target {
	t.Helper()
	registerTarget(t)
	if realMode {
		return &Target{
			URL: withSlash(env(t, "REAL_BASE")), ProjectID: env(t, "REAL_PROJECT"),
			ClientID: env(t, "REAL_CLIENT_ID"), ClientSecret: env(t, "REAL_CLIENT_SECRET"),
			AdminEmail: os.Getenv("REAL_ADMIN_EMAIL"), AdminPassword: os.Getenv("REAL_ADMIN_PASSWORD"),
			super: realSuper(),
		}
	}
	return sandboxTarget(medplumtest.NewServer(t, opts...))
}

func sandboxTarget(srv *medplumtest.Server) *Target {
	sd := srv.Seed
	return &Target{
		URL: srv.URL, ProjectID: sd.ProjectID, ClientID: sd.Client.ID, ClientSecret: sd.Client.Secret,
		AdminEmail: sd.AdminEmail, AdminPassword: sd.AdminPassword, Sandbox: srv,
		super: &creds{sd.SuperAdminClient.ID, sd.SuperAdminClient.Secret, sd.SuperAdminProjectID},
	}
}

// SandboxMaxOffset is the _offset limit of a sandbox scale target: the
// real server's 10,000 scaled down, so that paging past it stays cheap.
const SandboxMaxOffset = 100

// NewScaleTarget returns a project with more memberships than the server
// lets a search page through with _offset: in make test-real the scale
// project (REAL_SCALE_PROJECT, REAL_SCALE_CLIENT_ID/SECRET, REAL_SCALE_N;
// skipped when they are not set), else a medplumtest server whose offset
// limit is SandboxMaxOffset, with 2.5 times as many members.
func NewScaleTarget(t testing.TB) *Target {
	t.Helper()
	registerTarget(t)
	if realMode {
		if os.Getenv("REAL_SCALE_PROJECT") == "" {
			t.Skip("make test-real: no scale project (REAL_SCALE_PROJECT, from scale.env)")
		}
		n, err := strconv.Atoi(env(t, "REAL_SCALE_N"))
		if err != nil {
			t.Fatalf("REAL_SCALE_N: %v", err)
		}
		return &Target{
			URL: withSlash(env(t, "REAL_BASE")), ProjectID: env(t, "REAL_SCALE_PROJECT"),
			ClientID: env(t, "REAL_SCALE_CLIENT_ID"), ClientSecret: env(t, "REAL_SCALE_CLIENT_SECRET"),
			Memberships: n, MaxOffset: 10000, super: realSuper(),
		}
	}
	members := SandboxMaxOffset*5/2 - 4 // the seed has 4 memberships more
	srv := medplumtest.NewServer(t, medplumtest.WithMembers(members), medplumtest.WithMaxSearchOffset(SandboxMaxOffset))
	tg := sandboxTarget(srv)
	tg.Memberships, tg.MaxOffset = srv.Count("ProjectMembership", srv.Seed.ProjectID), SandboxMaxOffset
	return tg
}

// Real reports whether the target is a real server.
func (tg *Target) Real() bool { return tg.Sandbox == nil }

// SignedIn returns an Env signed in to the target's project with its admin
// client, through the official CLI's environment variables.
func (tg *Target) SignedIn(t testing.TB) *Env {
	t.Helper()
	e := New(t)
	e.Set("MEDPLUM_BASE_URL", tg.URL)
	e.Set("MEDPLUM_CLIENT_ID", tg.ClientID)
	e.Set("MEDPLUM_CLIENT_SECRET", tg.ClientSecret)
	return e
}

// Unique returns name with a suffix no other run of the tests uses (the
// run's start time and a counter), for what a test creates on a shared
// server.
func (tg *Target) Unique(name string) string {
	return fmt.Sprintf("%s-t%s-%d", name, runID, uniqueN.Add(1))
}

// API returns a client signed in with the target's admin client, for a
// test's own setup, checks and cleanup.
func (tg *Target) API(t testing.TB) *client.Client {
	t.Helper()
	return apiClient(t, tg.URL, tg.ClientID, tg.ClientSecret)
}

func apiClient(t testing.TB, base, id, secret string) *client.Client {
	t.Helper()
	tc, err := client.New(client.Options{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.NewAuthenticator(auth.Settings{BaseURL: base, ClientID: id, ClientSecret: secret}, tc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Options{BaseURL: base, Auth: a})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Cleanup runs undo with the target's API client when the test ends,
// whether it passed or not; an error fails the test (something was left on
// the server).
func (tg *Target) Cleanup(t testing.TB, undo func(ctx context.Context, c *client.Client) error) {
	t.Helper()
	c := tg.API(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := undo(ctx, c); err != nil {
			t.Errorf("cleanup on %s: %v", tg.URL, err)
		}
	})
}

// Super returns a client signed in as a super admin (the sandbox's seeded
// one, or REAL_SUPER_CLIENT_ID/SECRET); a real server without one skips
// the test.
func (tg *Target) Super(t testing.TB) *client.Client {
	t.Helper()
	if tg.super == nil {
		t.Skip("make test-real: no super-admin client (REAL_SUPER_CLIENT_ID, from super.env)")
	}
	return apiClient(t, tg.URL, tg.super.id, tg.super.secret)
}

// SuperSignedIn returns an Env signed in as a super admin (the sandbox's
// seeded client, or REAL_SUPER_CLIENT_ID/SECRET), through the official
// CLI's environment variables; a real server without one skips the test.
func (tg *Target) SuperSignedIn(t testing.TB) *Env {
	t.Helper()
	if tg.super == nil {
		t.Skip("make test-real: no super-admin client (REAL_SUPER_CLIENT_ID, from super.env)")
	}
	e := New(t)
	e.Set("MEDPLUM_BASE_URL", tg.URL)
	e.Set("MEDPLUM_CLIENT_ID", tg.super.id)
	e.Set("MEDPLUM_CLIENT_SECRET", tg.super.secret)
	return e
}

// NewProject creates a project for the test with a super-admin client, with
// the id given (a UUID; "" lets the server choose), an admin
// ClientApplication and nobody else; on a real server it is expunged when
// the test ends. The returned Target acts in it (AddPerson adds people).
func (tg *Target) NewProject(t testing.TB, id, name string) *Target {
	t.Helper()
	sc := tg.Super(t)
	ctx := context.Background()
	p := client.Resource{"resourceType": "Project", "name": name}
	var doc client.Resource
	var err error
	if id == "" {
		var d client.Doc
		d, err = sc.CreateResource(ctx, p)
		doc = d.Resource
	} else {
		// A super admin may choose the id: an update of a resource that
		// does not exist creates it (repo.ts canSetId).
		p["id"] = id
		doc, err = sc.UpdateResource(ctx, p)
	}
	if err != nil {
		t.Fatalf("creating project %q: %v", name, err)
	}
	return tg.finishProject(t, sc, doc.ID(), name)
}

// InitProject is NewProject through Project/$init, as the web app makes
// projects: the server adds a non-admin "<name> Default Client" (captures
// 190-193).
func (tg *Target) InitProject(t testing.TB, name string) *Target {
	t.Helper()
	sc := tg.Super(t)
	body := map[string]any{"resourceType": "Parameters", "parameter": []any{map[string]any{"name": "name", "valueString": name}}}
	b, err := client.EncodeBody(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := sc.Do(context.Background(), &client.Request{Method: http.MethodPost, URL: "Project/$init", Body: b})
	if err != nil {
		t.Fatalf("Project/$init %q: %v", name, err)
	}
	var p struct{ ID string }
	if err := json.Unmarshal(resp.Body, &p); err != nil || p.ID == "" {
		t.Fatalf("Project/$init %q: %s", name, resp.Body)
	}
	return tg.finishProject(t, sc, p.ID, name)
}

// finishProject gives a new project its admin client (and, on a real
// server, its removal when the test ends).
func (tg *Target) finishProject(t testing.TB, sc *client.Client, pid, name string) *Target {
	t.Helper()
	ctx := context.Background()
	if tg.Real() { // (medplumtest has no $expunge; its server goes with the test)
		t.Cleanup(func() {
			// $expunge of a Project deletes everything in it (an async job).
			_, err := sc.Do(context.Background(), &client.Request{Method: http.MethodPost,
				URL: client.ResourceURL("Project", pid) + "/$expunge?everything=true"})
			if err != nil {
				t.Errorf("cleanup: expunging project %s: %v", pid, err)
			}
		})
	}
	app, err := sc.CreateClientApplication(ctx, pid, map[string]any{"name": name + " admin client"})
	if err != nil {
		t.Fatalf("creating the admin client of %s: %v", pid, err)
	}
	var secret string
	_ = json.Unmarshal(mustField(t, app.Raw, "secret"), &secret)
	ms, err := sc.SearchAll(ctx, "ProjectMembership?user=ClientApplication/"+app.ID())
	if err != nil || len(ms) != 1 {
		t.Fatalf("the membership of client %s: %v (%d found)", app.ID(), err, len(ms))
	}
	ms[0]["admin"] = true
	if _, err := sc.UpdateResource(ctx, ms[0]); err != nil {
		t.Fatalf("making client %s an admin: %v", app.ID(), err)
	}
	return &Target{URL: tg.URL, ProjectID: pid, ClientID: app.ID(), ClientSecret: secret, Sandbox: tg.Sandbox, super: tg.super}
}

// OwnProject is NewTarget and NewProject for a test that needs a project
// of its own: it returns the project, an Env signed in to it and an API
// client of it. On a real server the users of its members are deleted when
// the test ends (server-scoped users outlive a project), then the project
// is expunged.
func OwnProject(t *testing.T, what string) (*Target, *Env, *client.Client) {
	t.Helper()
	tg := NewTarget(t)
	p := tg.NewProject(t, "", tg.Unique(what))
	sc := tg.Super(t)
	c := p.API(t)
	if p.Real() {
		t.Cleanup(func() {
			ctx := context.Background()
			ms, err := sc.SearchAll(ctx, "ProjectMembership?project=Project/"+p.ProjectID+"&_count=1000")
			if err != nil {
				t.Errorf("cleanup: the members of %s: %v", p.ProjectID, err)
				return
			}
			for _, m := range ms {
				if typ, id, ok := client.SplitReference(m.Ref("user")); ok && typ == "User" {
					if err := sc.DeleteResource(ctx, typ, id); err != nil && client.StatusOf(err) != http.StatusGone && client.StatusOf(err) != http.StatusNotFound {
						t.Errorf("cleanup: deleting User/%s: %v", id, err)
					}
				}
			}
		})
	}
	return p, p.SignedIn(t), c
}

// AddPerson invites a person into the target's project with a password
// (a server-scoped Practitioner, no e-mail sent), as an admin if asked,
// and returns the membership id. The same e-mail in several projects is
// one user with several memberships. On a real server the user is deleted
// when the test ends (with a super-admin client; the memberships go with
// their projects).
func (tg *Target) AddPerson(t testing.TB, email, password string, admin bool) string {
	t.Helper()
	c := tg.API(t)
	m, err := c.Invite(context.Background(), tg.ProjectID, map[string]any{"resourceType": "Practitioner",
		"firstName": "Test", "lastName": "Person", "email": email, "password": password, "sendEmail": false, "admin": admin})
	if err != nil {
		t.Fatalf("inviting %s into %s: %v", email, tg.ProjectID, err)
	}
	if user := m.Ref("user"); tg.Real() && user != "" {
		sc := tg.Super(t)
		t.Cleanup(func() {
			typ, id, _ := client.SplitReference(user)
			if err := sc.DeleteResource(context.Background(), typ, id); err != nil && client.StatusOf(err) != http.StatusGone {
				t.Errorf("cleanup: deleting %s: %v", user, err)
			}
		})
	}
	return m.ID()
}

// RandomID returns a random resource id (a version 4 UUID) that starts
// with prefix (hex digits), e.g. "eb1" for a project id Medplum's search
// parser mistakes for a prefixed value.
func RandomID(prefix string) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	s := hex.EncodeToString(b)
	s = prefix + s[len(prefix):]
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

func mustField(t testing.TB, raw []byte, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m[key] == nil {
		t.Fatalf("no %s in %s", key, raw)
	}
	return m[key]
}
