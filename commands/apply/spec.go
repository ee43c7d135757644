package apply

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/membership"
)

// Spec is a checked apply file: the project as it should be. A section the
// file leaves out is not managed at all (nil here): apply neither changes
// nor removes anything of that kind.
type Spec struct {
	File        string
	ProjectName string
	ProjectID   string // optional guard

	Settings []*SettingSpec // nil: not managed
	Policies []*PolicySpec
	Clients  []*ClientSpec
	Members  []*MemberSpec
	Bots     []*BotSpec

	ManagesSettings, ManagesPolicies, ManagesClients, ManagesMembers, ManagesBots bool
}

// SettingSpec is one Project.setting entry.
type SettingSpec struct {
	Name  string
	Key   string // valueString, valueBoolean, valueInteger, valueDecimal
	Value any    // string, bool, json.Number
	Line  int
}

// PolicySpec is one AccessPolicy, matched by name.
type PolicySpec struct {
	Name string
	Body map[string]any // every field but resourceType and name
	Ref  string         // its placeholder reference (policyPlaceholder)
	Line int
}

// ClientSpec is one ClientApplication, matched by name.
type ClientSpec struct {
	Name        string
	Description *string // nil: not managed
	Admin       bool
	// AccessPolicy is a reference (a file policy's placeholder or
	// AccessPolicy/<id>); nil: not managed, "" none.
	AccessPolicy *string
	Path         string
	Line         int
}

// MemberSpec is one person, matched by e-mail or externalId.
type MemberSpec struct {
	Invite client.InviteRequest // how to create the member
	Key    string               // "email:<e-mail>" or "externalId:<id>"
	Label  string               // the e-mail or external id
	Admin  bool
	// AdminKept: the file leaves admin as the server has it (a blank admin
	// cell of a members CSV, as invite --csv does); a new member is not
	// an admin.
	AdminKept bool
	// Access is managed when AccessManaged: the membership's accessPolicy
	// ("" none) and access entries, with file policies as placeholders.
	AccessManaged bool
	AccessPolicy  string
	Access        []client.MembershipAccess
	Active        *bool // nil: not managed
	Where         Problem
}

// The keys of each part of the file.
var (
	rootKeys    = []string{"version", "project", "settings", "accessPolicies", "clients", "members", "bots"}
	projectKeys = []string{"name", "id"}
	// policyKeys are AccessPolicy's elements in Medplum 5.0.10's definitions.
	policyKeys = []string{"name", "resourceType", "resource", "compartment", "basedOn", "ipAccessRule",
		"text", "extension", "modifierExtension", "implicitRules", "language", "contained"}
	clientKeys = []string{"name", "description", "admin", "accessPolicy"}
	memberKeys = []string{"email", "externalId", "firstName", "lastName", "role", "admin", "accessPolicy", "access",
		"active", "scope", "patient", "mfaRequired", "sendEmail"}
	accessKeys = []string{"policy", "parameters"}
)

// policyPlaceholder is the reference that stands for the file's i-th policy
// until its server id is known. It is a valid FHIR reference, so the invite
// checks accept it; it never reaches the server.
func policyPlaceholder(i int) string { return fmt.Sprintf("%s%d", placeholderPrefix, i) }

const placeholderPrefix = "AccessPolicy/apply.file-policy."

// Load reads and checks an apply file (YAML or JSON). Every problem is
// reported, with its place, in one error (exit 2).
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, cmdutil.InputErrorf("%v", err)
	}
	return Parse(path, filepath.Dir(path), data)
}

