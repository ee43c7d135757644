package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/medplumcli/medplum/client"
)

// refreshLockTimeout bounds the wait for another process's refresh.
const refreshLockTimeout = 30 * time.Second

// StoredAuth authenticates requests as a profile's stored sign-in. It keeps
// the access token in memory, shares it with other processes through the
// token cache, and renews it shortly before it expires or once after a 401.
//
// Renewal is serialised across processes by a lock file: the process that
// gets the lock first renews (Medplum rotates the refresh token on every
// use), and the others find its fresh token in the cache when they get the
// lock, so all of them succeed. The rotated refresh token is stored before
// the lock is released. A failed renewal deletes nothing.
type StoredAuth struct {
	m       *Manager
	profile string
	sess    *Session
	store   Store
	tc      *client.Client // token endpoint client, without an Authenticator

	mu  sync.Mutex
	tok *cachedToken
}

// Authenticator returns the authenticator of a profile's stored sign-in.
// baseURL is the profile's current base URL: a sign-in made against another
// server does not count. tokenClient talks to the profile's server without
// credentials, at the profile's token URL.
func (m *Manager) Authenticator(profile, baseURL string, tokenClient *client.Client) (*StoredAuth, error) {
	s, err := m.Session(profile)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, &SignInError{Profile: profile, Reason: "not signed in"}
	}
	if b := NormalizeBaseURL(baseURL); b != "" && b != s.BaseURL {
		return nil, &SignInError{Profile: profile, Reason: fmt.Sprintf("signed in to %s, but the profile now points at %s", s.BaseURL, b)}
	}
	if err := s.checkTokenURL(profile, tokenClient); err != nil {
		return nil, err
	}
	st, err := m.store(s.Storage)
	if err != nil {
		return nil, err
	}
	if s.IsUser() && s.ActiveLogin() == nil {
		return nil, &SignInError{Profile: profile, Reason: "no active project login"}
	}
	return &StoredAuth{m: m, profile: profile, sess: s, store: st, tc: tokenClient}, nil
}

// Session is the sign-in this authenticator uses.
func (a *StoredAuth) Session() *Session { return a.sess }

