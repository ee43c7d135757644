package apply

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/invite/bulk"
	"github.com/medplumcli/medplum/commands/membership"
)

// members is an inline list of people, or the path of a CSV in the format of
// `medplum invite --csv` (relative to the apply file).
func (p *parser) members(at node) {
	p.spec.Members = []*MemberSpec{}
	switch {
	case at.isNull():
	case at.n.Kind == yaml.ScalarNode:
		if path, ok := p.str(at, "members"); ok {
			p.membersCSV(at, path, nil)
		}
	case at.n.Kind == yaml.MappingNode:
		// csv: the file, map: what its other columns are (as invite
		// --csv --map 'Job Title=ignore'), so an HR export goes in as it is.
		m, ok := p.mapping(at, "members (a list, the path of a CSV file, or csv: and map:)", "csv", "map")
		if !ok {
			return
		}
		f, hasCSV := m["csv"]
		if !hasCSV {
			p.errf(at.child("csv"), "is required: the path of the members CSV")
			return
		}
		path, ok := p.str(f, "members.csv")
		colMap := map[string]string{}
		if v, has := m["map"]; has && !v.isNull() {
			ps, _ := p.pairs(v, "members.map (a column name: what it is, or ignore)")
			for _, kv := range ps {
				if to, ok := p.str(kv.val, "what the column is"); ok {
					colMap[kv.key] = to
				}
			}
		}
		if ok {
			p.membersCSV(f, path, colMap)
		}
	default:
		list, ok := p.seq(at, "members (a list, or the path of a CSV file)")
		if !ok {
			return
		}
		for _, it := range list {
			if m := p.member(it); m != nil {
				p.addMember(m)
			}
		}
	}
}

// addMember records a member, refusing a second one with the same e-mail
// or external id.
func (p *parser) addMember(m *MemberSpec) {
	for _, o := range p.spec.Members {
		if o.Key == m.Key {
			p.probs = append(p.probs, Problem{File: m.Where.File, Line: m.Where.Line, Path: m.Where.Path,
				Msg: fmt.Sprintf("duplicate member %s (also %s)", m.Label, o.Where.place())})
			return
		}
	}
	p.spec.Members = append(p.spec.Members, m)
}

// place names where a member is written: "members[3]" or "users.csv:12".
func (w Problem) place() string {
	if w.Path != "" {
		return w.Path
	}
	return fmt.Sprintf("%s:%d", w.File, w.Line)
}

func (p *parser) member(at node) *MemberSpec {
	m, ok := p.mapping(at, "a member", memberKeys...)
	if !ok {
		return nil
	}
	before := len(p.probs)
	text := func(key string) string {
		if v, ok := m[key]; ok {
			s, _ := p.str(v, key)
			return s
		}
		return ""
	}
	flag := func(key string) *bool {
		if v, ok := m[key]; ok {
			if b, ok := p.boolean(v, key); ok {
				return &b
			}
		}
		return nil
	}
	req := client.InviteRequest{ResourceType: "Practitioner", FirstName: text("firstName"), LastName: text("lastName"),
		ExternalID: text("externalId"), Scope: text("scope")}
	if r := text("role"); r != "" {
		if canon, ok := membership.CanonicalRole(r); ok {
			req.ResourceType = canon
		} else {
			p.errf(m["role"], "unknown role %q (want Patient, Practitioner or RelatedPerson)", r)
		}
	}
	if e := text("email"); e != "" {
		req.Email = strings.ToLower(e)
	}
	if pt := text("patient"); pt != "" {
		if ref, ok := membership.TypedRef(pt, "Patient"); ok {
			req.Patient = client.Ref(ref)
		} else {
			p.errf(m["patient"], "not a Patient reference: %q (want Patient/<id>)", pt)
		}
	}
	send := false
	if b := flag("sendEmail"); b != nil {
		send = *b
	}
	req.SendEmail = &send
	if b := flag("mfaRequired"); b != nil {
		req.MfaRequired = *b
	}
	spec := &MemberSpec{Where: Problem{File: p.file, Line: at.n.Line, Path: at.path}}
	if b := flag("admin"); b != nil {
		spec.Admin = *b
	}
	spec.Active = flag("active")
	tmpl := &client.InviteMembership{Admin: &spec.Admin, Active: spec.Active}
	req.Membership = tmpl

	if v, ok := m["accessPolicy"]; ok {
		spec.AccessManaged = true
		if !v.isNull() {
			if ref, ok := p.policyRef(v); ok {
				spec.AccessPolicy = ref
				tmpl.AccessPolicy = client.Ref(ref)
			}
		}
	}
	if v, ok := m["access"]; ok {
		spec.AccessManaged = true
		spec.Access = p.access(v)
		tmpl.Access = spec.Access
	}
	for _, pr := range membership.CheckInvite(&req) {
		key, _, _ := strings.Cut(fileField(pr.Field), "[")
		key, _, _ = strings.Cut(key, ".")
		where, ok := m[key]
		if !ok {
			where = at.child(key)
		}
		where.path = at.child(fileField(pr.Field)).path
		p.errf(where, "%s", pr.Reason)
	}
	if len(p.probs) > before {
		return nil
	}
	spec.Invite = req
	spec.Key, spec.Label = memberKey(req)
	return spec
}

