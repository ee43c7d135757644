package clients

import (
	"context"
	"fmt"
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/authcmd"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/output"
)

// CreateOptions are the inputs of `clients create`.
type CreateOptions struct {
	common
	Name         string
	Description  string
	AccessPolicy string // a name, an id or AccessPolicy/<id> (membership.PolicyHelp)
	policyRef    string // AccessPolicy, resolved
	Admin        bool
	IfNotExists  bool
	Secret       secretOutput
}

// NewCmdCreate is `medplum clients create <name>`.
func NewCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{common: newCommon(f)}
	opts.Secret.factory = f
	cmd := &cobra.Command{
		Use:   "create <name>",
		Short: "Create a client application and print its id",
		Long: heredoc.Doc(`
			Create a ClientApplication in the project (POST admin/projects/<p>/client;
			the server makes it a member of the project) and print its id. --admin
			makes its membership a project admin; --access-policy puts a policy of the
			project on it (its name, its id or AccessPolicy/<id>).

			The secret is printed only with --show-secret (on a second line) or
			-o json or yaml (the whole ClientApplication; --jq and --template work on
			it too), or stored with --save-profile in
			the named profile's keyring entry, so a CI job can create a client and
			sign in with it without the secret touching a log.

			With --if-not-exists, the project's one client of that name is used
			instead of creating another (and made admin / given the policy if asked).
		`),
		Example: `  $ medplum clients create "CI deployer" --admin --save-profile ci
  $ medplum clients create "front desk" --access-policy "Clinic staff" -o json | jq -r .secret`,
		Args: cmdutil.ExactArgs(1, "a client name"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Ctx = c.Context()
			opts.Name = strings.TrimSpace(args[0])
			if opts.Name == "" {
				return cmdutil.FlagErrorf("the client name is empty")
			}
			if err := opts.Secret.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return createRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Description, "description", "", "the client's description")
	fl.StringVar(&opts.AccessPolicy, "access-policy", "", "the access policy of the client's membership: "+membership.PolicyHelp)
	fl.BoolVar(&opts.Admin, "admin", false, "make the client a project admin")
	_ = cmd.RegisterFlagCompletionFunc("access-policy", completion.Named(f, "AccessPolicy"))
	opts.addProjectFlag(cmd)
	fl.BoolVar(&opts.IfNotExists, "if-not-exists", false, "use the project's client of this name if there is one")
	opts.Secret.addFlags(cmd, "print the secret on a second line")
	return cmd
}

func createRun(o *CreateOptions) error {
	if err := o.Secret.precheck(); err != nil {
		return err
	}
	c, t, err := o.connect()
	if err != nil {
		return err
	}
	ctx := o.Ctx
	if o.AccessPolicy != "" {
		if o.policyRef, err = membership.ResolvePolicyFlag(ctx, c, t.projectID, o.AccessPolicy); err != nil {
			return err
		}
	}
	var app client.Doc
	if o.IfNotExists {
		list, err := clientsNamed(ctx, c, t.projectID, o.Name)
		if err != nil {
			return err
		}
		if len(list) > 1 {
			return fmt.Errorf("%d clients in project %s are named %q; --if-not-exists needs the name to be unique", len(list), t.describe(), o.Name)
		}
		if len(list) == 1 {
			app = list[0]
			fmt.Fprintf(o.IO.ErrOut, "Client %s already exists in project %s.\n", label(app.Resource), t.describe())
		}
	}
	if app.Resource == nil {
		body := map[string]any{"name": o.Name}
		if o.Description != "" {
			body["description"] = o.Description
		}
		if o.policyRef != "" {
			body["accessPolicy"] = map[string]any{"reference": o.policyRef}
		}
		if app, err = c.CreateClientApplication(ctx, t.projectID, body); err != nil {
			return err
		}
		fmt.Fprintf(o.IO.ErrOut, "Created client %s in project %s.\n", label(app.Resource), t.describe())
	}
	// The secret is in hand from here on: whatever fails next, it is still
	// delivered as asked, so it is never lost with the client kept.
	setupErr := o.setMembership(ctx, c, app.Resource)
	if err := o.Secret.deliver(ctx, o.IO, app, t); err != nil {
		return err
	}
	if setupErr != nil {
		return fmt.Errorf("client %s exists, but setting up its membership failed: %w", label(app.Resource), setupErr)
	}
	return nil
}

