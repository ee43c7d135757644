package auth

import (
	"errors"

	"github.com/medplumcli/medplum/client"
)

// Auth types, as the official CLI names them (--auth-type).
const (
	AuthTypeAuthorizationCode = "authorization-code"
	AuthTypeBasic             = "basic"
	AuthTypeClientCredentials = "client-credentials"
	AuthTypeJWTBearer         = "jwt-bearer"
	AuthTypeJWTAssertion      = "jwt-assertion"
	AuthTypeTokenExchange     = "token-exchange"
)

// Settings are the resolved connection settings of one profile (flags,
// environment, profile file and defaults already merged by the caller).
type Settings struct {
	Profile      string // profile name, e.g. "default"
	BaseURL      string // MEDPLUM_BASE_URL
	FHIRPath     string // MEDPLUM_FHIR_URL_PATH
	TokenURL     string // MEDPLUM_TOKEN_URL
	AuthorizeURL string // MEDPLUM_AUTHORIZE_URL
	ClientID     string // MEDPLUM_CLIENT_ID
	ClientSecret string // MEDPLUM_CLIENT_SECRET
	AccessToken  string // MEDPLUM_CLIENT_ACCESS_TOKEN
	AuthType     string // one of the AuthType constants, or ""
	Scope        string // OAuth scope for interactive logins

	// BaseURLFrom names where BaseURL came from when not the profile
	// ("--base-url", "MEDPLUM_BASE_URL"), for messages; "" otherwise.
	BaseURLFrom string
}

// ClientOptions returns client.Options with the connection fields of s
// filled in; the caller adds Transport, UserAgent, Trace and Auth.
func (s Settings) ClientOptions() client.Options {
	return client.Options{BaseURL: s.BaseURL, FHIRPath: s.FHIRPath, TokenURL: s.TokenURL}
}

// ErrNotSignedIn means the settings hold no usable credentials. Commands map
// it to exit code 4 with the hint "run: medplum login".
var ErrNotSignedIn = errors.New("not signed in")

// ErrCredentialsRejected wraps a sign-in the token endpoint refused with an
// OAuth or HTTP 4xx error (unknown client, wrong secret). Commands map it to
// exit code 4, like a 401. A network failure or 5xx is not wrapped.
var ErrCredentialsRejected = errors.New("the server rejected the credentials")
