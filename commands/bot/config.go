package bot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/ojson"
)

// ConfigFile is the official CLI's project file, read from the working
// directory: its "bots" array lists each bot's name, id, source file and
// (optionally) built file, paths relative to the working directory.
//
//	{"bots": [{"name": "hello", "id": "<Bot id>", "source": "src/hello.ts", "dist": "dist/hello.js"}]}
const ConfigFile = "medplum.config.json"

// Entry is one element of the config's bots array.
type Entry struct {
	Name   string
	ID     string
	Source string
	Dist   string // "": deploy the source
	Index  int    // its place in bots[]
	Line   int    // the line it starts on
}

// Where names the entry for messages: medplum.config.json:7 (bots[1] "hello").
func (e *Entry) Where(file string) string {
	if e.Name == "" {
		return fmt.Sprintf("%s:%d (bots[%d])", file, e.Line, e.Index)
	}
	return fmt.Sprintf("%s:%d (bots[%d] %q)", file, e.Line, e.Index, e.Name)
}

// Config is a read medplum.config.json.
type Config struct {
	Path    string
	Exists  bool
	Entries []*Entry
}

// configError lists what is wrong with the config file: exit 2, nothing sent.
func configError(path string, problems []string) error {
	if len(problems) == 1 {
		return cmdutil.InputErrorf("%s; nothing was sent", problems[0])
	}
	return cmdutil.InputErrorf("%s has %s; nothing was sent:\n  %s", path, cmdutil.Count(len(problems), "problem"), strings.Join(problems, "\n  "))
}

// LoadConfig reads path. A missing file is an empty config (Exists false).
// Every entry of bots[] must be an object with a string name, a Bot id and
// a source file; dist is optional. Every problem is reported, with its line.
func LoadConfig(path string) (*Config, error) {
	cfg := &Config{Path: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, cmdutil.InputErrorf("%v", err)
	}
	cfg.Exists = true
	if err := cmdutil.CheckJSON(data, path); err != nil {
		return nil, err
	}
	root, err := ojson.Parse(data)
	if err != nil {
		return nil, cmdutil.InputErrorf("%s is not valid JSON: %v", path, err)
	}
	if root.Kind != ojson.Object {
		return nil, cmdutil.InputErrorf("%s: the file must hold a JSON object (with a \"bots\" array)", path)
	}
	bots := root.Get("bots")
	if bots == nil || string(bots.Raw) == "null" {
		return cfg, nil
	}
	if bots.Kind != ojson.Array {
		return nil, cmdutil.InputErrorf("%s:%d: \"bots\" must be an array", path, keyLine(data, "bots"))
	}
	lines := elementLines(data)
	var problems []string
	for i, el := range bots.Elems {
		e := &Entry{Index: i}
		if i < len(lines) {
			e.Line = lines[i]
		}
		bad := func(format string, a ...any) {
			problems = append(problems, e.Where(path)+": "+fmt.Sprintf(format, a...))
		}
		if el.Kind != ojson.Object {
			bad("an entry must be an object with name, id and source")
			continue
		}
		str := func(key string, required bool) string {
			v := el.Get(key)
			if v == nil {
				if required {
					bad("%q is missing", key)
				}
				return ""
			}
			s, ok := v.Str()
			if !ok {
				bad("%q must be a string, not %s", key, v.Raw)
				return ""
			}
			if required && strings.TrimSpace(s) == "" {
				bad("%q is empty", key)
			}
			return s
		}
		e.Name = str("name", true)
		e.ID = str("id", true)
		e.Source = str("source", true)
		e.Dist = str("dist", false)
		if e.ID != "" && !membership.ValidID(e.ID) {
			bad("id %q is not a Bot id", e.ID)
		}
		cfg.Entries = append(cfg.Entries, e)
	}
	if len(problems) > 0 {
		return nil, configError(path, problems)
	}
	return cfg, nil
}

// elementLines returns the line each element of the top-level "bots" array
// starts on.
func elementLines(data []byte) []int {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil
		}
		if k != "bots" {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return nil
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return nil
		}
		var lines []int
		for dec.More() {
			start := int(dec.InputOffset())
			for start < len(data) && strings.IndexByte(" \t\r\n,", data[start]) >= 0 {
				start++
			}
			lines = append(lines, bytes.Count(data[:start], []byte("\n"))+1)
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return lines
			}
		}
		return lines
	}
	return nil
}

