package medplumtest

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/medplumcli/medplum/client"
)

// FHIR search (fhir/search.ts, packages/core/src/search): _count (default 20,
// silently clamped to 1000), _offset (max 10 000), _sort, cursor paging with
// _sort=_lastUpdated, _total, _fields/_elements, _summary=count, and the
// search parameters of the resource types the CLI uses.

const (
	defaultCount   = 20
	maxCount       = 1000
	maxOffset      = 10000 // the server's default maxSearchOffset (WithMaxSearchOffset)
	cursorMinCount = 20
)

type paramKind int

const (
	kindToken paramKind = iota
	kindReference
	kindString
	kindDate
)

// searchParam describes one search parameter: its kind and how to read the
// values it indexes from a resource.
type searchParam struct {
	kind   paramKind
	values func(client.Resource) []string
	fold   bool // token compared case-insensitively (e-mail)
	// words: a string Medplum keeps in a lookup table (HumanName) and
	// searches with PostgreSQL's full text search: every word of the
	// query must begin a word of the same value (name=homer simp finds
	// Homer Simpson), whatever the case.
	words bool
	// column: a code or boolean token, which Medplum keeps in a column of
	// the resource's table rather than in its token table. Its :not is SQL
	// (NOT (col = v), col <> v), which no row without a value matches:
	// ProjectMembership?active:not=false leaves out every membership that
	// has no active element.
	column bool
}

func field(name string) func(client.Resource) []string {
	return func(r client.Resource) []string {
		switch v := r[name].(type) {
		case string:
			return []string{v}
		case bool:
			return []string{strconv.FormatBool(v)}
		case map[string]any:
			if ref, ok := v["reference"].(string); ok {
				return []string{ref}
			}
		}
		return nil
	}
}

func identifiers(r client.Resource) []string {
	var out []string
	ids, _ := r["identifier"].([]any)
	for _, x := range ids {
		m, _ := x.(map[string]any)
		sys, _ := m["system"].(string)
		val, _ := m["value"].(string)
		out = append(out, sys+"|"+val)
	}
	return out
}

// humanNames gives, for each HumanName of the resource, the string Medplum
// indexes for part ("given", "family", or "" for the whole name: given
// names, family name and text, as getNameString).
func humanNames(part string) func(client.Resource) []string {
	return func(r client.Resource) []string {
		var out []string
		names, _ := r["name"].([]any)
		for _, n := range names {
			m, _ := n.(map[string]any)
			var words []string
			if part != "family" {
				given, _ := m["given"].([]any)
				for _, g := range given {
					if s, ok := g.(string); ok {
						words = append(words, s)
					}
				}
			}
			if f, ok := m["family"].(string); ok && part != "given" {
				words = append(words, f)
			}
			if t, ok := m["text"].(string); ok && part == "" {
				words = append(words, t)
			}
			if len(words) > 0 {
				out = append(out, strings.Join(words, " "))
			}
		}
		return out
	}
}

// wordsMatch reports whether every word of query begins a word of value,
// ignoring case: PostgreSQL's to_tsvector('simple', value) @@
// to_tsquery('simple', 'w1:* & w2:*'), which Medplum's lookup tables use.
func wordsMatch(value, query string) bool {
	split := func(s string) []string {
		return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	}
	have, want := split(value), split(query)
	if len(want) == 0 {
		return false
	}
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.HasPrefix(h, w) }) {
			return false
		}
	}
	return true
}

func profileType(r client.Resource) []string {
	if typ, _, ok := client.SplitReference(r.Ref("profile")); ok {
		return []string{typ}
	}
	return nil
}

func accessPolicies(r client.Resource) []string {
	out := field("accessPolicy")(r)
	acc, _ := r["access"].([]any)
	for _, a := range acc {
		m, _ := a.(map[string]any)
		p, _ := m["policy"].(map[string]any)
		if ref, ok := p["reference"].(string); ok {
			out = append(out, ref)
		}
	}
	return out
}

