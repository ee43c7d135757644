package commands

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/version"
)

// NewFactory wires the real dependencies. Each is built on first use and
// then cached for the rest of the run.
func NewFactory() *cmdutil.Factory {
	v, _, _ := version.Info()
	f := &cmdutil.Factory{AppVersion: v, IOStreams: iostreams.System()}
	f.Config = lazy(func() (*config.File, error) {
		dir, err := config.Dir()
		if err != nil {
			return nil, err
		}
		return config.Load(dir)
	})
	f.Resolved = lazy(func() (*config.Resolved, error) {
		file, err := f.Config()
		if err != nil {
			return nil, err
		}
		name, err := file.SelectProfile(f.Flags)
		if err != nil {
			return nil, err
		}
		return file.Resolve(name, f.Flags)
	})
	var note sync.Once
	f.Settings = func() (auth.Settings, error) {
		r, err := f.Resolved()
		if err != nil {
			return auth.Settings{}, err
		}
		note.Do(func() { noteDotenv(f, r) })
		return r.Settings(), nil
	}
	f.BareClient = lazy(func() (*client.Client, error) {
		s, err := f.Settings()
		if err != nil {
			return nil, err
		}
		return newClient(f, s, nil)
	})
	f.NewClient = func(s auth.Settings, authn client.Authenticator) (*client.Client, error) {
		return newClient(f, s, authn)
	}
	f.Auth = lazy(func() (*auth.Manager, error) { return newAuthManager(os.Getenv, f.IOStreams.CanPrompt()) })
	f.Authenticator = lazy(func() (client.Authenticator, error) {
		s, err := f.Settings()
		if err != nil {
			return nil, err
		}
		m, err := f.Auth()
		if err != nil {
			return nil, err
		}
		// Token requests go through a client without credentials.
		bare, err := f.BareClient()
		if err != nil {
			return nil, err
		}
		return m.NewAuthenticator(s, bare)
	})
	f.Client = lazy(func() (*client.Client, error) {
		s, err := f.Settings()
		if err != nil {
			return nil, err
		}
		authn, err := f.Authenticator()
		if err != nil {
			return nil, err
		}
		return newClient(f, s, authn)
	})
	return f
}

// noteDotenv says on stderr, once, which settings of a command that
// connects come from ./.env: an application's .env can change the server
// and the credentials without anyone noticing. Only for a person (stderr
// is a terminal) or with --verbose: a script that means to use .env, as
// the official CLI's users do, gets no line per command; "medplum whoami"
// names the file either way.
func noteDotenv(f *cmdutil.Factory, r *config.Resolved) {
	vars := r.FromDotenv()
	if len(vars) == 0 || !(f.IOStreams.IsStderrTTY() || f.Verbose()) {
		return
	}
	fmt.Fprintf(f.IOStreams.ErrOut, "medplum: using %s from %s (%s=1 ignores the file)\n",
		strings.Join(vars, ", "), config.DotenvPath(), config.NoDotenvEnv)
}

// interactiveKeyringTimeout is the keyring wait when a person can answer an
// unlock prompt (go-cli.md 7.2).
const interactiveKeyringTimeout = 30 * time.Second

// newAuthManager places the sign-in state: sessions next to the settings
// file, the access-token cache in MEDPLUM_CACHE_DIR (else the user's cache
// directory), secrets in the OS keyring. Keyring calls wait
// MEDPLUM_KEYRING_TIMEOUT, else 5 s, or 30 s on a terminal, where the
// keyring may be waiting for the user to type its password.
func newAuthManager(getenv func(string) string, interactive bool) (*auth.Manager, error) {
	dir, err := config.Dir()
	if err != nil {
		return nil, err
	}
	cache, err := config.CacheDir(getenv)
	if err != nil {
		return nil, err
	}
	timeout, err := auth.ParseKeyringTimeout(getenv("MEDPLUM_KEYRING_TIMEOUT"))
	if err != nil {
		return nil, &config.Error{Msg: "MEDPLUM_KEYRING_TIMEOUT: " + err.Error()}
	}
	if getenv("MEDPLUM_KEYRING_TIMEOUT") == "" && interactive {
		timeout = interactiveKeyringTimeout
	}
	return &auth.Manager{
		ConfigDir: dir,
		CacheDir:  cache,
		Keyring:   auth.NewKeyringStore(auth.KeyringOptions{Timeout: timeout, Getenv: getenv}),
	}, nil
}

// sharedTransport is the one transport of every client a command builds
// (the token client, the API client): one set of connections, built once.
var sharedTransport = sync.OnceValue(client.NewTransport)

// newClient builds a client for s with the CLI's user agent, the request
// timeout (--timeout, MEDPLUM_TIMEOUT) and, with --verbose, a redacted
// trace on stderr.
func newClient(f *cmdutil.Factory, s auth.Settings, authn client.Authenticator) (*client.Client, error) {
	opts := s.ClientOptions()
	opts.Auth = authn
	opts.Transport = sharedTransport()
	opts.UserAgent = "medplum-cli/" + f.AppVersion + " (Go)"
	timeout, err := config.RequestTimeout(f.Flags, os.Getenv)
	if err != nil {
		return nil, err
	}
	opts.Timeout = timeout
	if timeout == 0 {
		opts.Timeout = -1 // no limit
	}
	if f.Verbose() {
		errOut := f.IOStreams.ErrOut
		opts.Trace = func(line string) { fmt.Fprintln(errOut, line) }
		opts.TraceBodies = true
	}
	c, err := client.New(opts)
	if err != nil {
		return nil, &config.Error{Msg: err.Error()}
	}
	return c, nil
}

// lazy returns a function that calls fn once and then returns its result.
func lazy[T any](fn func() (T, error)) func() (T, error) {
	var (
		once sync.Once
		val  T
		err  error
	)
	return func() (T, error) {
		once.Do(func() { val, err = fn() })
		return val, err
	}
}
