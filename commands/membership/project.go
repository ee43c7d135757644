package membership

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
)

// ProjectFlagHelp is the help of every --project flag.
const ProjectFlagHelp = "project id or Project/<id> (default: the project you are signed in to)"

// AddProjectFlag defines --project on cmd (its help: ProjectFlagHelp and
// more), completed with the ids of the projects it may name
// (completion.Projects: the signed-in one, or a super admin's every one).
func AddProjectFlag(f *cmdutil.Factory, cmd *cobra.Command, p *string, more string) {
	cmd.Flags().StringVar(p, "project", "", ProjectFlagHelp+more)
	_ = cmd.RegisterFlagCompletionFunc("project", completion.Projects(f))
}

// ParseProject checks a --project value: an id or Project/<id>.
func ParseProject(s string) (string, error) {
	ref, ok := TypedRef(s, "Project")
	if !ok {
		return "", cmdutil.FlagErrorf("--project: not a project: %q (want an id or Project/<id>)", s)
	}
	return ref[len("Project/"):], nil
}

// Project returns the project to act on: flag (already checked with
// ParseProject) if given, else the project of the signed-in credentials
// (GET auth/me, which is read either way). Admin routes act on the
// caller's own project whatever their path names, and a project admin's
// searches see only that project, so a flag naming another project is
// refused (exit 2) unless the credentials are a super admin's.
func Project(ctx context.Context, c *client.Client, flag string) (string, error) {
	t, err := ProjectOf(ctx, c, flag)
	return t.ID, err
}

// Target is the project a command acts on: its id, and its name when the
// command knows it (the signed-in project's, from auth/me).
type Target struct {
	ID, Name string
	// OwnAsSuperAdmin: a super admin's own project, --project not given.
	OwnAsSuperAdmin bool
}

// NotFoundHint adds to an error that names no member, in a super admin's
// own project, how to look in another.
func (t Target) NotFoundHint(err error) error {
	if err == nil || !t.OwnAsSuperAdmin || !IsNotFound(err) {
		return err
	}
	return cmdutil.WithHint(err, "You are a super admin signed in to project "+t.Describe()+": for a member of another project, pass --project <project id>.")
}

// Describe names the project for messages and questions: "Name" (id), or
// the id alone.
func (t Target) Describe() string {
	return (&cmdutil.SignedIn{ProjectID: t.ID, ProjectName: t.Name}).Describe()
}

// ProjectOf is Project with the project's name when it is the signed-in
// one (a super admin's --project naming another has none).
func ProjectOf(ctx context.Context, c *client.Client, flag string) (Target, error) {
	who, err := cmdutil.WhoAmI(ctx, c)
	if err != nil {
		return Target{}, err
	}
	if flag == "" || flag == who.ProjectID {
		return Target{ID: who.ProjectID, Name: who.ProjectName, OwnAsSuperAdmin: who.SuperAdmin && flag == ""}, nil
	}
	if !who.SuperAdmin {
		return Target{}, cmdutil.InputErrorf("--project %s: you are signed in to project %s, and only a super admin can act on another project", flag, who.Describe())
	}
	return Target{ID: flag}, nil
}