var (
	tokenParam = func(name string) searchParam { return searchParam{kind: kindToken, values: field(name), column: true} }
	refParam   = func(name string) searchParam { return searchParam{kind: kindReference, values: field(name)} }
	strParam   = func(name string) searchParam { return searchParam{kind: kindString, values: field(name)} }
	identParam = searchParam{kind: kindToken, values: identifiers}
	emailParam = searchParam{kind: kindToken, values: telecomEmails, fold: true}
	// The parameters of Patient, Practitioner and RelatedPerson the CLI
	// uses; each type has only those its definitions give it.
	humanParams = map[string]searchParam{
		"identifier": identParam,
		"active":     tokenParam("active"),
		"name":       {kind: kindString, values: humanNames(""), words: true},
		"email":      emailParam,
		"gender":     tokenParam("gender"),
	}
	nameParts = map[string]searchParam{
		"given":  {kind: kindString, values: humanNames("given"), words: true},
		"family": {kind: kindString, values: humanNames("family"), words: true},
	}
	birthDate = map[string]searchParam{"birthdate": {kind: kindDate, values: field("birthDate")}}
)

var searchParams = map[string]map[string]searchParam{
	"ProjectMembership": {
		"project":       refParam("project"),
		"user":          refParam("user"),
		"profile":       refParam("profile"),
		"profile-type":  {kind: kindToken, values: profileType},
		"user-name":     strParam("userName"),
		"external-id":   strParam("externalId"),
		"access-policy": {kind: kindReference, values: accessPolicies},
		"identifier":    identParam,
	},
	"User": {
		"email":       strParam("email"),
		"external-id": strParam("externalId"),
		"identifier":  identParam,
		"project":     refParam("project"),
	},
	"Project": {
		"name":       strParam("name"),
		"owner":      refParam("owner"),
		"identifier": identParam,
	},
	"AccessPolicy":      {"name": strParam("name")},
	"ClientApplication": {"name": strParam("name")},
	"Bot":               {"name": strParam("name"), "identifier": identParam},
	"Organization":      {"name": strParam("name"), "identifier": identParam, "active": tokenParam("active")},
	"Patient":           merged(merged(humanParams, nameParts), birthDate),
	"Practitioner":      merged(humanParams, nameParts),
	"RelatedPerson":     merged(merged(humanParams, birthDate), map[string]searchParam{"patient": refParam("patient")}),
}

// commonParams apply to every resource type.
var commonParams = map[string]searchParam{
	"_id":          {kind: kindToken, values: func(r client.Resource) []string { return []string{r.ID()} }},
	"_lastUpdated": {kind: kindDate, values: metaField("lastUpdated")},
	"_project":     {kind: kindReference, values: func(r client.Resource) []string { return prefixed("Project/", metaField("project")(r)) }},
}

func metaField(name string) func(client.Resource) []string {
	return func(r client.Resource) []string {
		m, _ := r["meta"].(map[string]any)
		if v, ok := m[name].(string); ok {
			return []string{v}
		}
		return nil
	}
}

func prefixed(p string, vals []string) []string {
	for i, v := range vals {
		vals[i] = p + v
	}
	return vals
}

// ignoredParams are accepted and have no effect here.
var ignoredParams = setOf("_format", "_pretty")

// specialParams are search parameters the real server has for every type
// (packages/server/src/fhir/search.ts, trySpecialSearchParameter) that
// medplumtest does not model.
var specialParams = setOf("_deleted", "_filter")

