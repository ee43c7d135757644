package projectadmin

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

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
			(Project.setting, e.g. mfaRequired or allowedMfaMethods). The server's
			route replaces the whole list, so set and unset read it, change one
			entry and write all of them back: the other settings are kept.
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
			return settingsUnsetRun(opts)
		},
	}
	return cmd
}

// projectArray reads the signed-in project and one of its arrays: decoded,
// and the entries as the server sent them.
func projectArray(ctx context.Context, c *client.Client, key string) (*cmdutil.SignedIn, []client.Resource, []json.RawMessage, error) {
	who, err := cmdutil.WhoAmI(ctx, c)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := c.AdminProject(ctx, who.ProjectID)
	if err != nil {
		return nil, nil, nil, err
	}
	var raw map[string]json.RawMessage
	var entries []json.RawMessage
	if err := json.Unmarshal(p.Raw, &raw); err != nil || (raw[key] != nil && json.Unmarshal(raw[key], &entries) != nil) {
		return nil, nil, nil, fmt.Errorf("GET %s: project.%s is not an array", client.ProjectURL(who.ProjectID), key)
	}
	return who, client.SettingsList(p.Resource, key), entries, nil
}

func settingsGetRun(o *SettingsOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	who, list, raw, err := projectArray(o.Ctx, c, "setting")
	if err != nil {
		return err
	}
	if o.Name != "" {
		i := indexOf(list, o.Name)
		if i < 0 {
			return fmt.Errorf("project %s has no setting %q", who.Describe(), o.Name)
		}
		_, v, _ := client.SettingValue(list[i])
		_, err := fmt.Fprintln(o.IO.Out, FormatValue(v))
		return err
	}
	switch o.Output.Format {
	case output.JSON:
		return output.WriteJSONArray(o.IO.Out, raw)
	case output.NDJSON:
		return output.WriteNDJSON(o.IO.Out, raw)
	}
	rows := output.Rows{Default: []string{"name", "value", "type"}, Known: []string{"name", "value", "type"}}
	for _, s := range list {
		k, v, _ := client.SettingValue(s)
		rows.Records = append(rows.Records, output.MapRecord{"name": s.String("name"), "value": FormatValue(v), "type": typeName(k)})
	}
	return o.Output.WriteRows(o.IO, rows)
}

func settingsSetRun(o *SettingsOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	who, list, _, err := projectArray(o.Ctx, c, "setting")
	if err != nil {
		return err
	}
	i := indexOf(list, o.Name)
	typ := o.Type
	if typ == "" && i >= 0 {
		k, _, _ := client.SettingValue(list[i])
		typ = typeName(k)
	}
	if typ == "" {
		typ = InferType(o.Value)
	}
	v, err := typedValue(typ, o.Value)
	if err != nil {
		return err
	}
	key := "value" + strings.ToUpper(typ[:1]) + typ[1:]
	if i >= 0 {
		if k, old, _ := client.SettingValue(list[i]); k == key && FormatValue(old) == FormatValue(v) {
			fmt.Fprintf(o.IO.ErrOut, "Setting %s is already %s in project %s.\n", o.Name, FormatValue(v), who.Describe())
			return nil
		}
		for _, k := range client.SettingValueKeys {
			delete(list[i], k)
		}
		list[i][key] = v
	} else {
		list = append(list, client.Resource{"name": o.Name, key: v})
	}
	if _, err := c.ReplaceProjectSettings(o.Ctx, who.ProjectID, list); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "Set %s = %s (%s) in project %s.\n", o.Name, FormatValue(v), typ, who.Describe())
	return nil
}

func settingsUnsetRun(o *SettingsOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	who, list, _, err := projectArray(o.Ctx, c, "setting")
	if err != nil {
		return err
	}
	i := indexOf(list, o.Name)
	if i < 0 {
		fmt.Fprintf(o.IO.ErrOut, "Project %s has no setting %s; nothing to do.\n", who.Describe(), o.Name)
		return nil
	}
	list = append(list[:i], list[i+1:]...)
	if _, err := c.ReplaceProjectSettings(o.Ctx, who.ProjectID, list); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "Removed setting %s from project %s.\n", o.Name, who.Describe())
	return nil
}

// indexOf finds the entry with that name, or -1.
func indexOf(list []client.Resource, name string) int {
	for i, s := range list {
		if s.String("name") == name {
			return i
		}
	}
	return -1
}

func checkName(what, name string) error {
	if strings.TrimSpace(name) == "" || strings.TrimSpace(name) != name {
		return cmdutil.FlagErrorf("%s name %q: must not be empty or start or end with spaces", what, name)
	}
	return nil
}

// The setting types and their value[x] keys.
var settingTypes = map[string]string{
	"valueString": "string", "valueBoolean": "boolean", "valueInteger": "integer", "valueDecimal": "decimal",
}

func typeName(valueKey string) string { return settingTypes[valueKey] }

var (
	integerRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)
	decimalRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)
)

// InferType is the type of a value given as text: boolean for true/false,
// integer for a whole number, decimal for another number, else string.
func InferType(s string) string {
	switch {
	case s == "true" || s == "false":
		return "boolean"
	case integerRE.MatchString(s):
		return "integer"
	case decimalRE.MatchString(s):
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
		if !integerRE.MatchString(s) {
			return nil, cmdutil.InputErrorf("%q is not an integer", s)
		}
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return nil, cmdutil.InputErrorf("%q is out of range for an integer", s)
		}
		return json.Number(s), nil
	case "decimal":
		if !decimalRE.MatchString(s) {
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
