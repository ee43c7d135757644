package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// PKCE is one proof key (RFC 7636) for an authorization-code login.
type PKCE struct {
	Verifier  string // sent with the code at the token endpoint
	Challenge string // sent with the login: BASE64URL(SHA256(Verifier))
	Method    string // always "S256"
}

// NewPKCE returns a fresh S256 proof key with a 43-character verifier.
func NewPKCE() PKCE {
	v := randomToken(32)
	return PKCE{Verifier: v, Challenge: S256Challenge(v), Method: "S256"}
}

// S256Challenge is the S256 code challenge of verifier.
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// NewState returns a random OAuth state value (128 bits).
func NewState() string { return randomToken(16) }

// randomToken is n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// equalSecret compares two secrets in constant time.
func equalSecret(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
