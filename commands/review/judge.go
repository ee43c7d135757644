package review

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"github.com/medplumcli/medplum/client"
)

// Finding is one rule that one member (or the project) breaks.
type Finding struct {
	Rule     string      `json:"rule"`
	Severity Severity    `json:"severity"`
	Member   string      `json:"member,omitempty"` // membership id; "" for the project
	Name     string      `json:"name,omitempty"`
	Detail   string      `json:"detail"`
	Accepted *Acceptance `json:"accepted,omitempty"`
}

// Acceptance is the ignore entry that accepts a finding.
type Acceptance struct {
	Reason  string `json:"reason"`
	Expires string `json:"expires,omitempty"`
	Where   string `json:"where"` // file:line
}

// find reports a finding of rule about m (nil: the project), accepted when
// an ignore entry says so.
func (e *engine) find(rule string, m *Member, detail string) error {
	r, _ := ruleByID(rule)
	f := Finding{Rule: rule, Severity: r.Severity, Detail: detail}
	if m != nil {
		f.Member, f.Name = m.ID, m.Name
	}
	if ig := e.cfg.Ignores.match(rule, m, e.cfg.Now); ig != nil {
		f.Accepted = &Acceptance{Reason: ig.Reason, Expires: ig.ExpiresText(), Where: ig.Where}
	}
	return e.out.finding(f)
}

// judge applies the member rules to one member (r is its membership).
func (e *engine) judge(m *Member, r client.Resource) error {
	var fs []func() error
	check := func(rule string, c cell, broken func() (bool, string)) {
		if c.state == unknown {
			e.out.notChecked(rule, m, c.why)
			return
		}
		if bad, detail := broken(); bad {
			fs = append(fs, func() error { return e.find(rule, m, detail) })
		}
	}
	always := cell{state: known}
	noPolicy := len(m.Access) == 0

	gone, _ := m.userGone.val.(string)
	if m.Kind == "person" && m.Admin && m.Active && gone == "" {
		check(RuleAdminMFA, m.MFA, func() (bool, string) {
			on, _ := m.MFA.val.(bool)
			return !on, "project admin without MFA enrolled"
		})
	}
	if m.Kind == "person" {
		check(RuleMissingUser, m.userGone, func() (bool, string) { return gone != "", gone })
	}
	if m.Kind == "person" && gone == "" {
		check(RuleStaleInvite, m.InvitePending, func() (bool, string) {
			pending, _ := m.InvitePending.val.(bool)
			since, _ := m.InvitedAt.val.(time.Time)
			if !pending || e.cfg.Now.Sub(since) <= e.cfg.StaleInvite {
				return false, ""
			}
			// 5.0.10 shows no password set another way (captures 149,
			// 232c): say so, and when the User changed after the invite.
			if !m.userChanged.IsZero() {
				return true, "invited " + ago(e.cfg.Now, since) + ", link never used; the account changed after it (at " +
					m.userChanged.UTC().Format(time.RFC3339) + "), as a password set by an admin makes it"
			}
			return true, "invited " + ago(e.cfg.Now, since) + ", link never used (Medplum does not show a password set another way)"
		})
	}
	check(RuleInactiveAdmin, always, func() (bool, string) {
		return m.Admin && !m.Active, "deactivated, still an admin"
	})
	if m.Kind == "client" && m.Active {
		check(RuleClientAdmin, always, func() (bool, string) {
			return m.Admin, "client application with admin rights"
		})
		check(RuleClientNoPolicy, always, func() (bool, string) {
			return !m.Admin && noPolicy, "client application without an access policy: it can read and write everything"
		})
	}
	if m.Kind == "client" {
		// The age to the second, not in whole days: --secret-max-age 1h
		// flags a secret set 5 hours ago.
		check(RuleClientSecretAge, m.SecretSetAt, func() (bool, string) {
			set, ok := m.SecretSetAt.val.(time.Time)
			if !ok || e.cfg.Now.Sub(set) <= e.cfg.SecretMaxAge {
				return false, ""
			}
			return true, "secret set " + ago(e.cfg.Now, set)
		})
	}
	if m.Kind != "client" && m.Active && !m.Admin && e.usesPolicies() {
		check(RuleMemberNoPolicy, always, func() (bool, string) {
			return noPolicy, fmt.Sprintf("no access policy, in a project with %s", e.policyCount())
		})
	}
	check(RuleMissingPolicy, always, func() (bool, string) {
		var bad []string
		for _, a := range m.Access {
			if a.Missing != "" {
				bad = append(bad, a.Policy+" ("+a.Missing+")")
			}
		}
		return len(bad) > 0, "access policy " + strings.Join(bad, ", ")
	})
	check(RuleMissingProfile, always, func() (bool, string) {
		if ok, why := e.profileExists(m); !ok {
			return true, why
		}
		return false, ""
	})
	check(RuleDuplicatePerson, always, func() (bool, string) { return e.duplicate(m) })

	for _, f := range fs {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

func (e *engine) policyCount() string {
	if e.project.Policies == 0 {
		return "a default patient access policy"
	}
	if e.project.Policies == 1 {
		return "1 access policy"
	}
	return fmt.Sprintf("%d access policies", e.project.Policies)
}

func days(d time.Duration) int { return int(d.Hours() / 24) }

// ago is when t was and how long before now: the day and whole days for a
// day or more, the instant and hours and minutes under a day.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	if d >= 24*time.Hour {
		return fmt.Sprintf("%s (%s ago)", t.UTC().Format("2006-01-02"), plural(days(d), "day"))
	}
	since := "less than a minute"
	if d >= time.Minute {
		since = strings.TrimSuffix(d.Truncate(time.Minute).String(), "0s")
	}
	return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), since)
}

// profileExists reports whether the member's profile is one of the
// project's resources, and if not, what is missing.
func (e *engine) profileExists(m *Member) (bool, string) {
	t, id, ok := client.SplitReference(m.Profile)
	switch {
	case !ok:
		return false, "the membership names no profile"
	case t == "ClientApplication":
		if e.clients[id] == nil {
			return false, m.Profile + " is not one of the project's client applications"
		}
	case t == "Bot":
		if _, found := e.bots[id]; !found {
			return false, m.Profile + " is not one of the project's bots"
		}
	default:
		if !e.profiles[m.Profile] {
			return false, m.Profile + " not found in the project"
		}
	}
	return true, ""
}

// duplicate reports whether a person was seen before in another
// membership: the same User, or the same e-mail. Only 16-byte hashes of
// the keys are kept.
func (e *engine) duplicate(m *Member) (bool, string) {
	if m.Kind != "person" {
		return false, ""
	}
	keys := []string{"user:" + m.User}
	if email, ok := m.Email.val.(string); ok && email != "" {
		keys = append(keys, "email:"+strings.ToLower(email))
	}
	var first *dupFirst
	for _, k := range keys {
		h := sha256.Sum256([]byte(k))
		var key [16]byte
		copy(key[:], h[:16])
		if f, seen := e.dups[key]; seen && f.id != m.ID {
			if first == nil {
				ff := f
				first = &ff
			}
			continue
		}
		e.dups[key] = dupFirst{id: m.ID, name: m.Name}
	}
	if first == nil {
		return false, ""
	}
	return true, fmt.Sprintf("the same person as member %s (%s)", first.name, first.id)
}
