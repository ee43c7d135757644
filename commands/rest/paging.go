package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
)

// Medplum pages a search in one of two ways (fhir/search.ts): with _offset,
// which it refuses past its maxSearchOffset (10,000 by default: capture
// 171), or with a _cursor, which has no such limit but which its next links
// use only when the search is sorted by _lastUpdated ascending alone,
// starts at offset 0 and has a _count of at least 20 (captures 169, 170;
// anything else gets _offset links, 169b, 169c).

// cursorMinCount is the smallest _count that gets cursor links.
const cursorMinCount = 20

// isTypeSegment reports whether s is a resource type: an upper-case ASCII
// letter, then one or more ASCII letters (no regexp: it would be compiled
// at start-up by every command, DESIGN.md "Start-up").
func isTypeSegment(s string) bool {
	if len(s) < 2 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// searchQuery is the query of a type-level FHIR search URL (<FHIR
// base><Type>?...), as name=value pairs in the order given, so that the
// URL can be changed without re-encoding what the user wrote.
type searchQuery struct {
	u     *url.URL
	pairs []string
}

// typeSearch returns the query of u when u is a search of one resource
// type on c's FHIR base.
func typeSearch(c *client.Client, u string) (*searchQuery, bool) {
	base := c.FHIRBaseURL()
	rest, ok := strings.CutPrefix(u, base)
	if !ok {
		return nil, false
	}
	typ, _, _ := strings.Cut(rest, "?")
	if !isTypeSegment(typ) {
		return nil, false
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return nil, false
	}
	q := &searchQuery{u: parsed}
	for _, p := range strings.Split(parsed.RawQuery, "&") {
		if p != "" {
			q.pairs = append(q.pairs, p)
		}
	}
	return q, true
}

// get returns the (decoded) values of a parameter.
func (q *searchQuery) get(name string) []string {
	var out []string
	for _, p := range q.pairs {
		k, v, _ := strings.Cut(p, "=")
		if key, err := url.QueryUnescape(k); err == nil && key == name {
			if val, err := url.QueryUnescape(v); err == nil {
				out = append(out, val)
			}
		}
	}
	return out
}

// with returns the URL with the parameter name set to value (replacing
// every value it had), or removed when value is "".
func (q *searchQuery) with(name, value string) *searchQuery {
	out := &searchQuery{u: q.u}
	for _, p := range q.pairs {
		k, _, _ := strings.Cut(p, "=")
		if key, err := url.QueryUnescape(k); err == nil && key == name {
			continue
		}
		out.pairs = append(out.pairs, p)
	}
	if value != "" {
		out.pairs = append(out.pairs, name+"="+url.QueryEscape(value))
	}
	return out
}

func (q *searchQuery) String() string {
	u := *q.u
	u.RawQuery = strings.Join(q.pairs, "&")
	return u.String()
}

// intParam is the value of a numeric parameter, or def.
func (q *searchQuery) intParam(name string, def int) int {
	vs := q.get(name)
	if len(vs) == 0 {
		return def
	}
	n, err := strconv.Atoi(vs[len(vs)-1])
	if err != nil {
		return def
	}
	return n
}

// pagedURL is the URL get --all follows for u: for a search Medplum can
// page with a cursor, that search sorted by _lastUpdated (when it has no
// _sort) with at least cursorMinCount per page, so that it reads past
// 10,000 results. A search whose own _sort or _offset rules the cursor out
// is checked first: when its last page is beyond the server's _offset
// limit, it is refused before anything is printed.
func pagedURL(ctx context.Context, c *client.Client, u string) (string, error) {
	q, ok := typeSearch(c, u)
	if !ok || len(q.get("_cursor")) > 0 {
		return u, nil
	}
	sorts := q.get("_sort")
	sortBy := strings.Join(sorts, ",")
	count := q.intParam("_count", 20)
	offset := q.intParam("_offset", 0)
	if count == 0 {
		return u, nil // a count only: no entries to page through
	}
	if (sortBy == "" || sortBy == "_lastUpdated") && offset == 0 {
		if sortBy == "" {
			q = q.with("_sort", "_lastUpdated")
		}
		if count < cursorMinCount {
			q = q.with("_count", strconv.Itoa(cursorMinCount))
		}
		return q.String(), nil
	}
	return u, checkOffsetReach(ctx, c, q, sortBy, min(count, 1000), offset)
}

// checkOffsetReach asks the server how many results an _offset-paged
// search has, and whether the offset of its last page is within the
// server's limit (it answers 400 "Search offset exceeds maximum" for a
// count-only request too). Two reads, before anything is printed.
func checkOffsetReach(ctx context.Context, c *client.Client, q *searchQuery, sortBy string, count, offset int) error {
	probe := q.with("_count", "0").with("_total", "accurate")
	resp, err := c.Do(ctx, &client.Request{Method: http.MethodGet, URL: probe.with("_offset", "").String()})
	if err != nil {
		return err
	}
	var b struct {
		Total *int `json:"total"`
	}
	if err := json.Unmarshal(resp.Body, &b); err != nil || b.Total == nil {
		return nil // no total: page and see
	}
	total := *b.Total
	if total <= offset+count {
		return nil
	}
	last := offset + (total-offset-1)/count*count
	_, err = c.Do(ctx, &client.Request{Method: http.MethodGet, URL: probe.with("_offset", strconv.Itoa(last)).String()})
	if e := client.AsError(err); e != nil && e.Status == http.StatusBadRequest && strings.Contains(e.Error(), "Search offset exceeds maximum") {
		why := "_sort=" + sortBy
		if sortBy == "_lastUpdated" || sortBy == "" {
			why = "_offset=" + strconv.Itoa(offset)
		}
		return cmdutil.WithHint(fmt.Errorf("--all: this search has %s, more than Medplum pages through with _offset (%v), and with %s it cannot page with a cursor; nothing was printed",
			cmdutil.Count(total, "result"), err, why),
			"drop _sort and _offset (the results then come oldest first, _sort=_lastUpdated, and the server pages with a cursor), or narrow the search")
	}
	return err
}
