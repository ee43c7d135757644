package authcmd_test

import (
	"net/url"
	"path/filepath"
	"testing"
)

// MEDPLUM_AUTHORIZE_URL (the official CLI's variable) is where the browser
// sign-in starts; --authorize-url beats it, and it beats the profile.
func TestAuthorizeURLPrecedence(t *testing.T) {
	srv := newServer(t)
	srv.ApproveBrowserLogins("ann@example.com", "")
	for _, c := range []struct{ env, flag, want string }{
		{"", "", "profile"},
		{srv.URL + "oauth2/authorize?via=env", "", "env"},
		{srv.URL + "oauth2/authorize?via=env", srv.URL + "oauth2/authorize?via=flag", "flag"},
	} {
		e, args, _ := browserEnv(t, srv, "")
		e.Run("profile", "set", "default", "--authorize-url", srv.URL+"oauth2/authorize?via=profile").
			ExpectCode(t, 0, "Created profile default in "+filepath.Join(e.ConfigDir, "config.yaml")+"\n")
		if c.env != "" {
			e.Set("MEDPLUM_AUTHORIZE_URL", c.env)
		}
		if c.flag != "" {
			args = append(args, "--authorize-url", c.flag)
		}
		r := e.Run(args...)
		if r.Code != 0 {
			t.Fatalf("login: %+v", r)
		}
		_, printed := maskURL(t, r.Stderr)
		if u, err := url.Parse(printed); err != nil || u.Query().Get("via") != c.want {
			t.Errorf("env %q, flag %q: the sign-in started at %s, want the %s's URL", c.env, c.flag, printed, c.want)
		}
	}
}
