package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/medplumcli/medplum/client"
)

// TokenSource is an Authenticator that can show its bearer token (for
// `medplum token`).
type TokenSource interface {
	client.Authenticator
	AccessToken(ctx context.Context) (string, error)
}

// NewAuthenticator returns the client.Authenticator for s, in this order:
//
//  1. s.AccessToken (MEDPLUM_CLIENT_ACCESS_TOKEN): that bearer token as it is.
//  2. s.ClientID and s.ClientSecret: with AuthType "basic", HTTP Basic on
//     every request (as the official CLI's basic auth type); otherwise the
//     client-credentials grant: a form POST to the token URL through
//     tokenClient, once per process, the token reused until shortly before
//     it expires. Without an AuthType or a Scope the first request goes
//     with Basic credentials instead of waiting for a token (BasicFirst):
//     a command that makes one request makes one round trip.
//  3. Nothing usable: ErrNotSignedIn (also when only one of the client id
//     and secret is set; the error says which is missing).
//
// tokenClient must be a client for the same server without an Authenticator
// (token requests never carry the credentials being obtained).
func NewAuthenticator(s Settings, tokenClient *client.Client) (client.Authenticator, error) {
	id, secret := strings.TrimSpace(s.ClientID), s.ClientSecret
	switch {
	case s.AccessToken != "":
		return &BearerToken{Token: s.AccessToken}, nil
	case id != "" && secret != "":
		if s.AuthType == AuthTypeBasic {
			return &BasicCredentials{ClientID: id, ClientSecret: secret}, nil
		}
		if tokenClient == nil {
			return nil, fmt.Errorf("auth: client credentials need a token client")
		}
		cc := NewClientCredentials(tokenClient, id, secret)
		cc.BasicFirst = s.AuthType == "" && s.Scope == ""
		return cc, nil
	case id != "":
		return nil, fmt.Errorf("%w: client id %s has no client secret (set MEDPLUM_CLIENT_SECRET or --client-secret)", ErrNotSignedIn, id)
	case secret != "":
		return nil, fmt.Errorf("%w: a client secret is set without a client id (set MEDPLUM_CLIENT_ID or --client-id)", ErrNotSignedIn)
	}
	return nil, ErrNotSignedIn
}

// BearerToken sends a fixed access token. It cannot be refreshed: a 401 is
// final.
type BearerToken struct{ Token string }

// Apply implements client.Authenticator.
func (b *BearerToken) Apply(_ context.Context, r *http.Request) error {
	r.Header.Set("Authorization", "Bearer "+b.Token)
	return nil
}

// Refresh implements client.Authenticator: a fixed token has no refresh.
func (b *BearerToken) Refresh(context.Context) (bool, error) { return false, nil }

// AccessToken implements TokenSource.
func (b *BearerToken) AccessToken(context.Context) (string, error) { return b.Token, nil }

// BasicCredentials sends the client id and secret as HTTP Basic on every
// request (Medplum accepts them on any route).
type BasicCredentials struct{ ClientID, ClientSecret string }

// Apply implements client.Authenticator.
func (b *BasicCredentials) Apply(_ context.Context, r *http.Request) error {
	r.SetBasicAuth(b.ClientID, b.ClientSecret)
	return nil
}

// Refresh implements client.Authenticator: Basic credentials have no refresh.
func (b *BasicCredentials) Refresh(context.Context) (bool, error) { return false, nil }

// Timing of ClientCredentials; variables so tests can shorten them.
var (
	// expiryMargin is how long before expiry a token is replaced: the
	// smaller of this and a tenth of the token's lifetime.
	expiryMargin = 5 * time.Minute
	// freshWindow: after a 401, a token fetched less than this long ago is
	// not fetched again (concurrent 401s of one expired token share one
	// fetch); the request is resent with it once.
	freshWindow = 5 * time.Second
	// fetchTimeout bounds one token request, which runs on behalf of every
	// waiting caller and so cannot use any single caller's context.
	fetchTimeout = time.Minute
	// unknownLifetime is assumed when the answer gives neither expires_in
	// nor a JWT exp.
	unknownLifetime = 5 * time.Minute
)

// ClientCredentials obtains tokens with the OAuth client-credentials grant.
// A token is requested once and reused by every request until shortly
// before it expires; concurrent callers share one token request.
type ClientCredentials struct {
	// BasicFirst sends the first request with the client id and secret as
	// HTTP Basic credentials, which Medplum accepts on every authenticated
	// route (captures 45, 46b, 231), and only the requests after it with a
	// token: one round trip for a command that makes one request, one
	// token for all the requests of a longer one. A server that refuses
	// the Basic credentials (401: 5.0.10 checks them against the client's
	// secret only, not its retiringSecret, capture 230) gets the request
	// again with a token (Refresh).
	BasicFirst bool

	tc       *client.Client
	clientID string
	secret   string
	now      func() time.Time

	mu        sync.Mutex
	basicSent bool
	token     string
	expiry    time.Time // when to stop using token
	fetchedAt time.Time
	inflight  *tokenFetch
}

