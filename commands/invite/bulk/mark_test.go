package bulk

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
)

func TestMarkJudge(t *testing.T) {
	ms := func(id, at string) client.Resource {
		return client.Resource{"resourceType": "ProjectMembership", "id": id, "meta": map[string]any{"lastUpdated": at}}
	}
	const at = "2026-01-02T03:04:05.006Z"
	mark := &Mark{LastUpdated: at, IDs: []string{"a", "b"}, Complete: true}
	partial := &Mark{LastUpdated: at, IDs: []string{"a"}}
	for i, tt := range []struct {
		mark *Mark
		m    client.Resource
		want verdict
	}{
		{mark, ms("x", "2026-01-02T03:04:05.005Z"), before},
		{mark, ms("x", "2026-01-02T03:04:05.007Z"), after},
		{mark, ms("x", "2026-01-02T04:04:05.006+01:00"), after}, // the same instant, written otherwise
		{mark, ms("a", at), before},
		{mark, ms("b", at), before},
		{mark, ms("x", at), after}, // the same millisecond, but not there then
		{partial, ms("a", at), before},
		{partial, ms("x", at), unknown}, // maybe one of the ties the mark did not list
		{partial, ms("x", "2026-01-02T03:04:05.007Z"), after},
		{&Mark{Complete: true}, ms("x", at), after}, // the project had no membership
		{&Mark{}, ms("x", at), unknown},
		{nil, ms("x", "2020-01-01T00:00:00.000Z"), unknown}, // no mark: nothing to tell
		{mark, ms("x", "yesterday"), unknown},
		{&Mark{LastUpdated: "soon", Complete: true}, ms("x", at), unknown},
	} {
		if got := tt.mark.judge(tt.m); got != tt.want {
			t.Errorf("%d: %+v judges %v: %v, want %v", i, tt.mark, tt.m, got, tt.want)
		}
	}
}

// readMark lists the newest memberships: one normally; every one of the
// same millisecond, when fewer than a page (with the server's clock
// stopped); and says when a page of them may not be all.
func TestReadMark(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	newest := f.preMember("newest@example.com")
	m, err := readMark(ctx, f.c, f.srv.Seed.ProjectID)
	stamp := func(r client.Resource) string { return r["meta"].(map[string]any)["lastUpdated"].(string) }
	at := stamp(f.srv.Resource("ProjectMembership", newest))
	var ties []string // the seeded memberships may share its millisecond
	for _, r := range f.srv.Memberships(f.srv.Seed.ProjectID) {
		if stamp(r) == at {
			ties = append(ties, r.ID())
		}
	}
	if err != nil || m.LastUpdated != at || !m.Complete || len(m.IDs) != len(ties) || !slices.Contains(m.IDs, newest) {
		t.Errorf("mark %+v (%v), want %s among %v at %s", m, err, newest, ties, at)
	}
	for _, id := range ties {
		if !slices.Contains(m.IDs, id) {
			t.Errorf("mark %+v misses %s of the same millisecond", m, id)
		}
	}

	stopped := time.Date(2026, 3, 4, 5, 6, 7, 8e6, time.UTC)
	for _, tt := range []struct {
		members  int
		complete bool
	}{{0, true}, {markPage, false}} {
		t.Run(fmt.Sprint(tt.members), func(t *testing.T) {
			f := newFixture(t, medplumtest.WithClock(func() time.Time { return stopped }), medplumtest.WithMembers(tt.members))
			all := f.srv.Memberships(f.srv.Seed.ProjectID)
			m, err := readMark(ctx, f.c, f.srv.Seed.ProjectID)
			if err != nil {
				t.Fatal(err)
			}
			if m.LastUpdated != "2026-03-04T05:06:07.008Z" || m.Complete != tt.complete || len(m.IDs) != min(len(all), markPage) {
				t.Errorf("mark %+v of %d memberships", m, len(all))
			}
		})
	}

	f.srv.Inject(medplumtest.Fault{Method: "GET", Path: "/fhir/R4/ProjectMembership", Status: 403})
	if m, err := readMark(ctx, f.c, f.srv.Seed.ProjectID); err == nil {
		t.Errorf("a refused search gave mark %+v", m)
	}
}
