package membership

import (
	"context"
	"errors"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
)

// ProjectFlagHelp is the help of every --project flag.
const ProjectFlagHelp = "project id or Project/<id> (default: the project you are signed in to)"

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
// (GET auth/me).
func Project(ctx context.Context, c *client.Client, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	me, err := c.Me(ctx)
	if err != nil {
		return "", err
	}
	if id := me.Project.ID(); id != "" {
		return id, nil
	}
	return "", errors.New("auth/me did not name the signed-in project; pass --project")
}
