package medplumtest_test

import (
	"net/url"
	"testing"
)

// TestRotateClientSecret: $rotate-secret keeps the old secret as
// retiringSecret, which still signs in until it is retired.
func TestRotateClientSecret(t *testing.T) {
	c := newTC(t)
	base := "admin/projects/" + c.srv.Seed.ProjectID
	cl := c.must(201, "POST", base+"/client", `{"name":"CI"}`)
	id, old := cl["id"].(string), cl["secret"].(string)
	op := "fhir/R4/ClientApplication/" + id + "/$rotate-secret"
	param := func(name, v string) string {
		return `{"resourceType":"Parameters","parameter":[{"name":"` + name + `","valueString":"` + v + `"}]}`
	}

	if m := c.must(400, "POST", op, `{"resourceType":"Parameters"}`); issueText(m) != "Secret to rotate must be provided" {
		t.Errorf("no secret: %v", m)
	}
	both := `{"resourceType":"Parameters","parameter":[{"name":"secret","valueString":"a"},{"name":"retiringSecret","valueString":"b"}]}`
	if m := c.must(400, "POST", op, both); issueText(m) != "Only one secret can be rotated at a time" {
		t.Errorf("both: %v", m)
	}
	if m := c.must(400, "POST", op, param("secret", "wrong")); issueText(m) != "Provided secret does not match client" {
		t.Errorf("wrong secret: %v", m)
	}
	c.must(404, "POST", "fhir/R4/ClientApplication/00000000-0000-4000-8000-000000000000/$rotate-secret", param("secret", old))

	rotated := c.must(200, "POST", op, param("secret", old))
	cur, _ := rotated["secret"].(string)
	if rotated["resourceType"] != "ClientApplication" || len(cur) != 32 || cur == old || rotated["retiringSecret"] != old {
		t.Fatalf("rotated: %v", rotated)
	}
	// Both secrets sign in by form; Basic auth takes the current one only
	// (captures 230, 230b).
	c.token(id, old)
	c.token(id, cur)
	for s, want := range map[string]int{old: 401, cur: 200} {
		if status, _ := c.raw("GET", "fhir/R4/Patient", map[string]string{"Authorization": basic(id, s)}, ""); status != want {
			t.Errorf("Basic auth with the %s secret: %d, want %d", map[int]string{401: "retiring", 200: "current"}[want], status, want)
		}
	}

	retired := c.must(200, "POST", op, param("retiringSecret", old))
	if _, ok := retired["retiringSecret"]; ok || retired["secret"] != cur {
		t.Fatalf("retired: %v", retired)
	}
	status, body := c.raw("POST", "oauth2/token", map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {old}}.Encode())
	if status != 400 || string(body) != `{"error":"invalid_request","error_description":"Invalid secret"}` {
		t.Errorf("retired secret: %d %s", status, body)
	}
	c.token(id, cur)

	// Only admins may rotate.
	c.tok = c.token(id, cur) // the new client is not an admin
	c.must(403, "POST", op, param("secret", cur))
}