// parseFilter reads the one form of _filter medplumtest models: token
// comparisons joined by or, each `<code> eq "<value>"` (the value quoted:
// 5.0.10 reads an unquoted UUID as several symbols, capture 531's
// exploration), such as bulk import --restore's key
// `_id eq "<id>" or identifier eq "<system>|<value>"` (captures 531,
// 532: the resource of that id or of that identifier). Anything else is
// refused in words that say medplumtest does not model it.
func (sr *searchRequest) parseFilter(v string) (filter, error) {
	unmodelled := fmt.Errorf("medplumtest does not model _filter=%s (only _id, identifier or _tag eq \"<value>\" terms joined by or)", v)
	var group []filter
	for _, term := range strings.Split(v, " or ") {
		code, rest, ok := strings.Cut(strings.TrimSpace(term), " eq ")
		rest = strings.TrimSpace(rest)
		if !ok || len(rest) < 2 || rest[0] != '"' || rest[len(rest)-1] != '"' || strings.ContainsAny(rest[1:len(rest)-1], "\"\\") {
			return filter{}, unmodelled
		}
		p, err := sr.param(code)
		if err != nil {
			return filter{}, err
		}
		// Only the codes a capture shows in a _filter: _id with identifier
		// (531) and with _tag (532).
		if p.kind != kindToken || (code != "_id" && code != "identifier" && code != "_tag") {
			return filter{}, unmodelled
		}
		group = append(group, filter{param: p, values: []string{rest[1 : len(rest)-1]}, id: code == "_id", ident: code == "identifier"})
	}
	return filter{anyOf: group}, nil
}

type filter struct {
	param    searchParam
	modifier string
	values   []string
	// set holds the values of a plain filter with many of them (an _id or
	// reference list of a batch lookup): matched by lookup instead of one
	// comparison per value, as an index does for the real server.
	set   map[string]bool
	id    bool // the _id parameter
	ident bool // the identifier parameter
	// anyOf is a _filter's terms joined by or: the filter matches when
	// one of them does (parseFilter).
	anyOf []filter
}

// manyValues is where a filter's values are looked up in a set.
const manyValues = 16

// index prepares the set lookup of a filter with many plain values.
func (f *filter) index() {
	if f.modifier != "" || len(f.values) < manyValues || f.param.fold || (f.param.kind != kindToken && f.param.kind != kindReference) {
		return
	}
	for _, v := range f.values {
		if strings.Contains(v, "|") {
			return
		}
	}
	f.set = make(map[string]bool, len(f.values))
	for _, v := range f.values {
		f.set[v] = true
	}
}

type searchRequest struct {
	typ     string
	count   int
	offset  int
	cursor  *cursorPos
	sort    string // "", "_lastUpdated", "-_lastUpdated", "_id", "-_id"
	total   string
	fields  []string
	filters []filter
	params  url.Values // as given, for links

	maxOffset int // the largest _offset accepted
}

// cursorPos is a _cursor as Medplum writes it (fhir/search.ts, captures
// 169, 170): "2-<epoch ms>[-<id>,<id>...]", the lastUpdated of the first
// resource of the next page and the ids of this page that share it, which
// the next page leaves out. (Version 1, "1-<ms>-<id>", is read too.)
type cursorPos struct {
	ms       int64
	excluded map[string]bool
}

