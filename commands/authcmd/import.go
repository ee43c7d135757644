package authcmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/iostreams"
)

// ImportOptions are the inputs of `profile import`.
type ImportOptions struct {
	IO           *iostreams.IOStreams
	Config       func() (*config.File, error)
	Auth         func() (*auth.Manager, error)
	Dir          string
	Names        []string
	DeleteSource bool
	Force        bool
	Insecure     bool
}

// NewCmdProfileImport is `medplum profile import [name...]`.
func NewCmdProfileImport(f *cmdutil.Factory, runF func(*ImportOptions) error) *cobra.Command {
	opts := &ImportOptions{IO: f.IOStreams, Config: f.Config, Auth: f.Auth}
	cmd := &cobra.Command{
		Use:   "import [name...]",
		Short: "Import the official CLI's profiles and move their secrets to the keyring",
		Long: heredoc.Doc(`
			Read the official Medplum CLI's profiles (~/.medplum/<name>.json; all of
			them unless names are given) and create profiles of the same names: the
			settings go to the settings file; the client secret, refresh tokens and
			a saved --access-token go to the system keyring (or, with
			--insecure-storage, a file readable only by you); the current login's
			access token, while it is valid, goes to the token cache.

			Before 5.1.29 the official CLI's browser sign-in asked for scope openid
			only, so such a login has no refresh token: it works until its access
			token expires, within the hour, and then needs "medplum login".

			The official CLI keeps those secrets in plain text. After an import the
			old file can be deleted; --delete-source does it.
		`),
		Example: heredoc.Doc(`
			$ medplum profile import
			$ medplum profile import staging --delete-source
		`),
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if opts.Dir == "" {
				home, err := os.UserHomeDir()
				if err != nil {
					return cmdutil.FlagErrorf("cannot find the home directory: pass --dir")
				}
				opts.Dir = filepath.Join(home, ".medplum")
			}
			if runF != nil {
				return runF(opts)
			}
			return importRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Dir, "dir", "", "directory of the official CLI's profiles (default ~/.medplum)")
	fl.BoolVar(&opts.DeleteSource, "delete-source", false, "delete each imported file (it holds the secrets in plain text)")
	fl.BoolVar(&opts.Force, "force", false, "replace profiles that already exist")
	fl.BoolVar(&opts.Insecure, "insecure-storage", false, "store the secrets in a file readable only by you instead of the system keyring")
	return cmd
}

func importRun(o *ImportOptions) error {
	names := o.Names
	if len(names) == 0 {
		entries, err := os.ReadDir(o.Dir)
		if err != nil {
			return cmdutil.InputErrorf("cannot read %s: %v", o.Dir, errors.Unwrap(err))
		}
		for _, e := range entries {
			if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		if len(names) == 0 {
			return cmdutil.InputErrorf("no profiles in %s", o.Dir)
		}
	}
	file, err := o.Config()
	if err != nil {
		return err
	}
	m, err := o.Auth()
	if err != nil {
		return err
	}
	if !o.Insecure {
		if k, ok := m.Keyring.(interface{ Available() error }); ok {
			if err := k.Available(); err != nil {
				return err
			}
		}
	}
	failed := 0
	for _, name := range names {
		path := filepath.Join(o.Dir, name+".json")
		if err := importOne(o, file, m, name, path); err != nil {
			fmt.Fprintf(o.IO.ErrOut, "medplum: %s: %v\n", path, err)
			failed++
		}
	}
	if failed > 0 {
		return &cmdutil.SilentError{Code: cmdutil.ExitFailure}
	}
	return nil
}

func importOne(o *ImportOptions, file *config.File, m *auth.Manager, name, path string) error {
	if err := config.CheckProfileName(name); err != nil {
		return err
	}
	if _, exists := file.Profile(name); exists && !o.Force {
		return fmt.Errorf("profile %q already exists (--force replaces it)", name)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return errors.Unwrap(err)
	}
	lp, err := auth.ParseLegacyProfile(data)
	if err != nil {
		return err
	}
	lo := lp.Options
	p := &config.Profile{}
	base := lo.BaseURL
	if base == "" {
		base = "https://api.medplum.com/"
	}
	for k, v := range map[string]string{
		"base_url": auth.NormalizeBaseURL(base), "fhir_url_path": lo.FHIRURLPath, "token_url": lo.TokenURL,
		"authorize_url": lo.AuthorizeURL, "client_id": lo.ClientID, "scope": lo.Scope,
	} {
		key, _ := config.LookupKey(k)
		if err := config.CheckValue(key, v); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if err := p.Set(k, v); err != nil {
			return err
		}
	}
	res, err := m.ImportLegacy(name, auth.NormalizeBaseURL(base), lp, o.Insecure)
	if err != nil {
		return err
	}
	authType := map[string]string{
		"client secret": auth.AuthTypeClientCredentials, "access token": "",
	}[res.What]
	if strings.HasSuffix(res.What, "login") || strings.HasSuffix(res.What, "logins") {
		authType = auth.AuthTypeAuthorizationCode
	}
	if res.What == "" {
		authType = lo.AuthType
	}
	if err := p.Set("auth_type", authType); err != nil {
		return err
	}
	file.Set(name, p)
	if err := file.Save(); err != nil {
		return fmt.Errorf("saving the settings: %w", err)
	}
	fmt.Fprintf(o.IO.ErrOut, "Imported profile %s from %s: %s.\n", name, path, importSummary(o, m, file, name, res))
	if res.NoRefresh > 0 {
		fmt.Fprintf(o.IO.ErrOut, "medplum: warning: profile %s: %s\n", name, noRefreshWarning(m, name, res))
	}
	if o.DeleteSource {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("imported, but deleting the file failed: %w", err)
		}
		fmt.Fprintf(o.IO.ErrOut, "Deleted %s.\n", path)
	} else if res.What != "" {
		fmt.Fprintf(o.IO.ErrOut, "%s still holds these secrets in plain text: delete it (or run again with --delete-source).\n", path)
	}
	return nil
}

