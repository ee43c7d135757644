package medplumtest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// JSON Patch (RFC 6902) with the semantics and error texts of the rfc6902
// package that Medplum forked (packages/core/src/fhirpatch): the first failing
// operation stops the patch with "Value required at path: X",
// "Test failed: A != B" or "Invalid operation: OP".

func applyPatch(doc any, ops []any) (any, error) {
	for _, raw := range ops {
		op, _ := raw.(map[string]any)
		name, _ := op["op"].(string)
		path, _ := op["path"].(string)
		from, _ := op["from"].(string)
		var err error
		switch name {
		case "add":
			doc, err = patchAdd(doc, path, deepCopy(op["value"]))
		case "remove":
			doc, _, err = patchRemove(doc, path)
		case "replace":
			doc, err = patchReplace(doc, path, deepCopy(op["value"]))
		case "move":
			var v any
			if _, ok := pointerGet(doc, from); !ok {
				return nil, missing(from)
			}
			if !parentExists(doc, path) {
				return nil, missing(path)
			}
			doc, v, err = patchRemove(doc, from)
			if err == nil {
				doc, err = patchAdd(doc, path, v)
			}
		case "copy":
			v, ok := pointerGet(doc, from)
			if !ok {
				return nil, missing(from)
			}
			doc, err = patchAdd(doc, path, deepCopy(v))
		case "test":
			v, _ := pointerGet(doc, path)
			if !jsonEqual(v, op["value"]) {
				return nil, fmt.Errorf("Test failed: %s != %s", jsString(v), jsString(op["value"]))
			}
		default:
			return nil, fmt.Errorf("Invalid operation: %s", jsString(op["op"]))
		}
		if err != nil {
			return nil, err
		}
	}
	return doc, nil
}

func missing(path string) error { return errors.New("Value required at path: " + path) }

// jsString renders a value the way JavaScript's template strings do.
func jsString(v any) string {
	switch t := v.(type) {
	case nil:
		return "undefined"
	case map[string]any:
		return "[object Object]"
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = jsString(x)
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

func pointerTokens(p string) ([]string, bool) {
	if p == "" {
		return nil, true
	}
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	toks := strings.Split(p[1:], "/")
	for i, t := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks, true
}

func child(container any, key string) (any, bool) {
	switch c := container.(type) {
	case map[string]any:
		v, ok := c[key]
		return v, ok
	case []any:
		i, err := strconv.Atoi(key)
		if err != nil || i < 0 || i >= len(c) {
			return nil, false
		}
		return c[i], true
	}
	return nil, false
}

func pointerGet(doc any, p string) (any, bool) {
	toks, ok := pointerTokens(p)
	if !ok {
		return nil, false
	}
	cur := doc
	for _, t := range toks {
		if cur, ok = child(cur, t); !ok {
			return nil, false
		}
	}
	return cur, true
}

func parentExists(doc any, p string) bool {
	toks, ok := pointerTokens(p)
	if !ok || len(toks) == 0 {
		return false
	}
	cur := doc
	for _, t := range toks[:len(toks)-1] {
		if cur, ok = child(cur, t); !ok {
			return false
		}
	}
	switch cur.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// edit walks to the parent of the pointer's last token and lets fn return
// the parent's new value (arrays change identity when they grow or shrink).
func edit(doc any, toks []string, path string, fn func(parent any, key string) (any, error)) (any, error) {
	if len(toks) == 1 {
		switch doc.(type) {
		case map[string]any, []any:
			return fn(doc, toks[0])
		}
		return nil, missing(path)
	}
	next, ok := child(doc, toks[0])
	if !ok {
		return nil, missing(path)
	}
	nv, err := edit(next, toks[1:], path, fn)
	if err != nil {
		return nil, err
	}
	switch c := doc.(type) {
	case map[string]any:
		c[toks[0]] = nv
	case []any:
		i, _ := strconv.Atoi(toks[0])
		c[i] = nv
	}
	return doc, nil
}

func patchAdd(doc any, path string, value any) (any, error) {
	toks, ok := pointerTokens(path)
	if !ok || len(toks) == 0 {
		return nil, missing(path)
	}
	return edit(doc, toks, path, func(parent any, key string) (any, error) {
		switch c := parent.(type) {
		case map[string]any:
			c[key] = value
			return c, nil
		case []any:
			if key == "-" {
				return append(c, value), nil
			}
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i > len(c) {
				return nil, missing(path)
			}
			out := append(c[:i:i], value)
			return append(out, c[i:]...), nil
		}
		return nil, missing(path)
	})
}

func patchRemove(doc any, path string) (any, any, error) {
	toks, ok := pointerTokens(path)
	if !ok || len(toks) == 0 {
		return nil, nil, missing(path)
	}
	var removed any
	out, err := edit(doc, toks, path, func(parent any, key string) (any, error) {
		v, ok := child(parent, key)
		if !ok {
			return nil, missing(path)
		}
		removed = v
		switch c := parent.(type) {
		case map[string]any:
			delete(c, key)
			return c, nil
		case []any:
			i, _ := strconv.Atoi(key)
			return append(c[:i:i], c[i+1:]...), nil
		}
		return nil, missing(path)
	})
	return out, removed, err
}

func patchReplace(doc any, path string, value any) (any, error) {
	toks, ok := pointerTokens(path)
	if !ok || len(toks) == 0 {
		return nil, missing(path)
	}
	return edit(doc, toks, path, func(parent any, key string) (any, error) {
		if _, ok := child(parent, key); !ok {
			return nil, missing(path)
		}
		switch c := parent.(type) {
		case map[string]any:
			c[key] = value
			return c, nil
		case []any:
			i, _ := strconv.Atoi(key)
			c[i] = value
			return c, nil
		}
		return nil, missing(path)
	})
}
