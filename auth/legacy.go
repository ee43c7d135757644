package auth

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

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

// LegacyImport is what ImportLegacy stored, and where.
type LegacyImport struct {
	// What was imported, for the user: "client secret", "2 project
	// logins", "access token"; "" when the file holds no credentials.
	What string
	// Logins counts the project logins imported (user sign-ins).
	Logins int
	// Stored counts the secrets put in the secret store (the keyring, or
	// InsecureStorePath): a client secret, refresh tokens, an access token.
	Stored int
	// Cached: the active login's access token, still valid, went into
	// the token cache (TokenCachePath).
	Cached bool
	// NoRefresh counts the logins without a refresh token: the official
	// CLI's browser sign-in asked only for scope openid before 5.1.29, so
	// such a login ends when its access token expires.
	NoRefresh int
	// Expires is when the active login's access token expires, if it has
	// no refresh token and the token says (else zero).
	Expires time.Time
}

// ImportLegacy stores what an official CLI profile file holds as this
// profile's sign-in, the way the official CLI would have used it: a client
// id and secret first (it signs in with them on every command), else the
// stored user logins (refresh tokens per project, the active one current),
// else a saved access token. baseURL is the server the profile points at.
func (m *Manager) ImportLegacy(profile, baseURL string, lp *LegacyProfile, insecure bool) (*LegacyImport, error) {
	if err := CheckProfileName(profile); err != nil {
		return nil, err
	}
	o := lp.Options
	save := SaveOptions{BaseURL: baseURL, ClientID: o.ClientID, Scope: o.Scope, Insecure: insecure}
	if l := strings.ToLower(o.TokenURL); strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
		save.TokenURL = o.TokenURL // a relative one is on baseURL's server
	}
	st, err := m.store(save.storage())
	if err != nil {
		return nil, err
	}
	res := &LegacyImport{}
	switch {
	case o.ClientID != "" && o.ClientSecret != "":
		save.AuthType = AuthTypeClientCredentials
		s, old := m.newSession(profile, save)
		if err := st.Set(clientSecretKey(profile), o.ClientSecret); err != nil {
			return nil, err
		}
		res.What, res.Stored = "client secret", 1
		return res, m.writeReplacing(profile, old, s)

	case lp.ActiveLogin != nil || len(lp.Logins) > 0:
		// The official CLI signs people in through medplum-cli without
		// sending a client id, and refreshes the same way.
		save.AuthType, save.ClientID = AuthTypeAuthorizationCode, ""
		s, old := m.newSession(profile, save)
		s.Logins, s.Known = nil, nil
		logins := append([]LegacyLogin{}, lp.Logins...)
		if lp.ActiveLogin != nil {
			logins = append(logins, *lp.ActiveLogin) // last wins: the active one is freshest
		}
		now := m.now().UTC().Truncate(time.Second)
		for _, l := range logins {
			_, pid, ok := client.SplitReference(l.Project.Reference)
			if !ok || l.RefreshToken == "" && l.AccessToken == "" {
				continue
			}
			if l.RefreshToken != "" {
				if err := st.Set(refreshKey(profile, pid), l.RefreshToken); err != nil {
					return nil, err
				}
			}
			s.putLogin(LoginInfo{Key: pid, Project: l.Project, Profile: l.Profile, HasRefresh: l.RefreshToken != "", SignedInAt: now})
		}
		if len(s.Logins) == 0 {
			return res, nil
		}
		res.Logins = len(s.Logins)
		for _, l := range s.Logins {
			if l.HasRefresh {
				res.Stored++
			} else {
				res.NoRefresh++
			}
		}
		if lp.ActiveLogin != nil {
			if _, pid, ok := client.SplitReference(lp.ActiveLogin.Project.Reference); ok && s.Login(pid) != nil {
				s.Active = pid
			}
		}
		// A still-valid access token of the active login saves a refresh.
		for _, l := range logins {
			_, pid, _ := client.SplitReference(l.Project.Reference)
			if pid != s.Active || l.AccessToken == "" {
				continue
			}
			exp, ok := jwtExpiry(l.AccessToken)
			if ok && !s.Login(pid).HasRefresh {
				res.Expires = exp
			}
			if ok && exp.After(m.now()) {
				tr := &client.TokenResponse{AccessToken: l.AccessToken, ExpiresIn: int(exp.Sub(m.now()) / time.Second)}
				if err := m.cacheToken(profile, s, tr); err != nil {
					return nil, err
				}
				res.Cached = true
			}
		}
		if err := m.writeReplacing(profile, old, s); err != nil {
			return nil, err
		}
		res.What = fmt.Sprintf("%d project logins", len(s.Logins))
		if len(s.Logins) == 1 {
			res.What = "1 project login"
		}
		return res, nil

	case o.AccessToken != "":
		save.AuthType = AuthTypeToken
		s, old := m.newSession(profile, save)
		if err := st.Set(staticTokenKey(profile), o.AccessToken); err != nil {
			return nil, err
		}
		res.What, res.Stored = "access token", 1
		return res, m.writeReplacing(profile, old, s)
	}
	return res, nil
}
