package medplumtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
)

// store.newest yields the live records newest first, exactly as the sort it
// replaces for _sort=-_lastUpdated: through creates, updates, deletes,
// transactions rolled back and writes in the same millisecond; and it
// declines for a type once one of its writes goes back in time.
func TestStoreNewestIsTheSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	st := newStore()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var ids []string
	check := func(step int) {
		t.Helper()
		want := st.all("Patient")
		sortRecords(want, true)
		var got []*record
		if !st.newest("Patient", func(r *record) bool { got = append(got, r); return true }) {
			t.Fatalf("step %d: newest declined with an ordered clock", step)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("step %d: newest gives %d records, the sort %d (or another order)", step, len(got), len(want))
		}
		if len(want) > 3 { // stopping early gives a prefix
			var first []*record
			st.newest("Patient", func(r *record) bool { first = append(first, r); return len(first) < 3 })
			if !slices.Equal(first, want[:3]) {
				t.Fatalf("step %d: the first three differ", step)
			}
		}
	}
	for step := range 2000 {
		if rng.IntN(3) > 0 { // often the same millisecond
			now = now.Add(time.Duration(rng.IntN(3)) * time.Millisecond)
		}
		switch op := rng.IntN(10); {
		case op < 4 || len(ids) == 0:
			r := st.write(client.Resource{"resourceType": "Patient"}, "p", nil, now)
			ids = append(ids, r.id)
		case op < 7:
			if r := st.live("Patient", ids[rng.IntN(len(ids))]); r != nil {
				st.write(r.res, "p", nil, now)
			}
		case op < 8:
			if r := st.live("Patient", ids[rng.IntN(len(ids))]); r != nil {
				st.remove(r, time.Now())
			}
		default: // a transaction that fails: its writes are undone
			st.begin()
			st.write(client.Resource{"resourceType": "Patient"}, "p", nil, now)
			if r := st.live("Patient", ids[rng.IntN(len(ids))]); r != nil {
				st.write(r.res, "p", nil, now)
			}
			if r := st.live("Patient", ids[rng.IntN(len(ids))]); r != nil {
				st.remove(r, time.Now())
			}
			st.rollback()
		}
		check(step)
	}
	// Only the type written back in time is sorted instead.
	st.write(client.Resource{"resourceType": "Practitioner"}, "p", nil, now.Add(time.Second))
	st.write(client.Resource{"resourceType": "Practitioner"}, "p", nil, now)
	check(-1)
	if st.newest("Practitioner", func(*record) bool { return true }) {
		t.Error("newest answered for a type written back in time")
	}
}

// Over HTTP, a newest-first page answered from the write log is the page
// the full sort gives (asking for _total takes the sort): the same
// memberships in the same order, and the same next link.
func TestSearchNewestFirstIsTheSort(t *testing.T) {
	srv := NewServer(t, WithMembers(30))
	tok := srv.IssueToken(srv.Seed.Client.MembershipID)
	get := func(query string) (ids []string, next bool) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"fhir/R4/ProjectMembership?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b client.Bundle
		if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Entry {
			var r struct{ ID string }
			json.Unmarshal(e.Resource, &r)
			ids = append(ids, r.ID)
		}
		return ids, b.NextLink() != ""
	}
	for i := range 12 { // memberships written after the seed, several per millisecond
		body := fmt.Sprintf(`{"resourceType":"Practitioner","firstName":"A","lastName":"B","email":"n%d@example.com","sendEmail":false}`, i)
		req, _ := http.NewRequest("POST", srv.URL+"admin/projects/"+srv.Seed.ProjectID+"/invite", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("invite: %v %v", err, resp.Status)
		}
		resp.Body.Close()
	}
	if srv.st.unordered["ProjectMembership"] {
		t.Fatal("memberships written back in time: the write log is not used")
	}
	for _, n := range []int{1, 5, 20, 60} {
		q := fmt.Sprintf("project=Project/%s&_sort=-_lastUpdated&_count=%d", srv.Seed.ProjectID, n)
		fast, fastNext := get(q)
		sorted, sortedNext := get(q + "&_total=accurate")
		if !slices.Equal(fast, sorted) || fastNext != sortedNext || len(fast) != min(n, len(srv.Memberships(srv.Seed.ProjectID))) {
			t.Errorf("_count=%d: %v (next %v), the sort gives %v (next %v)", n, fast, fastNext, sorted, sortedNext)
		}
	}
}