// importSummary says where an import put things: the settings into the
// settings file, secrets into the keyring (or the --insecure-storage
// file), a still-valid access token into the token cache.
func importSummary(o *ImportOptions, m *auth.Manager, file *config.File, name string, res *auth.LegacyImport) string {
	sum := "settings into " + file.Path()
	if res.What == "" {
		return sum + " (the file holds no credentials)"
	}
	store := "the system keyring"
	if o.Insecure {
		store = m.InsecureStorePath()
	}
	if !strings.HasSuffix(res.What, "login") && !strings.HasSuffix(res.What, "logins") {
		return fmt.Sprintf("%s; the %s into %s", sum, res.What, store)
	}
	var parts []string
	switch {
	case res.Stored == 1:
		parts = append(parts, "its refresh token into "+store)
	case res.Stored > 1:
		parts = append(parts, "their refresh tokens into "+store)
	}
	if res.Cached {
		parts = append(parts, "the access token into "+m.TokenCachePath(name))
	}
	if len(parts) == 0 {
		return sum + "; " + res.What + ", with no token that still works"
	}
	return sum + "; " + res.What + ", " + strings.Join(parts, " and ")
}

// noRefreshWarning explains imported logins without a refresh token (the
// official CLI's browser sign-in asked only for scope openid before 5.1.29)
// and says when they stop working.
func noRefreshWarning(m *auth.Manager, name string, res *auth.LegacyImport) string {
	again := "medplum -p " + name + " login"
	if res.NoRefresh < res.Logins {
		return fmt.Sprintf("%d of its %d project logins have no refresh token (the official CLI signed in with scope openid only), "+
			"so they stop working within an hour of their sign-in; sign in to those projects again with: %s", res.NoRefresh, res.Logins, again)
	}
	msg := "the official CLI signed in with scope openid only, so there is no refresh token to renew the sign-in: "
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	switch left := res.Expires.Sub(now); {
	case res.Expires.IsZero():
		return msg + "it stops working when its access token expires, within an hour of the sign-in; then sign in again: " + again
	case left <= 0:
		return msg + "its access token has expired, so it no longer works; sign in again: " + again
	default:
		return msg + fmt.Sprintf("it stops working when its access token expires, at %s (in %s); then sign in again: %s",
			res.Expires.Local().Format("15:04"), roundDuration(left), again)
	}
}

// roundDuration is d in whole minutes ("42 minutes"), or "less than a
// minute".
func roundDuration(d time.Duration) string {
	if n := int(d / time.Minute); n > 0 {
		return cmdutil.Count(n, "minute")
	}
	return "less than a minute"
}
