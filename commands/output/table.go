package output

import (
	"bufio"
	"bytes"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/clipperhouse/displaywidth"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/iostreams"
)

// Record is one row of tabular output: a value per column name.
type Record interface {
	Field(col string) string
}

// MapRecord is a Record backed by a map.
type MapRecord map[string]string

// Field implements Record.
func (m MapRecord) Field(col string) string { return m[col] }

// Rows describes tabular data: the columns shown by default, the columns
// --columns may name (nil: any name, e.g. a path into a FHIR resource), and
// the records. Compact, if set, are the essential columns a table on a
// terminal shows when --columns names none (Default are what a pipe, a CSV
// and -o wide get): a list of 7 columns of ids and references does not fit
// 100 columns, its name, e-mail and flags do.
type Rows struct {
	Default []string
	Compact []string
	Known   []string
	Records []Record
}

// columns returns the columns to print, checking --columns against r.Known.
func (o *Options) columns(r Rows, tty bool) ([]string, error) {
	if len(o.Columns) == 0 {
		if o.Format == Table && tty && r.Compact != nil {
			return r.Compact, nil
		}
		return r.Default, nil
	}
	if err := o.CheckColumns(r.Known); err != nil {
		return nil, err
	}
	cols := make([]string, len(o.Columns))
	for i, c := range o.Columns {
		cols[i] = strings.TrimSpace(c)
	}
	return cols, nil
}

// CheckColumns rejects a --columns name that is not in known (nil: any
// name), as WriteRows would: a command whose columns are fixed calls it
// before it sends anything.
func (o *Options) CheckColumns(known []string) error {
	for _, c := range o.Columns {
		if c = strings.TrimSpace(c); known != nil && !slices.Contains(known, c) {
			return cmdutil.FlagErrorf("--columns: unknown column %q (choose from %s)", c, strings.Join(known, ", "))
		}
	}
	return nil
}

