// Package projectadmin is the provisioning side of the `project` command
// group: `project create` (super admins), `project settings` and
// `project secrets` over the admin routes that replace a whole array.
package projectadmin

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/output"
)

// NewCmds returns the provisioning subcommands of `project`: create,
// settings and secrets.
func NewCmds(f *cmdutil.Factory) []*cobra.Command {
	return []*cobra.Command{NewCmdCreate(f, nil), NewCmdSettings(f), NewCmdSecrets(f)}
}

// CreateOptions are the inputs of `project create`.
type CreateOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Ctx    context.Context

	Name        string
	StrictMode  bool
	OwnerEmail  string
	OwnerFirst  string
	OwnerLast   string
	SendEmail   bool
	IfNotExists bool
	Output      output.Options // -o id (the default), json, yaml, --jq, --template
}

// NewCmdCreate is `medplum project create <name>`.
func NewCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "create <name>",
		Short: "Create a project (super admins)",
		Long: heredoc.Doc(`
			Create a project as the Medplum guide does it: POST a Project resource,
			then, with --owner-email, invite that person into it as a project admin
			(a Practitioner; no e-mail unless --send-email). Creating projects needs
			super-admin credentials, e.g. a ClientApplication of the Super Admin
			project.

			Prints the new project's id (-o json or yaml, --jq, --template: the
			Project, without its secrets).
			With --if-not-exists, a project that already has exactly this name is
			used instead of creating another one, so a pipeline can run the command
			again; the owner invite is an upsert and is safe to repeat too.
		`),
		Example: `  $ medplum project create "Acme Clinic" --strict-mode
  $ PROJECT=$(medplum project create "Acme Clinic" --strict-mode --if-not-exists \
      --owner-email alice@example.com --owner-first Alice --owner-last Smith)`,
		Args: cmdutil.ExactArgs(1, "a project name"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Ctx = c.Context()
			opts.Name = strings.TrimSpace(args[0])
			if err := opts.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return createRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.StrictMode, "strict-mode", false, "create the project with strictMode: true (strict FHIR validation)")
	fl.StringVar(&opts.OwnerEmail, "owner-email", "", "invite this person as the project's first admin")
	fl.StringVar(&opts.OwnerFirst, "owner-first", "", "the owner's first name (with --owner-email)")
	fl.StringVar(&opts.OwnerLast, "owner-last", "", "the owner's last name (with --owner-email)")
	fl.BoolVar(&opts.SendEmail, "send-email", false, "e-mail the owner an invitation (off by default)")
	fl.BoolVar(&opts.IfNotExists, "if-not-exists", false, "use the project that already has this name, if there is exactly one")
	output.AddFlags(cmd, &opts.Output, output.ID, output.ID, output.JSON, output.YAML)
	output.SetExamples(cmd, "", ".id")
	return cmd
}

func (o *CreateOptions) check() error {
	if o.Name == "" {
		return cmdutil.FlagErrorf("the project name is empty")
	}
	if err := o.Output.Check(); err != nil {
		return err
	}
	if o.OwnerEmail == "" {
		if o.OwnerFirst != "" || o.OwnerLast != "" || o.SendEmail {
			return cmdutil.FlagErrorf("--owner-first, --owner-last and --send-email need --owner-email")
		}
		return nil
	}
	var probs []string
	if !membership.ValidEmail(o.OwnerEmail) {
		probs = append(probs, fmt.Sprintf("--owner-email: not a valid e-mail address: %q", o.OwnerEmail))
	}
	if strings.TrimSpace(o.OwnerFirst) == "" {
		probs = append(probs, "--owner-first is required with --owner-email")
	}
	if strings.TrimSpace(o.OwnerLast) == "" {
		probs = append(probs, "--owner-last is required with --owner-email")
	}
	if len(probs) > 0 {
		return cmdutil.FlagErrorf("%s", strings.Join(probs, "; "))
	}
	o.OwnerEmail = strings.ToLower(o.OwnerEmail)
	return nil
}

func createRun(o *CreateOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	ctx := o.Ctx
	var project client.Doc
	if o.IfNotExists {
		if project, err = findProject(ctx, c, o.Name); err != nil {
			return err
		}
	}
	if project.Resource != nil {
		fmt.Fprintf(o.IO.ErrOut, "Project %q already exists (%s).\n", o.Name, project.ID())
	} else {
		body := client.Resource{"resourceType": "Project", "name": o.Name}
		if o.StrictMode {
			body["strictMode"] = true
		}
		if project, err = c.CreateResource(ctx, body); err != nil {
			return superAdminHint(err)
		}
		fmt.Fprintf(o.IO.ErrOut, "Created project %q (%s).\n", o.Name, project.ID())
	}
	ownerErr := o.inviteOwner(ctx, c, project.ID())
	if err := o.print(project); err != nil {
		return err
	}
	return ownerErr
}

// findProject returns the project named exactly name (a zero Doc if there
// is none), and an error if several have that name.
func findProject(ctx context.Context, c *client.Client, name string) (client.Doc, error) {
	var found []client.Doc
	for p, err := range c.SearchDocs(ctx, "Project?name:exact="+url.QueryEscape(name)) {
		if err != nil {
			return client.Doc{}, superAdminHint(err)
		}
		if p.String("name") == name {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return client.Doc{}, nil
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, p := range found {
		ids[i] = p.ID()
	}
	return client.Doc{}, fmt.Errorf("%d projects are named %q (%s); --if-not-exists needs the name to be unique", len(ids), name, strings.Join(ids, ", "))
}

// inviteOwner makes the owner an admin of the project (an upsert, so a
// repeat keeps one membership and makes sure it is an admin).
func (o *CreateOptions) inviteOwner(ctx context.Context, c *client.Client, projectID string) error {
	if o.OwnerEmail == "" {
		return nil
	}
	admin, send := true, o.SendEmail
	m, err := c.Invite(ctx, projectID, &client.InviteRequest{
		ResourceType: "Practitioner", FirstName: o.OwnerFirst, LastName: o.OwnerLast, Email: o.OwnerEmail,
		SendEmail: &send, Upsert: true, Membership: &client.InviteMembership{Admin: &admin},
	})
	switch {
	case err == nil:
		fmt.Fprintf(o.IO.ErrOut, "%s is an admin of the project (ProjectMembership/%s).\n", o.OwnerEmail, m.ID())
		return nil
	case client.IsPartialSuccess(err):
		fmt.Fprintf(o.IO.ErrOut, "%s is an admin of the project, but the invitation e-mail was not sent.\n", o.OwnerEmail)
		return err
	}
	return cmdutil.WithHint(fmt.Errorf("project %s exists, but inviting %s as its admin failed: %w", projectID, o.OwnerEmail, err),
		"run the same command with --if-not-exists to finish")
}

// print writes the project's id, or with -o json or yaml (--jq,
// --template) the Project as the server sent it, without its secrets (Project.secret, a site's reCAPTCHA secret
// key).
func (o *CreateOptions) print(project client.Doc) error {
	if o.Output.Document() {
		doc, err := output.WithoutSecrets(project.Raw)
		if err != nil {
			return err
		}
		return o.Output.WriteDoc(o.IO, doc)
	}
	_, err := fmt.Fprintln(o.IO.Out, project.ID())
	return err
}

// superAdminHint explains a 403 on a super-admin operation.
func superAdminHint(err error) error {
	if client.StatusOf(err) == 403 {
		return cmdutil.WithHint(err, "creating and finding projects needs super-admin credentials (a ClientApplication of the Super Admin project)")
	}
	return err
}
