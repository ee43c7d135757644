package rest

import (
	"crypto/rand"
	"fmt"
	"strings"
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
func toTransaction(bundle *node, newID func() string) *node {
	entries := bundle.get("entry")
	idToUUID := map[string]string{}
	var out []*node
	if entries != nil {
		for _, e := range entries.elems {
			res := e.get("resource")
			if res == nil || res.kind != '{' {
				continue
			}
			res = res.clone()
			if meta := res.get("meta"); meta != nil && meta.kind == '{' {
				for _, k := range []string{"author", "compartment", "lastUpdated", "project", "versionId"} {
					meta.del(k)
				}
				if len(meta.keys) == 0 {
					res.del("meta")
				}
			}
			fullURL, _ := e.get("fullUrl").str()
			if id, ok := res.get("id").str(); ok && id != "" {
				idToUUID[id] = newID()
				fullURL = "urn:uuid:" + idToUUID[id]
				res.del("id")
			}
			entry := objNode()
			if fullURL != "" {
				entry.set("fullUrl", strNode(fullURL))
			}
			req := objNode()
			req.set("method", strNode("POST"))
			if typ, ok := res.get("resourceType").str(); ok {
				req.set("url", strNode(typ))
			}
			entry.set("request", req)
			entry.set("resource", res)
			out = append(out, entry)
		}
	}
	for _, e := range out {
		rewriteReferences(e, idToUUID)
	}
	tx := objNode()
	tx.set("resourceType", strNode("Bundle"))
	tx.set("type", strNode("transaction"))
	tx.set("entry", &node{kind: '[', elems: reorder(out)})
	return tx
}

// rewriteReferences points "reference" strings at the new fullUrls.
func rewriteReferences(n *node, idToUUID map[string]string) {
	switch n.kind {
	case '{':
		for i, k := range n.keys {
			if s, ok := n.vals[i].str(); ok && k == "reference" {
				if u, ok := idToUUID[referenceID(s)]; ok {
					n.vals[i] = strNode("urn:uuid:" + u)
				}
				continue
			}
			rewriteReferences(n.vals[i], idToUUID)
		}
	case '[':
		for _, e := range n.elems {
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
func reorder(entries []*node) []*node {
	var order []string
	byURL := map[string]*node{}
	var noURL []*node
	for _, e := range entries {
		u, _ := e.get("fullUrl").str()
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
		from, _ := e.get("fullUrl").str()
		eachReference(e.get("resource"), func(ref string) {
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
	out := make([]*node, 0, len(entries))
	for i := len(sorted) - 1; i >= 0; i-- {
		out = append(out, byURL[sorted[i]])
	}
	for _, c := range cycles {
		for _, u := range c {
			put := byURL[u].clone()
			put.get("request").set("method", strNode("PUT"))
			out = append(out, put)
		}
	}
	return append(out, noURL...)
}

// eachReference calls fn with the reference string of every Reference
// (an object with a string "reference") inside n, not looking inside
// references themselves.
func eachReference(n *node, fn func(string)) {
	if n == nil {
		return
	}
	switch n.kind {
	case '{':
		for i := range n.keys {
			v := n.vals[i]
			if v.kind == '{' {
				if ref, ok := v.get("reference").str(); ok {
					fn(ref)
					continue
				}
			}
			eachReference(v, fn)
		}
	case '[':
		for _, e := range n.elems {
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
