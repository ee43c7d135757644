package review

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/medplumcli/medplum/commands/cmdutil"
)

// A baseline is an earlier review's -o json, which --baseline compares
// with: who was added or removed, who became (or stopped being) an admin,
// who was deactivated or reactivated, whose access changed. It is read as
// a stream, keeping a few strings per member.
type Baseline struct {
	File       string
	ReviewedAt string
	Project    string
	members    map[string]*baseMember
	// findings are the earlier review's findings by rule and member
	// ("rule member"), accepted ones included; those seen again are
	// deleted, the ones left were resolved.
	findings map[string]baseFinding
	// Who took it, and what it could not read: findings are compared only
	// where both reviews could check them.
	Reviewer     Reviewer
	sawReviewer  bool
	withUnknowns int
	// unknown are the members' columns the baseline could not read, by
	// member id (only members with some), with the reason.
	unknown map[string]map[string]string
	// projectUnknown: the baseline could not read the Project's settings.
	projectUnknown bool
}

// ruleColumn is the column a member rule needs: when it is unknown the
// rule could not be checked for that member.
var ruleColumn = map[string]string{
	RuleAdminMFA:        "mfaEnrolled",
	RuleStaleInvite:     "invitePending",
	RuleClientSecretAge: "secretSetAt",
}

// notComparable is the change for a finding one of the two reviews could
// not check.
const notComparable = "finding-not-comparable"

type baseFinding struct {
	Rule, Member, Name string
	Severity           Severity
}

func findingKey(rule, member string) string { return rule + " " + member }

type baseMember struct {
	Name   string
	Kind   string
	Admin  bool
	Active bool
	Access string // the policies as the table shows them
}

