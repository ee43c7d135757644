package output

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"text/template"
	"time"
)

// Functions of --template, with gh's names and argument order:
//
//	tablerow FIELD...     a row of a table, its columns aligned when printed
//	tablerender           print the rows so far (else they come at the end)
//	join SEP LIST         the list's items joined with SEP
//	pluck FIELD LIST      FIELD of each object in LIST
//	timeago TIME          "5 minutes ago" for an RFC 3339 instant
//	timefmt LAYOUT TIME   the instant in a Go time layout ("2006-01-02")
//	truncate N TEXT       at most N characters, with "…" when cut
//	json VALUE            the value as compact JSON
//
// now is what timeago measures from (tests set it).
var now = time.Now

func templateFuncs(tab *templateTable, out writeTo) template.FuncMap {
	return template.FuncMap{
		"tablerow": func(fields ...any) string {
			row := make([]string, len(fields))
			for i, f := range fields {
				row[i] = oneLine(str(f))
			}
			tab.rows = append(tab.rows, row)
			return ""
		},
		"tablerender": func() string {
			tab.flush(out)
			return ""
		},
		"join": func(sep string, list any) (string, error) {
			items, err := listOf(list, "join")
			if err != nil {
				return "", err
			}
			s := make([]string, len(items))
			for i, it := range items {
				s[i] = str(it)
			}
			return strings.Join(s, sep), nil
		},
		"pluck": func(field string, list any) ([]any, error) {
			items, err := listOf(list, "pluck")
			if err != nil {
				return nil, err
			}
			var out []any
			for _, it := range items {
				if m, ok := it.(map[string]any); ok {
					if v, ok := m[field]; ok {
						out = append(out, v)
					}
				}
			}
			return out, nil
		},
		"timeago": func(v any) (string, error) {
			t, err := instant(v, "timeago")
			if err != nil || t.IsZero() {
				return "", err
			}
			return timeAgo(now().Sub(t)), nil
		},
		"timefmt": func(layout string, v any) (string, error) {
			t, err := instant(v, "timefmt")
			if err != nil || t.IsZero() {
				return "", err
			}
			return t.Format(layout), nil
		},
		"truncate": func(n int, v any) string {
			s := str(v)
			r := []rune(s)
			if n < 1 || len(r) <= n {
				return s
			}
			return string(r[:n-1]) + "…"
		},
		"json": func(v any) (string, error) {
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			err := enc.Encode(v)
			return strings.TrimSuffix(b.String(), "\n"), err
		},
	}
}

func listOf(v any, fn string) ([]any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		return x, nil
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: want a list, got %s", fn, kindOf(v))
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// instant reads an RFC 3339 instant (FHIR instant or dateTime), or a FHIR
// date; empty or missing is the zero time.
func instant(v any, fn string) (time.Time, error) {
	s, ok := v.(string)
	if v == nil || (ok && s == "") {
		return time.Time{}, nil
	}
	if !ok {
		return time.Time{}, fmt.Errorf("%s: want a time, got %s", fn, kindOf(v))
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s: %q is not a time", fn, s)
}

// timeAgo says how long ago d was, in the largest whole unit.
func timeAgo(d time.Duration) string {
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		s = plural(int(d/time.Minute), "minute")
	case d < 24*time.Hour:
		s = plural(int(d/time.Hour), "hour")
	case d < 30*24*time.Hour:
		s = plural(int(d/(24*time.Hour)), "day")
	case d < 365*24*time.Hour:
		s = plural(int(math.Floor(float64(d)/float64(30*24*time.Hour))), "month")
	default:
		s = plural(int(d/(365*24*time.Hour)), "year")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// templateTable holds the rows of tablerow until they are printed.
type templateTable struct {
	tty  bool
	rows [][]string
}

// flush prints the rows: columns aligned with two spaces between them on a
// terminal, tab-separated when piped (as -o table is).
func (t *templateTable) flush(w writeTo) {
	if t == nil || len(t.rows) == 0 {
		return
	}
	defer func() { t.rows = nil }()
	if !t.tty {
		for _, r := range t.rows {
			_, _ = w.WriteString(strings.Join(r, "\t") + "\n")
		}
		return
	}
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], displayWidth(c))
		}
	}
	for _, r := range t.rows {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-displayWidth(c)+colGap))
			}
		}
		_, _ = w.WriteString(strings.TrimRight(b.String(), " ") + "\n")
	}
}
