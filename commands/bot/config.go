package bot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
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
	// Problems says what is wrong with the entry (without its place): a
	// command that needs it refuses it, the others go on.
	Problems []string
	noID     bool // "id" is missing, empty or not a Bot id
}

// hints says how to fix the entry's problems.
func (e *Entry) hints() []string {
	var out []string
	if e.noID && e.Name != "" {
		out = append(out, idHint(e.Name))
	}
	if len(e.Problems) > 0 && (!e.noID || len(e.Problems) > 1 || e.Name == "") {
		out = append(out, `each entry of "bots" needs "name", "id" and "source" ("dist", the built file, is optional)`)
	}
	return out
}

// HasID reports whether the entry names a Bot by a well-formed id.
func (e *Entry) HasID() bool { return !e.noID }

// idHint is the fix of an entry without a usable id.
func idHint(name string) string {
	return fmt.Sprintf("fill it in with: medplum bot create %s --if-not-exists (it uses the project's bot of that name, or creates one)", cmdutil.ShellQuote(name))
}

// goneHint is the fix of an entry whose Bot is not on the server: deleted
// (410), or not found (404: maybe a bot of another project).
func goneHint(name string, status int) string {
	if status == 404 {
		return "check that you are signed in to the project " + ConfigFile + " is for; if so, correct the entry's id or remove the entry"
	}
	return "remove the entry, or create the bot again and fill in its id: medplum bot create " + cmdutil.ShellQuote(name) + " --if-not-exists"
}

// addHint is how to add a bot of the project to the config.
func addHint(name string) string {
	return "medplum bot create " + cmdutil.ShellQuote(name) + " --if-not-exists --source FILE [--dist FILE]"
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

// configError lists what is wrong with the config file: exit 2, nothing
// sent; hints (each once) say how to fix it.
func configError(path string, problems []string, hints ...string) error {
	var err error
	if len(problems) == 1 {
		err = cmdutil.InputErrorf("%s; nothing was sent", problems[0])
	} else {
		err = cmdutil.InputErrorf("%s has %s; nothing was sent:\n  %s", path, cmdutil.Count(len(problems), "problem"), strings.Join(problems, "\n  "))
	}
	var unique []string
	for _, h := range hints {
		if h != "" && !slices.Contains(unique, h) {
			unique = append(unique, h)
		}
	}
	if len(unique) > 0 {
		err = cmdutil.WithHint(err, strings.Join(unique, "\n"))
	}
	return err
}

// LoadConfig reads path. A missing file is an empty config (Exists false).
// Every entry of bots[] must be an object with a string name, a Bot id and
// a source file; dist is optional. A file that cannot be read, is not JSON
// or has no "bots" array is an error; what is wrong with an entry is kept
// in its Problems, with its line, for the commands that need the entry.
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
	for i, el := range bots.Elems {
		e := &Entry{Index: i}
		if i < len(lines) {
			e.Line = lines[i]
		}
		cfg.Entries = append(cfg.Entries, e)
		bad := func(format string, a ...any) {
			e.Problems = append(e.Problems, fmt.Sprintf(format, a...))
		}
		if el.Kind != ojson.Object {
			bad("an entry must be an object with name, id and source")
			e.noID = true
			continue
		}
		str := func(key string, required bool) (string, bool) {
			v := el.Get(key)
			if v == nil {
				if required {
					bad("%q is missing", key)
				}
				return "", false
			}
			s, ok := v.Str()
			if !ok {
				bad("%q must be a string, not %s", key, v.Raw)
				return "", false
			}
			if required && strings.TrimSpace(s) == "" {
				bad("%q is empty", key)
				return s, false
			}
			return s, true
		}
		e.Name, _ = str("name", true)
		var idOK bool
		e.ID, idOK = str("id", true)
		e.Source, _ = str("source", true)
		e.Dist, _ = str("dist", false)
		if idOK && !membership.ValidID(e.ID) {
			bad("id %q is not a Bot id", e.ID)
			idOK = false
		}
		e.noID = !idOK
	}
	return cfg, nil
}