// Change is one difference from the baseline.
type Change struct {
	Change string `json:"change"` // added, removed, admin-granted, admin-revoked, deactivated, reactivated, access-changed, finding-new, finding-resolved, finding-not-comparable
	Member string `json:"member"`
	Name   string `json:"name"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
}

// LoadBaseline reads a review's -o json.
func LoadBaseline(path string) (*Baseline, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, cmdutil.InputErrorf("--baseline: %v", err)
	}
	defer f.Close()
	b, err := readBaseline(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return nil, cmdutil.InputErrorf("--baseline %s: %v (want the -o json of an earlier medplum members review)", path, err)
	}
	b.File = path
	return b, nil
}

func readBaseline(r io.Reader) (*Baseline, error) {
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	b := &Baseline{members: map[string]*baseMember{}, findings: map[string]baseFinding{}, unknown: map[string]map[string]string{}}
	sawMembers := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch t {
		case "project":
			var p struct {
				ID          string `json:"id"`
				MFARequired any    `json:"mfaRequired"`
			}
			if err := dec.Decode(&p); err != nil {
				return nil, fmt.Errorf("project: %v", err)
			}
			b.Project, b.projectUnknown = p.ID, p.MFARequired == nil
		case "reviewer":
			if err := dec.Decode(&b.Reviewer); err != nil {
				return nil, fmt.Errorf("reviewer: %v", err)
			}
			b.sawReviewer = true
		case "counts":
			var c struct {
				WithUnknowns int `json:"membersWithUnknowns"`
			}
			if err := dec.Decode(&c); err != nil {
				return nil, fmt.Errorf("counts: %v", err)
			}
			b.withUnknowns = c.WithUnknowns
		case "reviewedAt":
			if err := dec.Decode(&b.ReviewedAt); err != nil {
				return nil, fmt.Errorf("reviewedAt: %v", err)
			}
		case "members":
			sawMembers = true
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				return nil, fmt.Errorf("members: not a list")
			}
			for dec.More() {
				var m struct {
					ID      string            `json:"id"`
					Name    string            `json:"name"`
					Kind    string            `json:"kind"`
					Admin   bool              `json:"admin"`
					Active  bool              `json:"active"`
					Access  []Access          `json:"access"`
					Unknown map[string]string `json:"unknown"`
				}
				if err := dec.Decode(&m); err != nil {
					return nil, fmt.Errorf("members: %v", err)
				}
				if m.ID == "" {
					return nil, fmt.Errorf("members: a member without an id")
				}
				b.members[m.ID] = &baseMember{Name: m.Name, Kind: m.Kind, Admin: m.Admin, Active: m.Active, Access: accessText(m.Access)}
				if len(m.Unknown) > 0 {
					b.unknown[m.ID] = m.Unknown
				}
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
		case "findings":
			var fs []struct {
				Rule     string   `json:"rule"`
				Severity Severity `json:"severity"`
				Member   string   `json:"member"`
				Name     string   `json:"name"`
			}
			if err := dec.Decode(&fs); err != nil {
				return nil, fmt.Errorf("findings: %v", err)
			}
			for _, f := range fs {
				b.findings[findingKey(f.Rule, f.Member)] = baseFinding{Rule: f.Rule, Member: f.Member, Name: f.Name, Severity: f.Severity}
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
		}
	}
	if !sawMembers || b.Project == "" {
		return nil, fmt.Errorf("no project and members")
	}
	return b, nil
}

func accessText(as []Access) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.String()
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// compare lists what changed for one current member, and forgets it (the
// members left at the end were removed).
func (b *Baseline) compare(m *Member) []Change {
	prev, ok := b.members[m.ID]
	if !ok {
		what := m.Kind
		if m.Admin {
			what += ", admin"
		}
		if !m.Active {
			what += ", deactivated"
		}
		return []Change{{Change: "added", Member: m.ID, Name: m.Name, To: what}}
	}
	delete(b.members, m.ID)
	var out []Change
	add := func(change, from, to string) {
		out = append(out, Change{Change: change, Member: m.ID, Name: m.Name, From: from, To: to})
	}
	switch {
	case m.Admin && !prev.Admin:
		add("admin-granted", "", "")
	case !m.Admin && prev.Admin:
		add("admin-revoked", "", "")
	}
	switch {
	case !m.Active && prev.Active:
		add("deactivated", "", "")
	case m.Active && !prev.Active:
		add("reactivated", "", "")
	}
	if now := accessText(m.Access); now != prev.Access {
		add("access-changed", prev.Access, now)
	}
	return out
}

// finding compares one finding of the review with the baseline's: a new
// one is a change, one seen before is forgotten (those left at the end
// were resolved).
func (b *Baseline) finding(f Finding) (Change, bool) {
	k := findingKey(f.Rule, f.Member)
	if _, seen := b.findings[k]; seen {
		delete(b.findings, k)
		return Change{}, false
	}
	if why, ok := b.uncheckedThen(f.Rule, f.Member); ok {
		return Change{Change: notComparable, Member: f.Member, Name: nameOr(f.Name, f.Member), From: f.Rule + " (" + f.Severity.String() + ")",
			To: "not comparable: not checked in the baseline (" + why + ")"}, true
	}
	return Change{Change: "finding-new", Member: f.Member, Name: nameOr(f.Name, f.Member), To: f.Rule + " (" + f.Severity.String() + "): " + f.Detail}, true
}

// uncheckedThen reports whether the baseline could not check rule for
// member ("": the project), and why.
func (b *Baseline) uncheckedThen(rule, member string) (string, bool) {
	if member == "" {
		return "the Project's settings were not readable", rule == RuleProjectMFA && b.projectUnknown
	}
	col, ok := ruleColumn[rule]
	if !ok {
		return "", false
	}
	why, ok := b.unknown[member][col]
	return why, ok
}

// otherVisibility says how the baseline's reviewer saw less or more than
// this review's (who and how), or "" when they saw alike.
func (b *Baseline) otherVisibility(now Reviewer, withUnknowns int) string {
	who := func(r Reviewer) string {
		if r.SuperAdmin {
			return "a super admin's"
		}
		return "a project admin's"
	}
	switch {
	case !b.sawReviewer:
		return ""
	case b.Reviewer.SuperAdmin != now.SuperAdmin:
		return who(b.Reviewer) + "; this review: " + who(now)
	case b.Reviewer.Profile != now.Profile && (b.withUnknowns == 0) != (withUnknowns == 0):
		return fmt.Sprintf("%s's, %s with unknown values; this review: %s's, %d", b.Reviewer.Profile, plural(b.withUnknowns, "member"), now.Profile, withUnknowns)
	}
	return ""
}

// resolved lists the baseline's findings that the review did not find,
// by rule, then name; a finding the review could not check (uncheckedNow
// says why) is not comparable rather than resolved.
func (b *Baseline) resolved(uncheckedNow func(rule, member string) (string, bool)) []Change {
	fs := make([]baseFinding, 0, len(b.findings))
	for _, f := range b.findings {
		fs = append(fs, f)
	}
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].Severity != fs[j].Severity {
			return fs[i].Severity > fs[j].Severity
		}
		if fs[i].Rule != fs[j].Rule {
			return fs[i].Rule < fs[j].Rule
		}
		return fs[i].Name+fs[i].Member < fs[j].Name+fs[j].Member
	})
	out := make([]Change, len(fs))
	for i, f := range fs {
		out[i] = Change{Change: "finding-resolved", Member: f.Member, Name: nameOr(f.Name, f.Member), From: f.Rule + " (" + f.Severity.String() + ")"}
		if why, ok := uncheckedNow(f.Rule, f.Member); ok {
			out[i].Change, out[i].To = notComparable, "not comparable: not checked now ("+why+")"
		}
	}
	return out
}

// nameOr is a finding's name for a change: "(project)" for the project's.
func nameOr(name, member string) string {
	if member == "" {
		return "(project)"
	}
	return name
}

// removed lists the baseline's members that the review did not see, by
// name.
func (b *Baseline) removed() []Change {
	out := make([]Change, 0, len(b.members))
	for id, m := range b.members {
		what := m.Kind
		if m.Admin {
			what += ", admin"
		}
		out = append(out, Change{Change: "removed", Member: id, Name: m.Name, From: what})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Member < out[j].Member
	})
	return out
}
