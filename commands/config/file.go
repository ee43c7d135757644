// Package config is the settings file and the rules that turn flags,
// environment variables, a named profile and defaults into the connection
// settings of one command run.
//
// The file is YAML at $MEDPLUM_CONFIG_DIR/config.yaml, else
// $XDG_CONFIG_HOME/medplum/config.yaml, else ~/.config/medplum/config.yaml
// (%AppData%\medplum on Windows). It never holds a secret. It is read with
// go.yaml.in/yaml/v3 (profile names are the user's, case kept); resolve.go
// layers flags, environment, profile and defaults. It is written by this
// package, atomically.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/medplumcli/medplum/auth"
)

// FileName is the settings file's name inside the config directory.
const FileName = "config.yaml"

// DefaultProfile is the profile used when none is chosen. It always exists.
const DefaultProfile = "default"

// File is the settings file: named profiles and the current one.
type File struct {
	// Current is the profile chosen with `medplum profile use`.
	Current  string              `yaml:"current,omitempty"`
	Profiles map[string]*Profile `yaml:"profiles,omitempty"`
	// Extra keeps top-level keys this version does not know.
	Extra map[string]any `yaml:",inline"`

	path string
}

// Profile is what one named profile stores. No field holds a secret.
type Profile struct {
	BaseURL      string `yaml:"base_url,omitempty"`
	FHIRURLPath  string `yaml:"fhir_url_path,omitempty"`
	TokenURL     string `yaml:"token_url,omitempty"`
	AuthorizeURL string `yaml:"authorize_url,omitempty"`
	ClientID     string `yaml:"client_id,omitempty"`
	AuthType     string `yaml:"auth_type,omitempty"`
	Scope        string `yaml:"scope,omitempty"`
	AppURL       string `yaml:"app_url,omitempty"`

	// Extra keeps settings this version does not know, so rewriting the file
	// never drops what a newer medplum wrote.
	Extra map[string]any `yaml:",inline"`
}

// CacheDir is medplum's cache directory (cached tokens, import journals):
// $MEDPLUM_CACHE_DIR, else the user cache directory's medplum
// ($XDG_CACHE_HOME or ~/.cache on Linux).
func CacheDir(getenv func(string) string) (string, error) {
	if d := getenv("MEDPLUM_CACHE_DIR"); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", &Error{Msg: "cannot find a cache directory: set MEDPLUM_CACHE_DIR"}
	}
	return filepath.Join(base, "medplum"), nil
}

// Dir returns the config directory from the environment (see the package doc).
func Dir() (string, error) {
	getenv := os.Getenv
	if d := getenv("MEDPLUM_CONFIG_DIR"); d != "" {
		return d, nil
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "medplum"), nil
	}
	if runtime.GOOS == "windows" {
		if d := getenv("AppData"); d != "" {
			return filepath.Join(d, "medplum"), nil
		}
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("cannot find the config directory: set MEDPLUM_CONFIG_DIR or HOME")
		}
	}
	return filepath.Join(home, ".config", "medplum"), nil
}

// Load reads dir/config.yaml. A missing file is an empty File, not an error.
func Load(dir string) (*File, error) {
	f := &File{path: filepath.Join(dir, FileName)}
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{Msg: fmt.Sprintf("%s: %v", f.path, err)}
	}
	for name, p := range f.Profiles {
		if p == nil {
			f.Profiles[name] = &Profile{}
			continue
		}
		for key := range p.Extra {
			if slices.Contains(secretKeys, key) {
				return nil, &Error{
					Msg: fmt.Sprintf("%s: profile %q holds %s, but the settings file never holds secrets", f.path, name, key),
					Tip: "remove it from the file and pass it in the environment instead (medplum help environment)",
				}
			}
		}
	}
	return f, nil
}

// secretKeys are settings that must never be written to the file.
var secretKeys = []string{"client_secret", "access_token", "password", "refresh_token"}

// Path is the file's location.
func (f *File) Path() string { return f.path }

// Profile returns the named profile and whether the file holds it.
func (f *File) Profile(name string) (*Profile, bool) {
	p, ok := f.Profiles[name]
	return p, ok
}

// Names returns the profile names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Profiles))
	for n := range f.Profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Set stores p under name, creating the profile if needed.
func (f *File) Set(name string, p *Profile) {
	if f.Profiles == nil {
		f.Profiles = map[string]*Profile{}
	}
	f.Profiles[name] = p
}

// Remove deletes a profile; the current choice falls back to the default.
func (f *File) Remove(name string) bool {
	if _, ok := f.Profiles[name]; !ok {
		return false
	}
	delete(f.Profiles, name)
	if f.Current == name {
		f.Current = ""
	}
	return true
}

// CheckProfileName rejects names that would be awkward in a shell or a file
// (auth.CheckProfileName's rule: a sign-in is stored under the same name).
func CheckProfileName(name string) error {
	if auth.CheckProfileName(name) != nil {
		return &Error{Msg: fmt.Sprintf("invalid profile name %q: use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit)", name)}
	}
	return nil
}

// Save writes the file atomically (a temp file in the same directory, then a
// rename) with mode 0600, creating the directory with mode 0700.
func (f *File) Save() error {
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteString("# medplum settings. Secrets are never stored here.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	return WriteFileAtomic(f.path, buf.Bytes(), 0o600)
}

// WriteFileAtomic replaces path with data: a temporary file in the same
// directory, given perm, synced, then renamed over path, so that a failure
// or a crash leaves either the old file or the new one, never half of one.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	return WriteFileAtomicFunc(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFileAtomicFunc is WriteFileAtomic for a file written as it is made
// (a report, an export): write gets the temporary file, buffered; when it
// fails, path is left as it was.
func WriteFileAtomicFunc(path string, perm fs.FileMode, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	w := bufio.NewWriterSize(tmp, 64<<10)
	if err := write(w); err != nil {
		tmp.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Error is a problem with the settings or the profile choice. It is the
// user's to fix, so it exits 2 (see cmdutil.ExitCoder).
type Error struct {
	Msg string
	Tip string
}

func (e *Error) Error() string { return e.Msg }

// ExitCode is 2: invalid usage or input, nothing was sent.
func (e *Error) ExitCode() int { return 2 }

// Hint is printed on its own line after the message.
func (e *Error) Hint() string { return e.Tip }
