package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range append(Keys, profileKey) {
		if k.Env != "" {
			t.Setenv(k.Env, "")
		}
	}
}

func flagSet(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetNormalizeFunc(NormalizeFlag)
	AddGlobalFlags(fs)
	AddProfileFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestPrecedenceFlagEnvProfileDefault(t *testing.T) {
	clearEnv(t)
	f := &File{Profiles: map[string]*Profile{"p": {BaseURL: "https://profile.example/", FHIRURLPath: "fhir/P", TokenURL: "https://profile.example/tok", ClientID: "profile-id"}}}
	t.Setenv("MEDPLUM_BASE_URL", "https://env.example/")
	t.Setenv("MEDPLUM_FHIR_URL_PATH", "fhir/E")
	fs := flagSet(t, "--base-url", "https://flag.example/")
	r, err := f.Resolve("p", fs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"base_url":      {"https://flag.example/", "flag"},
		"fhir_url_path": {"fhir/E", "env"},
		"token_url":     {"https://profile.example/tok", "profile"},
		"authorize_url": {"oauth2/authorize", "default"},
		"client_id":     {"profile-id", "profile"},
		"client_secret": {"", ""},
	}
	for _, v := range r.Values {
		w, ok := want[v.Key.Name]
		if !ok {
			continue
		}
		if v.Value != w[0] || v.Source != w[1] {
			t.Errorf("%s = %q from %q, want %q from %q", v.Key.Name, v.Value, v.Source, w[0], w[1])
		}
	}
}

// TestPrecedence: flag > environment > profile, for every combination of
// layers on one key, with the source each value is reported from.
func TestPrecedence(t *testing.T) {
	for mask := range 8 {
		clearEnv(t)
		var args []string
		if mask&1 != 0 {
			args = []string{"--client-id", "from-flag"}
		}
		if mask&2 != 0 {
			t.Setenv("MEDPLUM_CLIENT_ID", "from-env")
		}
		p := &Profile{}
		if mask&4 != 0 {
			p.ClientID = "from-profile"
		}
		f := &File{Profiles: map[string]*Profile{"x": p}}
		r, err := f.Resolve("x", flagSet(t, args...))
		if err != nil {
			t.Fatal(err)
		}
		var got Value
		for _, v := range r.Values {
			if v.Key.Name == "client_id" {
				got = v
			}
		}
		want, source := "", ""
		switch {
		case mask&1 != 0:
			want, source = "from-flag", "flag"
		case mask&2 != 0:
			want, source = "from-env", "env"
		case mask&4 != 0:
			want, source = "from-profile", "profile"
		}
		if got.Value != want || got.Source != source {
			t.Errorf("mask %03b: value %q from %q, want %q from %q", mask, got.Value, got.Source, want, source)
		}
	}
}

func TestSelectProfile(t *testing.T) {
	clearEnv(t)
	f := &File{Current: "cur", Profiles: map[string]*Profile{"cur": {}, "env": {}, "flag": {}}}
	if got, _ := f.SelectProfile(flagSet(t)); got != "cur" {
		t.Errorf("current: got %q", got)
	}
	t.Setenv("MEDPLUM_PROFILE", "env")
	if got, _ := f.SelectProfile(flagSet(t)); got != "env" {
		t.Errorf("env: got %q", got)
	}
	if got, _ := f.SelectProfile(flagSet(t, "-p", "flag")); got != "flag" {
		t.Errorf("flag: got %q", got)
	}
	_, err := f.SelectProfile(flagSet(t, "-p", "nope"))
	if err == nil || err.Error() != `profile "nope" does not exist` {
		t.Errorf("missing profile: %v", err)
	}
	clearEnv(t)
	if got, err := (&File{}).SelectProfile(nil); got != "default" || err != nil {
		t.Errorf("empty file: %q %v", got, err)
	}
}

func TestFhirURLAlias(t *testing.T) {
	clearEnv(t)
	r, err := (&File{}).Resolve("default", flagSet(t, "--fhir-url", "fhir/X"))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Get("fhir_url_path"); got != "fhir/X" {
		t.Errorf("got %q", got)
	}
}

func TestSaveLoadRoundTripAndModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "medplum")
	f, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	f.Current = "Prod"
	f.Set("Prod", &Profile{BaseURL: "https://x.example/", ClientID: "id", Extra: map[string]any{"future_key": "kept"}})
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(dir)
	if st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v", st.Mode().Perm())
	}
	st, _ = os.Stat(filepath.Join(dir, FileName))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v", st.Mode().Perm())
	}
	data, _ := os.ReadFile(filepath.Join(dir, FileName))
	want := `# medplum settings. Secrets are never stored here.
current: Prod
profiles:
  Prod:
    base_url: https://x.example/
    client_id: id
    future_key: kept
`
	if string(data) != want {
		t.Errorf("file:\n%s\nwant:\n%s", data, want)
	}
	g, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := g.Profile("Prod"); !ok || p.ClientID != "id" || p.Extra["future_key"] != "kept" {
		t.Errorf("reloaded %+v", p)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
}

func TestLoadRefusesSecrets(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileName), []byte("profiles:\n  a:\n    client_secret: s3cr3t\n"), 0o600)
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), `profile "a" holds client_secret`) || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("got %v", err)
	}
}

func TestLoadReportsYAMLErrorsWithLine(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileName), []byte("profiles:\n  a: [\n"), 0o600)
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "line") {
		t.Errorf("got %v", err)
	}
}

func TestCheckValue(t *testing.T) {
	p := &Profile{}
	if err := p.Set("client_secret", "x"); err == nil {
		t.Error("secret accepted")
	}
	if err := p.Set("base_url", "api.medplum.com"); err == nil {
		t.Error("relative base URL accepted")
	}
	if err := p.Set("base_url", "http://127.0.0.1:8103/"); err != nil {
		t.Error(err)
	}
}

func TestDir(t *testing.T) {
	t.Setenv("MEDPLUM_CONFIG_DIR", "")
	t.Setenv("XDG_CONFIG_HOME", "/xdg")
	if d, _ := Dir(); d != "/xdg/medplum" {
		t.Errorf("xdg: %s", d)
	}
	t.Setenv("MEDPLUM_CONFIG_DIR", "/explicit")
	if d, _ := Dir(); d != "/explicit" {
		t.Errorf("explicit: %s", d)
	}
	t.Setenv("MEDPLUM_CONFIG_DIR", "")
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "/home/u")
	if d, _ := Dir(); d != "/home/u/.config/medplum" {
		t.Errorf("home: %s", d)
	}
}
