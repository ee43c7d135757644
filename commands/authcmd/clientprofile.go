package authcmd

import (
	"context"
	"fmt"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/commands/cmdutil"
)

// Storing a new client's sign-in in a profile, for the commands that make a
// client secret (clients create|rotate-secret --save-profile): the same
// result as `medplum login --auth-type client-credentials
// --client-secret-stdin -p NAME`, without the secret passing through a pipe
// or a log.

// CheckClientProfile says, before a secret is made, whether SaveClientProfile
// could keep it: the profile name is usable and, unless insecure (the 0600
// file), the system keyring answers.
func CheckClientProfile(f *cmdutil.Factory, name string, insecure bool) error {
	if err := auth.CheckProfileName(name); err != nil {
		return cmdutil.FlagErrorf("--save-profile: %v", err)
	}
	if insecure {
		return nil
	}
	m, err := f.Auth()
	if err != nil {
		return err
	}
	if k, ok := m.Keyring.(interface{ Available() error }); ok {
		if err := k.Available(); err != nil {
			return err
		}
	}
	return nil
}

// SaveClientProfile signs in with a client's id and secret against the
// server of the current profile and stores the sign-in in profile name:
// the secret in the keyring (or, insecure, the 0600 credentials file), the
// server's connection settings, client_id and auth_type in the settings
// file. It returns who the sign-in is, for messages, and where the secret
// went.
func SaveClientProfile(ctx context.Context, f *cmdutil.Factory, name, clientID, secret string, insecure bool) (who, where string, err error) {
	r, err := f.Resolved()
	if err != nil {
		return "", "", err
	}
	m, err := f.Auth()
	if err != nil {
		return "", "", err
	}
	tc, err := f.BareClient()
	if err != nil {
		return "", "", err
	}
	tr, err := auth.ClientCredentialsLogin(ctx, tc, clientID, secret, "")
	if err != nil {
		return "", "", rejectedErr(err, "the new client could not sign in; nothing was stored")
	}
	s := r.Settings()
	s.ClientID, s.ClientSecret, s.AccessToken, s.Scope = clientID, "", "", ""
	c, err := f.NewClient(s, &auth.BearerToken{Token: tr.AccessToken})
	if err != nil {
		return "", "", err
	}
	me, err := c.Me(ctx)
	if err != nil {
		return "", "", err
	}
	save := auth.SaveOptions{BaseURL: tc.BaseURL(), TokenURL: tc.TokenURL(), ClientID: clientID, AuthType: auth.AuthTypeClientCredentials, Insecure: insecure}
	if _, err := m.SaveClientLogin(name, save, secret, tr); err != nil {
		return "", "", err
	}
	values := map[string]string{"auth_type": auth.AuthTypeClientCredentials, "client_id": clientID}
	for _, v := range r.Values {
		switch v.Key.Name {
		case "fhir_url_path", "token_url", "authorize_url":
			if v.Source != "default" && v.Value != "" {
				values[v.Key.Name] = v.Value
			}
		}
	}
	if err := writeProfile(f.Config, name, tc.BaseURL(), values); err != nil {
		return "", "", err
	}
	where = "the system keyring"
	if insecure {
		where = fmt.Sprintf("%s (readable only by you)", m.InsecureStorePath())
	}
	return describeMe(me), where, nil
}
