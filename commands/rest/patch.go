package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/ojson"
)

// jsonPatch is a decoded RFC 6902 patch.
type jsonPatch = jsonpatch.Patch

// patchOp says whether kind is one of the RFC 6902 operations.
func patchOp(kind string) bool {
	switch kind {
	case "add", "remove", "replace", "move", "copy", "test":
		return true
	}
	return false
}

// parsePatch checks that body (already valid JSON) is an RFC 6902 JSON
// Patch: an array of operations, each with a known op, a JSON Pointer path,
// a value where the op needs one, and a from pointer for move and copy.
// The library's decoder (json-patch/v5) then has the last word.
func parsePatch(body []byte, name string) (jsonpatch.Patch, error) {
	var ops []json.RawMessage
	if err := json.Unmarshal(body, &ops); err != nil {
		return nil, cmdutil.InputErrorf("%s is not a JSON Patch: expected an array of operations such as [{\"op\":\"replace\",\"path\":\"/active\",\"value\":false}]", name)
	}
	if len(ops) == 0 {
		return nil, cmdutil.InputErrorf("%s is an empty JSON Patch: nothing to do", name)
	}
	for i, raw := range ops {
		if err := checkOp(raw); err != nil {
			return nil, cmdutil.InputErrorf("%s: operation %d: %v", name, i+1, err)
		}
	}
	p, err := jsonpatch.DecodePatch(body)
	if err != nil {
		return nil, cmdutil.InputErrorf("%s is not a valid JSON Patch: %v", name, err)
	}
	return p, nil
}

func checkOp(raw json.RawMessage) error {
	var op map[string]json.RawMessage
	if err := json.Unmarshal(raw, &op); err != nil || op == nil {
		return fmt.Errorf("expected an object with op and path")
	}
	var kind string
	if err := json.Unmarshal(op["op"], &kind); err != nil || kind == "" {
		return fmt.Errorf(`"op" is missing (add, remove, replace, move, copy or test)`)
	}
	if !patchOp(kind) {
		return fmt.Errorf(`unknown op %q (use add, remove, replace, move, copy or test)`, kind)
	}
	if err := checkPointer(op, "path"); err != nil {
		return err
	}
	switch kind {
	case "add", "replace", "test":
		if _, ok := op["value"]; !ok {
			return fmt.Errorf(`%q needs a "value"`, kind)
		}
	case "move", "copy":
		if err := checkPointer(op, "from"); err != nil {
			return err
		}
	}
	return nil
}

func checkPointer(op map[string]json.RawMessage, field string) error {
	raw, ok := op[field]
	if !ok {
		return fmt.Errorf("%q is missing", field)
	}
	var p string
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("%q must be a string", field)
	}
	if p != "" && !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q must be a JSON Pointer starting with \"/\", got %q", field, p)
	}
	return nil
}

// membershipRoute matches the admin route of one membership, relative to
// the base URL.
var membershipRoute = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^admin/projects/([^/?#]+)/members/([^/?#]+)/?$`) })

// adminMembership reports whether resolved (an absolute URL) is the admin
// route of a membership on the base URL, and returns the route.
func adminMembership(resolved, base string) (string, bool) {
	rel, ok := strings.CutPrefix(resolved, base)
	if !ok || !membershipRoute().MatchString(rel) {
		return "", false
	}
	return strings.TrimSuffix(rel, "/"), true
}

// protectedFields may not be changed through the admin membership route:
// the server answers 403 to another id or resourceType and silently keeps
// project and user, so a patch touching them would not do what it says.
var protectedFields = []string{"id", "resourceType", "project", "user"}

// checkProtected refuses patches whose path or from touches a protected
// field (or the whole document).
func checkProtected(p jsonpatch.Patch, name string) error {
	for i, op := range p {
		for _, field := range []string{"path", "from"} {
			var ptr string
			if raw := op[field]; raw != nil {
				_ = json.Unmarshal(*raw, &ptr)
			} else {
				continue
			}
			top, _, _ := strings.Cut(strings.TrimPrefix(ptr, "/"), "/")
			top = strings.NewReplacer("~1", "/", "~0", "~").Replace(top)
			if ptr == "" || slices.Contains(protectedFields, top) {
				what := ptr
				if what == "" {
					what = `"" (the whole resource)`
				}
				return cmdutil.InputErrorf("%s: operation %d touches %s: a membership's id, resourceType, project and user cannot be changed", name, i+1, what)
			}
		}
	}
	return nil
}

// membershipDefault is the value a ProjectMembership's boolean field has
// when it is absent (not an admin, active), or "".
func membershipDefault(field string) string {
	switch field {
	case "admin":
		return "false"
	case "active":
		return "true"
	}
	return ""
}

// withDefaults makes absent booleans that the patch addresses explicit, so
// the seed's `replace /admin` works on a membership that never had the field
// (a freshly invited member has none): the field exists, with its default.
func withDefaults(p jsonpatch.Patch, current []byte) ([]byte, error) {
	doc, err := ojson.Parse(current)
	if err != nil || doc.Kind != ojson.Object {
		return nil, fmt.Errorf("the membership is not a JSON object")
	}
	changed := false
	for _, op := range p {
		path, err := op.Path()
		if err != nil {
			continue
		}
		field := strings.TrimPrefix(path, "/")
		if def := membershipDefault(field); def != "" && doc.Get(field) == nil {
			doc.Set(field, ojson.Literal(def))
			changed = true
		}
	}
	if !changed {
		return current, nil
	}
	return doc.Bytes(), nil
}

// applyToMembership applies p to the membership read from the server, with
// RFC 6902 semantics (no negative indices) and without escaping HTML, and
// checks that the protected fields came out unchanged. Absent admin/active
// fields the patch addresses count as present with their defaults.
func applyToMembership(p jsonpatch.Patch, current []byte) ([]byte, error) {
	current, err := withDefaults(p, current)
	if err != nil {
		return nil, err
	}
	opts := jsonpatch.NewApplyOptions()
	opts.EscapeHTML = false
	opts.SupportNegativeIndices = false
	out, err := p.ApplyWithOptions(current, opts)
	if err != nil {
		return nil, cmdutil.InputErrorf("the patch does not apply to the membership: %v", err)
	}
	var before, after map[string]json.RawMessage
	if json.Unmarshal(current, &before) != nil || json.Unmarshal(out, &after) != nil {
		return nil, fmt.Errorf("the membership is not a JSON object")
	}
	for _, f := range protectedFields {
		if !bytes.Equal(before[f], after[f]) {
			return nil, cmdutil.InputErrorf("the patch changes %s, which cannot be changed", f)
		}
	}
	return out, nil
}
