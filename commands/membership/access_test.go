package membership

import (
	"encoding/json"
	"testing"

	"github.com/medplumcli/medplum/client"
)

func TestSplitAccess(t *testing.T) {
	cases := map[string]string{
		"123":              `123 null`,
		"Clinic staff":     `Clinic staff null`,
		"AccessPolicy/123": `AccessPolicy/123 null`,
		"AccessPolicy/123?provider_organization=Organization/abc": `AccessPolicy/123 [{"name":"provider_organization","valueReference":{"reference":"Organization/abc"}}]`,
		"p?b=2&a=Organization/x&b=north%26east%3D%25":             `p [{"name":"b","valueString":"2"},{"name":"a","valueReference":{"reference":"Organization/x"}},{"name":"b","valueString":"north\u0026east=%"}]`,
		"p?q=a+b c?d": `p [{"name":"q","valueString":"a+b c?d"}]`,
	}
	for in, want := range cases {
		policy, params, err := SplitAccess(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		b, _ := json.Marshal(params)
		if got := policy + " " + string(b); got != want {
			t.Errorf("%s:\n got %s\nwant %s", in, got, want)
		}
		// FormatAccess writes what SplitAccess reads back.
		a := client.MembershipAccess{Policy: client.Ref(policy), Parameter: params}
		p2, params2, err := SplitAccess(FormatAccess(a))
		b2, _ := json.Marshal(params2)
		if err != nil || p2 != policy || string(b2) != string(b) {
			t.Errorf("%s: FormatAccess %q reads back as %s %s (%v)", in, FormatAccess(a), p2, b2, err)
		}
	}
	bad := map[string]string{
		"":                     `not an access policy: "" (want a name, an id or AccessPolicy/<id>)`,
		"Organization/1":       `not an access policy: "Organization/1" (want a name, an id or AccessPolicy/<id>)`,
		"AccessPolicy/1?":      `no parameters after "?" (want AccessPolicy/1?NAME=VALUE)`,
		"AccessPolicy/1?x":     `parameter "x" has no value (want NAME=VALUE)`,
		"AccessPolicy/1?x=":    `parameter x has no value`,
		"AccessPolicy/1?=v":    `parameter name "": use letters, digits, _ . -`,
		"AccessPolicy/1?x=%zz": `parameter "x=%zz": bad %-escape`,
		"AccessPolicy/a/b":     `not an access policy: "AccessPolicy/a/b" (want a name, an id or AccessPolicy/<id>)`,
	}
	for in, want := range bad {
		if _, _, err := SplitAccess(in); err == nil || err.Error() != want {
			t.Errorf("%q: got %v, want %s", in, err, want)
		}
	}
}

func TestFormatAccessEscapes(t *testing.T) {
	a := client.MembershipAccess{Policy: client.Ref("AccessPolicy/1"), Parameter: []client.AccessParameter{
		{Name: "s", ValueString: "a&b=c%d#e?f g\n"},
		{Name: "r", ValueReference: client.Ref("Organization/2")},
	}}
	if got, want := FormatAccess(a), "AccessPolicy/1?s=a%26b%3Dc%25d%23e%3Ff%20g%0A&r=Organization/2"; got != want {
		t.Errorf("got %s want %s", got, want)
	}
}

func TestCheckInviteAcceptsAMinimalInvite(t *testing.T) {
	f := false
	for _, req := range []client.InviteRequest{
		{ResourceType: "Practitioner", FirstName: "A", LastName: "B", Email: "a@b.co", SendEmail: &f},
		{ResourceType: "Patient", FirstName: "A", LastName: "B", ExternalID: "x", Scope: "project"},
		{ResourceType: "RelatedPerson", FirstName: "A", LastName: "B", Email: "a@b.co", Patient: client.Ref("Patient/1")},
		{ResourceType: "RelatedPerson", FirstName: "A", LastName: "B", Email: "a@b.co", Membership: &client.InviteMembership{Profile: client.Ref("RelatedPerson/9")}},
	} {
		if probs := CheckInvite(&req); len(probs) != 0 {
			t.Errorf("%+v: %v", req, probs)
		}
	}
}
