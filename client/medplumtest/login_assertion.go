package medplumtest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// private_key_jwt client authentication (token.ts parseClientAssertion): the
// client signs a JWT with its private key; the server fetches the client's
// JWK set from its jwksUri and verifies it.

const jwtBearerAssertion = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// SetClientKeys publishes public keys as a JWK set served by this server and
// points the ClientApplication's jwksUri at it, so the client can sign in
// with a client assertion. kid names the keys "key-1", "key-2", ...
func (s *Server) SetClientKeys(clientID string, keys ...crypto.PublicKey) {
	set, err := JWKS(keys...)
	if err != nil {
		panic("medplumtest: SetClientKeys: " + err.Error())
	}
	f := s.loginState()
	f.mu.Lock()
	if f.jwks == nil {
		f.jwks = map[string][]byte{}
	}
	f.jwks[clientID] = set
	f.mu.Unlock()
	s.SetClientJWKSURI(clientID, s.URL+".well-known/medplumtest-jwks/"+clientID)
}

// SetClientJWKSURI sets a ClientApplication's jwksUri.
func (s *Server) SetClientJWKSURI(clientID, uri string) {
	s.setClientField(clientID, "jwksUri", uri)
}

// serveJWKS is GET /.well-known/medplumtest-jwks/:id, the JWK sets
// SetClientKeys publishes.
func (s *Server) serveJWKS(c *reqCtx) {
	f := s.loginState()
	f.mu.Lock()
	set := f.jwks[c.params["id"]]
	f.mu.Unlock()
	if set == nil {
		c.expressNotFound()
		return
	}
	c.write(200, ctJSON, set)
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// JWKS encodes RSA and EC public keys as a JWK set, kid "key-1", "key-2", ...
func JWKS(keys ...crypto.PublicKey) ([]byte, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	var set struct {
		Keys []jwk `json:"keys"`
	}
	for i, k := range keys {
		j := jwk{Kid: fmt.Sprintf("key-%d", i+1), Use: "sig"}
		switch k := k.(type) {
		case *rsa.PublicKey:
			j.Kty, j.N, j.E = "RSA", b64(k.N.Bytes()), b64(big.NewInt(int64(k.E)).Bytes())
		case *ecdsa.PublicKey:
			size := (k.Curve.Params().BitSize + 7) / 8
			j.Kty, j.Crv = "EC", k.Curve.Params().Name
			j.X, j.Y = b64(k.X.FillBytes(make([]byte, size))), b64(k.Y.FillBytes(make([]byte, size)))
		default:
			return nil, fmt.Errorf("unsupported key type %T", k)
		}
		set.Keys = append(set.Keys, j)
	}
	return json.Marshal(set)
}

func (j jwk) publicKey() (crypto.PublicKey, error) {
	dec := base64.RawURLEncoding.DecodeString
	switch j.Kty {
	case "RSA":
		n, err1 := dec(j.N)
		e, err2 := dec(j.E)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	case "EC":
		curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[j.Crv]
		x, err1 := dec(j.X)
		y, err2 := dec(j.Y)
		if curve == nil || errors.Join(err1, err2) != nil {
			return nil, errors.New("bad EC key")
		}
		return &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}, nil
	}
	return nil, fmt.Errorf("unsupported kty %q", j.Kty)
}

// fetchJWKS downloads a JWK set and returns its keys by kid ("" for keys
// without one).
func fetchJWKS(ctx context.Context, uri string) ([]jwk, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != 200 {
		return nil, fmt.Errorf("JWKS answered %d", resp.StatusCode)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, err
	}
	return set.Keys, nil
}

// checkClientAssertion verifies a client assertion and returns the client's
// id and secret, or the error description (parseClientAssertion).
func (s *Server) checkClientAssertion(c *reqCtx, typ, assertion string) (id, secret, msg string) {
	if typ != jwtBearerAssertion {
		return "", "", "Unsupported client assertion type"
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(assertion, claims); err != nil {
		return "", "", "Invalid client assertion"
	}
	tokenURL := s.tokenURL(c)
	if aud, _ := claims["aud"].(string); aud != tokenURL {
		return "", "", "Invalid client assertion audience"
	}
	iss, _ := claims["iss"].(string)
	if sub, _ := claims["sub"].(string); iss == "" || iss != sub {
		return "", "", "Invalid client assertion issuer"
	}
	s.mu.Lock()
	rec := s.st.live("ClientApplication", iss)
	var jwksURI, appSecret string
	if rec != nil {
		jwksURI, appSecret = rec.res.String("jwksUri"), rec.res.String("secret")
	}
	s.mu.Unlock()
	if rec == nil {
		return "", "", "Client not found"
	}
	if jwksURI == "" {
		return "", "", "Client must have a JWK Set URL"
	}
	keys, err := fetchJWKS(c.r.Context(), jwksURI)
	if err != nil {
		return "", "", "Invalid client assertion signature"
	}
	_, err = jwt.Parse(assertion, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		var set jwt.VerificationKeySet
		for _, k := range keys {
			if kid != "" && k.Kid != "" && k.Kid != kid {
				continue
			}
			if pk, err := k.publicKey(); err == nil {
				set.Keys = append(set.Keys, pk)
			}
		}
		return set, nil
	}, jwt.WithValidMethods([]string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}),
		jwt.WithIssuer(iss), jwt.WithAudience(tokenURL), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired())
	if err != nil {
		return "", "", "Invalid client assertion signature"
	}
	return iss, appSecret, ""
}
