// Package authcmd is signing in and out: login, logout, whoami, token, the
// project commands that switch between a user's projects, and profile
// import from the official CLI.
package authcmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/iostreams"
)

// LoginOptions are the inputs of `medplum login`.
type LoginOptions struct {
	IO         *iostreams.IOStreams
	Config     func() (*config.File, error)
	Resolved   func() (*config.Resolved, error)
	Auth       func() (*auth.Manager, error)
	BareClient func() (*client.Client, error)
	NewClient  func(auth.Settings, client.Authenticator) (*client.Client, error)
	Getenv     func(string) string
	Prompter   auth.Prompter
	Now        func() time.Time

	AuthType          string
	AuthTypeGiven     bool
	WithToken         bool
	Insecure          bool
	ClientSecretStdin bool
	CallbackPort      int
	NoBrowser         bool
	Timeout           time.Duration
	Email             string
	PasswordStdin     bool
	MFACode           string
	Project           string
	Membership        string
	PrivateKeyPath    string
	Alg               string
	KeyID             string
	// Changed are the settings flags given (base_url, scope, ...), saved in
	// the profile.
	Changed map[string]string
}

// authTypes are the values of --auth-type that login accepts.
var authTypes = []string{auth.AuthTypeAuthorizationCode, auth.AuthTypePassword, auth.AuthTypeClientCredentials, auth.AuthTypeJWTAssertion}