// WriteRows prints r as a table on a terminal, TSV when piped, or CSV.
func (o *Options) WriteRows(ios *iostreams.IOStreams, r Rows) error {
	w, err := o.NewRowWriter(ios, r)
	if err != nil {
		return err
	}
	for _, rec := range r.Records {
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	return w.Close()
}

// RowWriter prints records as they come, in constant memory: CSV and TSV
// line by line (through a buffer that Close flushes). A table on a
// terminal needs every row for its column widths: it keeps their cells
// (not the records) until Close.
type RowWriter struct {
	ios    *iostreams.IOStreams
	cols   []string
	header []string
	table  bool
	w      *bufio.Writer
	csv    *CSVWriter
	cells  [][]string // a terminal's table
	row    []string
	begun  bool
}

// NewRowWriter starts printing rows of r's columns (r.Records is not
// used). Nothing is written before the first Write or Close.
func (o *Options) NewRowWriter(ios *iostreams.IOStreams, r Rows) (*RowWriter, error) {
	tty := ios.IsStdoutTTY()
	cols, err := o.columns(r, tty)
	if err != nil {
		return nil, err
	}
	rw := &RowWriter{ios: ios, cols: cols, row: make([]string, len(cols))}
	if !o.NoHeader {
		rw.header = make([]string, len(cols))
		for i, c := range cols {
			// A CSV is read by programs: its header names each column as
			// --columns does (as invite's report and apply export's members
			// CSV do); a table, read by people, says it in capitals.
			if rw.header[i] = c; o.Format != CSV {
				rw.header[i] = Header(c)
			}
		}
	}
	switch {
	case o.Format == CSV:
		rw.w = bufio.NewWriterSize(ios.Out, 64<<10)
		rw.csv = NewCSVWriter(rw.w)
	case tty:
		rw.table = true
	default:
		rw.w = bufio.NewWriterSize(ios.Out, 64<<10)
	}
	return rw, nil
}

// begin writes the header of CSV and TSV.
func (rw *RowWriter) begin() error {
	if rw.begun {
		return nil
	}
	rw.begun = true
	if rw.header == nil || rw.table {
		return nil
	}
	return rw.line(rw.header)
}

func (rw *RowWriter) line(cells []string) error {
	if rw.csv != nil {
		return rw.csv.Write(cells)
	}
	for i, c := range cells {
		if i > 0 {
			rw.w.WriteByte('\t')
		}
		rw.w.WriteString(oneLine(c))
	}
	return rw.w.WriteByte('\n')
}

// Write prints (or, for a terminal's table, keeps) one record.
func (rw *RowWriter) Write(rec Record) error {
	if err := rw.begin(); err != nil {
		return err
	}
	for j, c := range rw.cols {
		rw.row[j] = rec.Field(c)
	}
	if rw.table {
		rw.cells = append(rw.cells, slices.Clone(rw.row))
		return nil
	}
	return rw.line(rw.row)
}

// Abort writes the rows buffered so far, for a list that fails half-way:
// CSV and TSV keep what was read; a terminal's table, which is not drawn
// yet, prints nothing.
func (rw *RowWriter) Abort() error {
	if rw.table || !rw.begun {
		return nil
	}
	if rw.csv != nil {
		rw.csv.Flush()
	}
	return rw.w.Flush()
}

// Close prints what is left: the header when there were no records, a
// terminal's table, the buffered lines.
func (rw *RowWriter) Close() error {
	if err := rw.begin(); err != nil {
		return err
	}
	if rw.table {
		return writeTable(rw.ios.Out, rw.cols, rw.header, rw.cells, rw.ios.TerminalWidth())
	}
	if rw.csv != nil {
		rw.csv.Flush()
		if err := rw.csv.Error(); err != nil {
			return err
		}
	}
	return rw.w.Flush()
}

// Header turns a column name into a header: lastUpdated -> LAST UPDATED,
// base_url -> BASE URL.
func Header(col string) string {
	var b strings.Builder
	prev := rune(0)
	for _, r := range col {
		switch {
		case r == '_' || r == '-':
			b.WriteRune(' ')
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			b.WriteRune(' ')
			b.WriteRune(r)
		default:
			b.WriteRune(unicode.ToUpper(r))
		}
		prev = r
	}
	return b.String()
}

// lineBreaks: in TSV, tabs and line breaks inside a cell become spaces so
// every record stays on one line.
var lineBreaks = strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ")

func oneLine(s string) string { return lineBreaks.Replace(s) }

// colGap is the space between table columns.
const colGap = 2

// writeTable renders a borderless, left-aligned table that fits the
// terminal: columns two spaces apart, no trailing spaces. (tablewriter drew
// it; its package initialisation cost more start-up time than the table is
// worth: issue 12.) Ids, references, e-mail addresses and URLs are shown
// whole (an administrator copies them out of tables); free text is shortened with an
// ellipsis to make room. When even the whole ids leave no room, each record
// is printed as a block of "LABEL  value" lines instead (as psql's expanded
// display does), every value whole.
func writeTable(w io.Writer, cols, header []string, rows [][]string, width int) error {
	ncol := len(cols)
	if ncol == 0 {
		return nil
	}
	for _, r := range rows {
		for i := range r {
			r[i] = oneLine(r[i])
		}
	}
	widths, ok := fit(cols, header, rows, width)
	if !ok {
		return writeRecords(w, cols, rows)
	}
	all := rows
	if header != nil {
		all = append([][]string{header}, rows...)
	}
	for _, r := range all {
		for i, c := range r {
			if displayWidth(c) > widths[i] {
				r[i] = displaywidth.TruncateString(c, widths[i], "…")
			}
		}
	}
	colw := make([]int, ncol)
	for _, r := range all {
		for i, c := range r {
			colw[i] = max(colw[i], displayWidth(c))
		}
	}
	var b strings.Builder
	for _, r := range all {
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", colw[i]-displayWidth(c)+colGap))
			}
		}
		b.WriteByte('\n')
	}
	return writeTrimmed(w, b.String())
}

