package membership

import (
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
)

// MergeUpsert sends back every field Medplum's upsert would remove unless
// the invite names it (captures 201-203), and says what changes.
func TestMergeUpsert(t *testing.T) {
	cur := `{"resourceType":"ProjectMembership","id":"m1","admin":true,"accessPolicy":{"reference":"AccessPolicy/a"},` +
		`"externalId":"x1","active":false,"identifier":[{"value":"1"}]}`
	for _, c := range []struct{ invite, body, changes string }{
		{`{"email":"a@b.co"}`,
			`{"email":"a@b.co","membership":{"accessPolicy":{"reference":"AccessPolicy/a"},"admin":true,"externalId":"x1"},"upsert":true}`, ""},
		{`{"email":"a@b.co","membership":{"admin":false}}`,
			`{"email":"a@b.co","membership":{"accessPolicy":{"reference":"AccessPolicy/a"},"admin":false,"externalId":"x1"},"upsert":true}`,
			"admin true -> false"},
		{`{"email":"a@b.co","admin":false,"membership":{"access":[{"policy":{"reference":"AccessPolicy/b"}}],"active":true}}`,
			`{"admin":false,"email":"a@b.co","membership":{"access":[{"policy":{"reference":"AccessPolicy/b"}}],"active":true,"admin":false,"externalId":"x1"},"upsert":true}`,
			"admin true -> false; access AccessPolicy/a -> AccessPolicy/b; active false -> true"},
		{`{"externalId":"x2","membership":{"identifier":[{"value":"2"}]}}`,
			`{"externalId":"x2","membership":{"accessPolicy":{"reference":"AccessPolicy/a"},"admin":true,"externalId":"x2","identifier":[{"value":"2"}]},"upsert":true}`,
			`externalId "x1" -> "x2"; identifier changed`},
	} {
		m, err := client.DecodeResource([]byte(cur))
		if err != nil {
			t.Fatal(err)
		}
		body, changes, err := UpsertBody([]byte(c.invite), m, nil)
		if err != nil || string(body) != c.body || strings.Join(changes, "; ") != c.changes {
			t.Errorf("%s:\n got %s %q (%v)\nwant %s %q", c.invite, body, strings.Join(changes, "; "), err, c.body, c.changes)
		}
	}
}
