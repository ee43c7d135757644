package medplumtest

import (
	"fmt"
	"time"

	"github.com/medplumcli/medplum/client"
)

// Seed describes what a new Server holds.
type Seed struct {
	// ProjectID and ProjectName are the seeded project, where the CLI works.
	ProjectID   string
	ProjectName string
	// SuperAdminProjectID is the "Super Admin" project (superAdmin: true).
	SuperAdminProjectID string

	// Client is a ClientApplication that is an admin of ProjectID.
	Client ClientCredentials
	// SuperAdminClient is a ClientApplication of the super-admin project:
	// it can create projects (POST fhir/R4/Project) and act on any project.
	SuperAdminClient ClientCredentials

	// AdminEmail and AdminPassword sign in the admin user (server-scoped),
	// who owns ProjectID and is a member of both projects.
	AdminEmail    string
	AdminPassword string
	AdminUserID   string

	// Members of ProjectID.
	Admin Member // the admin user's Practitioner membership (admin, owner)
	Homer Member // Patient "Homer Simpson", homer@example.com, project-scoped user
	Bot   Member // a Bot
	// SuperAdmin is the admin user's membership of the super-admin project.
	SuperAdmin Member
	// Generated are the WithMembers(n) members, in creation order.
	Generated []Member
}

// ClientCredentials identify a seeded ClientApplication and its membership.
type ClientCredentials struct {
	ID           string
	Secret       string
	MembershipID string
}

// Member is a seeded ProjectMembership.
type Member struct {
	MembershipID string
	Profile      string // "Patient/<id>", "Practitioner/<id>", "Bot/<id>"
	User         string // "User/<id>", or the Bot/ClientApplication reference
	Email        string
}

func (s *Server) seed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := s.cfg
	sd := &s.Seed
	// The seed was written before now, the generated members one
	// millisecond apart, ending now, as a server writes them one request
	// at a time: a page of a search sorted by _lastUpdated is then never one
	// instant, which Medplum's cursor cannot page past ("Cursor fails to
	// make progress"). With WithClock, everything is written at the
	// clock's time.
	start := s.now().Add(-time.Duration(cfg.members) * time.Millisecond)
	if cfg.clockSet {
		start = time.Time{}
	}
	s.seedAt = start
	defer func() { s.seedAt = time.Time{} }()
	sd.AdminEmail, sd.AdminPassword = cfg.adminEmail, cfg.adminPassword

	admin := s.seedWrite(client.Resource{
		"resourceType": "User", "firstName": "Medplum", "lastName": "Admin",
		"email": cfg.adminEmail, "emailVerified": true, "passwordHash": hashPassword(cfg.adminPassword),
	}, "")
	sd.AdminUserID = admin.id
	owner := map[string]any{"reference": "User/" + admin.id, "display": cfg.adminEmail}

	sa := s.seedProject("Super Admin", true, owner)
	// Every 5.0.10 server has the base "FHIR R4" project (its fixed id,
	// constants.ts r4ProjectId), written just after the Super Admin one
	// (capture 04 lists them in that order).
	s.seedWrite(client.Resource{"resourceType": "Project", "id": R4ProjectID, "name": "FHIR R4"}, R4ProjectID)
	sd.SuperAdminProjectID = sa.id
	sd.SuperAdmin = s.seedHuman(sa, admin, "Practitioner", "Medplum", "Admin", true)
	sd.SuperAdminClient = s.seedClient(sa, "Super Admin Client", cfg.saClientID, cfg.saClientSecret)

	var features []any
	if !cfg.noBots {
		features = []any{"bots"} // a super admin enabled bots (WithoutBots: not)
	}
	p := s.seedProject(cfg.projectName, false, owner, features...)
	sd.ProjectID, sd.ProjectName = p.id, cfg.projectName
	sd.Admin = s.seedHuman(p, admin, "Practitioner", "Medplum", "Admin", true)
	sd.Client = s.seedClient(p, cfg.projectName+" Admin Client", cfg.clientID, cfg.clientSecret)

	homer := s.seedWrite(client.Resource{
		"resourceType": "User", "firstName": "Homer", "lastName": "Simpson", "email": "homer@example.com",
		"passwordHash": hashPassword(""), "project": map[string]any{"reference": "Project/" + p.id},
	}, p.id)
	sd.Homer = s.seedHuman(p, homer, "Patient", "Homer", "Simpson", false)

	bot := s.seedWrite(client.Resource{"resourceType": "Bot", "name": "Sandbox Bot", "description": "", "runtimeVersion": "vmcontext"}, p.id)
	ref := createReference(bot)
	m := s.seedWrite(client.Resource{
		"resourceType": "ProjectMembership", "project": createReference(p), "user": ref, "profile": deepCopy(ref),
	}, p.id)
	sd.Bot = Member{MembershipID: m.id, Profile: "Bot/" + bot.id, User: "Bot/" + bot.id}

	for i := 1; i <= cfg.members; i++ {
		if !cfg.clockSet {
			s.seedAt = start.Add(time.Duration(i) * time.Millisecond)
		}
		email := fmt.Sprintf("member%05d@example.com", i)
		u := s.seedWrite(client.Resource{
			"resourceType": "User", "firstName": "Member", "lastName": fmt.Sprintf("%05d", i),
			"email": email, "passwordHash": hashPassword(""),
		}, "")
		sd.Generated = append(sd.Generated, s.seedHuman(p, u, "Practitioner", "Member", fmt.Sprintf("%05d", i), false))
	}
}

