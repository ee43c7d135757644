package output

import (
	"bytes"
	"testing"
)

// Formula cells get a leading ', numbers and other text do not, text that
// already has one before a formula character gets another; CSVValue gives
// back what was written.
func TestCSVCellAndBack(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{"", ""},
		{"=1+2", "'=1+2"},
		{"+mallory@example.com", "'+mallory@example.com"},
		{"-Ode", "'-Ode"},
		{"@ext", "'@ext"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"-3.5", "-3.5"},
		{"+1", "+1"},
		{"1e-3", "1e-3"},
		{"-", "'-"},
		{"'=quoted", "''=quoted"},
		{"''@x", "'''@x"},
		{"'plain", "'plain"},
		{"'", "'"},
		{"a=b", "a=b"},
		{"2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z"},
	} {
		got := CSVCell(c.in)
		if got != c.out {
			t.Errorf("CSVCell(%q) = %q, want %q", c.in, got, c.out)
		}
		if back := CSVValue(got); back != c.in {
			t.Errorf("CSVValue(%q) = %q, want %q", got, back, c.in)
		}
	}
}

// The writer neutralises every cell and leaves the caller's record alone.
func TestCSVWriter(t *testing.T) {
	var b bytes.Buffer
	w := NewCSVWriter(&b)
	rec := []string{"=a", "b,c", "-1"}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if b.String() != "'=a,\"b,c\",-1\n" || rec[0] != "=a" || w.Error() != nil {
		t.Errorf("wrote %q, record %q", b.String(), rec)
	}
}
