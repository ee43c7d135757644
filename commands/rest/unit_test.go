package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/ojson"
)

func TestCheckJSONPosition(t *testing.T) {
	cases := map[string]string{
		`{"a":}`:                 "x is not valid JSON: line 1, column 6: invalid character '}' looking for beginning of value",
		"{\n  \"a\": 1,\n  ]\n}": "x is not valid JSON: line 3, column 3: invalid character ']' looking for beginning of object key string",
		`{"a":1`:                 "x is not valid JSON: line 1, column 7: unexpected end of JSON input",
		`{"a":1} x`:              "x is not valid JSON: line 1, column 9: invalid character 'x' after top-level value",
		`{"é":"ü",}`:             "x is not valid JSON: line 1, column 10: invalid character '}' looking for beginning of object key string",
		"   ":                    "x is empty: expected JSON",
	}
	for in, want := range cases {
		err := checkJSON([]byte(in), "x")
		if err == nil || err.Error() != want {
			t.Errorf("%q: got %v\nwant %s", in, err, want)
		}
	}
	if err := checkJSON([]byte(` {"ok": [1, 2.50, 1e400]} `), "x"); err != nil {
		t.Errorf("valid JSON rejected: %v", err)
	}
}

func TestParsePatch(t *testing.T) {
	bad := map[string]string{
		`{"op":"replace"}`:                   `p is not a JSON Patch: expected an array of operations such as [{"op":"replace","path":"/active","value":false}]`,
		`[]`:                                 "p is an empty JSON Patch: nothing to do",
		`[{"op":"replace","path":"/admin"}]`: `p: operation 1: "replace" needs a "value"`,
		`[{"op":"remove","path":"/a"},{"op":"frob","path":"/a"}]`: `p: operation 2: unknown op "frob" (use add, remove, replace, move, copy or test)`,
		`[{"path":"/a"}]`:                         `p: operation 1: "op" is missing (add, remove, replace, move, copy or test)`,
		`[{"op":"add","path":"admin","value":1}]`: `p: operation 1: "path" must be a JSON Pointer starting with "/", got "admin"`,
		`[{"op":"move","path":"/a"}]`:             `p: operation 1: "from" is missing`,
		`[{"op":"remove"}]`:                       `p: operation 1: "path" is missing`,
		`[1]`:                                     `p: operation 1: expected an object with op and path`,
	}
	for in, want := range bad {
		_, err := parsePatch([]byte(in), "p")
		if err == nil || err.Error() != want {
			t.Errorf("%s: got %v\nwant %s", in, err, want)
		}
	}
	if _, err := parsePatch([]byte(`[{"op":"replace","path":"/admin","value":true},{"op":"test","path":"/a","value":null}]`), "p"); err != nil {
		t.Error(err)
	}
}

