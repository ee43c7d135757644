package config

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ParseDotenv reads .env files as the official CLI's dotenv does. Each
// testdata/dotenv/NAME.env has next to it NAME.json, what npm dotenv 17.2.2
// (the version @medplum/cli 4.3.13 installs) parses it into:
//
//	node -e 'const d=require("dotenv"),fs=require("fs");
//	  console.log(JSON.stringify(d.parse(fs.readFileSync(process.argv[1])),null,2))' NAME.env
func TestParseDotenvAsNpmDotenv(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "dotenv", "*.env"))
	if err != nil || len(files) < 3 {
		t.Fatalf("samples: %v %v", files, err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		golden, err := os.ReadFile(strings.TrimSuffix(f, ".env") + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var want map[string]string
		if err := json.Unmarshal(golden, &want); err != nil {
			t.Fatal(err)
		}
		if got := ParseDotenv(src); !maps.Equal(got, want) {
			for k, w := range want {
				if g, ok := got[k]; !ok || g != w {
					t.Errorf("%s: %s = %q (set: %v), want %q", f, k, g, ok, w)
				}
			}
			for k, g := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("%s: %s = %q, which dotenv does not set", f, k, g)
				}
			}
		}
	}
}

func TestLoadDotenv(t *testing.T) {
	clearEnv(t)
	for _, k := range []string{"MEDPLUM_CACHE_DIR", "MEDPLUM_BROWSER", NoDotenvEnv} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	os.Unsetenv("MEDPLUM_CLIENT_ID")
	os.Unsetenv("MEDPLUM_CLIENT_SECRET")
	os.Unsetenv("MEDPLUM_PROFILE")
	t.Setenv("MEDPLUM_BASE_URL", "") // set, though empty: the environment wins
	t.Chdir(t.TempDir())
	t.Cleanup(func() { clear(fromDotenv) })

	if set, err := LoadDotenv(); err != nil || set != nil {
		t.Fatalf("without a .env: %v %v", set, err)
	}
	env := "MEDPLUM_BASE_URL=https://dotenv.example/\nexport MEDPLUM_CLIENT_ID='from-dotenv'\n" +
		"MEDPLUM_CLIENT_SECRET=\"s#1\" # comment\nMEDPLUM_PROFILE=ci\n" +
		"MEDPLUM_CACHE_DIR=./cache\nMEDPLUM_BROWSER=evil\nDATABASE_URL=postgres://x\n"
	if err := os.WriteFile(DotenvFile, []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(NoDotenvEnv, "1")
	if set, err := LoadDotenv(); err != nil || set != nil || os.Getenv("MEDPLUM_CLIENT_ID") != "" {
		t.Fatalf("with %s=1: %v %v", NoDotenvEnv, set, err)
	}
	t.Setenv(NoDotenvEnv, "0")
	set, err := LoadDotenv()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, k := range set {
			os.Unsetenv(k)
		}
	})
	if want := "MEDPLUM_PROFILE MEDPLUM_CLIENT_ID MEDPLUM_CLIENT_SECRET"; strings.Join(set, " ") != want {
		t.Errorf("set %v, want %s", set, want)
	}
	for k, want := range map[string]string{"MEDPLUM_BASE_URL": "", "MEDPLUM_CLIENT_ID": "from-dotenv", "MEDPLUM_CLIENT_SECRET": "s#1", "MEDPLUM_PROFILE": "ci"} {
		if got := os.Getenv(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"MEDPLUM_CACHE_DIR", "MEDPLUM_BROWSER", "DATABASE_URL"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Errorf("%s = %q: .env may not set it", k, v)
		}
	}
	r, err := (&File{}).Resolve(DefaultProfile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Lookup("client_id").Origin(); got != ".env MEDPLUM_CLIENT_ID" {
		t.Errorf("origin %q", got)
	}
}

func TestLoadDotenvUnreadable(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv(NoDotenvEnv, "")
	if err := os.Mkdir(DotenvFile, 0o700); err != nil {
		t.Fatal(err)
	}
	if set, err := LoadDotenv(); set != nil || err != nil {
		t.Errorf("a directory named .env: %v %v", set, err)
	}
	if err := os.Remove(DotenvFile); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(DotenvFile, []byte(strings.Repeat("#", dotenvMax+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDotenv(); err == nil || err.Error() != ".env is larger than 1048576 bytes: not read (MEDPLUM_NO_DOTENV=1 skips it)" {
		t.Errorf("a huge .env: %v", err)
	}
}