type tokenFetch struct {
	done  chan struct{}
	token string
	err   error
}

// NewClientCredentials returns a ClientCredentials authenticator that posts
// to tc's token URL.
func NewClientCredentials(tc *client.Client, clientID, clientSecret string) *ClientCredentials {
	return &ClientCredentials{tc: tc, clientID: clientID, secret: clientSecret, now: time.Now}
}

// Apply implements client.Authenticator: Basic credentials on the first
// request with BasicFirst (while no token is there or on its way), else
// the token.
func (c *ClientCredentials) Apply(ctx context.Context, r *http.Request) error {
	c.mu.Lock()
	basic := c.BasicFirst && !c.basicSent && c.token == "" && c.inflight == nil
	c.basicSent = c.basicSent || basic
	c.mu.Unlock()
	if basic {
		r.SetBasicAuth(c.clientID, c.secret)
		return nil
	}
	tok, err := c.AccessToken(ctx)
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Refresh implements client.Authenticator: the cached token is dropped and a
// new one fetched, unless one was fetched moments ago. After the first
// request's Basic credentials were refused (no token yet), a token is
// fetched, and if that fails its error is the command's error
// (basicRefusedError), not the 401.
func (c *ClientCredentials) Refresh(ctx context.Context) (bool, error) {
	c.mu.Lock()
	if c.token != "" && c.now().Sub(c.fetchedAt) < freshWindow {
		c.mu.Unlock()
		return true, nil
	}
	afterBasic := c.basicSent && c.token == ""
	c.token = ""
	c.mu.Unlock()
	if _, err := c.AccessToken(ctx); err != nil {
		if afterBasic {
			return false, &basicRefusedError{err}
		}
		return false, err
	}
	return true, nil
}

// basicRefusedError is a failed token request after the server refused the
// same credentials as Basic: the token endpoint's answer says more than the
// 401 did, so it replaces it (client.Authenticator).
type basicRefusedError struct{ err error }

func (e *basicRefusedError) Error() string              { return e.err.Error() }
func (e *basicRefusedError) Unwrap() error              { return e.err }
func (e *basicRefusedError) ReplacesUnauthorized() bool { return true }

// AccessToken returns a valid token, fetching one if needed.
func (c *ClientCredentials) AccessToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	if c.token != "" && c.now().Before(c.expiry) {
		tok := c.token
		c.mu.Unlock()
		return tok, nil
	}
	f := c.inflight
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		c.inflight = f
		go c.fetch(context.WithoutCancel(ctx), f)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (c *ClientCredentials) fetch(ctx context.Context, f *tokenFetch) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.clientID},
		"client_secret": {c.secret},
	}
	tr, err := c.tc.Token(ctx, form, nil)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight = nil
	if err != nil {
		// Only a refusal is "rejected" (exit 4); a wrong token URL (404)
		// or a rate limit (429) says nothing about the credentials.
		if rejectedCredentials(err) {
			err = &rejectedError{err}
		}
		f.err = fmt.Errorf("client credentials sign-in for client %s failed: %w", c.clientID, err)
	} else {
		life := lifetime(tr, now)
		c.token, c.fetchedAt = tr.AccessToken, now
		c.expiry = now.Add(life - min(expiryMargin, life/10))
		f.token = tr.AccessToken
	}
	close(f.done)
}

// lifetime is how long a token is valid from now: expires_in, else the JWT's
// exp claim, else unknownLifetime.
func lifetime(tr *client.TokenResponse, now time.Time) time.Duration {
	if tr.ExpiresIn > 0 {
		return time.Duration(tr.ExpiresIn) * time.Second
	}
	if exp, ok := jwtExpiry(tr.AccessToken); ok && exp.After(now) {
		return exp.Sub(now)
	}
	return unknownLifetime
}

// jwtExpiry reads the exp claim of a JWT without verifying it (the server
// verifies; this only schedules reuse).
func jwtExpiry(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return time.Time{}, false
	}
	sec, err := claims.Exp.Float64()
	if err != nil || sec <= 0 {
		return time.Time{}, false
	}
	return time.Unix(int64(sec), 0), true
}

// rejectedError marks a token-endpoint refusal: errors.Is finds
// ErrCredentialsRejected, errors.As still finds the *client.Error.
type rejectedError struct{ err error }

func (e *rejectedError) Error() string { return e.err.Error() }
func (e *rejectedError) Unwrap() []error {
	return []error{ErrCredentialsRejected, e.err}
}
