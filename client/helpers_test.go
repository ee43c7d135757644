package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// pagedServer serves n Patients in pages of size, with next links built
// from the request's host (like Medplum's config.baseUrl).
func pagedServer(n, size int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		off, _ := strconv.Atoi(r.URL.Query().Get("_offset"))
		var b strings.Builder
		b.WriteString(`{"resourceType":"Bundle","type":"searchset","entry":[`)
		for i := off; i < min(off+size, n); i++ {
			if i > off {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"fullUrl":"http://%s/fhir/R4/Patient/p%d","search":{"mode":"match"},"resource":{"resourceType":"Patient","id":"p%d","multipleBirthInteger":12345678901234567890,"meta":{"versionId":"v"}}}`, r.Host, i, i)
		}
		b.WriteString(`],"link":[{"relation":"self","url":"x"}`)
		if off+size < n {
			fmt.Fprintf(&b, `,{"relation":"next","url":"http://%s/fhir/R4/Patient?_count=%d&_offset=%d"}`, r.Host, size, off+size)
		}
		b.WriteString(`]}`)
		w.Header().Set("Content-Type", "application/fhir+json")
		io.WriteString(w, b.String())
	}
}

func TestPagesAndSearch(t *testing.T) {
	var requests int
	h := pagedServer(25, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests++; h(w, r) }))
	defer srv.Close()
	c := newTestClient(t, Options{BaseURL: srv.URL})
	ctx := context.Background()

	var sizes []int
	for p, err := range c.Pages(ctx, "Patient?_count=10") {
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(p.Bundle.Entry))
		if !json.Valid(p.Raw) || p.URL == "" {
			t.Errorf("page %s: raw %d bytes", p.URL, len(p.Raw))
		}
	}
	if fmt.Sprint(sizes) != "[10 10 5]" || requests != 3 {
		t.Errorf("page sizes %v, %d requests", sizes, requests)
	}

	var ids []string
	for r, err := range c.Search(ctx, "Patient?_count=10") {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID())
		if n, ok := r["multipleBirthInteger"].(json.Number); !ok || n.String() != "12345678901234567890" {
			t.Fatalf("number not kept exact: %#v", r["multipleBirthInteger"])
		}
	}
	if len(ids) != 25 || ids[0] != "p0" || ids[24] != "p24" {
		t.Errorf("ids %v", ids)
	}

	// Stopping early makes no further requests.
	requests = 0
	for range c.Search(ctx, "Patient?_count=10") {
		break
	}
	if requests != 1 {
		t.Errorf("break after the first resource made %d requests", requests)
	}
}

// SearchDocs keeps each resource's bytes as sent (spacing, number
// spelling, escapes); it and Search skip entries without a resource.
func TestSearchDocsKeepsBytesAndSkipsEmptyEntries(t *testing.T) {
	const first = `{ "resourceType" : "Patient", "id":"a", "n": 1.50, "s":"\u003c" }`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "2" {
			w.Write([]byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"b"}}]}`))
			return
		}
		w.Write([]byte(`{"resourceType":"Bundle","entry":[{"resource":` + first + `},{"search":{"mode":"outcome"}}],` +
			`"link":[{"relation":"next","url":"http://` + r.Host + `/fhir/R4/Patient?page=2"}]}`))
	}))
	defer srv.Close()
	c := newTestClient(t, Options{BaseURL: srv.URL})
	var raws []string
	for d, err := range c.SearchDocs(context.Background(), "Patient") {
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, string(d.Raw)+" "+d.ID())
	}
	if want := []string{first + " a", `{"resourceType":"Patient","id":"b"} b`}; fmt.Sprint(raws) != fmt.Sprint(want) {
		t.Errorf("SearchDocs: %q\nwant %q", raws, want)
	}
	var ids []string
	for r, err := range c.Search(context.Background(), "Patient") {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID())
	}
	if fmt.Sprint(ids) != "[a b]" {
		t.Errorf("Search: %q", ids)
	}
}

func TestPagesErrors(t *testing.T) {
	cases := map[string]struct {
		handler http.HandlerFunc
		want    string
	}{
		"repeating next": {func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"resourceType":"Bundle","link":[{"relation":"next","url":"http://` + r.Host + `/fhir/R4/Patient"}]}`))
		}, "the server's next link repeats a page already read"},
		"not a bundle": {func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"resourceType":"Patient","id":"x"}`))
		}, "expected a Bundle, got Patient"},
		"not json":     {func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`<html>`)) }, "the answer is not a JSON Bundle"},
		"server error": {status(400, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","details":{"text":"Unknown search parameter: notaparam"}}]}`), "Unknown search parameter: notaparam"},
	}
	for name, tc := range cases {
		srv := httptest.NewServer(tc.handler)
		c := newTestClient(t, Options{BaseURL: srv.URL})
		var errs []error
		for _, err := range c.Search(context.Background(), "Patient") {
			errs = append(errs, err)
		}
		srv.Close()
		if len(errs) != 1 || errs[0] == nil || !strings.Contains(errs[0].Error(), tc.want) {
			t.Errorf("%s: errors %v, want one containing %q", name, errs, tc.want)
		}
	}
}

