package apply

import (
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"sort"
	"strings"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/membership"
)

// Action is what apply does to one object.
type Action string

// The actions of a plan.
const (
	Create      Action = "create"
	Update      Action = "update"
	Unchanged   Action = "unchanged"
	Remove      Action = "remove"       // not in the file, --prune
	WouldRemove Action = "would-remove" // not in the file, no --prune
	Keep        Action = "keep"         // not in the file, but stays even with --prune
)

// The kinds of objects, in the order the plan lists them.
const (
	KindSetting = "setting"
	KindPolicy  = "access policy"
	KindClient  = "client"
	KindMember  = "member"
)

// Change is one line of the plan.
type Change struct {
	Action  Action   `json:"action"`
	Kind    string   `json:"kind"`
	Name    string   `json:"name"`
	ID      string   `json:"id,omitempty"` // the server's reference, when it exists
	Details []string `json:"details,omitempty"`
	Note    string   `json:"note,omitempty"`

	phase int             // execution order (see run.go)
	do    step            // nil for unchanged, would-remove, keep and settings lines
	spec  any             // the file's object
	res   client.Resource // the server's object
	mem   client.Resource // the server's membership of a client or member

	config *configStep // a bot's entry in medplum.config.json
}

// Pending reports whether the change writes something.
func (c *Change) Pending() bool {
	return c.Action == Create || c.Action == Update || c.Action == Remove
}

// Plan is everything apply would do to the project.
type Plan struct {
	ProjectID   string
	ProjectName string
	Changes     []*Change
	// Settings is the whole new Project.setting when any setting changes,
	// to be written over the Project's version SettingsOf (meta.versionId)
	// whose settings were SettingsWere.
	Settings     []client.Resource
	SettingsOf   string
	SettingsWere []client.Resource

	botDiffs map[string]botDiff // what the bots' code changes (readBots)
}

// Pending reports whether applying the plan would change anything.
func (p *Plan) Pending() bool {
	for _, c := range p.Changes {
		if c.Pending() {
			return true
		}
	}
	return false
}

// Count returns how many changes have the action.
func (p *Plan) Count(a Action) int {
	n := 0
	for _, c := range p.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// ConflictError means the file asks for something apply cannot do to this
// project (another project, a role change, cutting off its own access).
// Exit 2: nothing was sent.
type ConflictError struct{ Problems []string }

func (e *ConflictError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0] + "; nothing was changed"
	}
	return "the file cannot be applied to this project; nothing was changed:\n  " + strings.Join(e.Problems, "\n  ")
}

// ExitCode implements cmdutil.ExitCoder.
func (e *ConflictError) ExitCode() int { return cmdutil.ExitUsage }

// planner compares a spec with the server's state.
type planner struct {
	spec  *Spec
	st    *State
	prune bool
	plan  *Plan
	probs []string

	policyNames map[string]string          // server AccessPolicy/<id> -> name
	fileRefs    map[string]client.Resource // placeholder -> matched server policy
	fileNames   map[string]string          // placeholder -> name
	byUser      map[string][]client.Resource
	removed     map[string]bool // membership ids the plan removes, or would with --prune
}

// makePlan compares the file with the server's state.
func makePlan(spec *Spec, st *State, prune bool) (*Plan, error) {
	p := &planner{spec: spec, st: st, prune: prune,
		plan:        &Plan{ProjectID: st.Who.ProjectID, ProjectName: st.Project.String("name")},
		policyNames: map[string]string{}, fileRefs: map[string]client.Resource{}, fileNames: map[string]string{},
		byUser: map[string][]client.Resource{}, removed: map[string]bool{}}
	if err := p.guard(); err != nil {
		return nil, err
	}
	for _, m := range st.Memberships {
		p.byUser[m.Ref("user")] = append(p.byUser[m.Ref("user")], m)
	}
	for _, pol := range st.Policies {
		p.policyNames["AccessPolicy/"+pol.ID()] = pol.String("name")
	}
	for _, ps := range spec.Policies {
		p.fileNames[ps.Ref] = ps.Name
	}
	for _, u := range spec.PolicyUses() {
		if why, bad := st.BadPolicies[u.Ref]; bad {
			p.conflict("%s: %s", u.Place, why)
		}
	}
	p.settings()
	p.policies()
	p.clients()
	p.members()
	p.bots()
	p.plan.botDiffs = st.BotDiffs
	p.prunePolicies()
	if len(p.probs) > 0 {
		return nil, &ConflictError{Problems: p.probs}
	}
	return p.plan, nil
}

func (p *planner) add(c *Change) { p.plan.Changes = append(p.plan.Changes, c) }

func (p *planner) conflict(format string, a ...any) {
	p.probs = append(p.probs, fmt.Sprintf(format, a...))
}

