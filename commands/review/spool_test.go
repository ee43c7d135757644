package review

import (
	"os"
	"reflect"
	"testing"
)

// What the spool keeps past memory comes back the same, in order, as many
// times as it is read, and its file is gone once it is closed.
func TestSpoolSpillsToAFile(t *testing.T) {
	s := newSpool[Finding]()
	s.keep = 2
	var want []Finding
	for i, sev := range []Severity{High, Medium, Low, High, Medium} {
		f := Finding{Rule: RuleAdminMFA, Severity: sev, Member: string(rune('a' + i)), Detail: "d"}
		if i == 3 {
			f.Accepted = &Acceptance{Reason: "r", Expires: "2027-01-01", Where: "x.yaml:3"}
		}
		want = append(want, f)
		if err := s.add(f); err != nil {
			t.Fatal(err)
		}
	}
	if s.f == nil || s.len() != 5 {
		t.Fatalf("no file after %d items, len %d", s.keep, s.len())
	}
	name := s.f.Name()
	for range 2 {
		var got []Finding
		if err := s.each(func(f Finding) error { got = append(got, f); return nil }); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("read back:\n%+v\nwant:\n%+v", got, want)
		}
	}
	// Adding after a read appends at the end.
	if err := s.add(want[0]); err != nil {
		t.Fatal(err)
	}
	n := 0
	s.each(func(Finding) error { n++; return nil })
	if n != 6 {
		t.Errorf("%d items after one more", n)
	}
	s.close()
	if _, err := os.Stat(name); !os.IsNotExist(err) {
		t.Errorf("the spool file is left: %v", err)
	}
}