func TestInviteAndMembershipRoutes(t *testing.T) {
	type seen struct{ method, path, ct, body string }
	var got []seen
	homer := loadCapture(t, "25-invite-homer")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, r.URL.EscapedPath(), r.Header.Get("Content-Type"), string(b)})
		if r.Method == "DELETE" {
			loadCapture(t, "41-delete-member").replay()(w, r)
			return
		}
		homer.replay()(w, r)
	}))
	defer srv.Close()
	c := newTestClient(t, Options{BaseURL: srv.URL})
	ctx := context.Background()
	f := false
	m, err := c.Invite(ctx, "p 1", &InviteRequest{ResourceType: "Patient", FirstName: "Homer", LastName: "Simpson", Email: "homer@example.com", SendEmail: &f})
	if err != nil || m.ID() != "82399b9d-4910-43c8-a667-64e4d3ee3dad" || m.Ref("profile") != "Patient/c8190960-a62a-4dfd-9730-4516b073be59" {
		t.Fatalf("Invite: %v %v", m, err)
	}
	if _, err := c.GetMembership(ctx, "p", m.ID()); err != nil {
		t.Fatal(err)
	}
	m["admin"] = true
	m["extension"] = []any{map[string]any{"url": "http://x", "valueString": "<kept>"}}
	if _, err := c.UpdateMembership(ctx, "p", m); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteMembership(ctx, "p", m.ID()); err != nil {
		t.Fatal(err)
	}
	want := []seen{
		{"POST", "/admin/projects/p%201/invite", ContentTypeFHIR, `{"resourceType":"Patient","firstName":"Homer","lastName":"Simpson","email":"homer@example.com","sendEmail":false}`},
		{"GET", "/admin/projects/p/members/82399b9d-4910-43c8-a667-64e4d3ee3dad", "", ""},
		{"POST", "/admin/projects/p/members/82399b9d-4910-43c8-a667-64e4d3ee3dad", ContentTypeFHIR, ""},
		{"DELETE", "/admin/projects/p/members/82399b9d-4910-43c8-a667-64e4d3ee3dad", "", ""},
	}
	for i := range want {
		g := got[i]
		if i == 2 {
			// The full resource goes back, unknown fields and all, numbers exact.
			var back map[string]any
			if err := json.Unmarshal([]byte(g.body), &back); err != nil || back["admin"] != true || back["meta"] == nil || !strings.Contains(g.body, `"valueString":"<kept>"`) {
				t.Errorf("update body %s", g.body)
			}
			g.body = ""
		}
		if g != want[i] {
			t.Errorf("request %d = %+v, want %+v", i, g, want[i])
		}
	}

	// Local checks send nothing.
	n := len(got)
	for _, bad := range []Resource{{"resourceType": "Patient", "id": "x"}, {"resourceType": "ProjectMembership"}, {"resourceType": "ProjectMembership", "id": "a/b"}} {
		if _, err := c.UpdateMembership(ctx, "p", bad); err == nil {
			t.Errorf("UpdateMembership(%v) succeeded", bad)
		}
	}
	if _, err := c.GetMembership(ctx, "", "m"); err == nil {
		t.Error("empty project id accepted")
	}
	if _, err := c.Invite(ctx, "p", []byte(`{not json`)); err == nil {
		t.Error("invalid raw JSON accepted")
	}
	if len(got) != n {
		t.Errorf("invalid calls sent %d requests", len(got)-n)
	}
}

// An update answered with something other than a membership (a proxy's or
// another route's 2xx) is an error, not a Doc to print.
func TestUpdateMembershipWrongAnswer(t *testing.T) {
	srv := httptest.NewServer(status(200, `{"resourceType":"Patient","id":"x"}`))
	defer srv.Close()
	c := newTestClient(t, Options{BaseURL: srv.URL})
	d, err := c.UpdateMembership(context.Background(), "p", Resource{"resourceType": "ProjectMembership", "id": "m"})
	want := "POST admin/projects/p/members/m: expected a ProjectMembership, got Patient"
	if err == nil || err.Error() != want || d.Raw != nil {
		t.Errorf("UpdateMembership = %s, %v; want the error %q", d.Raw, err, want)
	}
}

// status answers with a fixed status and FHIR JSON body.
func status(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(code)
		w.Write([]byte(body))
	}
}

func TestReturnParameterKeepsTheBytes(t *testing.T) {
	p, err := NewDoc([]byte(`{"resourceType":"Parameters","parameter":[{"name":"other","valueString":"x"},` +
		`{"name":"return","resource":{"resourceType":"ClientApplication","name":"<a&b>","n":1.50}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	got := returnParameter(p)
	if want := `{"resourceType":"ClientApplication","name":"<a&b>","n":1.50}`; string(got.Raw) != want || got.String("name") != "<a&b>" {
		t.Errorf("got %s (%v), want %s", got.Raw, got.Resource, want)
	}
}
