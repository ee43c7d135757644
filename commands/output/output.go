// Package output prints command results in the format the user asked for:
// -o json (the server's JSON, re-indented, byte-faithful), yaml (the same
// document as YAML), ndjson (one compact resource per line), table
// (aligned on a terminal, TSV when piped) or csv, with --columns and
// --no-header for the tabular formats, and --jq or --template over the
// JSON document.
package output

import (
	"fmt"
	"slices"
	"strings"
	"text/template"

	"github.com/itchyny/gojq"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
)

// Format is an output format.
type Format string

// The output formats.
const (
	JSON   Format = "json"
	YAML   Format = "yaml"
	NDJSON Format = "ndjson"
	Table  Format = "table"
	CSV    Format = "csv"
	// Wide is a table with every default column even on a terminal, where
	// -o table shows the essential ones (Rows.Compact); only the commands
	// that have such columns offer it (WithWide).
	Wide Format = "wide"
	// Text is the default of a command whose usual output is sentences or
	// a short summary (whoami, apply's plan, bot deploy), and ID that of a
	// command that prints the id of what it made (clients create, project
	// create); such a command offers json and yaml (and --jq, --template)
	// next to it.
	Text Format = "text"
	ID   Format = "id"
)

// AllFormats is every format, in the order help lists them.
var AllFormats = []Format{JSON, YAML, NDJSON, Table, CSV}

// WithWide is AllFormats and wide: the formats of a command whose table is
// compact on a terminal.
func WithWide() []Format { return append(slices.Clone(AllFormats), Wide) }

// Options are the output flags of one command.
type Options struct {
	Format   Format
	Columns  []string
	NoHeader bool
	// CompleteColumns gives the names --columns completes in the shell,
	// from the command's arguments: ColumnList(...) for fixed columns,
	// URLColumns for a REST command. Nil completes nothing.
	CompleteColumns func(args []string) []string
	// JQ is --jq (a jq expression over the JSON document), Template is
	// --template (a Go template over it); either implies -o json.
	JQ       string
	Template string

	allowed   []Format
	formatSet bool
	jq        *gojq.Code
	tmpl      *template.Template
}

// SetExamples replaces the generic examples in the help of --columns and
// --jq with the command's own (those that fit its output; "" keeps one), so
// that an example copied from --help works.
func SetExamples(cmd *cobra.Command, columns, jq string) {
	if f := cmd.Flags().Lookup("columns"); f != nil && columns != "" {
		f.Usage = "table/csv columns to show, comma-separated (e.g. " + columns + ")"
	}
	if f := cmd.Flags().Lookup("jq"); f != nil && jq != "" {
		f.Usage = "filter the JSON output with a jq expression (e.g. '" + jq + "')"
	}
}

// AddFlags registers -o/--output (default def), --jq and --template, and
// --columns and --no-header when a tabular format is allowed. A command
// prints documents with WriteBody, WriteDoc, WriteDocs or WriteData, which
// honour -o json|yaml, --jq and --template.
func AddFlags(cmd *cobra.Command, o *Options, def Format, allowed ...Format) {
	if len(allowed) == 0 {
		allowed = AllFormats
	}
	o.allowed = allowed
	o.Format = def
	names := make([]string, len(allowed))
	for i, f := range allowed {
		names[i] = string(f)
	}
	cmd.Flags().VarP(&formatValue{o}, "output", "o", "output format: "+strings.Join(names, ", "))
	// --columns and --no-header only where a table or CSV can be asked for:
	// a command offers only flags that work.
	tabular := slices.ContainsFunc(allowed, func(f Format) bool { return f == Table || f == Wide || f == CSV })
	if tabular {
		cmd.Flags().StringSliceVar(&o.Columns, "columns", nil, "table/csv columns to show, comma-separated (e.g. id,display,meta.versionId)")
		cmd.Flags().BoolVar(&o.NoHeader, "no-header", false, "table/csv: omit the header row")
	}
	cmd.Flags().StringVar(&o.JQ, "jq", "", "filter the JSON output with a jq expression (e.g. '.entry[].resource.id')")
	cmd.Flags().StringVar(&o.Template, "template", "", "format the JSON output with a Go template (functions: tablerow, join, pluck, timeago, ...; see medplum help formatting)")
	_ = cmd.RegisterFlagCompletionFunc("jq", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("template", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	if !tabular {
		return
	}
	_ = cmd.RegisterFlagCompletionFunc("columns", func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if o.CompleteColumns == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return completion.List(o.CompleteColumns(args)...)(c, args, toComplete)
	})
}

// Tabular reports whether the format is table, wide or csv.
func (o *Options) Tabular() bool { return o.Format == Table || o.Format == Wide || o.Format == CSV }

// Check rejects --columns/--no-header with a non-tabular format, and
// compiles --jq and --template (a syntax error is exit 2, naming its
// position, before anything is sent).
func (o *Options) Check() error {
	if err := o.checkFilters(); err != nil {
		return err
	}
	if !o.Tabular() && (len(o.Columns) > 0 || o.NoHeader) {
		return cmdutil.FlagErrorf("--columns and --no-header need -o table or -o csv")
	}
	for _, c := range o.Columns {
		if strings.TrimSpace(c) == "" {
			return cmdutil.FlagErrorf("--columns: empty column name")
		}
	}
	return nil
}

// formatValue is the pflag.Value of -o: it rejects unknown formats at parse time.
type formatValue struct{ o *Options }

func (v *formatValue) String() string { return string(v.o.Format) }
func (v *formatValue) Type() string   { return "format" }
func (v *formatValue) Set(s string) error {
	f := Format(strings.ToLower(s))
	if !slices.Contains(v.o.allowed, f) {
		names := make([]string, len(v.o.allowed))
		for i, a := range v.o.allowed {
			names[i] = string(a)
		}
		return fmt.Errorf("unknown format %q (use %s)", s, strings.Join(names, ", "))
	}
	v.o.Format = f
	v.o.formatSet = true
	return nil
}
