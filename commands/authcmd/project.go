package authcmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/ojson"
	"github.com/medplumcli/medplum/commands/output"
)

// ProjectListOptions are the inputs of `project list`.
type ProjectListOptions struct {
	IO            *iostreams.IOStreams
	Authenticator func() (client.Authenticator, error)
	Output        output.Options
}

// NewCmdProjectList is `medplum project list`.
func NewCmdProjectList(f *cmdutil.Factory, runF func(*ProjectListOptions) error) *cobra.Command {
	opts := &ProjectListOptions{IO: f.IOStreams, Authenticator: f.Authenticator}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the projects you can switch to",
		Long: heredoc.Doc(`
			List the projects of this profile's sign-in: those signed in to (switch
			without a password) and the other memberships the server offered at the
			last password sign-in. The browser sign-in does not reveal the others.
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.Output.Check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return projectListRun(opts)
		},
	}
	output.AddFlags(cmd, &opts.Output, output.Table)
	opts.Output.CompleteColumns = output.ColumnList(projectColumns...)
	output.SetExamples(cmd, "id,name,current", ".[] | select(.current) | .id")
	return cmd
}

// userSession returns the stored person's sign-in the credentials are.
func userSession(authn func() (client.Authenticator, error), what string) (*auth.StoredAuth, error) {
	a, err := authn()
	if err != nil {
		return nil, err
	}
	sa, ok := a.(*auth.StoredAuth)
	if !ok || !sa.Session().IsUser() {
		return nil, cmdutil.FlagErrorf("%s needs a person's sign-in (medplum login); these credentials belong to one project", what)
	}
	return sa, nil
}

type projectItem struct {
	Current      bool   `json:"current"`
	ID           string `json:"id"`
	Name         string `json:"name,omitempty"`
	Profile      string `json:"profile,omitempty"`
	ProfileName  string `json:"profileName,omitempty"`
	MembershipID string `json:"membership,omitempty"`
	SignedIn     bool   `json:"signedIn"`
}

var projectColumns = []string{"current", "id", "name", "profile", "membership", "signed_in"}

func projectListRun(o *ProjectListOptions) error {
	sa, err := userSession(o.Authenticator, "project list")
	if err != nil {
		return err
	}
	var items []projectItem
	for _, p := range sa.Session().Projects() {
		items = append(items, projectItem{Current: p.Current, ID: p.ID, Name: p.Name, Profile: p.Profile, ProfileName: p.ProfileName,
			MembershipID: p.MembershipID, SignedIn: p.SignedIn})
	}
	if done, err := output.WriteItems(o.IO, &o.Output, items); done {
		return err
	}
	rows := output.Rows{Default: projectColumns, Known: projectColumns}
	for _, it := range items {
		rec := output.MapRecord{"id": it.ID, "name": it.Name, "profile": refText(it.ProfileName, it.Profile), "membership": it.MembershipID}
		if it.Current {
			rec["current"] = "*"
		}
		if it.SignedIn {
			rec["signed_in"] = "yes"
		} else {
			rec["signed_in"] = "no"
		}
		rows.Records = append(rows.Records, rec)
	}
	return o.Output.WriteRows(o.IO, rows)
}

// ProjectCurrentOptions are the inputs of `project current`.
type ProjectCurrentOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Output output.Options
}

// NewCmdProjectCurrent is `medplum project current`.
func NewCmdProjectCurrent(f *cmdutil.Factory, runF func(*ProjectCurrentOptions) error) *cobra.Command {
	opts := &ProjectCurrentOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "current",
		Short: "Show the project the credentials act in",
		Long: "Print the current project as \"Name (Project/id)\", as the server sees it (auth/me).\n\n" +
			"-o json (or yaml, --jq, --template) prints the project as auth/me holds it (its id,\n" +
			"name, description, ...): medplum project current --jq .id",
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.Output.Check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return projectCurrentRun(cmd.Context(), opts)
		},
	}
	output.AddFlags(cmd, &opts.Output, output.Text, output.Text, output.JSON, output.YAML)
	output.SetExamples(cmd, "", ".id")
	return cmd
}

func projectCurrentRun(ctx context.Context, o *ProjectCurrentOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	me, err := c.Me(ctx)
	if err != nil {
		return err
	}
	if me.Project == nil {
		return errors.New("the server named no project for these credentials")
	}
	if !o.Output.Document() {
		_, err := fmt.Fprintln(o.IO.Out, refText(me.Project.String("name"), "Project/"+me.Project.ID()))
		return err
	}
	// auth/me's project is a part of the Project (me.ts: id, name,
	// description, strictMode, superAdmin), never its secrets.
	n, err := ojson.Parse(me.Raw)
	if err != nil {
		return fmt.Errorf("GET auth/me: %w", err)
	}
	// As whoami: a field holding secrets (a Project's secret list) is left
	// out, though 5.0.10's auth/me names none here (capture 231).
	doc, err := output.WithoutSecrets(n.Get("project").Bytes())
	if err != nil {
		return err
	}
	return o.Output.WriteDoc(o.IO, doc)
}

// ProjectSwitchOptions are the inputs of `project switch`.
type ProjectSwitchOptions struct {
	Login     *LoginOptions // for a new sign-in to the project
	Settings  func() (auth.Settings, error)
	Authn     func() (client.Authenticator, error)
	ProjectID string
}

// NewCmdProjectSwitch is `medplum project switch <project-id>`.
func NewCmdProjectSwitch(f *cmdutil.Factory, runF func(*ProjectSwitchOptions) error) *cobra.Command {
	lo := &LoginOptions{
		IO: f.IOStreams, Config: f.Config, Resolved: f.Resolved, Auth: f.Auth, BareClient: f.BareClient, NewClient: f.NewClient,
		Getenv: os.Getenv, Prompter: NewPrompter(f.IOStreams), Now: time.Now,
	}
	opts := &ProjectSwitchOptions{Login: lo, Settings: f.Settings, Authn: f.Authenticator}
	cmd := &cobra.Command{
		Use:   "switch <project-id>",
		Short: "Act in another of your projects",
		Long: heredoc.Doc(`
			Make another project current for this profile. If the profile has signed
			in to it before, this takes no password; otherwise you sign in again
			(the password flow asks for your password and MFA code for that project;
			the browser flow opens the sign-in page, where you choose the project).
		`),
		Example: "  $ medplum project switch 977e8dfa-0352-4ecf-8c73-3fd9ad501e57",
		Args:    cmdutil.ExactArgs(1, "a project id"),
		// The projects project list shows, but the current one.
		ValidArgsFunction: completion.FirstArg(completeSwitch(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ProjectID = strings.TrimPrefix(args[0], "Project/")
			if err := checkCallbackPort(lo.CallbackPort); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return projectSwitchRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&lo.PasswordStdin, "password-stdin", false, "password sign-in: read the password from stdin")
	fl.StringVar(&lo.MFACode, "mfa-code", "", "password sign-in: the authenticator app's current code")
	fl.IntVar(&lo.CallbackPort, "callback-port", auth.DefaultCallbackPort, "browser sign-in: loopback port; the medplum-cli client needs 9615, another port your own --client-id (0 is refused)")
	fl.BoolVar(&lo.NoBrowser, "no-browser", false, "browser sign-in: only print the URL")
	fl.DurationVar(&lo.Timeout, "timeout", auth.DefaultLoginTimeout, "browser sign-in: how long to wait")
	return cmd
}

func projectSwitchRun(ctx context.Context, o *ProjectSwitchOptions) error {
	sa, err := userSession(o.Authn, "project switch")
	if err != nil {
		return err
	}
	s, err := o.Settings()
	if err != nil {
		return err
	}
	lo := o.Login
	m, err := lo.Auth()
	if err != nil {
		return err
	}
	sess := sa.Session()
	errOut := lo.IO.ErrOut
	if sess.Active == o.ProjectID {
		fmt.Fprintf(errOut, "Already in project %s.\n", describeLogin(sess.ActiveLogin()))
		return nil
	}
	if l := sess.Login(o.ProjectID); l != nil {
		if _, err := m.Switch(s.Profile, o.ProjectID); err != nil {
			return err
		}
		// Check the stored login still works; if not, sign in again below.
		if err := checkSignedIn(ctx, lo, s, m); err == nil {
			fmt.Fprintf(errOut, "Switched to project %s.\n", describeLogin(l))
			return nil
		} else if !errors.Is(err, auth.ErrNotSignedIn) {
			return err
		}
		fmt.Fprintf(errOut, "The stored sign-in to project %s has expired; signing in again.\n", describeLogin(l))
	}
	if len(sess.Known) > 0 && sess.Login(o.ProjectID) == nil {
		var list []string
		member := false
		for _, k := range sess.Known {
			list = append(list, auth.DescribeMembership(k))
			if k.Project != nil && strings.TrimPrefix(k.Project.Reference, "Project/") == o.ProjectID {
				member = true
			}
		}
		if !member {
			return cmdutil.InputErrorf("you are not a member of project %s; your projects are:\n  %s", o.ProjectID, strings.Join(list, "\n  "))
		}
	}
	tc, err := lo.BareClient()
	if err != nil {
		return err
	}
	lo.AuthType, lo.AuthTypeGiven = sess.AuthType, true
	if active := sess.ActiveLogin(); active != nil {
		lo.Email = active.Email
	}
	ul, authType, err := userFlow(ctx, lo, s, tc, o.ProjectID)
	if err != nil {
		return err
	}
	if ul.Token.Project == nil || strings.TrimPrefix(ul.Token.Project.Reference, "Project/") != o.ProjectID {
		got := "none"
		if ul.Token.Project != nil {
			got = ul.Token.Project.Reference
		}
		return fmt.Errorf("the sign-in chose %s, not Project/%s; nothing was changed", got, o.ProjectID)
	}
	save := auth.SaveOptions{BaseURL: tc.BaseURL(), TokenURL: tc.TokenURL(), Scope: s.Scope, AuthType: authType, ClientID: sess.ClientID,
		Insecure: sess.Storage == auth.StorageFile}
	who, err := completeUserLogin(ctx, lo, s, m, save, ul)
	if err != nil {
		return err
	}
	fmt.Fprintf(errOut, "Switched to project %s, signed in as %s.\n", refText(ul.Token.Project.Display, ul.Token.Project.Reference), who)
	return nil
}

// completeSwitch completes project switch's <project-id> with the
// projects of the profile's sign-in that project list shows (its logins and
// the memberships the server offered at the last password sign-in), but
// the current one, described by their names. It reads the session alone,
// within completion.Timeout (the keyring may be slow): nothing is sent.
// Credentials that are not a person's sign-in suggest nothing.
func completeSwitch(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		f.Flags = cmd.Flags() // completion runs no PersistentPreRun
		projects, err := completion.Within(func(context.Context) ([]auth.SessionProject, error) {
			sa, err := userSession(f.Authenticator, "project switch")
			if err != nil {
				return nil, err
			}
			return sa.Session().Projects(), nil
		})
		if err != nil {
			cobra.CompDebugln("projects: "+err.Error(), false)
		}
		prefix := ""
		if strings.HasPrefix(toComplete, "Project/") {
			prefix = "Project/"
		}
		var out []cobra.Completion
		for _, p := range projects {
			if !p.Current && strings.HasPrefix(prefix+p.ID, toComplete) {
				out = append(out, cobra.CompletionWithDesc(prefix+p.ID, p.Name))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// checkSignedIn asks auth/me with the profile's stored sign-in.
func checkSignedIn(ctx context.Context, lo *LoginOptions, s auth.Settings, m *auth.Manager) error {
	tc, err := lo.BareClient()
	if err != nil {
		return err
	}
	a, err := m.Authenticator(s.Profile, s.BaseURL, tc)
	if err != nil {
		return err
	}
	c, err := lo.NewClient(s, a)
	if err != nil {
		return err
	}
	_, err = c.Me(ctx)
	return err
}

func describeLogin(l *auth.LoginInfo) string {
	if l == nil {
		return "(none)"
	}
	return refText(l.Project.Display, l.Project.Reference)
}