// access reads a member's access entries: a policy and its parameters.
func (p *parser) access(at node) []client.MembershipAccess {
	out := []client.MembershipAccess{}
	if at.isNull() {
		return out
	}
	list, ok := p.seq(at, "access")
	if !ok {
		return out
	}
	for _, it := range list {
		m, ok := p.mapping(it, "an access entry", accessKeys...)
		if !ok {
			continue
		}
		pn, ok := m["policy"]
		if !ok {
			p.errf(it.child("policy"), "is required")
			continue
		}
		ref, ok := p.policyRef(pn)
		if !ok {
			continue
		}
		a := client.MembershipAccess{Policy: client.Ref(ref)}
		if pv, ok := m["parameters"]; ok && !pv.isNull() {
			ps, _ := p.pairs(pv, "parameters")
			for _, kv := range ps {
				v, ok := p.str(kv.val, "a parameter value")
				if !ok {
					continue
				}
				ap := client.AccessParameter{Name: kv.key}
				if membership.LooksLikeReference(v) {
					ap.ValueReference = client.Ref(v)
				} else {
					ap.ValueString = v
				}
				for _, why := range membership.CheckParameter(ap) {
					p.errf(kv.val, "%s", why)
				}
				a.Parameter = append(a.Parameter, ap)
			}
		}
		out = append(out, a)
	}
	return out
}

// fileField maps an invite field (as CheckInvite names it) to the key of
// the apply file.
func fileField(f string) string {
	switch {
	case f == "resourceType":
		return "role"
	case strings.HasPrefix(f, "membership."):
		return strings.TrimPrefix(f, "membership.")
	}
	return f
}

// memberKey is what matches a member with the server: the e-mail, else the
// external id.
func memberKey(req client.InviteRequest) (key, label string) {
	if req.Email != "" {
		return "email:" + req.Email, req.Email
	}
	return "externalId:" + req.ExternalID, req.ExternalID
}

// membersCSV reads members from a CSV, with the reader of invite --csv;
// colMap is its --map.
func (p *parser) membersCSV(at node, rel string, colMap map[string]string) {
	path := rel
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.dir, rel)
	}
	f, err := os.Open(path)
	if err != nil {
		p.errf(at, "cannot read the members CSV: %v", err)
		return
	}
	defer f.Close()
	// A policy is one of the file's, by name, or AccessPolicy/<id> (or a
	// bare id), which readState looks up.
	opts := bulk.Options{DefaultRole: "Practitioner", Map: colMap, Policy: func(v string) (string, string, error) {
		if ref, ok := p.policyRefs[v]; ok {
			return ref, "", nil
		}
		if ref, ok := membership.TypedRef(v, "AccessPolicy"); ok {
			return ref, "", nil
		}
		if p.spec.ManagesPolicies {
			return "", fmt.Sprintf("no access policy named %q in accessPolicies (name one of the file's policies, or give AccessPolicy/<id>)", v), nil
		}
		return "", fmt.Sprintf("no access policy named %q: the file has no accessPolicies (give AccessPolicy/<id> for a policy it does not manage)", v), nil
	}}
	rd, err := bulk.NewReader(f, opts)
	var he *bulk.HeaderError
	if errors.As(err, &he) {
		for _, pr := range he.Problems {
			p.probs = append(p.probs, csvProblem(path, pr))
		}
		if advice := csvHeaderAdvice(he); advice != "" {
			p.probs = append(p.probs, Problem{File: path, Line: he.Problems[0].Line, Msg: advice})
		}
		return
	}
	if err != nil {
		p.errf(at, "cannot read the members CSV %s: %v", path, err)
		return
	}
	for {
		row, probs, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			p.errf(at, "reading the members CSV %s: %v", path, err)
			return
		}
		for _, pr := range probs {
			p.probs = append(p.probs, csvProblem(path, pr))
		}
		if len(probs) > 0 {
			continue
		}
		p.addMember(csvMember(path, row))
	}
}

// csvHeaderAdvice says once what a members CSV's columns may be, and how
// to say what the others are: a map in the apply file (apply has no flag
// for it: the file says it, so that every run reads the CSV alike).
func csvHeaderAdvice(he *bulk.HeaderError) string {
	if len(he.Unknown) == 0 && len(he.Missing) == 0 {
		return ""
	}
	example := "Job Title"
	if len(he.Unknown) > 0 {
		example = he.Unknown[0]
	}
	return "the columns of a members CSV are " + bulk.KnownColumns + " (names are matched without regard to case, " +
		"spaces, hyphens and underscores); say what the others are in the apply file, e.g. members: {csv: FILE, map: {" +
		strconv.Quote(example) + ": ignore}}, with a column name or ignore"
}

func csvProblem(file string, pr bulk.Problem) Problem {
	return Problem{File: file, Line: pr.Line, Path: pr.Column, Msg: pr.Reason}
}

// csvMember turns a valid CSV row into a member. As with invite --csv, a
// blank cell changes nothing: a blank admin or active cell leaves the
// member's as the server has it (a new member is then not an admin, and
// active), a blank accessPolicy cell the member's policies.
func csvMember(file string, row bulk.Row) *MemberSpec {
	req := row.Request
	m := &MemberSpec{Where: Problem{File: file, Line: row.Line}}
	if req.Membership == nil {
		req.Membership = &client.InviteMembership{}
	}
	if req.Membership.Admin != nil {
		m.Admin = *req.Membership.Admin
	} else {
		m.AdminKept = true
	}
	m.Active = req.Membership.Active
	if req.Membership.AccessPolicy != nil || len(req.Membership.Access) > 0 {
		m.AccessManaged = true
		if req.Membership.AccessPolicy != nil {
			m.AccessPolicy = req.Membership.AccessPolicy.Reference
		}
		m.Access = req.Membership.Access
	}
	m.Invite = req
	m.Key, m.Label = memberKey(req)
	return m
}