func (p cursorPos) String() string {
	s := "2-" + strconv.FormatInt(p.ms, 10)
	if len(p.excluded) > 0 {
		ids := make([]string, 0, len(p.excluded))
		for id := range p.excluded {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		s += "-" + strings.Join(ids, ",")
	}
	return s
}

// parseCursor reads a _cursor; an unreadable one is no cursor (the server
// ignores it).
func parseCursor(s string) (*cursorPos, bool) {
	version, rest, _ := strings.Cut(s, "-")
	instant, tail, _ := strings.Cut(rest, "-")
	ms, err := strconv.ParseInt(instant, 10, 64)
	switch {
	case err != nil:
		return nil, false
	case version == "1" && tail != "":
		return &cursorPos{ms: ms}, true
	case version == "2":
		p := &cursorPos{ms: ms, excluded: map[string]bool{}}
		for _, id := range strings.Split(tail, ",") {
			if id != "" {
				p.excluded[id] = true
			}
		}
		return p, true
	}
	return nil, false
}

func parseSearch(typ string, q url.Values, maxOffset int) (*searchRequest, error) {
	sr := &searchRequest{typ: typ, count: defaultCount, maxOffset: maxOffset, params: url.Values{}}
	for k, vs := range q {
		sr.params[k] = append([]string(nil), vs...)
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range q[k] {
			if err := sr.add(k, v); err != nil {
				return nil, err
			}
		}
	}
	if sr.cursor != nil && sr.offset > 0 {
		return nil, errors.New("Cannot use both offset and cursor")
	}
	return sr, nil
}

func (sr *searchRequest) add(k, v string) error {
	switch k {
	case "_count":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("Invalid _count: %s", v)
		}
		sr.count = min(n, maxCount)
		sr.params.Set("_count", strconv.Itoa(sr.count))
	case "_offset":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("Invalid _offset: %s", v)
		}
		if n > sr.maxOffset {
			return fmt.Errorf("Search offset exceeds maximum (got %d, max %d)", n, sr.maxOffset)
		}
		sr.offset = n
	case "_cursor":
		if c, ok := parseCursor(v); ok {
			sr.cursor = c
		}
	case "_sort":
		switch v {
		case "_lastUpdated", "-_lastUpdated", "_id", "-_id":
			sr.sort = v
		default:
			for _, f := range strings.Split(v, ",") {
				code := strings.TrimPrefix(f, "-")
				if _, ok := defined(sr.typ, code); !ok {
					return fmt.Errorf("Unknown search parameter: %s", code)
				}
			}
			return fmt.Errorf("medplumtest does not model _sort=%s (only _lastUpdated or _id, either way)", v)
		}
	case "_total":
		switch v {
		case "none", "estimate", "accurate":
			sr.total = v
		default:
			return fmt.Errorf("Invalid _total: %s", v)
		}
	case "_fields", "_elements":
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				sr.fields = append(sr.fields, f)
			}
		}
	case "_filter":
		f, err := sr.parseFilter(v)
		if err != nil {
			return err
		}
		sr.filters = append(sr.filters, f)
	case "_summary":
		if v != "count" {
			return fmt.Errorf("Unsupported _summary: %s", v)
		}
		sr.count, sr.total = 0, "accurate"
	default:
		if ignoredParams[k] {
			return nil
		}
		code, mod, _ := strings.Cut(k, ":")
		p, err := sr.param(code)
		if err != nil {
			return err
		}
		if !modifierOK(p.kind, mod) {
			return fmt.Errorf("medplumtest does not model the modifier :%s of %s", mod, code)
		}
		if code == "_project" && mod == "" && hasSearchPrefix(v) {
			// _project is not in the schema's search parameters, so the
			// parser reads a leading eq, ne, lt, le, gt, ge, sa, eb, ap or
			// sw followed by a digit as a prefix (parseUnknownParameter):
			// _project=eb1<rest of an id> looks for a project id "ending
			// before" "1<rest>", which is no id, and matches nothing
			// (capture 178; _project=Project/<id> works, capture 179).
			p = searchParam{kind: kindToken, values: func(client.Resource) []string { return nil }}
		}
		f := filter{param: p, modifier: mod, values: strings.Split(v, ","), id: code == "_id", ident: code == "identifier"}
		f.index()
		sr.filters = append(sr.filters, f)
	}
	return nil
}

// param finds how to search by code. A code the real server does not have
// for the type is refused as it refuses it (capture 49-search-bad-param:
// the code without its modifier); one it has that medplumtest cannot
// search by (chains, _has, _filter, composite and number parameters,
// expressions that are not a plain path) is refused in words that say so,
// rather than answered wrongly.
func (sr *searchRequest) param(code string) (searchParam, error) {
	if p, ok := commonParams[code]; ok {
		return p, nil
	}
	if code == "_has" || strings.Contains(code, ".") || specialParams[code] {
		return searchParam{}, fmt.Errorf("medplumtest does not model the search parameter %s", code)
	}
	def, ok := defined(sr.typ, code)
	if !ok {
		return searchParam{}, fmt.Errorf("Unknown search parameter: %s", code)
	}
	if p, ok := searchParams[sr.typ][code]; ok {
		return p, nil
	}
	if p, ok := definedSearchParam(def); ok {
		return p, nil
	}
	return searchParam{}, fmt.Errorf("medplumtest does not model the search parameter %s of %s (%s %s)", code, sr.typ, def.kind, strings.Join(def.paths, ","))
}

// searchPrefixes are FHIR's search prefixes (core's PREFIX_OPERATORS).
var searchPrefixes = setOf("eq", "ne", "lt", "le", "gt", "ge", "sa", "eb", "ap", "sw")

