package config

import (
	"fmt"
	"github.com/medplumcli/medplum/client"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/medplumcli/medplum/auth"
)

// Key is one connection setting: its name in a profile, its
// flag, its environment variable and its default.
type Key struct {
	Name    string // profile key, e.g. "base_url"
	Flag    string // long flag name, "" if none
	Global  bool   // the flag is a persistent flag of the root command
	Env     string // environment variable, "" if none
	Default string
	Secret  bool // never stored in the file, never printed
	Usage   string
}

// Keys lists every setting in the order `profile describe` shows them. A new
// setting is one entry here plus a field in Profile (get/set below).
var Keys = []Key{
	{Name: "base_url", Flag: "base-url", Global: true, Env: "MEDPLUM_BASE_URL", Default: "https://api.medplum.com/",
		Usage: "server base URL"},
	{Name: "fhir_url_path", Flag: "fhir-url-path", Global: true, Env: "MEDPLUM_FHIR_URL_PATH", Default: "fhir/R4",
		Usage: "FHIR base path, relative to the base URL (alias --fhir-url)"},
	{Name: "token_url", Flag: "token-url", Global: true, Env: "MEDPLUM_TOKEN_URL", Default: "oauth2/token",
		Usage: "OAuth2 token URL, absolute or relative to the base URL"},
	{Name: "authorize_url", Flag: "authorize-url", Global: true, Env: "MEDPLUM_AUTHORIZE_URL", Default: "oauth2/authorize",
		Usage: "OAuth2 authorize URL, absolute or relative to the base URL"},
	{Name: "client_id", Flag: "client-id", Global: true, Env: "MEDPLUM_CLIENT_ID",
		Usage: "OAuth2 client id"},
	{Name: "client_secret", Flag: "client-secret", Global: true, Env: "MEDPLUM_CLIENT_SECRET", Secret: true,
		Usage: "OAuth2 client secret (visible in the process list: prefer MEDPLUM_CLIENT_SECRET)"},
	{Name: "access_token", Flag: "access-token", Global: true, Env: "MEDPLUM_CLIENT_ACCESS_TOKEN", Secret: true,
		Usage: "bearer token to send as it is, instead of signing in (visible in the process list: prefer MEDPLUM_CLIENT_ACCESS_TOKEN)"},
	{Name: "auth_type", Flag: "auth-type",
		Usage: "how to sign in: client-credentials, basic, authorization-code, ..."},
	{Name: "scope", Flag: "scope",
		Usage: "OAuth2 scope to request"},
	{Name: "app_url", Flag: "app-url", Env: "MEDPLUM_APP_URL", Default: "https://app.medplum.com/",
		Usage: "the Medplum app of this server, where links such as set-password links point"},
}

// profileKey chooses the profile: -p/--profile > MEDPLUM_PROFILE > the file's
// current profile > "default".
var profileKey = Key{Name: "profile", Flag: "profile", Global: true, Env: "MEDPLUM_PROFILE", Default: DefaultProfile,
	Usage: "profile to use"}