// Parse checks the contents of an apply file: path names it in messages,
// dir is where a members CSV path is relative to.
func Parse(path, dir string, data []byte) (*Spec, error) {
	if strings.EqualFold(filepath.Ext(path), ".json") {
		if err := cmdutil.CheckJSON(data, path); err != nil {
			return nil, err
		}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if err.Error() == "EOF" {
			return nil, cmdutil.InputErrorf("%s is empty", path)
		}
		return nil, cmdutil.InputErrorf("%s is not valid YAML: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, cmdutil.InputErrorf("%s:%d: holds more than one YAML document", path, extra.Line)
	}
	d := &decoder{file: path}
	p := &parser{decoder: d, spec: &Spec{File: path}, dir: dir}
	if len(doc.Content) == 0 {
		return nil, cmdutil.InputErrorf("%s is empty", path)
	}
	p.root(node{n: deref(doc.Content[0])})
	if len(d.probs) > 0 {
		// In the order of the file: the apply file first, then a members CSV.
		sort.SliceStable(d.probs, func(i, j int) bool {
			a, b := d.probs[i], d.probs[j]
			if (a.File == path) != (b.File == path) {
				return a.File == path
			}
			return a.Line < b.Line
		})
		return nil, &InvalidError{File: path, Problems: d.probs}
	}
	return p.spec, nil
}

// InvalidError lists every problem of a file. Exit 2: nothing was sent.
type InvalidError struct {
	File     string
	Problems []Problem
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is not valid (%s); nothing was sent:", e.File, cmdutil.Count(len(e.Problems), "problem"))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// ExitCode implements cmdutil.ExitCoder.
func (e *InvalidError) ExitCode() int { return cmdutil.ExitUsage }

type parser struct {
	*decoder
	spec *Spec
	dir  string // relative CSV paths are relative to the apply file
	// policy names in file order, to resolve references
	policyRefs map[string]string
}

func (p *parser) root(at node) {
	if at.n != nil && at.n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(at.n.Content); i += 2 {
			if k := at.n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == IncompleteKey {
				p.errf(node{n: k, path: IncompleteKey}, "this file is an apply export that failed half-way: it misses part of "+
					"the project (apply --prune would remove it); run apply export again")
				return
			}
		}
	}
	top, ok := p.mapping(at, "the file", rootKeys...)
	if !ok {
		return
	}
	if v, ok := top["version"]; ok {
		if v.n.Kind != yaml.ScalarNode || v.n.Value != "1" {
			p.errf(v, "unsupported version %s (this medplum reads version 1)", strings.TrimPrefix(describe(v.n), "a number "))
		}
	}
	if pr, ok := top["project"]; ok {
		p.project(pr)
	} else {
		p.errf(node{n: at.n, path: "project"}, "is required: the project's name, which apply checks before it changes anything")
	}
	// Policies first: clients and members refer to them by name.
	p.policyRefs = map[string]string{}
	if v, ok := top["accessPolicies"]; ok {
		p.spec.ManagesPolicies = true
		p.policies(v)
	}
	if v, ok := top["settings"]; ok {
		p.spec.ManagesSettings = true
		p.settings(v)
	}
	if v, ok := top["clients"]; ok {
		p.spec.ManagesClients = true
		p.clients(v)
	}
	if v, ok := top["members"]; ok {
		p.spec.ManagesMembers = true
		p.members(v)
	}
	if v, ok := top["bots"]; ok {
		p.spec.ManagesBots = true
		p.bots(v)
	}
}

func (p *parser) project(at node) {
	m, ok := p.mapping(at, "project", projectKeys...)
	if !ok {
		return
	}
	if v, ok := m["name"]; ok {
		p.spec.ProjectName, _ = p.str(v, "the project name")
	} else {
		p.errf(at.child("name"), "is required")
	}
	if v, ok := m["id"]; ok {
		if id, ok := p.str(v, "the project id"); ok {
			if !membership.ValidID(id) {
				p.errf(v, "not a project id: %q", id)
			}
			p.spec.ProjectID = id
		}
	}
}

// settings: name -> value; the value's type picks value[x].
func (p *parser) settings(at node) {
	p.spec.Settings = []*SettingSpec{}
	if at.isNull() {
		return
	}
	ps, ok := p.pairs(at, "settings")
	if !ok {
		return
	}
	for _, kv := range ps {
		if strings.TrimSpace(kv.key) == "" {
			p.errf(kv.val, "a setting name is empty")
			continue
		}
		if kv.val.n.Kind != yaml.ScalarNode || kv.val.isNull() {
			p.errf(kv.val, "a setting is text, true/false or a number, not %s", describe(kv.val.n))
			continue
		}
		v, ok := p.scalar(kv.val)
		if !ok {
			continue
		}
		s := &SettingSpec{Name: kv.key, Value: v, Line: kv.line}
		switch x := v.(type) {
		case bool:
			s.Key = "valueBoolean"
		case json.Number:
			if kv.val.n.ShortTag() == "!!int" {
				s.Key = "valueInteger"
				if _, err := x.Int64(); err != nil {
					p.errf(kv.val, "the integer %s is out of range", x)
				}
			} else {
				s.Key = "valueDecimal"
			}
		default:
			s.Key = "valueString"
		}
		p.spec.Settings = append(p.spec.Settings, s)
	}
}

func (p *parser) policies(at node) {
	p.spec.Policies = []*PolicySpec{}
	if at.isNull() {
		return
	}
	list, ok := p.seq(at, "accessPolicies")
	if !ok {
		return
	}
	first := map[string]string{}
	for i, it := range list {
		m, ok := p.mapping(it, "an access policy", policyKeys...)
		if !ok {
			continue
		}
		nameNode, hasName := m["name"]
		if !hasName {
			p.errf(it.child("name"), "is required: policies are matched by name")
			continue
		}
		name, ok := p.str(nameNode, "the policy name")
		if !ok {
			continue
		}
		if prev, dup := first[name]; dup {
			p.errf(nameNode, "duplicate policy name %q (also %s)", name, prev)
			continue
		}
		first[name] = it.path
		if rt, ok := m["resourceType"]; ok && (rt.n.Kind != yaml.ScalarNode || rt.n.Value != "AccessPolicy") {
			p.errf(rt, "must be AccessPolicy (or left out)")
		}
		body := map[string]any{}
		for _, k := range sortedKeys(m) {
			if k == "name" || k == "resourceType" {
				continue
			}
			if v, ok := p.value(m[k]); ok {
				body[k] = v
			}
		}
		ref := policyPlaceholder(i)
		p.policyRefs[name] = ref
		p.spec.Policies = append(p.spec.Policies, &PolicySpec{Name: name, Body: body, Ref: ref, Line: it.n.Line})
	}
}

// policyRef resolves a policy named in the file, or an AccessPolicy/<id>.
// optionalPolicy reads the accessPolicy of a client or bot: a reference,
// or "" (no policy) for an empty value, null or "".
func (p *parser) optionalPolicy(v node) *string {
	none := ""
	if v.isNull() || (v.n.Kind == yaml.ScalarNode && v.n.ShortTag() == "!!str" && v.n.Value == "") {
		return &none
	}
	if ref, ok := p.policyRef(v); ok {
		return &ref
	}
	return &none
}

func (p *parser) policyRef(at node) (string, bool) {
	v, ok := p.str(at, "the access policy")
	if !ok {
		return "", false
	}
	if ref, ok := p.policyRefs[v]; ok {
		return ref, true
	}
	if strings.HasPrefix(v, "AccessPolicy/") {
		if ref, ok := membership.TypedRef(v, "AccessPolicy"); ok {
			return ref, true
		}
	}
	if p.spec.ManagesPolicies {
		p.errf(at, "no access policy named %q in accessPolicies (name one of the file's policies, or give AccessPolicy/<id>)", v)
	} else {
		p.errf(at, "no access policy named %q: the file has no accessPolicies (give AccessPolicy/<id> for a policy it does not manage)", v)
	}
	return "", false
}

func (p *parser) clients(at node) {
	p.spec.Clients = []*ClientSpec{}
	if at.isNull() {
		return
	}
	list, ok := p.seq(at, "clients")
	if !ok {
		return
	}
	first := map[string]string{}
	for _, it := range list {
		m, ok := p.mapping(it, "a client", clientKeys...)
		if !ok {
			continue
		}
		nameNode, hasName := m["name"]
		if !hasName {
			p.errf(it.child("name"), "is required: clients are matched by name")
			continue
		}
		name, ok := p.str(nameNode, "the client name")
		if !ok {
			continue
		}
		if prev, dup := first[name]; dup {
			p.errf(nameNode, "duplicate client name %q (also %s)", name, prev)
			continue
		}
		first[name] = it.path
		c := &ClientSpec{Name: name, Path: it.path, Line: it.n.Line}
		if v, ok := m["description"]; ok {
			if s, ok := p.str(v, "the description"); ok {
				c.Description = &s
			}
		}
		if v, ok := m["admin"]; ok {
			c.Admin, _ = p.boolean(v, "admin")
		}
		if v, ok := m["accessPolicy"]; ok {
			c.AccessPolicy = p.optionalPolicy(v)
		}
		p.spec.Clients = append(p.spec.Clients, c)
	}
}

// PolicyUse is a place where the file names an access policy by
// AccessPolicy/<id> rather than by the name of one of its accessPolicies.
type PolicyUse struct {
	Ref   string // AccessPolicy/<id>
	Place string // clients[0].accessPolicy, users.csv:3: accessPolicy
}

// isPlaceholder reports whether ref stands for a policy of the file.
func isPlaceholder(ref string) bool {
	return strings.HasPrefix(ref, placeholderPrefix)
}

// PolicyUses lists, in file order, where the file names a policy by id:
// the server must have each one, which only the server can say.
func (s *Spec) PolicyUses() []PolicyUse {
	var out []PolicyUse
	add := func(ref, place string) {
		if ref != "" && !isPlaceholder(ref) {
			out = append(out, PolicyUse{Ref: ref, Place: place})
		}
	}
	for _, c := range s.Clients {
		if c.AccessPolicy != nil {
			add(*c.AccessPolicy, c.Path+".accessPolicy")
		}
	}
	for _, b := range s.Bots {
		if b.AccessPolicy != nil {
			add(*b.AccessPolicy, b.Path+".accessPolicy")
		}
	}
	for _, m := range s.Members {
		field := func(f string) string {
			if m.Where.Path != "" {
				return m.Where.Path + "." + f
			}
			return fmt.Sprintf("%s:%d: accessPolicy", m.Where.File, m.Where.Line) // a CSV's one policy column
		}
		add(m.AccessPolicy, field("accessPolicy"))
		for i, a := range m.Access {
			if a.Policy != nil {
				add(a.Policy.Reference, field(fmt.Sprintf("access[%d].policy", i)))
			}
		}
	}
	return out
}
