package medplumtest

import (
	"encoding/json"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The conflict model's rates at fixed numbers of invites in flight, drawn
// from a seeded generator: close to what a real Medplum 5.0.10 server showed
// (21% of invites conflicting with 4 in flight, 50% with 8, 72% with 16).
func TestConflictModelRates(t *testing.T) {
	m := newInviteModel(42, 0.08, 0, 0)
	measured := map[int]float64{1: 0, 2: 0.08, 4: 0.21, 8: 0.50, 16: 0.72}
	for n, want := range measured {
		for range n {
			m.begin("p")
		}
		const draws = 20000
		hits := 0
		for range draws {
			if m.conflicts("p") {
				hits++
			}
		}
		m.inflight["p"] = 0
		got := float64(hits) / draws
		if math.Abs(got-want) > 0.07 {
			t.Errorf("%d in flight: %.3f of invites conflict, measured %.2f", n, got, want)
		}
	}
	// Deterministic under a seed.
	a, b := newInviteModel(7, 0.08, 0, 0), newInviteModel(7, 0.08, 0, 0)
	a.inflight["p"], b.inflight["p"] = 8, 8
	for i := range 1000 {
		if a.conflicts("p") != b.conflicts("p") {
			t.Fatalf("draw %d differs between two models with the same seed", i)
		}
	}
}

// Conflicts turn off on their own: with invites that cost time (where the
// automatic rate is the realistic one) a rate of 0 never conflicts, so a
// benchmark can keep the cost and send exactly one request per invite.
func TestConflictRateZeroKeepsCost(t *testing.T) {
	for _, tt := range []struct {
		q    float64
		none bool
	}{{0, true}, {-1, false}} {
		m := newInviteModel(42, tt.q, time.Millisecond, time.Millisecond)
		m.inflight["p"] = 16
		hits := 0
		for range 1000 {
			if m.conflicts("p") {
				hits++
			}
		}
		if (hits == 0) != tt.none {
			t.Errorf("q=%v with a cost, 16 in flight: %d of 1000 invites conflict", tt.q, hits)
		}
	}
	s := New(WithInviteCost(time.Millisecond, time.Millisecond), WithConflictRate(0))
	if s.invites.q != 0 || s.invites.parallel != time.Millisecond || s.invites.serialD != time.Millisecond {
		t.Errorf("WithInviteCost with WithConflictRate(0): q=%v cost %v,%v", s.invites.q, s.invites.parallel, s.invites.serialD)
	}
}

// A conflicting invite rolls its membership back (the profile may stay, as
// on the real server), and the retry succeeds without duplicates.
func TestConflictingInviteLeavesNoMembership(t *testing.T) {
	s := New(WithConflictRate(1))
	ts := newTestServer(t, s)
	tok := ts.token(s.Seed.Client.ID, s.Seed.Client.Secret)
	body := `{"resourceType":"Practitioner","firstName":"Apu","lastName":"Nahasapeemapetilon","email":"apu@example.com","sendEmail":false}`

	users := s.Count("User", "")
	done := s.invites.begin(s.Seed.ProjectID) // another invite in flight
	status, m := ts.post(tok, "admin/projects/"+s.Seed.ProjectID+"/invite", body)
	issue := m["issue"].([]any)[0].(map[string]any)["details"].(map[string]any)
	if status != 409 || issue["coding"].([]any)[0].(map[string]any)["code"] != "40001" {
		t.Fatalf("%d %v", status, m)
	}
	if s.MembershipByEmail(s.Seed.ProjectID, "apu@example.com") != nil {
		t.Fatal("the conflicting invite left a membership")
	}
	done()

	status, m = ts.post(tok, "admin/projects/"+s.Seed.ProjectID+"/invite", body)
	if status != 200 || m["resourceType"] != "ProjectMembership" {
		t.Fatalf("retry: %d %v", status, m)
	}
	n := 0
	for _, r := range s.Resources("Practitioner", s.Seed.ProjectID) {
		if strings.Contains(string(must(json.Marshal(r))), "apu@example.com") {
			n++
		}
	}
	if n != 1 || s.Count("User", "") != users+1 {
		t.Errorf("%d Practitioners for apu, %d new users: the retry duplicated something", n, s.Count("User", "")-users)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

type testServer struct {
	t   *testing.T
	url string
}

func newLoopbackListener() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func newTestServer(t *testing.T, s *Server) *testServer {
	t.Helper()
	ln := must(newLoopbackListener())
	s.Start(ln)
	t.Cleanup(s.Close)
	return &testServer{t: t, url: s.URL}
}

func (ts *testServer) token(id, secret string) string {
	ts.t.Helper()
	resp, err := http.PostForm(ts.url+"oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret},
	})
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return m["access_token"].(string)
}

func (ts *testServer) post(tok, path, body string) (int, map[string]any) {
	ts.t.Helper()
	req, _ := http.NewRequest("POST", ts.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// By default conflicts are modeled only when invites cost time.
func TestConflictModelAutomaticDefault(t *testing.T) {
	free := newInviteModel(1, -1, 0, 0)
	costly := newInviteModel(1, -1, time.Millisecond, 0)
	free.inflight["p"], costly.inflight["p"] = 16, 16
	hits := 0
	for range 1000 {
		if free.conflicts("p") {
			t.Fatal("a zero-cost server produced a conflict")
		}
		if costly.conflicts("p") {
			hits++
		}
	}
	if hits < 600 || hits > 850 {
		t.Errorf("%d/1000 conflicts at 16 in flight with a cost, want about 71%%", hits)
	}
}