// guard checks that the file is about the signed-in project.
func (p *planner) guard() error {
	who, name := p.st.Who, p.plan.ProjectName
	if p.spec.ProjectName != name {
		return &ConflictError{Problems: []string{fmt.Sprintf("%s is for project %q, but you are signed in to project %q (%s)",
			p.spec.File, p.spec.ProjectName, name, who.ProjectID)}}
	}
	if p.spec.ProjectID != "" && p.spec.ProjectID != who.ProjectID {
		return &ConflictError{Problems: []string{fmt.Sprintf("%s is for project id %s, but you are signed in to project %q (%s)",
			p.spec.File, p.spec.ProjectID, name, who.ProjectID)}}
	}
	return nil
}

// ---- settings

func (p *planner) settings() {
	if !p.spec.ManagesSettings {
		return
	}
	current := client.SettingsList(p.st.Project, "setting")
	next := make([]client.Resource, 0, len(current))
	wanted := map[string]*SettingSpec{}
	for _, s := range p.spec.Settings {
		wanted[s.Name] = s
	}
	changed := false
	seen := map[string]bool{}
	for _, cur := range current {
		name := cur.String("name")
		s, ok := wanted[name]
		if !ok || seen[name] {
			if p.prune {
				p.add(&Change{Action: Remove, Kind: KindSetting, Name: name})
				changed = true
				continue
			}
			p.add(&Change{Action: WouldRemove, Kind: KindSetting, Name: name})
			next = append(next, cur)
			continue
		}
		seen[name] = true
		key, val, _ := client.SettingValue(cur)
		if key == s.Key && sameValue(val, s.Value) {
			p.add(&Change{Action: Unchanged, Kind: KindSetting, Name: name})
			next = append(next, cur)
			continue
		}
		upd := cloneResource(cur)
		for _, k := range client.SettingValueKeys {
			delete(upd, k)
		}
		upd[s.Key] = s.Value
		next = append(next, upd)
		changed = true
		p.add(&Change{Action: Update, Kind: KindSetting, Name: name,
			Details: []string{fmt.Sprintf("%s -> %s", settingText(key, val), settingText(s.Key, s.Value))}})
	}
	for _, s := range p.spec.Settings {
		if seen[s.Name] {
			continue
		}
		next = append(next, client.Resource{"name": s.Name, s.Key: s.Value})
		changed = true
		p.add(&Change{Action: Create, Kind: KindSetting, Name: s.Name, Details: []string{settingText(s.Key, s.Value)}})
	}
	if changed {
		p.plan.Settings, p.plan.SettingsOf, p.plan.SettingsWere = next, client.VersionID(p.st.Project), current
	}
}

// settingText shows a value with its type where the text alone would hide
// it: strings quoted, booleans and numbers bare.
func settingText(key string, v any) string {
	if key == "valueString" {
		s, _ := v.(string)
		return fmt.Sprintf("%q", s)
	}
	if key == "" {
		return "(no value)"
	}
	return fmt.Sprint(v)
}

// sameValue compares setting values; numbers by value (1.0 equals 1).
func sameValue(a, b any) bool {
	an, aNum := numberOf(a)
	bn, bNum := numberOf(b)
	if aNum || bNum {
		return aNum && bNum && an.Cmp(bn) == 0
	}
	return a == b
}

func numberOf(v any) (*big.Float, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	f, _, err := big.ParseFloat(n.String(), 10, 200, big.ToNearestEven)
	return f, err == nil
}

// ---- access policies

func (p *planner) policies() {
	if !p.spec.ManagesPolicies {
		return
	}
	byName := map[string][]client.Resource{}
	for _, pol := range p.st.Policies {
		byName[pol.String("name")] = append(byName[pol.String("name")], pol)
	}
	for _, ps := range p.spec.Policies {
		found := byName[ps.Name]
		switch len(found) {
		case 0:
			p.add(&Change{Action: Create, Kind: KindPolicy, Name: ps.Name, phase: phaseWrite, spec: ps, do: createPolicy})
			continue
		case 1:
		default:
			p.conflict("access policy %q: %d policies of the project have this name (%s); rename or delete all but one", ps.Name, len(found), ids(found))
			continue
		}
		cur := found[0]
		p.fileRefs[ps.Ref] = cur
		ch := &Change{Kind: KindPolicy, Name: ps.Name, ID: "AccessPolicy/" + cur.ID(), spec: ps, res: cur}
		if diff := bodyDiff(cur, ps.Body); len(diff) > 0 {
			ch.Action, ch.Details, ch.phase, ch.do = Update, []string{strings.Join(diff, ", ") + " changed"}, phaseWrite, updatePolicy
		} else {
			ch.Action = Unchanged
		}
		p.add(ch)
	}
}

// bodyDiff lists the top-level fields of a policy that differ from the file
// (the file's fields, plus any the server has that the file leaves out).
func bodyDiff(cur client.Resource, want map[string]any) []string {
	var out []string
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range cur {
		switch k {
		case "resourceType", "id", "meta", "name":
		default:
			keys[k] = true
		}
	}
	for _, k := range sortedKeys(keys) {
		if !sameJSON(cur[k], want[k]) {
			out = append(out, k)
		}
	}
	return out
}

