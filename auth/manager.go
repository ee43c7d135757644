package auth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/medplumcli/medplum/client"
)

// Manager keeps the sign-ins of every profile:
//
//   - the session record (no secrets) in <ConfigDir>/sessions/<profile>.json;
//   - secrets (refresh tokens, client secrets, --with-token tokens) in the OS
//     keyring, or with --insecure-storage in <ConfigDir>/secrets/credentials.json
//     (0600 in a 0700 directory);
//   - the current access token in <CacheDir>/tokens/<profile>.json (0600), so
//     the next command does not need a new one, and next to it the lock that
//     serialises refreshes across processes.
//
// The Manager never prints; it reads only these files.
type Manager struct {
	ConfigDir string
	CacheDir  string
	// Keyring is the OS keyring store (a *KeyringStore in the CLI, a
	// MemoryStore in tests).
	Keyring Store
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) sessionPath(profile string) string {
	return filepath.Join(m.ConfigDir, "sessions", profile+".json")
}

// InsecureStorePath is the file that holds secrets with --insecure-storage.
func (m *Manager) InsecureStorePath() string {
	return filepath.Join(m.ConfigDir, "secrets", "credentials.json")
}

// TokenCachePath is the file that caches a profile's access token.
func (m *Manager) TokenCachePath(profile string) string { return m.cachePath(profile) }

func (m *Manager) cachePath(profile string) string {
	return filepath.Join(m.CacheDir, "tokens", profile+".json")
}

func (m *Manager) lockPath(profile string) string {
	return filepath.Join(m.CacheDir, "tokens", profile+".lock")
}

// store returns the Store a session's secrets live in.
func (m *Manager) store(storage string) (Store, error) {
	switch storage {
	case StorageFile:
		return NewFileStore(m.InsecureStorePath()), nil
	case StorageKeyring, "":
		if m.Keyring == nil {
			return nil, &KeyringUnavailableError{Reason: "no keyring configured"}
		}
		return m.Keyring, nil
	}
	return nil, fmt.Errorf("unknown credential storage %q", storage)
}

// Session returns a profile's sign-in, or nil when it has none.
func (m *Manager) Session(profile string) (*Session, error) {
	if err := CheckProfileName(profile); err != nil {
		return nil, err
	}
	return readSession(m.sessionPath(profile))
}

// Profiles lists the profiles that have a sign-in.
func (m *Manager) Profiles() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(m.ConfigDir, "sessions"))
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok && CheckProfileName(name) == nil {
			out = append(out, name)
		}
	}
	return out, nil
}

// SignInError explains why a profile cannot authenticate. It matches
// ErrNotSignedIn.
type SignInError struct {
	Profile string
	Reason  string
	Err     error // the server's answer, if there was one
}

func (e *SignInError) Error() string {
	msg := e.Reason
	if e.Profile != "" {
		msg = fmt.Sprintf("profile %q: %s", e.Profile, e.Reason)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *SignInError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrNotSignedIn}
	}
	return []error{ErrNotSignedIn, e.Err}
}

