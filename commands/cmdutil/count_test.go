package cmdutil

import "testing"

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n      int
		noun   string
		plural []string
		want   string
	}{
		{0, "row", nil, "0 rows"},
		{1, "row", nil, "1 row"},
		{2, "row", nil, "2 rows"},
		{1, "policy", []string{"policies"}, "1 policy"},
		{3, "policy", []string{"policies"}, "3 policies"},
		{1, "more row with notes", []string{"more rows with notes"}, "1 more row with notes"},
		{-1, "row", nil, "-1 rows"},
	} {
		if got := Count(tc.n, tc.noun, tc.plural...); got != tc.want {
			t.Errorf("Count(%d, %q, %q) = %q, want %q", tc.n, tc.noun, tc.plural, got, tc.want)
		}
	}
	for n, want := range map[int]string{0: "are them", 1: "is it", 2: "are them"} {
		if got := Noun(n, "is", "are") + " " + Noun(n, "it", "them"); got != want {
			t.Errorf("Noun(%d, ...) = %q, want %q", n, got, want)
		}
	}
}
