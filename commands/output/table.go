package output

import (
	"bytes"
	"encoding/csv"
	"io"
	"slices"
	"strings"
	"unicode"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

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
// the records.
type Rows struct {
	Default []string
	Known   []string
	Records []Record
}

// columns returns the columns to print, checking --columns against r.Known.
func (o *Options) columns(r Rows) ([]string, error) {
	if len(o.Columns) == 0 {
		return r.Default, nil
	}
	cols := make([]string, len(o.Columns))
	for i, c := range o.Columns {
		c = strings.TrimSpace(c)
		if r.Known != nil && !slices.Contains(r.Known, c) {
			return nil, cmdutil.FlagErrorf("--columns: unknown column %q (choose from %s)", c, strings.Join(r.Known, ", "))
		}
		cols[i] = c
	}
	return cols, nil
}

// WriteRows prints r as a table on a terminal, TSV when piped, or CSV.
func (o *Options) WriteRows(ios *iostreams.IOStreams, r Rows) error {
	cols, err := o.columns(r)
	if err != nil {
		return err
	}
	cells := make([][]string, len(r.Records))
	for i, rec := range r.Records {
		row := make([]string, len(cols))
		for j, c := range cols {
			row[j] = rec.Field(c)
		}
		cells[i] = row
	}
	var header []string
	if !o.NoHeader {
		header = make([]string, len(cols))
		for i, c := range cols {
			header[i] = Header(c)
		}
	}
	switch {
	case o.Format == CSV:
		return writeCSV(ios.Out, header, cells)
	case ios.IsStdoutTTY():
		return writeTable(ios.Out, header, cells, ios.TerminalWidth())
	default:
		return writeTSV(ios.Out, header, cells)
	}
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

func writeCSV(w io.Writer, header []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	if header != nil {
		if err := cw.Write(header); err != nil {
			return err
		}
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// writeTSV writes tab-separated lines; tabs and line breaks inside a cell
// become spaces so every record stays on one line.
func writeTSV(w io.Writer, header []string, rows [][]string) error {
	var b bytes.Buffer
	line := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				b.WriteByte('\t')
			}
			b.WriteString(oneLine(c))
		}
		b.WriteByte('\n')
	}
	if header != nil {
		line(header)
	}
	for _, r := range rows {
		line(r)
	}
	_, err := w.Write(b.Bytes())
	return err
}

var lineBreaks = strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ")

func oneLine(s string) string { return lineBreaks.Replace(s) }

// colGap is the space between table columns.
const colGap = 2

// writeTable renders a borderless, left-aligned table with tablewriter,
// shrinking the widest columns (with an ellipsis) to fit the terminal, and
// without the trailing spaces tablewriter leaves on each line.
func writeTable(w io.Writer, header []string, rows [][]string, width int) error {
	ncol := 0
	if header != nil {
		ncol = len(header)
	} else if len(rows) > 0 {
		ncol = len(rows[0])
	}
	if ncol == 0 {
		return nil
	}
	all := rows
	if header != nil {
		all = append([][]string{header}, rows...)
	}
	for _, r := range all {
		for i := range r {
			r[i] = oneLine(r[i])
		}
	}
	fit(all, width)
	var buf bytes.Buffer
	t := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off},
			},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
		tablewriter.WithPadding(tw.Padding{Right: strings.Repeat(" ", colGap), Overwrite: true}),
	)
	if header != nil {
		hdr := make([]any, len(header))
		for i, h := range header {
			hdr[i] = h
		}
		t.Header(hdr...)
	}
	if err := t.Bulk(rows); err != nil {
		return err
	}
	if err := t.Render(); err != nil {
		return err
	}
	var out bytes.Buffer
	for l := range strings.Lines(buf.String()) {
		out.WriteString(strings.TrimRight(l, " \n"))
		out.WriteByte('\n')
	}
	_, err := w.Write(out.Bytes())
	return err
}

// minCol is the narrowest a column is shrunk to.
const minCol = 8

// fit truncates cells so the table is at most width columns wide, always
// taking from the widest column (the rightmost on ties).
func fit(rows [][]string, width int) {
	if len(rows) == 0 {
		return
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], twwidth.Width(c))
		}
	}
	total := func() int {
		t := 0
		for _, w := range widths {
			t += w + colGap
		}
		return t - colGap
	}
	natural := slices.Clone(widths)
	for total() > width {
		widest := -1
		for i, w := range widths {
			if w > minCol && (widest < 0 || w >= widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		widths[widest]--
	}
	for i, w := range widths {
		if w == natural[i] {
			continue
		}
		for _, r := range rows {
			if twwidth.Width(r[i]) > w {
				r[i] = twwidth.Truncate(r[i], w, "…")
			}
		}
	}
}
