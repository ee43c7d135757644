package review

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/membership"
)

// IgnoreHelp describes the ignore file for --help.
const IgnoreHelp = `An ignore file (--ignore FILE) lists accepted risks, in YAML (or JSON):

  - rule: client-admin              # a rule id (medplum help review-rules)
    member: CI deploy client         # as <member> names one: membership id, e-mail,
                                     # name, Practitioner/<id>, User/<id>, ...; "*" for
                                     # every member; left out for a project rule
    reason: provisions members from CI; secret rotated monthly (J. Doe, 2026-12-01)
    expires: 2027-06-30              # optional: the finding counts again after that day

An entry's member must name exactly one member: one that several match
(a name two people share) is an error (exit 2) listing them; name it by
membership id or e-mail. A finding an entry matches is reported as accepted, with the reason, and
does not count for --fail-on; an expired entry is reported and no longer
applies; an entry that matches no finding is reported, so that the file
does not keep stale acceptances.`

// IgnoreEntry is one accepted risk of an ignore file.
type IgnoreEntry struct {
	Rule    string
	Member  string // as written; "" for a project rule, "*" for all
	Reason  string
	Expires time.Time // zero: never; else the first instant it no longer applies
	Where   string    // file:line
	sel     membership.Selector
	selAt   string // file:line of member
	id      string // the membership sel names, once resolved
	matched int
}

// Expired reports whether the entry no longer applies at now.
func (e *IgnoreEntry) Expired(now time.Time) bool {
	return !e.Expires.IsZero() && !now.Before(e.Expires)
}

// ExpiresText is the expiry as written back (a date, or the instant).
func (e *IgnoreEntry) ExpiresText() string {
	if e.Expires.IsZero() {
		return ""
	}
	if d := e.Expires.Add(-24 * time.Hour); d.Hour() == 0 && d.Minute() == 0 && d.Second() == 0 && d.Nanosecond() == 0 {
		return d.Format("2006-01-02")
	}
	return e.Expires.Format(time.RFC3339)
}

// Ignores are the entries of an ignore file.
type Ignores struct {
	File    string
	Entries []*IgnoreEntry
}

// LoadIgnores reads and checks an ignore file. Every problem is reported
// at once, each with its line (exit 2).
func LoadIgnores(path string) (*Ignores, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, cmdutil.InputErrorf("--ignore: %v", err)
	}
	return ParseIgnores(path, data)
}

// ParseIgnores checks an ignore file's content; path names it in messages.
func ParseIgnores(path string, data []byte) (*Ignores, error) {
	ig := &Ignores{File: path}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, cmdutil.InputErrorf("--ignore %s: not YAML: %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return ig, nil // an empty file accepts nothing
	}
	root := doc.Content[0]
	if root.Kind != yaml.SequenceNode {
		return nil, cmdutil.InputErrorf("%s:%d: want a list of entries (- rule: ..., member: ..., reason: ...)", path, root.Line)
	}
	var problems []string
	bad := func(n *yaml.Node, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d: %s", path, n.Line, fmt.Sprintf(format, args...)))
	}
	for i, item := range root.Content {
		if item.Kind != yaml.MappingNode {
			bad(item, "entry %d: want rule, member, reason and expires", i+1)
			continue
		}
		e := &IgnoreEntry{Where: fmt.Sprintf("%s:%d", path, item.Line)}
		seen := map[string]*yaml.Node{}
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, v := item.Content[j], item.Content[j+1]
			switch k.Value {
			case "rule", "member", "reason", "expires":
				if v.Kind != yaml.ScalarNode {
					bad(v, "%s: want a single value", k.Value)
					continue
				}
				seen[k.Value] = v
			default:
				bad(k, "unknown key %q (want rule, member, reason, expires)", k.Value)
			}
		}
		rule, hasRule := seen["rule"]
		var r Rule
		switch {
		case !hasRule:
			bad(item, "rule: missing (one of %s)", RuleIDs())
		default:
			var ok bool
			if r, ok = ruleByID(strings.TrimSpace(rule.Value)); !ok {
				bad(rule, "rule: unknown rule %q (one of %s)", rule.Value, RuleIDs())
			}
			e.Rule = r.ID
		}
		if m, ok := seen["member"]; ok {
			e.Member = strings.TrimSpace(m.Value)
			switch {
			case r.ID != "" && r.Project:
				bad(m, "member: %s is a rule of the project, not of a member: leave member out", r.ID)
			case e.Member == "*":
			default:
				sel, err := membership.ParseSelector(e.Member)
				if err != nil {
					bad(m, "member: %v", err)
				}
				e.sel, e.selAt = sel, fmt.Sprintf("%s:%d", path, m.Line)
			}
		} else if r.ID != "" && !r.Project {
			bad(item, "member: missing (the member %s is accepted for: a membership id, e-mail, name or reference; \"*\" for all)", r.ID)
		}
		if reason, ok := seen["reason"]; !ok || strings.TrimSpace(reason.Value) == "" {
			n := item
			if ok {
				n = reason
			}
			bad(n, "reason: missing (say why the risk is accepted, and who accepted it)")
		} else {
			e.Reason = strings.TrimSpace(reason.Value)
		}
		if x, ok := seen["expires"]; ok {
			t, err := parseExpiry(x.Value)
			if err != nil {
				bad(x, "expires: %v", err)
			}
			e.Expires = t
		}
		ig.Entries = append(ig.Entries, e)
	}
	if len(problems) > 0 {
		return nil, cmdutil.InputErrorf("--ignore: %s", strings.Join(problems, "\n  "))
	}
	return ig, nil
}