func TestProtectedFields(t *testing.T) {
	for _, in := range []string{
		`[{"op":"replace","path":"/id","value":"x"}]`,
		`[{"op":"replace","path":"/project/reference","value":"Project/x"}]`,
		`[{"op":"move","from":"/user","path":"/extension"}]`,
		`[{"op":"replace","path":"","value":{}}]`,
		`[{"op":"remove","path":"/resourceType"}]`,
	} {
		p, err := parsePatch([]byte(in), "p")
		if err != nil {
			t.Fatal(err)
		}
		if err := checkProtected(p, "p"); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
	p, _ := parsePatch([]byte(`[{"op":"replace","path":"/admin","value":true},{"op":"add","path":"/userName","value":"x"}]`), "p")
	if err := checkProtected(p, "p"); err != nil {
		t.Error(err)
	}
}

func TestApplyToMembershipKeepsOrderAndHTML(t *testing.T) {
	p, _ := parsePatch([]byte(`[{"op":"replace","path":"/admin","value":true},{"op":"add","path":"/extension","value":[{"url":"x","valueString":"<b>&</b>"}]}]`), "p")
	out, err := applyToMembership(p, []byte(`{"resourceType":"ProjectMembership","id":"m1","project":{"reference":"Project/p"},"user":{"reference":"User/u"},"admin":false,"n":1.50}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"resourceType":"ProjectMembership","id":"m1","project":{"reference":"Project/p"},"user":{"reference":"User/u"},"admin":true,"n":1.50,"extension":[{"url":"x","valueString":"<b>&</b>"}]}`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	// A member invited without admin has no admin field: replace still works.
	p, _ = parsePatch([]byte(`[{"op":"test","path":"/admin","value":false},{"op":"replace","path":"/admin","value":true}]`), "p")
	out, err = applyToMembership(p, []byte(`{"resourceType":"ProjectMembership","id":"m1"}`))
	if err != nil || string(out) != `{"resourceType":"ProjectMembership","id":"m1","admin":true}` {
		t.Errorf("replace on absent admin: %s %v", out, err)
	}
	p, _ = parsePatch([]byte(`[{"op":"replace","path":"/userName","value":"x"}]`), "p")
	if _, err := applyToMembership(p, []byte(`{"resourceType":"ProjectMembership","id":"m1"}`)); err == nil {
		t.Error("replace of an absent field other than admin/active accepted")
	}
	p, _ = parsePatch([]byte(`[{"op":"remove","path":"/identifier/-1"}]`), "p")
	if _, err := applyToMembership(p, []byte(`{"resourceType":"ProjectMembership","identifier":[{"value":"a"}]}`)); err == nil {
		t.Error("negative index accepted")
	}
}

func TestAdminMembershipRoute(t *testing.T) {
	base := "http://h/"
	for u, want := range map[string]bool{
		"http://h/admin/projects/p/members/m":   true,
		"http://h/admin/projects/p/members/m/":  true,
		"http://h/admin/projects/p/members":     false,
		"http://h/admin/projects/p/members/m/x": false,
		"http://h/fhir/R4/ProjectMembership/m":  false,
		"http://o/admin/projects/p/members/m":   false,
	} {
		if _, got := adminMembership(u, base); got != want {
			t.Errorf("%s: %v", u, got)
		}
	}
}

func TestToTransaction(t *testing.T) {
	in := `{"resourceType":"Bundle","type":"searchset","entry":[
	{"fullUrl":"http://h/fhir/R4/Observation/o1","resource":{"resourceType":"Observation","id":"o1","meta":{"versionId":"2","lastUpdated":"x","project":"p","author":{"reference":"Practitioner/a"},"compartment":[{"reference":"Patient/p1"}],"tag":[{"code":"t"}]},"subject":{"reference":"Patient/p1","display":"Homer"},"valueQuantity":{"value":1.50}}},
	{"fullUrl":"http://h/fhir/R4/Patient/p1","resource":{"resourceType":"Patient","id":"p1","meta":{"versionId":"1"},"managingOrganization":{"reference":"Organization/unknown"}}},
	{"fullUrl":"http://h/fhir/R4/Basic/noid","resource":{"resourceType":"Basic","code":{"text":"x"}}}]}`
	doc, err := ojson.Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ids := func() string { n++; return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }
	got := string(toTransaction(doc, ids).Bytes())
	// Core's order: reverse post-order over the entries in their order, so
	// the unrelated Basic comes first and Patient before its Observation.
	want := `{"resourceType":"Bundle","type":"transaction","entry":[` +
		`{"fullUrl":"http://h/fhir/R4/Basic/noid","request":{"method":"POST","url":"Basic"},"resource":{"resourceType":"Basic","code":{"text":"x"}}},` +
		`{"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000002","request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","managingOrganization":{"reference":"Organization/unknown"}}},` +
		`{"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000001","request":{"method":"POST","url":"Observation"},"resource":{"resourceType":"Observation","meta":{"tag":[{"code":"t"}]},"subject":{"reference":"urn:uuid:00000000-0000-4000-8000-000000000002","display":"Homer"},"valueQuantity":{"value":1.50}}}]}`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestToTransactionCycle(t *testing.T) {
	in := `{"resourceType":"Bundle","entry":[
	{"resource":{"resourceType":"A","id":"a","ref":{"reference":"B/b"}}},
	{"resource":{"resourceType":"B","id":"b","ref":{"reference":"A/a"}}}]}`
	doc, _ := ojson.Parse([]byte(in))
	n := 0
	ids := func() string { n++; return fmt.Sprint(n) }
	var tx struct {
		Entry []struct {
			FullURL string `json:"fullUrl"`
			Request struct{ Method, URL string }
		}
	}
	if err := json.Unmarshal(toTransaction(doc, ids).Bytes(), &tx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range tx.Entry {
		got = append(got, e.Request.Method+" "+e.FullURL)
	}
	want := "POST urn:uuid:1,POST urn:uuid:2,PUT urn:uuid:1,PUT urn:uuid:2"
	if strings.Join(got, ",") != want {
		t.Errorf("got %v want %s", got, want)
	}
}

// pagedURL: a search of one type that Medplum can page with a cursor is
// sorted by _lastUpdated with at least 20 per page; everything else is left
// as written (a search whose _sort or _offset rules the cursor out is
// checked against the server, in TestGetAllPastTheOffsetLimit).
func TestPagedURL(t *testing.T) {
	c, err := client.New(client.Options{BaseURL: "https://m.example/"})
	if err != nil {
		t.Fatal(err)
	}
	const base = "https://m.example/fhir/R4/"
	for in, want := range map[string]string{
		"Patient":                                  "Patient?_sort=_lastUpdated",
		"Patient?_count=1000":                      "Patient?_count=1000&_sort=_lastUpdated",
		"Patient?_count=5&name=a%20b":              "Patient?name=a%20b&_sort=_lastUpdated&_count=20",
		"Patient?_sort=_lastUpdated&_count=5":      "Patient?_sort=_lastUpdated&_count=20",
		"Patient?_sort=_lastUpdated":               "Patient?_sort=_lastUpdated",
		"ProjectMembership?profile-type:not=Bot,X": "ProjectMembership?profile-type:not=Bot,X&_sort=_lastUpdated",
		"Patient?_cursor=2-1796595377388":          "Patient?_cursor=2-1796595377388",
		"Patient?_count=0&_total=accurate":         "Patient?_count=0&_total=accurate",
		"Patient/123/_history":                     "Patient/123/_history",
		"Patient/$everything":                      "Patient/$everything",
		"?_type=Patient":                           "?_type=Patient",
	} {
		got, err := pagedURL(context.Background(), c, base+in)
		if err != nil || got != base+want {
			t.Errorf("%s: %s (%v), want %s", in, strings.TrimPrefix(got, base), err, want)
		}
	}
	// Not a FHIR search of the base at all.
	for _, u := range []string{"https://m.example/admin/projects/p", "https://other.example/fhir/R4/Patient"} {
		if got, err := pagedURL(context.Background(), c, u); err != nil || got != u {
			t.Errorf("%s: %s %v", u, got, err)
		}
	}
}

// isTypeSegment is the regexp ^[A-Z][A-Za-z]+$ without a regexp.
func TestIsTypeSegment(t *testing.T) {
	re := regexp.MustCompile(`^[A-Z][A-Za-z]+$`)
	for _, s := range []string{"", "P", "Patient", "ProjectMembership", "patient", "Patient1", "Pa_t", "Pa`t", "Pa{t", "Pa@t", "Pa[t",
		"PÄtient", "Pa\xe1t", "AZaz", "Z", "Zz", "Patient/1", "Patient?x", "_history", "$export"} {
		if got, want := isTypeSegment(s), re.MatchString(s); got != want {
			t.Errorf("isTypeSegment(%q) = %v, want %v", s, got, want)
		}
	}
	for c := 0; c < 256; c++ {
		s := "A" + string([]byte{byte(c)})
		if got, want := isTypeSegment(s), re.MatchString(s); got != want {
			t.Errorf("isTypeSegment(%q) = %v, want %v", s, got, want)
		}
	}
}
