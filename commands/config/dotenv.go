package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// DotenvFile is the file the official CLI reads at start (dotenv's
// config(): ./.env in the working directory), and so does medplum.
const DotenvFile = ".env"

// NoDotenvEnv turns the .env file off.
const NoDotenvEnv = "MEDPLUM_NO_DOTENV"

// dotenvMax bounds the .env file read.
const dotenvMax = 1 << 20

// DotenvVars are the variables a .env file may set: the connection
// settings (the official CLI's variables) and MEDPLUM_PROFILE. Others,
// MEDPLUM_* or not, are ignored: a file in whatever directory a command
// runs in must not choose where tokens are cached (MEDPLUM_CACHE_DIR,
// MEDPLUM_CONFIG_DIR) or which program opens the sign-in page
// (MEDPLUM_BROWSER), and an application's .env holds much else.
func DotenvVars() []string {
	vars := []string{profileKey.Env}
	for _, k := range Keys {
		if k.Env != "" {
			vars = append(vars, k.Env)
		}
	}
	return vars
}

// fromDotenv holds the variables LoadDotenv set, for Value.Origin;
// dotenvPath is the absolute path of the file they came from.
var (
	fromDotenv = map[string]bool{}
	dotenvPath = DotenvFile
)

// DotenvPath is the absolute path of the .env file LoadDotenv read
// (".env" before it has read one).
func DotenvPath() string { return dotenvPath }

// LoadDotenv reads ./.env, unless MEDPLUM_NO_DOTENV is set (to anything
// but "", 0 or false), and sets each variable of DotenvVars it assigns
// that the environment does not have (a variable set in the environment
// wins, even when empty, as with dotenv). A missing file is no error; the
// file is never written. It returns the names it set. Call it once, at
// start, before anything reads the environment.
func LoadDotenv() ([]string, error) {
	if off := os.Getenv(NoDotenvEnv); off != "" && off != "0" && !strings.EqualFold(off, "false") {
		return nil, nil
	}
	src, err := readDotenv(DotenvFile)
	if err != nil || src == nil {
		return nil, err
	}
	if abs, err := filepath.Abs(DotenvFile); err == nil {
		dotenvPath = abs
	}
	vals := ParseDotenv(src)
	var set []string
	for _, name := range DotenvVars() {
		v, ok := vals[name]
		if !ok {
			continue
		}
		if _, inEnv := os.LookupEnv(name); inEnv {
			continue
		}
		if err := os.Setenv(name, v); err != nil {
			return set, fmt.Errorf("%s: %s: %w", DotenvFile, name, err)
		}
		fromDotenv[name] = true
		set = append(set, name)
	}
	return set, nil
}

// readDotenv returns the file's bytes, or nil when there is no such
// regular file (a directory or a pipe named .env is not read).
func readDotenv(path string) ([]byte, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", path, err)
	case !st.Mode().IsRegular():
		return nil, nil
	case st.Size() > dotenvMax:
		return nil, fmt.Errorf("%s is larger than %d bytes: not read (%s=1 skips it)", path, dotenvMax, NoDotenvEnv)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w (%s=1 skips it)", path, err, NoDotenvEnv)
	}
	return src, nil
}

// dotenvLine is the LINE expression of npm dotenv 17 (lib/main.js), with
// which the official CLI reads .env. Go's leftmost-first matching picks
// the same submatches as JavaScript's backtracking. It accepts
// `[export ]KEY=value` and `KEY: value`; a value is 'single', "double" or
// `backtick` quoted (and may then span lines), or runs to a # or the end of
// the line; # starts a comment.
var dotenvLine = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile("(?m)^\\s*(?:export\\s+)?([\\w.-]+)(?:\\s*=\\s*?|:\\s+?)" +
		"(\\s*'(?:\\\\'|[^'])*'|\\s*\"(?:\\\\\"|[^\"])*\"|\\s*`(?:\\\\`|[^`])*`|[^#\\r\\n]+)?" +
		"\\s*(?:#.*)?$")
})

var crlf = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\r\n?`) })

// ParseDotenv reads a .env file as npm dotenv 17 does: lines that do not
// match are skipped, a later assignment wins, the value is trimmed and
// unquoted, and in a "double-quoted" value \n and \r stand for line breaks.
// Nothing is expanded ($VAR stays as it is).
func ParseDotenv(src []byte) map[string]string {
	src = bytes.TrimPrefix(src, []byte("\uFEFF"))
	text := crlf().ReplaceAllString(string(src), "\n")
	out := map[string]string{}
	for _, m := range dotenvLine().FindAllStringSubmatch(text, -1) {
		v := strings.TrimSpace(m[2])
		quote := byte(0)
		if v != "" {
			quote = v[0]
		}
		if len(v) >= 2 && strings.IndexByte("'\"`", quote) >= 0 && v[len(v)-1] == quote {
			v = v[1 : len(v)-1]
		}
		if quote == '"' {
			v = strings.ReplaceAll(v, `\n`, "\n")
			v = strings.ReplaceAll(v, `\r`, "\r")
		}
		out[m[1]] = v
	}
	return out
}
