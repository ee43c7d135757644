package rest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/medplumcli/medplum/commands/ojson"
)

func decodeAny(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// FuzzJSONBody: the body check agrees with encoding/json (plus UTF-8), never panics while
// locating an error, and the order-keeping tree writes back the same value.
func FuzzJSONBody(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":}`, "[1,\n2,]", `{"é":"\u003c"}`, `"x"`, `{"a":{"b":[1.50,null,true]}}`, "{\n", ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := checkJSON(b, "body")
		// Bodies must also be UTF-8 (json.Valid lets bad bytes in strings through).
		valid := json.Valid(b) && utf8.Valid(b) && len(bytes.TrimSpace(b)) > 0
		if (err == nil) != valid {
			t.Fatalf("checkJSON(%q) = %v, json.Valid = %v", b, err, valid)
		}
		if !valid {
			return
		}
		n, err := ojson.Parse(b)
		if err != nil {
			t.Fatalf("ojson.Parse(%q): %v", b, err)
		}
		want, err1 := decodeAny(b)
		got, err2 := decodeAny(n.Bytes())
		if err1 != nil || err2 != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip of %q gave %q (%v, %v)", b, n.Bytes(), err1, err2)
		}
	})
}

// FuzzPatch: parsing a patch never panics, and a patch accepted for the
// admin route never changes a protected field.
func FuzzPatch(f *testing.F) {
	f.Add([]byte(`[{"op":"replace","path":"/admin","value":true}]`))
	f.Add([]byte(`[{"op":"move","from":"/profile","path":"/user"}]`))
	f.Add([]byte(`[{"op":"add","path":"/~1id","value":1},{"op":"remove","path":"/active"}]`))
	f.Add([]byte(`[{"op":"copy","from":"/id","path":"/x"}]`))
	member := []byte(`{"resourceType":"ProjectMembership","id":"m","project":{"reference":"Project/p"},"user":{"reference":"User/u"},"profile":{"reference":"Patient/x"},"active":true}`)
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkJSON(b, "p") != nil {
			return
		}
		p, err := parsePatch(b, "p")
		if err != nil || checkProtected(p, "p") != nil {
			return
		}
		out, err := applyToMembership(p, member)
		if err != nil {
			return
		}
		var before, after map[string]json.RawMessage
		if json.Unmarshal(member, &before) != nil || json.Unmarshal(out, &after) != nil {
			t.Fatalf("not an object: %s", out)
		}
		for _, k := range protectedFields {
			if !bytes.Equal(before[k], after[k]) {
				t.Fatalf("patch %s changed %s: %s", b, k, out)
			}
		}
	})
}
