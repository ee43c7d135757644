package cmdutil

import (
	"context"
	"fmt"

	"github.com/medplumcli/medplum/client"
)

// SignedIn is who the credentials in use are, from GET auth/me: the project
// they act in and the membership they act as.
type SignedIn struct {
	ProjectID    string
	ProjectName  string
	SuperAdmin   bool   // the project is a super-admin project
	MembershipID string // the caller's ProjectMembership
	Profile      string // "ClientApplication/<id>", "Practitioner/<id>", ...
	Admin        bool   // the membership is a project admin
}

// WhoAmI reads auth/me. Admin routes act on this project whatever id their
// path names (except for super admins), so commands name it in messages.
func WhoAmI(ctx context.Context, c *client.Client) (*SignedIn, error) {
	me, err := c.Me(ctx)
	if err != nil {
		return nil, err
	}
	s := &SignedIn{}
	if me.Project != nil {
		s.ProjectID, s.ProjectName = me.Project.ID(), me.Project.String("name")
		s.SuperAdmin, _ = me.Project.Bool("superAdmin")
	}
	if me.Membership != nil {
		s.MembershipID, s.Profile = me.Membership.ID(), me.Membership.Ref("profile")
		s.Admin, _ = me.Membership.Bool("admin")
	}
	if s.ProjectID == "" {
		return nil, fmt.Errorf("GET auth/me: the answer names no project")
	}
	return s, nil
}

// Describe names the project for messages: "Name" (id).
func (s *SignedIn) Describe() string {
	if s.ProjectName == "" {
		return s.ProjectID
	}
	return fmt.Sprintf("%q (%s)", s.ProjectName, s.ProjectID)
}