// writeRecords prints each record as "LABEL  value" lines, a blank line
// between records: the layout of a table too wide for the terminal.
// The labels are there with --no-header too (there is no header row to
// leave out, and values without labels cannot be told apart).
func writeRecords(w io.Writer, cols []string, rows [][]string) error {
	labels := make([]string, len(cols))
	lw := 0
	for i, c := range cols {
		labels[i] = Header(c)
		lw = max(lw, displayWidth(labels[i]))
	}
	var b strings.Builder
	for n, r := range rows {
		if n > 0 {
			b.WriteByte('\n')
		}
		for i, v := range r {
			b.WriteString(labels[i])
			b.WriteString(strings.Repeat(" ", lw-displayWidth(labels[i])+colGap))
			b.WriteString(v)
			b.WriteByte('\n')
		}
	}
	return writeTrimmed(w, b.String())
}

// writeTrimmed writes text without trailing spaces on its lines.
func writeTrimmed(w io.Writer, text string) error {
	var out bytes.Buffer
	for l := range strings.Lines(text) {
		out.WriteString(strings.TrimRight(l, " \n"))
		out.WriteByte('\n')
	}
	_, err := w.Write(out.Bytes())
	return err
}

// minCol is the narrowest a column of free text is shrunk to.
const minCol = 8

// fit chooses the width of each column so that the table is at most width
// columns wide: a column is never narrower than its widest whole-kept cell
// (see keepWhole) and than min(its natural width, minCol); the widest
// shrinkable column gives way first (the rightmost on ties). ok is false
// when those floors alone are too wide (and there is more than one
// column: a single column is shown whole, however wide).
func fit(cols, header []string, rows [][]string, width int) (widths []int, ok bool) {
	widths = make([]int, len(cols))
	floor := make([]int, len(cols))
	for i, h := range header {
		widths[i] = displayWidth(h)
	}
	for _, r := range rows {
		for i, c := range r {
			cw := displayWidth(c)
			widths[i] = max(widths[i], cw)
			if cw > 0 && (idColumn(cols[i]) || keepWhole(c)) {
				floor[i] = max(floor[i], cw)
			}
		}
	}
	total, least := colGap*(len(cols)-1), colGap*(len(cols)-1)
	for i := range widths {
		floor[i] = max(floor[i], min(widths[i], minCol))
		total += widths[i]
		least += floor[i]
	}
	if least > width {
		return widths, len(cols) == 1
	}
	for ; total > width; total-- {
		widest := -1
		for i, w := range widths {
			if w > floor[i] && (widest < 0 || w >= widths[widest]) {
				widest = i
			}
		}
		widths[widest]--
	}
	return widths, true
}

// idColumn reports whether a column holds ids by its name: id, clientId,
// client_id, meta.versionId, subject.reference, email.
func idColumn(col string) bool {
	l := strings.ToLower(col)
	switch {
	case l == "id", l == "email", strings.HasSuffix(col, "Id"),
		strings.HasSuffix(l, ".id"), strings.HasSuffix(l, "_id"),
		strings.HasSuffix(l, ".email"), strings.HasSuffix(l, "reference"):
		return true
	}
	return false
}

// wholeRE matches what a table must never cut: a FHIR id with a digit in it
// (a UUID, a version id; not a word such as Practitioner), a reference
// (Patient/<id>, with a _history version or the ?name=value parameters of
// the --access syntax), an e-mail address, a URL or a urn.
var wholeRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:` +
		`[A-Za-z0-9\-.]*[0-9][A-Za-z0-9\-.]*` +
		`|[A-Z][A-Za-z]*/[A-Za-z0-9\-.]{1,64}(?:/_history/[A-Za-z0-9\-.]{1,64})?(?:\?\S*)?` +
		`|[^\s@]+@[^\s@]+` +
		`|[a-z][a-z0-9+.\-]*://\S+` +
		`|urn:\S+` +
		`)$`)
})

// displayWidth is the width of text on a terminal (wide characters count
// two, combining marks and ANSI color codes nothing).
func displayWidth(s string) int { return displaywidth.String(s) }

// keepWhole reports whether a cell is an id, a reference, an e-mail address
// or a URL, or a ", "-separated list of them (a member's access policies).
func keepWhole(cell string) bool {
	for part := range strings.SplitSeq(cell, ", ") {
		if !wholeRE().MatchString(part) {
			return false
		}
	}
	return true
}
