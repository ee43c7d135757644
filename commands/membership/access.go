package membership

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/medplumcli/medplum/client"
)

// AccessSyntax describes an --access entry for help texts.
const AccessSyntax = `POLICY[?NAME=VALUE[&NAME=VALUE...]]: POLICY is an access policy of the
project (its name, its id, or AccessPolicy/<id>); each NAME=VALUE is a
policy parameter. A VALUE shaped like Type/<id> (Organization/abc) is sent
as a valueReference, anything else as a valueString; %-escape "&", "=",
"%" and "#" inside a VALUE (%26 %3D %25 %23). Repeat --access for several
entries, e.g. the same policy twice with different parameters.`

// SplitAccess parses one --access entry (see AccessSyntax): the policy as
// written (a name, an id or AccessPolicy/<id>, for Policies to look up),
// and the parameters.
func SplitAccess(spec string) (policy string, params []client.AccessParameter, err error) {
	policy, query, hasQuery := strings.Cut(strings.TrimSpace(spec), "?")
	policy = strings.TrimSpace(policy)
	isRef := strings.HasPrefix(policy, "AccessPolicy/")
	if policy == "" || (isRef && !ValidID(strings.TrimPrefix(policy, "AccessPolicy/"))) || (!isRef && LooksLikeReference(policy)) {
		return "", nil, fmt.Errorf("not an access policy: %q (want a name, an id or AccessPolicy/<id>)", policy)
	}
	if !hasQuery {
		return policy, nil, nil
	}
	ref := policy
	if r, ok := TypedRef(policy, "AccessPolicy"); ok {
		ref = r
	}
	if query == "" {
		return "", nil, fmt.Errorf("no parameters after %q (want %s?NAME=VALUE)", "?", ref)
	}
	for pair := range strings.SplitSeq(query, "&") {
		rawName, rawValue, ok := strings.Cut(pair, "=")
		if !ok {
			return "", nil, fmt.Errorf("parameter %q has no value (want NAME=VALUE)", pair)
		}
		name, err1 := url.PathUnescape(rawName)
		value, err2 := url.PathUnescape(rawValue)
		if err1 != nil || err2 != nil {
			return "", nil, fmt.Errorf("parameter %q: bad %%-escape", pair)
		}
		p := client.AccessParameter{Name: name}
		if LooksLikeReference(value) {
			p.ValueReference = client.Ref(value)
		} else {
			p.ValueString = value
		}
		if probs := CheckParameter(p); len(probs) > 0 {
			return "", nil, fmt.Errorf("%s", probs[0])
		}
		params = append(params, p)
	}
	return policy, params, nil
}

// FormatAccess writes an access entry in the --access syntax, so that what
// a table shows can be pasted back into --access.
func FormatAccess(a client.MembershipAccess) string {
	var b strings.Builder
	if a.Policy != nil {
		b.WriteString(a.Policy.Reference)
	}
	for i, p := range a.Parameter {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(escapeValue(p.Name))
		b.WriteByte('=')
		if p.ValueReference != nil {
			b.WriteString(escapeValue(p.ValueReference.Reference))
		} else {
			b.WriteString(escapeValue(p.ValueString))
		}
	}
	return b.String()
}

// escapeValue %-escapes what would change the meaning of an --access entry
// and what a terminal should not show raw.
func escapeValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' || c == '&' || c == '=' || c == '#' || c == '?' || c <= ' ' || c == 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// AccessLabels writes access entries as FormatAccess does, each policy as
// label shows it (apply and invite --upsert show names: "Clinic staff"),
// separated by ", ".
func AccessLabels(list []client.MembershipAccess, label func(ref string) string) string {
	parts := make([]string, len(list))
	for i, a := range list {
		s := FormatAccess(a)
		if a.Policy != nil {
			s = label(a.Policy.Reference) + strings.TrimPrefix(s, a.Policy.Reference)
		}
		parts[i] = s
	}
	return strings.Join(parts, ", ")
}

// AccessLabel is a membership's access policy and access entries, with
// AccessLabels' labels ("" when it has none).
func AccessLabel(m client.Resource, label func(ref string) string) string {
	var parts []string
	if p := m.Ref("accessPolicy"); p != "" {
		parts = append(parts, label(p))
	}
	if list := Access(m); len(list) > 0 {
		parts = append(parts, AccessLabels(list, label))
	}
	return strings.Join(parts, ", ")
}
