package cmdutil

import (
	"github.com/spf13/pflag"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/iostreams"
)

// Factory hands commands their dependencies. Everything that touches the
// disk, the keyring or the network is a function called on first use, so
// `--help`, `version` and `completion` never touch any of them.
type Factory struct {
	// AppVersion is the version string stamped into the binary.
	AppVersion string
	// IOStreams are the standard streams; TTY questions are answered lazily.
	IOStreams *iostreams.IOStreams
	// Flags are the flags of the command being run (its own and the root's
	// persistent ones), set by the root command before it runs.
	Flags *pflag.FlagSet

	// Config loads the settings file.
	Config func() (*config.File, error)
	// Resolved is the selected profile with every setting resolved
	// (flag > environment > profile > default).
	Resolved func() (*config.Resolved, error)
	// Settings are the resolved settings as auth sees them.
	Settings func() (auth.Settings, error)
	// Client is a client for the selected profile that signs in with its
	// credentials (auth.NewAuthenticator). Without usable credentials it
	// returns an error wrapping auth.ErrNotSignedIn.
	Client func() (*client.Client, error)
	// BareClient is a client for the same server that sends no credentials
	// (e.g. for --dry-run without credentials).
	BareClient func() (*client.Client, error)
	// Auth keeps the profiles' sign-ins: sessions, the OS keyring (or the
	// --insecure-storage file) and the access-token cache.
	Auth func() (*auth.Manager, error)
	// NewClient builds a client for settings s with authn (nil: none), with
	// the CLI's user agent and --verbose trace.
	NewClient func(s auth.Settings, authn client.Authenticator) (*client.Client, error)
	// Authenticator is the one Client uses: credentials from flags or the
	// environment, else the profile's stored sign-in.
	Authenticator func() (client.Authenticator, error)
}

// Verbose reports whether -v/--verbose was passed.
func (f *Factory) Verbose() bool {
	if f.Flags == nil {
		return false
	}
	v, _ := f.Flags.GetBool("verbose")
	return v
}
