package medplumtest

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"

	"github.com/medplumcli/medplum/client"
)

// Sign-ins as FHIR Login resources, which only super admins may read or
// search (captures 159-163). A person's sign-ins are Login resources on
// Medplum; client_credentials (and bot) sign-ins live in its cache only and
// are never found (161b). The server keeps its sign-ins in s.logins; these
// are views of them.

// storedLogin reports whether Medplum keeps a sign-in as a resource.
func storedLogin(l *login) bool { return l.AuthMethod != "client" && l.AuthMethod != "execute" }

// derivedID is a stable UUID-shaped value made from parts (a Login's
// versionId, which changes with what it shows).
func derivedID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p + "\x00"))
	}
	s := hex.EncodeToString(h.Sum(nil))
	return s[:8] + "-" + s[8:12] + "-4" + s[13:16] + "-8" + s[17:20] + "-" + s[20:32]
}

// loginRecord is the Login resource of a sign-in. Holds s.mu.
func (s *Server) loginRecord(l *login) *record {
	r := client.Resource{"resourceType": "Login", "id": l.ID}
	if l.ProjectID != "" {
		r["project"] = map[string]any{"reference": "Project/" + l.ProjectID}
	}
	user := map[string]any{"reference": l.UserRef}
	if u := s.st.liveRef(l.UserRef); u != nil && u.res.String("email") != "" {
		user["display"] = u.res.String("email")
	}
	r["user"] = user
	r["authMethod"] = l.AuthMethod
	r["authTime"] = formatInstant(l.Created)
	r["code"] = l.Code
	r["cookie"] = derivedID(l.ID, "cookie")[:8] + l.Code[:min(24, len(l.Code))]
	r["scope"] = l.Scope
	if l.Nonce != "" {
		r["nonce"] = l.Nonce
	}
	if l.CodeChallenge != "" {
		r["codeChallenge"], r["codeChallengeMethod"] = l.CodeChallenge, l.CodeChallengeMethod
	}
	r["remoteAddress"] = remoteHost(l.RemoteAddress)
	if l.UserAgent != "" {
		r["userAgent"] = l.UserAgent
	}
	if l.MembershipID != "" {
		r["membership"] = map[string]any{"reference": "ProjectMembership/" + l.MembershipID}
	}
	state := ""
	for _, f := range []struct {
		key string
		on  bool
	}{{"mfaVerified", l.MFAVerified}, {"granted", l.Granted}, {"revoked", l.Revoked}} {
		if f.on {
			r[f.key] = true
			state += f.key
		}
	}
	r["meta"] = map[string]any{"versionId": derivedID(l.ID, l.MembershipID, state), "lastUpdated": formatInstant(l.Created)}
	return &record{typ: "Login", id: l.ID, res: r, updated: l.Created.UTC().Truncate(1e6)}
}

// loginRecords are the stored sign-ins as Login resources, oldest first.
// Holds s.mu.
func (s *Server) loginRecords() []*record {
	var stored []*login
	for _, l := range s.logins {
		if storedLogin(l) {
			stored = append(stored, l)
		}
	}
	// By the sign-in's own clock, not the millisecond its lastUpdated
	// shows: two sign-ins of one millisecond keep the order they happened
	// in (the contract test's 161 compares the second entry, and ordering
	// ties by random id made it flaky).
	sort.SliceStable(stored, func(i, j int) bool {
		if !stored[i].Created.Equal(stored[j].Created) {
			return stored[i].Created.Before(stored[j].Created)
		}
		return stored[i].ID < stored[j].ID
	})
	out := make([]*record, len(stored))
	for i, l := range stored {
		out[i] = s.loginRecord(l)
	}
	return out
}

// virtualRecord is the Login of that id, if the type is Login. Holds s.mu.
func (s *Server) virtualRecord(typ, id string) (*record, bool) {
	if typ != "Login" {
		return nil, false
	}
	if l := s.logins[id]; l != nil && storedLogin(l) {
		return s.loginRecord(l), true
	}
	return nil, true
}
