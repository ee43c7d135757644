package rest

import (
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/medplumcli/medplum/commands/ojson"
)

// toTransaction turns a Bundle (a search result) into a transaction Bundle
// that recreates its resources elsewhere, with the semantics of the official
// CLI's `get --as-transaction` (@medplum/core convertToTransactionBundle):
//
//   - meta.author, compartment, lastUpdated, project and versionId are
//     dropped (meta itself when nothing is left);
//   - each resource id becomes a fresh urn:uuid: fullUrl and the id is removed;
//   - every "reference" string whose id part (after the first "/", after
//     "urn:uuid:" or after "#") is one of those ids points at the new fullUrl;
//   - every entry is a POST to its resource type;
//   - entries are ordered so a resource comes before the resources that
//     refer to it; members of a reference cycle are then repeated as PUTs.
//
// Key order and number spelling inside resources are kept.
func toTransaction(bundle *ojson.Node, newID func() string) *ojson.Node {
	entries := bundle.Get("entry")
	idToUUID := map[string]string{}
	var out []*ojson.Node
	if entries != nil {
		for _, e := range entries.Elems {
			res := e.Get("resource")
			if res == nil || res.Kind != ojson.Object {
				continue
			}
			res = res.Clone()
			if meta := res.Get("meta"); meta != nil && meta.Kind == ojson.Object {
				for _, k := range []string{"author", "compartment", "lastUpdated", "project", "versionId"} {
					meta.Del(k)
				}
				if len(meta.Keys) == 0 {
					res.Del("meta")
				}
			}
			fullURL, _ := e.Get("fullUrl").Str()
			if id, ok := res.Get("id").Str(); ok && id != "" {
				idToUUID[id] = newID()
				fullURL = "urn:uuid:" + idToUUID[id]
				res.Del("id")
			}
			entry := ojson.NewObject()
			if fullURL != "" {
				entry.Set("fullUrl", ojson.String(fullURL))
			}
			req := ojson.NewObject()
			req.Set("method", ojson.String("POST"))
			if typ, ok := res.Get("resourceType").Str(); ok {
				req.Set("url", ojson.String(typ))
			}
			entry.Set("request", req)
			entry.Set("resource", res)
			out = append(out, entry)
		}
	}
	for _, e := range out {
		rewriteReferences(e, idToUUID)
	}
	tx := ojson.NewObject()
	tx.Set("resourceType", ojson.String("Bundle"))
	tx.Set("type", ojson.String("transaction"))
	tx.Set("entry", ojson.NewArray(reorder(out)))
	return tx
}

// rewriteReferences points "reference" strings at the new fullUrls.
func rewriteReferences(n *ojson.Node, idToUUID map[string]string) {
	switch n.Kind {
	case ojson.Object:
		for i, k := range n.Keys {
			if s, ok := n.Vals[i].Str(); ok && k == "reference" {
				if u, ok := idToUUID[referenceID(s)]; ok {
					n.Vals[i] = ojson.String("urn:uuid:" + u)
				}
				continue
			}
			rewriteReferences(n.Vals[i], idToUUID)
		}
	case ojson.Array:
		for _, e := range n.Elems {
			rewriteReferences(e, idToUUID)
		}
	}
}

// referenceID is the id part of a reference as core reads it: the second
// "/"-separated segment, the rest after "urn:uuid:", or after "#".
func referenceID(ref string) string {
	switch {
	case strings.Contains(ref, "/"):
		return strings.Split(ref, "/")[1]
	case strings.HasPrefix(ref, "urn:uuid:"):
		return ref[len("urn:uuid:"):]
	case strings.HasPrefix(ref, "#"):
		return ref[1:]
	}
	return ""
}

// reorder sorts entries topologically: an entry comes before the entries
// that reference its fullUrl. Entries in a reference cycle are appended
// again as PUTs so that every reference resolves on the second pass;
// entries without a fullUrl go last.
func reorder(entries []*ojson.Node) []*ojson.Node {
	var order []string
	byURL := map[string]*ojson.Node{}
	var noURL []*ojson.Node
	for _, e := range entries {
		u, _ := e.Get("fullUrl").Str()
		if u == "" {
			noURL = append(noURL, e)
			continue
		}
		if _, seen := byURL[u]; !seen {
			order = append(order, u)
		}
		byURL[u] = e
	}
	// referrers[u] lists the entries whose resource refers to u.
	referrers := map[string][]string{}
	for _, e := range entries {
		from, _ := e.Get("fullUrl").Str()
		eachReference(e.Get("resource"), func(ref string) {
			if _, ok := byURL[ref]; ok && strings.HasPrefix(ref, "urn:uuid:") {
				referrers[ref] = append(referrers[ref], from)
			}
		})
	}
	const (
		unvisited = iota
		visiting
		visited
	)
	state := map[string]int{}
	var sorted []string // reverse post-order
	var cycles [][]string
	var path []string
	var visit func(u string)
	visit = func(u string) {
		switch state[u] {
		case visited:
			return
		case visiting:
			for i := len(path) - 1; i >= 0; i-- {
				if path[i] == u {
					cycles = append(cycles, append([]string(nil), path[i:]...))
					break
				}
			}
			return
		}
		state[u] = visiting
		path = append(path, u)
		for _, r := range referrers[u] {
			visit(r)
		}
		path = path[:len(path)-1]
		state[u] = visited
		sorted = append(sorted, u)
	}
	for _, u := range order {
		if state[u] == unvisited {
			visit(u)
		}
	}
	out := make([]*ojson.Node, 0, len(entries))
	for i := len(sorted) - 1; i >= 0; i-- {
		out = append(out, byURL[sorted[i]])
	}
	for _, c := range cycles {
		for _, u := range c {
			put := byURL[u].Clone()
			put.Get("request").Set("method", ojson.String("PUT"))
			out = append(out, put)
		}
	}
	return append(out, noURL...)
}

// eachReference calls fn with the reference string of every Reference
// (an object with a string "reference") inside n, not looking inside
// references themselves.
func eachReference(n *ojson.Node, fn func(string)) {
	if n == nil {
		return
	}
	switch n.Kind {
	case ojson.Object:
		for i := range n.Keys {
			v := n.Vals[i]
			if v.Kind == ojson.Object {
				if ref, ok := v.Get("reference").Str(); ok {
					fn(ref)
					continue
				}
			}
			eachReference(v, fn)
		}
	case ojson.Array:
		for _, e := range n.Elems {
			eachReference(e, fn)
		}
	}
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