// LookupKey returns the Key with that name.
func LookupKey(name string) (Key, bool) {
	for _, k := range Keys {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

// AddGlobalFlags defines -p/--profile, the global connection flags
// (--base-url, --fhir-url-path, ...) and --timeout on a root command's
// persistent flags.
func AddGlobalFlags(fs *pflag.FlagSet) {
	fs.StringP(profileKey.Flag, "p", "", "profile to use (default: the one chosen by \"medplum profile use\", else \"default\")")
	for _, k := range Keys {
		if k.Global {
			fs.String(k.Flag, "", k.Usage)
		}
	}
	addTimeoutFlag(fs)
}

// AddProfileFlags defines the non-global settings flags (--auth-type, --scope)
// on a command that writes a profile (profile set, login).
func AddProfileFlags(fs *pflag.FlagSet) {
	for _, k := range Keys {
		if !k.Global && k.Flag != "" {
			fs.String(k.Flag, "", k.Usage)
		}
	}
}

// NormalizeFlag maps flag aliases to their names: --fhir-url is --fhir-url-path.
func NormalizeFlag(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	if name == "fhir-url" {
		name = "fhir-url-path"
	}
	return pflag.NormalizedName(name)
}

// Value is one resolved setting and where it came from.
type Value struct {
	Key    Key
	Value  string
	Source string // "flag", "env", "profile", "default" or "" when unset
}

// Origin says where a value came from, e.g. "flag --base-url".
func (v Value) Origin() string {
	switch v.Source {
	case "flag":
		return "flag --" + v.Key.Flag
	case "env":
		if v.FromDotenv() {
			return DotenvFile + " " + v.Key.Env
		}
		return "env " + v.Key.Env
	default:
		return v.Source
	}
}

// FromDotenv reports whether the value came from ./.env.
func (v Value) FromDotenv() bool { return v.Source == "env" && fromDotenv[v.Key.Env] }

// EnvOrigin names where a value from the environment came from: the
// variable, and the .env file's path when the file set it
// ("MEDPLUM_CLIENT_SECRET in /home/me/app/.env"). Other values: Origin.
func (v Value) EnvOrigin() string {
	switch {
	case v.FromDotenv():
		return v.Key.Env + " in " + DotenvPath()
	case v.Source == "env":
		return v.Key.Env
	case v.Source == "flag":
		return "--" + v.Key.Flag
	}
	return v.Origin()
}

// Resolved is the outcome of resolving one profile.
type Resolved struct {
	Profile string
	Values  []Value
	// ProfileFromDotenv: MEDPLUM_PROFILE in ./.env chose the profile.
	ProfileFromDotenv bool
}

// FromDotenv lists the variables of ./.env this resolution uses, in the
// order of Keys, MEDPLUM_PROFILE first when the file chose the profile:
// what the file changes about where and as whom a command runs.
func (r *Resolved) FromDotenv() []string {
	var out []string
	if r.ProfileFromDotenv {
		out = append(out, profileKey.Env)
	}
	for _, v := range r.Values {
		if v.FromDotenv() {
			out = append(out, v.Key.Env)
		}
	}
	return out
}

// Get returns the value of a setting.
func (r *Resolved) Get(name string) string { return r.Lookup(name).Value }

// Lookup returns a setting with its source (the zero Value if unknown).
func (r *Resolved) Lookup(name string) Value {
	for _, v := range r.Values {
		if v.Key.Name == name {
			return v
		}
	}
	return Value{}
}

// Settings converts the resolved values into auth.Settings.
func (r *Resolved) Settings() auth.Settings {
	from := ""
	if v := r.Lookup("base_url"); v.Source == "flag" || v.Source == "env" {
		from = v.EnvOrigin()
	}
	return auth.Settings{
		BaseURLFrom:  from,
		Profile:      r.Profile,
		BaseURL:      r.Get("base_url"),
		FHIRPath:     r.Get("fhir_url_path"),
		TokenURL:     r.Get("token_url"),
		AuthorizeURL: r.Get("authorize_url"),
		ClientID:     r.Get("client_id"),
		ClientSecret: r.Get("client_secret"),
		AccessToken:  r.Get("access_token"),
		AuthType:     r.Get("auth_type"),
		Scope:        r.Get("scope"),
	}
}

// SelectProfile returns the profile this run uses, and checks that it exists.
// flags may be nil.
func (f *File) SelectProfile(flags *pflag.FlagSet) (string, error) {
	name, _ := layered(profileKey, flags, f.Current)
	if name == "" {
		name = DefaultProfile
	}
	if err := f.MustExist(name); err != nil {
		return "", err
	}
	return name, nil
}

// MustExist returns an error unless the file holds the profile; the default
// profile always exists.
func (f *File) MustExist(name string) error {
	if _, ok := f.Profiles[name]; ok || name == DefaultProfile {
		return nil
	}
	return NoSuchProfile(name)
}

// NoSuchProfile is the error for a profile name the file does not hold.
func NoSuchProfile(name string) error {
	return &Error{Msg: fmt.Sprintf("profile %q does not exist", name), Tip: "run: medplum profile list"}
}

// Resolve computes every setting of the named profile, one layer per
// source: flag > environment > profile > default (see layered).
func (f *File) Resolve(profile string, flags *pflag.FlagSet) (*Resolved, error) {
	p, _ := f.Profile(profile)
	r := &Resolved{Profile: profile}
	if name, src := layered(profileKey, flags, f.Current); src == "env" && name == profile && fromDotenv[profileKey.Env] {
		r.ProfileFromDotenv = true
	}
	for _, k := range Keys {
		stored := ""
		if !k.Secret {
			stored = p.get(k.Name)
		}
		val := Value{Key: k}
		val.Value, val.Source = layered(k, flags, stored)
		r.Values = append(r.Values, val)
	}
	if err := checkBaseURL(r.Get("base_url")); err != nil {
		return nil, err
	}
	return r, nil
}

// layered is k's value and where it came from: the flag when it was
// passed (even empty), else the environment variable when it is not empty,
// else stored (the profile's value, or the file's current profile), else
// k's default. (viper did this, with the same rules, and cost start-up
// time for nothing else: issue 12.)
func layered(k Key, flags *pflag.FlagSet, stored string) (value, source string) {
	if k.Flag != "" && flags != nil {
		if fl := flags.Lookup(k.Flag); fl != nil && fl.Changed {
			return fl.Value.String(), "flag"
		}
	}
	if k.Env != "" {
		if v := os.Getenv(k.Env); v != "" {
			return v, "env"
		}
	}
	if stored != "" {
		return stored, "profile"
	}
	if k.Default != "" {
		return k.Default, "default"
	}
	return "", ""
}

// checkBaseURL refuses a base URL that is not an absolute http(s) URL, or
// that carries a password (https://user:password@host/): it would be kept
// in the settings file and shown wherever the URL is. Errors show the URL
// with its password hidden.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &Error{Msg: fmt.Sprintf("invalid base URL %q: it must be an absolute http(s) URL such as https://api.medplum.com/", client.RedactURL(s))}
	}
	if _, ok := u.User.Password(); ok {
		return &Error{
			Msg: fmt.Sprintf("invalid base URL %q: a password in the URL would be kept in the settings file and shown wherever the URL is", client.RedactURL(s)),
			Tip: "remove user:password@ from the URL; medplum signs in with medplum login",
		}
	}
	return nil
}