// setMembership makes the client's membership admin and gives it the
// access policy, when asked and not already so.
func (o *CreateOptions) setMembership(ctx context.Context, c *client.Client, app client.Resource) error {
	if !o.Admin && o.policyRef == "" {
		return nil
	}
	ms, err := memberships(ctx, c, app.ID())
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		return fmt.Errorf("the server has no membership for ClientApplication/%s", app.ID())
	}
	m := ms[0]
	changed := false
	if admin, _ := m.Bool("admin"); o.Admin && !admin {
		m["admin"] = true
		changed = true
	}
	if o.policyRef != "" && m.Ref("accessPolicy") != o.policyRef {
		m["accessPolicy"] = map[string]any{"reference": o.policyRef}
		changed = true
	}
	if !changed {
		return nil
	}
	// A FHIR update: the admin route refuses a super admin's write to another
	// project's membership (captures 19 and 21).
	if _, err := c.UpdateResource(ctx, m); err != nil {
		return err
	}
	if o.Admin {
		fmt.Fprintf(o.IO.ErrOut, "Client %s is a project admin.\n", label(app))
	}
	return nil
}

// secretOutput decides where a new client secret goes: stdout (with
// --show-secret, -o json/yaml, --jq, --template), a profile (--save-profile), or nowhere.
type secretOutput struct {
	factory     *cmdutil.Factory
	ShowSecret  bool
	Output      output.Options // -o id (the default), json, yaml, --jq, --template
	SaveProfile string
	Insecure    bool
}

func (s *secretOutput) addFlags(cmd *cobra.Command, showUsage string) {
	fl := cmd.Flags()
	fl.BoolVar(&s.ShowSecret, "show-secret", false, showUsage)
	output.AddFlags(cmd, &s.Output, output.ID, output.ID, output.JSON, output.YAML)
	output.SetExamples(cmd, "", ".secret")
	fl.StringVar(&s.SaveProfile, "save-profile", "", "sign in as the client and store the sign-in (secret in the system keyring) in this profile")
	_ = cmd.RegisterFlagCompletionFunc("save-profile", completion.Profiles(s.factory))
	fl.BoolVar(&s.Insecure, "insecure-storage", false, "with --save-profile: keep the secret in a file readable only by you instead of the keyring")
}

func (s *secretOutput) check() error {
	if err := s.Output.Check(); err != nil {
		return err
	}
	if s.Insecure && s.SaveProfile == "" {
		return cmdutil.FlagErrorf("--insecure-storage goes with --save-profile")
	}
	if s.SaveProfile != "" {
		if err := auth.CheckProfileName(s.SaveProfile); err != nil {
			return cmdutil.FlagErrorf("--save-profile: %v", err)
		}
	}
	return nil
}

// precheck runs before a secret is made: with --save-profile, the profile
// name must be usable and the keyring (unless --insecure-storage) must
// answer, so that a new secret is never made only to be lost.
func (s *secretOutput) precheck() error {
	if s.SaveProfile == "" {
		return nil
	}
	return authcmd.CheckClientProfile(s.factory, s.SaveProfile, s.Insecure)
}

// deliver prints the client as asked (-o json, yaml, --jq, --template: the
// ClientApplication as the server sent it, secret included),
// stores its sign-in with --save-profile, and says where its secret went.
// The client and its secret exist whatever happens here, so stdout gets
// what was asked for even when storing the sign-in fails, and the error
// says how to store it without making another secret.
func (s *secretOutput) deliver(ctx context.Context, ios *iostreams.IOStreams, app client.Doc, t *target) error {
	var saveErr error
	if s.SaveProfile != "" {
		who, where, err := authcmd.SaveClientProfile(ctx, s.factory, s.SaveProfile, app.ID(), app.String("secret"), s.Insecure)
		if err != nil {
			saveErr = cmdutil.WithHint(fmt.Errorf("client %s has a new secret, but saving its sign-in in profile %s failed: %w", label(app.Resource), s.SaveProfile, err),
				"save the sign-in of the client as it is now: "+s.saveAgain(app.String("name"), t))
		} else {
			fmt.Fprintf(ios.ErrOut, "Signed in as %s and saved it in profile %s (the secret is in %s): medplum -p %s ...\n",
				who, s.SaveProfile, where, s.SaveProfile)
		}
	}
	if s.Output.Document() {
		if err := s.Output.WriteDoc(ios, app.Raw); err != nil {
			return err
		}
		return saveErr
	}
	out := app.ID() + "\n"
	if s.ShowSecret {
		out += app.String("secret") + "\n"
	} else if s.SaveProfile == "" {
		fmt.Fprintln(ios.ErrOut, "The secret was not printed: use --show-secret or -o json to see it, or --save-profile to keep it.")
	}
	if _, err := fmt.Fprint(ios.Out, out); err != nil {
		return err
	}
	return saveErr
}

// saveAgain is the command that stores the sign-in of an existing client
// (its secret as the server has it now) in the profile.
func (s *secretOutput) saveAgain(name string, t *target) string {
	cmd := "medplum clients create " + cmdutil.ShellQuote(name) + " --if-not-exists --save-profile " + s.SaveProfile
	if t.projectID != t.who.ProjectID {
		cmd += " --project " + t.projectID
	}
	if s.Insecure {
		cmd += " --insecure-storage"
	}
	return cmd
}
