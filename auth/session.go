package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/medplumcli/medplum/client"
)

// Auth types of sign-ins this CLI adds to the official ones (settings.go).
const (
	AuthTypePassword = "password" // e-mail, password and MFA in the terminal
	AuthTypeToken    = "token"    // an access token given with --with-token
)

// Where a session keeps its secrets.
const (
	StorageKeyring = "keyring"
	StorageFile    = "file" // --insecure-storage
)

// Session is what a profile's sign-in knows about itself. It holds no
// secrets: those are in a Store under the keys SecretKey returns, and the
// short-lived access token is in the token cache.
type Session struct {
	Version int    `json:"version"`
	BaseURL string `json:"base_url"`
	// TokenURL is the token endpoint the sign-in was made at: besides
	// BaseURL's server, the only one the stored secrets are sent to
	// (checkTokenURL). Empty for an imported sign-in whose token URL was relative.
	TokenURL string `json:"token_url,omitempty"`
	AuthType string `json:"auth_type"`
	ClientID string `json:"client_id,omitempty"`
	Scope    string `json:"scope,omitempty"`
	Storage  string `json:"storage"` // StorageKeyring or StorageFile
	// PrivateKeyPath and Alg are for jwt-assertion: the key is read from the
	// user's file each time a token is needed, never copied.
	PrivateKeyPath string `json:"private_key_path,omitempty"`
	Alg            string `json:"alg,omitempty"`
	KeyID          string `json:"key_id,omitempty"`
	// Active is the Key of the login in use; Logins are every project this
	// profile has signed in to (user logins only).
	Active string      `json:"active,omitempty"`
	Logins []LoginInfo `json:"logins,omitempty"`
	// Known are the memberships the server last offered at sign-in, so
	// project list can show projects not signed in to yet.
	Known []client.LoginMembership `json:"known,omitempty"`
}

// LoginInfo describes one signed-in project membership of a user.
type LoginInfo struct {
	Key          string           `json:"key"` // the project id
	Project      client.Reference `json:"project"`
	Profile      client.Reference `json:"profile"`
	MembershipID string           `json:"membership,omitempty"`
	Email        string           `json:"email,omitempty"`
	Scope        string           `json:"scope,omitempty"`
	HasRefresh   bool             `json:"has_refresh_token"`
	SignedInAt   time.Time        `json:"signed_in_at"`
}

const sessionVersion = 1

// ActiveLogin returns the login in use, or nil.
func (s *Session) ActiveLogin() *LoginInfo { return s.Login(s.Active) }

// Login returns the login with key, or nil.
func (s *Session) Login(key string) *LoginInfo {
	for i := range s.Logins {
		if s.Logins[i].Key == key {
			return &s.Logins[i]
		}
	}
	return nil
}

// putLogin adds or replaces l and makes it active.
func (s *Session) putLogin(l LoginInfo) {
	if old := s.Login(l.Key); old != nil {
		*old = l
	} else {
		s.Logins = append(s.Logins, l)
	}
	s.Active = l.Key
}

// checkTokenURL refuses a token endpoint the stored secrets must not be sent
// to: one on another server than the sign-in's (a .env in the working
// directory may set MEDPLUM_TOKEN_URL), unless the sign-in was made there. A
// token given with --with-token is never sent to a token endpoint.
func (s *Session) checkTokenURL(profile string, tc *client.Client) error {
	got := tc.TokenURL()
	if s.AuthType == AuthTypeToken || got == s.TokenURL || tc.SameOrigin(got) {
		return nil
	}
	if s.TokenURL == "" || tc.SameOrigin(s.TokenURL) {
		return &SignInError{Profile: profile, Reason: fmt.Sprintf("signed in to %s, but the profile now sends credentials to the token URL %s on another server", s.BaseURL, got)}
	}
	return &SignInError{Profile: profile, Reason: fmt.Sprintf("signed in at the token URL %s, but the profile now sends credentials to %s", s.TokenURL, got)}
}

// IsUser reports whether the session is a person's login (with projects),
// as opposed to a client's.
func (s *Session) IsUser() bool {
	return s.AuthType == AuthTypeAuthorizationCode || s.AuthType == AuthTypePassword
}

var profileNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`) })

// CheckProfileName rejects profile names that cannot be used in file names
// and keyring keys.
func CheckProfileName(name string) error {
	if !profileNameRE().MatchString(name) {
		return fmt.Errorf("profile name %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// Keys of a profile's secrets in a Store.
func secretKey(profile, what string) string { return profile + ":" + what }

func clientSecretKey(profile string) string { return secretKey(profile, "client_secret") }
func staticTokenKey(profile string) string  { return secretKey(profile, "access_token") }
func refreshKey(profile, loginKey string) string {
	return secretKey(profile, "refresh_token:"+loginKey)
}

// readSession loads a session file; (nil, nil) when there is none.
func readSession(path string) (*Session, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read sign-in state: %w", err)
	}
	var s Session
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("sign-in state %s is damaged (%v); run medplum login again", path, err)
	}
	if s.Version != sessionVersion {
		return nil, fmt.Errorf("sign-in state %s has version %d, this medplum understands %d; run medplum login again", path, s.Version, sessionVersion)
	}
	return &s, nil
}

func writeSession(path string, s *Session) error {
	s.Version = sessionVersion
	// People read this file: names as the server has them, & < > too
	// (json.MarshalIndent writes \u0026 for HTML).
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	return writeFileAtomic(path, b.Bytes())
}

// SessionProject is one project of a person's sign-in (Session.Projects).
type SessionProject struct {
	ID, Name             string
	Profile, ProfileName string // the membership's profile: reference and display
	MembershipID         string
	Current, SignedIn    bool
}

// Projects are the projects a person's sign-in knows, each once: those
// signed in to (switching to them takes no password), in sign-in order,
// then the other memberships the server offered at the last password
// sign-in. project list prints them; project switch completes them. They
// are read from the session alone: no request, no secret.
func (s *Session) Projects() []SessionProject {
	var out []SessionProject
	seen := map[string]bool{}
	for _, l := range s.Logins {
		seen[l.Key] = true
		out = append(out, SessionProject{ID: l.Key, Name: l.Project.Display, Profile: l.Profile.Reference, ProfileName: l.Profile.Display,
			MembershipID: l.MembershipID, Current: l.Key == s.Active, SignedIn: true})
	}
	for _, k := range s.Known {
		if k.Project == nil {
			continue
		}
		id := strings.TrimPrefix(k.Project.Reference, "Project/")
		if seen[id] {
			continue
		}
		seen[id] = true
		p := SessionProject{ID: id, Name: k.Project.Display, MembershipID: k.ID}
		if k.Profile != nil {
			p.Profile, p.ProfileName = k.Profile.Reference, k.Profile.Display
		}
		out = append(out, p)
	}
	return out
}
