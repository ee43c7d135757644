package auth

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/medplumcli/medplum/client"
)

// cachedToken is an access token kept between processes: in a 0600 file in a
// 0700 directory under the user's cache directory, never in the config
// directory. It is short-lived; the long-lived secrets (refresh token, client
// secret) stay in the Store.
type cachedToken struct {
	// For names what the token belongs to: the base URL plus the login key or
	// client id. A token for anything else is ignored.
	For         string    `json:"for"`
	AccessToken string    `json:"access_token"`
	ExpiresAt   time.Time `json:"expires_at"`
	// RenewAt is shortly before ExpiresAt: a token past it is renewed first,
	// so it does not run out in the middle of a command.
	RenewAt time.Time `json:"renew_at"`
	// Gen is random per write: two renewals can return byte-identical tokens
	// (same claims in the same second), so "someone else renewed" is told by
	// Gen, not by the token.
	Gen string `json:"gen"`
}

func newCachedToken(forKey string, tr *client.TokenResponse, now time.Time) *cachedToken {
	renew, expires := renewAt(tr, now)
	return &cachedToken{For: forKey, AccessToken: tr.AccessToken, ExpiresAt: expires, RenewAt: renew, Gen: randomToken(9)}
}

// fresh: usable without renewing.
func (t *cachedToken) fresh(now time.Time) bool {
	return t != nil && t.AccessToken != "" && now.Before(t.RenewAt)
}

// valid: not expired yet (possibly within the skew).
func (t *cachedToken) valid(now time.Time) bool {
	return t != nil && t.AccessToken != "" && now.Before(t.ExpiresAt)
}

// readCachedToken returns the cached token for "for", or nil. A missing,
// unreadable or foreign cache is simply a miss: the cache can always be
// rebuilt.
func readCachedToken(path, forKey string) *cachedToken {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var t cachedToken
	if json.Unmarshal(data, &t) != nil || t.For != forKey {
		return nil
	}
	return &t
}

func writeCachedToken(path string, t *cachedToken) error {
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}

func removeCachedToken(path string) error {
	err := os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
