package auth

import (
	"strings"
	"testing"
)

// A profile file as the official CLI writes it: values are JSON strings.
const legacyFile = `{
  "options": "{\"name\":\"prod\",\"baseUrl\":\"https://api.example.com/\",\"clientId\":\"cid\",\"clientSecret\":\"csecret\",\"authType\":\"client-credentials\",\"scope\":\"openid\"}",
  "activeLogin": "{\"project\":{\"reference\":\"Project/p1\",\"display\":\"One\"},\"profile\":{\"reference\":\"Practitioner/u1\",\"display\":\"Ann\"},\"accessToken\":\"at1\",\"refreshToken\":\"rt1\"}",
  "logins": "[{\"project\":{\"reference\":\"Project/p1\"},\"profile\":{\"reference\":\"Practitioner/u1\"},\"accessToken\":\"at1\",\"refreshToken\":\"rt1\"},{\"project\":{\"reference\":\"Project/p2\",\"display\":\"Two\"},\"profile\":{\"reference\":\"Practitioner/u2\"},\"accessToken\":\"at2\",\"refreshToken\":\"rt2\"}]",
  "pkceState": "xyz"
}`

func TestParseLegacyProfile(t *testing.T) {
	p, err := ParseLegacyProfile([]byte(legacyFile))
	if err != nil {
		t.Fatal(err)
	}
	o := p.Options
	if o.Name != "prod" || o.BaseURL != "https://api.example.com/" || o.ClientID != "cid" || o.ClientSecret != "csecret" || o.AuthType != "client-credentials" || o.Scope != "openid" {
		t.Errorf("options = %+v", o)
	}
	if p.ActiveLogin == nil || p.ActiveLogin.Project.Reference != "Project/p1" || p.ActiveLogin.Profile.Display != "Ann" || p.ActiveLogin.RefreshToken != "rt1" {
		t.Errorf("activeLogin = %+v", p.ActiveLogin)
	}
	if len(p.Logins) != 2 || p.Logins[1].Project.Display != "Two" || p.Logins[1].RefreshToken != "rt2" {
		t.Errorf("logins = %+v", p.Logins)
	}
	got := strings.Join(p.Secrets(), ",")
	for _, want := range []string{"csecret", "at1", "rt1", "at2", "rt2"} {
		if !strings.Contains(got, want) {
			t.Errorf("Secrets() = %s, missing %s", got, want)
		}
	}
}

func TestParseLegacyProfileSingleEncodedAndErrors(t *testing.T) {
	p, err := ParseLegacyProfile([]byte(`{"options":{"baseUrl":"http://localhost:8103/"}}`))
	if err != nil || p.Options.BaseURL != "http://localhost:8103/" || p.ActiveLogin != nil {
		t.Fatalf("single-encoded: %+v, %v", p, err)
	}
	for in, want := range map[string]string{
		`{}`:                           "the profile holds no settings and no login",
		`[1]`:                          "not an official CLI profile",
		`{"options":"{not json"}`:      `the "options" entry is not valid`,
		`{"logins":"{\"a\":1}"}`:       `the "logins" entry is not valid`,
		`{"activeLogin":"\"string\""}`: `the "activeLogin" entry is not valid`,
	} {
		_, err := ParseLegacyProfile([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseLegacyProfile(%s) = %v, want %q", in, err, want)
		}
	}
}
