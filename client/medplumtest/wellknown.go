package medplumtest

import "sort"

// Public discovery endpoints: the FHIR CapabilityStatement and the OpenID
// configuration (reference §2.11).

// capabilityStatement is GET /fhir/R4/metadata (no authentication).
func (s *Server) capabilityStatement(c *reqCtx) {
	types := make([]string, 0, len(resourceTypes))
	for t := range resourceTypes {
		types = append(types, t)
	}
	sort.Strings(types)
	resources := make([]any, 0, len(types))
	for _, t := range types {
		interactions := []any{}
		for _, code := range []string{"create", "read", "update", "patch", "delete", "search-type"} {
			interactions = append(interactions, map[string]any{"code": code})
		}
		resources = append(resources, map[string]any{"type": t, "interaction": interactions})
	}
	c.fhir(200, map[string]any{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         formatInstant(s.now()),
		"kind":         "instance",
		"software":     map[string]any{"name": "medplumtest (Medplum 5.0.10 compatible)", "version": "5.0.10"},
		"implementation": map[string]any{
			"description": "In-memory Medplum server for tests and demos",
			"url":         s.baseURL(c.r) + "fhir/R4",
		},
		"fhirVersion": "4.0.1",
		"format":      []any{"json"},
		"rest":        []any{map[string]any{"mode": "server", "resource": resources}},
	})
}

// openIDConfiguration is GET /.well-known/openid-configuration.
func (s *Server) openIDConfiguration(c *reqCtx) {
	base := s.baseURL(c.r)
	c.json(200, map[string]any{
		"issuer":                                base,
		"authorization_endpoint":                base + "oauth2/authorize",
		"token_endpoint":                        base + "oauth2/token",
		"id_token_signing_alg_values_supported": []any{"HS256"},
		"grant_types_supported": []any{
			"authorization_code", "refresh_token", "client_credentials",
			"urn:ietf:params:oauth:grant-type:token-exchange",
		},
		"response_types_supported":              []any{"code"},
		"scopes_supported":                      []any{"openid", "offline_access", "profile", "email", "fhirUser"},
		"subject_types_supported":               []any{"public"},
		"token_endpoint_auth_methods_supported": []any{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"code_challenge_methods_supported":      []any{"plain", "S256"},
	})
}