// Problems lists what is wrong with the entries, each with its place, and
// how to fix it.
func Problems(path string, entries []*Entry) (problems, hints []string) {
	for _, e := range entries {
		for _, p := range e.Problems {
			problems = append(problems, e.Where(path)+": "+p)
		}
		hints = append(hints, e.hints()...)
	}
	return problems, hints
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

// Lookup finds the bots of the project an argument names (Bot/<id>, an id
// or an exact name); it sends only reads.
type Lookup func(arg string) ([]client.Doc, error)

// Select returns the entries the arguments name, in the file's order, each
// once: a name where "*" stands for any text (the official CLI's rule), an
// entry's exact name, or its Bot/<id> or id. An argument without "*" that
// matches no entry is looked up in the project (when lookup is not nil): a
// bot the file lists under another name is that entry. An argument that
// matches nothing, a plain name two entries share and an entry with
// problems are errors (exit 2) that say how to fix them.
func (c *Config) Select(args []string, lookup Lookup) ([]*Entry, error) {
	picked := map[*Entry]bool{}
	var problems, hints []string
	for _, p := range args {
		var found []*Entry
		for _, e := range c.Entries {
			if matchName(p, e.Name) {
				found = append(found, e)
			}
		}
		plain := !strings.Contains(p, "*")
		if len(found) == 0 && plain {
			if id, isRef := strings.CutPrefix(p, "Bot/"); isRef || membership.ValidID(p) {
				for _, e := range c.Entries {
					if e.HasID() && e.ID == id {
						found = append(found, e)
					}
				}
			}
		}
		if len(found) == 0 && plain && lookup != nil {
			bots, err := lookup(p)
			if err != nil {
				return nil, err
			}
			if len(bots) == 1 {
				if e := c.ByID(bots[0].ID()); e != nil {
					found = append(found, e)
				} else {
					hints = append(hints, fmt.Sprintf("the project's bot %s is not in %s; to add it: %s", label(bots[0].String("name"), bots[0].ID()), c.Path, addHint(bots[0].String("name"))))
				}
			}
		}
		switch {
		case len(found) == 0:
			problems = append(problems, c.noMatch(p))
		case len(found) > 1 && plain:
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
	var out []*Entry
	for _, e := range c.Entries {
		if picked[e] {
			out = append(out, e)
		}
	}
	bad, fixes := Problems(c.Path, out)
	problems = append(problems, bad...)
	hints = append(hints, fixes...)
	if len(problems) > 0 {
		return nil, configError(c.Path, problems, hints...)
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

// ByID returns the first entry of a Bot id, or nil (also for a nil Config).
func (c *Config) ByID(id string) *Entry {
	if c == nil {
		return nil
	}
	for _, e := range c.Entries {
		if e.HasID() && e.ID == id {
			return e
		}
	}
	return nil
}

// ByName returns the entries with exactly this name.
func (c *Config) ByName(name string) []*Entry {
	if c == nil {
		return nil
	}
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
// file, creating the file (and the array) when needed (see EditConfig).
func AppendEntry(path string, e Entry) error {
	return EditConfig(path, func(bots *ojson.Node) error {
		entry := ojson.NewObject()
		entry.Set("name", ojson.String(e.Name))
		entry.Set("id", ojson.String(e.ID))
		entry.Set("source", ojson.String(e.Source))
		if e.Dist != "" {
			entry.Set("dist", ojson.String(e.Dist))
		}
		bots.Elems = append(bots.Elems, entry)
		return nil
	})
}

// SetEntry sets the id, source and dist of bots[index] (those given; a
// missing id goes after the name), keeping its other keys. It returns the
// keys it changed.
func SetEntry(path string, index int, id, source, dist string) (changed []string, err error) {
	err = EditConfig(path, func(bots *ojson.Node) error {
		if index >= len(bots.Elems) || bots.Elems[index].Kind != ojson.Object {
			return fmt.Errorf("%s: bots[%d] is no longer an object", path, index)
		}
		el := bots.Elems[index]
		for _, kv := range [][2]string{{"id", id}, {"source", source}, {"dist", dist}} {
			if kv[1] == "" {
				continue
			}
			if cur, ok := el.Get(kv[0]).Str(); ok && cur == kv[1] {
				continue
			}
			changed = append(changed, kv[0])
			if el.Get(kv[0]) == nil && kv[0] == "id" && len(el.Keys) > 0 && el.Keys[0] == "name" {
				el.Keys = slices.Insert(el.Keys, 1, "id")
				el.Vals = slices.Insert(el.Vals, 1, ojson.String(id))
				continue
			}
			el.Set(kv[0], ojson.String(kv[1]))
		}
		return nil
	})
	return changed, err
}

// RemoveEntries drops the entries of these Bot ids and returns the names
// of those it dropped.
func RemoveEntries(path string, ids ...string) (removed []string, err error) {
	err = EditConfig(path, func(bots *ojson.Node) error {
		kept := bots.Elems[:0]
		for _, el := range bots.Elems {
			id, _ := el.Get("id").Str()
			if id != "" && slices.Contains(ids, id) {
				name, _ := el.Get("name").Str()
				removed = append(removed, name)
				continue
			}
			kept = append(kept, el)
		}
		bots.Elems = kept
		return nil
	})
	return removed, err
}

// EditConfig reads the config file (a missing one is {}), lets edit change
// its bots array (created when missing), and writes the file back through a
// temporary file renamed over it, so a failure leaves the old file whole.
// The other keys and entries keep their order and spelling; the file keeps
// its indentation (two spaces, as the official CLI writes, for a new or
// one-line file), its final newline and its mode. Nothing is written when
// the file would not change.
func EditConfig(path string, edit func(bots *ojson.Node) error) error {
	root := ojson.NewObject()
	mode := fs.FileMode(0o644)
	trailingNewline, indent := true, "  "
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
		indent = indentOf(data)
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
	if err := edit(bots); err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, root.Bytes(), "", indent); err != nil {
		return err
	}
	if trailingNewline {
		out.WriteByte('\n')
	}
	if bytes.Equal(out.Bytes(), data) {
		return nil
	}
	return config.WriteFileAtomic(path, out.Bytes(), mode)
}

// indentOf is the indentation of a JSON file: the white space that starts
// its first indented line ("  " when no line is indented).
func indentOf(data []byte) string {
	lines := bytes.Split(data, []byte("\n"))
	for _, line := range lines[1:] {
		trimmed := bytes.TrimLeft(line, " \t")
		if n := len(line) - len(trimmed); n > 0 && len(bytes.TrimSpace(trimmed)) > 0 {
			return string(line[:n])
		}
	}
	return "  "
}

// CompleteNames completes the <name> arguments of save and deploy with the
// names ConfigFile lists (described by their Bot id), in the file's order,
// each once, leaving out those already given. It reads only the file: a
// missing or unreadable one, or a pattern being typed, suggests nothing.
func CompleteNames(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	const noFile = cobra.ShellCompDirectiveNoFileComp
	if strings.Contains(toComplete, "*") {
		return nil, noFile
	}
	cfg, err := LoadConfig(ConfigFile)
	if err != nil {
		cobra.CompDebugln("bot names: "+err.Error(), false)
		return nil, noFile
	}
	seen := map[string]bool{}
	var out []cobra.Completion
	for _, e := range cfg.Entries {
		if e.Name == "" || seen[e.Name] || slices.Contains(args, e.Name) || !strings.HasPrefix(e.Name, toComplete) {
			continue
		}
		seen[e.Name] = true
		if e.HasID() {
			out = append(out, cobra.CompletionWithDesc(e.Name, e.ID))
		} else {
			out = append(out, e.Name)
		}
	}
	return out, noFile
}
