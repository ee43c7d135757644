package review_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m) }

// fixture is a sandbox whose clock a test can set back, to make invites
// and secrets old, and an API client of its project's admin client.
type fixture struct {
	t    *testing.T
	srv  *medplumtest.Server
	skew *atomic.Int64 // the server's clock minus the real one
	api  *client.Client
	e    *clitest.Env
}

func newFixture(t *testing.T, opts ...medplumtest.Option) *fixture {
	t.Helper()
	skew := &atomic.Int64{}
	opts = append(opts, medplumtest.WithClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }))
	srv := medplumtest.NewServer(t, opts...)
	f := &fixture{t: t, srv: srv, skew: skew, e: clitest.SignedIn(t, srv)}
	f.api = f.client(srv.Seed.Client.MembershipID)
	return f
}

// daysAgo sets the server's clock to n days ago (0: now).
func (f *fixture) daysAgo(n int) { f.skew.Store(int64(-time.Duration(n) * 24 * time.Hour)) }

// tokenAuth signs requests with a token medplumtest issued.
type tokenAuth struct{ token string }

func (a tokenAuth) Apply(_ context.Context, r *http.Request) error {
	r.Header.Set("Authorization", "Bearer "+a.token)
	return nil
}
func (a tokenAuth) Refresh(context.Context) (bool, error) { return false, nil }

// client is an API client signed in as a membership of the sandbox.
func (f *fixture) client(membershipID string) *client.Client {
	c, err := client.New(client.Options{BaseURL: f.srv.URL, Auth: tokenAuth{f.srv.IssueToken(membershipID)}})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// invite invites someone into the project as its admin client and returns
// the membership.
func (f *fixture) invite(body map[string]any) client.Resource {
	f.t.Helper()
	if _, ok := body["sendEmail"]; !ok {
		body["sendEmail"] = false
	}
	m, err := f.api.Invite(context.Background(), f.srv.Seed.ProjectID, body)
	if err != nil {
		f.t.Fatalf("invite %v: %v", body, err)
	}
	return m
}

// person invites a Practitioner: scoped to the project unless server.
func (f *fixture) person(first, last string, admin, server bool) client.Resource {
	f.t.Helper()
	b := map[string]any{"resourceType": "Practitioner", "firstName": first, "lastName": last,
		"email": strings.ToLower(first+"."+last) + "@example.com", "admin": admin}
	if !server {
		b["scope"] = "project"
	}
	return f.invite(b)
}

// update changes a stored resource as the system would.
func (f *fixture) update(typ, id string, change func(client.Resource)) client.Resource {
	f.t.Helper()
	r := f.srv.Resource(typ, id)
	if r == nil {
		f.t.Fatalf("no %s/%s", typ, id)
	}
	change(r)
	return f.srv.Update(r)
}

// set changes a membership through the admin route, as members commands do.
func (f *fixture) set(m client.Resource, change func(client.Resource)) {
	f.t.Helper()
	cur := f.srv.Resource("ProjectMembership", m.ID())
	change(cur)
	if _, err := f.api.UpdateMembership(context.Background(), f.srv.Seed.ProjectID, cur); err != nil {
		f.t.Fatal(err)
	}
}

// policy creates an access policy in the project.
func (f *fixture) policy(name string) string {
	f.t.Helper()
	d, err := f.api.CreateResource(context.Background(), client.Resource{"resourceType": "AccessPolicy", "name": name,
		"resource": []any{map[string]any{"resourceType": "Patient"}}})
	if err != nil {
		f.t.Fatal(err)
	}
	return "AccessPolicy/" + d.ID()
}

// withPolicy gives a membership an access policy.
func withPolicy(ref string) func(client.Resource) {
	return func(m client.Resource) { m["accessPolicy"] = map[string]any{"reference": ref} }
}

// review is what members review -o json printed.
type reviewDoc struct {
	Project struct {
		ID             string
		Name           string
		MFARequired    any
		AccessPolicies int
	}
	ReviewedAt string
	Reviewer   struct {
		Profile    string
		SuperAdmin bool
		Server     string
	}
	Settings struct {
		StaleInvite  string `json:"staleInvite"`
		SecretMaxAge string `json:"secretMaxAge"`
	}
	Members  []map[string]any
	Findings []finding
	Rules    []struct {
		ID, Severity, Result           string
		Findings, Accepted, NotChecked int
		NotCheckedReasons              []struct {
			Reason  string
			Count   int
			Members []string
		}
	}
	Changes     []struct{ Change, Member, Name, From, To string }
	IgnoreNotes []struct{ Where, Rule, Member, Note string }
	Counts      map[string]any
}

type finding struct {
	Rule, Severity, Member, Name, Detail string
	Accepted                             *struct{ Reason, Expires, Where string }
}

// run runs members review -o json with args, and decodes it.
func (f *fixture) review(args ...string) *reviewDoc {
	f.t.Helper()
	return decodeReview(f.t, f.e.Run(append([]string{"members", "review", "-o", "json"}, args...)...))
}

func decodeReview(t *testing.T, r clitest.Result) *reviewDoc {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("members review: exit %d\n%s", r.Code, r.Stderr)
	}
	var rv reviewDoc
	if err := json.Unmarshal([]byte(r.Stdout), &rv); err != nil {
		t.Fatalf("members review -o json: %v\n%s", err, r.Stdout)
	}
	return &rv
}

// of lists the findings of a rule as "name: detail", sorted.
func (rv *reviewDoc) of(rule string) []string {
	out := []string{}
	for _, f := range rv.Findings {
		if f.Rule == rule {
			who := f.Name
			if f.Member == "" {
				who = "(project)"
			}
			out = append(out, who+": "+f.Detail)
		}
	}
	sort.Strings(out)
	return out
}

// notChecked lists the members a rule could not check as "reason: names".
func (rv *reviewDoc) notChecked(rule string) []string {
	out := []string{}
	for _, r := range rv.Rules {
		if r.ID == rule {
			for _, g := range r.NotCheckedReasons {
				out = append(out, g.Reason+": "+strings.Join(g.Members, ", "))
			}
		}
	}
	return out
}

// result is a rule's result.
func (rv *reviewDoc) result(rule string) string {
	for _, r := range rv.Rules {
		if r.ID == rule {
			return r.Result
		}
	}
	return ""
}

// member is the member row of a membership id.
func (rv *reviewDoc) member(t *testing.T, id string) map[string]any {
	t.Helper()
	return rv.row(t, "id", id)
}

// named is the member row of a name.
func (rv *reviewDoc) named(t *testing.T, name string) map[string]any {
	t.Helper()
	return rv.row(t, "name", name)
}

func (rv *reviewDoc) row(t *testing.T, key, value string) map[string]any {
	t.Helper()
	for _, m := range rv.Members {
		if m[key] == value {
			return m
		}
	}
	t.Fatalf("no member with %s %s in the review", key, value)
	return nil
}

func expectList(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	got = append([]string{}, got...)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// dayOf is the date of a time the server wrote.
func dayOf(t *testing.T, instant any) string {
	t.Helper()
	s, _ := instant.(string)
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("not an instant: %v", instant)
	}
	return tm.UTC().Format("2006-01-02")
}

func lastUpdated(r client.Resource) string {
	meta, _ := r["meta"].(map[string]any)
	s, _ := meta["lastUpdated"].(string)
	return s
}
