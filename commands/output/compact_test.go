package output

import (
	"bytes"
	"encoding/json"
	"testing"
)

var compactCases = []string{
	`{"a":1}`,
	"{\n  \"resourceType\": \"Patient\",\n\t\"name\": [ { \"given\": [\"Ann Lee\", \"B\"] } ],\r\n  \"x\" : null }",
	`{"s":"quote \" and backslash \\ then space after: \\", "t": " \\\" "}`,
	`{"html":"<a href=\"x\">&</a>","u":"\u2028 é \u00e9"}`,
	` [ 1 , 2.50 , -3e+2 , true , false , null , "" , {} , [] ] `,
	`"  just a string  "`,
	`{"a":"\\\\","b":"\\\\\" "}`,
}

func TestAppendCompactIsJSONCompact(t *testing.T) {
	for _, c := range compactCases {
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(c)); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if got := AppendCompact([]byte("x"), []byte(c)); string(got) != "x"+want.String() {
			t.Errorf("%s:\ngot  %s\nwant %s", c, got[1:], want.String())
		}
	}
	if got := AppendNDJSON(nil, []json.RawMessage{[]byte(compactCases[0]), []byte("{ }")}); string(got) != "{\"a\":1}\n{}\n" {
		t.Errorf("AppendNDJSON: %q", got)
	}
}

// FuzzAppendCompact: for every valid JSON document, AppendCompact writes
// what json.Compact writes.
func FuzzAppendCompact(f *testing.F) {
	for _, c := range compactCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if !json.Valid(doc) {
			AppendCompact(nil, doc) // must not panic
			return
		}
		var want bytes.Buffer
		if err := json.Compact(&want, doc); err != nil {
			t.Fatal(err)
		}
		if got := AppendCompact(nil, doc); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%q:\ngot  %q\nwant %q", doc, got, want.Bytes())
		}
	})
}

// go test -bench Compact ./commands/output/
func BenchmarkCompact(b *testing.B) {
	compact := page(1000)
	var indented bytes.Buffer
	json.Indent(&indented, compact, "", "  ")
	for _, c := range []struct {
		name string
		doc  []byte
	}{{"compact", compact}, {"indented", indented.Bytes()}} {
		b.Run("AppendCompact/"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.doc)))
			var buf []byte
			for b.Loop() {
				buf = AppendCompact(buf[:0], c.doc)
			}
		})
		b.Run("json.Compact/"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.doc)))
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				json.Compact(&buf, c.doc)
			}
		})
	}
}