// sameJSON compares decoded JSON values, numbers by value.
func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameJSON(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	if an, ok := numberOf(a); ok {
		bn, ok := numberOf(b)
		return ok && an.Cmp(bn) == 0
	}
	return reflect.DeepEqual(a, b)
}

// prunePolicies handles the project's policies the file does not list.
// Some must stay even with --prune: the project's default policies, and
// policies that memberships still use after this apply with --prune. The
// plan without --prune says so too, rather than that --prune removes them.
func (p *planner) prunePolicies() {
	if !p.spec.ManagesPolicies {
		return
	}
	inFile := map[string]bool{}
	for _, cur := range p.fileRefs {
		inFile[cur.ID()] = true
	}
	defaults := map[string]bool{}
	for _, d := range listOf(p.st.Project["defaultAccessPolicies"]) {
		if ref, ok := d["accessPolicy"].(map[string]any); ok {
			s, _ := ref["reference"].(string)
			defaults[s] = true
		}
	}
	defaults[p.st.Project.Ref("defaultPatientAccessPolicy")] = true
	used := p.usedPolicies()
	for _, pol := range p.st.Policies {
		if inFile[pol.ID()] {
			continue
		}
		ref := "AccessPolicy/" + pol.ID()
		ch := &Change{Kind: KindPolicy, Name: pol.String("name"), ID: ref, res: pol}
		switch {
		case defaults[ref]:
			ch.Action, ch.Note = Keep, "a default access policy of the project"
		case used[ref] > 0:
			ch.Action, ch.Note = Keep, "still used by "+cmdutil.Count(used[ref], "membership")
		case !p.prune:
			ch.Action = WouldRemove
		default:
			ch.Action, ch.phase, ch.do = Remove, phaseRemovePolicies, removePolicy
		}
		p.add(ch)
	}
}

// usedPolicies counts, per policy, the memberships that will use it after
// the apply: the file's wishes for the members and clients it manages, the
// server's state for the others, nothing for those removed.
func (p *planner) usedPolicies() map[string]int {
	used := map[string]int{}
	managed := map[string][]string{} // membership id -> the refs the file gives it
	for _, c := range p.plan.Changes {
		if c.mem == nil {
			continue
		}
		switch s := c.spec.(type) {
		case *MemberSpec:
			if s.AccessManaged {
				for _, r := range append([]string{s.AccessPolicy}, policiesOf(s.Access)...) {
					managed[c.mem.ID()] = append(managed[c.mem.ID()], p.resolve(r))
				}
			}
		case *ClientSpec:
			if s.AccessPolicy != nil {
				managed[c.mem.ID()] = []string{p.resolve(*s.AccessPolicy)}
			}
		case *BotSpec:
			if s.AccessPolicy != nil {
				managed[c.mem.ID()] = []string{p.resolve(*s.AccessPolicy)}
			}
		}
	}
	for _, m := range p.st.Memberships {
		if p.removed[m.ID()] {
			continue
		}
		refs, ok := managed[m.ID()]
		if !ok {
			refs = append([]string{m.Ref("accessPolicy")}, policiesOf(membership.Access(m))...)
		}
		for _, r := range refs {
			if r != "" {
				used[r]++
			}
		}
	}
	return used
}

func policiesOf(list []client.MembershipAccess) []string {
	var out []string
	for _, a := range list {
		if a.Policy != nil {
			out = append(out, a.Policy.Reference)
		}
	}
	return out
}

// resolve turns a file reference into the server reference it stands for
// now: a placeholder of a policy that exists becomes AccessPolicy/<id>; a
// placeholder of a policy to be created stays (it equals nothing on the
// server).
func (p *planner) resolve(ref string) string {
	if cur, ok := p.fileRefs[ref]; ok {
		return "AccessPolicy/" + cur.ID()
	}
	return ref
}

// policyLabel shows a reference: a known policy by its quoted name.
func (p *planner) policyLabel(ref string) string {
	if ref == "" {
		return "none"
	}
	if n, ok := p.fileNames[ref]; ok {
		return fmt.Sprintf("%q", n)
	}
	if n, ok := p.policyNames[ref]; ok {
		return fmt.Sprintf("%q", n)
	}
	return ref
}

// accessLabel shows access entries in the --access syntax, policies by name.
func (p *planner) accessLabel(list []client.MembershipAccess) string {
	if len(list) == 0 {
		return "none"
	}
	return membership.AccessLabels(list, p.policyLabel)
}

// ---- helpers

func ids(list []client.Resource) string {
	out := make([]string, len(list))
	for i, r := range list {
		out[i] = r.ID()
	}
	return strings.Join(out, ", ")
}

func listOf(v any) []map[string]any {
	raw, _ := v.([]any)
	var out []map[string]any
	for _, e := range raw {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func cloneResource(r client.Resource) client.Resource {
	out := make(client.Resource, len(r))
	for k, v := range r {
		out[k] = v
	}
	return out
}

// sortChanges orders changes for execution.
func sortChanges(list []*Change) []*Change {
	out := append([]*Change(nil), list...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].phase < out[j].phase })
	return out
}
