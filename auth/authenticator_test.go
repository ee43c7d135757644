package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
)

func TestNewAuthenticatorChoosesCredentials(t *testing.T) {
	tc, err := client.New(client.Options{BaseURL: "https://api.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		s       Settings
		want    string // type name
		wantErr string
	}{
		{"access token wins", Settings{AccessToken: "at", ClientID: "id", ClientSecret: "s"}, "*auth.BearerToken", ""},
		{"client credentials", Settings{ClientID: "id", ClientSecret: "s"}, "*auth.ClientCredentials", ""},
		{"client credentials explicit", Settings{ClientID: "id", ClientSecret: "s", AuthType: AuthTypeClientCredentials}, "*auth.ClientCredentials", ""},
		{"basic", Settings{ClientID: "id", ClientSecret: "s", AuthType: AuthTypeBasic}, "*auth.BasicCredentials", ""},
		{"nothing", Settings{BaseURL: "https://x"}, "", "not signed in"},
		{"id without secret", Settings{ClientID: "cid-1"}, "", "not signed in: client id cid-1 has no client secret (set MEDPLUM_CLIENT_SECRET or --client-secret)"},
		{"secret without id", Settings{ClientSecret: "s3cret"}, "", "not signed in: a client secret is set without a client id (set MEDPLUM_CLIENT_ID or --client-id)"},
	}
	for _, c := range cases {
		a, err := NewAuthenticator(c.s, tc)
		if c.wantErr != "" {
			if !errors.Is(err, ErrNotSignedIn) || err.Error() != c.wantErr || a != nil {
				t.Errorf("%s: %v, %v; want %q", c.name, a, err, c.wantErr)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s: the error shows the secret", c.name)
			}
			continue
		}
		if err != nil || typeName(a) != c.want {
			t.Errorf("%s: %s, %v; want %s", c.name, typeName(a), err, c.want)
		}
	}
	if _, err := NewAuthenticator(Settings{ClientID: "id", ClientSecret: "s"}, nil); err == nil {
		t.Error("client credentials without a token client accepted")
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *BearerToken:
		return "*auth.BearerToken"
	case *ClientCredentials:
		return "*auth.ClientCredentials"
	case *BasicCredentials:
		return "*auth.BasicCredentials"
	case nil:
		return "nil"
	}
	return "other"
}

func TestJWTExpiry(t *testing.T) {
	// {"alg":"none"}.{"exp":1900000000}.sig
	tok := "eyJhbGciOiJub25lIn0.eyJleHAiOjE5MDAwMDAwMDB9.c2ln"
	exp, ok := jwtExpiry(tok)
	if !ok || exp.Unix() != 1900000000 {
		t.Errorf("jwtExpiry = %v, %v", exp, ok)
	}
	for _, bad := range []string{"", "opaque", "a.b.c", "a.eyJ4IjoxfQ.c"} {
		if _, ok := jwtExpiry(bad); ok {
			t.Errorf("jwtExpiry(%q) ok", bad)
		}
	}
}
