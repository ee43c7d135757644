package authcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/output"
)

// WhoamiOptions are the inputs of `medplum whoami`.
type WhoamiOptions struct {
	IO            *iostreams.IOStreams
	Resolved      func() (*config.Resolved, error)
	Client        func() (*client.Client, error)
	Authenticator func() (client.Authenticator, error)
	Auth          func() (*auth.Manager, error)
	Output        output.Options
}

// NewCmdWhoami is `medplum whoami`.
func NewCmdWhoami(f *cmdutil.Factory, runF func(*WhoamiOptions) error) *cobra.Command {
	opts := &WhoamiOptions{IO: f.IOStreams, Resolved: f.Resolved, Client: f.Client, Authenticator: f.Authenticator, Auth: f.Auth}
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the credentials sign in as",
		Long: "Ask the server (auth/me) who the current credentials belong to: user or client, profile,\n" +
			"project, membership, and where the credentials come from. Exits 4 when not signed in.\n\n" +
			"-o json (or yaml, --jq, --template) prints the server's auth/me answer as it came,\n" +
			"except that fields holding credentials (a client's secret and retiringSecret, a\n" +
			"project's secrets) are left out.\n" +
			"\"medplum token\" prints the access token.",
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.Output.Check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return whoamiRun(cmd.Context(), opts)
		},
	}
	output.AddFlags(cmd, &opts.Output, output.Text, output.Text, output.JSON, output.YAML)
	output.SetExamples(cmd, "", ".project.name")
	return cmd
}

func whoamiRun(ctx context.Context, o *WhoamiOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	me, err := c.Me(ctx)
	if err != nil {
		return err
	}
	if o.Output.Document() {
		// auth/me holds the signed-in ClientApplication whole, secret
		// included: never print it.
		doc, err := output.WithoutSecrets(me.Raw)
		if err != nil {
			return fmt.Errorf("GET auth/me: %w", err)
		}
		return o.Output.WriteDoc(o.IO, doc)
	}
	r, err := o.Resolved()
	if err != nil {
		return err
	}
	a, err := o.Authenticator()
	if err != nil {
		return err
	}
	where, err := credentialSource(o.Auth, r, a)
	if err != nil {
		return err
	}
	w := o.IO.Out
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-13s%s\n", k+":", v)
		}
	}
	server := c.BaseURL()
	if v := r.Lookup("base_url"); v.FromDotenv() {
		server += " (" + v.EnvOrigin() + ")"
	}
	line("Server", server)
	var m, project, prof client.Resource = me.Membership, me.Project, me.Profile
	if me.User != nil && me.User.String("email") != "" {
		line("User", me.User.String("email"))
	} else if m != nil {
		line("Client", refText(m.Display("profile"), m.Ref("profile")))
	}
	if prof != nil && m != nil {
		line("Profile", refText(m.Display("profile"), m.Ref("profile")))
	}
	if project != nil {
		line("Project", refText(project.String("name"), "Project/"+project.ID()))
	}
	if m != nil {
		role := "member"
		if admin, _ := m.Bool("admin"); admin {
			role = "project admin"
		}
		if sa, _ := project.Bool("superAdmin"); sa {
			role += ", super admin project"
		}
		line("Membership", fmt.Sprintf("ProjectMembership/%s (%s)", m.ID(), role))
	}
	line("Credentials", where)
	return nil
}

func refText(display, ref string) string {
	switch {
	case display == "":
		return ref
	case ref == "":
		return display
	}
	return display + " (" + ref + ")"
}

// tokenOrigin names where the bearer token in use comes from.
func tokenOrigin(r *config.Resolved) string {
	return r.Lookup("access_token").EnvOrigin()
}

// credentialSource says where the credentials in use come from.
func credentialSource(mgr func() (*auth.Manager, error), r *config.Resolved, a client.Authenticator) (string, error) {
	switch a := a.(type) {
	case *auth.BearerToken:
		return "access token from " + tokenOrigin(r) + " (never stored)", nil
	case *auth.ClientCredentials, *auth.BasicCredentials:
		return "client " + r.Get("client_id") + " with a secret from " + r.Lookup("client_secret").EnvOrigin() + " (never stored)", nil
	case *auth.StoredAuth:
		m, err := mgr()
		if err != nil {
			return "", err
		}
		sess := a.Session()
		where := "secrets in the system keyring"
		if sess.Storage == auth.StorageFile {
			where = "secrets in " + m.InsecureStorePath() + " (--insecure-storage)"
		}
		chosen := ""
		if r.ProfileFromDotenv {
			chosen = " (chosen by MEDPLUM_PROFILE in " + config.DotenvPath() + ")"
		}
		return fmt.Sprintf("%s sign-in of profile %q%s, %s", sess.AuthType, r.Profile, chosen, where), nil
	}
	return "", nil
}

// TokenOptions are the inputs of `medplum token`.
type TokenOptions struct {
	IO            *iostreams.IOStreams
	Client        func() (*client.Client, error)
	Authenticator func() (client.Authenticator, error)
}