// NormalizeBaseURL gives a base URL its trailing slash, the form sessions
// record.
func NormalizeBaseURL(u string) string {
	if u != "" && !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

// SaveOptions say how a new sign-in is stored.
type SaveOptions struct {
	BaseURL string
	// TokenURL is the token endpoint the sign-in was made at: renewals go
	// there only. Empty means the token URLs of BaseURL's server.
	TokenURL string
	ClientID string
	Scope    string
	AuthType string
	// Insecure stores the secrets in the 0600 file instead of the keyring.
	Insecure bool
	// For jwt-assertion.
	PrivateKeyPath, Alg, KeyID string
}

func (o SaveOptions) storage() string {
	if o.Insecure {
		return StorageFile
	}
	return StorageKeyring
}

// newSession starts the session record a save writes, and returns the one it
// replaces (nil if none). A user login keeps the profile's other project
// logins when it signs in to the same server again.
func (m *Manager) newSession(profile string, o SaveOptions) (s, old *Session) {
	s = &Session{
		BaseURL: NormalizeBaseURL(o.BaseURL), TokenURL: o.TokenURL, AuthType: o.AuthType, ClientID: o.ClientID,
		Scope: o.Scope, Storage: o.storage(),
		PrivateKeyPath: o.PrivateKeyPath, Alg: o.Alg, KeyID: o.KeyID,
	}
	old, err := m.Session(profile)
	if err != nil {
		old = nil
	}
	if old != nil && old.IsUser() && s.IsUser() && old.BaseURL == s.BaseURL && old.Storage == s.Storage {
		s.Logins, s.Known = old.Logins, old.Known
	}
	return s, old
}

// secretKeys are the Store keys a session's secrets live under.
func (s *Session) secretKeys(profile string) []string {
	var keys []string
	switch {
	case s.IsUser():
		for _, l := range s.Logins {
			keys = append(keys, refreshKey(profile, l.Key))
		}
	case s.AuthType == AuthTypeClientCredentials:
		keys = append(keys, clientSecretKey(profile))
	case s.AuthType == AuthTypeToken:
		keys = append(keys, staticTokenKey(profile))
	}
	return keys
}

// allSecretKeys are every key a profile's session may have left in its
// Store, whatever its kind: what Forget removes.
func (s *Session) allSecretKeys(profile string) []string {
	keys := []string{clientSecretKey(profile), staticTokenKey(profile)}
	for _, l := range s.Logins {
		keys = append(keys, refreshKey(profile, l.Key))
	}
	return keys
}

// dropReplaced removes the secrets of the session a new sign-in replaced
// that the new one does not use, wherever they are: a keyring sign-in must
// not leave an earlier --insecure-storage refresh token in plain text. It is
// best effort (the old store may be a keyring that no longer answers) and
// stops at the first failure.
func (m *Manager) dropReplaced(profile string, old, s *Session) {
	if old == nil {
		return
	}
	st, err := m.store(old.Storage)
	if err != nil {
		return
	}
	keep := map[string]bool{}
	if old.Storage == s.Storage {
		for _, k := range s.secretKeys(profile) {
			keep[k] = true
		}
	}
	for _, k := range old.allSecretKeys(profile) {
		if !keep[k] {
			if err := st.Delete(k); err != nil {
				return
			}
		}
	}
}

// writeReplacing writes the session a sign-in or import made and drops the
// secrets of the one it replaced: the last step of every save.
func (m *Manager) writeReplacing(profile string, old, s *Session) error {
	if err := writeSession(m.sessionPath(profile), s); err != nil {
		return err
	}
	m.dropReplaced(profile, old, s)
	return nil
}

// UserLogin is the outcome of a person's sign-in.
type UserLogin struct {
	Token        *client.TokenResponse
	Email        string
	MembershipID string
	// Memberships are the projects the server offered to choose from, if it
	// asked (remembered for project list).
	Memberships []client.LoginMembership
}

// SaveUserLogin stores a person's sign-in (authorization-code or password):
// the refresh token in the Store, the access token in the cache, the project
// and profile in the session. It becomes the profile's active login.
func (m *Manager) SaveUserLogin(profile string, o SaveOptions, l *UserLogin) (*Session, error) {
	if err := CheckProfileName(profile); err != nil {
		return nil, err
	}
	tok := l.Token
	if tok.Project == nil || tok.Project.Reference == "" {
		return nil, errors.New("the token answer names no project")
	}
	_, projectID, _ := client.SplitReference(tok.Project.Reference)
	if projectID == "" {
		return nil, fmt.Errorf("the token answer's project %q is not a Project reference", tok.Project.Reference)
	}
	st, err := m.store(o.storage())
	if err != nil {
		return nil, err
	}
	s, old := m.newSession(profile, o)
	// Another person's logins in this profile are forgotten.
	kept := s.Logins[:0]
	for _, old := range s.Logins {
		if l.Email != "" && old.Email != "" && !strings.EqualFold(old.Email, l.Email) {
			_ = st.Delete(refreshKey(profile, old.Key))
			s.Known = nil
			continue
		}
		kept = append(kept, old)
	}
	s.Logins = kept
	if len(l.Memberships) > 0 {
		s.Known = l.Memberships
	}
	info := LoginInfo{
		Key: projectID, Project: *tok.Project, MembershipID: l.MembershipID, Email: l.Email,
		Scope: tok.Scope, HasRefresh: tok.RefreshToken != "", SignedInAt: m.now().UTC().Truncate(time.Second),
	}
	if tok.Profile != nil {
		info.Profile = *tok.Profile
	}
	if tok.RefreshToken != "" {
		if err := st.Set(refreshKey(profile, projectID), tok.RefreshToken); err != nil {
			return nil, err
		}
	} else if err := st.Delete(refreshKey(profile, projectID)); err != nil {
		return nil, err
	}
	s.putLogin(info)
	if err := m.cacheToken(profile, s, tok); err != nil {
		return nil, err
	}
	if err := m.writeReplacing(profile, old, s); err != nil {
		return nil, err
	}
	return s, nil
}

// SaveClientLogin stores a client's sign-in (client-credentials or
// jwt-assertion): the client secret (if any) in the Store and the first
// access token in the cache.
func (m *Manager) SaveClientLogin(profile string, o SaveOptions, secret string, tok *client.TokenResponse) (*Session, error) {
	if err := CheckProfileName(profile); err != nil {
		return nil, err
	}
	st, err := m.store(o.storage())
	if err != nil {
		return nil, err
	}
	s, old := m.newSession(profile, o)
	if secret != "" {
		if err := st.Set(clientSecretKey(profile), secret); err != nil {
			return nil, err
		}
	}
	if err := m.cacheToken(profile, s, tok); err != nil {
		return nil, err
	}
	if err := m.writeReplacing(profile, old, s); err != nil {
		return nil, err
	}
	return s, nil
}

// SaveTokenLogin stores an access token given with --with-token, after the
// caller validated it. It cannot be refreshed; when it expires the profile
// needs a new one.
func (m *Manager) SaveTokenLogin(profile string, o SaveOptions, token string, me *client.MeResponse) (*Session, error) {
	if err := CheckProfileName(profile); err != nil {
		return nil, err
	}
	st, err := m.store(o.storage())
	if err != nil {
		return nil, err
	}
	o.AuthType = AuthTypeToken
	s, old := m.newSession(profile, o)
	if me != nil && me.Project != nil {
		info := LoginInfo{Key: me.Project.ID(), SignedInAt: m.now().UTC().Truncate(time.Second)}
		info.Project = client.Reference{Reference: "Project/" + me.Project.ID(), Display: me.Project.String("name")}
		if me.Membership != nil {
			info.MembershipID = me.Membership.ID()
			info.Profile = client.Reference{Reference: me.Membership.Ref("profile"), Display: me.Membership.Display("profile")}
		}
		if me.User != nil {
			info.Email = me.User.String("email")
		}
		s.putLogin(info)
	}
	if err := st.Set(staticTokenKey(profile), token); err != nil {
		return nil, err
	}
	_ = removeCachedToken(m.cachePath(profile))
	if err := m.writeReplacing(profile, old, s); err != nil {
		return nil, err
	}
	return s, nil
}

// cacheToken writes the access token of the session's active login.
func (m *Manager) cacheToken(profile string, s *Session, tr *client.TokenResponse) error {
	return writeCachedToken(m.cachePath(profile), newCachedToken(s.cacheKey(), tr, m.now()))
}

// cacheKey names what the cached token belongs to.
func (s *Session) cacheKey() string {
	k := s.BaseURL + " " + s.AuthType + " " + s.ClientID
	if s.IsUser() {
		k += " " + s.Active
	}
	return k
}

// Switch makes another stored login of a user session active (project
// switch). It returns ErrNotFound when the profile never signed in to that
// project; the caller then runs a new login for it.
func (m *Manager) Switch(profile, projectID string) (*LoginInfo, error) {
	s, err := m.Session(profile)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, &SignInError{Profile: profile, Reason: "not signed in"}
	}
	l := s.Login(projectID)
	if l == nil {
		return nil, ErrNotFound
	}
	s.Active = l.Key
	if err := writeSession(m.sessionPath(profile), s); err != nil {
		return nil, err
	}
	return l, nil
}

