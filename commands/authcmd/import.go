package authcmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

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
			access tokens go to the system keyring (or, with --insecure-storage, a
			file readable only by you).

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
	what, err := m.ImportLegacy(name, auth.NormalizeBaseURL(base), lp, o.Insecure)
	if err != nil {
		return err
	}
	authType := map[string]string{
		"client secret": auth.AuthTypeClientCredentials, "access token": "",
	}[what]
	if strings.HasSuffix(what, "login") || strings.HasSuffix(what, "logins") {
		authType = auth.AuthTypeAuthorizationCode
	}
	if what == "" {
		authType = lo.AuthType
	}
	if err := p.Set("auth_type", authType); err != nil {
		return err
	}
	file.Set(name, p)
	if err := file.Save(); err != nil {
		return fmt.Errorf("saving the settings: %w", err)
	}
	stored := "settings only (the file holds no credentials)"
	if what != "" {
		where := "system keyring"
		if o.Insecure {
			where = m.InsecureStorePath()
		}
		stored = fmt.Sprintf("settings, and %s into the %s", what, where)
	}
	fmt.Fprintf(o.IO.ErrOut, "Imported profile %s from %s: %s.\n", name, path, stored)
	if o.DeleteSource {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("imported, but deleting the file failed: %w", err)
		}
		fmt.Fprintf(o.IO.ErrOut, "Deleted %s.\n", path)
	} else if what != "" {
		fmt.Fprintf(o.IO.ErrOut, "%s still holds these secrets in plain text: delete it (or run again with --delete-source).\n", path)
	}
	return nil
}
