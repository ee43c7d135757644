// Package clients is `medplum clients`: create, list, rotate the secret of
// and delete a project's ClientApplications, the credentials CI jobs and
// integrations sign in with. A client secret reaches stdout only when asked
// for (--show-secret, -o json) and a profile's keyring entry only with
// --save-profile; it never reaches stderr or the --verbose trace.
package clients

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/membership"
)

// NewCmdClients is the `clients` command group.
func NewCmdClients(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "clients <command>",
		Aliases: []string{"client"},
		Short:   "Create, list, rotate and delete the project's client applications",
		Long: heredoc.Doc(`
			Manage the ClientApplications of a project: the client id and secret a CI
			job or an integration signs in with (client credentials). Each client is
			a member of the project; --admin makes that membership a project admin.

			<client> is a client id, ClientApplication/<id>, or the client's exact name.
			Commands act on the project you are signed in to; a super admin can name
			another one with --project.
		`),
		Args: cobra.ArbitraryArgs,
		RunE: cmdutil.GroupRunE,
	}
	cmd.AddCommand(NewCmdCreate(f, nil), NewCmdList(f, nil), NewCmdRotateSecret(f, nil), NewCmdDelete(f, nil))
	return cmd
}

// common are the inputs every clients command has: the streams, the
// signed-in client, and --project.
type common struct {
	factory *cmdutil.Factory
	IO      *iostreams.IOStreams
	Client  func() (*client.Client, error)
	Ctx     context.Context
	Project string
}

func newCommon(f *cmdutil.Factory) common {
	return common{IO: f.IOStreams, Client: f.Client, factory: f}
}

// addProjectFlag registers --project.
func (o *common) addProjectFlag(cmd *cobra.Command) {
	membership.AddProjectFlag(o.factory, cmd, &o.Project, "; another project needs a super admin")
}

// connect checks --project, signs in and resolves the project to act on.
func (o *common) connect() (*client.Client, *target, error) {
	if o.Project != "" {
		p, err := membership.ParseProject(o.Project)
		if err != nil {
			return nil, nil, err
		}
		o.Project = p
	}
	c, err := o.Client()
	if err != nil {
		return nil, nil, err
	}
	t, err := resolveTarget(o.Ctx, c, o.Project)
	if err != nil {
		return nil, nil, err
	}
	return c, t, nil
}

// target is the project a command acts on.
type target struct {
	who       *cmdutil.SignedIn
	projectID string
}

// describe names the project for messages.
func (t *target) describe() string {
	if t.projectID == t.who.ProjectID {
		return t.who.Describe()
	}
	return t.projectID
}

// resolveTarget is --project, else the signed-in project. Only a super admin
// may name another project: for anyone else the server would silently act
// on their own.
func resolveTarget(ctx context.Context, c *client.Client, project string) (*target, error) {
	who, err := cmdutil.WhoAmI(ctx, c)
	if err != nil {
		return nil, err
	}
	t := &target{who: who, projectID: who.ProjectID}
	if project != "" && project != who.ProjectID {
		if !who.SuperAdmin {
			return nil, cmdutil.InputErrorf("--project %s: you are signed in to project %s, and only a super admin can act on another project", project, who.Describe())
		}
		t.projectID = project
	}
	return t, nil
}

var fhirIDRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`) })

// findClient resolves <client> (an id, ClientApplication/<id> or an exact
// name) to the whole ClientApplication, secrets included.
func findClient(ctx context.Context, c *client.Client, t *target, arg string) (client.Resource, error) {
	id, isRef := strings.CutPrefix(arg, "ClientApplication/")
	if isRef || fhirIDRE().MatchString(arg) {
		app, err := c.ReadResource(ctx, client.ResourceURL("ClientApplication", id))
		switch {
		case err == nil:
			return app, nil
		case client.StatusOf(err) == 410:
			return nil, &goneError{arg: arg, err: err}
		case client.StatusOf(err) != 404 || isRef:
			return nil, err
		}
	}
	list, err := clientsNamed(ctx, c, t.projectID, arg)
	if err != nil {
		return nil, err
	}
	switch len(list) {
	case 0:
		return nil, fmt.Errorf("no client %q in project %s (give an id, ClientApplication/<id> or the exact name)", arg, t.describe())
	case 1:
		return list[0].Resource, nil
	}
	ids := make([]string, len(list))
	for i, a := range list {
		ids[i] = a.ID()
	}
	return nil, cmdutil.InputErrorf("%d clients in project %s are named %q: %s; give the id", len(list), t.describe(), arg, strings.Join(ids, ", "))
}

// clientsNamed lists the project's clients with exactly that name, as the
// server sent them.
func clientsNamed(ctx context.Context, c *client.Client, projectID, name string) ([]client.Doc, error) {
	var out []client.Doc
	for a, err := range c.SearchDocs(ctx, "ClientApplication?"+client.ProjectSearch(projectID)+"&name:exact="+url.QueryEscape(name)+"&_count=1000") {
		if err != nil {
			return nil, err
		}
		if a.String("name") == name {
			out = append(out, a)
		}
	}
	return out, nil
}

// memberships returns the ProjectMemberships whose user is the client.
func memberships(ctx context.Context, c *client.Client, clientID string) ([]client.Resource, error) {
	return c.SearchAll(ctx, "ProjectMembership?user=ClientApplication/"+url.QueryEscape(clientID))
}

// goneError is a client that was deleted.
type goneError struct {
	arg string
	err error
}

func (e *goneError) Error() string { return fmt.Sprintf("client %s was deleted", e.arg) }
func (e *goneError) Unwrap() error { return e.err }

// label names a client for messages: "Name" (ClientApplication/<id>).
func label(app client.Resource) string {
	return fmt.Sprintf("%q (ClientApplication/%s)", app.String("name"), app.ID())
}