// NewCmdToken is `medplum token`.
func NewCmdToken(f *cmdutil.Factory, runF func(*TokenOptions) error) *cobra.Command {
	opts := &TokenOptions{IO: f.IOStreams, Client: f.Client, Authenticator: f.Authenticator}
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a valid access token",
		Long: "Print an access token for the current credentials on stdout, for use in scripts:\n" +
			"the token is checked with the server first and renewed if it expired.\n" +
			"Anyone who sees it can act as you until it expires; do not log it.",
		Example: `  $ curl -H "Authorization: Bearer $(medplum token)" https://api.medplum.com/fhir/R4/Patient`,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return tokenRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func tokenRun(ctx context.Context, o *TokenOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	if _, err := c.Me(ctx); err != nil {
		return err
	}
	a, err := o.Authenticator()
	if err != nil {
		return err
	}
	ts, ok := a.(auth.TokenSource)
	if !ok {
		return errors.New("these credentials (HTTP Basic) have no access token")
	}
	tok, err := ts.AccessToken(ctx)
	if err != nil {
		return err
	}
	_, err = io.WriteString(o.IO.Out, tok+"\n")
	return err
}

// LogoutOptions are the inputs of `medplum logout`.
type LogoutOptions struct {
	IO        *iostreams.IOStreams
	Config    func() (*config.File, error)
	Resolved  func() (*config.Resolved, error)
	Flags     *pflag.FlagSet
	Auth      func() (*auth.Manager, error)
	NewClient func(auth.Settings, client.Authenticator) (*client.Client, error)
	All       bool
}

// NewCmdLogout is `medplum logout`.
func NewCmdLogout(f *cmdutil.Factory, runF func(*LogoutOptions) error) *cobra.Command {
	opts := &LogoutOptions{IO: f.IOStreams, Config: f.Config, Resolved: f.Resolved, Auth: f.Auth, NewClient: f.NewClient}
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Sign out: revoke the session on the server and forget the credentials",
		Long: "Revoke the profile's sign-in on the server (oauth2/logout), so its tokens stop working\n" +
			"everywhere, then remove its secrets from the keyring (or the --insecure-storage file)\n" +
			"and its cached token. The profile's settings stay. --all signs out of every profile.",
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Flags = cmd.Flags()
			if runF != nil {
				return runF(opts)
			}
			return logoutRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "sign out of every profile")
	return cmd
}

func logoutRun(ctx context.Context, o *LogoutOptions) error {
	m, err := o.Auth()
	if err != nil {
		return err
	}
	r, err := o.Resolved()
	if err != nil {
		return err
	}
	profiles := []string{r.Profile}
	if o.All {
		if profiles, err = m.Profiles(); err != nil {
			return err
		}
		if len(profiles) == 0 {
			fmt.Fprintln(o.IO.ErrOut, "No profile is signed in.")
			return nil
		}
	}
	var failed []string
	for _, p := range profiles {
		if err := logoutProfile(ctx, o, m, r, p); err != nil {
			fmt.Fprintf(o.IO.ErrOut, "medplum: profile %q: %v\n", p, err)
			failed = append(failed, p)
		}
	}
	if !o.All && os.Getenv("MEDPLUM_CLIENT_ACCESS_TOKEN") != "" {
		fmt.Fprintln(o.IO.ErrOut, "MEDPLUM_CLIENT_ACCESS_TOKEN is still set in the environment; commands keep using it.")
	}
	if len(failed) > 0 {
		return &cmdutil.SilentError{Code: cmdutil.ExitFailure}
	}
	return nil
}

// logoutProfile revokes and forgets one profile's sign-in. When the server
// cannot be reached the local credentials are removed anyway, and the error
// says the session may still be valid there.
func logoutProfile(ctx context.Context, o *LogoutOptions, m *auth.Manager, r *config.Resolved, profile string) error {
	sess, err := m.Session(profile)
	if err != nil {
		return err
	}
	if sess == nil {
		fmt.Fprintf(o.IO.ErrOut, "Profile %q is not signed in.\n", profile)
		return nil
	}
	settings := logoutSettings(o, r, profile, sess)
	tc, err := o.NewClient(settings, nil)
	if err != nil {
		return err
	}
	n, rerr := m.Revoke(ctx, profile, tc, func(a client.Authenticator) (*client.Client, error) { return o.NewClient(settings, a) })
	if err := m.Forget(profile); err != nil {
		var ku *auth.KeyringUnavailableError
		if errors.As(err, &ku) {
			why := ku.Reason
			if ku.Err != nil {
				why += ": " + ku.Err.Error()
			}
			return fmt.Errorf("still signed in: the sign-in's secrets are in the system keyring, which cannot be used here (%s); sign out where it can", why)
		}
		return fmt.Errorf("removing the local credentials: %w", err)
	}
	if rerr != nil {
		return fmt.Errorf("removed the local credentials, but revoking the session on %s failed, so it stays valid there until it expires: %w", sess.BaseURL, rerr)
	}
	revoked := "no session was still active on the server"
	if n > 0 {
		revoked = cmdutil.Count(n, "session") + " revoked on " + strings.TrimSuffix(sess.BaseURL, "/")
	}
	fmt.Fprintf(o.IO.ErrOut, "Signed out of profile %q: %s; local credentials removed.\n", profile, revoked)
	return nil
}

// logoutSettings are the connection settings a profile's sign-in is revoked
// with: the profile's resolved ones, as every command uses (its token URL
// renews an expired sign-in before the revocation), unless they point at
// another server than the one signed in to, or cannot be resolved; then
// only that server's base URL is known.
func logoutSettings(o *LogoutOptions, r *config.Resolved, profile string, sess *auth.Session) auth.Settings {
	if r.Profile != profile {
		file, err := o.Config()
		if err == nil {
			r, err = file.Resolve(profile, o.Flags)
		}
		if err != nil {
			r = nil
		}
	}
	if r != nil {
		if s := r.Settings(); auth.NormalizeBaseURL(s.BaseURL) == sess.BaseURL {
			return s
		}
	}
	return auth.Settings{Profile: profile, BaseURL: sess.BaseURL}
}
