package medplumtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
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

// A search by identifier=system|value looks its candidates up in the
// store's identifier index instead of scanning the type; it must find
// exactly what the scan finds, in the same order: through creates, updates
// that change or drop identifiers, deletes, transactions rolled back,
// identifiers without a system or a value, a single identifier (Bundle's,
// QuestionnaireResponse's), types with medplumtest's own parameter (Patient)
// and with the definitions' (Observation), and queries the index does not
// answer (a value alone, |value, system|, :not).
func TestIdentifierIndexIsTheScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	s := &Server{st: newStore()}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	types := []string{"Patient", "Observation", "QuestionnaireResponse"}
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	ident := func() map[string]any {
		m := map[string]any{}
		if rng.IntN(8) > 0 {
			m["system"] = pick("s1", "s2", "urn:x|y")
		}
		if rng.IntN(8) > 0 {
			m["value"] = pick("v1", "v2", "v3", "a|b")
		}
		return m
	}
	resource := func(typ string) client.Resource {
		r := client.Resource{"resourceType": typ}
		switch n := rng.IntN(4); {
		case n == 0:
		case typ == "QuestionnaireResponse":
			r["identifier"] = ident()
		default:
			var list []any
			for range n {
				list = append(list, ident())
			}
			r["identifier"] = list
		}
		return r
	}
	ids := map[string][]string{}
	some := func(typ string) *record {
		if len(ids[typ]) == 0 {
			return nil
		}
		return s.st.live(typ, ids[typ][rng.IntN(len(ids[typ]))])
	}
	queries := []string{"s1|v1", "s2|v2", "s1|v1,s2|v3", "urn:x|y|a|b", "s1|a|b", "|v1", "v2", "s1|", "s1|v9"}
	check := func(step int) {
		t.Helper()
		for _, typ := range types {
			for _, q := range queries {
				for _, key := range []string{"identifier", "identifier:not"} {
					sr, err := parseSearch(typ, url.Values{key: {q}}, maxOffset)
					if err != nil {
						t.Fatal(err)
					}
					matches := func(all []*record) []*record {
						var out []*record
						for _, rec := range all {
							if sr.filters[0].match(rec.res) {
								out = append(out, rec)
							}
						}
						return out
					}
					got, want := matches(s.candidates(sr)), matches(s.st.all(typ))
					if !slices.Equal(got, want) {
						t.Fatalf("step %d: %s?%s=%s: the index finds %d records, the scan %d (or in another order)", step, typ, key, q, len(got), len(want))
					}
				}
			}
		}
	}
	for step := range 600 {
		now = now.Add(time.Millisecond)
		typ := types[rng.IntN(len(types))]
		switch op := rng.IntN(10); {
		case op < 5:
			ids[typ] = append(ids[typ], s.st.write(resource(typ), "p", nil, now).id)
		case op < 7:
			if r := some(typ); r != nil {
				res := resource(typ)
				res["id"] = r.id
				s.st.write(res, "p", nil, now)
			}
		case op < 8:
			if r := some(typ); r != nil {
				s.st.remove(r, now)
			}
		default:
			s.st.begin()
			s.st.write(resource(typ), "p", nil, now)
			if r := some(typ); r != nil {
				res := resource(typ)
				res["id"] = r.id
				s.st.write(res, "p", nil, now)
			}
			if r := some(typ); r != nil {
				s.st.remove(r, now)
			}
			s.st.rollback()
		}
		if step%10 == 0 {
			check(step)
		}
	}
	check(-1)
	if sr, _ := parseSearch("Patient", url.Values{"identifier": {"s1|v1"}}, maxOffset); len(s.candidates(sr)) == len(s.st.all("Patient")) {
		t.Fatal("identifier=s1|v1 looked at every Patient: the index was not used")
	}
}