// Apply implements client.Authenticator.
func (a *StoredAuth) Apply(ctx context.Context, req *http.Request) error {
	tok, err := a.token(ctx, "")
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Refresh implements client.Authenticator: the server refused the current
// token, so get another (from the cache if another process already renewed
// it, else from the token endpoint).
func (a *StoredAuth) Refresh(ctx context.Context) (bool, error) {
	a.mu.Lock()
	cur := ""
	if a.tok != nil {
		cur = a.tok.AccessToken
	}
	a.mu.Unlock()
	if cur == "" {
		return false, nil
	}
	if _, err := a.token(ctx, cur); err != nil {
		return false, err
	}
	return true, nil
}

// AccessToken returns a valid access token, renewing it if it is about to
// expire (medplum token).
func (a *StoredAuth) AccessToken(ctx context.Context) (string, error) { return a.token(ctx, "") }

// token returns an access token other than rejected that is fresh, renewing
// it when needed.
func (a *StoredAuth) token(ctx context.Context, rejected string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.m.now()
	if a.sess.AuthType == AuthTypeToken {
		return a.staticToken(rejected)
	}
	if a.tok.fresh(now) && a.tok.AccessToken != rejected {
		return a.tok.AccessToken, nil
	}
	path, key := a.m.cachePath(a.profile), a.sess.cacheKey()
	c := readCachedToken(path, key)
	if c.fresh(now) && c.AccessToken != rejected {
		a.tok = c
		return c.AccessToken, nil
	}
	staleGen := ""
	if c != nil {
		staleGen = c.Gen
	}

	lctx, cancel := context.WithTimeout(ctx, refreshLockTimeout)
	defer cancel()
	unlock, err := lockFile(lctx, a.m.lockPath(a.profile))
	if err != nil {
		return "", err
	}
	defer unlock()
	now = a.m.now()
	// Another process may have renewed while we waited for the lock.
	if c := readCachedToken(path, key); c.valid(now) && c.Gen != staleGen && c.AccessToken != rejected {
		a.tok = c
		return c.AccessToken, nil
	}
	tr, err := a.renew(ctx)
	if err != nil {
		return "", err
	}
	t := newCachedToken(key, tr, now)
	a.tok = t
	if err := writeCachedToken(path, t); err != nil {
		return "", fmt.Errorf("save the renewed access token: %w", err)
	}
	return t.AccessToken, nil
}

func (a *StoredAuth) staticToken(rejected string) (string, error) {
	if a.tok == nil {
		v, err := a.store.Get(staticTokenKey(a.profile))
		if errors.Is(err, ErrNotFound) {
			return "", &SignInError{Profile: a.profile, Reason: "the access token given with --with-token is missing from the " + storageName(a.sess.Storage)}
		}
		if err != nil {
			return "", err
		}
		a.tok = &cachedToken{AccessToken: v}
	}
	if a.tok.AccessToken == rejected {
		return "", &SignInError{Profile: a.profile, Reason: "the server no longer accepts the access token given with --with-token (it cannot be renewed; sign in again)"}
	}
	return a.tok.AccessToken, nil
}

// renew gets a new token from the token endpoint. It must hold the lock.
func (a *StoredAuth) renew(ctx context.Context) (*client.TokenResponse, error) {
	s := a.sess
	form := url.Values{}
	var rtKey, oldRT string
	switch s.AuthType {
	case AuthTypeAuthorizationCode, AuthTypePassword:
		l := s.ActiveLogin()
		rtKey = refreshKey(a.profile, l.Key)
		rt, err := a.store.Get(rtKey)
		if errors.Is(err, ErrNotFound) {
			reason := "the sign-in to project " + describeRef(l.Project) + " has expired"
			if !l.HasRefresh {
				reason += " and it holds no refresh token (it was made without the offline_access scope)"
			} else {
				reason += " and its refresh token is missing from the " + storageName(s.Storage)
			}
			return nil, &SignInError{Profile: a.profile, Reason: reason}
		}
		if err != nil {
			return nil, err
		}
		oldRT = rt
		form.Set("grant_type", "refresh_token")
		form.Set("refresh_token", rt)
		if s.ClientID != "" {
			form.Set("client_id", s.ClientID)
		}
	case AuthTypeClientCredentials:
		secret, err := a.store.Get(clientSecretKey(a.profile))
		if errors.Is(err, ErrNotFound) {
			return nil, &SignInError{Profile: a.profile, Reason: "the client secret is missing from the " + storageName(s.Storage)}
		}
		if err != nil {
			return nil, err
		}
		form = ClientCredentialsForm(s.ClientID, secret, s.Scope)
	case AuthTypeJWTAssertion:
		f, err := a.assertionForm()
		if err != nil {
			return nil, err
		}
		form = f
	default:
		return nil, &SignInError{Profile: a.profile, Reason: fmt.Sprintf("unknown sign-in type %q", s.AuthType)}
	}
	tr, err := a.tc.Token(ctx, form, nil)
	if err != nil {
		if rejectedCredentials(err) {
			return nil, &SignInError{Profile: a.profile, Reason: renewRefusal(s), Err: err}
		}
		return nil, err
	}
	if rtKey != "" && tr.RefreshToken != "" && tr.RefreshToken != oldRT {
		// Medplum has just revoked the old refresh token: keep the new one
		// before anything else can fail.
		if err := a.store.Set(rtKey, tr.RefreshToken); err != nil {
			return nil, fmt.Errorf("the server issued a new refresh token but storing it failed (sign in again): %w", err)
		}
	}
	return tr, nil
}

func (a *StoredAuth) assertionForm() (url.Values, error) {
	s := a.sess
	pemData, err := os.ReadFile(s.PrivateKeyPath)
	if err != nil {
		return nil, &SignInError{Profile: a.profile, Reason: "cannot read the private key for jwt-assertion", Err: err}
	}
	key, err := ParseAssertionKey(pemData, s.Alg)
	if err != nil {
		return nil, &SignInError{Profile: a.profile, Reason: "private key " + s.PrivateKeyPath, Err: err}
	}
	key.KeyID = s.KeyID
	return AssertionForm(key, s.ClientID, a.tc.TokenURL(), s.Scope, a.m.now())
}

// ClientCredentialsForm is the token request of a client_credentials grant
// with the secret in the form (Medplum also accepts Basic).
func ClientCredentialsForm(clientID, secret, scope string) url.Values {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return form
}

// AssertionForm is the token request of a private_key_jwt client_credentials
// grant with a fresh assertion whose audience is tokenURL.
func AssertionForm(key *AssertionKey, clientID, tokenURL, scope string, now time.Time) (url.Values, error) {
	assertion, err := key.Sign(clientID, tokenURL, now)
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {ClientAssertionType},
		"client_assertion":      {assertion},
	}
	if scope != "" {
		form.Set("scope", scope)
	}
	return form, nil
}

