package membership

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"

	"github.com/medplumcli/medplum/client"
)

// MergeUpsert makes an invite body (a JSON object with the membership
// template in "membership") change only what it names when it updates cur,
// the membership of a user who is already a member, and returns those
// changes as "admin true -> false".
//
// Medplum 5.0.10 updates the membership with {externalId, accessPolicy,
// access, admin, ...membership} spread over it: a field the request leaves
// out is removed, which takes an admin's rights away (captures 201-203).
// So each of them that the invite does not name is sent as cur has it. An
// access policy (accessPolicy, or access entries) is one thing: naming
// either replaces both.
//
// label shows an access policy in the changes (nil: its reference).
func MergeUpsert(body map[string]any, cur client.Resource, label func(ref string) string) []string {
	if label == nil {
		label = func(ref string) string { return ref }
	}
	mem, _ := body["membership"].(map[string]any)
	if mem == nil {
		mem = map[string]any{}
	}
	named := func(k string) (any, bool) {
		if v, ok := mem[k]; ok && v != nil {
			return v, true
		}
		if v, ok := body[k]; ok && v != nil && !(k == "externalId" && v == "") {
			return v, true
		}
		return nil, false
	}
	var changes []string
	after := client.Resource{}
	for k, v := range cur {
		after[k] = v
	}

	if v, ok := named("admin"); ok {
		after["admin"] = v
	}
	_, namesPolicy := named("accessPolicy")
	_, namesAccess := named("access")
	if namesPolicy || namesAccess {
		delete(after, "accessPolicy")
		delete(after, "access")
		if v, ok := named("accessPolicy"); ok {
			after["accessPolicy"] = v
		}
		if v, ok := named("access"); ok {
			after["access"] = v
		}
	}
	if v, ok := named("externalId"); ok {
		after["externalId"] = v
	}
	if v, ok := mem["active"]; ok && v != nil {
		after["active"] = v
	}

	if b, a := IsAdmin(cur), IsAdmin(after); b != a {
		changes = append(changes, fmt.Sprintf("admin %v -> %v", b, a))
	}
	if AccessSummary(cur) != AccessSummary(after) {
		changes = append(changes, fmt.Sprintf("access %s -> %s", orNone(AccessLabel(cur, label)), orNone(AccessLabel(after, label))))
	}
	if b, a := cur.String("externalId"), after.String("externalId"); b != a {
		changes = append(changes, fmt.Sprintf("externalId %s -> %s", orNone(strconv.Quote(b)), strconv.Quote(a)))
	}
	if b, a := IsActive(cur), IsActive(after); b != a {
		changes = append(changes, fmt.Sprintf("active %v -> %v", b, a))
	}
	var others []string
	for k, v := range mem {
		switch k {
		case "admin", "accessPolicy", "access", "externalId", "active":
			continue
		}
		if !sameJSON(cur[k], v) {
			others = append(others, k+" changed")
		}
	}
	sort.Strings(others)
	changes = append(changes, others...)

	// What is sent: every field the server would otherwise remove.
	for _, k := range []string{"admin", "accessPolicy", "access", "externalId"} {
		if v, ok := after[k]; ok && v != nil {
			mem[k] = v
		} else {
			delete(mem, k)
		}
	}
	if len(mem) > 0 {
		body["membership"] = mem
	}
	return changes
}

// UpsertBody is the invite --upsert sends for a member whose membership is
// cur: the invite body (JSON) merged by MergeUpsert, with "upsert": true,
// and the changes (policies shown by label, nil: by reference). Keys come
// out sorted (a map is encoded).
func UpsertBody(invite []byte, cur client.Resource, label func(ref string) string) ([]byte, []string, error) {
	body, err := client.DecodeResource(invite)
	if err != nil {
		return nil, nil, err
	}
	changes := MergeUpsert(body, cur, label)
	body["upsert"] = true
	b, err := client.EncodeBody(body)
	return bytes.TrimSuffix(b, []byte("\n")), changes, err
}

func orNone(s string) string {
	if s == "" || s == `""` {
		return "none"
	}
	return s
}

// sameJSON compares two JSON values as they would be sent.
func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return reflect.DeepEqual(a, b)
	}
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(va, vb)
}