// hasSearchPrefix reports whether Medplum's parser takes the start of the
// value of a parameter it does not know as a prefix: one of
// searchPrefixes, alone or followed by a digit.
func hasSearchPrefix(v string) bool {
	return len(v) >= 2 && searchPrefixes[v[:2]] && (len(v) == 2 || (v[2] >= '0' && v[2] <= '9'))
}

func modifierOK(k paramKind, mod string) bool {
	switch mod {
	case "", "missing":
		return true
	case "not":
		return k == kindToken || k == kindReference
	case "exact", "contains":
		return k == kindString
	}
	return false
}

func (f filter) match(r client.Resource) bool {
	if f.anyOf != nil {
		for _, g := range f.anyOf {
			if g.match(r) {
				return true
			}
		}
		return false
	}
	have := f.param.values(r)
	if f.modifier == "missing" {
		want := f.values[0] == "true"
		return (len(have) == 0) == want
	}
	hit := false
	if f.set != nil {
		for _, h := range have {
			_, code, _ := strings.Cut(h, "|")
			if f.param.kind == kindReference {
				_, code, _ = client.SplitReference(h)
			}
			if f.set[h] || (code != "" && f.set[code]) {
				hit = true
				break
			}
		}
	} else {
		for _, v := range f.values {
			if f.matchOne(have, v) {
				hit = true
				break
			}
		}
	}
	if f.modifier == "not" {
		return !hit && (len(have) > 0 || !f.param.column)
	}
	return hit
}

func (f filter) matchOne(have []string, want string) bool {
	for _, h := range have {
		switch f.param.kind {
		case kindToken:
			if sys, code, ok := strings.Cut(want, "|"); ok {
				hs, hc, _ := strings.Cut(h, "|")
				if (sys == "" || sys == hs) && hc == code {
					return true
				}
				continue
			}
			if _, hc, ok := strings.Cut(h, "|"); ok {
				h = hc
			}
			if h == want || (f.param.fold && strings.EqualFold(h, want)) {
				return true
			}
		case kindReference:
			if h == want || strings.HasSuffix(h, "/"+want) {
				return true
			}
		case kindString:
			hl, wl := strings.ToLower(h), strings.ToLower(want)
			switch f.modifier {
			case "exact":
				if h == want {
					return true
				}
			case "contains":
				if strings.Contains(hl, wl) {
					return true
				}
			default:
				if f.param.words && wordsMatch(h, want) || !f.param.words && strings.HasPrefix(hl, wl) {
					return true
				}
			}
		case kindDate:
			if matchDate(h, want) {
				return true
			}
		}
	}
	return false
}

// matchDate supports the eq/ne/gt/lt/ge/le prefixes on instants and dates.
func matchDate(have, want string) bool {
	prefix := "eq"
	if len(want) > 2 && strings.ContainsAny(want[:1], "engl") && !strings.ContainsAny(want[:2], "0123456789") {
		prefix, want = want[:2], want[2:]
	}
	h, err1 := parseDate(have)
	w, err2 := parseDate(want)
	if err1 != nil || err2 != nil {
		return false
	}
	switch prefix {
	case "gt", "sa":
		return h.After(w)
	case "lt", "eb":
		return h.Before(w)
	case "ge":
		return !h.Before(w)
	case "le":
		return !h.After(w)
	case "ne":
		return !h.Equal(w)
	}
	if len(want) <= 10 {
		return h.Format("2006-01-02") == w.Format("2006-01-02")
	}
	return h.Equal(w)
}

func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad date %q", s)
}

// sortRecords orders records by (lastUpdated, write sequence), or by
// creation when byCreation.
func sortRecords(recs []*record, desc bool) {
	less := func(i, j int) bool {
		a, b := recs[i], recs[j]
		if !a.updated.Equal(b.updated) {
			return a.updated.Before(b.updated) != desc
		}
		return (a.seq < b.seq) != desc
	}
	// Records come in creation order, which is mostly the order of their
	// writes: a project's members that nobody changed since need no sort
	// (each page of a cursor search sorts them all again).
	if !sort.SliceIsSorted(recs, less) {
		sort.SliceStable(recs, less)
	}
}

