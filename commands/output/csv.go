package output

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

// CSVWriter is the writer of every CSV medplum writes (-o csv, invite's
// --report and -o csv, apply export's members CSV): encoding/csv's, with
// each cell through CSVCell.
// Only Write, Flush and Error: an embedded csv.Writer would also offer
// WriteAll, whose cells would bypass CSVCell.
type CSVWriter struct {
	w     *csv.Writer
	cells []string
}

// NewCSVWriter writes to w.
func NewCSVWriter(w io.Writer) *CSVWriter { return &CSVWriter{w: csv.NewWriter(w)} }

// Flush writes what is buffered (encoding/csv's Flush).
func (c *CSVWriter) Flush() { c.w.Flush() }

// Error is the error of an earlier Write or Flush (encoding/csv's Error).
func (c *CSVWriter) Error() error { return c.w.Error() }

// Write writes one record, its formula cells neutralised (record itself
// is left as it is).
func (c *CSVWriter) Write(record []string) error {
	c.cells = c.cells[:0]
	for _, s := range record {
		c.cells = append(c.cells, CSVCell(s))
	}
	return c.w.Write(c.cells)
}

// CSVCell neutralises a cell a spreadsheet would run as a formula (CSV
// injection): text that begins with =, +, -, @, a tab or a carriage return
// gets a leading ' (OWASP's advice), which spreadsheets show as text. A
// number (-3.5, +1, 1e-3) is left as it is, so that negative numbers stay
// numbers; instants (2026-12-01T...) and ids do not begin with these.
// Text that already begins with ' before one of them gets one more, so
// that CSVValue gives back exactly what was written.
func CSVCell(s string) string {
	if !formulaLike(s) || isNumber(s) {
		return s
	}
	return "'" + s
}

// CSVValue undoes CSVCell, for a CSV that medplum reads back (apply's and
// invite --csv's members): a cell of one or more ' before =, +, -, @, a tab
// or a carriage return loses one '.
func CSVValue(s string) string {
	if strings.HasPrefix(s, "'") && formulaLike(s) {
		return s[1:]
	}
	return s
}

// formulaLike reports whether s begins with =, +, -, @, a tab or a
// carriage return, after any number of '.
func formulaLike(s string) bool {
	s = strings.TrimLeft(s, "'")
	return s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0]))
}

// isNumber reports whether s is a plain decimal number: an optional sign,
// digits, an optional fraction and exponent (no Inf, NaN, hex or spaces).
func isNumber(s string) bool {
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9') && !strings.ContainsRune("+-.eE", r)
	})
}
