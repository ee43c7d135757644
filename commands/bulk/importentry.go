package bulk

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"strings"
)

// SourceIDSystem is the system of the identifier `bulk import` adds to a
// resource that has no identifier of its own (or of the meta.tag, for a
// type Medplum cannot search by identifier): its value (code) is the
// resource's id in the project it was exported from. The import keys its conditional
// create on it, so that sending the same resource again (a re-run, a
// retry after a lost answer) finds it instead of creating it twice.
const SourceIDSystem = "urn:medplum-cli:source-id"

// entry is one resource of a chunk, as it will be sent.
type entry struct {
	Line     line
	Type     string
	OldID    string         // its id in the input ("" if it has none)
	Resource map[string]any // without id and server meta; references as in the input
	Key      string         // the ifNoneExist query ("" for a plain create)
	URN      string         // its fullUrl inside the Bundle
}

// ref is "Type/id".
func (e *entry) ref() string {
	if e.OldID == "" {
		return ""
	}
	return e.Type + "/" + e.OldID
}

// entryOptions are the choices that shape every entry.
type entryOptions struct {
	keyOptions
	MissingValueExts bool // --add-extensions-for-missing-values
}

// keyOptions are the choices that shape an entry's key.
type keyOptions struct {
	SourceID bool // add SourceIDSystem identifiers (--source-id, default on)
	Restore  bool // --restore: find a resource by its id first (restoreKey)
}

// key is the search an entry is sent with (see conditionKey and
// restoreKey); it may add a SourceIDSystem identifier or tag to r.
func (o keyOptions) key(r map[string]any, typ, oldID string) string {
	if o.Restore && oldID != "" {
		return restoreKey(r, typ, oldID, o.SourceID)
	}
	return conditionKey(r, typ, oldID, o.SourceID)
}

// serverMeta are the meta fields the server sets; the rest (profile, tag,
// security, source) are the resource's own and are kept.
var serverMeta = []string{"versionId", "lastUpdated", "project", "compartment", "author", "account", "accounts", "onBehalfOf"}

// newEntry builds an entry from a checked line.
func newEntry(l line, o entryOptions) (*entry, error) {
	var r map[string]any
	if err := json.Unmarshal(l.Data, &r); err != nil {
		return nil, err
	}
	e := &entry{Line: l, Type: r["resourceType"].(string), URN: newURN()}
	e.Line.Data = nil // decoded: the line's bytes are not kept with it
	e.OldID, _ = r["id"].(string)
	delete(r, "id")
	if m, ok := r["meta"].(map[string]any); ok {
		for _, k := range serverMeta {
			delete(m, k)
		}
		if len(m) == 0 {
			delete(r, "meta")
		}
	}
	if o.MissingValueExts && e.Type == "ExplanationOfBenefit" {
		addMissingValueExtensions(r)
	}
	e.Key = o.key(r, e.Type, e.OldID)
	e.Resource = r
	return e, nil
}