// parseExpiry reads a date (the entry applies through that day, UTC) or an
// RFC 3339 instant.
func parseExpiry(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, err := time.Parse("2006-01-02", s); err == nil {
		return d.Add(24 * time.Hour), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("want a date (2027-06-30) or an instant (2027-06-30T12:00:00Z), got " + fmt.Sprintf("%q", s))
}

// match returns the entry that accepts a finding about m (nil for a project
// finding), or nil. An expired entry never matches.
func (ig *Ignores) match(rule string, m *Member, now time.Time) *IgnoreEntry {
	if ig == nil {
		return nil
	}
	for _, e := range ig.Entries {
		if e.Rule != rule || e.Expired(now) {
			continue
		}
		if m == nil || e.Member == "*" || e.names(m) {
			e.matched++
			return e
		}
	}
	return nil
}

// resolve finds the one membership each entry's member names, as a
// <member> argument is resolved: a selector several members match (a
// name two people share, a user with two memberships) is exit 2 naming
// the line and the candidates, so that an entry never accepts a risk for
// someone it was not written for. One that names nobody stays unresolved
// and is reported as matching no finding.
func (ig *Ignores) resolve(ctx context.Context, c *client.Client, project string) error {
	if ig == nil {
		return nil
	}
	for _, e := range ig.Entries {
		if e.Member == "" || e.Member == "*" {
			continue
		}
		d, err := membership.ResolveWith(ctx, c, project, e.sel, membership.ReadFHIR)
		var none *membership.NoMemberError
		switch {
		case err == nil:
			e.id = d.Resource.ID()
		case errors.As(err, &none), membership.IsNotFound(err):
		default:
			var amb *membership.AmbiguousError
			if errors.As(err, &amb) {
				return cmdutil.InputErrorf("--ignore %s: member: %v", e.selAt, err)
			}
			return fmt.Errorf("--ignore %s: member %s: %w", e.selAt, e.Member, err)
		}
	}
	return nil
}

// names reports whether the entry's member selector names m.
func (e *IgnoreEntry) names(m *Member) bool {
	if e.id != "" {
		return e.id == m.ID
	}
	switch e.sel.Kind {
	case membership.ByMembership:
		return e.sel.Value == m.ID || sameName(e.sel.Value, m.Name)
	case membership.ByEmail:
		email, _ := m.Email.val.(string)
		return strings.EqualFold(e.sel.Value, email)
	case membership.ByProfile:
		return e.sel.Value == m.Profile
	case membership.ByUser:
		return e.sel.Value == m.User
	case membership.ByName:
		return sameName(e.sel.Value, m.Name)
	}
	return false
}

// sameName compares names as <member> does: any case, spaces collapsed.
func sameName(a, b string) bool {
	return strings.EqualFold(strings.Join(strings.Fields(a), " "), strings.Join(strings.Fields(b), " "))
}