func (s *Server) fhirSearch(c *reqCtx) {
	if !c.charge(pointsSearch) {
		return
	}
	typ, ok := c.fhirType()
	if !ok {
		return
	}
	q := c.r.URL.Query()
	if c.r.Method == "POST" {
		form, err := url.ParseQuery(string(c.raw))
		if err == nil {
			for k, vs := range form {
				q[k] = append(q[k], vs...)
			}
		}
	}
	// As the real server: the type first (validateSearchResourceType),
	// then the search's parameters.
	if typ == "Binary" {
		c.sendOutcome(badRequest("Cannot search on Binary resource type"))
		return
	}
	if !c.auth.canAccessType(typ) {
		c.sendOutcome(forbidden())
		return
	}
	sr, err := parseSearch(typ, q, s.cfg.maxOffset)
	if err != nil {
		c.sendOutcome(badRequest(err.Error()))
		return
	}
	s.mu.Lock()
	bundle, oo := s.search(c, sr)
	s.mu.Unlock()
	if oo != nil {
		c.sendOutcome(oo)
		return
	}
	c.fhir(200, bundle)
}

// search runs a parsed search for the caller. Holds s.mu.
func (s *Server) search(c *reqCtx, sr *searchRequest) (map[string]any, *client.OperationOutcome) {
	var matches []*record
	match := func(rec *record) bool {
		if !c.auth.visible(rec) {
			return false
		}
		for _, f := range sr.filters {
			if !f.match(rec.res) {
				return false
			}
		}
		return true
	}
	// The newest few (a bulk invite's mark reads the 20 newest memberships
	// every 500 rows) come from the write log, as from an index, instead
	// of a scan and a sort of every record under the server's lock.
	newest := sr.sort == "-_lastUpdated" && sr.typ != "Login" && sr.cursor == nil && sr.offset == 0 && sr.count > 0 && sr.total == "" &&
		s.st.newest(sr.typ, func(rec *record) bool {
			if match(rec) {
				matches = append(matches, rec)
			}
			return len(matches) <= sr.count // one more tells whether there is a next page
		})
	// The pages of cursor paging likewise come from the write log, from
	// the cursor's instant on, without the ids it excludes (an index on
	// lastUpdated).
	var from int64 = math.MinInt64
	if sr.cursor != nil {
		from = sr.cursor.ms
	}
	ascending := !newest && sr.typ != "Login" && sr.sort == "_lastUpdated" && sr.offset == 0 && sr.count >= cursorMinCount && sr.total == "" &&
		!hasIDFilter(sr) && s.st.oldest(sr.typ, from, func(rec *record) bool {
		if (sr.cursor == nil || !sr.cursor.excluded[rec.id]) && match(rec) {
			matches = append(matches, rec)
		}
		return len(matches) <= sr.count
	})
	if ascending {
		sr.cursor = nil // matches start at the cursor already
	}
	if !newest && !ascending {
		all := s.candidates(sr)
		if sr.typ == "Login" {
			all = s.loginRecords() // sign-ins are not in the store (logins.go)
		}
		for _, rec := range all {
			if match(rec) {
				matches = append(matches, rec)
			}
		}
	}
	switch {
	case newest, ascending: // in order already
	case sr.sort == "_lastUpdated" || sr.sort == "-_lastUpdated":
		sortRecords(matches, sr.sort[0] == '-')
	case sr.sort == "_id" || sr.sort == "-_id":
		desc := sr.sort[0] == '-'
		sort.SliceStable(matches, func(i, j int) bool { return (matches[i].id < matches[j].id) != desc })
	}
	total := len(matches)
	if sr.cursor != nil {
		// lastUpdated >= the cursor's instant, ordered by it, without the
		// ids the previous page gave.
		if sr.sort != "_lastUpdated" {
			sortRecords(matches, false)
		}
		i := sort.Search(len(matches), func(i int) bool { return matches[i].updated.UnixMilli() >= sr.cursor.ms })
		rest := matches[i:]
		matches = make([]*record, 0, len(rest))
		for _, r := range rest {
			if !sr.cursor.excluded[r.id] {
				matches = append(matches, r)
			}
		}
	} else {
		matches = matches[min(sr.offset, len(matches)):]
	}
	page := matches[:min(sr.count, len(matches))]
	more := len(matches) > len(page)

	base := s.baseURL(c.r) + "fhir/R4/" + sr.typ
	bundle := map[string]any{"resourceType": "Bundle", "type": "searchset"}
	// No match: no entry and only the self link (getSearchLinks; captures
	// 141, 178).
	if sr.count > 0 && len(page) > 0 {
		entries := make([]any, 0, len(page))
		for _, rec := range page {
			entries = append(entries, map[string]any{
				"fullUrl":  base + "/" + rec.id,
				"search":   map[string]any{"mode": "match"},
				"resource": subset(c.present(rec), sr.fields),
			})
		}
		bundle["entry"] = entries
	}
	if sr.total == "accurate" || sr.total == "estimate" {
		bundle["total"] = total
	}
	links := []any{link("self", base, sr.params)}
	if sr.count > 0 && len(page) > 0 {
		first := withoutKeys(sr.params, "_offset", "_cursor")
		links = append(links, link("first", base, first))
		cursorMode := sr.sort == "_lastUpdated" && sr.offset == 0 && sr.count >= cursorMinCount
		if more && len(page) > 0 {
			next := withoutKeys(sr.params, "_offset", "_cursor")
			if cursorMode {
				ms := matches[len(page)].updated.UnixMilli()
				if page[0].updated.UnixMilli() == ms {
					// A whole page written in one millisecond: the next
					// cursor would give the same page again (getSearchLinks).
					return nil, &client.OperationOutcome{ResourceType: "OperationOutcome", Issue: []client.OutcomeIssue{{
						Severity: "error", Code: "exception", Details: &client.CodeableConcept{Text: "Internal server error"},
						Diagnostics: "Error: Cursor fails to make progress"}}}
				}
				cur := cursorPos{ms: ms, excluded: map[string]bool{}}
				for _, r := range page {
					if r.updated.UnixMilli() == ms {
						cur.excluded[r.id] = true
					}
				}
				next.Set("_cursor", cur.String())
			} else {
				next.Set("_offset", strconv.Itoa(sr.offset+sr.count))
			}
			links = append(links, link("next", base, next))
		}
		if !cursorMode && sr.offset > 0 {
			prev := withoutKeys(sr.params, "_offset", "_cursor")
			prev.Set("_offset", strconv.Itoa(max(0, sr.offset-sr.count)))
			links = append(links, link("previous", base, prev))
		}
	}
	bundle["link"] = links
	return bundle, nil
}