// rejectedCredentials: the token endpoint refused what we sent (revoked or
// expired refresh token, wrong secret, unknown client) as opposed to failing.
func rejectedCredentials(err error) bool {
	e := client.AsError(err)
	return e != nil && (e.Status == http.StatusBadRequest || e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

func renewRefusal(s *Session) string {
	switch s.AuthType {
	case AuthTypeClientCredentials, AuthTypeJWTAssertion:
		return "the server refused the stored client credentials"
	}
	return "the sign-in has expired or was revoked (the server refused the refresh token)"
}

func storageName(storage string) string {
	if storage == StorageFile {
		return "credentials file"
	}
	return "system keyring"
}

func describeRef(r client.Reference) string {
	if r.Display != "" {
		return fmt.Sprintf("%s (%s)", r.Display, r.Reference)
	}
	return r.Reference
}

// renewAt is when to stop using a token issued at now: shortly before it
// expires, by the same margin as ClientCredentials.
func renewAt(tr *client.TokenResponse, now time.Time) (renew, expires time.Time) {
	life := lifetime(tr, now)
	return now.Add(life - min(expiryMargin, life/10)), now.Add(life)
}

// Revoke signs a profile's stored logins out on the server (oauth2/logout),
// so their refresh tokens stop working everywhere, not only here. Each user
// login gets an access token (renewed if needed) and is revoked with it; a
// client's login is revoked with its cached token. A login the server
// already refuses counts as revoked. It returns how many logins the server
// revoked just now. tc talks to the session's server without credentials;
// newClient builds a client like it with the given authenticator.
func (m *Manager) Revoke(ctx context.Context, profile string, tc *client.Client, newClient func(client.Authenticator) (*client.Client, error)) (int, error) {
	s, err := m.Session(profile)
	if err != nil || s == nil {
		return 0, err
	}
	if err := s.checkTokenURL(profile, tc); err != nil {
		return 0, err
	}
	st, err := m.store(s.Storage)
	if err != nil {
		return 0, err
	}
	keys := []string{s.Active}
	if s.IsUser() {
		keys = keys[:0]
		for _, l := range s.Logins {
			keys = append(keys, l.Key)
		}
	}
	revoked := 0
	var errs []error
	for _, key := range keys {
		sess := *s
		sess.Active = key
		a := &StoredAuth{m: m, profile: profile, sess: &sess, store: st, tc: tc}
		if !s.IsUser() && s.AuthType != AuthTypeToken {
			// Don't mint a client token only to revoke it.
			c := readCachedToken(m.cachePath(profile), sess.cacheKey())
			if !c.valid(m.now()) {
				continue
			}
			a.tok = c
		}
		ok, err := a.logout(ctx, newClient)
		switch {
		case err == nil && ok:
			revoked++
		case err != nil:
			errs = append(errs, err)
		}
	}
	return revoked, errors.Join(errs...)
}

// logout calls oauth2/logout with the login's access token. (false, nil)
// means the server no longer accepts the login anyway.
func (a *StoredAuth) logout(ctx context.Context, newClient func(client.Authenticator) (*client.Client, error)) (bool, error) {
	c, err := newClient(a)
	if err != nil {
		return false, err
	}
	_, err = c.Do(ctx, &client.Request{Method: http.MethodPost, URL: "oauth2/logout", ContentType: client.ContentTypeJSON, Body: []byte("{}")})
	if err == nil {
		return true, nil
	}
	if errors.Is(err, ErrNotSignedIn) || client.StatusOf(err) == http.StatusUnauthorized {
		return false, nil
	}
	return false, err
}
