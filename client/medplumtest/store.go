package medplumtest

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/medplumcli/medplum/client"
)

// record is the current version of one resource. Deleted resources stay as
// tombstones so that a second read or delete answers 410 Gone.
type record struct {
	typ, id string
	res     client.Resource // the stored resource, meta included; never handed out
	project string          // meta.project
	updated time.Time       // meta.lastUpdated, millisecond precision
	seq     uint64          // write sequence: orders records with equal timestamps
	born    uint64          // the write sequence of its creation: its place in store.order
	deleted bool
	attach  bool // names a Binary in an attachment url: answers presign it
	// history is every version, oldest first: what was written (never
	// changed afterwards: a write stores a copy), or nil at a deletion.
	history []version
}

// version is one entry of a record's history.
type version struct {
	res client.Resource // nil: deleted
	at  time.Time
	vid string // of a deletion (a version's own is in res.meta)
}

// store holds every resource of every project. Callers hold Server.mu.
type store struct {
	byType map[string]map[string]*record
	order  map[string][]*record // creation order per type (default search order)
	index  map[string]map[string]*record
	seq    uint64

	// writes lists every write of each type in order, for newest: an
	// entry is the record's current version while their seqs agree.
	// unordered holds the types of which a write went back in time (a
	// test's clock; an invite's membership is stamped with the time the
	// invite began).
	writes    map[string][]written
	lastWrite map[string]time.Time
	unordered map[string]bool

	journal *[]undo // while a transaction runs: how to undo each write
}

// written is one entry of store.writes.
type written struct {
	rec *record
	seq uint64
	ms  int64 // the write's lastUpdated, in milliseconds
}

// undo is one write of a transaction: the record's state before it.
type undo struct {
	rec     *record
	prev    record
	created bool
}

// begin starts recording writes for rollback.
func (st *store) begin() { st.journal = &[]undo{} }

// commit stops recording.
func (st *store) commit() { st.journal = nil }

// rollback undoes every write since begin, newest first.
func (st *store) rollback() {
	if st.journal == nil {
		return
	}
	j := *st.journal
	st.journal = nil
	for i := len(j) - 1; i >= 0; i-- {
		u := j[i]
		if !u.rec.deleted {
			st.unindex(u.rec)
		}
		if u.created {
			delete(st.byType[u.rec.typ], u.rec.id)
			ord := st.order[u.rec.typ]
			st.order[u.rec.typ] = ord[:len(ord)-1]
			continue
		}
		*u.rec = u.prev
		if !u.rec.deleted {
			st.reindex(u.rec)
		}
	}
}

func newStore() *store {
	return &store{
		byType:    map[string]map[string]*record{},
		order:     map[string][]*record{},
		index:     map[string]map[string]*record{},
		writes:    map[string][]written{},
		lastWrite: map[string]time.Time{},
		unordered: map[string]bool{},
	}
}

// get returns the record (possibly a tombstone) or nil.
func (st *store) get(typ, id string) *record {
	return st.byType[typ][id]
}

// live returns the record if it exists and is not deleted.
func (st *store) live(typ, id string) *record {
	if r := st.get(typ, id); r != nil && !r.deleted {
		return r
	}
	return nil
}

// liveRef resolves "Type/id".
func (st *store) liveRef(ref string) *record {
	typ, id, ok := client.SplitReference(ref)
	if !ok {
		return nil
	}
	return st.live(typ, id)
}

