package projectadmin

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/output"
)

// NewCmdSettings is the `project settings` group.
func NewCmdSettings(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "settings <command>",
		Short: "Read and change the project's settings (Project.setting)",
		Long: heredoc.Doc(`
			Read and change the settings of the project you are signed in to
			(Project.setting, e.g. mfaRequired or allowedMfaMethods). set and unset
			read the project, change one entry and write the list back as a patch
			of the version they read: a setting someone else changes meanwhile is
			kept (the change is made again on the newer version).
		`),
		Args: cobra.ArbitraryArgs,
		RunE: cmdutil.GroupRunE,
	}
	cmd.AddCommand(NewCmdSettingsGet(f, nil), NewCmdSettingsSet(f, nil), NewCmdSettingsUnset(f, nil))
	return cmd
}

// SettingsOptions are the inputs of `project settings get|set|unset`.
type SettingsOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Ctx    context.Context

	Name   string
	Value  string
	Type   string // set: string, boolean, integer, decimal; "" infers
	Output output.Options
}

// NewCmdSettingsGet is `medplum project settings get [name]`.
func NewCmdSettingsGet(f *cmdutil.Factory, runF func(*SettingsOptions) error) *cobra.Command {
	opts := &SettingsOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "get [name]",
		Short: "Show the settings, or the value of one",
		Example: `  $ medplum project settings get
  $ medplum project settings get mfaRequired`,
		Args: cmdutil.RangeArgs(0, 1, "at most one setting name"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Ctx = c.Context()
			if len(args) == 1 {
				opts.Name = args[0]
				if c.Flags().Changed("output") || len(opts.Output.Columns) > 0 || opts.Output.NoHeader {
					return cmdutil.FlagErrorf("get <name> prints the bare value; -o, --columns and --no-header are for the whole list")
				}
			}
			if err := opts.Output.Check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return settingsGetRun(opts)
		},
	}
	output.AddFlags(cmd, &opts.Output, output.Table)
	output.SetExamples(cmd, "name,value", ".[].name")
	return cmd
}

