package medplumtest

import "github.com/medplumcli/medplum/client"

// Provisioning routes the CLI uses beyond the admin and FHIR basics.

func (s *Server) provisionRoutes() {
	s.handle("POST", "/fhir/R4/ClientApplication/:id/$rotate-secret", s.rotateClientSecret)
}

// rotateClientSecret is ClientApplication/:id/$rotate-secret
// (fhir/operations/rotatesecret.ts): project admins and super admins only.
// With the current "secret", a new 32-character secret replaces it and the
// old one becomes retiringSecret (still accepted by the token endpoint and
// Basic auth); with the "retiringSecret", that one is forgotten. The
// client is read and written through the system repository, as on the
// real server: its meta.author stays who made it, the answer (the
// ClientApplication itself) has its whole meta, and the FHIR quota is not
// charged (captures 173, 173b).
func (s *Server) rotateClientSecret(c *reqCtx) {
	if !c.auth.admin() {
		c.sendOutcome(forbidden())
		return
	}
	params := parameters(c.bodyObject())
	secret, _ := params["secret"].(string)
	retiring, _ := params["retiringSecret"].(string)
	switch {
	case secret == "" && retiring == "":
		c.sendOutcome(badRequest("Secret to rotate must be provided"))
		return
	case secret != "" && retiring != "":
		c.sendOutcome(badRequest("Only one secret can be rotated at a time"))
		return
	}
	s.mu.Lock()
	rec := s.st.live("ClientApplication", c.params["id"])
	if rec == nil {
		c.unlockOutcome(notFound())
		return
	}
	next := deepCopy(rec.res)
	switch {
	case secret != "" && secret == rec.res.String("secret"):
		next["secret"] = newSecret(32)
		next["retiringSecret"] = secret
	case retiring != "" && retiring == rec.res.String("retiringSecret"):
		delete(next, "retiringSecret")
	default:
		c.unlockOutcome(badRequest("Provided secret does not match client"))
		return
	}
	rec = s.st.write(next, rec.project, nil, s.now())
	out := presentResource(rec.res, true)
	s.mu.Unlock()
	c.fhirResource(200, client.Resource(out))
}
