package profile

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/config"
)

// NewCmdRemove is `medplum profile remove <name>`.
func NewCmdRemove(f *cmdutil.Factory, runF func(*NameOptions) error) *cobra.Command {
	return newNameCmd(f, &cobra.Command{
		Use:     "remove <name>",
		Aliases: []string{"rm"},
		Short:   "Remove a profile from the settings file",
		Long:    "Remove a profile from the settings file. If it was the current profile, \"default\" becomes current.\nA profile that is signed in must be signed out first (medplum -p <name> logout).",
	}, func(file *config.File, name string) (string, error) {
		if _, ok := file.Profile(name); !ok {
			return "", config.NoSuchProfile(name)
		}
		if err := signedOut(f, name); err != nil {
			return "", err
		}
		file.Remove(name)
		return "Removed profile " + name, nil
	}, runF)
}

// signedOut refuses to remove a profile that still has a sign-in: its
// secrets would stay in the keyring (or the --insecure-storage file) with
// nothing left to find them by, and a later profile of the same name would
// silently take the sign-in over. logout revokes and removes them.
func signedOut(f *cmdutil.Factory, name string) error {
	m, err := f.Auth()
	if err != nil {
		return err
	}
	s, err := m.Session(name)
	if err != nil || s == nil {
		return nil // a damaged record cannot be signed out of either
	}
	return &config.Error{
		Msg: fmt.Sprintf("profile %q is signed in to %s: sign out first, so its credentials do not stay behind", name, s.BaseURL),
		Tip: "run: medplum -p " + name + " logout",
	}
}
