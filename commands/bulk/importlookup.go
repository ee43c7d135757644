package bulk

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/medplumcli/medplum/client"
)

// A keyed entry is looked up before it is sent: one search per Bundle and
// search parameter (`Patient?identifier=<a>,<b>,...`) finds the entries
// that are on the server already, and only the others are sent, as plain
// creates. A conditional create (request.ifNoneExist) makes Medplum 5.0.10
// search twice and create inside a serializable transaction of its own:
// concurrent Bundles then fail entries with 409/40001 (capture 417), and
// each costs 140 quota points to a plain create's 100 (captures 401, 407).
// docs/benchmarks.md has the numbers. A re-run, a resent Bundle after a
// lost answer, or a restore, is found by the same search first, so nothing
// is created twice unless another client creates the same resource between
// the search and the create.

// keyTerm is one way an entry's key finds its resource: a search parameter
// (identifier, _tag or _id) and its value; an entry is found by any of
// its terms.
type keyTerm struct{ Param, Value string }

// lookupTerms reads an entry's key (conditionKey's or restoreKey's) back
// into terms; nil when it cannot be looked up with others in one search (a
// value with a comma or a backslash, which a search would split): such an
// entry keeps its conditional create.
func lookupTerms(key string) []keyTerm {
	q, err := url.ParseQuery(key)
	if err != nil || len(q) != 1 {
		return nil
	}
	var terms []keyTerm
	for param, vs := range q {
		if len(vs) != 1 {
			return nil
		}
		switch param {
		case "identifier", "_tag", "_id":
			terms = []keyTerm{{param, vs[0]}}
		case "_filter": // restoreKey's: <param> eq "<value>" or ...
			for _, t := range strings.Split(vs[0], " or ") {
				p, v, ok := strings.Cut(t, ` eq "`)
				if !ok || !strings.HasSuffix(v, `"`) {
					return nil
				}
				terms = append(terms, keyTerm{p, strings.TrimSuffix(v, `"`)})
			}
		default:
			return nil
		}
	}
	for _, t := range terms {
		if t.Value == "" || strings.ContainsAny(t.Value, `,\`) {
			return nil
		}
	}
	return terms
}

// termValues are the values r has for a search parameter of a key.
func termValues(r map[string]any, param string) []string {
	pairs := func(v any, field string) []string {
		var out []string
		add := func(m map[string]any) {
			if s, c := str(m["system"]), str(m[field]); c != "" {
				out = append(out, s+"|"+c)
			}
		}
		switch x := v.(type) {
		case map[string]any:
			add(x)
		case []any:
			for _, e := range x {
				if m, ok := e.(map[string]any); ok {
					add(m)
				}
			}
		}
		return out
	}
	switch param {
	case "_id":
		return []string{str(r["id"])}
	case "identifier":
		return pairs(r["identifier"], "value")
	case "_tag":
		meta, _ := r["meta"].(map[string]any)
		return pairs(meta["tag"], "code")
	}
	return nil
}

// maxLookup is the most resources one lookup search asks for (Medplum's
// largest _count).
const maxLookup = 1000

// lookupSearches are the searches that look up the keyed entries of todo:
// by type and parameter, each value once, the values sorted as the
// entries are. It returns them with the entries each search is for.
func lookupSearches(ch *chunk, todo []int) (groups []*lookupGroup, terms map[int][]keyTerm) {
	type group = lookupGroup
	byKey := map[[2]string]*group{}
	terms = map[int][]keyTerm{}
	for _, i := range todo {
		e := ch.Entries[i]
		ts := lookupTerms(e.Key)
		if ts == nil {
			continue
		}
		terms[i] = ts
		for _, t := range ts {
			g := byKey[[2]string{e.Type, t.Param}]
			if g == nil {
				g = &group{typ: e.Type, param: t.Param}
				byKey[[2]string{e.Type, t.Param}] = g
				groups = append(groups, g)
			}
			g.values = append(g.values, t.Value)
		}
	}
	return groups, terms
}

// lookupGroup is one search of a lookup: the values of a parameter, of the
// entries of one type.
type lookupGroup struct {
	typ, param string
	values     []string
}

func (g *lookupGroup) url() string {
	q := url.Values{g.param: {strings.Join(g.values, ",")}, "_count": {fmt.Sprint(maxLookup)}}
	return "fhir/R4/" + g.typ + "?" + q.Encode()
}

// findExisting runs the searches of the keyed entries of todo and answers those
// it finds: found (200, as a conditional create that matched), or failed
// when their key matches several resources (412, as capture 512b). The
// entries not found stay unanswered, to be created. An error is the
// search's; a search that could not say everything (more than maxLookup
// resources) leaves its entries to their conditional create (sendAsIs).
func (im *importer) findExisting(ch *chunk, todo []int, results []*result, local map[string]string, sendAsIs map[int]bool) error {
	if im.o.Restore {
		if err := im.readBinaries(ch, todo, results, local); err != nil {
			return err
		}
	}
	groups, terms := lookupSearches(ch, todo)
	if len(groups) == 0 {
		return nil
	}
	found := map[string][]map[string]any{} // "Type param value" -> resources
	partial := map[string]bool{}           // "Type param" whose search was cut short
	for _, g := range groups {
		u := g.url()
		resp, err := im.c.Do(im.run.Request, &client.Request{Method: http.MethodGet, URL: u, NoRetry: true, Idempotent: true})
		if err != nil {
			return err
		}
		var b struct {
			Entry []struct {
				Resource map[string]any `json:"resource"`
			} `json:"entry"`
			Link []struct{ Relation string } `json:"link"`
		}
		if err := json.Unmarshal(resp.Body, &b); err != nil {
			return fmt.Errorf("reading the search %s: %w", u, err)
		}
		typ, param := g.typ, g.param
		for _, l := range b.Link {
			if l.Relation == "next" {
				partial[typ+" "+param] = true
			}
		}
		for _, e := range b.Entry {
			for _, v := range termValues(e.Resource, param) {
				k := typ + " " + param + " " + v
				found[k] = append(found[k], e.Resource)
			}
		}
	}
	for i, ts := range terms {
		e := ch.Entries[i]
		var match []map[string]any
		seen := map[string]bool{}
		cut := false
		for _, t := range ts {
			cut = cut || partial[e.Type+" "+t.Param]
			for _, r := range found[e.Type+" "+t.Param+" "+t.Value] {
				if id := str(r["id"]); !seen[id] {
					seen[id] = true
					match = append(match, r)
				}
			}
		}
		if len(match) > 1 && e.OldID != "" {
			// (--restore: the resource of its id, rather than another
			// with the same identifier)
			for _, r := range match {
				if str(r["id"]) == e.OldID {
					match = []map[string]any{r}
					break
				}
			}
		}
		switch {
		case len(match) > 1:
			results[i] = &result{status: http.StatusPreconditionFailed, err: "Multiple resources found matching condition"}
		case len(match) == 1:
			r := match[0]
			ref := str(r["resourceType"]) + "/" + str(r["id"])
			results[i] = &result{done: true, status: http.StatusOK, newRef: ref, stale: im.stale(r, local)}
			if old := e.ref(); old != "" {
				local[old] = ref
			}
		case cut:
			sendAsIs[i] = true
		}
	}
	return nil
}

// stale reports whether a resource found on the server points at
// resources of the input that are not where it says: made by a run that
// stopped before its fix-up, or (--restore) pointing at a resource
// re-created with a new id, or at one not known yet.
func (im *importer) stale(r map[string]any, local map[string]string) bool {
	n := 0
	rewrite(r, im.inInput, func(ref string) string {
		if nw := local[ref]; nw == ref || nw == "" && im.lookup(ref) == ref {
			return ref
		}
		return ""
	}, &n)
	return n > 0
}

// readBinaries looks up, for --restore, each Binary of todo by its id: a
// Binary cannot be searched (capture 533), but read (112): found while it
// exists (200), created again once it was deleted (410) or expunged (404).
// A re-created one has a new id no later run can find but through the
// journal.
func (im *importer) readBinaries(ch *chunk, todo []int, results []*result, local map[string]string) error {
	for _, i := range todo {
		e := ch.Entries[i]
		if e.Type != "Binary" || e.OldID == "" || results[i] != nil {
			continue
		}
		ref := e.ref()
		// Its id, else the copy an earlier run (its journal) made of it:
		// --restore sends every resource again on every run.
		for k, at := range []string{ref, im.lookup(ref)} {
			if at == "" || results[i] != nil || k == 1 && at == ref {
				continue
			}
			id := strings.TrimPrefix(at, "Binary/")
			_, err := im.c.Do(im.run.Request, &client.Request{Method: http.MethodGet, URL: "fhir/R4/" + client.ResourceURL("Binary", id), NoRetry: true, Idempotent: true})
			if ce := client.AsError(err); ce != nil && (ce.Status == http.StatusNotFound || ce.Status == http.StatusGone) {
				continue
			}
			if err != nil {
				return err
			}
			results[i] = &result{done: true, status: http.StatusOK, newRef: at}
			local[ref] = at
		}
	}
	return nil
}