// keyLine is the line of the first "key": in data (1 when not found).
func keyLine(data []byte, key string) int {
	i := bytes.Index(data, []byte(`"`+key+`"`))
	if i < 0 {
		return 1
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}

// Select returns the entries whose name matches one of the patterns, in
// the file's order, each once. A pattern is a name where "*" stands for
// any text (the official CLI's rule). A pattern that matches nothing, and
// a plain name that two entries share, are errors (exit 2).
func (c *Config) Select(patterns []string) ([]*Entry, error) {
	picked := map[*Entry]bool{}
	var problems []string
	for _, p := range patterns {
		var found []*Entry
		for _, e := range c.Entries {
			if matchName(p, e.Name) {
				found = append(found, e)
			}
		}
		switch {
		case len(found) == 0:
			problems = append(problems, c.noMatch(p))
		case len(found) > 1 && !strings.Contains(p, "*"):
			where := make([]string, len(found))
			for i, e := range found {
				where[i] = fmt.Sprintf("line %d (Bot/%s)", e.Line, e.ID)
			}
			problems = append(problems, fmt.Sprintf("%s: %d entries are named %q (%s); rename all but one",
				c.Path, len(found), p, strings.Join(where, ", ")))
		}
		for _, e := range found {
			picked[e] = true
		}
	}
	if len(problems) > 0 {
		return nil, configError(c.Path, problems)
	}
	var out []*Entry
	for _, e := range c.Entries {
		if picked[e] {
			out = append(out, e)
		}
	}
	return out, nil
}

func (c *Config) noMatch(p string) string {
	if !c.Exists {
		return fmt.Sprintf("no bot %q: there is no %s in this directory (bot create writes one)", p, c.Path)
	}
	if len(c.Entries) == 0 {
		return fmt.Sprintf("no bot %q: %s lists no bots", p, c.Path)
	}
	names := make([]string, len(c.Entries))
	for i, e := range c.Entries {
		names[i] = e.Name
	}
	return fmt.Sprintf("no bot in %s matches %q (it has %s)", c.Path, p, strings.Join(names, ", "))
}

// ByID returns the entry of a Bot id, or nil.
func (c *Config) ByID(id string) *Entry {
	for _, e := range c.Entries {
		if e.ID == id {
			return e
		}
	}
	return nil
}

// ByName returns the entries with exactly this name.
func (c *Config) ByName(name string) []*Entry {
	var out []*Entry
	for _, e := range c.Entries {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// matchName matches a name against a pattern where "*" is any text.
func matchName(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(name, mid)
		if i < 0 {
			return false
		}
		name = name[i+len(mid):]
	}
	return strings.HasSuffix(name, last)
}

// AppendEntry adds {name, id, source, dist} to the bots array of the config
// file, creating the file (and the array) when needed. The other keys and
// entries keep their order and spelling; the file is rewritten with two-space
// indentation, as the official CLI writes it, through a temporary file
// renamed over it, so a failure leaves the old file whole.
func AppendEntry(path string, e Entry) error {
	root := ojson.NewObject()
	mode := fs.FileMode(0o644)
	trailingNewline := true
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := cmdutil.CheckJSON(data, path); err != nil {
			return err
		}
		if root, err = ojson.Parse(data); err != nil || root.Kind != ojson.Object {
			return cmdutil.InputErrorf("%s must hold a JSON object", path)
		}
		if st, err := os.Stat(path); err == nil {
			mode = st.Mode().Perm()
		}
		trailingNewline = bytes.HasSuffix(data, []byte("\n"))
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	bots := root.Get("bots")
	if bots == nil || bots.Kind != ojson.Array {
		if bots != nil && string(bots.Raw) != "null" {
			return cmdutil.InputErrorf("%s: \"bots\" must be an array", path)
		}
		bots = ojson.NewArray(nil)
		root.Set("bots", bots)
	}
	entry := ojson.NewObject()
	entry.Set("name", ojson.String(e.Name))
	entry.Set("id", ojson.String(e.ID))
	entry.Set("source", ojson.String(e.Source))
	if e.Dist != "" {
		entry.Set("dist", ojson.String(e.Dist))
	}
	bots.Elems = append(bots.Elems, entry)
	var out bytes.Buffer
	if err := json.Indent(&out, root.Bytes(), "", "  "); err != nil {
		return err
	}
	if trailingNewline {
		out.WriteByte('\n')
	}
	return config.WriteFileAtomic(path, out.Bytes(), mode)
}
