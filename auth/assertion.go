package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ClientAssertionType is the client_assertion_type of private_key_jwt.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// DefaultAssertionAlg is the signing algorithm of a client assertion, as the
// official CLI uses it.
const DefaultAssertionAlg = "RS384"

// assertionLifetime is how long a client assertion is valid.
const assertionLifetime = 5 * time.Minute

// AssertionKey is a parsed private key for private_key_jwt.
type AssertionKey struct {
	signer crypto.Signer
	alg    jwt.SigningMethod
	KeyID  string // optional "kid" header, for a JWK set with several keys
}

// ParseAssertionKey reads a PEM private key (PKCS#1 or PKCS#8 RSA, SEC 1 or
// PKCS#8 EC) and checks it fits alg: RS256/384/512, PS256/384/512 for RSA,
// ES256/384/512 for the matching EC curve. An empty alg means RS384 for RSA
// keys and the curve's ES algorithm for EC keys.
func ParseAssertionKey(pemData []byte, alg string) (*AssertionKey, error) {
	block, _ := pem.Decode(pemData)
	if block == nil {
		return nil, errors.New("no PEM private key found")
	}
	if x509.IsEncryptedPEMBlock(block) { //nolint:staticcheck // only to give a clear error
		return nil, errors.New("the private key is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem)")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("the private key is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem)")
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	alg = strings.ToUpper(strings.TrimSpace(alg))
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if alg == "" {
			alg = DefaultAssertionAlg
		}
		if !strings.HasPrefix(alg, "RS") && !strings.HasPrefix(alg, "PS") {
			return nil, fmt.Errorf("algorithm %s does not fit an RSA key (use RS256, RS384, RS512, PS256, PS384 or PS512)", alg)
		}
		return newAssertionKey(k, alg)
	case *ecdsa.PrivateKey:
		want := map[elliptic.Curve]string{elliptic.P256(): "ES256", elliptic.P384(): "ES384", elliptic.P521(): "ES512"}[k.Curve]
		if want == "" {
			return nil, errors.New("unsupported EC curve (use P-256, P-384 or P-521)")
		}
		if alg == "" || alg == DefaultAssertionAlg {
			alg = want
		}
		if alg != want {
			return nil, fmt.Errorf("algorithm %s does not fit this %s key (use %s)", alg, k.Curve.Params().Name, want)
		}
		return newAssertionKey(k, alg)
	default:
		return nil, fmt.Errorf("unsupported private key type %T (use RSA or EC)", key)
	}
}

func newAssertionKey(k crypto.Signer, alg string) (*AssertionKey, error) {
	m := jwt.GetSigningMethod(alg)
	if m == nil {
		return nil, fmt.Errorf("unknown signing algorithm %q", alg)
	}
	return &AssertionKey{signer: k, alg: m}, nil
}

// Alg is the JWS algorithm the key signs with.
func (k *AssertionKey) Alg() string { return k.alg.Alg() }

// Sign returns a client assertion for clientID: iss = sub = clientID,
// aud = the token URL (Medplum requires it to equal its token endpoint
// exactly), a random jti, iat = now, exp = now + 5 minutes.
func (k *AssertionKey) Sign(clientID, tokenURL string, now time.Time) (string, error) {
	// aud is a plain string, not a one-element array: Medplum compares the
	// claim with its token URL as a string (oauth/token.ts).
	claims := jwt.MapClaims{
		"iss": clientID,
		"sub": clientID,
		"aud": tokenURL,
		"jti": randomToken(16),
		"iat": now.Unix(),
		"exp": now.Add(assertionLifetime).Unix(),
	}
	t := jwt.NewWithClaims(k.alg, claims)
	if k.KeyID != "" {
		t.Header["kid"] = k.KeyID
	}
	s, err := t.SignedString(k.signer)
	if err != nil {
		return "", fmt.Errorf("sign the client assertion: %w", err)
	}
	return s, nil
}

// Public returns the public key (for tests and for printing a JWK).
func (k *AssertionKey) Public() crypto.PublicKey { return k.signer.Public() }