// addMissingValueExtensions does what the official CLI's
// --add-extensions-for-missing-values does: an ExplanationOfBenefit without
// a provider, or an item without a productOrService, gets the
// data-absent-reason extension ("unsupported") in its place.
func addMissingValueExtensions(r map[string]any) {
	absent := func() map[string]any {
		return map[string]any{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unsupported"}
	}
	if r["provider"] == nil {
		r["provider"] = absent()
	}
	items, _ := r["item"].([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && m["productOrService"] == nil {
			m["productOrService"] = absent()
		}
	}
}

// conditionKey is the search that finds the resource if it was created
// already: its first identifier with a system and a value; else, with
// sourceID, an identifier recording its old id, added to it. A type Medplum
// cannot search by identifier is keyed on a meta.tag instead: its first tag
// of SourceIDSystem, else (with sourceID) one recording its old id, added
// (_tag works in a conditional create: captures 401, 402). A resource that
// has neither, or of a type without _tag (Binary), gets none (a plain
// create).
func conditionKey(r map[string]any, typ, oldID string, sourceID bool) string {
	if !identifierTypes()[typ] {
		return tagKey(r, typ, oldID, sourceID)
	}
	key := func(system, value string) string {
		return url.Values{"identifier": {system + "|" + value}}.Encode()
	}
	switch id := r["identifier"].(type) {
	case map[string]any:
		if s, v := str(id["system"]), str(id["value"]); s != "" && v != "" {
			return key(s, v)
		}
		return ""
	case []any:
		for _, x := range id {
			if m, ok := x.(map[string]any); ok {
				if s, v := str(m["system"]), str(m["value"]); s != "" && v != "" {
					return key(s, v)
				}
			}
		}
	case nil:
	default:
		return ""
	}
	if !sourceID || oldID == "" {
		return ""
	}
	src := map[string]any{"system": SourceIDSystem, "value": oldID}
	switch {
	case singleIdentifierTypes()[typ]:
		if r["identifier"] != nil {
			return ""
		}
		r["identifier"] = src
	default:
		list, _ := r["identifier"].([]any)
		r["identifier"] = append(list, src)
	}
	return key(SourceIDSystem, oldID)
}

// restoreKey is the key of a resource restored into the project it came
// from (--restore): the resource of its id, or one with an identifier of
// its own (a Patient whose MRN someone entered again by hand), or the copy
// an earlier restore made of it, which carries its old id as a
// SourceIDSystem identifier (or tag, for a type Medplum cannot search by
// identifier), added to r here: `_filter=_id eq "<id>" or identifier eq
// "<system>|<value>" or identifier eq "<SourceIDSystem>|<id>"`. Medplum
// 5.0.10 answers such a conditional create 200 with the resource while it
// exists, 201 with a new id once it was deleted or expunged, and 200 with
// that copy when it is sent again (captures 531-532b, 534c); a plain _id
// key would create the copy again every time (530b). Binary cannot be
// searched (533): "" (readBinaries reads it by its id instead). Without
// sourceID, no SourceIDSystem identifier is added; an id the filter cannot
// quote (a " or \) gets only "_id=<id>", and so does a resource with no
// other term. An identifier value a search would split or the filter
// cannot quote is left out of it.
func restoreKey(r map[string]any, typ, oldID string, sourceID bool) string {
	if typ == "Binary" {
		return ""
	}
	byID := url.Values{"_id": {oldID}}.Encode()
	if strings.ContainsAny(oldID, `"\`) {
		return byID
	}
	terms := []string{`_id eq "` + oldID + `"`}
	if identifierTypes()[typ] {
		for _, v := range ownIdentifiers(r["identifier"]) {
			terms = append(terms, `identifier eq "`+v+`"`)
		}
		src := map[string]any{"system": SourceIDSystem, "value": oldID}
		has := false
		switch id := r["identifier"].(type) {
		case nil:
			if sourceID {
				if singleIdentifierTypes()[typ] {
					r["identifier"] = src
				} else {
					r["identifier"] = []any{src}
				}
				has = true
			}
		case []any:
			has = hasSourceID(id, "value", oldID)
			if !has && sourceID {
				r["identifier"] = append(id, src)
				has = true
			}
		}
		if has {
			terms = append(terms, `identifier eq "`+SourceIDSystem+"|"+oldID+`"`)
		}
	} else if sourceID {
		k := tagKey(r, typ, oldID, true)
		q, _ := url.ParseQuery(k)
		code := strings.TrimPrefix(q.Get("_tag"), SourceIDSystem+"|")
		if k != "" && !strings.ContainsAny(code, `"\,`) {
			terms = append(terms, `_tag eq "`+SourceIDSystem+"|"+code+`"`)
		}
	}
	if len(terms) == 1 {
		return byID
	}
	// %20 for the spaces: the form captured (531, 532).
	return "_filter=" + strings.ReplaceAll(url.QueryEscape(strings.Join(terms, " or ")), "+", "%20")
}

// ownIdentifiers are the "system|value" of a resource's identifiers (one,
// or a list) that have both, but for SourceIDSystem's and those a lookup
// or a filter could not carry (a comma, a quote, a backslash, " or ").
func ownIdentifiers(v any) []string {
	var list []any
	switch x := v.(type) {
	case map[string]any:
		list = []any{x}
	case []any:
		list = x
	}
	var out []string
	for _, x := range list {
		m, _ := x.(map[string]any)
		s, val := str(m["system"]), str(m["value"])
		if s == "" || val == "" || s == SourceIDSystem {
			continue
		}
		if p := s + "|" + val; !strings.ContainsAny(p, `",\`) && !strings.Contains(p, " or ") {
			out = append(out, p)
		}
	}
	return out
}

// withoutSourceID is r (a shallow copy) without the SourceIDSystem
// identifier or tag recording oldID, which restoreKey added: what a
// resource put back with its own id is sent as.
func withoutSourceID(r map[string]any, oldID string) map[string]any {
	out := maps.Clone(r)
	is := func(x any, field string) bool {
		m, _ := x.(map[string]any)
		return str(m["system"]) == SourceIDSystem && str(m[field]) == oldID
	}
	// drop sets m[key] to list without that entry (no key when none is left).
	drop := func(m map[string]any, key string, list []any, field string) {
		var keep []any
		for _, x := range list {
			if !is(x, field) {
				keep = append(keep, x)
			}
		}
		if len(keep) == 0 {
			delete(m, key)
		} else {
			m[key] = keep
		}
	}
	switch id := r["identifier"].(type) {
	case map[string]any:
		if is(id, "value") {
			delete(out, "identifier")
		}
	case []any:
		drop(out, "identifier", id, "value")
	}
	if meta, ok := r["meta"].(map[string]any); ok {
		if tags, ok := meta["tag"].([]any); ok {
			m := maps.Clone(meta)
			drop(m, "tag", tags, "code")
			if len(m) == 0 {
				delete(out, "meta")
			} else {
				out["meta"] = m
			}
		}
	}
	return out
}

// hasSourceID reports whether list holds {system: SourceIDSystem, field: v}.
func hasSourceID(list []any, field, v string) bool {
	for _, x := range list {
		if m, ok := x.(map[string]any); ok && str(m["system"]) == SourceIDSystem && str(m[field]) == v {
			return true
		}
	}
	return false
}

// tagKey keys a resource on a meta.tag of SourceIDSystem.
func tagKey(r map[string]any, typ, oldID string, sourceID bool) string {
	if typ == "Binary" || !sourceID {
		return ""
	}
	key := func(code string) string {
		return url.Values{"_tag": {SourceIDSystem + "|" + code}}.Encode()
	}
	meta, _ := r["meta"].(map[string]any)
	tags, ok := meta["tag"].([]any)
	if meta["tag"] != nil && !ok {
		return "" // not a list: the server will say what is wrong
	}
	for _, x := range tags {
		if m, ok := x.(map[string]any); ok && str(m["system"]) == SourceIDSystem && str(m["code"]) != "" {
			return key(str(m["code"]))
		}
	}
	if oldID == "" {
		return ""
	}
	if meta == nil {
		meta = map[string]any{}
		r["meta"] = meta
	}
	meta["tag"] = append(tags, map[string]any{"system": SourceIDSystem, "code": oldID})
	return key(oldID)
}

func str(v any) string { s, _ := v.(string); return s }

// newURN is a random urn:uuid (version 4).
func newURN() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// rewrite returns a copy of v whose references to resources of the input
// ("Type/<old id>", with or without "/_history/<v>") point where they are
// now: resolve(ref) gives the new reference (a "Type/<new id>", or the
// urn:uuid of an entry of the same Bundle) or "" when it is not known yet.
// pending counts the references to the input's resources left unresolved.
func rewrite(v any, inInput func(string) bool, resolve func(string) string, pending *int) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			// An attachment's url names its Binary as a reference would.
			if s, ok := val.(string); ok && (k == "reference" || k == "url" && strings.HasPrefix(s, "Binary/")) {
				out[k] = rewriteRef(s, inInput, resolve, pending)
				continue
			}
			out[k] = rewrite(val, inInput, resolve, pending)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = rewrite(val, inInput, resolve, pending)
		}
		return out
	}
	return v
}

// repointAt returns a copy of server (the server's copy of a resource the
// import created from the input's line file) in which, at each place where
// file holds a reference to a resource of the input that resolve knows,
// the reference is the one resolve gives; changed counts those that were
// not already. Everything else is the server's own, an edit made there
// since the resource was created included: only a place that file and
// server both have is changed.
func repointAt(file, server any, inInput func(string) bool, resolve func(string) string, changed *int) any {
	switch s := server.(type) {
	case map[string]any:
		f, _ := file.(map[string]any)
		out := make(map[string]any, len(s))
		for k, val := range s {
			fv, ok := f[k]
			if fs, isRef := fv.(string); ok && isRef && (k == "reference" || k == "url" && strings.HasPrefix(fs, "Binary/")) {
				to := ""
				rewriteRef(fs, inInput, func(ref string) string { to = resolve(ref); return to }, new(int))
				if _, isStr := val.(string); isStr && to != "" && val != to {
					out[k] = to
					*changed++
					continue
				}
			}
			out[k] = repointAt(fv, val, inInput, resolve, changed)
		}
		return out
	case []any:
		f, _ := file.([]any)
		out := make([]any, len(s))
		for i, val := range s {
			var fv any
			if i < len(f) {
				fv = f[i]
			}
			out[i] = repointAt(fv, val, inInput, resolve, changed)
		}
		return out
	}
	return server
}

func rewriteRef(s string, inInput func(string) bool, resolve func(string) string, pending *int) string {
	ref := s
	if i := strings.Index(ref, "/_history/"); i > 0 {
		ref = ref[:i]
	}
	if strings.Count(ref, "/") != 1 || !inInput(ref) {
		return s
	}
	if n := resolve(ref); n != "" {
		return n
	}
	*pending++
	return s
}