// Forget removes everything stored for a profile's sign-in: its secrets in
// whichever store they are, the cached token and the session record. The
// profile's settings (base URL, client id, ...) are not the Manager's and stay.
// When the secrets are in a keyring that cannot be used (no session bus, no
// answer), it removes nothing and returns that *KeyringUnavailableError: the
// record of what is in the keyring is kept for a later Forget that can reach
// it.
func (m *Manager) Forget(profile string) error {
	s, err := m.Session(profile)
	if err != nil && s == nil {
		// A damaged session file: still remove what we can find.
		s = &Session{}
	}
	if s == nil {
		_ = removeCachedToken(m.cachePath(profile))
		return nil
	}
	var errs []error
	if st, err := m.store(s.Storage); err != nil {
		errs = append(errs, err)
	} else {
		for _, k := range s.allSecretKeys(profile) {
			if err := st.Delete(k); errors.Is(err, ErrKeyringUnavailable) {
				return err
			} else if err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := removeCachedToken(m.cachePath(profile)); err != nil {
		errs = append(errs, err)
	}
	if err := os.Remove(m.sessionPath(profile)); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// NewAuthenticator returns the authenticator for s: credentials given by flag
// or environment first (the package-level NewAuthenticator: an access token,
// or a client id and secret), else the profile's stored sign-in, else
// ErrNotSignedIn.
func (m *Manager) NewAuthenticator(s Settings, tokenClient *client.Client) (client.Authenticator, error) {
	if s.AccessToken != "" || (s.ClientID != "" && s.ClientSecret != "") {
		return NewAuthenticator(s, tokenClient)
	}
	sess, err := m.Session(s.Profile)
	if err != nil {
		return nil, err
	}
	if sess == nil {
		a, err := NewAuthenticator(s, tokenClient)
		if err == ErrNotSignedIn && s.Profile != "" { // bare: nothing at all is set
			return nil, &SignInError{Profile: s.Profile, Reason: "not signed in"}
		}
		return a, err
	}
	if b := NormalizeBaseURL(s.BaseURL); s.BaseURLFrom != "" && b != "" && b != sess.BaseURL {
		// The profile still points at the server it signed in to: what
		// points elsewhere is a flag or a variable.
		return nil, &SignInError{Profile: s.Profile, Reason: fmt.Sprintf("signed in to %s, but %s points at %s", sess.BaseURL, s.BaseURLFrom, b)}
	}
	return m.Authenticator(s.Profile, s.BaseURL, tokenClient)
}
