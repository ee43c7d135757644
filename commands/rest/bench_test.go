package rest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/commands/ojson"
)

// bundle is a searchset of n Observations that each refer to one of n/10
// Patients, to exercise reference rewriting and the topological sort.
func bundle(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"searchset","entry":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if i%10 == 0 {
			fmt.Fprintf(&b, `{"resource":{"resourceType":"Patient","id":"p%d","meta":{"versionId":"1"},"name":[{"family":"F%d"}]}}`, i/10, i)
			continue
		}
		fmt.Fprintf(&b, `{"resource":{"resourceType":"Observation","id":"o%d","meta":{"versionId":"1","project":"x"},"subject":{"reference":"Patient/p%d"},"valueQuantity":{"value":1.50}}}`, i, i/10)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// go test -bench AsTransaction ./commands/rest/
func BenchmarkAsTransaction1000(b *testing.B) {
	in := bundle(1000)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		doc, err := ojson.Parse(in)
		if err != nil {
			b.Fatal(err)
		}
		_ = toTransaction(doc, newUUID).Bytes()
	}
}

func BenchmarkParseNode1000(b *testing.B) {
	in := bundle(1000)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ojson.Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}