// write stores res as a new version of its resource (creating it when the id
// is new or empty) and returns the record. meta.versionId, lastUpdated,
// project, author and compartment are set here; other meta fields are kept.
func (st *store) write(res client.Resource, project string, author *client.Reference, now time.Time) *record {
	res = deepCopy(res)
	typ := res.ResourceType()
	id := res.ID()
	if id == "" {
		id = newID()
		res["id"] = id
	}
	now = now.UTC().Truncate(time.Millisecond)
	meta, _ := res["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["versionId"] = newID()
	meta["lastUpdated"] = formatInstant(now)
	if author != nil {
		meta["author"] = refMap(*author)
	}
	delete(meta, "compartment")
	if project != "" {
		meta["project"] = project
		meta["compartment"] = []any{map[string]any{"reference": "Project/" + project}}
	} else {
		delete(meta, "project")
	}
	res["meta"] = meta

	st.seq++
	rec := st.get(typ, id)
	if rec == nil {
		rec = &record{typ: typ, id: id, born: st.seq}
		if st.byType[typ] == nil {
			st.byType[typ] = map[string]*record{}
		}
		st.byType[typ][id] = rec
		st.order[typ] = append(st.order[typ], rec)
		if st.journal != nil {
			*st.journal = append(*st.journal, undo{rec: rec, created: true})
		}
	} else {
		if st.journal != nil {
			*st.journal = append(*st.journal, undo{rec: rec, prev: *rec})
		}
		if !rec.deleted {
			st.unindex(rec)
		}
	}
	rec.res, rec.project, rec.updated, rec.seq, rec.deleted = res, project, now, st.seq, false
	rec.attach = hasBinaryRef(res)
	rec.history = append(rec.history, version{res: res, at: now})
	st.reindex(rec)
	st.writes[typ] = append(st.writes[typ], written{rec, st.seq, now.UnixMilli()})
	if now.Before(st.lastWrite[typ]) {
		st.unordered[typ] = true
	}
	st.lastWrite[typ] = now
	return rec
}

// newest calls yield with the live records of typ, newest first (by
// lastUpdated, then write order: what sortRecords does descending), until
// yield returns false, without looking at older records: what an index on
// lastUpdated gives a real server for _sort=-_lastUpdated. It reports false,
// having yielded nothing, when it cannot (a write went back in time): the
// caller sorts instead.
func (st *store) newest(typ string, yield func(*record) bool) bool {
	if st.unordered[typ] {
		return false
	}
	ws := st.writes[typ]
	for i := len(ws) - 1; i >= 0; i-- {
		if r := st.current(typ, ws[i]); r != nil && !yield(r) {
			break
		}
	}
	return true
}

// oldest calls yield with the live records of typ last written at or after
// the instant from (milliseconds), oldest first (by lastUpdated, then write order: what
// sortRecords does ascending), until yield returns false: the next page
// of cursor paging (_sort=_lastUpdated) without a scan and a sort of every
// record. It reports false, having yielded nothing, when it cannot (a
// write went back in time).
func (st *store) oldest(typ string, from int64, yield func(*record) bool) bool {
	if st.unordered[typ] {
		return false
	}
	ws := st.writes[typ]
	for i := sort.Search(len(ws), func(i int) bool { return ws[i].ms >= from }); i < len(ws); i++ {
		if r := st.current(typ, ws[i]); r != nil && !yield(r) {
			break
		}
	}
	return true
}

// current is the record of a write while it is the record's live version:
// nil for an older version, a tombstone, or a create rolled back.
func (st *store) current(typ string, w written) *record {
	if r := w.rec; r.seq == w.seq && !r.deleted && st.byType[typ][r.id] == r {
		return r
	}
	return nil
}

// remove turns a record into a tombstone, deleted at now.
func (st *store) remove(rec *record, now time.Time) {
	if st.journal != nil {
		*st.journal = append(*st.journal, undo{rec: rec, prev: *rec})
	}
	st.unindex(rec)
	rec.deleted = true
	st.seq++
	rec.seq = st.seq
	rec.history = append(rec.history, version{at: now.UTC().Truncate(time.Millisecond), vid: newID()})
}

// types lists the types that have records, sorted.
func (st *store) types() []string {
	out := make([]string, 0, len(st.order))
	for t := range st.order {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// all returns the live records of a type in creation order.
func (st *store) all(typ string) []*record {
	src := st.order[typ]
	out := make([]*record, 0, len(src))
	for _, r := range src {
		if !r.deleted {
			out = append(out, r)
		}
	}
	return out
}

// Secondary indexes for the lookups an invite makes, so that bulk invites of
// 100k users stay linear: User by e-mail, profiles by e-mail, memberships by
// user; and every resource by the system|value of its identifiers, for the
// conditional creates of a bulk import (identifier=system|value), which
// would otherwise scan every resource of the type for each entry.
func indexKeys(rec *record) []string {
	r := rec.res
	keys := identifierKeys(rec.typ, r)
	switch rec.typ {
	case "User":
		if e := r.String("email"); e != "" {
			keys = append(keys, "User|email|"+strings.ToLower(e))
		}
	case "ProjectMembership":
		if u := r.Ref("user"); u != "" {
			keys = append(keys, "ProjectMembership|user|"+u)
		}
	case "Patient", "Practitioner", "RelatedPerson":
		for _, e := range telecomEmails(r) {
			keys = append(keys, rec.typ+"|email|"+rec.project+"|"+strings.ToLower(e))
		}
	}
	return keys
}

// identifierKeys are the index keys of a resource's identifiers: one for
// each value its type's identifier search parameter reads from it
// ("system|value"), under identifierKey.
func identifierKeys(typ string, r client.Resource) []string {
	values := identifierValues(typ)
	if values == nil {
		return nil
	}
	var keys []string
	for _, v := range values(r) {
		keys = append(keys, identifierKey(typ, v))
	}
	return keys
}

func identifierKey(typ, value string) string { return typ + "|identifier|" + value }

func (st *store) reindex(rec *record) {
	for _, k := range indexKeys(rec) {
		if st.index[k] == nil {
			st.index[k] = map[string]*record{}
		}
		st.index[k][rec.typ+"/"+rec.id] = rec
	}
}

func (st *store) unindex(rec *record) {
	for _, k := range indexKeys(rec) {
		delete(st.index[k], rec.typ+"/"+rec.id)
		if len(st.index[k]) == 0 {
			delete(st.index, k)
		}
	}
}

// lookup returns the live records under an index key, oldest first.
func (st *store) lookup(key string) []*record {
	m := st.index[key]
	out := make([]*record, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	sortRecords(out, false)
	return out
}

func telecomEmails(r client.Resource) []string {
	var out []string
	tel, _ := r["telecom"].([]any)
	for _, t := range tel {
		m, _ := t.(map[string]any)
		if m["system"] == "email" {
			if v, ok := m["value"].(string); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

func formatInstant(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func refMap(r client.Reference) map[string]any {
	m := map[string]any{"reference": r.Reference}
	if r.Display != "" {
		m["display"] = r.Display
	}
	return m
}

// deepCopy copies a decoded JSON value.
func deepCopy[T any](v T) T {
	return any(copyValue(any(v))).(T)
}

func copyValue(v any) any {
	switch t := v.(type) {
	case client.Resource:
		if t == nil {
			return t
		}
		m := make(client.Resource, len(t))
		for k, x := range t {
			m[k] = copyValue(x)
		}
		return m
	case map[string]any:
		if t == nil {
			return t
		}
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = copyValue(x)
		}
		return m
	case []any:
		if t == nil {
			return t
		}
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = copyValue(x)
		}
		return s
	default:
		return v
	}
}

// toResource converts any JSON-shaped Go value (struct, map) to a Resource.
func toResource(v any) client.Resource {
	r, err := client.DecodeResource(marshal(v))
	if err != nil {
		panic(err)
	}
	return r
}

// jsonEqual compares two decoded JSON values.
func jsonEqual(a, b any) bool {
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	return string(ab) == string(bb)
}
