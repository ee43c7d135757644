package membership

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/medplumcli/medplum/client"
)

// AccessSyntax describes an --access entry for help texts.
const AccessSyntax = `POLICY[?NAME=VALUE[&NAME=VALUE...]]: POLICY is an access policy id or
AccessPolicy/<id>; each NAME=VALUE is a policy parameter. A VALUE shaped
like Type/<id> (Organization/abc) is sent as a valueReference, anything else
as a valueString; %-escape "&", "=", "%" and "#" inside a VALUE (%26 %3D %25
%23). Repeat --access for several entries, e.g. the same policy twice with
different parameters.`

// ParseAccess parses one --access entry (see AccessSyntax).
func ParseAccess(spec string) (client.MembershipAccess, error) {
	var a client.MembershipAccess
	policy, query, hasQuery := strings.Cut(strings.TrimSpace(spec), "?")
	ref, ok := TypedRef(policy, "AccessPolicy")
	if !ok {
		return a, fmt.Errorf("not an access policy: %q (want AccessPolicy/<id> or an id)", policy)
	}
	a.Policy = client.Ref(ref)
	if !hasQuery {
		return a, nil
	}
	if query == "" {
		return a, fmt.Errorf("no parameters after %q (want %s?NAME=VALUE)", "?", ref)
	}
	for pair := range strings.SplitSeq(query, "&") {
		rawName, rawValue, ok := strings.Cut(pair, "=")
		if !ok {
			return a, fmt.Errorf("parameter %q has no value (want NAME=VALUE)", pair)
		}
		name, err1 := url.PathUnescape(rawName)
		value, err2 := url.PathUnescape(rawValue)
		if err1 != nil || err2 != nil {
			return a, fmt.Errorf("parameter %q: bad %%-escape", pair)
		}
		p := client.AccessParameter{Name: name}
		if LooksLikeReference(value) {
			p.ValueReference = client.Ref(value)
		} else {
			p.ValueString = value
		}
		if probs := CheckParameter(p); len(probs) > 0 {
			return a, fmt.Errorf("%s", probs[0])
		}
		a.Parameter = append(a.Parameter, p)
	}
	return a, nil
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