func hasIDFilter(sr *searchRequest) bool {
	for _, f := range sr.filters {
		if f.id && f.modifier == "" {
			return true
		}
	}
	return false
}

// candidates are the records a search looks at: those an _id filter
// names (looked up, as by a primary key), else those an identifier filter
// of system|value pairs names (looked up in the store's identifier index),
// else every live record of the type, in creation order. The filters still
// decide which of them match. Holds s.mu.
func (s *Server) candidates(sr *searchRequest) []*record {
	for _, f := range sr.filters {
		if !f.id || f.modifier != "" {
			continue
		}
		var out []*record
		seen := map[string]bool{}
		for _, id := range f.values {
			if rec := s.st.live(sr.typ, id); rec != nil && !seen[id] {
				seen[id] = true
				out = append(out, rec)
			}
		}
		return out
	}
	for _, f := range sr.filters {
		if out, ok := s.byIdentifier(sr.typ, f); ok {
			return out
		}
	}
	for _, f := range sr.filters {
		if out, ok := s.eitherOf(sr.typ, f); ok {
			return out
		}
	}
	return s.st.all(sr.typ)
}

// eitherOf looks up the records a _filter of _id and identifier terms
// can match (each term as candidates would), in creation order; a group
// with another term is not looked up (false). Holds s.mu.
func (s *Server) eitherOf(typ string, f filter) ([]*record, bool) {
	if f.anyOf == nil {
		return nil, false
	}
	var out []*record
	seen := map[*record]bool{}
	for _, g := range f.anyOf {
		var recs []*record
		switch {
		case g.id:
			if rec := s.st.live(typ, g.values[0]); rec != nil {
				recs = []*record{rec}
			}
		default:
			var ok bool
			if recs, ok = s.byIdentifier(typ, g); !ok {
				return nil, false
			}
		}
		for _, rec := range recs {
			if !seen[rec] {
				seen[rec] = true
				out = append(out, rec)
			}
		}
	}
	slices.SortFunc(out, func(a, b *record) int { return cmp.Compare(a.born, b.born) })
	return out, true
}

