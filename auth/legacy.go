package auth

import (
	"encoding/json"
	"fmt"

	"github.com/medplumcli/medplum/client"
)

// LegacyProfile is one profile file of the official Node CLI,
// ~/.medplum/<name>.json (reference medplum.md 1.4). Its values are JSON
// strings that themselves hold JSON ("double encoding").
type LegacyProfile struct {
	Options     LegacyOptions
	ActiveLogin *LegacyLogin
	Logins      []LegacyLogin
}

// LegacyOptions are the saved flags of the official CLI's profile.
type LegacyOptions struct {
	Name           string `json:"name"`
	AuthType       string `json:"authType"`
	BaseURL        string `json:"baseUrl"`
	ClientID       string `json:"clientId"`
	ClientSecret   string `json:"clientSecret"`
	TokenURL       string `json:"tokenUrl"`
	AuthorizeURL   string `json:"authorizeUrl"`
	FHIRURLPath    string `json:"fhirUrlPath"`
	Scope          string `json:"scope"`
	AccessToken    string `json:"accessToken"`
	CallbackURL    string `json:"callbackUrl"`
	Subject        string `json:"subject"`
	Audience       string `json:"audience"`
	Issuer         string `json:"issuer"`
	PrivateKeyPath string `json:"privateKeyPath"`
}

// LegacyLogin is @medplum/core's LoginState.
type LegacyLogin struct {
	Project      client.Reference `json:"project"`
	Profile      client.Reference `json:"profile"`
	AccessToken  string           `json:"accessToken"`
	RefreshToken string           `json:"refreshToken"`
}

// ParseLegacyProfile decodes an official CLI profile file. Unknown keys
// (pkceState, codeVerifier, ...) are ignored. A file with neither options nor
// a login (the official CLI writes {} when it clears a profile) is an error.
func ParseLegacyProfile(data []byte) (*LegacyProfile, error) {
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(data, &outer); err != nil {
		return nil, fmt.Errorf("not an official CLI profile (want a JSON object): %w", err)
	}
	p := &LegacyProfile{}
	if err := decodeInner(outer, "options", &p.Options); err != nil {
		return nil, err
	}
	var active LegacyLogin
	if err := decodeInner(outer, "activeLogin", &active); err != nil {
		return nil, err
	}
	if active != (LegacyLogin{}) {
		p.ActiveLogin = &active
	}
	if err := decodeInner(outer, "logins", &p.Logins); err != nil {
		return nil, err
	}
	if p.Options == (LegacyOptions{}) && p.ActiveLogin == nil && len(p.Logins) == 0 {
		return nil, fmt.Errorf("the profile holds no settings and no login")
	}
	return p, nil
}

// decodeInner decodes outer[key], a JSON string holding JSON, into v. A
// missing key leaves v alone. A plain (single-encoded) object is accepted
// too, in case another tool wrote the file.
func decodeInner(outer map[string]json.RawMessage, key string, v any) error {
	raw, ok := outer[key]
	if !ok || string(raw) == "null" {
		return nil
	}
	var inner string
	if err := json.Unmarshal(raw, &inner); err == nil {
		raw = []byte(inner)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("the %q entry is not valid: %w", key, err)
	}
	return nil
}

// Secrets lists the secret values in the profile, for the "is it gone?"
// checks after an import.
func (p *LegacyProfile) Secrets() []string {
	var s []string
	add := func(v string) {
		if v != "" {
			s = append(s, v)
		}
	}
	add(p.Options.ClientSecret)
	add(p.Options.AccessToken)
	for _, l := range append(p.Logins, derefLogin(p.ActiveLogin)...) {
		add(l.AccessToken)
		add(l.RefreshToken)
	}
	return s
}

func derefLogin(l *LegacyLogin) []LegacyLogin {
	if l == nil {
		return nil
	}
	return []LegacyLogin{*l}
}