// CheckValue validates a setting before it is stored in a profile.
func CheckValue(k Key, s string) error {
	if k.Secret {
		return &Error{
			Msg: fmt.Sprintf("--%s cannot be stored in a profile: the settings file never holds secrets", k.Flag),
			Tip: fmt.Sprintf("pass it at run time in %s instead", k.Env),
		}
	}
	if k.Name == "base_url" && s != "" {
		return checkBaseURL(s)
	}
	if strings.ContainsAny(s, "\n\r") {
		return &Error{Msg: fmt.Sprintf("--%s must be a single line", k.Flag)}
	}
	return nil
}

// field is the Profile field that stores the setting name, or nil for a
// setting a profile does not store (secrets, unknown names).
func (p *Profile) field(name string) *string {
	switch name {
	case "base_url":
		return &p.BaseURL
	case "fhir_url_path":
		return &p.FHIRURLPath
	case "token_url":
		return &p.TokenURL
	case "authorize_url":
		return &p.AuthorizeURL
	case "client_id":
		return &p.ClientID
	case "auth_type":
		return &p.AuthType
	case "scope":
		return &p.Scope
	case "app_url":
		return &p.AppURL
	}
	return nil
}

// get returns a stored setting by key name ("" for a nil profile).
func (p *Profile) get(name string) string {
	if p == nil {
		return ""
	}
	if f := p.field(name); f != nil {
		return *f
	}
	return ""
}

// Get returns a stored setting by key name.
func (p *Profile) Get(name string) string { return p.get(name) }

// Set stores a setting by key name; "" removes it. Secrets are refused.
func (p *Profile) Set(name, value string) error {
	k, ok := LookupKey(name)
	if !ok {
		return &Error{Msg: fmt.Sprintf("unknown setting %q", name)}
	}
	if err := CheckValue(k, value); err != nil {
		return err
	}
	f := p.field(name)
	if f == nil {
		return &Error{Msg: fmt.Sprintf("setting %q cannot be stored in a profile", name)}
	}
	*f = value
	return nil
}
