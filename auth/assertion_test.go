package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func rsaPEM(t *testing.T, pkcs8 bool) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if pkcs8 {
		b, _ := x509.MarshalPKCS8PrivateKey(k)
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b})
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func ecPEM(t *testing.T, c elliptic.Curve) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := x509.MarshalECPrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: b})
}

func TestClientAssertionClaims(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name, alg, want string
		pem             []byte
	}{
		{"rsa pkcs1 default", "", "RS384", rsaPEM(t, false)},
		{"rsa pkcs8 RS256", "rs256", "RS256", rsaPEM(t, true)},
		{"rsa PS512", "PS512", "PS512", rsaPEM(t, false)},
		{"ec p256", "", "ES256", ecPEM(t, elliptic.P256())},
		{"ec p384 explicit", "ES384", "ES384", ecPEM(t, elliptic.P384())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseAssertionKey(tc.pem, tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			k.KeyID = "key-1"
			s, err := k.Sign("client-1", "https://api.example.com/oauth2/token", now)
			if err != nil {
				t.Fatal(err)
			}
			var claims jwt.RegisteredClaims
			tok, err := jwt.ParseWithClaims(s, &claims, func(*jwt.Token) (any, error) { return k.Public(), nil },
				jwt.WithTimeFunc(func() time.Time { return now.Add(time.Minute) }),
				jwt.WithAudience("https://api.example.com/oauth2/token"), jwt.WithIssuer("client-1"), jwt.WithSubject("client-1"))
			if err != nil {
				t.Fatalf("the assertion does not verify: %v", err)
			}
			if tok.Method.Alg() != tc.want || tok.Header["kid"] != "key-1" {
				t.Errorf("header = %v", tok.Header)
			}
			if claims.ID == "" || !claims.IssuedAt.Time.Equal(now) || !claims.ExpiresAt.Time.Equal(now.Add(5*time.Minute)) {
				t.Errorf("claims = %+v", claims)
			}
			parts := strings.Split(s, ".")
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			if !strings.Contains(string(payload), `"aud":"https://api.example.com/oauth2/token"`) {
				t.Errorf("aud must be a plain string (Medplum compares it as one): %s", payload)
			}
			s2, _ := k.Sign("client-1", "x", now)
			var c2 jwt.RegisteredClaims
			jwt.NewParser().ParseUnverified(s2, &c2)
			if c2.ID == claims.ID {
				t.Error("two assertions share a jti")
			}
		})
	}
}

func TestParseAssertionKeyErrors(t *testing.T) {
	rsaKey, ecKey := rsaPEM(t, false), ecPEM(t, elliptic.P256())
	for _, tc := range []struct {
		name string
		pem  []byte
		alg  string
		want string
	}{
		{"not pem", []byte("hello"), "", "no PEM private key found"},
		{"public key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}), "", `PEM block "PUBLIC KEY" is not a private key`},
		{"encrypted", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}), "", "the private key is encrypted"},
		{"rsa with ES256", rsaKey, "ES256", "algorithm ES256 does not fit an RSA key"},
		{"ec with ES384", ecKey, "ES384", "algorithm ES384 does not fit this P-256 key (use ES256)"},
		{"rsa with HS256", rsaKey, "HS256", "algorithm HS256 does not fit an RSA key"},
		{"damaged", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1, 2, 3}}), "", "parse private key"},
	} {
		_, err := ParseAssertionKey(tc.pem, tc.alg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