// byIdentifier looks up the records an identifier filter can match, in
// creation order, when every one of its values names both a system and a
// value: a record matches "system|value" exactly when its type's
// identifier parameter reads that same string from it (matchOne), which is
// what the index holds. Any other filter (a value alone, "|value",
// "system|", a modifier) is not looked up (false).
func (s *Server) byIdentifier(typ string, f filter) ([]*record, bool) {
	if !f.ident || f.modifier != "" || f.param.kind != kindToken || identifierValues(typ) == nil {
		return nil, false
	}
	for _, v := range f.values {
		if sys, code, ok := strings.Cut(v, "|"); !ok || sys == "" || code == "" {
			return nil, false
		}
	}
	var out []*record
	seen := map[*record]bool{}
	for _, v := range f.values {
		for _, rec := range s.st.index[identifierKey(typ, v)] {
			if !seen[rec] {
				seen[rec] = true
				out = append(out, rec)
			}
		}
	}
	slices.SortFunc(out, func(a, b *record) int { return cmp.Compare(a.born, b.born) })
	return out, true
}

// identifierValues is how the identifier search parameter of typ reads a
// resource's values ("system|value" each), or nil when the type has no such
// parameter medplumtest models.
func identifierValues(typ string) func(client.Resource) []string {
	if v, ok := identifierParams.Load(typ); ok {
		return v.(func(client.Resource) []string)
	}
	var values func(client.Resource) []string
	if p, err := (&searchRequest{typ: typ}).param("identifier"); err == nil && p.kind == kindToken {
		values = p.values
	}
	identifierParams.Store(typ, values)
	return values
}

var identifierParams sync.Map // resource type -> func(client.Resource) []string

func withoutKeys(v url.Values, keys ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// link builds a Bundle link with the parameters sorted and _count always
// present, encoded as Medplum does (values URI-encoded, commas kept).
func link(rel, base string, params url.Values) map[string]any {
	p := withoutKeys(params)
	if !p.Has("_count") {
		p.Set("_count", strconv.Itoa(defaultCount))
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		for _, v := range p[k] {
			vals := strings.Split(v, ",")
			for i, x := range vals {
				vals[i] = encodeURIComponent(x)
			}
			parts = append(parts, k+"="+strings.Join(vals, ","))
		}
	}
	return map[string]any{"relation": rel, "url": base + "?" + strings.Join(parts, "&")}
}

func encodeURIComponent(s string) string {
	const safe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(safe, s[i]) >= 0 {
			b.WriteByte(s[i])
		} else {
			fmt.Fprintf(&b, "%%%02X", s[i])
		}
	}
	return b.String()
}

// subset applies _fields: resourceType, id, meta (tagged SUBSETTED), the
// listed fields and the type's mandatory fields are kept.
func subset(r client.Resource, fields []string) client.Resource {
	if len(fields) == 0 {
		return r
	}
	keep := setOf(append(append([]string{"resourceType", "id", "meta"}, fields...), requiredProps[r.ResourceType()]...)...)
	for k := range r {
		if !keep[k] {
			delete(r, k)
		}
	}
	meta, _ := r["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		r["meta"] = meta
	}
	tags, _ := meta["tag"].([]any)
	meta["tag"] = append(tags, map[string]any{"system": "http://hl7.org/fhir/v3/ObservationValue", "code": "SUBSETTED"})
	return r
}

func camel(kebab string) string {
	parts := strings.Split(kebab, "-")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}
