package bulk

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
)

// identifierTypes are exactly the types medplumtest's table of 5.0.10's
// search parameters gives an identifier token parameter.
func TestIdentifierTypes(t *testing.T) {
	b, err := os.ReadFile("../../client/medplumtest/searchparams.txt")
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if slices.Contains(f[1:], "identifier:token") {
			want = append(want, f[0])
		}
	}
	for typ := range identifierTypes() {
		got = append(got, typ)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || len(want) < 100 {
		t.Errorf("identifierTypes:\n%v\nthe table:\n%v", got, want)
	}
}

// neverExported is medplumtest's exportSkip (5.0.10's source).
func TestNeverExported(t *testing.T) {
	var got []string
	for typ := range neverExported {
		got = append(got, typ)
	}
	slices.Sort(got)
	if want := medplumtest.ExportSkipped(); !slices.Equal(got, want) {
		t.Errorf("neverExported: %v\nmedplumtest's exportSkip: %v", got, want)
	}
}