// NewCmdLogin is `medplum login`.
func NewCmdLogin(f *cmdutil.Factory, runF func(*LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{
		IO: f.IOStreams, Config: f.Config, Resolved: f.Resolved, Auth: f.Auth, BareClient: f.BareClient, NewClient: f.NewClient,
		Getenv: os.Getenv, Prompter: NewPrompter(f.IOStreams), Now: time.Now,
	}
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in and keep the credentials in the system keyring",
		Long: heredoc.Doc(`
			Sign in to the profile's server and remember the sign-in, so later
			commands need no password or secret. Secrets (refresh tokens, client
			secrets) go to the system keyring: macOS Keychain, Windows Credential
			Manager, or the Secret Service on Linux. The short-lived access token
			is cached in a file only you can read. Nothing secret is written to
			the settings file.

			--auth-type chooses how:
			  authorization-code  in the browser, with PKCE (the default on a terminal).
			                      The page redirects to http://localhost:9615; use
			                      --no-browser on a machine without one and paste the
			                      address the browser ends on. Another --callback-port
			                      needs your own ClientApplication (--client-id) with
			                      http://localhost:<port> among its redirect URIs:
			                      Medplum matches them exactly, so 0 (any free port)
			                      is refused.
			  password            in the terminal: e-mail, password (never as a flag:
			                      typed without echo, or --password-stdin), the
			                      authenticator code if the account has MFA, and the
			                      project if the user belongs to several.
			  client-credentials  a ClientApplication's id and secret (for CI). The
			                      secret comes from --client-secret-stdin, or
			                      MEDPLUM_CLIENT_SECRET (used, never stored).
			  jwt-assertion       a ClientApplication with a JWK set: a JWT signed with
			                      --private-key-path (RS384 unless --alg says otherwise).
			With --with-token, an access token read from stdin is checked with the
			server and stored as it is.

			Without a usable keyring, login fails and says so; --insecure-storage
			then keeps the secrets in a file readable only by you (mode 0600).
		`),
		Example: heredoc.Doc(`
			$ medplum login
			$ medplum login --auth-type password --email admin@example.com
			$ printf '%s' "$SECRET" | medplum login --auth-type client-credentials --client-id 0a1b... --client-secret-stdin
			$ medplum login --auth-type jwt-assertion --client-id 0a1b... --private-key-path key.pem
			$ medplum token | medplum -p other login --with-token
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			if err := allowNewProfile(f, fl); err != nil {
				return err
			}
			opts.AuthTypeGiven = fl.Changed("auth-type")
			opts.AuthType, _ = fl.GetString("auth-type")
			changes := map[string]string{}
			for _, k := range config.Keys {
				if k.Flag == "" || k.Secret || !fl.Changed(k.Flag) {
					continue
				}
				v, _ := fl.GetString(k.Flag)
				if err := config.CheckValue(k, v); err != nil {
					return err
				}
				changes[k.Name] = v
			}
			opts.Changed = changes
			if err := checkLoginFlags(opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return loginRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	config.AddProfileFlags(fl)
	_ = cmd.RegisterFlagCompletionFunc("auth-type", completion.Values(authTypes...))
	fl.BoolVar(&opts.WithToken, "with-token", false, "read an access token from stdin, check it and store it")
	fl.BoolVar(&opts.Insecure, "insecure-storage", false, "store secrets in a file readable only by you instead of the system keyring")
	fl.BoolVar(&opts.ClientSecretStdin, "client-secret-stdin", false, "client-credentials: read the client secret from stdin")
	fl.IntVar(&opts.CallbackPort, "callback-port", auth.DefaultCallbackPort, "authorization-code: loopback port the browser is sent back to; the medplum-cli client needs 9615, another port your own --client-id (0 is refused)")
	fl.BoolVar(&opts.NoBrowser, "no-browser", false, "authorization-code: only print the URL; paste the address the browser ends on")
	fl.DurationVar(&opts.Timeout, "timeout", auth.DefaultLoginTimeout, "authorization-code: how long to wait for the browser")
	fl.StringVar(&opts.Email, "email", "", "password: the e-mail address to sign in with")
	fl.BoolVar(&opts.PasswordStdin, "password-stdin", false, "password: read the password from stdin")
	fl.StringVar(&opts.MFACode, "mfa-code", "", "password: the authenticator app's current code")
	fl.StringVar(&opts.Project, "project", "", "password: the project to sign in to, when the user has several")
	// The projects the user may sign in to are known only after the password.
	_ = cmd.RegisterFlagCompletionFunc("project", cobra.NoFileCompletions)
	fl.StringVar(&opts.Membership, "membership", "", "password: the project membership to sign in as")
	fl.StringVar(&opts.PrivateKeyPath, "private-key-path", "", "jwt-assertion: PEM private key that signs the client assertion")
	fl.StringVar(&opts.Alg, "alg", "", "jwt-assertion: signing algorithm (default RS384 for RSA keys, ES256/384/512 for EC keys)")
	fl.StringVar(&opts.KeyID, "key-id", "", "jwt-assertion: kid header, when the JWK set has several keys")
	return cmd
}

// allowNewProfile lets login create the profile it signs in to: a profile
// named with -p (or MEDPLUM_PROFILE) that the settings file does not hold yet
// is added to the loaded file, and saved only if the sign-in succeeds.
func allowNewProfile(f *cmdutil.Factory, fl *pflag.FlagSet) error {
	name, _ := fl.GetString("profile")
	if name == "" {
		name = os.Getenv("MEDPLUM_PROFILE")
	}
	if name == "" {
		return nil
	}
	if err := config.CheckProfileName(name); err != nil {
		return err
	}
	file, err := f.Config()
	if err != nil {
		return err
	}
	if _, ok := file.Profile(name); !ok {
		file.Set(name, &config.Profile{})
	}
	return nil
}

// checkLoginFlags rejects combinations that cannot work, before anything is
// sent.
func checkLoginFlags(o *LoginOptions) error {
	stdin := 0
	for _, b := range []bool{o.WithToken, o.PasswordStdin, o.ClientSecretStdin} {
		if b {
			stdin++
		}
	}
	if stdin > 1 {
		return cmdutil.FlagErrorf("only one of --with-token, --password-stdin and --client-secret-stdin can read stdin")
	}
	if o.AuthTypeGiven && !slices.Contains(authTypes, o.AuthType) {
		return cmdutil.FlagErrorf("--auth-type %q: use one of %s", o.AuthType, strings.Join(authTypes, ", "))
	}
	if err := checkCallbackPort(o.CallbackPort); err != nil {
		return err
	}
	if o.Timeout <= 0 {
		return cmdutil.FlagErrorf("--timeout must be positive")
	}
	if o.Project != "" && o.Membership != "" {
		return cmdutil.FlagErrorf("--project and --membership both choose the project; give one")
	}
	return nil
}

// checkCallbackPort refuses a --callback-port that cannot work, 0 ("any
// free port") included: Medplum takes only a redirect URI that equals one
// registered on the client (reference medplum.md 2.7), so the port must be
// known in advance; the built-in medplum-cli client registers 9615 only.
func checkCallbackPort(port int) error {
	switch {
	case port == 0:
		return cmdutil.FlagErrorf("--callback-port 0 (any free port) cannot work: Medplum accepts only a redirect URI registered on the client, exactly; " +
			"choose a port, register http://localhost:<port> on your ClientApplication and pass its --client-id (the built-in medplum-cli client accepts 9615 only)")
	case port < 0 || port > 65535:
		return cmdutil.FlagErrorf("--callback-port %d is not a port number", port)
	}
	return nil
}

// loginRun signs in and stores the result.
func loginRun(ctx context.Context, o *LoginOptions) error {
	r, err := o.Resolved()
	if err != nil {
		return err
	}
	if r.Lookup("access_token").Source == "flag" {
		return cmdutil.FlagErrorf("login does not use --access-token: that token is sent as it is by one command and never stored; to store a token, pipe it to: medplum login --with-token")
	}
	s := r.Settings()
	m, err := o.Auth()
	if err != nil {
		return err
	}
	authType, err := chooseAuthType(o, s)
	if err != nil {
		return err
	}
	// Fail before signing in if the secrets could not be kept; a client
	// secret from the environment is never stored, so it needs no keyring.
	if !o.Insecure && !(authType == auth.AuthTypeClientCredentials && !o.ClientSecretStdin && secretFromEnv(r)) {
		if k, ok := m.Keyring.(interface{ Available() error }); ok {
			if err := k.Available(); err != nil {
				return err
			}
		}
	}
	tc, err := o.BareClient()
	if err != nil {
		return err
	}
	if s.AccessToken != "" {
		fmt.Fprintln(o.IO.ErrOut, "medplum: warning: MEDPLUM_CLIENT_ACCESS_TOKEN is set; other commands keep using it instead of this sign-in until you unset it")
	}
	save := auth.SaveOptions{BaseURL: tc.BaseURL(), TokenURL: tc.TokenURL(), Scope: s.Scope, Insecure: o.Insecure, AuthType: authType}
	var done *loginResult
	switch {
	case o.WithToken:
		done, err = loginWithToken(ctx, o, r, m, save)
	case authType == auth.AuthTypeClientCredentials:
		done, err = loginClientCredentials(ctx, o, r, tc, m, save)
	case authType == auth.AuthTypeJWTAssertion:
		done, err = loginJWTAssertion(ctx, o, s, tc, m, save)
	default:
		done, err = loginUser(ctx, o, s, tc, m, save)
	}
	if err != nil {
		return err
	}
	if err := saveProfile(o, r.Profile, tc.BaseURL(), done.profile); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "Signed in to %s as %s.\n", tc.BaseURL(), done.who)
	switch {
	case done.notStored != "":
		fmt.Fprintln(o.IO.ErrOut, done.notStored)
	case o.Insecure:
		fmt.Fprintf(o.IO.ErrOut, "Credentials are stored in plain text in %s (readable only by you), as --insecure-storage asked.\n", m.InsecureStorePath())
	default:
		fmt.Fprintln(o.IO.ErrOut, "Credentials are in the system keyring.")
	}
	return nil
}

// loginResult is what a flow reports for the summary and the profile.
type loginResult struct {
	who       string            // "admin@example.com (Sandbox Project)"
	profile   map[string]string // settings to save in the profile
	notStored string            // why nothing was stored, if so
}

// chooseAuthType: --auth-type, else the profile's auth_type, else the
// browser on a terminal, client credentials when an id and secret are at
// hand, else ask for --auth-type.
func chooseAuthType(o *LoginOptions, s auth.Settings) (string, error) {
	if o.WithToken {
		return auth.AuthTypeToken, nil
	}
	t := s.AuthType
	if o.AuthTypeGiven {
		t = o.AuthType
	}
	if t != "" {
		if !slices.Contains(authTypes, t) {
			return "", cmdutil.FlagErrorf("auth type %q (from the profile): login supports %s", t, strings.Join(authTypes, ", "))
		}
		return t, nil
	}
	switch {
	case o.IO.CanPrompt():
		return auth.AuthTypeAuthorizationCode, nil
	case s.ClientID != "" && (s.ClientSecret != "" || o.ClientSecretStdin):
		return auth.AuthTypeClientCredentials, nil
	}
	return "", cmdutil.FlagErrorf("no terminal to sign in on: choose --auth-type (client-credentials for CI, or password with --password-stdin)")
}

// readStdin reads a secret piped to stdin, without its final newline.
func readStdin(ios *iostreams.IOStreams, what string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(ios.In, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read %s from stdin: %w", what, err)
	}
	v := string(bytes.TrimRight(b, "\r\n"))
	if strings.TrimSpace(v) == "" {
		return "", cmdutil.InputErrorf("stdin is empty: pipe the %s to it", what)
	}
	if strings.ContainsAny(v, "\r\n") {
		return "", cmdutil.InputErrorf("the %s on stdin spans several lines", what)
	}
	return v, nil
}

// rejectedErr gives a refused sign-in exit 4 and a fitting hint, and a
// missing answer (no terminal to ask on) exit 2.
func rejectedErr(err error, tip string) error {
	var in *auth.InputNeededError
	var inactive *auth.ProfileNotActiveError
	switch {
	case errors.As(err, &in):
		return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: err}
	case errors.As(err, &inactive):
		// (Signing in again cannot help until an admin acts.)
		return &cmdutil.ExitError{Code: cmdutil.ExitAuth, Err: err, Tip: "nothing was stored"}
	case errors.Is(err, auth.ErrCredentialsRejected) || errors.Is(err, auth.ErrNotSignedIn):
		return &cmdutil.ExitError{Code: cmdutil.ExitAuth, Err: err, Tip: tip}
	}
	return err
}

// me asks the server who a fresh access token belongs to.
func me(ctx context.Context, o *LoginOptions, s auth.Settings, token string) (*client.MeResponse, error) {
	c, err := o.NewClient(s, &auth.BearerToken{Token: token})
	if err != nil {
		return nil, err
	}
	return c.Me(ctx)
}

func describeMe(me *client.MeResponse) string {
	who := ""
	if me.User != nil {
		who = me.User.String("email")
	}
	if who == "" && me.Membership != nil {
		who = me.Membership.Display("profile")
		if ref := me.Membership.Ref("profile"); ref != "" {
			who += " (" + ref + ")"
		}
	}
	if me.Project != nil && me.Project.String("name") != "" {
		who += " in project " + me.Project.String("name")
	}
	return who
}

func loginWithToken(ctx context.Context, o *LoginOptions, r *config.Resolved, m *auth.Manager, save auth.SaveOptions) (*loginResult, error) {
	tok, err := readStdin(o.IO, "access token")
	if err != nil {
		return nil, err
	}
	who, err := me(ctx, o, r.Settings(), tok)
	if err != nil {
		if client.StatusOf(err) == 401 {
			return nil, &cmdutil.ExitError{Code: cmdutil.ExitAuth, Err: errors.New("the server does not accept this access token (expired, revoked, or for another server)"), Tip: "nothing was stored"}
		}
		return nil, err
	}
	if _, err := m.SaveTokenLogin(r.Profile, save, tok, who); err != nil {
		return nil, err
	}
	return &loginResult{who: describeMe(who), profile: map[string]string{"auth_type": ""}}, nil
}

func loginClientCredentials(ctx context.Context, o *LoginOptions, r *config.Resolved, tc *client.Client, m *auth.Manager, save auth.SaveOptions) (*loginResult, error) {
	s := r.Settings()
	if s.ClientID == "" {
		return nil, cmdutil.FlagErrorf("client-credentials needs --client-id (or MEDPLUM_CLIENT_ID)")
	}
	secret, fromEnv := s.ClientSecret, false
	if o.ClientSecretStdin {
		var err error
		if secret, err = readStdin(o.IO, "client secret"); err != nil {
			return nil, err
		}
	} else {
		fromEnv = secretFromEnv(r)
	}
	if secret == "" {
		return nil, cmdutil.FlagErrorf("client-credentials needs the client secret: pipe it to --client-secret-stdin, or set MEDPLUM_CLIENT_SECRET")
	}
	tr, err := auth.ClientCredentialsLogin(ctx, tc, s.ClientID, secret, s.Scope)
	if err != nil {
		return nil, rejectedErr(err, "check the client id and secret; nothing was stored")
	}
	who, err := me(ctx, o, s, tr.AccessToken)
	if err != nil {
		return nil, err
	}
	res := &loginResult{who: describeMe(who), profile: map[string]string{"auth_type": auth.AuthTypeClientCredentials, "client_id": s.ClientID}}
	if fromEnv {
		// Credentials from the environment are never written anywhere.
		if err := m.Forget(r.Profile); err != nil {
			return nil, err
		}
		from := "MEDPLUM_CLIENT_SECRET"
		if v := r.Lookup("client_secret"); v.Origin() != "env "+v.Key.Env {
			from += " in " + config.DotenvFile
		}
		res.notStored = "The client secret came from " + from + ", so nothing secret was stored: keep it set for later commands, or pipe it to --client-secret-stdin to store it."
		return res, nil
	}
	save.ClientID = s.ClientID
	if _, err := m.SaveClientLogin(r.Profile, save, secret, tr); err != nil {
		return nil, err
	}
	return res, nil
}

// secretFromEnv reports whether the client secret comes from
// MEDPLUM_CLIENT_SECRET.
func secretFromEnv(r *config.Resolved) bool {
	for _, v := range r.Values {
		if v.Key.Name == "client_secret" {
			return v.Source == "env" && v.Value != ""
		}
	}
	return false
}

func loginJWTAssertion(ctx context.Context, o *LoginOptions, s auth.Settings, tc *client.Client, m *auth.Manager, save auth.SaveOptions) (*loginResult, error) {
	if s.ClientID == "" {
		return nil, cmdutil.FlagErrorf("jwt-assertion needs --client-id (or MEDPLUM_CLIENT_ID)")
	}
	if o.PrivateKeyPath == "" {
		return nil, cmdutil.FlagErrorf("jwt-assertion needs --private-key-path")
	}
	data, err := os.ReadFile(o.PrivateKeyPath)
	if err != nil {
		return nil, cmdutil.InputErrorf("--private-key-path: %v", err)
	}
	key, err := auth.ParseAssertionKey(data, o.Alg)
	if err != nil {
		return nil, cmdutil.InputErrorf("--private-key-path %s: %v", o.PrivateKeyPath, err)
	}
	key.KeyID = o.KeyID
	tr, err := auth.JWTAssertionLogin(ctx, tc, key, s.ClientID, s.Scope, o.Now())
	if err != nil {
		return nil, rejectedErr(err, "check the client id, that its JWK set (jwksUri) holds this key, and --alg; nothing was stored")
	}
	who, err := me(ctx, o, s, tr.AccessToken)
	if err != nil {
		return nil, err
	}
	abs := o.PrivateKeyPath
	if a, err := filepath.Abs(abs); err == nil {
		abs = a
	}
	save.ClientID, save.PrivateKeyPath, save.Alg, save.KeyID = s.ClientID, abs, o.Alg, o.KeyID
	if _, err := m.SaveClientLogin(s.Profile, save, "", tr); err != nil {
		return nil, err
	}
	return &loginResult{who: describeMe(who), profile: map[string]string{"auth_type": auth.AuthTypeJWTAssertion, "client_id": s.ClientID}}, nil
}

// loginUser runs a person's sign-in: the browser, or the password stages.
func loginUser(ctx context.Context, o *LoginOptions, s auth.Settings, tc *client.Client, m *auth.Manager, save auth.SaveOptions) (*loginResult, error) {
	ul, authType, err := userFlow(ctx, o, s, tc, "")
	if err != nil {
		return nil, err
	}
	save.AuthType = authType
	who, err := completeUserLogin(ctx, o, s, m, save, ul)
	if err != nil {
		return nil, err
	}
	res := &loginResult{who: who, profile: map[string]string{"auth_type": authType}}
	return res, nil
}

// userFlow signs a person in with the password stages or the browser; the
// password flow switches to the browser for an external identity provider.
// projectID, when set, asks for that project (project switch).
func userFlow(ctx context.Context, o *LoginOptions, s auth.Settings, tc *client.Client, projectID string) (*auth.UserLogin, string, error) {
	authType := o.AuthType
	if !o.AuthTypeGiven || authType == "" {
		authType = s.AuthType
	}
	if authType == "" {
		authType = auth.AuthTypeAuthorizationCode
	}
	scope := s.Scope
	if scope == "" {
		scope = auth.DefaultScope
	}
	if projectID == "" {
		projectID = o.Project
	}
	hint := ""
	if authType == auth.AuthTypePassword {
		email := o.Email
		if email == "" {
			var err error
			email, err = o.Prompter.Input(ctx, "E-mail: ")
			if errors.Is(err, auth.ErrNoPrompt) {
				return nil, "", cmdutil.FlagErrorf("password sign-in needs --email")
			}
			if err != nil {
				return nil, "", err
			}
		}
		pw := ""
		if o.PasswordStdin {
			var err error
			if pw, err = readStdin(o.IO, "password"); err != nil {
				return nil, "", err
			}
		}
		ul, err := auth.PasswordLogin(ctx, tc, auth.PasswordOptions{
			Email: strings.TrimSpace(email), Password: pw, MFACode: o.MFACode,
			ProjectID: projectID, MembershipID: o.Membership, Scope: scope, ClientID: passwordClientID(s),
		}, o.Prompter)
		var ext *auth.ExternalIdPError
		if !errors.As(err, &ext) {
			if err != nil {
				return nil, "", rejectedErr(err, "nothing was stored; run medplum login again")
			}
			return ul, auth.AuthTypePassword, nil
		}
		fmt.Fprintf(o.IO.ErrOut, "%s signs in through the identity provider of %s; continuing in the browser.\n", ext.Email, ext.Domain)
		authType, hint = auth.AuthTypeAuthorizationCode, ext.Email
	}
	clientID := s.ClientID
	if clientID == "" {
		clientID = auth.CLIClientID
	}
	authorize, err := resolveAuthorizeURL(tc, s.AuthorizeURL)
	if err != nil {
		return nil, "", err
	}
	ul, err := auth.BrowserLogin(ctx, tc, auth.BrowserOptions{
		AuthorizeURL: authorize, ClientID: clientID, Scope: scope, Port: o.CallbackPort,
		NoBrowser: o.NoBrowser, Timeout: o.Timeout, LoginHint: hint,
	}, func(u string) { showURL(o.IO, o.Getenv, o.NoBrowser, u) }, o.Prompter)
	if err != nil {
		return nil, "", rejectedErr(err, "nothing was stored; run medplum login again")
	}
	return ul, authType, nil
}

// passwordClientID is the OAuth client of a password sign-in: the profile's
// own client when it has one. The built-in medplum-cli cannot be combined
// with a project choice, and PKCE needs no client.
func passwordClientID(s auth.Settings) string {
	if s.ClientID == auth.CLIClientID {
		return ""
	}
	return s.ClientID
}

// resolveAuthorizeURL makes the authorize URL absolute against the base URL.
func resolveAuthorizeURL(tc *client.Client, u string) (string, error) {
	if u == "" {
		u = "oauth2/authorize"
	}
	l := strings.ToLower(u)
	if strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
		return u, nil
	}
	return tc.BaseURL() + strings.TrimLeft(u, "/"), nil
}

// completeUserLogin asks the server who signed in (e-mail, membership) and
// stores the login.
func completeUserLogin(ctx context.Context, o *LoginOptions, s auth.Settings, m *auth.Manager, save auth.SaveOptions, ul *auth.UserLogin) (string, error) {
	who, err := me(ctx, o, s, ul.Token.AccessToken)
	if err != nil {
		return "", err
	}
	if who.User != nil && who.User.String("email") != "" {
		ul.Email = who.User.String("email")
	}
	if who.Membership != nil && who.Membership.ID() != "" {
		ul.MembershipID = who.Membership.ID()
	}
	if _, err := m.SaveUserLogin(s.Profile, save, ul); err != nil {
		return "", err
	}
	return describeMe(who), nil
}

// saveProfile records the sign-in's settings in the profile: the base URL it
// was made against, the auth type, the client id, and every settings flag
// given. Secrets never go there.
func saveProfile(o *LoginOptions, name, baseURL string, set map[string]string) error {
	values := map[string]string{}
	for k, v := range o.Changed {
		values[k] = v
	}
	for k, v := range set {
		values[k] = v
	}
	return writeProfile(o.Config, name, baseURL, values)
}

// writeProfile sets base_url and values in profile name of the settings
// file, keeping its other settings.
func writeProfile(cfg func() (*config.File, error), name, baseURL string, values map[string]string) error {
	file, err := cfg()
	if err != nil {
		return err
	}
	p, ok := file.Profile(name)
	if !ok {
		p = &config.Profile{}
	}
	if err := p.Set("base_url", baseURL); err != nil {
		return err
	}
	for k, v := range values {
		if err := p.Set(k, v); err != nil {
			return err
		}
	}
	file.Set(name, p)
	if err := file.Save(); err != nil {
		return fmt.Errorf("saving the profile: %w", err)
	}
	return nil
}