func (s *Server) seedWrite(r client.Resource, project string) *record {
	at := s.seedAt
	if at.IsZero() {
		at = s.now()
	}
	return s.st.write(r, project, systemAuthor, at)
}

// R4ProjectID is the base "FHIR R4" project's id on every Medplum 5.0.10
// (constants.ts r4ProjectId, a UUIDv5 of "R4"; captures 04, 545-545c).
const R4ProjectID = "161452d9-43b7-5c29-aa7b-c85680fa45c6"

func (s *Server) seedProject(name string, superAdmin bool, owner map[string]any, features ...any) *record {
	id := newID()
	r := client.Resource{"resourceType": "Project", "id": id, "name": name, "strictMode": true, "owner": owner}
	if superAdmin {
		r["superAdmin"] = true
	}
	if len(features) > 0 {
		r["features"] = features
	}
	return s.seedWrite(r, id)
}

// seedHuman creates a profile for user in project p and the membership.
func (s *Server) seedHuman(p, user *record, typ, given, family string, admin bool) Member {
	email := user.res.String("email")
	prof := client.Resource{
		"resourceType": typ,
		"name":         []any{map[string]any{"given": []any{given}, "family": family}},
	}
	if email != "" {
		prof["telecom"] = []any{map[string]any{"system": "email", "use": "work", "value": email}}
	}
	profile := s.seedWrite(prof, p.id)
	m := client.Resource{"resourceType": "ProjectMembership"}
	if admin {
		m["admin"] = true
	}
	setMembershipRefs(m, p, user, profile)
	rec := s.seedWrite(m, p.id)
	return Member{MembershipID: rec.id, Profile: typ + "/" + profile.id, User: "User/" + user.id, Email: email}
}

func (s *Server) seedClient(p *record, name, id, secret string) ClientCredentials {
	if id == "" {
		id = newID()
	}
	if secret == "" {
		secret = newSecret(64)
	}
	app := s.seedWrite(client.Resource{
		"resourceType": "ClientApplication", "id": id, "name": name, "secret": secret,
		"description": "Seeded by medplumtest",
	}, p.id)
	ref := createReference(app)
	m := s.seedWrite(client.Resource{
		"resourceType": "ProjectMembership", "project": map[string]any{"reference": "Project/" + p.id},
		"user": ref, "profile": deepCopy(ref), "admin": true,
	}, p.id)
	return ClientCredentials{ID: id, Secret: secret, MembershipID: m.id}
}
