package client

import (
	"net/http"
	"strings"
	"testing"
)

func TestRedactHeaders(t *testing.T) {
	h := http.Header{
		"Authorization": {"Bearer eyJhbGciOi.secret.sig"},
		"Cookie":        {"medplum-cli=abc"},
		"Set-Cookie":    {"x=1; HttpOnly"},
		"X-Auth-Token":  {"tok123"},
		"X-Api-Key":     {"key123"},
		"Accept":        {"application/fhir+json"},
	}
	got := RedactHeaders(h)
	want := map[string]string{
		"Authorization": "Bearer [REDACTED]",
		"Cookie":        "[REDACTED]",
		"Set-Cookie":    "[REDACTED]",
		"X-Auth-Token":  "[REDACTED]",
		"X-Api-Key":     "[REDACTED]",
		"Accept":        "application/fhir+json",
	}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Get(k), v)
		}
	}
	if h.Get("Authorization") != "Bearer eyJhbGciOi.secret.sig" {
		t.Error("RedactHeaders changed its input")
	}
	if got := RedactHeaders(http.Header{"Authorization": {"opaque"}}).Get("Authorization"); got != Redacted {
		t.Errorf("schemeless Authorization = %q", got)
	}
}

func TestRedactBodyJSON(t *testing.T) {
	in := `{"resourceType":"ClientApplication","name":"ci <bot>","secret":"s3cr3t-value","retiringSecret":"old-value",
	"nested":{"access_token":"at-value","refresh_token":"rt-value","token_type":"Bearer","password":{"deep":"pw-value"}},
	"code":"oauth-code-value","list":[{"code":"ok-code","clientSecret":"cs-value"}],
	"project":{"secret":[{"name":"k","valueString":"project-secret-value"}]},"n":1.50,"b":true,"z":null,"id_token":"idt"}`
	got := string(RedactBody("application/json", []byte(in)))
	want := `{"resourceType":"ClientApplication","name":"ci <bot>","secret":"[REDACTED]","retiringSecret":"[REDACTED]","nested":{"access_token":"[REDACTED]","refresh_token":"[REDACTED]","token_type":"Bearer","password":"[REDACTED]"},"code":"[REDACTED]","list":[{"code":"ok-code","clientSecret":"[REDACTED]"}],"project":{"secret":"[REDACTED]"},"n":1.50,"b":true,"z":null,"id_token":"[REDACTED]"}`
	if got != want {
		t.Errorf("RedactBody =\n%s\nwant\n%s", got, want)
	}
	// A FHIR CodeableConcept "code" is data.
	obs := `{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"1234-5"}]}}`
	if got := string(RedactBody("application/fhir+json; charset=utf-8", []byte(obs))); got != obs {
		t.Errorf("Observation changed: %s", got)
	}
	if got := string(RedactBody("application/json", []byte(`{"password":"abc"`))); strings.Contains(got, "abc") {
		t.Errorf("unparsable JSON shown: %s", got)
	}
	if got := string(RedactBody("", []byte(`{"password":"abc"}`))); got != `{"password":"[REDACTED]"}` {
		t.Errorf("JSON without content type: %s", got)
	}
}

func TestRedactBodyForm(t *testing.T) {
	in := "grant_type=authorization_code&code=c0de&client_id=medplum-cli&code_verifier=v3r&client_secret=s%2Fx&refresh_token=rt&assertion=jwt&scope=openid+offline_access"
	want := "grant_type=authorization_code&code=[REDACTED]&client_id=medplum-cli&code_verifier=[REDACTED]&client_secret=[REDACTED]&refresh_token=[REDACTED]&assertion=[REDACTED]&scope=openid+offline_access"
	if got := string(RedactBody("application/x-www-form-urlencoded", []byte(in))); got != want {
		t.Errorf("form =\n%s\nwant\n%s", got, want)
	}
	if got := string(RedactBody("text/plain", []byte("plain"))); got != "plain" {
		t.Errorf("text = %q", got)
	}
}

func TestRedactURL(t *testing.T) {
	cases := map[string]string{
		"https://x/fhir/R4/Observation?code=1234-5":                  "https://x/fhir/R4/Observation?code=1234-5",
		"https://x/cb?access_token=abc&state=s":                      "https://x/cb?access_token=[REDACTED]&state=s",
		"https://x/storage/b/v?Expires=1796599865&Signature=VQX%2Bj": "https://x/storage/b/v?Expires=1796599865&Signature=[REDACTED]",
		"https://x/fhir/R4/Patient":                                  "https://x/fhir/R4/Patient",
		"https://b.s3.amazonaws.com/k?X-Amz-Date=20261207T060000Z&X-Amz-Security-Token=IQoJb3&X-Amz-Signature=9f0e": "https://b.s3.amazonaws.com/k?X-Amz-Date=20261207T060000Z&X-Amz-Security-Token=[REDACTED]&X-Amz-Signature=[REDACTED]",
		"https://x/a?client_secret=s&_count=2&client_id=cli1":                                                       "https://x/a?client_secret=[REDACTED]&_count=2&client_id=cli1",
		"https://admin:hunter2@x:8103/fhir/R4/?a=b@c":                                                               "https://admin:[REDACTED]@x:8103/fhir/R4/?a=b@c",
		"http://a:b:c@x?token=t":       "http://a:[REDACTED]@x?token=[REDACTED]",
		"https://user@x/p:q@r":         "https://user@x/p:q@r",
		"https://x/Patient?name=a:b@c": "https://x/Patient?name=a:b@c",
	}
	for in, want := range cases {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