// NewCmdSettingsSet is `medplum project settings set <name> <value>`.
func NewCmdSettingsSet(f *cmdutil.Factory, runF func(*SettingsOptions) error) *cobra.Command {
	opts := &SettingsOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "set <name> <value>",
		Short: "Set one setting, keeping the others",
		Long: heredoc.Doc(`
			Set one setting of the project, keeping the others. The value's type is
			--type when given, else the type the setting already has, else: true or
			false is a boolean, a whole number an integer, another number a decimal,
			anything else a string.
		`),
		Example: `  $ medplum project settings set mfaRequired true
  $ medplum project settings set allowedMfaMethods totp,email
  $ medplum project settings set retentionDays 30 --type string`,
		Args: cmdutil.ExactArgs(2, "a setting name and a value"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Ctx = c.Context()
			opts.Name, opts.Value = args[0], args[1]
			if err := checkName("setting", opts.Name); err != nil {
				return err
			}
			if opts.Type != "" {
				if _, err := typedValue(opts.Type, opts.Value); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return settingsSetRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Type, "type", "", "value type: string, boolean, integer or decimal")
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions([]string{"string", "boolean", "integer", "decimal"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// NewCmdSettingsUnset is `medplum project settings unset <name>`.
func NewCmdSettingsUnset(f *cmdutil.Factory, runF func(*SettingsOptions) error) *cobra.Command {
	opts := &SettingsOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:     "unset <name>",
		Short:   "Remove one setting, keeping the others",
		Example: `  $ medplum project settings unset mfaRequired`,
		Args:    cmdutil.ExactArgs(1, "a setting name"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Ctx = c.Context()
			opts.Name = args[0]
			if err := checkName("setting", opts.Name); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return settings.unset(opts.Ctx, opts.IO, opts.Client, opts.Name)
		},
	}
	return cmd
}

// projectList is one of the project's lists of named values: Project.setting
// or Project.secret. Commands read the Project (FHIR), change one entry and
// write the whole list back with a JSON Patch that tests the version read
// (client.PatchProjectList), so an entry someone else changed meanwhile is
// never lost: the write is refused, and the change is made again on what
// the server then holds.
type projectList struct {
	key string // the Project field, and the word in messages: "setting", "secret"
}

var (
	settings = projectList{"setting"}
	secrets  = projectList{"secret"}
)

// maxVersionConflicts is how often a change is made again on a Project that
// changed between its read and its write before the command gives up.
const maxVersionConflicts = 5

// listState is the signed-in project and one of its lists, as read.
type listState struct {
	who     *cmdutil.SignedIn
	version string // the Project's meta.versionId
	entries []client.Resource
	raw     []json.RawMessage // the entries as the server sent them
}

// read signs in and reads the signed-in project and the list.
func (l projectList) read(ctx context.Context, connect func() (*client.Client, error)) (*client.Client, *listState, error) {
	c, err := connect()
	if err != nil {
		return nil, nil, err
	}
	who, err := cmdutil.WhoAmI(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	st, err := l.readProject(ctx, c, who)
	return c, st, err
}

// readProject reads the list of the project who is signed in to.
func (l projectList) readProject(ctx context.Context, c *client.Client, who *cmdutil.SignedIn) (*listState, error) {
	p, err := c.ReadProject(ctx, who.ProjectID)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	var raw []json.RawMessage
	if err := json.Unmarshal(p.Raw, &fields); err != nil || (fields[l.key] != nil && json.Unmarshal(fields[l.key], &raw) != nil) {
		return nil, fmt.Errorf("GET %s: Project.%s is not an array", client.ResourceURL("Project", who.ProjectID), l.key)
	}
	return &listState{who: who, version: client.VersionID(p.Resource), entries: client.SettingsList(p.Resource, l.key), raw: raw}, nil
}

// index finds the entry with that name, or -1.
func (st *listState) index(name string) int {
	for i, e := range st.entries {
		if e.String("name") == name {
			return i
		}
	}
	return -1
}

// set gives the entry name the value v under key (valueString,
// valueBoolean, ...): an existing entry loses its other value[x] and keeps
// its other fields; a new one is appended. It reports false, changing
// nothing, when the entry already has that value.
func (st *listState) set(name, key string, v any) bool {
	i := st.index(name)
	if i < 0 {
		st.entries = append(st.entries, client.Resource{"name": name, key: v})
		return true
	}
	if k, old, _ := client.SettingValue(st.entries[i]); k == key && FormatValue(old) == FormatValue(v) {
		return false
	}
	for _, k := range client.SettingValueKeys {
		delete(st.entries[i], k)
	}
	st.entries[i][key] = v
	return true
}

// change is the read-change-write of `project settings set|unset` and
// `project secrets set|unset`: it reads the list and lets edit change one
// entry. When edit reports a change the whole list is written back, as a
// patch of the version read; when the Project changed meanwhile, it is
// read again and edited again. msg, what edit says happened (or that there
// was nothing to do), goes to stderr only after the write succeeded.
func (l projectList) change(ctx context.Context, ios *iostreams.IOStreams, connect func() (*client.Client, error), edit func(st *listState) (msg string, changed bool, err error)) error {
	c, st, err := l.read(ctx, connect)
	if err != nil {
		return err
	}
	for conflicts := 0; ; conflicts++ {
		msg, changed, err := edit(st)
		if err != nil {
			return err
		}
		if !changed {
			fmt.Fprintln(ios.ErrOut, msg)
			return nil
		}
		_, err = c.PatchProjectList(ctx, st.who.ProjectID, st.version, l.key, st.entries)
		if err == nil {
			fmt.Fprintln(ios.ErrOut, msg)
			return nil
		}
		if !client.IsVersionConflict(err) || conflicts+1 >= maxVersionConflicts {
			if client.IsVersionConflict(err) {
				return fmt.Errorf("project %s changed %d times while its %ss were being written; nothing was written: %w", st.who.Describe(), maxVersionConflicts, l.key, err)
			}
			return err
		}
		if st, err = l.readProject(ctx, c, st.who); err != nil {
			return err
		}
	}
}

// unset removes the entry name, keeping the others.
func (l projectList) unset(ctx context.Context, ios *iostreams.IOStreams, connect func() (*client.Client, error), name string) error {
	return l.change(ctx, ios, connect, func(st *listState) (string, bool, error) {
		i := st.index(name)
		if i < 0 {
			return fmt.Sprintf("Project %s has no %s %s; nothing to do.", st.who.Describe(), l.key, name), false, nil
		}
		st.entries = append(st.entries[:i], st.entries[i+1:]...)
		return fmt.Sprintf("Removed %s %s from project %s.", l.key, name, st.who.Describe()), true, nil
	})
}

func settingsGetRun(o *SettingsOptions) error {
	_, st, err := settings.read(o.Ctx, o.Client)
	if err != nil {
		return err
	}
	if o.Name != "" {
		i := st.index(o.Name)
		if i < 0 {
			return fmt.Errorf("project %s has no setting %q", st.who.Describe(), o.Name)
		}
		_, v, _ := client.SettingValue(st.entries[i])
		_, err := fmt.Fprintln(o.IO.Out, FormatValue(v))
		return err
	}
	switch o.Output.Format {
	case output.JSON, output.YAML:
		return o.Output.WriteDocs(o.IO, st.raw)
	case output.NDJSON:
		return output.WriteNDJSON(o.IO.Out, st.raw)
	}
	rows := output.Rows{Default: []string{"name", "value", "type"}, Known: []string{"name", "value", "type"}}
	for _, s := range st.entries {
		k, v, _ := client.SettingValue(s)
		rows.Records = append(rows.Records, output.MapRecord{"name": s.String("name"), "value": FormatValue(v), "type": typeName(k)})
	}
	return o.Output.WriteRows(o.IO, rows)
}

func settingsSetRun(o *SettingsOptions) error {
	return settings.change(o.Ctx, o.IO, o.Client, func(st *listState) (string, bool, error) {
		typ := o.Type
		if i := st.index(o.Name); typ == "" && i >= 0 {
			k, _, _ := client.SettingValue(st.entries[i])
			typ = typeName(k)
		}
		if typ == "" {
			typ = InferType(o.Value)
		}
		v, err := typedValue(typ, o.Value)
		if err != nil {
			return "", false, err
		}
		if !st.set(o.Name, "value"+strings.ToUpper(typ[:1])+typ[1:], v) {
			return fmt.Sprintf("Setting %s is already %s in project %s.", o.Name, FormatValue(v), st.who.Describe()), false, nil
		}
		return fmt.Sprintf("Set %s = %s (%s) in project %s.", o.Name, FormatValue(v), typ, st.who.Describe()), true, nil
	})
}

func checkName(what, name string) error {
	if strings.TrimSpace(name) == "" || strings.TrimSpace(name) != name {
		return cmdutil.FlagErrorf("%s name %q: must not be empty or start or end with spaces", what, name)
	}
	return nil
}

// typeName is the setting type of a value[x] key, or "".
func typeName(valueKey string) string {
	switch valueKey {
	case "valueString":
		return "string"
	case "valueBoolean":
		return "boolean"
	case "valueInteger":
		return "integer"
	case "valueDecimal":
		return "decimal"
	}
	return ""
}

var (
	integerRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`) })
	decimalRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`) })
)

// InferType is the type of a value given as text: boolean for true/false,
// integer for a whole number, decimal for another number, else string.
func InferType(s string) string {
	switch {
	case s == "true" || s == "false":
		return "boolean"
	case integerRE().MatchString(s):
		return "integer"
	case decimalRE().MatchString(s):
		return "decimal"
	}
	return "string"
}

// typedValue converts text to a setting value of a type: a string, a bool,
// or an exact json.Number.
func typedValue(typ, s string) (any, error) {
	switch typ {
	case "string":
		return s, nil
	case "boolean":
		if b, err := strconv.ParseBool(s); err == nil && (s == "true" || s == "false") {
			return b, nil
		}
		return nil, cmdutil.InputErrorf("%q is not a boolean (want true or false)", s)
	case "integer":
		if !integerRE().MatchString(s) {
			return nil, cmdutil.InputErrorf("%q is not an integer", s)
		}
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return nil, cmdutil.InputErrorf("%q is out of range for an integer", s)
		}
		return json.Number(s), nil
	case "decimal":
		if !decimalRE().MatchString(s) {
			return nil, cmdutil.InputErrorf("%q is not a decimal number", s)
		}
		return json.Number(s), nil
	}
	return nil, cmdutil.FlagErrorf("unknown --type %q (use string, boolean, integer or decimal)", typ)
}

// FormatValue renders a setting value as text: strings as they are,
// booleans and numbers as JSON spells them.
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}
